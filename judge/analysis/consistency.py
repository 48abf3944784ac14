"""Self-consistency across samples: does the judge give the same verdict when asked again?

With ``--samples K`` (and a temperature above 0) every request is judged K times.
Per run and level, over the units whose K samples all succeeded (units with a failed
sample are left out and counted in ``n_incomplete``):

- ``consistency``: the share of units whose K verdicts are all the same;
- ``entropy``: the mean Shannon entropy, in bits, of each unit's K verdicts
  (:func:`scipy.stats.entropy` of the verdict counts; 0 when all agree, at most
  log2(3) = 1.585 over A / B / tie).

Levels: ``judgment`` (a unit is an item in one presented order: the same request
sampled K times) and ``pair`` (a unit is an item: its pair verdicts, the orders
combined by the run's reconcile policy, across the K samples). Runs with one sample
have no row. Bootstrap CIs resample items.
"""

from __future__ import annotations

from typing import Any, Final, Literal, Unpack

import numpy as np
import pandas as pd
from scipy.stats import entropy

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

Level = Literal["judgment", "pair"]
LEVELS: Final[tuple[Level, ...]] = ("judgment", "pair")


def sample_units(frame: pd.DataFrame, level: Level) -> pd.DataFrame:
    """One row per run and unit: ``run``, ``item_id``, ``order`` (judgment level),
    ``k`` (samples of the run), ``complete`` (all K samples ok), the counts of A, B
    and tie verdicts, ``consistent`` and ``entropy`` (NaN unless complete)."""
    if "order" not in frame:
        raise ConfigError("consistency takes the judgment frame (load_frame), not a pair frame")
    expect_choice(level, LEVELS, "level", "consistency")
    pairs = rows_of_kind(frame, "pair")
    if level == "judgment":
        rows = pairs.assign(order=pairs["order"].astype(str))
        unit = ["run", "item_id", "order"]
    else:
        rows = pair_frame(pairs)
        unit = ["run", "item_id"]
    work = pd.DataFrame(
        {
            **{c: rows[c].astype(str).to_numpy() for c in unit},
            "sample": rows["sample"].to_numpy(dtype=np.int64),
            "ok": (rows["status"] == "ok").to_numpy(),
            "verdict": rows["verdict"].astype(object).to_numpy(),
        }
    )
    k = work.groupby("run")["sample"].transform("max") + 1
    work["k"] = k.to_numpy()
    for verdict in ("A", "B", "tie"):
        work[verdict] = (work["ok"] & (work["verdict"] == verdict)).astype(np.int64)
    grouped = work.groupby(unit, sort=True).agg(
        k=("k", "first"), n_ok=("ok", "sum"), A=("A", "sum"), B=("B", "sum"), tie=("tie", "sum")
    )
    out = grouped.reset_index()
    out["complete"] = out["n_ok"] == out["k"]
    counts = out[["A", "B", "tie"]].to_numpy(dtype=np.float64)
    out["consistent"] = np.where(out["complete"], (counts.max(axis=1) == out["k"]) * 1.0, np.nan)
    bits = entropy(counts.T, base=2) if len(out) else np.zeros(0)
    out["entropy"] = np.where(out["complete"], bits, np.nan)
    return out.drop(columns="n_ok")


def consistency_table(
    frame: pd.DataFrame,
    *,
    levels: tuple[Level, ...] = LEVELS,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Self-consistency and verdict entropy per run and level (module docstring).

    >>> from judge.analysis.synthetic import synthetic_frame
    >>> table = consistency_table(synthetic_frame(100, samples=3, seed=0), n_resamples=0)
    >>> table[["level", "samples"]].values.tolist()
    [['judgment', 3], ['pair', 3]]
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    rows: list[dict[str, Any]] = []
    for level in levels:
        units = sample_units(frame, level)
        for run, part in units.groupby("run", sort=True):
            k = int(part["k"].iloc[0])
            if k < 2:
                continue
            done = part[part["complete"].to_numpy()]
            features = np.stack(
                [np.ones(len(done)), done["consistent"].to_numpy(), done["entropy"].to_numpy()],
                axis=1,
            ).reshape(len(done), 3)
            unit, n_units = item_units(done["item_id"].to_numpy())
            boot = resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)
            sums = features.sum(axis=0)
            row: dict[str, Any] = {
                "run": run,
                "level": level,
                "samples": k,
                "n": len(done),
                "n_incomplete": int(len(part) - len(done)),
            }
            for name, column in (("consistency", 1), ("entropy", 2)):
                point = float(safe_ratio(sums[column], sums[0]))
                samples = None if boot is None else safe_ratio(boot[:, column], boot[:, 0])
                ci_columns(row, name, point, samples, confidence)
            rows.append(row)
    return pd.DataFrame(rows)
