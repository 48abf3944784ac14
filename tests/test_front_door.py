"""``import judge``: the public API, cheap to import, and its pieces without a model."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import judge
from judge.aio import run_sync
from judge.analysis.synthetic import synthetic_frame

ROOT = Path(__file__).parents[1]


def test_import_is_cheap_and_lazy() -> None:
    code = (
        "import sys, judge; heavy = [m for m in ('pandas', 'pydantic', 'judge.run', "
        "'judge.analysis.frame', 'llama_cpp') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in judge.__all__:
        assert getattr(judge, name) is not None, name
    assert set(judge.__all__) <= set(dir(judge))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        judge.nope  # noqa: B018


def test_analysis_functions_are_the_modules_own() -> None:
    from judge.analysis import agreement, bias, controlled

    assert judge.agreement_table is agreement.agreement_table
    assert judge.position_table is bias.position_table
    assert judge.controlled_leaderboard is controlled.leaderboard
    assert judge.style_controlled is controlled.style_controlled


# analysis functions docs/analysis.md names that are not in judge.__all__, and why
NOT_PUBLIC = {
    "estimate_difficulty": "takes controlled.perspective rows; win_rates_three_ways calls it",
    "summary": "ranking.summary is judge.run_summary under an older name",
    "rate": "trust.rate: trust_table applies it (its rating and sentence columns)",
}


def test_every_analysis_function_the_docs_name_is_public() -> None:
    import judge.analysis

    text = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(?:[A-Za-z_]+\.)*([a-z_]+)[`(]", text))
    public = {id(getattr(judge, name)) for name in judge.__all__}
    missing = []
    for info in pkgutil.iter_modules(judge.analysis.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"judge.analysis.{info.name}")
        for name in sorted(named - set(NOT_PUBLIC)):
            value = getattr(module, name, None)
            own = inspect.isfunction(value) and value.__module__ == module.__name__
            if own and id(value) not in public:
                missing.append(f"{info.name}.{name}")
    assert missing == []
    assert judge.system_level.__module__ == "judge.analysis.controlled"
    assert {"system_level", "rank_ranges", "policy_accuracy_wide"} <= set(judge.__all__)


def test_run_sync_inside_a_running_loop() -> None:
    async def value() -> int:
        await asyncio.sleep(0)
        return 7

    async def notebook_cell() -> int:
        return run_sync(value)  # asyncio.run would refuse here

    assert run_sync(value) == 7
    assert asyncio.run(notebook_cell()) == 7


def test_to_items_from_a_frame_and_dicts() -> None:
    frame = pd.DataFrame(
        {
            "question": ["q1", "q2"],
            "response_a": ["a", "b"],
            "response_b": ["c", "d"],
            "label": ["A", None],
        }
    )
    items = judge.to_items(frame, map={"prompt": "question"})
    assert [i.id for i in items] == ["1", "2"]
    assert items[0].label == "A" and items[1].label is None
    singles = judge.to_items([{"id": "x", "prompt": "p", "response": "r", "score": 3}])
    assert isinstance(singles[0], judge.SingleItem) and singles[0].human_score() == 3.0
    assert judge.to_items(items) == items


def test_to_items_names_the_bad_row() -> None:
    rows = [{"prompt": "p", "response_a": "a", "response_b": "b"}, {"prompt": "p"}]
    with pytest.raises(judge.DataError, match=r"<items>:2: .*response_a"):
        judge.to_items(rows)
    with pytest.raises(judge.ConfigError, match="item 1: expected a PairItem"):
        judge.to_items(["just text"])  # type: ignore[list-item]


def test_load_judge_checks_options() -> None:
    with pytest.raises(judge.ConfigError, match="did you mean 'n_ctx'"):
        judge.load_judge("smollm2", n_ctxx=10)
    with pytest.raises(judge.ConfigError, match="unknown judge 'smolm2'"):
        judge.evaluate([{"prompt": "p", "response": "r"}], judge="smolm2")
    with pytest.raises(judge.ConfigError, match="nothing to judge"):
        judge.evaluate(pd.DataFrame())


def test_wrong_frame_kind_is_an_error() -> None:
    frame = synthetic_frame(20, seed=0)
    pairs = judge.pair_frame(frame)
    with pytest.raises(judge.ConfigError, match="agreement_table takes the pair frame"):
        judge.agreement_table(frame, n_resamples=0)
    with pytest.raises(judge.ConfigError, match="position_table takes the judgment frame"):
        judge.position_table(pairs, n_resamples=0)
    with pytest.raises(judge.ConfigError, match="win_rates takes the pair frame"):
        judge.win_rates(frame, n_resamples=0)
    with pytest.raises(judge.ConfigError, match="leaderboard takes the judgment frame"):
        judge.leaderboard(pairs, n_resamples=0)
    # combining the orders twice was a bare KeyError: 'kind'
    with pytest.raises(judge.ConfigError, match="pair_frame takes the judgment frame"):
        judge.pair_frame(pairs)
    with pytest.raises(judge.ConfigError, match="pair_frames takes the judgment frame"):
        judge.pair_frames(pairs)
    # the right ones give the figures
    assert 0 < judge.agreement_table(pairs, n_resamples=0)["n"].iloc[0] <= len(pairs) == 20
    assert judge.position_table(frame, n_resamples=0)["n_pairs"].iloc[0] == 20


def test_evaluate_a_data_file_and_clear_errors_for_what_is_not_data(tmp_path: Path) -> None:
    """A ``Path`` is read by the ``table`` benchmark; an int or ``None`` where a frame
    belongs is one ConfigError, not ``TypeError`` / ``AttributeError``."""
    from judge.judges import PromptJudge
    from judge.prompts import load_preset
    from tests.helpers import ScriptedBackend

    data = tmp_path / "pairs.csv"
    data.write_text("question,ans1,ans2,winner\nWhat is 2+2?,4,5,A\nCapital?,Paris,Lyon,B\n")
    scripted = PromptJudge(load_preset("mt-bench-pair"), ScriptedBackend(answer="[[A]]"))
    columns = {"prompt": "question", "response_a": "ans1", "response_b": "ans2"}
    frame = judge.evaluate(
        data,
        judge=scripted,
        benchmark_params={"map": {**columns, "label": "winner"}},
        orders="original",
    )
    assert list(frame["verdict"]) == ["A", "A"] and list(frame["label"]) == ["A", "B"]
    assert set(frame["benchmark"]) == {"table"}
    with pytest.raises(judge.ConfigError, match="got int"):
        judge.evaluate(123)  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match=r"takes the pair frame .* not NoneType"):
        judge.agreement_table(None)  # type: ignore[arg-type]


# every public analysis function that takes by=, the frame it takes, and whether it
# takes the bootstrap keywords
BY_FUNCTIONS = [
    ("agreement_table", "pairs", True),
    ("confusion_table", "pairs", False),
    ("win_rates", "pairs", True),
    ("bradley_terry", "pairs", True),
    ("head_to_head", "pairs", False),
    ("first_position_table", "judgments", True),
    ("position_table", "judgments", True),
    ("position_by_gap", "judgments", True),
    ("policy_table", "judgments", True),
    ("prefer_longer_table", "judgments", True),
    ("length_regression", "judgments", False),
    ("score_correlations", "judgments", True),
    ("leniency_table", "judgments", True),
    ("policy_accuracy_wide", "policy_table", False),
]


@pytest.mark.parametrize(("name", "kind", "bootstrap"), BY_FUNCTIONS)
def test_a_by_column_the_frame_lacks_is_a_config_error(
    name: str, kind: str, bootstrap: bool
) -> None:
    frame = synthetic_frame(20, seed=0)
    given = {
        "judgments": frame,
        "pairs": judge.pair_frame(frame),
        "policy_table": judge.policy_table(frame, n_resamples=0),
    }[kind]
    function = getattr(judge, name)
    options: dict[str, Any] = {"n_resamples": 0} if bootstrap else {}
    # was a bare KeyError: 'nocol'
    with pytest.raises(judge.ConfigError, match=rf"^{name}: by= names 'nocol', .* columns: run,"):
        function(given, by=("nocol",), **options)
    with pytest.raises(judge.ConfigError, match="did you mean 'run'"):
        function(given, by=("rnu",), **options)
    # one name alone is one column, not its letters
    alone, listed = function(given, by="run", **options), function(given, by=["run"], **options)
    assert alone.equals(listed)


def test_the_controlled_comparisons_check_by_and_the_reference() -> None:
    pairs = judge.pair_frame(synthetic_frame(20, seed=0))
    for function in (judge.win_rates_three_ways, judge.style_controlled):
        name = function.__name__
        with pytest.raises(judge.ConfigError, match=rf"^{name}: by= names 'rnu', .*'run'"):
            function(pairs, by=("rnu",), n_resamples=0)  # was KeyError: 'rnu'
    table = judge.win_rates_three_ways(pairs, by="run", n_resamples=0)
    assert table.equals(judge.win_rates_three_ways(pairs, by=["run"], n_resamples=0))
    # an unknown reference gave NaN correlations without a word
    with pytest.raises(judge.ConfigError, match=r"reference 'judge9' is neither .*judge0"):
        judge.system_level(pairs, reference="judge9", n_resamples=0)


def test_unknown_choices_are_config_errors_not_a_fallback() -> None:
    frame = synthetic_frame(20, seed=0)
    # gap="bad" (or 5) silently gave the quality-gap table
    for gap in ("bad", 5):
        with pytest.raises(judge.ConfigError, match=r"gap must be one of 'length', 'quality'"):
            judge.position_by_gap(frame, gap=gap, n_resamples=0)  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="level must be one of 'item', 'prompt'"):
        judge.score_correlations(frame, level="items", n_resamples=0)  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="level must be one of 'nominal', 'ordinal'"):
        judge.krippendorff_alpha([[0, 1], [1, 1]], level="interval")  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="ties must be one of 'with', 'without'"):
        judge.agreement_score(["A"], ["A"], ties="no")  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="weights must be one of None, 'linear'"):
        judge.cohen_kappa(["A"], ["A"], weights="cubic")  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="build_report: failures must be one of"):
        judge.build_report(frame, failures="drop", n_resamples=0)  # type: ignore[arg-type]
    with pytest.raises(judge.ConfigError, match="agreement_table: failures must be one of"):
        judge.agreement_table(judge.pair_frame(frame), failures="drop")  # type: ignore[arg-type]
