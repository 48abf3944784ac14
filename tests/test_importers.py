"""Importing published verdicts (PandaLM, JudgeBench) as runs reproduces PROVENANCE figures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from judge.errors import DataError, StoreError
from judge.importers import import_judgebench, import_pandalm
from judge.records import Judgment, PairItem, flip
from judge.store import RunStore

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
JB_OUTPUTS = DATA / "judgebench" / "reference_judge_outputs"


def pair_items(store: RunStore) -> dict[str, PairItem]:
    return {i.id: i for i in store.items() if isinstance(i, PairItem)}


@pytest.mark.parametrize(
    ("kind", "verdicts", "unparsed", "accuracy", "kappa"),
    [
        # PROVENANCE: gpt_result counts 460/476/38/25 (25 "garbage"); accuracy 0.698, kappa 0.476
        ("gpt-3.5", {"A": 460, "B": 476, "tie": 38}, 25, 0.698, 0.476),
        # PROVENANCE: PandaLM-7B accuracy 0.668, kappa 0.435 (computed: 433/459/107)
        ("pandalm-7b", {"A": 433, "B": 459, "tie": 107}, 0, 0.668, 0.435),
    ],
)
def test_import_pandalm(
    tmp_path: Path,
    kind: str,
    verdicts: dict[str, int],
    unparsed: int,
    accuracy: float,
    kappa: float,
) -> None:
    store = import_pandalm(kind, data_root=DATA, output=tmp_path)  # type: ignore[arg-type]
    assert store.path == tmp_path / f"import-pandalm-{kind}"
    manifest = store.read_manifest()
    judgments = store.judgments()
    assert manifest.complete and manifest.n_items == 999 and len(judgments) == 999
    assert manifest.counts.ok == 999 - unparsed and manifest.counts.unparsed == unparsed
    assert manifest.config.benchmark == "pandalm" and manifest.config.orders == "original"
    assert len(manifest.data_files) == 2
    assert Counter(j.verdict for j in judgments if j.status == "ok") == verdicts
    bad = [j for j in judgments if j.status == "unparsed"]
    assert all(j.verdict is None and j.raw and "garbage" in j.raw for j in bad)
    assert not any(j.swapped for j in judgments)
    items = pair_items(store)
    # accuracy against the 3-annotator majority; an unparsed reply counts as wrong
    majority = [items[j.item_id].label for j in judgments]
    correct = sum(j.verdict == m for j, m in zip(judgments, majority, strict=True))
    assert round(correct / 999, 3) == accuracy
    predicted = [j.verdict or "unparsed" for j in judgments]
    assert round(cohen_kappa_score(majority, predicted), 3) == kappa


def test_import_pandalm_refuses_to_overwrite(tmp_path: Path) -> None:
    import_pandalm("pandalm-7b", data_root=DATA, output=tmp_path, run_name="r")
    with pytest.raises(StoreError, match="already holds a run"):
        import_pandalm("pandalm-7b", data_root=DATA, output=tmp_path, run_name="r")
    store = import_pandalm("gpt-3.5", data_root=DATA, output=tmp_path, run_name="r", overwrite=True)
    assert store.read_manifest().counts.unparsed == 25 and len(store.judgments()) == 999


def judgebench_accuracy(judgments: list[Judgment], items: dict[str, PairItem]) -> float:
    """JudgeBench's metric: a pair is correct if the net vote over both orders favours the label."""
    net: Counter[str] = Counter()
    for j in judgments:
        label = items[j.item_id].label
        assert label is not None
        net[j.item_id] += (j.verdict == label) - (j.verdict == flip(label))
    return round(100 * sum(v > 0 for v in net.values()) / len(items), 2)


@pytest.mark.parametrize(
    ("judge", "pairs", "unparsed", "accuracy"),
    [  # accuracy: PROVENANCE recomputation with the repo's metric; unparsed: empty decisions
        ("judge_name=arena_hard,judge_model=o1-mini-2024-09-12", 350, 0, 65.71),
        ("judge_name=reward_model,judge_model=Skywork_Skywork-Reward-Gemma-2-27B", 350, 0, 64.29),
        ("judge_name=reward_model,judge_model=internlm_internlm2-20b-reward", 350, 0, 63.43),
        ("judge_name=reward_model,judge_model=Skywork_Skywork-Reward-Llama-3.1-8B", 350, 0, 62.29),
        ("judge_name=reward_model,judge_model=internlm_internlm2-7b-reward", 350, 0, 59.43),
        ("judge_name=reward_model,judge_model=Ray2333_GRM-Gemma-2B-rewardmodel-ft", 350, 0, 59.43),
        ("judge_name=arena_hard,judge_model=claude-3-haiku-20240307", 270, 13, 32.22),
    ],
)
def test_import_judgebench(
    tmp_path: Path, judge: str, pairs: int, unparsed: int, accuracy: float
) -> None:
    (path,) = JB_OUTPUTS.glob(f"*,{judge}.decisions.csv")
    store = import_judgebench(path, data_root=DATA, output=tmp_path)
    manifest = store.read_manifest()
    judgments = store.judgments()
    assert manifest.n_items == pairs and manifest.complete
    assert manifest.config.orders == "both"
    assert Counter(j.swapped for j in judgments) == {False: pairs, True: pairs}
    assert manifest.counts.unparsed == unparsed
    assert all(j.verdict is None for j in judgments if j.status == "unparsed")
    assert judgebench_accuracy(judgments, pair_items(store)) == accuracy


def test_judgebench_swapped_decision_is_flipped(tmp_path: Path) -> None:
    (path,) = JB_OUTPUTS.glob("*o1-mini*.decisions.csv")
    store = import_judgebench(path, data_root=DATA, output=tmp_path)
    by_key = {(j.item_id, j.swapped): j for j in store.judgments()}
    # first row of the file: e302b0a0-..., original "A>B", swapped raw "B>A" -> both say A
    first = "e302b0a0-28d5-5a3c-b1af-fedcf5543e72"
    assert by_key[first, False].verdict == "A" and by_key[first, False].raw == "A>B"
    assert by_key[first, True].verdict == "A" and by_key[first, True].raw == "B>A"


def test_judgebench_single_order_and_bad_rows(tmp_path: Path) -> None:
    (source,) = JB_OUTPUTS.glob("*o1-mini*.decisions.csv")
    lines = source.read_text().splitlines()
    header, rows = lines[0], lines[1:6]
    single = tmp_path / "single.decisions.csv"
    single.write_text("\n".join([header, *(r.rsplit(",", 1)[0] + "," for r in rows)]) + "\n")
    store = import_judgebench(single, data_root=DATA, output=tmp_path / "runs")
    assert store.read_manifest().config.orders == "original"
    assert len(store.judgments()) == 5 and not any(j.swapped for j in store.judgments())

    wrong_label = tmp_path / "wrong.decisions.csv"
    flipped = rows[0].replace(",A>B,", ",B>A,", 1)
    wrong_label.write_text("\n".join([header, rows[1], flipped]) + "\n")
    with pytest.raises(DataError, match="label") as err:
        import_judgebench(wrong_label, data_root=DATA, output=tmp_path / "runs")
    assert err.value.line == 3

    unknown = tmp_path / "unknown.decisions.csv"
    unknown.write_text(header + "\nnot-a-pair,mmlu-pro-law,A>B,A>B,B>A\n")
    with pytest.raises(DataError, match="not in JudgeBench") as err:
        import_judgebench(unknown, data_root=DATA, output=tmp_path / "runs")
    assert err.value.line == 2 and err.value.field == "pair_id"


def test_imported_run_analyses_like_any_run(tmp_path: Path) -> None:
    """The run summary of an imported run reproduces the PROVENANCE figures (0.698, 0.476)."""
    from judge.summary import summarize

    summary = summarize(import_pandalm("gpt-3.5", data_root=DATA, output=tmp_path))
    assert summary["n_judgments"] == 999 and summary["n_unparsed"] == 25
    assert round(summary["accuracy"], 3) == 0.698
    assert round(summary["kappa"], 3) == 0.476


def test_judgebench_published_accuracies_come_out_of_the_report(tmp_path: Path) -> None:
    """All seven judges: `judge import judgebench` + the report's net_vote column equal the
    figures in judgebench/PROVENANCE.md (read from the file, never copied here)."""
    from judge.analysis import bias
    from judge.analysis.frame import load_frame
    from judge.analysis.report import build_report, published_by_run
    from judge.benchmark import match_published
    from judge.importers import ImportRequest, run_import
    from judge_benchmarks.judgebench import JudgeBenchBenchmark, provenance_accuracies

    published = provenance_accuracies((DATA / "judgebench" / "PROVENANCE.md").read_text())
    assert len(published) == 7
    files = sorted(JB_OUTPUTS.glob("*.decisions.csv"))
    written = run_import(
        "judgebench", ImportRequest(sources=tuple(map(str, files)), data_root=DATA), output=tmp_path
    )
    frame = load_frame([store.path for store, _ in written])
    wide = bias.policy_accuracy_wide(bias.policy_table(frame, n_resamples=0))
    figures = JudgeBenchBenchmark.published_figures(DATA)
    matched = set()
    for row in wide.itertuples():
        figure = match_published(figures, str(row.judge))
        assert figure is not None and figure.policy == "net_vote", row.judge
        matched.add(figure.judge)
        assert round(100 * row.net_vote, 2) == round(100 * figure.value, 2), row.judge
    assert matched == set(published)
    assert len(published_by_run(frame, DATA)) == 7
    report = build_report(frame, n_resamples=0, datasets_dir=DATA).markdown()
    section = report.split("## Accuracy under every reconcile policy")[1].split("\n## ")[0]
    for value in published.values():
        shown = f"{100 * value:.2f}"
        assert f"| {shown} |" in section and f"{shown} (net_vote)" in section


def test_a_plugin_importers_unreadable_run_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """An importer plugin's run that the analysis could not read is one line, and no
    folder is written: no verdicts, a judged item the run does not hold, a judgment twice,
    swapped judgments in a one-order run."""
    from dataclasses import replace
    from typing import ClassVar

    from judge.importers import ImportedRun, Importer, ImportRequest, run_import
    from judge.records import RunConfig
    from judge.registry import importers

    items = [
        PairItem(id=f"q{n}", benchmark="sample", prompt="p", response_a="a", response_b="b")
        for n in range(2)
    ]

    def verdict(item_id: str, swapped: bool = False) -> Judgment:
        return Judgment(
            item_id=item_id,
            judge="j",
            judge_hash="h",
            request_key=f"{item_id}{swapped}",
            swapped=swapped,
            status="ok",
            verdict="A",
        )

    good = ImportedRun(
        name="mine",
        config=RunConfig(benchmark="sample", judge="j", orders="original"),
        judge_hash="h",
        judge_spec={"name": "j"},
        items=items,
        judgments=[verdict("q0"), verdict("q1")],
        sources=[tmp_path / "verdicts.txt"],
    )
    (tmp_path / "verdicts.txt").write_text("made elsewhere\n")
    bad = {
        "no verdicts were read": replace(good, judgments=[]),
        "1 judged item id(s) are not among the run's 2 items (e.g. 'q9')": replace(
            good, judgments=[verdict("q0"), verdict("q9")]
        ),
        "item 'q0' has two judgments in the original order": replace(
            good, judgments=[verdict("q0"), verdict("q0")]
        ),
        "swapped-order judgments in a run that declares orders=1": replace(
            good, judgments=[verdict("q0"), verdict("q0", swapped=True)]
        ),
    }

    class Given(Importer):
        name: ClassVar[str] = "given"
        run: ClassVar[ImportedRun] = good

        def read(self, request: ImportRequest) -> list[ImportedRun]:
            return [self.run]

    importers.register("given", Given)
    try:
        request = ImportRequest(sources=[tmp_path / "verdicts.txt"])
        for message, run in bad.items():
            Given.run = run
            with pytest.raises(DataError) as refused:
                run_import("given", request, output=tmp_path / "out")
            assert str(refused.value).startswith("importer 'given', run 'mine' (from ")
            assert message in str(refused.value) and "\n" not in str(refused.value)
            assert not (tmp_path / "out").exists()
        Given.run = good
        ((store, _),) = run_import("given", request, output=tmp_path / "out")
        assert len(store.judgments()) == 2
    finally:
        importers.unregister("given")
