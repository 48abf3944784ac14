"""Run files read column-wise (judge/columns.py) give what the per-line pydantic reader gives.

Every case compares the two readers on the same file: the same frame, or the same
error message (file, line, field). The files are real runs (PandaLM's gpt-3.5 verdicts,
JudgeBench decisions in both orders), the bundled sample's items, and a run holding
every kind of judgment, broken one line at a time in the ways a file can be broken.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judge.analysis.frame import (
    _item_table,
    _item_table_of,
    build_frame,
    judge_scale,
    load_frame,
    member_columns,
    order_unknown_judge,
)
from judge.columns import item_columns, judgment_columns, read_items, read_judgments
from judge.errors import DataError
from judge.importers import ImportRequest, import_judgebench, import_pandalm, run_import
from judge.records import (
    HumanLabel,
    HumanScore,
    Judgment,
    Message,
    PairItem,
    RunConfig,
    RunManifest,
    SingleItem,
)
from judge.registry import benchmarks
from judge.store import RunStore

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
JUDGEBENCH = (
    DATA
    / "judgebench"
    / "reference_judge_outputs"
    / "dataset=judgebench,response_model=claude-3-5-sonnet-20240620,judge_name=arena_hard,"
    "judge_model=claude-3-haiku-20240307.decisions.csv"
)
ALPACA_EVAL = (
    DATA
    / "alpaca_eval_annotations"
    / "results"
    / "claude-2"
    / "weighted_alpaca_eval_gpt4_turbo"
    / "annotations.json"
)


def old_frame(folder: Path) -> pd.DataFrame:
    """The frame through the per-line readers (one pydantic record per line)."""
    store = RunStore(folder)
    manifest = store.read_manifest()
    return build_frame(
        store.items(),
        store.judgments(),
        run=manifest.run_id,
        reconcile=manifest.config.reconcile,
        judge_scale=judge_scale(manifest.judge_spec),
        order_unknown=order_unknown_judge(manifest.judge_spec),
    )


def pair(i: int, **fields: Any) -> PairItem:
    base: dict[str, Any] = {
        "id": f"p{i}",
        "benchmark": "b",
        "prompt": f"question {i}",
        "response_a": "a" * (i % 5),
        "response_b": "bb",
        "labels": (
            HumanLabel(annotator="h1", verdict="A"),
            HumanLabel(annotator="h2", verdict="B" if i % 3 else "A"),
            HumanLabel(annotator="h1", verdict="tie" if i % 4 == 0 else "A"),  # votes twice
        ),
    }
    return PairItem(**{**base, **fields})


def judgment(i: int, **fields: Any) -> Judgment:
    base: dict[str, Any] = {
        "item_id": f"p{i % 10}",
        "judge": "j",
        "judge_hash": "h",
        "request_key": f"k{i}",
        "swapped": bool(i % 2),
        "sample": (i // 2) % 2,
        "status": "ok",
        "verdict": ("A", "B", "tie")[i % 3],
    }
    return Judgment(**{**base, **fields})


def every_kind_of_judgment() -> list[Judgment]:
    """Ok, unparsed and error lines; errors superseded later; probabilities with and
    without a tie and empty; scores; jury members; usage figures."""
    out = [
        judgment(0, status="error", verdict=None, error="HTTP 503"),  # superseded below
        judgment(1, probabilities={"A": 0.6, "B": 0.4}),
        judgment(2, probabilities={"A": 0.2, "B": 0.3, "tie": 0.5}, cost=0.002, cache_hit=True),
        judgment(3, status="unparsed", verdict=None, raw="hmm", error="no verdict"),
        judgment(4, score=1.5, scores=(7.0, 5.5), tokens_in=300, tokens_out=20, latency_s=0.4),
        judgment(5, probabilities={}),
        judgment(6, probabilities={"tie": 1.0}, truncated=True),
        judgment(
            7,
            members=(
                {"member": "m1", "verdict": "A", "probabilities": {"A": 0.9, "B": 0.1}},
                {"member": "m2", "verdict": None, "status": "error"},
            ),
        ),
        judgment(8, raw='{"verdict": null, "A": null}'),  # nulls inside a string
    ]
    out += [judgment(i) for i in range(9, 40)]
    out.append(judgment(0, raw="A"))  # the retried error: the current judgment of k0's key
    return out


def write_run(
    folder: Path, items: list[Any], judgments: list[Judgment], **manifest: Any
) -> RunStore:
    store = RunStore(folder)
    store.write_manifest(
        RunManifest(run_id="r", config=RunConfig(), judge_hash="h", data_hash="d", **manifest)
    )
    store.write_items(items)
    store.rewrite_judgments(judgments)
    return store


@pytest.fixture
def run(tmp_path: Path) -> RunStore:
    return write_run(tmp_path / "run", [pair(i) for i in range(10)], every_kind_of_judgment())


def test_same_frame_as_the_per_line_readers_on_real_runs(tmp_path: Path) -> None:
    folders = [
        import_pandalm("gpt-3.5", data_root=DATA, output=tmp_path).path,
        import_judgebench(JUDGEBENCH, data_root=DATA, output=tmp_path).path,
        *(
            store.path
            for store, _ in run_import(
                "alpaca_eval", ImportRequest(sources=(str(ALPACA_EVAL),)), output=tmp_path
            )
        ),
    ]
    for folder in folders:
        store = RunStore(folder)
        assert read_judgments(store.judgments_path) is not None  # the column-wise path ran
        assert read_items(store.items_path) is not None
        pd.testing.assert_frame_equal(load_frame(folder), old_frame(folder))


def test_same_frame_on_the_sample_and_on_every_kind_of_judgment(
    tmp_path: Path, run: RunStore
) -> None:
    assert read_judgments(run.judgments_path) is not None
    frame = load_frame(run.path)
    pd.testing.assert_frame_equal(frame, old_frame(run.path))
    assert len(frame) == len({(j.item_id, j.swapped, j.sample) for j in run.all_judgments()})
    first = frame[frame["item_id"] == "p0"].iloc[0]
    assert first["status"] == "ok"  # the error line was superseded by its retry

    sample = [i for i in benchmarks.get("sample")().load()]
    judged = [
        judgment(n, item_id=item.id, request_key=f"s{n}", status="ok", verdict="A")
        for n, item in enumerate(sample)
    ]
    folder = write_run(tmp_path / "sample", sample, judged).path
    assert read_items(RunStore(folder).items_path) is not None
    pd.testing.assert_frame_equal(load_frame(folder), old_frame(folder))


def test_items_of_every_shape(tmp_path: Path) -> None:
    """Conversations, single items with scores and aspects, metadata, missing fields."""
    conversations = [
        pair(
            i,
            prompt=(
                Message(role="system", content="be fair"),
                Message(role="user", content=f"first {i}"),
                Message(role="assistant", content="..."),
                Message(role="user", content=f"last {i}"),
            ),
            metadata={"source": "x", "turns": i, "nested": {"a": None}},
            category="c" if i % 2 else None,
        )
        for i in range(6)
    ]
    singles = [
        SingleItem(
            id=f"s{i}",
            benchmark="b",
            prompt="p",
            response="r" * i,
            model=f"m{i % 2}",
            scores=(
                HumanScore(annotator="a1", score=3),
                HumanScore(annotator="a2", score=4.5),
                HumanScore(annotator="a1", score=1, aspect="engaging"),
            )
            if i % 3
            else (),
            scale=(1.0, 5.0),
        )
        for i in range(6)
    ]
    for name, items in (("conv", conversations), ("single", singles)):
        store = write_run(tmp_path / name, items, [])
        columns = read_items(store.items_path)
        assert columns is not None
        pd.testing.assert_frame_equal(_item_table_of(columns), _item_table(store.items()))
    # mixed kinds are read line by line, with the same result
    store = write_run(tmp_path / "mixed", [*conversations, *singles], [])
    assert read_items(store.items_path) is None
    pd.testing.assert_frame_equal(_item_table_of(store.item_columns()), _item_table(store.items()))


def outcome(read: Callable[[], pd.DataFrame]) -> pd.DataFrame | str:
    try:
        return read()
    except DataError as exc:
        return f"DataError: {exc}"


def assert_same(new: pd.DataFrame | str, old: pd.DataFrame | str) -> None:
    if isinstance(old, str) or isinstance(new, str):
        assert isinstance(new, str), "no error where the per-line reader has one"
        assert isinstance(old, str), f"an error the per-line reader does not have: {new}"
        assert new == old
    else:
        pd.testing.assert_frame_equal(new, old)


def edit(line: str, change: Callable[[dict[str, Any]], None]) -> str:
    record = json.loads(line)
    change(record)
    return json.dumps(record, separators=(",", ":"))


def set_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.__setitem__(key, value)


def drop_key(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda r: r.pop(key)


JUDGMENT_EDITS: dict[str, Callable[[str], str]] = {
    "unknown key": lambda s: edit(s, set_key("verdikt", "A")),
    "unknown probability": lambda s: edit(s, set_key("probabilities", {"A": 0.5, "C": 0.5})),
    "null probability": lambda s: edit(s, set_key("probabilities", {"A": 0.5, "tie": None})),
    "null probability, spaced": lambda s: s.replace('"B":0.3', '"B" :  null'),
    "null cost": lambda s: edit(s, set_key("cost", None)),
    "null swapped": lambda s: edit(s, set_key("swapped", None)),
    "null members": lambda s: edit(s, set_key("members", None)),
    "null created_at": lambda s: edit(s, set_key("created_at", None)),
    "missing cost": lambda s: edit(s, drop_key("cost")),
    "null billed": lambda s: edit(s, set_key("billed", None)),
    "billed as text": lambda s: edit(s, set_key("billed", "0.5")),
    "null coalesced": lambda s: edit(s, set_key("coalesced", None)),
    "old line, a cache hit": lambda s: edit(s, lambda r: (r.pop("billed"), r.pop("coalesced"))),
    "old line, paid": lambda s: edit(
        s, lambda r: (r.pop("billed"), r.pop("coalesced"), r.pop("cache_hit"))
    ),
    "old line, no cost": lambda s: edit(
        s, lambda r: (r.pop("billed"), r.pop("cost"), r.pop("cache_hit"))
    ),
    "member named by a number": lambda s: edit(s, set_key("members", [{"member": 5}])),
    "missing members and created_at": lambda s: edit(
        s, lambda r: (r.pop("members"), r.pop("created_at"))
    ),
    "missing judge": lambda s: edit(s, drop_key("judge")),
    "null judge": lambda s: edit(s, set_key("judge", None)),
    "bad status": lambda s: edit(s, set_key("status", "maybe")),
    "bad verdict": lambda s: edit(s, set_key("verdict", "C")),
    "one score": lambda s: edit(s, set_key("scores", [1.0])),
    "null score in scores": lambda s: edit(s, set_key("scores", [1.0, None])),
    "sample as text": lambda s: edit(s, set_key("sample", "1")),
    "sample as float": lambda s: edit(s, set_key("sample", 1.0)),
    "sample 1.5": lambda s: edit(s, set_key("sample", 1.5)),
    "cost as text": lambda s: edit(s, set_key("cost", "0.5")),
    "cost NaN": lambda s: s.replace('"cost":0.0', '"cost":NaN'),
    "30 February": lambda s: edit(s, set_key("created_at", "2026-02-30T00:00:00Z")),
    "no date": lambda s: edit(s, set_key("created_at", "yesterday")),
    "space-separated date": lambda s: edit(s, set_key("created_at", "2026-11-25 10:00:00")),
    "members of numbers": lambda s: edit(s, set_key("members", [1, 2])),
    "null member": lambda s: edit(s, set_key("members", [None])),
    "member with nulls": lambda s: edit(s, set_key("members", [{"verdict": None, "A": None}])),
    "not JSON": lambda s: s[: len(s) // 2],
    "blank line after": lambda s: s + "\n",
    "two records on a line": lambda s: s + " " + s,
    "leading spaces": lambda s: "  " + s,
    "array": lambda s: "[" + s + "]",
    "duplicate key": lambda s: s.replace('{"item_id"', '{"judge":"x","item_id"'),
}


@pytest.mark.parametrize("name", JUDGMENT_EDITS)
def test_a_broken_judgment_line_gives_the_per_line_readers_result(name: str, run: RunStore) -> None:
    lines = run.judgments_path.read_text(encoding="utf-8").splitlines()
    middle = 2  # has probabilities: {"A", "B", "tie"}
    lines[middle] = JUDGMENT_EDITS[name](lines[middle])
    run.judgments_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = outcome(lambda: judgment_columns(run.judgments()))
    assert_same(outcome(run.judgment_columns), old)
    if isinstance(old, str):
        assert f"judgments.jsonl:{middle + 1}:" in old  # names the file and line


def test_error_messages_name_line_and_field(run: RunStore) -> None:
    lines = run.judgments_path.read_text(encoding="utf-8").splitlines()
    lines[20] = edit(lines[20], set_key("status", "maybe"))
    lines[30] = edit(lines[30], set_key("cost", None))  # a later bad line is not reported
    run.judgments_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"judgments\.jsonl:21: status: ") as caught:
        load_frame(run.path)
    assert "Input should be 'ok', 'unparsed' or 'error'" in str(caught.value)


@pytest.mark.parametrize(
    ("tail", "kept"),
    [('{"item_id":"p1","judge', False), (None, True)],
    ids=["cut off", "complete"],
)
def test_last_line_without_newline(run: RunStore, tail: str | None, kept: bool) -> None:
    extra = judgment(41, item_id="p3", request_key="new", sample=5).model_dump_json()
    text = run.judgments_path.read_text(encoding="utf-8")
    run.judgments_path.write_text(text + (tail or extra), encoding="utf-8")
    new, old = run.judgment_columns(), judgment_columns(run.judgments())
    pd.testing.assert_frame_equal(new, old)
    assert (new["sample"] == 5).any() == kept


ITEM_EDITS: dict[str, Callable[[str], str]] = {
    "unknown key": lambda s: edit(s, set_key("labelz", [])),
    "blank id": lambda s: edit(s, set_key("id", " \u2003")),
    "bad vote": lambda s: edit(s, set_key("labels", [{"annotator": "h1", "verdict": "X"}])),
    "null label": lambda s: edit(s, set_key("labels", [None])),
    "label without annotator": lambda s: edit(s, set_key("labels", [{"verdict": "A"}])),
    "unknown label key": lambda s: edit(
        s, set_key("labels", [{"annotator": "h", "verdict": "A", "weight": 1}])
    ),
    "null labels": lambda s: edit(s, set_key("labels", None)),
    "missing labels": lambda s: edit(s, drop_key("labels")),
    "null metadata": lambda s: edit(s, set_key("metadata", None)),
    "missing response_b": lambda s: edit(s, drop_key("response_b")),
    "model_a a number": lambda s: edit(s, set_key("model_a", 5)),
    "single-item key": lambda s: edit(s, set_key("scores", [])),
    "single-item key, null": lambda s: edit(s, set_key("model", None)),
    "conversation": lambda s: edit(
        s,
        set_key(
            "prompt", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]
        ),
    ),
    "missing kind": lambda s: edit(s, drop_key("kind")),
    "not JSON": lambda s: s[:10],
    "duplicate id": lambda s: edit(s, set_key("id", "p0")),
}


@pytest.mark.parametrize("name", ITEM_EDITS)
def test_a_broken_item_line_gives_the_per_line_readers_result(name: str, run: RunStore) -> None:
    lines = run.items_path.read_text(encoding="utf-8").splitlines()
    lines[4] = ITEM_EDITS[name](lines[4])
    run.items_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = outcome(lambda: _item_table(run.items()))
    assert_same(outcome(lambda: _item_table_of(run.item_columns())), old)


def test_records_in_memory_give_the_same_columns(run: RunStore) -> None:
    columns = read_judgments(run.judgments_path)
    assert columns is not None
    pd.testing.assert_frame_equal(columns, judgment_columns(run.judgments()))
    items = read_items(run.items_path)
    assert items is not None
    expected = item_columns(run.items())
    pd.testing.assert_frame_equal(items.items, expected.items)


def test_billed_and_coalesced_and_old_lines_without_them(tmp_path: Path) -> None:
    """``billed`` as stored, and for lines written before it existed: the cost, 0 on a
    cache hit (Judgment's rule); ``coalesced`` read and checked."""
    judged = [
        judgment(0, cost=0.01, billed=0.01),
        judgment(1, cost=0.01, billed=0.0, coalesced=True),
        judgment(2, cost=0.02, cache_hit=True),
        judgment(3, cost=0.03),
        judgment(4, cost=0.04, cache_hit=True),
        judgment(5, cost=0.05, billed=0.05),
    ]
    store = write_run(tmp_path / "run", [pair(i) for i in range(10)], judged)
    lines = store.judgments_path.read_text(encoding="utf-8").splitlines()
    for old in (3, 4):  # as written before ``billed`` and ``coalesced`` existed
        lines[old] = edit(lines[old], lambda r: (r.pop("billed"), r.pop("coalesced")))
    lines[5] = edit(lines[5], lambda r: (r.pop("billed"), r.pop("cache_hit")))
    store.judgments_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_judgments(store.judgments_path) is not None
    frame = load_frame(store.path)
    pd.testing.assert_frame_equal(frame, old_frame(store.path))
    assert frame["billed"].tolist() == [0.01, 0.0, 0.0, 0.03, 0.0, 0.05]


def test_jury_member_columns(tmp_path: Path) -> None:
    """A jury's ``member:<name>`` status columns: members named by ``member`` or
    ``judge``, missing from some judgments, named twice, without a status, and one
    only on a superseded line (no column)."""
    judged = [
        judgment(
            0,
            status="error",
            verdict=None,
            members=({"member": "gone", "status": "error"},),
        ),  # superseded below
        judgment(
            1,
            members=(
                {"member": "m1", "verdict": "A", "status": "ok", "probabilities": {"A": 0.9}},
                {"member": "m2", "verdict": None, "status": "error", "error": "HTTP 500"},
            ),
        ),
        judgment(2, members=({"judge": "m3", "status": "unparsed"}, {"member": "m1"})),
        judgment(3),
        judgment(
            4,
            members=(
                {"member": "m2", "status": "ok"},
                {"member": "m2", "status": "unparsed"},  # the last record of a name counts
                {"member": "", "judge": "m4"},  # no status
            ),
        ),
        judgment(0, members=({"member": "m1", "status": "ok"},)),
    ]
    store = write_run(tmp_path / "jury", [pair(i) for i in range(10)], judged)
    assert read_judgments(store.judgments_path) is not None
    frame = load_frame(store.path)
    pd.testing.assert_frame_equal(frame, old_frame(store.path))
    assert member_columns(frame) == ["member:m1", "member:m2", "member:m3", "member:m4"]
    by_item = frame.set_index("item_id")
    assert by_item.loc["p1", "member:m2"] == "error"
    assert by_item.loc["p4", "member:m2"] == "unparsed"
    assert pd.isna(by_item.loc["p3", "member:m1"])
    assert pd.isna(by_item.loc["p4", "member:m4"])


def single(i: int, **fields: Any) -> SingleItem:
    base: dict[str, Any] = {
        "id": f"s{i}",
        "benchmark": "b",
        "prompt": f"question {i}",
        "response": "r" * i,
        "model": f"m{i % 3}",
        "scores": (
            HumanScore(annotator="a1", score=3),
            HumanScore(annotator="a2", score=4.5, aspect="engaging"),
            HumanScore(annotator="a3", score=2, aspect="engaging"),
        ),
        "aspect": ("overall", "engaging", "fluency")[i % 3],
        "scale": (1, 5) if i % 4 else None,
    }
    return SingleItem(**{**base, **fields})


@pytest.fixture
def single_run(tmp_path: Path) -> RunStore:
    items = [single(i) for i in range(12)]
    judged = [
        judgment(n, item_id=f"s{n}", score=float(n % 10), verdict=None) for n in range(10)
    ]  # s10 and s11 unjudged
    return write_run(tmp_path / "single", items, judged, judge_spec={"scale": [1, 10]})


def test_single_items_with_aspects_and_scales(single_run: RunStore) -> None:
    assert read_items(single_run.items_path) is not None
    frame = load_frame(single_run.path)
    pd.testing.assert_frame_equal(frame, old_frame(single_run.path))
    first = frame.set_index("item_id").loc["s1"]
    assert (first["aspect"], first["scale_low"], first["scale_high"]) == ("engaging", 1, 5)
    assert first["human_score"] == pytest.approx(3.25)  # its own aspect's mean
    assert (first["judge_scale_low"], first["judge_scale_high"]) == (1, 10)
    assert pd.isna(frame.set_index("item_id").loc["s2", "human_score"])  # no fluency score
    # items written before ``aspect`` existed: the overall aspect
    lines = single_run.items_path.read_text(encoding="utf-8").splitlines()
    lines = [edit(line, drop_key("aspect")) for line in lines]
    single_run.items_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = load_frame(single_run.path)
    pd.testing.assert_frame_equal(frame, old_frame(single_run.path))
    assert set(frame["aspect"]) == {"overall"}


SINGLE_ITEM_EDITS: dict[str, Callable[[str], str]] = {
    "null aspect": lambda s: edit(s, set_key("aspect", None)),
    "aspect a number": lambda s: edit(s, set_key("aspect", 2)),
    "null scale": lambda s: edit(s, set_key("scale", None)),
    "scale of three": lambda s: edit(s, set_key("scale", [1, 3, 5])),
    "scale with a null": lambda s: edit(s, set_key("scale", [1, None])),
    "scale of floats": lambda s: edit(s, set_key("scale", [0.5, 9.5])),
    "null score aspect": lambda s: edit(
        s, set_key("scores", [{"annotator": "a", "score": 1, "aspect": None}])
    ),
    "pair-item key": lambda s: edit(s, set_key("labels", [])),
}


@pytest.mark.parametrize("name", SINGLE_ITEM_EDITS)
def test_a_broken_single_item_line_gives_the_per_line_readers_result(
    name: str, single_run: RunStore
) -> None:
    lines = single_run.items_path.read_text(encoding="utf-8").splitlines()
    lines[5] = SINGLE_ITEM_EDITS[name](lines[5])
    single_run.items_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = outcome(lambda: _item_table(single_run.items()))
    assert_same(outcome(lambda: _item_table_of(single_run.item_columns())), old)
    assert_same(
        outcome(lambda: load_frame(single_run.path)), outcome(lambda: old_frame(single_run.path))
    )
