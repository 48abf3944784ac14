"""Can the judge be trusted on this data? One verdict per run, from the figures that decide it.

:func:`trust_table` gathers, per run, the four figures the report's verdict card shows,
each with its bootstrap interval: agreement with the human majority (or gold) label and
Cohen's kappa beside the human baseline (each annotator against the others, computed
the same way), position consistency, the length-preference excess over the humans on
the same pairs, and the failure rate (unparsed or errored judgments).
:func:`rate` turns them into ``trust`` / ``caution`` / ``distrust`` and one sentence,
by the thresholds below (stated here and in ``docs/analysis.md``; they are judgement
calls, not statistics, so the figures always stand beside the verdict):

- **distrust** when kappa's upper bound is below :data:`KAPPA_FLOOR` (no better than
  slight agreement), consistency is below :data:`CONSISTENCY_FLOOR`, or more than
  :data:`FAILURE_CEILING` of judgments fail;
- **caution** when kappa's upper bound is below the humans' lower bound (it agrees with
  humans less than they agree with each other), or, without a human baseline, kappa is
  below :data:`KAPPA_GOOD`; when consistency is below :data:`CONSISTENCY_GOOD`; when
  the length excess is at least :data:`EXCESS_MARGIN` with an interval that excludes 0;
  when more than :data:`FAILURE_GOOD` of judgments fail; or when agreement or
  consistency could not be measured (no labels, one order only, or an import that did
  not record the order shown);
- **trust** otherwise.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, Unpack

import numpy as np
import pandas as pd

from judge.analysis._stats import (
    Bootstrap,
    ci_columns,
    item_units,
    resampled_unit_sums,
    resampling,
    safe_ratio,
)
from judge.analysis.agreement import Failures, agreement_table, leave_one_out_table
from judge.analysis.bias import position_table, prefer_longer_table
from judge.analysis.frame import expect_frame, pair_frame, rows_of_kind

Rating = Literal["trust", "caution", "distrust"]


def landis_koch(kappa: float) -> str:
    """Landis and Koch's word for a kappa: poor (below 0), slight, fair, moderate,
    substantial, almost perfect (from 0.8).

    >>> [landis_koch(k) for k in (-0.1, 0.09, 0.3, 0.5, 0.7, 0.9)]
    ['poor', 'slight', 'fair', 'moderate', 'substantial', 'almost perfect']
    """
    bands = ((0.0, "poor"), (0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial"))
    return next((word for top, word in bands if kappa < top), "almost perfect")


KAPPA_FLOOR: Final = 0.2
"""Kappa at or below 0.2 is at best "slight" agreement (Landis and Koch)."""
KAPPA_GOOD: Final = 0.6
"""Without a human baseline, kappa from 0.6 is "substantial" agreement (Landis and Koch)."""
CONSISTENCY_FLOOR: Final = 0.6
"""Below this, the verdict follows the order of the responses as often as their content."""
CONSISTENCY_GOOD: Final = 0.8
"""From this share of pairs keeping their verdict across orders, position bias is minor."""
FAILURE_CEILING: Final = 0.10
"""More than this share of unparsed or errored judgments: the figures describe a subset."""
FAILURE_GOOD: Final = 0.02
"""Up to this share of failures is noise."""
EXCESS_MARGIN: Final = 0.10
"""A length preference this much above (or below) the humans' on the same pairs."""

FIGURES: Final[tuple[str, ...]] = (
    "accuracy",
    "kappa",
    "judge_loo_kappa",
    "human_kappa",
    "human_accuracy",
    "consistency",
    "excess",
    "failure_rate",
)
"""The figures of :func:`trust_table` that carry ``_low`` / ``_high`` bounds."""


def _value(row: Any, name: str) -> float:
    value = row.get(name) if isinstance(row, dict) else getattr(row, name, float("nan"))
    return float("nan") if value is None or pd.isna(value) else float(value)


def rate(row: Any) -> tuple[Rating, str]:
    """The rating and its sentence for one row of :func:`trust_table`.

    >>> rating, sentence = rate({"labelled": True, "baseline": "gold", "kappa": 0.1,
    ...     "kappa_high": 0.15, "consistency": 0.95, "failure_rate": 0.0, "excess": 0.0})
    >>> rating, sentence.split(": ")[1]
    ('distrust', 'agrees with the labels barely better than chance (kappa 0.10).')
    >>> rate({"labelled": True, "baseline": "gold", "kappa": 0.0, "kappa_high": 0.0,
    ...       "consistency": 0.95, "failure_rate": 0.0, "excess": 0.0})[1].split(": ")[1]
    'agrees with the labels no better than chance (kappa 0.00).'
    >>> rate({"labelled": True, "baseline": "gold", "kappa": 0.8, "kappa_high": 0.9,
    ...       "consistency": 0.9, "failure_rate": 0.0, "excess": 0.01})[0]
    'trust'
    >>> rate({"labelled": True, "baseline": "gold", "kappa": 0.8, "kappa_high": 0.9,
    ...       "consistency": 0.9, "failure_rate": 0.0, "excess": -0.5, "excess_low": -0.6,
    ...       "excess_high": -0.4})[1].split(": ")[1]
    'prefers the shorter response 50 percentage points more often than the labels do.'
    >>> rate({"labelled": True, "baseline": "gold", "kappa": 0.09, "kappa_high": 0.35,
    ...       "consistency": 0.9, "failure_rate": 0.0})[1]
    'Use with caution on this data: only slight agreement with the labels (kappa 0.09, up to 0.35).'
    """
    severe: list[str] = []
    mild: list[str] = []
    labels = "the labels" if row_get(row, "baseline") == "gold" else "humans"
    kappa, kappa_high = _value(row, "kappa"), _value(row, "kappa_high")
    if not row_get(row, "labelled"):
        mild.append("no human labels, so agreement is not measured")
    elif math.isnan(kappa):
        mild.append("kappa is undefined on these labels")
    elif (kappa_high if not math.isnan(kappa_high) else kappa) < KAPPA_FLOOR:
        chance = "no better" if kappa <= 0.005 else "barely better"
        severe.append(f"agrees with {labels} {chance} than chance (kappa {kappa:.2f})")
    elif row_get(row, "baseline") == "humans":
        judge_high = _value(row, "judge_loo_kappa_high")
        judge = _value(row, "judge_loo_kappa")
        human_low, human = _value(row, "human_kappa_low"), _value(row, "human_kappa")
        bound = judge_high if not math.isnan(judge_high) else judge
        floor = human_low if not math.isnan(human_low) else human
        if not math.isnan(bound) and not math.isnan(floor) and bound < floor:
            mild.append(
                f"agrees with humans less than they agree with each other "
                f"(kappa {judge:.2f} vs {human:.2f}, each against the other annotators)"
            )
    elif kappa < KAPPA_GOOD:
        interval = "" if math.isnan(kappa_high) else f", up to {kappa_high:.2f}"
        mild.append(
            f"only {landis_koch(kappa)} agreement with {labels} (kappa {kappa:.2f}{interval})"
        )
    consistency = _value(row, "consistency")
    if row_get(row, "order_unknown"):
        mild.append("position bias is not measured (the order shown was not recorded)")
    elif math.isnan(consistency):
        mild.append("position bias is not measured (judged in one order only)")
    elif consistency < CONSISTENCY_FLOOR:
        severe.append(
            f"keeps its verdict in only {consistency:.0%} of pairs when the order is swapped"
        )
    elif consistency < CONSISTENCY_GOOD:
        mild.append(
            f"changes its verdict in {1 - consistency:.0%} of pairs when the order is swapped"
        )
    excess = _value(row, "excess")
    low, high = _value(row, "excess_low"), _value(row, "excess_high")
    excludes_zero = (not math.isnan(low) and low > 0) or (not math.isnan(high) and high < 0)
    if not math.isnan(excess) and abs(excess) >= EXCESS_MARGIN and excludes_zero:
        side = "longer" if excess > 0 else "shorter"
        # a difference of two proportions: percentage points, not percent
        points = 100 * abs(excess)
        mild.append(
            f"prefers the {side} response {points:.0f} percentage points more often "
            f"than {labels} do"
        )
    failure = _value(row, "failure_rate")
    if not math.isnan(failure):
        if failure > FAILURE_CEILING:
            severe.append(f"{failure:.0%} of its judgments are unparsed or errors")
        elif failure > FAILURE_GOOD:
            mild.append(f"{failure:.1%} of its judgments are unparsed or errors")
    if severe:
        return "distrust", "Not trustworthy on this data: " + "; ".join(severe + mild) + "."
    if mild:
        return "caution", "Use with caution on this data: " + "; ".join(mild) + "."
    return "trust", (
        f"Trustworthy on this data: agrees with {labels} "
        + ("about as well as they agree with each other" if labels == "humans" else "well")
        + ", keeps its verdict when the order is swapped, and rarely fails."
    )


def row_get(row: Any, name: str) -> Any:
    """``row[name]`` for a dict or a namedtuple row, None when absent."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def _failure_rates(
    frame: pd.DataFrame, n_resamples: int, confidence: float, seed: int
) -> pd.DataFrame:
    rows = []
    for run, group in frame.groupby("run", observed=True, sort=True):
        failed = (group["status"] != "ok").to_numpy(dtype=float)
        features = np.stack([failed, np.ones_like(failed)], axis=1)
        unit, n_units = item_units(group["item_id"].to_numpy())
        sums = resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)
        row: dict[str, Any] = {"run": run, "n_judgments": len(group), "n_failed": int(failed.sum())}
        ci_columns(
            row,
            "failure_rate",
            float(safe_ratio(np.array([failed.sum()]), np.array([float(len(failed))]))[0]),
            None if sums is None else safe_ratio(sums[:, 0], sums[:, 1]),
            confidence,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def trust_table(
    frame: pd.DataFrame,
    *,
    pairs: pd.DataFrame | None = None,
    failures: Failures = "wrong",
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """One row per run of pair judgments: the deciding figures with bounds, and the rating.

    Columns: ``run``, ``judge``, ``benchmark``, ``n_pairs``, ``labelled`` (any labelled
    pair), ``baseline`` (``humans`` where the benchmark has several annotators, ``gold``
    for one label, None without labels), ``accuracy`` and ``kappa`` against the majority
    or gold label; ``judge_loo_kappa``, ``human_kappa`` and ``human_accuracy``: the judge
    and the humans against each annotator's leave-one-out reference (the comparable
    pair); ``consistency`` with ``n_both_ok`` (NaN when judged in one order, or when
    ``order_unknown``: the run did not record the order shown); ``excess`` (P(judge
    prefers longer) minus the humans' on the same pairs) with ``n_same``;
    ``failure_rate`` with ``n_failed`` and ``n_judgments``; ``order_unknown``; each
    figure with ``_low`` / ``_high``; then ``rating`` and
    ``sentence`` (:func:`rate`).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "trust_table")
    judgments = rows_of_kind(frame, "pair")
    if pairs is None:
        pairs = pair_frame(frame)
    if judgments.empty or pairs.empty:
        return pd.DataFrame()
    opts: dict[str, Any] = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    agree = agreement_table(pairs, failures=failures, alpha=False, **opts)
    table = agree[
        [
            "run",
            "judge",
            "n_pairs",
            "n",
            *(f"{f}{s}" for f in ("accuracy", "kappa") for s in ("", "_low", "_high")),
        ]
    ].copy()
    table["benchmark"] = [
        ", ".join(map(str, pairs.loc[pairs["run"] == r, "benchmark"].unique()))
        for r in table["run"]
    ]
    table["labelled"] = table["n"] > 0
    annotators = pairs.groupby("run", observed=True)["n_annotators"].max()
    table["baseline"] = [
        None if not labelled else "humans" if annotators.get(r, 0) >= 2 else "gold"
        for r, labelled in zip(table["run"], table["labelled"], strict=True)
    ]
    loo = leave_one_out_table(pairs, failures=failures, **opts)
    for prefix, source in (("judge_loo_", "judge"), ("human_", "humans")):
        for figure in ("kappa", "accuracy"):
            for suffix in ("", "_low", "_high"):
                values = []
                for run, bench in zip(table["run"], table["benchmark"], strict=True):
                    hit = pd.DataFrame()
                    if len(loo):
                        hit = loo[(loo["kind"] == source) & (loo["benchmark"] == bench)]
                        if source == "judge":
                            hit = hit[hit["run"] == run]
                    values.append(float(hit[figure + suffix].iloc[0]) if len(hit) else np.nan)
                table[f"{prefix}{figure}{suffix}"] = values
    table = table.drop(columns=[c for c in table if c.startswith("judge_loo_accuracy")])
    position = position_table(frame, pairs=pairs, **opts)[
        ["run", "n_both_ok", "consistency", "consistency_low", "consistency_high"]
    ]
    # a run judged in one order has no consistency (not 0)
    position.loc[
        position["n_both_ok"] == 0, ["consistency", "consistency_low", "consistency_high"]
    ] = np.nan
    longer = prefer_longer_table(frame, **opts)[
        ["run", "n_same", "excess", "excess_low", "excess_high"]
    ]
    fails = _failure_rates(judgments, n_resamples, confidence, seed)
    for extra in (position, longer, fails):
        table = table.merge(extra, on="run", how="left")
    unknown = judgments.groupby("run", observed=True)["order_unknown"].all()
    unknown_runs = {str(run) for run, flag in unknown.items() if flag}
    table["order_unknown"] = [str(run) in unknown_runs for run in table["run"]]
    ratings = [rate(row) for row in table.to_dict("records")]
    table["rating"] = [r for r, _ in ratings]
    table["sentence"] = [s for _, s in ratings]
    return table.reset_index(drop=True)
