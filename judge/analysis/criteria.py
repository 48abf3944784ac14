"""A multi-criterion judge's scores, one criterion at a time.

A preset that scores several named criteria in one call (``criteria = [...]``) gives
each judgment a ``criterion_<name>`` column in the frame. Per run and criterion:

- :func:`criteria_table`: the mean score (bootstrap interval over items), and where the
  items carry human scores of an aspect with the criterion's name
  (``human_criterion_<name>``: SummEval's coherence / consistency / fluency / relevance,
  Topical-Chat's sub-scores), the item-level correlations with them, the leniency (mean
  judge minus mean human) and the exact agreement of the two rounded to integers;
- :func:`criteria_distribution`: how often each score was given.

Scores are compared as given: the item's ``scale`` is the scale of its own aspect, not
of every criterion, so declare the criteria on the human scale (``scale = [1, 3]`` for
Topical-Chat's naturalness, coherence and engagingness). Unparsed and errored
judgments have no criterion scores: they are counted (``n_failed``) and left out of
every figure.
"""

from __future__ import annotations

from typing import Any, Final, Unpack

import numpy as np
import pandas as pd

from judge.analysis._stats import Bootstrap, bootstrap_ci, resampling
from judge.analysis.frame import (
    CRITERION_PREFIX,
    HUMAN_CRITERION_PREFIX,
    criterion_columns,
)
from judge.analysis.single import CORRELATIONS, correlation

NAN: Final = float("nan")


def criteria_names(frame: pd.DataFrame) -> list[str]:
    """The criteria a frame's judges scored, in column order.

    >>> criteria_names(pd.DataFrame(columns=["score", "criterion_fluency", "criterion_accuracy"]))
    ['fluency', 'accuracy']
    """
    return [c.removeprefix(CRITERION_PREFIX) for c in criterion_columns(frame)]


def criterion_items(frame: pd.DataFrame, criterion: str) -> pd.DataFrame:
    """One row per ``(run, item)`` judged on ``criterion``: ``judge_score`` (mean over
    the item's ok samples, as the judge gave it), ``human``
    (the mean human score of that aspect; NaN without one), ``n_failed``."""
    column = CRITERION_PREFIX + criterion
    human = HUMAN_CRITERION_PREFIX + criterion
    if column not in frame:
        raise KeyError(f"no criterion {criterion!r} in the frame")
    part = frame[frame[column].notna().to_numpy() | (frame["status"] != "ok").to_numpy()]
    scores = part[column].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "run": part["run"].astype(str).to_numpy(),
            "judge": part["judge"].astype(str).to_numpy(),
            "item_id": part["item_id"].astype(str).to_numpy(),
            "judge_score": scores,
            "human": part[human].to_numpy(dtype=float) if human in part else NAN,
            "failed": (part["status"] != "ok").to_numpy(),
        }
    )
    return (
        table.groupby(["run", "item_id"], sort=True)
        .agg(
            judge=("judge", "first"),
            judge_score=("judge_score", "mean"),
            human=("human", "first"),
            n_failed=("failed", "sum"),
        )
        .reset_index()
    )


def criteria_table(
    frame: pd.DataFrame,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """One row per ``(run, criterion)``.

    Columns: ``run``, ``judge``, ``criterion``, ``n`` (items with a score),
    ``n_failed`` (unparsed or errored judgments), ``mean`` with ``mean_low`` /
    ``mean_high`` (percentile bootstrap over items), ``n_human`` (items that also have a
    human score of that aspect), ``human_mean``, ``leniency`` (mean judge minus mean
    human score on those items), ``exact_agreement`` (both rounded to integers are
    equal), and ``pearson``, ``spearman``, ``kendall`` (item level; NaN without human
    scores or when either side is constant).

    >>> frame = pd.DataFrame({"run": ["r"] * 3, "judge": ["j"] * 3, "item_id": list("abc"),
    ...     "status": ["ok", "ok", "unparsed"], "criterion_fluency": [4.0, 2.0, np.nan],
    ...     "human_criterion_fluency": [4.0, 3.0, 5.0]})
    >>> table = criteria_table(frame, n_resamples=0)
    >>> table[["criterion", "n", "n_failed", "mean", "leniency", "exact_agreement"]].values.tolist()
    [['fluency', 2, 1, 3.0, -0.5, 0.5]]
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    rows: list[dict[str, Any]] = []
    for criterion in criteria_names(frame):
        items = criterion_items(frame, criterion)
        for (run, judge), part in items.groupby(["run", "judge"], sort=True):
            scored = part.dropna(subset=["judge_score"])
            x = scored["judge_score"].to_numpy(dtype=float)
            n_scored = max(len(x), 1)
            low, high = bootstrap_ci(
                x[:, None],
                lambda sums: sums[:, 0] / n_scored,  # noqa: B023 - used at once
                n_resamples=n_resamples,
                seed=seed,
                confidence=confidence,
            )
            both = scored.dropna(subset=["human"])
            jx, hy = both["judge_score"].to_numpy(float), both["human"].to_numpy(float)
            row: dict[str, Any] = {
                "run": run,
                "judge": judge,
                "criterion": criterion,
                "n": len(scored),
                "n_failed": int(part["n_failed"].sum()),
                "mean": float(x.mean()) if len(x) else NAN,
                "mean_low": low,
                "mean_high": high,
                "n_human": len(both),
                "human_mean": float(hy.mean()) if len(hy) else NAN,
                "leniency": float(jx.mean() - hy.mean()) if len(hy) else NAN,
                "exact_agreement": float(np.mean(np.rint(jx) == np.rint(hy))) if len(hy) else NAN,
            }
            for method in CORRELATIONS:
                row[method] = correlation(jx, hy, method)[0]
            rows.append(row)
    columns = [
        "run",
        "judge",
        "criterion",
        "n",
        "n_failed",
        "mean",
        "mean_low",
        "mean_high",
        "n_human",
        "human_mean",
        "leniency",
        "exact_agreement",
        *CORRELATIONS,
    ]
    return pd.DataFrame(rows, columns=columns)


def criteria_distribution(frame: pd.DataFrame) -> pd.DataFrame:
    """How often each score was given: one row per ``(run, criterion)``, one column per
    score value (as the judge gave it, before any scale mapping), counts of ok judgments.

    >>> frame = pd.DataFrame({"run": ["r"] * 3, "criterion_a": [1.0, 2.0, 2.0]})
    >>> criteria_distribution(frame).to_dict("records")
    [{'run': 'r', 'criterion': 'a', '1': 1, '2': 2}]
    """
    long = []
    for criterion in criteria_names(frame):
        values = frame[CRITERION_PREFIX + criterion]
        given = values.notna().to_numpy()
        long.append(
            pd.DataFrame(
                {
                    "run": frame["run"].astype(str).to_numpy()[given],
                    "criterion": criterion,
                    "score": values.to_numpy(dtype=float)[given],
                }
            )
        )
    if not long:
        return pd.DataFrame(columns=["run", "criterion"])
    stacked = pd.concat(long, ignore_index=True)
    counts = stacked.groupby(["run", "criterion", "score"], sort=False).size().unstack(fill_value=0)
    counts = counts[sorted(counts.columns)]
    counts.columns = [_score_label(v) for v in counts.columns]
    order = {c: i for i, c in enumerate(criteria_names(frame))}
    out = counts.reset_index()
    out = out.sort_values(
        ["run", "criterion"], key=lambda s: s.map(order) if s.name == "criterion" else s
    )
    return out.reset_index(drop=True).rename_axis(columns=None)


def _score_label(value: float) -> str:
    """``2.0`` -> ``'2'``; ``2.5`` -> ``'2.5'``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
