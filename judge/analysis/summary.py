"""The headline figures of a run, for the short summary ``judge run`` prints.

No bootstrap here (it must be instant); ``judge report`` gives the intervals.
Figures that do not apply (no labels, one order only, no pairs) are ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from judge.analysis.frame import (
    MEMBER_PREFIX,
    POLICIES,
    Policy,
    build_frame,
    expect_frame,
    member_columns,
    pair_frames,
)
from judge.errors import ConfigError

__all__ = ["build_frame", "run_summary"]

JUDGMENT_STATUSES = ("ok", "unparsed", "error")
"""A judgment's own statuses (``inconsistent`` belongs to pairs under ``both_orders``)."""


def _value(x: Any) -> Any:
    """NaN -> None, numpy scalars -> Python numbers."""
    if x is None:
        return None
    if isinstance(x, float | int) or hasattr(x, "item"):
        number = x.item() if hasattr(x, "item") else x
        if isinstance(number, float) and math.isnan(number):
            return None
        return number
    return x


def member_counts(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Each jury member's ok / unparsed / error counts over the judgments in ``frame``.

    >>> import pandas as pd
    >>> member_counts(pd.DataFrame({"member:a": ["ok", "error", None]}))
    {'a': {'ok': 1, 'unparsed': 0, 'error': 1}}
    """
    out: dict[str, dict[str, int]] = {}
    for column in member_columns(frame):
        values = frame[column]
        if values.notna().any():
            out[column[len(MEMBER_PREFIX) :]] = {
                s: int((values == s).sum()) for s in JUDGMENT_STATUSES
            }
    return out


def run_summary(frame: pd.DataFrame, *, reconcile: str | None = None) -> dict[str, Any]:
    """Headline figures of the judgments in ``frame`` (normally one run).

    Keys: ``n_judgments``, ``n_ok``, ``n_unparsed``, ``n_error``, ``reconcile``,
    ``accuracy`` and ``accuracy_without_tie`` against the labels with ``n_pairs_scored``
    and ``n_pairs_failed`` (pairs without a verdict, scored as wrong), ``kappa``,
    ``accuracy_by_policy`` (policy -> accuracy under every reconcile policy, empty
    without labels), ``position_consistency``, ``flip_rate``, ``first_position_rate``,
    ``p_prefer_longer``, ``p_human_prefer_longer``, ``tokens_in``, ``tokens_out``,
    ``cost`` (what the replies cost), ``billed`` (what was paid: shared replies once),
    ``latency_s``, ``has_pairs`` / ``has_single`` (the items' kinds), ``members`` (a
    jury's ``{member: {"ok", "unparsed", "error"}}``, empty for other judges); for
    single-answer items also ``spearman``, ``kendall``, ``pearson``, ``n_scored``,
    ``aspect``, ``leniency`` and ``scale`` (judge scores on the item's scale where both
    are known).

    >>> from judge.analysis.synthetic import synthetic_frame
    >>> s = run_summary(synthetic_frame(200, seed=0))
    >>> s["n_judgments"], s["reconcile"], 0 < s["accuracy"] < 1
    (400, 'inconsistent_tie', True)
    """
    expect_frame(frame, "judgments", "run_summary")
    from judge.analysis.agreement import agreement_table
    from judge.analysis.bias import (
        first_position_table,
        policy_table,
        position_table,
        prefer_longer_table,
    )
    from judge.analysis.single import leniency_table, score_correlations

    if reconcile is not None and reconcile not in POLICIES:
        raise ConfigError(f"unknown reconcile policy {reconcile!r}")
    policy: Policy | None = reconcile
    status = frame["status"]
    out: dict[str, Any] = {
        "n_judgments": len(frame),
        "n_ok": int((status == "ok").sum()),
        "n_unparsed": int((status == "unparsed").sum()),
        "n_error": int((status == "error").sum()),
        "reconcile": reconcile
        if reconcile is not None
        else ", ".join(sorted(map(str, frame["reconcile"].unique()))) or None,
        "tokens_in": int(frame["tokens_in"].sum()),
        "tokens_out": int(frame["tokens_out"].sum()),
        "cost": float(frame["cost"].sum()),
        "billed": float(frame["billed"].sum()),
        "latency_s": float(frame["latency_s"].sum()),
        "members": member_counts(frame),
    }
    whole = frame.assign(
        run=pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), categories=["all"])
    )
    # the orders are combined once for the run's policy and every other
    combined = pair_frames(whole, [policy, *(p for p in POLICIES if p != policy)])
    pairs = combined[policy]
    out["accuracy_by_policy"] = {}
    if len(pairs) and pairs["label"].notna().any():
        every = {p: combined[p] for p in POLICIES}
        by_policy = policy_table(whole, n_resamples=0, pairs_by_policy=every)
        out["accuracy_by_policy"] = {
            str(row["policy"]): _value(row["accuracy"]) for _, row in by_policy.iterrows()
        }
    if len(pairs):
        agree = agreement_table(pairs, n_resamples=0, alpha=False)
        row = agree.iloc[0] if len(agree) else pd.Series(dtype=object)
        out["accuracy"] = _value(row.get("accuracy"))
        out["accuracy_without_tie"] = _value(row.get("accuracy_without_tie"))
        out["n_pairs_scored"] = int(row.get("n", 0))
        # pairs without a verdict (unparsed or error): scored as wrong by agreement_table
        out["n_pairs_failed"] = int(row.get("n_unparsed", 0)) + int(row.get("n_error", 0))
        out["kappa"] = _value(row.get("kappa"))
        position = position_table(whole, pairs=pairs, n_resamples=0).iloc[0]
        out["position_consistency"] = _value(position["consistency"])
        out["flip_rate"] = _value(position["flip_rate"])
        out["first_position_rate"] = _value(
            first_position_table(whole, n_resamples=0).iloc[0]["p_prefer_first"]
        )
        longer = prefer_longer_table(whole, n_resamples=0).iloc[0]
        out["p_prefer_longer"] = _value(longer["p_prefer_longer"])
        out["p_human_prefer_longer"] = _value(longer["p_human_longer"])
    else:
        for key in (
            "accuracy",
            "accuracy_without_tie",
            "kappa",
            "position_consistency",
            "flip_rate",
            "first_position_rate",
            "p_prefer_longer",
            "p_human_prefer_longer",
        ):
            out[key] = None
        out["n_pairs_scored"] = 0
        out["n_pairs_failed"] = 0
    out["has_pairs"] = bool((frame["kind"] == "pair").any())
    out["has_single"] = bool((frame["kind"] == "single").any())
    if out["has_single"]:
        corr = score_correlations(whole, n_resamples=0)
        lenient = leniency_table(whole, n_resamples=0)
        for method in ("spearman", "kendall", "pearson"):
            out[method] = _value(corr.iloc[0][method]) if len(corr) else None
        out["n_scored"] = int(corr.iloc[0]["n"]) if len(corr) else 0
        out["aspect"] = str(corr.iloc[0]["aspect"]) if len(corr) else None
        out["leniency"] = _value(lenient.iloc[0]["leniency"]) if len(lenient) else None
        out["scale"] = str(lenient.iloc[0]["scale"]) if len(lenient) else None
    return out
