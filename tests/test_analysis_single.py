"""Single-answer grading on Topical-Chat USR: correlations, system ranking, leniency."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from judge.analysis import single
from judge.analysis.frame import build_frame
from judge.analysis.summary import run_summary
from judge.records import SingleItem
from judge_benchmarks.topical_chat import TopicalChatBenchmark
from tests.analysis_helpers import make_judgment

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def graded() -> tuple[pd.DataFrame, dict[str, float], dict[str, float]]:
    """A judge that scores 1-5: the rounded human score plus seeded noise, 5 unparsed."""
    items = [
        i
        for i in TopicalChatBenchmark(path=str(DATA / "topical_chat_usr")).load()
        if isinstance(i, SingleItem)
    ]
    assert len(items) == 360
    rng = np.random.default_rng(0)
    judgments, judge_scores, human_scores = [], {}, {}
    for n, item in enumerate(items):
        human = item.human_score()
        assert human is not None
        human_scores[item.id] = human
        if n % 72 == 0:
            judgments.append(make_judgment(item.id, judge="toy", status="unparsed"))
            continue
        score = float(np.clip(round(human + rng.normal(0, 0.8)), 1, 5))
        judge_scores[item.id] = score
        judgments.append(make_judgment(item.id, judge="toy", status="ok", score=score))
    return build_frame(items, judgments, run="toy"), judge_scores, human_scores


def test_item_level_correlations_equal_scipy(
    graded: tuple[pd.DataFrame, dict[str, float], dict[str, float]],
) -> None:
    frame, judge_scores, human_scores = graded
    row = single.score_correlations(frame, level="item", n_resamples=200).iloc[0]
    ids = sorted(judge_scores)
    x = np.array([judge_scores[i] for i in ids])
    y = np.array([human_scores[i] for i in ids])
    assert row["n"] == 355 and row["n_unparsed"] == 5
    assert row["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert row["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    assert row["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert row["spearman_p"] == pytest.approx(stats.spearmanr(x, y).pvalue)
    assert row["spearman_low"] < row["spearman"] < row["spearman_high"]


def test_system_level_ranking_correlation(
    graded: tuple[pd.DataFrame, dict[str, float], dict[str, float]],
) -> None:
    frame, *_ = graded
    row = single.score_correlations(frame, level="system", n_resamples=100).iloc[0]
    items = single.graded_items(frame).dropna(subset=["judge_score"])
    means = items.groupby("model", observed=True)[["judge_score", "human_score"]].mean()
    assert row["n_units"] == 6
    assert row["kendall"] == pytest.approx(
        stats.kendalltau(means["judge_score"], means["human_score"]).statistic
    )
    assert row["kendall"] > 0.5  # a judge this close to the humans ranks systems alike


def test_prompt_level_is_the_mean_within_prompts(
    graded: tuple[pd.DataFrame, dict[str, float], dict[str, float]],
) -> None:
    frame, *_ = graded
    row = single.score_correlations(frame, level="prompt", n_resamples=50).iloc[0]
    items = single.graded_items(frame).dropna(subset=["judge_score"])
    values = []
    for _, part in items.groupby("prompt_key", observed=True):
        x, y = part["judge_score"].to_numpy(), part["human_score"].to_numpy()
        if len(part) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            values.append(stats.pearsonr(x, y).statistic)
    assert row["n_units"] == 60
    assert row["pearson"] == pytest.approx(np.mean(values))
    assert math.isnan(row["pearson_p"])


def test_leniency_and_kappa(
    graded: tuple[pd.DataFrame, dict[str, float], dict[str, float]],
) -> None:
    frame, judge_scores, human_scores = graded
    row = single.leniency_table(frame, n_resamples=200).iloc[0]
    ids = sorted(judge_scores)
    diff = np.array([judge_scores[i] - human_scores[i] for i in ids])
    assert row["leniency"] == pytest.approx(diff.mean())
    assert row["leniency_low"] < row["leniency"] < row["leniency_high"]
    human = np.floor(np.array([human_scores[i] for i in ids]) + 0.5)
    judge = np.array([judge_scores[i] for i in ids])
    assert row["kappa_linear"] == pytest.approx(
        cohen_kappa_score(human, judge, weights="linear", labels=sorted(set(human) | set(judge)))
    )
    summary = run_summary(frame)
    assert summary["n_unparsed"] == 5 and summary["accuracy"] is None
    assert summary["spearman"] == pytest.approx(
        single.score_correlations(frame, n_resamples=0).iloc[0]["spearman"]
    )


def test_constant_scores_are_undefined() -> None:
    item = SingleItem(id="1", benchmark="b", prompt="p", response="r", model="s")
    frame = build_frame(
        [item, item.model_copy(update={"id": "2"})],
        [make_judgment(i, status="ok", score=3.0) for i in ("1", "2")],
        run="r",
    )
    row = single.score_correlations(frame, n_resamples=10).iloc[0]
    assert row["n"] == 0 and math.isnan(row["spearman"])
