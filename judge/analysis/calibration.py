"""Calibration of probability verdicts against the labels.

A judge that reports verdict probabilities (``p_a``, ``p_b``, ``p_tie``) makes a
forecast; the item's label (majority or gold, a tie included) is the outcome. Rows
without probabilities, failed judgments and unlabelled items are left out and counted
(``n_without``). Figures, per run and level:

- ``brier``: the multi-class Brier score (Brier 1950), the mean over forecasts of
  ``sum_k (p_k - 1[label = k])^2`` over the verdicts A, B, tie (0 is perfect, 2 worst);
- ``ece``: expected calibration error of the top-label confidence (Guo et al. 2017):
  confidence = the largest verdict probability, correct = the label has that
  probability; forecasts are binned by confidence into ``n_bins`` equal-width bins
  (right-closed, as :func:`sklearn.calibration.calibration_curve` bins them) and
  ``ece = sum_b n_b / n * |accuracy_b - confidence_b|``;
- ``confidence`` / ``accuracy``: the means the ECE compares.

Levels: ``judgment`` (every order and sample separately), ``first_order`` (the
original order's forecast only) and ``average_probabilities`` (the mean of the two
orders' forecasts, as that reconcile policy combines them; a pair whose orders did
not both succeed is left out). ``inconsistent_tie`` makes no probability and has no
row. Bootstrap CIs resample items.
"""

from __future__ import annotations

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
from judge.analysis.frame import expect_choice, pair_frame, rows_of_kind
from judge.errors import ConfigError

Level = Literal["judgment", "first_order", "average_probabilities"]
LEVELS: Final[tuple[Level, ...]] = ("judgment", "first_order", "average_probabilities")
_PROBS: Final = ("p_a", "p_b", "p_tie")
_CODES: Final = {"A": 0, "B": 1, "tie": 2}


def bin_edges(n_bins: int) -> np.ndarray:
    """Equal-width confidence bins on [0, 1].

    >>> bin_edges(4).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return np.linspace(0.0, 1.0, n_bins + 1)


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """The bin of each confidence: right-closed bins, 0 in the first (sklearn's rule).

    >>> bin_index(np.array([0.0, 0.25, 0.26, 1.0]), 4).tolist()
    [0, 0, 1, 3]
    """
    return np.searchsorted(bin_edges(n_bins)[1:-1], confidence)


def forecasts(frame: pd.DataFrame, level: Level) -> pd.DataFrame:
    """The forecasts of one level: ``run``, ``item_id``, ``p_a``, ``p_b``, ``p_tie``,
    ``label``, and ``usable`` (ok, probabilities present, labelled)."""
    if "order" not in frame:
        raise ConfigError("calibration takes the judgment frame (load_frame), not a pair frame")
    expect_choice(level, LEVELS, "level", "calibration")
    pairs = rows_of_kind(frame, "pair")
    if level == "judgment":
        rows = pairs
    elif level == "first_order":
        rows = pairs[(pairs["order"] == "original").to_numpy()]
    else:
        rows = pair_frame(pairs, "average_probabilities")
        rows = rows[(rows["n_orders"] == 2).to_numpy()]
    out = pd.DataFrame(
        {
            "run": rows["run"].astype(str).to_numpy(),
            "item_id": rows["item_id"].astype(str).to_numpy(),
            "p_a": rows["p_a"].to_numpy(dtype=np.float64),
            "p_b": rows["p_b"].to_numpy(dtype=np.float64),
            "p_tie": np.nan_to_num(rows["p_tie"].to_numpy(dtype=np.float64)),
            "label": rows["label"].astype(object).to_numpy(),
            "ok": (rows["status"] == "ok").to_numpy(),
        }
    )
    has_probs = ~(np.isnan(out["p_a"]) | np.isnan(out["p_b"]))
    out["usable"] = out["ok"] & has_probs & out["label"].isin(list(_CODES))
    return out.drop(columns="ok")


def _per_forecast(usable: pd.DataFrame, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-forecast additive features: [1, brier, conf, correct] and per-bin
    [count, sum conf, sum correct] flattened after them."""
    probs = usable[list(_PROBS)].to_numpy(dtype=np.float64)
    onehot = np.zeros_like(probs)
    codes = usable["label"].map(_CODES).to_numpy(dtype=np.int64)
    onehot[np.arange(len(codes)), codes] = 1.0
    brier = ((probs - onehot) ** 2).sum(axis=1)
    confidence = probs.max(axis=1)
    correct = np.isclose(probs[np.arange(len(codes)), codes], confidence).astype(np.float64)
    bins = bin_index(confidence, n_bins)
    per_bin = np.zeros((len(codes), n_bins, 3))
    per_bin[np.arange(len(codes)), bins] = np.stack(
        [np.ones(len(codes)), confidence, correct], axis=1
    )
    head = np.stack([np.ones(len(codes)), brier, confidence, correct], axis=1)
    return np.concatenate([head, per_bin.reshape(len(codes), -1)], axis=1), bins


def _ece(sums: np.ndarray, n_bins: int) -> np.ndarray:
    per_bin = sums[..., 4:].reshape(*sums.shape[:-1], n_bins, 3)
    gap = np.abs(per_bin[..., 2] - per_bin[..., 1]).sum(axis=-1)
    return safe_ratio(gap, sums[..., 0])


def calibration_table(
    frame: pd.DataFrame,
    *,
    n_bins: int = 10,
    levels: tuple[Level, ...] = LEVELS,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """ECE, Brier score, mean confidence and accuracy per run and level (module docstring).

    Runs without any usable forecast have no row.

    >>> from judge.analysis.synthetic import synthetic_frame
    >>> table = calibration_table(synthetic_frame(200, seed=0), n_resamples=0)
    >>> table[["level", "n"]].values.tolist()[0]
    ['judgment', 373]
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    rows: list[dict[str, Any]] = []
    for level in levels:
        cast = forecasts(frame, level)
        for run, part in cast.groupby("run", sort=True):
            usable = part[part["usable"].to_numpy()]
            if usable.empty:
                continue
            features, _ = _per_forecast(usable, n_bins)
            unit, n_units = item_units(usable["item_id"].to_numpy())
            boot = resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)
            sums = features.sum(axis=0)
            row: dict[str, Any] = {
                "run": run,
                "level": level,
                "n": len(usable),
                "n_without": int(len(part) - len(usable)),
            }
            ci_columns(
                row,
                "ece",
                float(_ece(sums, n_bins)),
                None if boot is None else _ece(boot, n_bins),
                confidence,
            )
            for name, column in (("brier", 1), ("confidence", 2), ("accuracy", 3)):
                point = float(sums[column] / sums[0])
                samples = None if boot is None else safe_ratio(boot[:, column], boot[:, 0])
                ci_columns(row, name, point, samples, confidence)
            rows.append(row)
    return pd.DataFrame(rows)


def reliability_table(
    frame: pd.DataFrame, *, n_bins: int = 10, levels: tuple[Level, ...] = LEVELS
) -> pd.DataFrame:
    """The reliability diagram's points: per run, level and non-empty confidence bin, the
    bin edges, ``n``, mean ``confidence`` and ``accuracy`` (the values
    :func:`sklearn.calibration.calibration_curve` gives as ``prob_pred`` and
    ``prob_true`` for the top-label forecast)."""
    rows: list[dict[str, Any]] = []
    edges = bin_edges(n_bins)
    for level in levels:
        cast = forecasts(frame, level)
        for run, part in cast.groupby("run", sort=True):
            usable = part[part["usable"].to_numpy()]
            if usable.empty:
                continue
            features, bins = _per_forecast(usable, n_bins)
            for b in np.unique(bins):
                inside = bins == b
                rows.append(
                    {
                        "run": run,
                        "level": level,
                        "bin": int(b),
                        "bin_low": float(edges[b]),
                        "bin_high": float(edges[b + 1]),
                        "n": int(inside.sum()),
                        "confidence": float(features[inside, 2].mean()),
                        "accuracy": float(features[inside, 3].mean()),
                    }
                )
    return pd.DataFrame(rows)
