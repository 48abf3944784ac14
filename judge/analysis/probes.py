"""Bias probes: did a perturbation of one side move the judge towards that side?

Inputs are the tidy judgment frame (:func:`judge.analysis.frame.load_frame`) of the
unperturbed and the probe runs, and the probe design (:func:`judge.probes.run.
load_probe_design`: per probe run and item, the targeted side and the unperturbed
run). Each probe judgment is paired with the unperturbed judgment of the same item,
presented order and sample; pairs where either judgment failed (unparsed or error)
are left out of the figures and counted beside them (``n_failed_*``), never read as
a preference.

Per probe:

- ``p_target_before`` / ``p_target_after``: share of paired judgments whose verdict is
  the targeted response (a tie is not), unperturbed and perturbed;
- ``shift``: after minus before, with a paired percentile bootstrap CI that resamples
  items (both orders and every sample of an item stay together);
- ``p_value``: exact two-sided sign test over items whose count of target-preferring
  verdicts changed (up vs down, binomial with p = 1/2; 1.0 when none changed);
- ``flip_to_target`` / ``flip_from_target``: share of paired judgments whose verdict
  was not the target and became it, or was and stopped being it;
- ``accuracy_before`` / ``accuracy_after``: verdict equals the item's label (majority or
  gold; ties count) over paired judgments of labelled items, with bootstrap CIs.
"""

from __future__ import annotations

from typing import Any, Final, Unpack

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from judge.analysis._stats import (
    Bootstrap,
    ci_columns,
    item_units,
    resampled_unit_sums,
    resampling,
    safe_ratio,
)
from judge.analysis.frame import expect_frame
from judge.errors import ConfigError

DESIGN_REQUIRED: Final = ("run", "probe", "perturbation", "baseline_run", "item_id", "target")
FIGURES: Final = ("shift", "p_target_before", "p_target_after", "accuracy_before", "accuracy_after")
"""The figures :func:`probe_table` gives with a CI."""


def _check(frame: pd.DataFrame, design: pd.DataFrame) -> None:
    missing = [c for c in DESIGN_REQUIRED if c not in design]
    if missing:
        raise ConfigError(f"the probe design lacks columns {missing} (see load_probe_design)")
    if "order" not in frame or "policy" in frame.columns:
        raise ConfigError("probe_table takes the judgment frame (load_frame), not a pair frame")


def paired_judgments(frame: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Each probe judgment beside the unperturbed judgment of the same item, order and
    sample: one row per pair, with ``probe``, ``target``, both statuses and verdicts,
    ``label``, and ``ok`` (both judgments ok)."""
    _check(frame, design)
    keys = ["item_id", "swapped", "sample"]
    columns = [*keys, "run", "status", "verdict", "label"]
    judged = frame[columns].assign(
        run=frame["run"].astype(str),
        item_id=frame["item_id"].astype(str),
        status=frame["status"].astype(str),
        verdict=frame["verdict"].astype(object),
        label=frame["label"].astype(object),
    )
    plan = design.dropna(subset=["baseline_run"]).astype({"run": str, "item_id": str})
    plan = plan.assign(order=plan.get("order", "both"))
    probe_rows = judged.merge(plan, on=["run", "item_id"], how="inner")
    wanted = (
        (probe_rows["order"] == "both")
        | ((probe_rows["order"] == "original") & ~probe_rows["swapped"].astype(bool))
        | ((probe_rows["order"] == "swapped") & probe_rows["swapped"].astype(bool))
    )
    probe_rows = probe_rows[wanted.to_numpy()]
    base = judged.drop(columns="label").rename(
        columns={"run": "baseline_run", "status": "status_before", "verdict": "verdict_before"}
    )
    paired = probe_rows.rename(
        columns={"status": "status_after", "verdict": "verdict_after", "run": "probe_run"}
    ).merge(base, on=[*keys, "baseline_run"], how="inner")
    paired["ok"] = (paired["status_before"] == "ok") & (paired["status_after"] == "ok")
    return paired.reset_index(drop=True)


def probe_table(
    frame: pd.DataFrame,
    design: pd.DataFrame,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """One row per probe and unperturbed run: the figures of the module docstring.

    >>> from judge.analysis.synthetic import synthetic_probe_frames
    >>> frame, design = synthetic_probe_frames(60, follow=1.0, seed=0)
    >>> row = probe_table(frame, design, n_resamples=200).iloc[0]
    >>> bool(row["shift"] > 0.5 and row["shift_low"] > 0)
    True
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "probe_table")
    paired = paired_judgments(frame, design)
    rows: list[dict[str, Any]] = []
    # one row per probe and unperturbed run: the same probe of two judges stays apart
    plans = design.astype({"probe": str}).assign(
        baseline_run=design["baseline_run"].astype(object).where(design["baseline_run"].notna(), "")
    )
    for (probe, baseline), plan in plans.groupby(["probe", "baseline_run"], sort=True):
        part = paired[(paired["probe"] == probe) & (paired["baseline_run"] == baseline)]
        row: dict[str, Any] = {
            "probe": probe,
            "perturbation": ", ".join(sorted(map(str, plan["perturbation"].unique()))),
            "baseline_run": baseline or None,
            "runs": ", ".join(sorted(map(str, plan["run"].unique()))),
            "n_items": int(part["item_id"].nunique()),
            "n_judgments": len(part),
        }
        rows.append({**row, **_figures(part, n_resamples, confidence, seed)})
    return pd.DataFrame(rows)


def _figures(part: pd.DataFrame, n_resamples: int, confidence: float, seed: int) -> dict[str, Any]:
    ok = part[part["ok"].to_numpy()]
    target = ok["target"].to_numpy(dtype=object)
    before = ok["verdict_before"].to_numpy(dtype=object)
    after = ok["verdict_after"].to_numpy(dtype=object)
    label = ok["label"].to_numpy(dtype=object)
    y0 = (before == target).astype(np.float64)
    y1 = (after == target).astype(np.float64)
    labelled = np.array([v in ("A", "B", "tie") for v in label], dtype=np.float64)
    correct0 = ((before == label) & (labelled > 0)).astype(np.float64)
    correct1 = ((after == label) & (labelled > 0)).astype(np.float64)
    features = np.stack(
        [
            y0,
            y1,
            np.ones(len(ok)),
            correct0,
            correct1,
            labelled,
            y1 * (1 - y0),
            y0 * (1 - y1),
        ],
        axis=1,
    ).reshape(len(ok), 8)
    sums = features.sum(axis=0)
    unit, n_units = item_units(ok["item_id"].to_numpy())
    boot = resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)

    def ratio(num: int, den: int, s: np.ndarray) -> np.ndarray:
        return safe_ratio(s[..., num], s[..., den])

    out: dict[str, Any] = {
        "n_paired": len(ok),
        "n_failed_before": int((part["status_before"] != "ok").sum()),
        "n_failed_after": int((part["status_after"] != "ok").sum()),
    }
    for name, num, den in (("p_target_before", 0, 2), ("p_target_after", 1, 2)):
        point = float(ratio(num, den, sums))
        ci_columns(out, name, point, None if boot is None else ratio(num, den, boot), confidence)
    shift = float(ratio(1, 2, sums) - ratio(0, 2, sums))
    samples = None if boot is None else ratio(1, 2, boot) - ratio(0, 2, boot)
    ci_columns(out, "shift", shift, samples, confidence)
    out["flip_to_target"] = float(ratio(6, 2, sums))
    out["flip_from_target"] = float(ratio(7, 2, sums))
    per_item = pd.Series(y1 - y0).groupby(unit).sum() if len(ok) else pd.Series(dtype=float)
    up, down = int((per_item > 0).sum()), int((per_item < 0).sum())
    out["n_items_up"], out["n_items_down"] = up, down
    out["p_value"] = float(binomtest(up, up + down, 0.5).pvalue) if up + down else 1.0
    out["n_labelled"] = int(sums[5])
    for name, num in (("accuracy_before", 3), ("accuracy_after", 4)):
        point = float(ratio(num, 5, sums))
        ci_columns(out, name, point, None if boot is None else ratio(num, 5, boot), confidence)
    return out
