"""``judge.evaluate`` into a named run folder: what a resumed run accepts, and the
library's own words in its errors (``extend=True``, ``name=``), not only the CLI's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import judge
from judge.judges import PromptJudge
from judge.prompts import load_preset
from tests.helpers import ScriptedBackend


def scripted() -> PromptJudge:
    return PromptJudge(load_preset("mt-bench-pair"), ScriptedBackend(answer="[[A]]"))


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(n)],
            "prompt": [f"Question {i}?" for i in range(n)],
            "response_a": ["yes"] * n,
            "response_b": ["no"] * n,
        }
    )


def test_a_resumed_run_refuses_other_orders_and_names_its_options(tmp_path: Path) -> None:
    first = judge.evaluate(rows(2), judge=scripted(), output=tmp_path, name="mine")
    assert len(first) == 4  # both orders
    with pytest.raises(judge.ConfigError, match=r"orders='both', not 'original'.*name="):
        judge.evaluate(rows(2), judge=scripted(), output=tmp_path, name="mine", orders="original")
    # items given in memory that the run lacks are judged and added (a larger --limit)
    assert len(judge.evaluate(rows(3), judge=scripted(), output=tmp_path, name="mine")) == 6


def test_rows_added_to_a_data_file_need_extend(tmp_path: Path) -> None:
    data = tmp_path / "pairs.csv"
    rows(2).to_csv(data, index=False)
    out = tmp_path / "out"
    assert len(judge.evaluate(data, judge=scripted(), output=out, name="file")) == 4
    rows(3).to_csv(data, index=False)
    with pytest.raises(judge.DataError, match=r"pass --extend \(extend=True\)"):
        judge.evaluate(data, judge=scripted(), output=out, name="file")
    frame = judge.evaluate(data, judge=scripted(), output=out, name="file", extend=True)
    assert len(frame) == 6


def test_what_is_not_a_run_or_not_data_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(judge.ConfigError, match="must be one folder name"):
        judge.evaluate(rows(1), judge=scripted(), output=tmp_path / "out", name="../escape")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()
    with pytest.raises(judge.ConfigError, match="give output=FOLDER too"):
        judge.evaluate(rows(1), judge=scripted(), name="mine")
    with pytest.raises(judge.ConfigError, match=r"one dict: pass a list of items, \[item\]"):
        judge.evaluate({"prompt": "p", "response": "r"}, judge=scripted())  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match=r"pass pathlib.Path\('pairs.csv'\)"):
        judge.evaluate("pairs.csv", judge=scripted())


def test_the_summary_says_pairs_without_a_verdict_count_as_wrong(tmp_path: Path) -> None:
    from judge.store import RunStore
    from judge.summary import format_summary, summarize

    unparsable = PromptJudge(load_preset("mt-bench-pair"), ScriptedBackend(answer="no idea"))
    labelled = rows(3).assign(label=["A", "B", "A"])
    judge.evaluate(labelled, judge=unparsable, output=tmp_path, name="lost")
    text = format_summary(summarize(RunStore(tmp_path / "lost")))
    # it read "accuracy vs labels 0.0% over 3 pairs" as if the judge had answered wrong
    assert "0.0% over 3 pairs (inconsistent_tie; 3 without a verdict, counted as wrong)" in text


def test_report_cells_keep_small_costs_seconds_and_counts() -> None:
    from judge.analysis.report import build_report
    from judge.analysis.synthetic import synthetic_frame

    frame = synthetic_frame(20, seed=0).assign(billed=0.00007, cost=0.00007, latency_s=0.0341)
    lines = build_report(frame, n_resamples=0).markdown().splitlines()
    header = next(i for i, line in enumerate(lines) if "| backend s |" in line)
    cells = [c.strip() for c in lines[header + 2].split("|")]
    # 40 judgments: $0.0028 and 1.4 s (they printed as 0.003 and, rounded first, 1.400)
    assert cells[-4:-1] == ["0.0028", "0.0000", "1.4"]
    board = next(i for i, line in enumerate(lines) if line.endswith("| n_judgments |"))
    counts = [row.rsplit("|", 2)[-2].strip() for row in lines[board + 2 : board + 4]]
    assert sorted(counts) == ["40", "60"]  # a judge's judgments, the humans' votes (not 40.000)


def test_a_run_folder_of_other_benchmark_options_is_refused_naming_them(tmp_path: Path) -> None:
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    rows(2).to_csv(first, index=False)
    rows(2).to_csv(second, index=False)
    judge.evaluate(first, judge=scripted(), output=tmp_path / "out", name="mine")
    # it blamed the data: "second.csv changed since run ... began"
    with pytest.raises(judge.ConfigError, match=r"holds a run of benchmark 'table' with options"):
        judge.evaluate(second, judge=scripted(), output=tmp_path / "out", name="mine")


def test_a_single_answer_summary_keeps_to_single_answer_lines(tmp_path: Path) -> None:
    from judge.store import RunStore
    from judge.summary import format_summary, summarize

    items = [{"id": f"s{i}", "prompt": f"Q{i}?", "response": "A.", "score": 3} for i in range(3)]
    unparsable = PromptJudge(load_preset("mt-bench-single"), ScriptedBackend(answer="no idea"))
    judge.evaluate(items, judge=unparsable, output=tmp_path, name="single")
    text = format_summary(summarize(RunStore(tmp_path / "single")))
    # every reply unparsed: it printed the pairwise lines (position consistency, ...)
    assert "vs human scores" in text and "position consistency" not in text
    assert "accuracy vs labels" not in text


def test_run_ids_name_a_preset_file_by_its_stem_and_a_probe_by_its_perturbation(
    tmp_path: Path,
) -> None:
    from judge.records import RunConfig
    from judge.run import run_id_for
    from judge.starter import write_starter

    write_starter("my-judge", tmp_path)
    built = PromptJudge(load_preset(str(tmp_path / "my-judge.toml")), ScriptedBackend())
    ids = {
        run_id_for(RunConfig(benchmark="sample", judge=spelt), built)
        for spelt in ("./my-judge.toml", str(tmp_path / "my-judge.toml"), "../x/my-judge.toml")
    }
    assert len(ids) == 1 and ids.pop().startswith("sample-my-judge-")
    probe = RunConfig(benchmark="probe", judge="smollm2", benchmark_args={"label": "bandwagon"})
    assert run_id_for(probe, scripted()).startswith("probe-bandwagon-smollm2-")
