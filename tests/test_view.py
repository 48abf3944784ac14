"""``judge view`` and the report's links to it, in a real headless browser.

Real runs: PandaLM's published gpt-3.5-turbo and PandaLM-7B verdicts (one order, the
same 999 items), JudgeBench's claude-3-haiku decisions (both orders, with flips), and a
real embedded-model run of the sample (rendered prompts, raw replies). The browser is
Debian's Chromium driven by Playwright from PyPI (never ``playwright install``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from judge.analysis.frame import POLICIES, load_frame, pair_frame
from judge.importers import import_judgebench, import_pandalm
from judge.records import HumanLabel, Judgment, Message, PairItem, RunConfig, RunManifest
from judge.store import RunStore

pytest.importorskip("duckdb")
playwright = pytest.importorskip("playwright.sync_api")

from judge.view.data import ViewData  # noqa: E402
from judge.view.filters import ItemFilter  # noqa: E402
from judge.view.server import ViewServer  # noqa: E402

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
JUDGEBENCH_HAIKU = (
    DATA
    / "judgebench"
    / "reference_judge_outputs"
    / "dataset=judgebench,response_model=claude-3-5-sonnet-20240620,judge_name=arena_hard,"
    "judge_model=claude-3-haiku-20240307.decisions.csv"
)
XSS = "<script>alert(1)</script>"


# -- runs ----------------------------------------------------------------------------------


def write_run(
    folder: Path, *, policy: str, seed: int, n: int = 120, hostile: bool = False
) -> RunStore:
    """A run folder with every case the pair verdict has: both orders, one order, ties,
    probabilities or none, unparsed and errors, a retried error (two lines for one key)
    and a partial last line (a kill mid-write)."""
    rng = random.Random(seed)
    verdicts = ("A", "B", "tie")
    items = []
    for i in range(n):
        votes = [rng.choice(verdicts) for _ in range(rng.choice((0, 1, 2, 3)))]
        items.append(
            PairItem(
                id=f'x"><b>{i}' if hostile and i == 0 else f"item-{i}",
                benchmark="synthetic",
                prompt=XSS if hostile else f"question {i} " + "word " * rng.randint(0, 30),
                category=("<i>cat</i>" if hostile else f"c{i % 4}"),
                response_a=XSS if hostile else "a" * rng.randint(1, 400),
                response_b="<img src=x onerror=alert(2)>" if hostile else "b" * rng.randint(1, 400),
                labels=tuple(HumanLabel(annotator=f"h{k}", verdict=v) for k, v in enumerate(votes)),
            )
        )
    store = RunStore(folder)
    store.write_manifest(
        RunManifest(
            run_id=folder.name,
            config=RunConfig(
                benchmark="synthetic", judge=XSS if hostile else "synthetic", reconcile=policy
            ),  # type: ignore[arg-type]
            judge_hash="h" * 16,
            judge_spec={"type": "synthetic", "name": "synthetic"},
            data_hash="d" * 64,
        )
    )
    store.write_items(items)
    lines = []
    for item in items:
        orders = rng.choice(((False, True), (False, True), (False, True), (False,), (True,)))
        for swapped in orders:
            roll = rng.random()
            status = "error" if roll < 0.05 else "unparsed" if roll < 0.12 else "ok"
            probabilities = None
            if status == "ok" and rng.random() < 0.6:
                p_a = rng.choice((0.5, rng.random()))
                p_tie = rng.choice((0.0, 0.1)) if rng.random() < 0.5 else None
                probabilities = {"A": p_a, "B": 1 - p_a} | ({"tie": p_tie} if p_tie else {})
            judgment = Judgment(
                item_id=item.id,
                judge="synthetic",
                judge_hash="h" * 16,
                request_key=f"{item.id}/{swapped}",
                swapped=swapped,
                status=status,  # type: ignore[arg-type]
                verdict=rng.choice(verdicts) if status == "ok" else None,
                probabilities=probabilities,  # type: ignore[arg-type]
                raw=("<img src=x onerror=alert(3)>" if hostile else f"reply {item.id} {swapped}"),
                error=None if status == "ok" else "no verdict",
            )
            if rng.random() < 0.05:  # an error retried on resume: the later line counts
                lines.append(judgment.model_copy(update={"status": "error", "verdict": None}))
            lines.append(judgment)
    store.rewrite_judgments(lines)
    with store.judgments_path.open("a") as handle:
        handle.write('{"item_id": "item-0", "judge": "cut off')  # a write cut off by a kill
    return store


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    return {
        "gpt": import_pandalm("gpt-3.5", data_root=DATA, output=out).path,
        "pandalm": import_pandalm("pandalm-7b", data_root=DATA, output=out).path,
        "judgebench": import_judgebench(JUDGEBENCH_HAIKU, data_root=DATA, output=out).path,
    }


@pytest.fixture(scope="module")
def model_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the embedded SmolLM2 judge on the first 3 sample pairs, both orders."""
    pytest.importorskip("llama_cpp")
    from judge.run import run_judging

    out = tmp_path_factory.mktemp("model")
    result = run_judging(RunConfig(limit=3, concurrency=1), output=out)
    return Path(result.store.path)


@contextmanager
def serving(run_dirs: list[Path]) -> Iterator[str]:
    """The viewer on ``run_dirs``, served from a thread; its base URL."""
    data = ViewData(run_dirs)
    server = ViewServer(data, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        data.close()


@pytest.fixture(scope="module")
def viewer(runs: dict[str, Path]) -> Iterator[str]:
    with serving([runs["gpt"], runs["pandalm"], runs["judgebench"]]) as url:
        yield url


@pytest.fixture(scope="module")
def model_viewer(model_run: Path) -> Iterator[str]:
    with serving([model_run]) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    try:
        yield page
    finally:
        context.close()


def shown_total(page: Any) -> int:
    return int(page.locator("p.count").get_attribute("data-total"))


def outcomes(pairs: pd.DataFrame) -> pd.Series:
    return (
        pairs["verdict"]
        .astype(object)
        .where(pairs["status"] == "ok", pairs["status"].astype(object))
    )


# -- the pair verdict in SQL -----------------------------------------------------------------


def _sql_pairs(data: ViewData, run: int) -> pd.DataFrame:
    with data._cursor() as cur:
        return cur.execute("SELECT * FROM pairs WHERE run = ?", [run]).df()


@pytest.mark.parametrize("policy", POLICIES)
def test_pair_verdicts_in_sql_match_pair_frame(tmp_path: Path, policy: str) -> None:
    folders = [
        write_run(tmp_path / f"run-{seed}", policy=policy, seed=seed).path for seed in (1, 2)
    ]
    data = ViewData(folders, load_texts=False)
    try:
        for index, folder in enumerate(folders):
            expected = pair_frame(load_frame(folder)).set_index("item_id")
            got = _sql_pairs(data, index).set_index("item_id").loc[expected.index]
            assert (
                got["pair_status"].to_numpy() == expected["status"].astype(str).to_numpy()
            ).all()
            assert got["pair_verdict"].fillna("-").tolist() == (
                expected["verdict"].astype(object).fillna("-").tolist()
            )
            assert (
                got["label"].fillna("-").tolist()
                == expected["label"].astype(object).fillna("-").tolist()
            )
            for order, column in (("o", "verdict_original"), ("s", "verdict_swapped")):
                assert got[f"verdict_{order}"].fillna("-").tolist() == (
                    expected[column].astype(object).fillna("-").tolist()
                )
            consistent = expected["consistent"].map({1.0: True, 0.0: False})
            assert got["consistent"].astype(object).where(
                got["consistent"].notna(), None
            ).tolist() == (consistent.astype(object).where(consistent.notna(), None).tolist())
            # the retried key shows its last line; the cut-off line is not a judgment
            store = RunStore(folder)
            assert data.runs[index].n_judgments == len(store.judgments())
            assert data.runs[index].n_lines == len(store.all_judgments())
    finally:
        data.close()


def test_search_and_lines_longer_than_duckdbs_default(tmp_path: Path) -> None:
    """``%`` and ``_`` in a search are literal; a search is kept and paged; an item line
    over twice DuckDB's default 16 MiB limit is read (the retry with a larger limit)."""
    store = write_run(tmp_path / "run", policy="inconsistent_tie", seed=3, n=30)
    items = store.items()
    texts = {1: "a 50%_off sale", 2: "a 50 percent off sale", 3: "x" * (33 * 2**20)}
    conversation = (
        Message(role="user", content='first "question"'),
        Message(role="assistant", content="an answer"),
        Message(role="user", content="the follow-up, a rare word: zyzzyva"),
    )
    items[4] = items[4].model_copy(update={"prompt": conversation})
    items[5] = items[5].model_copy(update={"prompt": '["a text prompt that looks like JSON"]'})
    store.write_items(
        item.model_copy(update={"response_a": texts[i]}) if i in texts else item
        for i, item in enumerate(items)
    )
    before = {p.name: p.read_bytes() for p in store.path.iterdir()}
    data = ViewData([store.path], load_texts=False)
    try:
        page = data.list_items(ItemFilter(q="50%_OFF"))
        assert [r.item_id for r in page.rows] == ["item-1"]
        assert [r.item_id for r in data.list_items(ItemFilter(q="percent")).rows] == ["item-2"]
        assert data.list_items(ItemFilter(q="50%_off")).total == 1  # from the kept search
        long = data.list_items(ItemFilter(gap_min=33 * 2**20 - 400)).rows
        assert [(r.item_id, r.len_a) for r in long] == [("item-3", 33 * 2**20)]
        assert data.item(None, "item-3").item["response_a"] == texts[3]
        snippets = {r.item_id: r.snippet for r in data.list_items(ItemFilter()).rows}
        assert snippets["item-4"] == items[4].prompt_text == conversation[-1].content
        assert snippets["item-5"] == items[5].prompt_text
        assert [r.item_id for r in data.list_items(ItemFilter(q="ZYZZYVA")).rows] == ["item-4"]
        every = data.list_items(ItemFilter(q="item-")).total
        assert every == len({p.item_id for p in pair_frame(load_frame(store.path)).itertuples()})
        for i in range(12):  # more searches than are kept: the oldest are dropped
            assert data.list_items(ItemFilter(q=f"item-{i}")).total >= 1
    finally:
        data.close()
    assert {p.name: p.read_bytes() for p in store.path.iterdir()} == before


def test_real_runs_pair_verdicts_match(runs: dict[str, Path]) -> None:
    data = ViewData([runs["judgebench"], runs["gpt"]], load_texts=False)
    try:
        for index, name in enumerate(("judgebench", "gpt")):
            expected = pair_frame(load_frame(runs[name])).set_index("item_id")
            got = _sql_pairs(data, index).set_index("item_id").loc[expected.index]
            assert got["outcome"].tolist() == outcomes(expected).tolist()
            assert got["flip"].sum() > 0 or name == "gpt"
    finally:
        data.close()


# -- the viewer in a browser -------------------------------------------------------------------


def _apply(page: Any) -> None:
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()


def test_every_filter_in_the_browser(page: Any, viewer: str, runs: dict[str, Path]) -> None:
    gpt_pairs = pair_frame(load_frame(runs["gpt"]))
    gpt_id = RunStore(runs["gpt"]).read_manifest().run_id
    page.goto(f"{viewer}/?run={gpt_id}")
    assert shown_total(page) == 999
    assert page.locator("table.items tbody tr").count() == 50  # one page, not every row

    page.check("input[name=disagree]")
    _apply(page)
    labelled = gpt_pairs["label"].notna()
    assert shown_total(page) == int(
        (labelled & (outcomes(gpt_pairs) != gpt_pairs["label"].astype(object))).sum()
    )
    assert "disagree=1" in page.url

    page.goto(f"{viewer}/?run={gpt_id}")
    page.select_option("select[name=status]", "failed")
    _apply(page)
    assert shown_total(page) == 25
    assert set(page.locator("td.orig").all_inner_texts()) == {"unparsed"}

    category = str(gpt_pairs["category"].value_counts().index[0])
    page.goto(f"{viewer}/?run={gpt_id}")
    page.fill("input[name=category]", category)
    _apply(page)
    assert shown_total(page) == int((gpt_pairs["category"] == category).sum())

    page.goto(f"{viewer}/?run={gpt_id}")
    page.fill("input[name=gap_min]", "100")
    page.fill("input[name=gap_max]", "299")
    _apply(page)
    gap = (gpt_pairs["len_a"] - gpt_pairs["len_b"]).abs()
    assert shown_total(page) == int(((gap >= 100) & (gap <= 299)).sum())

    page.goto(f"{viewer}/?run={gpt_id}")
    page.fill("input[name=q]", "PyThOn")
    _apply(page)
    items = {i.id: i for i in RunStore(runs["gpt"]).items()}
    replies = {j.item_id: j.raw or "" for j in RunStore(runs["gpt"]).judgments()}
    expected = {
        k
        for k, i in items.items()
        if any(
            "python" in t.lower()
            for t in (k, i.prompt_text, i.response_a, i.response_b, replies[k])
        )
    }
    assert shown_total(page) == len(expected) > 0
    assert (
        set(page.locator("tr[data-item]").evaluate_all("rs => rs.map(r => r.dataset.item)"))
        <= expected
    )

    # sorting by the length gap, both directions, and paging
    page.goto(f"{viewer}/?run={gpt_id}")
    page.click("th >> text=len A / B (gap)")
    gaps = [
        int(re.search(r"\((\d[\d,]*)\)", t).group(1).replace(",", ""))
        for t in page.locator("td.lengths").all_inner_texts()
    ]
    assert gaps == sorted(gaps) and gaps[0] == int(gap.min())
    page.click("th >> text=len A / B (gap)")
    gaps = [
        int(re.search(r"\((\d[\d,]*)\)", t).group(1).replace(",", ""))
        for t in page.locator("td.lengths").all_inner_texts()
    ]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] == int(gap.max())
    page.click("a[rel=next] >> nth=0")
    assert "page=2" in page.url and "page 2 of 20" in page.inner_text("p.pager >> nth=0")

    # both orders: flipped and changed between orders, on JudgeBench
    bench_pairs = pair_frame(load_frame(runs["judgebench"]))
    bench_id = RunStore(runs["judgebench"]).read_manifest().run_id
    v_o = bench_pairs["verdict_original"].astype(object)
    v_s = bench_pairs["verdict_swapped"].astype(object)
    both = v_o.notna() & v_s.notna()
    flips = both & (((v_o == "A") & (v_s == "B")) | ((v_o == "B") & (v_s == "A")))
    for position, expected_count in (
        ("flip", flips.sum()),
        ("inconsistent", (both & (v_o != v_s)).sum()),
    ):
        page.goto(f"{viewer}/?run={bench_id}")
        page.select_option("select[name=position]", position)
        _apply(page)
        assert shown_total(page) == int(expected_count) > 0
    page.goto(f"{viewer}/?run={bench_id}&verdict=tie&label=A")
    assert shown_total(page) == int(
        ((outcomes(bench_pairs) == "tie") & (bench_pairs["label"] == "A")).sum()
    )
    assert page.dialogs == []


def test_item_page_shows_everything(
    page: Any, viewer: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    gpt_id = RunStore(runs["gpt"]).read_manifest().run_id
    page.goto(f"{viewer}/?run={gpt_id}")
    first = page.locator("tr[data-item] td.item a").first
    item_id = first.inner_text()
    first.click()
    page.wait_for_load_state()
    item = next(i for i in RunStore(runs["gpt"]).items() if i.id == item_id)
    assert page.inner_text("[data-side=A] pre").strip() == item.response_a.strip()
    assert page.inner_text("[data-side=B] pre").strip() == item.response_b.strip()
    assert f"{len(item.response_a):,} characters" in page.inner_text("[data-side=A] h2")
    assert page.locator("table.votes tbody tr").count() == len(item.labels) == 3
    judgment = next(j for j in RunStore(runs["gpt"]).judgments() if j.item_id == item_id)
    gpt_card = page.locator(f".judge[data-run='{gpt_id}']")
    assert judgment.raw is not None and json.loads(judgment.raw) == json.loads(
        gpt_card.locator("pre.raw").inner_text()
    )
    assert "verdicts imported from" in gpt_card.inner_text()
    # two judges of the same item, side by side
    assert page.locator(".judge").count() == 2
    page.screenshot(path=str(tmp_path / "item.png"), full_page=False)
    assert (tmp_path / "item.png").stat().st_size > 20_000


def test_compare_two_judges(page: Any, viewer: str, runs: dict[str, Path]) -> None:
    gpt = pair_frame(load_frame(runs["gpt"])).set_index("item_id")
    other = pair_frame(load_frame(runs["pandalm"])).set_index("item_id").loc[gpt.index]
    expected = int((outcomes(gpt) != outcomes(other)).sum())
    gpt_id = RunStore(runs["gpt"]).read_manifest().run_id
    page.goto(f"{viewer}/?run={gpt_id}")
    page.check("input[name=judges_disagree]")
    _apply(page)
    assert shown_total(page) == expected > 0
    row = page.locator("tr[data-item]").first
    pandalm_id = RunStore(runs["pandalm"]).read_manifest().run_id
    assert (
        row.locator("td.pair").inner_text()
        != row.locator(f"td.other[data-run='{pandalm_id}']").inner_text()
    )


def test_rendered_prompt_of_a_real_model_run(page: Any, model_viewer: str, model_run: Path) -> None:
    run_id = RunStore(model_run).read_manifest().run_id
    page.goto(f"{model_viewer}/?run={run_id}")
    assert shown_total(page) == 3
    page.locator("tr[data-item] td.item a").first.click()
    page.wait_for_load_state()
    item_id = parse_qs(urlsplit(page.url).query)["id"][0]
    item = next(i for i in RunStore(model_run).items() if i.id == item_id)
    cards = page.locator(".judgment")
    assert cards.count() == 2  # both orders
    for index in range(2):
        card = cards.nth(index)
        card.locator("details.prompt summary").click()
        text = card.locator("details.prompt").inner_text()
        assert "identical to the request that was sent" in text
        assert item.response_a.strip()[:40] in text and item.response_b.strip()[:40] in text
        assert card.locator("pre.raw").inner_text().strip() != ""
        assert "tokens in / out" in card.inner_text() and "latency" in card.inner_text()


def test_report_links_to_the_viewer(
    page: Any, viewer: str, runs: dict[str, Path], tmp_path: Path
) -> None:
    from judge.analysis.report import write_report

    paths = write_report(
        [runs["gpt"], runs["pandalm"], runs["judgebench"]],
        tmp_path / "report",
        n_resamples=50,
        viewer_url=viewer,
        datasets_dir=DATA,
    )
    page.goto(paths["html"].resolve().as_uri())
    # the verdict cards come first, one per judge, each with its figures and intervals
    assert page.locator("h2").first.inner_text() == "Can the judges be trusted?"
    assert page.locator(".cards .card").count() == 3
    card = page.locator(".cards .card").first
    assert re.search(r"kappa -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]", card.inner_text())
    page.screenshot(path=str(tmp_path / "report-first-screen.png"))
    assert (tmp_path / "report-first-screen.png").stat().st_size > 20_000
    # no sideways scrolling at 1280 px: wide tables keep their extra columns behind a toggle
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert (
        page.evaluate(
            "[...document.querySelectorAll('.scroll')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1).length"
        )
        == 0
    )
    toggle = page.locator(".tbl label").first
    hidden = page.locator(".tbl").first.locator("th.extra").first
    assert not hidden.is_visible()
    toggle.click()
    assert hidden.is_visible()
    # a confusion-matrix cell, the unparsed count and the flips open the items they count
    for selector in (
        "table.confusion a",
        "xpath=//h2[@id='runs']/following::table[1]//a[contains(@href, 'status=unparsed')]",
        "a[href*='position=flip']",
    ):
        link = page.locator(selector).first
        if not link.is_visible():  # in a column behind its table's toggle, which going
            # back to the page may or may not have kept open (Chromium's form restore)
            link.locator("xpath=ancestor::*[contains(@class, 'tbl')][1]//label").first.click()
        count = int(link.inner_text().replace(",", ""))
        href = link.get_attribute("href")
        link.click()
        page.wait_for_load_state()
        if "status=" in href:
            assert f"{count:,} unparsed" in page.inner_text("p.count")
        else:
            assert shown_total(page) == count
        page.go_back()
        page.wait_for_load_state()


# -- safety --------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[int, float, str]]:
    return {
        str(p.relative_to(folder)): (
            p.stat().st_size,
            p.stat().st_mtime,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_model_text_is_escaped_and_nothing_is_written(page: Any, tmp_path: Path) -> None:
    folder = write_run(
        tmp_path / "hostile", policy="inconsistent_tie", seed=3, n=5, hostile=True
    ).path
    before = _snapshot(folder)
    cwd = os.getcwd()
    os.chdir(folder)  # DuckDB must not spill into the current folder either
    try:
        data = ViewData([folder])
        server = ViewServer(data, 0)
    finally:
        os.chdir(cwd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.server_address[0] == "127.0.0.1"
        page.goto(server.url + "/")
        assert XSS in page.inner_text("table.items")
        page.goto(server.url + "/?q=" + urllib.request.quote(XSS))
        assert shown_total(page) == 5
        page.locator("tr[data-item] td.item a").first.click()
        page.wait_for_load_state()
        text = page.inner_text("body")
        assert XSS in text and "<img src=x onerror=alert(2)>" in text
        assert "<img src=x onerror=alert(3)>" in text
        assert page.evaluate("document.querySelectorAll('script, img').length") == 0
        assert page.dialogs == []
        # another site cannot read it through DNS rebinding, and nothing is writable
        request = urllib.request.Request(server.url + "/", headers={"Host": "evil.example:80"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as post:
            urllib.request.urlopen(urllib.request.Request(server.url + "/", data=b"x"), timeout=30)
        assert post.value.code == 405
    finally:
        server.shutdown()
        server.server_close()
        data.close()
    assert _snapshot(folder) == before


def test_cli_serves_until_interrupted_and_names_the_missing_extra(runs: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "judge.cli",
            "view",
            str(runs["gpt"]),
            "--no-browser",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            found = re.search(r"judge view: (http://127\.0\.0\.1:\d+)/", line)
            if found:
                url = found.group(1)
                break
        assert url is not None
        with urllib.request.urlopen(url + "/?status=failed", timeout=60) as response:
            body = response.read().decode()
        assert 'data-total="25"' in body
        assert "script-src" not in response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    blocked = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['duckdb'] = None; from judge.cli import main; "
            f"sys.argv = ['judge', 'view', {str(runs['gpt'])!r}, '--no-browser']; main()",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert blocked.returncode == 3
    assert "pip install 'judge-harness[view]'" in blocked.stderr
