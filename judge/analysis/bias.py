"""Position bias and length bias, beside the humans' own preferences.

Position (needs both orders of a pair): *consistency* is the share of pairs, both
orders ok, whose canonical verdict is the same in both orders; the *flip rate* is
the share whose verdict swaps between A and B outright (the judge followed the
position); *kappa between orders* is Cohen's kappa of the two canonical verdicts; the
*first-position rate* is the share of ok, non-tie judgments that pick the response
shown first (0.5 is unbiased). Each is broken down by the length gap of the pair and
by its quality gap, and the reconcile policies are compared.

Length: P(judge prefers the longer response) over its ok, non-tie judgments of
unequal-length pairs, and on the *same* judgments whose human label is not a tie,
P(humans prefer the longer) and the excess between them; a logistic regression of
judge-human disagreement on the length advantage of the human-preferred response.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Unpack

import numpy as np
import pandas as pd

from judge.analysis._pairs import (
    _groups,
    _status_counts,
    _unique_items,
    _vote_counts,
)
from judge.analysis._stats import (
    Bootstrap,
    bootstrap_sums,
    ci_columns,
    item_units,
    kappa_from_confusion,
    kappa_weights,
    resampled_unit_sums,
    resampling,
    safe_ratio,
)
from judge.analysis.agreement import Failures, agreement_table, cohen_kappa
from judge.analysis.frame import (
    CODE_A,
    CODE_B,
    POLICIES,
    expect_choice,
    expect_columns,
    expect_frame,
    pair_frame,
    pair_frames,
    rows_of_kind,
    verdict_codes,
)

NAN: Final = float("nan")
LENGTH_GAP_EDGES: Final[tuple[float, ...]] = (0, 1, 25, 100, 300, float("inf"))
"""Bins of ``|len_a - len_b|`` in characters: 0, 1-24, 25-99, 100-299, 300+."""
PROBABILITY_GAP_EDGES: Final[tuple[float, ...]] = (0, 0.1, 0.3, 0.6, 1.0000001)
"""Bins of the swap-averaged ``|P(A) - P(B)|``."""


def _ratio_columns(
    row: dict[str, Any],
    name: str,
    totals: np.ndarray,
    sums: np.ndarray | None,
    numerator: int,
    denominator: int,
    confidence: float,
) -> None:
    """``row[name]``: feature ``numerator`` over feature ``denominator`` of the ``totals``,
    with bounds from the same ratio of the resampled ``sums`` (resamples x features)."""
    ci_columns(
        row,
        name,
        float(safe_ratio(totals[numerator], totals[denominator])),
        None if sums is None else safe_ratio(sums[:, numerator], sums[:, denominator]),
        confidence,
    )


def _resampled(
    group: pd.DataFrame, features: np.ndarray, n_resamples: int, seed: int
) -> np.ndarray | None:
    """Per-item sums of ``features`` (rows x d), resampled over items; None without resamples."""
    unit, n_units = item_units(group["item_id"].to_numpy())
    return resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)


# -- position -------------------------------------------------------------------------


def first_position_table(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """P(judge picks the response shown first) over ok, non-tie judgments, per group.

    Columns: group keys, ``n_judgments``, ``n_ok``, ``n_unparsed``, ``n_error``,
    ``n_decided`` (ok, not a tie, and shown in a known order), ``tie_rate`` (of ok),
    ``p_prefer_first`` and bounds. Judgments whose presentation order was not recorded
    (the frame's ``order_unknown``: AlpacaEval imports) have no side shown first: they
    are not in ``n_decided``, so a run of them only has ``p_prefer_first`` NaN.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "first_position_table")
    judged = rows_of_kind(frame, "pair")
    rows = []
    for keys, group in _groups(judged, expect_columns(judged, by, "first_position_table")):
        shown = group["verdict_shown"]  # missing where the order shown is unknown
        first = (shown == "first").to_numpy(dtype=np.float64)
        decided = shown.isin(["first", "second"]).to_numpy(dtype=np.float64)
        ok = (group["status"] == "ok").to_numpy(dtype=np.float64)
        tie = (ok > 0) & (group["verdict"] == "tie").to_numpy()
        counts = _status_counts(group)
        row: dict[str, Any] = {**keys, "n_judgments": counts.pop("n_pairs"), **counts}
        row["n_decided"] = int(decided.sum())
        row["tie_rate"] = float(safe_ratio(tie.sum(), ok.sum()))
        features = np.stack([first, decided], axis=1)
        sums = _resampled(group, features, n_resamples, seed)
        _ratio_columns(row, "p_prefer_first", features.sum(axis=0), sums, 0, 1, confidence)
        rows.append(row)
    return pd.DataFrame(rows)


def _order_features(pairs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per pair row: indicators behind consistency, flips and the first-position rate.

    A pair whose presentation order was not recorded (``order_unknown``) has none: which
    verdict followed which position is not known.
    """
    v_orig = verdict_codes(pairs["verdict_original"]).astype(np.int64)
    v_swap = verdict_codes(pairs["verdict_swapped"]).astype(np.int64)
    if "order_unknown" in pairs:
        unknown = pairs["order_unknown"].to_numpy(dtype=bool)
        v_orig = np.where(unknown, -1, v_orig)
        v_swap = np.where(unknown, -1, v_swap)
    both = (v_orig >= 0) & (v_swap >= 0)
    flip = both & (
        ((v_orig == CODE_A) & (v_swap == CODE_B)) | ((v_orig == CODE_B) & (v_swap == CODE_A))
    )
    # shown first: A in the original order, B in the swapped order
    first = (v_orig == CODE_A).astype(float) + (v_swap == CODE_B).astype(float)
    decided = np.isin(v_orig, (CODE_A, CODE_B)).astype(float) + np.isin(
        v_swap, (CODE_A, CODE_B)
    ).astype(float)
    confusion = np.zeros((len(pairs), 9))
    idx = np.flatnonzero(both)
    confusion[idx, v_orig[idx] * 3 + v_swap[idx]] = 1.0
    return {
        "v_orig": v_orig,
        "v_swap": v_swap,
        "both": both.astype(float),
        "same": (both & (v_orig == v_swap)).astype(float),
        "flip": flip.astype(float),
        "first": first,
        "decided": decided,
        "confusion": confusion,
    }


def _position_row(
    keys: dict[str, Any], group: pd.DataFrame, n_resamples: int, confidence: float, seed: int
) -> dict[str, Any]:
    f = _order_features(group)
    both = f["both"].astype(bool)
    row: dict[str, Any] = {**keys}
    row["n_pairs"] = len(group)
    row["n_both_orders"] = int((group["n_orders"] == 2).sum())
    row["n_both_ok"] = int(both.sum())
    row["n_failed_orders"] = int(
        ((group["status_original"].notna()) & (group["status_original"] != "ok")).sum()
        + ((group["status_swapped"].notna()) & (group["status_swapped"] != "ok")).sum()
    )
    features = np.concatenate(
        [
            np.stack([f["both"], f["same"], f["flip"], f["first"], f["decided"]], axis=1),
            f["confusion"],
        ],
        axis=1,
    )
    sums = _resampled(group, features, n_resamples, seed)
    total = features.sum(axis=0)
    _ratio_columns(row, "consistency", total, sums, 1, 0, confidence)
    _ratio_columns(row, "flip_rate", total, sums, 2, 0, confidence)
    _ratio_columns(row, "p_prefer_first", total, sums, 3, 4, confidence)
    kappa = cohen_kappa(f["v_orig"][both], f["v_swap"][both], labels=[0, 1, 2])
    ci_columns(
        row,
        "kappa_orders",
        kappa,
        None
        if sums is None
        else kappa_from_confusion(sums[:, 5:].reshape(-1, 3, 3), kappa_weights(3, None)),
        confidence,
    )
    return row


def position_table(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    pairs: pd.DataFrame | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Consistency across orders, flip rate, kappa between orders and first-position rate.

    Columns: group keys, ``n_pairs``, ``n_both_orders`` (both judged), ``n_both_ok``
    (both ok: the base of consistency, flips and kappa), ``n_failed_orders`` (unparsed
    or error judgments), ``consistency``, ``flip_rate``, ``kappa_orders``,
    ``p_prefer_first`` (over every ok non-tie judgment), each with bounds. Pairs whose
    presentation order was not recorded (``order_unknown``) count in ``n_pairs`` and in
    no figure: a run of them only has NaN consistency and first-position rate.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "position_table")
    if pairs is None:
        pairs = pair_frame(frame)
    by = expect_columns(pairs, by, "position_table")
    return pd.DataFrame(
        [
            _position_row(keys, group, n_resamples, confidence, seed)
            for keys, group in _groups(pairs, by)
        ]
    )


def length_gap_bins(pairs: pd.DataFrame, edges: Sequence[float] = LENGTH_GAP_EDGES) -> pd.Series:
    """``|len_a - len_b|`` binned (labels such as ``"25-99"``, ``"300+"``).

    >>> p = pd.DataFrame({"len_a": [10.0, 10.0, 200.0], "len_b": [10.0, 30.0, 5.0]})
    >>> length_gap_bins(p).tolist()
    ['0', '1-24', '100-299']
    """
    labels = []
    for low, high in itertools.pairwise(edges):
        if high == float("inf"):
            labels.append(f"{low:g}+")
        elif high - low == 1:
            labels.append(f"{low:g}")
        else:
            labels.append(f"{low:g}-{high - 1:g}")
    gap = (pairs["len_a"] - pairs["len_b"]).abs()
    return pd.cut(gap, list(edges), right=False, labels=labels).rename("length_gap")


def quality_gap_bins(pairs: pd.DataFrame) -> tuple[pd.Series, str]:
    """The quality gap of each pair, binned, and what it was measured by.

    By the judge's swap-averaged ``|P(A) - P(B)|`` where the judge gives probabilities;
    else by ``|score_a - score_b|`` (quartile bins) where it scores both responses; else
    by how far the humans agreed (``unanimous``, ``majority``, ``split``, or ``gold``
    for a single label).
    """
    p_gap = (pairs["p_a"] - pairs["p_b"]).abs()
    if len(pairs) and p_gap.notna().mean() > 0.5:
        labels = [f"{lo:g}-{min(hi, 1):g}" for lo, hi in itertools.pairwise(PROBABILITY_GAP_EDGES)]
        return (
            pd.cut(p_gap, list(PROBABILITY_GAP_EDGES), right=False, labels=labels).rename(
                "quality_gap"
            ),
            "probability",
        )
    s_gap = (pairs["score_a"] - pairs["score_b"]).abs()
    if len(pairs) and s_gap.notna().mean() > 0.5 and s_gap.nunique() > 1:
        binned = pd.qcut(s_gap, 4, duplicates="drop")
        return binned.astype(str).astype("category").rename("quality_gap"), "score"
    votes = _vote_counts(pairs)
    n_votes = votes.sum(axis=1)
    top = votes.max(axis=1)
    level = np.select(
        [n_votes <= 1, top == n_votes, top > n_votes / 2],
        ["gold", "unanimous", "majority"],
        "split",
    )
    dtype = pd.CategoricalDtype(["unanimous", "majority", "split", "gold"], ordered=True)
    return pd.Series(level, index=pairs.index, dtype=dtype, name="quality_gap"), "human agreement"


def position_by_gap(
    frame: pd.DataFrame,
    *,
    gap: Literal["length", "quality"] = "length",
    by: Sequence[str] = ("run",),
    pairs: pd.DataFrame | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """:func:`position_table` per length-gap or quality-gap bin (column ``length_gap`` or
    ``quality_gap``; ``gap_measure`` says what measured the quality gap)."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "position_by_gap")
    expect_choice(gap, ("length", "quality"), "gap", "position_by_gap")
    if pairs is None:
        pairs = pair_frame(frame)
    rows = []
    for keys, group in _groups(pairs, expect_columns(pairs, by, "position_by_gap")):
        if gap == "length":
            bins, measure, column = length_gap_bins(group), "characters", "length_gap"
        else:
            bins, measure = quality_gap_bins(group)
            column = "quality_gap"
        labelled = group.assign(**{column: bins})
        for bin_keys, part in _groups(labelled, [column]):
            row = _position_row({**keys, **bin_keys}, part, n_resamples, confidence, seed)
            row["gap_measure"] = measure
            rows.append(row)
    return pd.DataFrame(rows)


def policy_table(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    failures: Failures = "wrong",
    pairs_by_policy: Mapping[Any, pd.DataFrame] | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Agreement under each reconcile policy, with the share of tie verdicts it produces.

    One row per group and policy (:data:`~judge.analysis.frame.POLICIES`, side by side
    so that no single policy has to be picked: they differ most for judges that flip
    with the order, and ``inconsistent_tie`` turns a flip into a tie that a tie label
    credits). ``pairs_by_policy`` (:func:`~judge.analysis.frame.pair_frames` of
    ``frame``) saves combining the orders again; its ``None`` key is skipped.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "policy_table")
    if pairs_by_policy is None:
        pairs_by_policy = pair_frames(frame, POLICIES)
    # every policy's pair frame has the same columns
    by = expect_columns(next(iter(pairs_by_policy.values()), frame), by, "policy_table")
    tables = []
    for policy, pairs in pairs_by_policy.items():
        if policy is None:
            continue
        table = agreement_table(
            pairs,
            by=[*by, "policy"],
            failures=failures,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
            alpha=False,
        )
        if table.empty:
            continue
        ok = (pairs["status"] == "ok").to_numpy()
        tie = ok & (pairs["verdict"] == "tie").to_numpy()
        ties = (
            pd.DataFrame({"tie": tie, "ok": ok}, index=pairs.index)
            .join(pairs[list(by)])
            .groupby(list(by), observed=True)[["tie", "ok"]]
            .sum()
        )
        ties["tie_rate"] = safe_ratio(ties["tie"].to_numpy(float), ties["ok"].to_numpy(float))
        tables.append(table.merge(ties[["tie_rate"]].reset_index(), on=list(by), how="left"))
    if not tables:
        return pd.DataFrame()
    out = pd.concat(tables, ignore_index=True)
    if "n_inconsistent" in out:  # only both_orders has inconsistent pairs
        out["n_inconsistent"] = out["n_inconsistent"].fillna(0).astype(int)
    out["policy"] = pd.Categorical(out["policy"].astype(str), categories=list(POLICIES))
    return out.sort_values([*by, "policy"]).reset_index(drop=True)


def policy_accuracy_wide(
    table: pd.DataFrame, *, by: Sequence[str] | str = ("run",)
) -> pd.DataFrame:
    """:func:`policy_table` as one row per group with one ``accuracy`` column per policy.

    >>> long = pd.DataFrame({"run": ["r", "r"], "judge": ["j", "j"], "n": [4, 4],
    ...                      "policy": ["net_vote", "both_orders"], "accuracy": [0.75, 0.5]})
    >>> policy_accuracy_wide(long).to_dict("records")
    [{'run': 'r', 'judge': 'j', 'n': 4, 'net_vote': 0.75, 'both_orders': 0.5}]
    """
    if table.empty:  # (policy_table gives no columns when it has no rows)
        return pd.DataFrame(columns=[*([by] if isinstance(by, str) else by), "judge", "n"])
    by = expect_columns(table, by, "policy_accuracy_wide")
    order = list(dict.fromkeys(table["policy"].astype(str)))
    wide = table.assign(policy=table["policy"].astype(str)).pivot_table(
        index=[*by, "judge"], columns="policy", values="accuracy", aggfunc="first", observed=True
    )
    wide = wide.reindex(columns=order)
    wide.columns = [str(c) for c in wide.columns]
    n = table.groupby([*by, "judge"], observed=True)["n"].max()
    wide.insert(0, "n", n)
    return wide.reset_index()


# -- length ---------------------------------------------------------------------------


def prefer_longer_table(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """P(judge prefers the longer response) beside P(humans prefer it) on the same pairs.

    Per judgment (both orders count). Columns: group keys; ``n`` and
    ``p_prefer_longer`` over every ok, non-tie judgment of an unequal-length pair;
    ``n_same`` and, over those of them whose human label is not a tie either,
    ``p_judge_longer``, ``p_human_longer`` and ``excess`` (judge - humans); each with
    bounds; ``n_unparsed`` / ``n_error`` of the group's judgments.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "prefer_longer_table")
    judged = rows_of_kind(frame, "pair")
    rows = []
    for keys, group in _groups(judged, expect_columns(judged, by, "prefer_longer_table")):
        verdict = verdict_codes(group["verdict"])
        label = verdict_codes(group["label"])
        longer_code = verdict_codes(group["longer"])  # CODE_A, CODE_B, -1 equal
        decided = np.isin(verdict, (CODE_A, CODE_B)) & (longer_code >= 0)
        same = decided & np.isin(label, (CODE_A, CODE_B))
        judge_longer = decided & (verdict == longer_code)
        human_longer = same & (label == longer_code)
        features = np.stack(
            [decided, judge_longer, same, judge_longer & same, human_longer], axis=1
        ).astype(float)
        total = features.sum(axis=0)
        sums = _resampled(group, features, n_resamples, seed)
        counts = _status_counts(group)
        row: dict[str, Any] = {
            **keys,
            "n": int(total[0]),
            "n_same": int(total[2]),
            "n_unparsed": counts["n_unparsed"],
            "n_error": counts["n_error"],
        }
        _ratio_columns(row, "p_prefer_longer", total, sums, 1, 0, confidence)
        _ratio_columns(row, "p_judge_longer", total, sums, 3, 2, confidence)
        _ratio_columns(row, "p_human_longer", total, sums, 4, 2, confidence)
        ci_columns(
            row,
            "excess",
            row["p_judge_longer"] - row["p_human_longer"],
            None if sums is None else safe_ratio(sums[:, 3] - sums[:, 4], sums[:, 2]),
            confidence,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def human_prefer_longer(
    pairs: pd.DataFrame,
    **bootstrap: Unpack[Bootstrap],
) -> dict[str, Any]:
    """P(the human label is the longer response), over the distinct items of ``pairs``
    whose label is not a tie and whose responses differ in length."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "human_prefer_longer")
    items = _unique_items(pairs)
    label = verdict_codes(items["label"])
    longer_code = verdict_codes(items["longer"])  # CODE_A, CODE_B, -1 equal
    decided = np.isin(label, (CODE_A, CODE_B)) & (longer_code >= 0)
    hit = decided & (label == longer_code)
    features = np.stack([hit, decided], axis=1).astype(float)
    out: dict[str, Any] = {"n": int(decided.sum())}
    sums = None  # each distinct item is its own bootstrap unit
    if n_resamples > 0 and len(items):
        sums = bootstrap_sums(features, n_resamples=n_resamples, seed=seed)
    _ratio_columns(out, "p_prefer_longer", features.sum(axis=0), sums, 0, 1, confidence)
    return out


def logistic_wald(
    x: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None
) -> dict[str, float]:
    """Logistic regression ``P(y=1) = sigmoid(b0 + b1 x)`` by maximum likelihood, Wald test.

    The fit is unpenalised (scipy's Newton-CG on the exact gradient and Hessian); the
    standard errors come from the inverse Fisher information. ``sample_weight`` are
    frequency weights (a row with weight 3 counts as three rows). Returns
    ``intercept``, ``coef``, ``se``, ``z``, ``p_value`` (two-sided), ``n``; NaN where the
    model is not identified (constant ``x`` or ``y``) or has no finite maximum (``x`` separates the
    classes).

    >>> fit = logistic_wald(np.array([0.0, 1, 2, 3, 4, 5]), np.array([0.0, 0, 1, 0, 1, 1]))
    >>> round(fit["coef"], 3), round(fit["se"], 3), round(fit["p_value"], 3)
    (1.214, 0.913, 0.183)
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit
    from scipy.stats import norm

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, np.float64)
    used = w > 0
    x, y, w = x[used], y[used], w[used]
    out = {"intercept": NAN, "coef": NAN, "se": NAN, "z": NAN, "p_value": NAN, "n": float(w.sum())}
    if len(x) < 2 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return out
    x0, x1 = x[y == 0], x[y == 1]
    if x0.max() <= x1.min() or x1.max() <= x0.min():
        return out  # (quasi-)complete separation: the maximum likelihood is at infinity
    design = np.stack([np.ones_like(x), x], axis=1)

    def loss(beta: np.ndarray) -> float:
        eta = design @ beta
        return float(-(w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum())

    def grad(beta: np.ndarray) -> np.ndarray:
        return np.asarray(design.T @ (w * (expit(design @ beta) - y)))

    def hess(beta: np.ndarray) -> np.ndarray:
        p = expit(design @ beta)
        return np.asarray((design * (w * p * (1 - p))[:, None]).T @ design)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = minimize(
            loss,
            np.zeros(2),
            jac=grad,
            hess=hess,
            method="Newton-CG",
            options={"xtol": 1e-10, "maxiter": 200},
        )
    beta = result.x
    information = hess(beta)
    if not np.all(np.isfinite(beta)) or np.linalg.cond(information) > 1e12:
        return out
    covariance = np.linalg.inv(information)
    se = float(np.sqrt(covariance[1, 1]))
    z = float(beta[1] / se)
    out.update(
        intercept=float(beta[0]),
        coef=float(beta[1]),
        se=se,
        z=z,
        p_value=float(2 * norm.sf(abs(z))),
    )
    return out


def length_regression(
    frame: pd.DataFrame, *, by: Sequence[str] = ("run",), scale: float = 100.0
) -> pd.DataFrame:
    """Logistic regression of judge-human disagreement on the length advantage.

    Over ok judgments of pairs whose human label is not a tie: ``disagree = verdict !=
    label`` against ``x = (len(human-preferred) - len(other)) / scale``. A negative
    ``coef`` means the judge disagrees more when the better response is the shorter
    one: length bias. Columns: group keys, ``n``, ``disagreement_rate``, ``intercept``,
    ``coef`` (per ``scale`` characters), ``se``, ``z``, ``p_value``, ``scale``.
    """
    expect_frame(frame, "judgments", "length_regression")
    judged = rows_of_kind(frame, "pair")
    rows = []
    for keys, group in _groups(judged, expect_columns(judged, by, "length_regression")):
        verdict = verdict_codes(group["verdict"])
        label = verdict_codes(group["label"])
        use = (verdict >= 0) & np.isin(label, (CODE_A, CODE_B))
        len_a, len_b = group["len_a"].to_numpy(), group["len_b"].to_numpy()
        advantage = np.where(label == CODE_A, len_a - len_b, len_b - len_a)[use] / scale
        disagree = (verdict != label)[use].astype(float)
        # the likelihood only depends on each distinct x's counts of 0s and 1s
        values, index = np.unique(advantage, return_inverse=True)
        ones = np.bincount(index, weights=disagree, minlength=len(values))
        zeros = np.bincount(index, minlength=len(values)) - ones
        fit = logistic_wald(
            np.concatenate([values, values]),
            np.concatenate([np.ones_like(values), np.zeros_like(values)]),
            sample_weight=np.concatenate([ones, zeros]),
        )
        rows.append(
            {
                **keys,
                "n": int(use.sum()),
                "disagreement_rate": float(disagree.mean()) if use.any() else NAN,
                **{k: v for k, v in fit.items() if k != "n"},
                "scale": scale,
            }
        )
    return pd.DataFrame(rows)


def bias_type_table(
    pairs: pd.DataFrame,
    *,
    failures: Failures = "wrong",
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Agreement per category (EvalBiasBench: per bias type), per run (without alpha)."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "bias_type_table")
    return agreement_table(
        pairs,
        by=["run", "category"],
        failures=failures,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        alpha=False,
    )
