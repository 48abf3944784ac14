"""Single-answer figures on one scale, per Topical-Chat aspect, checked against scipy on
the raw file; the run summary of a single-answer run shows its correlations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from judge.analysis.frame import load_frame
from judge.analysis.single import graded_items, leniency_table, score_correlations
from judge.benchmark import load_items
from judge.importers import ImportRequest, run_import
from judge.records import SingleItem
from judge.summary import format_summary, summarize
from judge_benchmarks.topical_chat import SCALES, TopicalChatBenchmark

FOLDER = Path(__file__).parents[1].parent / "shared" / "datasets" / "topical_chat_usr"


def import_scores(
    tmp_path: Path, scores: dict[str, float], aspect: str = "overall", **options: object
) -> Path:
    path = tmp_path / f"scores-{aspect}.csv"
    path.write_text("id,score\n" + "".join(f"{k},{v}\n" for k, v in scores.items()))
    ((store, _),) = run_import(
        "table",
        ImportRequest(
            sources=(str(path),),
            benchmark="topical_chat",
            benchmark_args={"path": str(FOLDER), "aspect": aspect},
            judge="synthetic",
        ),
        options=options,
        output=tmp_path / "runs",
        run_name=f"run-{aspect}",
        overwrite=True,
    )
    return store.path


def items(aspect: str = "overall") -> list[SingleItem]:
    loaded = load_items(TopicalChatBenchmark(path=str(FOLDER), aspect=aspect))  # type: ignore[arg-type]
    return [i for i in loaded if isinstance(i, SingleItem)]


def test_a_judge_at_twice_the_human_score_is_not_lenient(tmp_path: Path) -> None:
    """Humans 1-5 (means), a judge scoring exactly 2x on its 2-10 scale: one scale."""
    doubled = {i.id: 2 * (i.human_score() or 0) for i in items()}
    run = import_scores(tmp_path, doubled, scale=(2, 10))
    frame = load_frame(run)
    lenient = leniency_table(frame, n_resamples=0).iloc[0]
    assert lenient["leniency"] == pytest.approx(0, abs=1e-12)
    assert lenient["scale"] == "judge 2-10 -> item 1-5"
    assert lenient["kappa_linear"] == pytest.approx(1.0)
    for level in ("item", "system"):
        corr = score_correlations(frame, level=level, n_resamples=0).iloc[0]  # type: ignore[arg-type]
        for method in ("pearson", "spearman", "kendall"):
            assert corr[method] == pytest.approx(1.0), (level, method)
        assert corr["aspect"] == "overall"
    # without a declared scale the scores are compared as given, and the table says so
    unscaled = leniency_table(load_frame(import_scores(tmp_path, doubled)), n_resamples=0).iloc[0]
    assert unscaled["leniency"] > 2 and unscaled["scale"].startswith("as given")


@pytest.mark.parametrize("aspect", list(SCALES))
def test_per_aspect_figures_equal_scipy_on_the_raw_file(tmp_path: Path, aspect: str) -> None:
    raw = json.loads((FOLDER / "topical_chat.json").read_text())
    rng = np.random.default_rng(len(aspect))
    loaded = items(aspect)
    assert {i.scale for i in loaded} == {SCALES[aspect]} and loaded[0].aspect == aspect
    # a judge on a 1-10 scale, noisy around the human overall score
    judge = np.clip(
        np.round(2 * np.array([r["scores"]["overall"] for r in raw]) + rng.normal(0, 2, len(raw))),
        1,
        10,
    )
    run = import_scores(tmp_path, dict(zip([i.id for i in loaded], judge, strict=True)), aspect)
    frame = load_frame(run)
    human = np.array([r["scores"][aspect] for r in raw])
    corr = score_correlations(frame, level="item", n_resamples=0).iloc[0]
    assert corr["aspect"] == aspect and corr["n"] == 360
    assert corr["pearson"] == pytest.approx(stats.pearsonr(judge, human).statistic)
    assert corr["spearman"] == pytest.approx(stats.spearmanr(judge, human).statistic)
    assert corr["kendall"] == pytest.approx(stats.kendalltau(judge, human).statistic)
    systems = pd.DataFrame({"s": [r["system_id"] for r in raw], "j": judge, "h": human})
    means = systems.groupby("s")[["j", "h"]].mean()
    by_system = score_correlations(frame, level="system", n_resamples=0).iloc[0]
    assert by_system["n_units"] == 6
    assert by_system["spearman"] == pytest.approx(stats.spearmanr(means["j"], means["h"]).statistic)
    graded = graded_items(frame)
    assert graded["human_score"].to_numpy() == pytest.approx(
        pd.Series(human, index=[i.id for i in loaded])[graded["item_id"].astype(str)].to_numpy()
    )


def test_prompt_level_counts_only_defined_prompts(tmp_path: Path) -> None:
    loaded = items()
    constant_context = str(loaded[0].metadata["context"])
    scores = {
        i.id: 3.0 if str(i.metadata["context"]) == constant_context else (i.human_score() or 0)
        for i in loaded
    }
    frame = load_frame(import_scores(tmp_path, scores))
    corr = score_correlations(frame, level="prompt", n_resamples=0).iloc[0]
    assert corr["n_units"] == 59  # 60 contexts; one judged constant has no correlation


def test_single_answer_summary_shows_correlations(tmp_path: Path) -> None:
    from judge.store import RunStore

    doubled = {i.id: 2 * (i.human_score() or 0) for i in items()}
    summary = summarize(RunStore(import_scores(tmp_path, doubled, scale=(2, 10))))
    assert summary["spearman"] == pytest.approx(1.0) and summary["leniency"] == pytest.approx(0)
    text = format_summary(summary)
    assert "Spearman / Kendall     1.000 / 1.000" in text
    assert "aspect overall, scale judge 2-10 -> item 1-5" in text
    assert "accuracy vs labels" not in text
