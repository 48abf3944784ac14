"""Agreement of judges with humans, of humans with each other, and of judges with judges.

Array metrics (:func:`agreement_score`, :func:`cohen_kappa`, :func:`krippendorff_alpha`)
are thin, sklearn-style wrappers with an explicit ``zero_division`` for undefined
cases. Table functions take the pair frame of :func:`judge.analysis.frame.pair_frame`
and return one row per group with bootstrap confidence intervals over items
(``<figure>_low`` / ``<figure>_high``) and the unparsed and error counts beside.

Conventions:

- **with tie / without tie** (FastChat's ``compute_agreement.py``): *with tie* scores
  every labelled pair, a tie counting as a third class; *without tie* drops every pair
  where the human label or the judge's verdict is a tie.
- **failures** (unparsed or errored verdicts): ``"wrong"`` (default) keeps them as a
  wrong answer, and as their own class in unweighted kappa (this is how PandaLM's
  gpt-3.5 "garbage" replies are scored); ``"exclude"`` drops them. Either way their
  counts stand beside every figure. Linear-weighted kappa and Krippendorff's alpha
  need a place on the ``B < tie < A`` scale, so failures are always left out of them.
- **undefined figures** (no rows; one class only so that expected disagreement is 0)
  are ``zero_division`` (NaN by default), as in scikit-learn.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any, Final, Literal, Unpack

import numpy as np
import pandas as pd

from judge.analysis._pairs import (
    _code_counts,
    _groups,
    _human_matrix,
    _status_counts,
    _unique_items,
    _vote_counts,
)
from judge.analysis._stats import (
    Bootstrap,
    alpha_from_coincidences,
    bootstrap_sums,
    ci_columns,
    coincidences,
    item_units,
    kappa_from_confusion,
    kappa_weights,
    resampled_unit_sums,
    resampling,
    safe_ratio,
    sum_by_unit,
)
from judge.analysis.frame import (
    FAILURE_STATUSES,
    expect_choice,
    expect_columns,
    expect_frame,
    majority_codes,
    verdict_codes,
)
from judge.errors import ConfigError

Failures = Literal["wrong", "exclude"]
Ties = Literal["with", "without"]

FAILED: Final = 3
"""Code of an unparsed or errored verdict in agreement computations (after B, tie, A)."""
_K: Final = 4
NAN: Final = float("nan")

FIGURES: Final[tuple[str, ...]] = ("accuracy", "accuracy_without_tie", "kappa", "kappa_linear")
"""The confusion-matrix figures every agreement table reports."""


# -- array metrics --------------------------------------------------------------------


def agreement_score(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    *,
    ties: Ties = "with",
    tie_label: Any = "tie",
    zero_division: float = NAN,
) -> float:
    """Fraction of items where ``y_pred`` equals ``y_true`` (FastChat's two conventions).

    ``ties="without"`` drops the items where either side is ``tie_label``. No items
    left gives ``zero_division``.

    >>> agreement_score(["A", "B", "tie", "A"], ["A", "A", "tie", "tie"])
    0.5
    >>> agreement_score(["A", "B", "tie", "A"], ["A", "A", "tie", "tie"], ties="without")
    0.5
    >>> agreement_score(["tie"], ["A"], ties="without")
    nan
    """
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {true.shape} vs {pred.shape}")
    expect_choice(ties, ("with", "without"), "ties", "agreement_score")
    if ties == "without":
        keep = (true != tie_label) & (pred != tie_label)
        true, pred = true[keep], pred[keep]
    if true.size == 0:
        return zero_division
    return float(np.mean(true == pred))


def cohen_kappa(
    y1: Sequence[Any] | np.ndarray,
    y2: Sequence[Any] | np.ndarray,
    *,
    labels: Sequence[Any] | None = None,
    weights: Literal["linear", "quadratic"] | None = None,
    sample_weight: Sequence[float] | np.ndarray | None = None,
    zero_division: float = NAN,
) -> float:
    """Cohen's kappa, the figure of :func:`sklearn.metrics.cohen_kappa_score`.

    Weighted kappa weighs disagreements by their distance in ``labels`` order: pass
    ``labels=["B", "tie", "A"]`` for verdicts, or the ordered scale for scores. Without
    ``labels`` the classes are the sorted values seen; values outside ``labels`` are
    left out, as scikit-learn does. Empty input, or zero expected disagreement (both
    raters use one and the same class), gives ``zero_division``.

    Computed from the (weighted) confusion matrix with the formula of
    :func:`~judge.analysis._stats.kappa_from_confusion`, which the bootstrap uses too;
    the property tests check it against scikit-learn. Not calling scikit-learn keeps
    its import (about 1.6 s) out of every ``judge run`` summary.

    >>> cohen_kappa(["A", "A", "B", "B"], ["A", "B", "B", "B"])
    0.5
    >>> round(cohen_kappa(["A", "tie", "B"], ["A", "B", "B"], labels=["B", "tie", "A"],
    ...                   weights="linear"), 3)
    0.667
    >>> cohen_kappa(["A", "A"], ["A", "A"])
    nan
    """
    first, second = np.asarray(y1), np.asarray(y2)
    if first.shape != second.shape:
        raise ValueError(f"y1 and y2 differ in length: {first.shape} vs {second.shape}")
    if first.size == 0:
        return zero_division
    expect_choice(weights, (None, "linear", "quadratic"), "weights", "cohen_kappa")
    if labels is None:
        classes = pd.unique(pd.Series(np.concatenate([first.ravel(), second.ravel()])))
        categories = pd.Index(np.sort(classes))
    else:
        categories = pd.Index(pd.unique(pd.Series(list(labels), dtype=object)))
    k = len(categories)
    codes_1 = categories.get_indexer(first.ravel()).astype(np.int64)  # -1: not a class
    codes_2 = categories.get_indexer(second.ravel()).astype(np.int64)
    counted = (codes_1 >= 0) & (codes_2 >= 0)
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    confusion = np.bincount(
        codes_1[counted] * k + codes_2[counted],
        weights=None if weight is None else weight.ravel()[counted],
        minlength=k * k,
    ).reshape(k, k)
    value = kappa_from_confusion(confusion, kappa_weights(k, weights), zero_division=zero_division)
    return float(value)


def krippendorff_alpha(
    reliability_data: np.ndarray | Sequence[Sequence[float]] | None = None,
    *,
    value_counts: np.ndarray | None = None,
    level: Literal["nominal", "ordinal"] = "nominal",
    n_values: int | None = None,
    zero_division: float = NAN,
) -> float:
    """Krippendorff's alpha via the ``krippendorff`` package.

    ``reliability_data`` is coders x units with values ``0 .. n_values-1`` and NaN for
    missing; or pass ``value_counts`` (units x values). Undefined cases (fewer than two
    values in the domain, no unit coded twice, zero expected disagreement) give
    ``zero_division``.

    >>> round(krippendorff_alpha([[0, 1, 2, 2], [0, 1, 2, 1]]), 3)
    0.667
    >>> krippendorff_alpha([[1, 1], [1, 1]], n_values=3)
    nan
    """
    import krippendorff

    expect_choice(level, ("nominal", "ordinal"), "level", "krippendorff_alpha")
    if (reliability_data is None) == (value_counts is None):
        raise ValueError("pass reliability_data or value_counts, not both")
    if value_counts is None:
        data = np.asarray(reliability_data, dtype=np.float64)
        k = n_values if n_values is not None else int(np.nanmax(data)) + 1 if data.size else 0
        value_counts = np.stack([(data == v).sum(axis=0) for v in range(k)], axis=1)
    counts = np.asarray(value_counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 2 or not (counts.sum(axis=1) >= 2).any():
        return zero_division
    with np.errstate(invalid="ignore", divide="ignore"):
        value = float(krippendorff.alpha(value_counts=counts, level_of_measurement=level))
    return zero_division if not np.isfinite(value) else value


# -- codes ----------------------------------------------------------------------------


def judge_codes(pairs: pd.DataFrame, failures: Failures = "wrong") -> np.ndarray:
    """The pair verdicts as codes B=0, tie=1, A=2, and 3 for no verdict.

    No verdict is an unparsed or errored verdict, or a pair whose orders disagree
    under ``both_orders`` (status ``inconsistent``). With ``failures="exclude"``
    unparsed and errored pairs are -1 (left out); an inconsistent pair stays 3
    (wrong): it is the judge's answer, not a failure to give one.

    >>> pairs = pd.DataFrame({"verdict": pd.Series(["A", None, None, "B"], dtype="category"),
    ...                       "status": ["ok", "unparsed", "inconsistent", "ok"]})
    >>> judge_codes(pairs).tolist(), judge_codes(pairs, "exclude").tolist()
    ([2, 3, 3, 0], [2, -1, 3, 0])
    """
    codes = verdict_codes(pairs["verdict"]).astype(np.int64)
    status = pairs["status"].astype(object).to_numpy()
    codes[status != "ok"] = FAILED
    if failures == "exclude":
        codes[np.isin(status, FAILURE_STATUSES)] = -1
    return codes


def _check_failures(failures: str, function: str) -> None:
    expect_choice(failures, ("wrong", "exclude"), "failures", function)


# -- figures from confusion counts ---------------------------------------------------


def _confusion_figures(conf: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised figures from ``(..., 4, 4)`` confusion counts (rows: human, cols: judge)."""
    diag = np.einsum("...ii->...i", conf)
    total = conf.sum(axis=(-1, -2))
    no_tie = conf[..., [0, 2], :][..., :, [0, 2, 3]]
    return {
        "accuracy": safe_ratio(diag.sum(axis=-1), total),
        "accuracy_without_tie": safe_ratio(diag[..., 0] + diag[..., 2], no_tie.sum(axis=(-1, -2))),
        "kappa": kappa_from_confusion(conf, kappa_weights(_K, None)),
        "kappa_linear": kappa_from_confusion(conf[..., :3, :3], kappa_weights(3, "linear")),
        "n": total,
        "n_without_tie": no_tie.sum(axis=(-1, -2)),
    }


def point_figures(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy (with and without ties) and kappa (plain and linear) of code arrays.

    ``y_true`` holds codes 0-2 (B, tie, A); ``y_pred`` may also hold :data:`FAILED`.
    The figures come from the 4 x 4 confusion counts, with the formulas the bootstrap
    uses (:func:`_confusion_figures`); weighted kappa leaves failures out. The property
    tests check each against scikit-learn.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    conf = np.bincount(y_true * _K + y_pred, minlength=_K * _K).reshape(_K, _K)
    return {name: float(value) for name, value in _confusion_figures(conf).items()}


def _confusion_per_unit(
    y_true: np.ndarray, y_pred: np.ndarray, unit: np.ndarray, n_units: int
) -> np.ndarray:
    one_hot = np.zeros((len(y_true), _K * _K))
    one_hot[np.arange(len(y_true)), y_true * _K + y_pred] = 1.0
    return sum_by_unit(unit, one_hot, n_units).reshape(n_units, _K, _K)


def _with_ci(
    row: dict[str, Any],
    points: dict[str, float],
    samples: dict[str, np.ndarray] | None,
    confidence: float,
    names: Sequence[str] = FIGURES,
) -> None:
    for name in names:
        ci_columns(row, name, points[name], None if samples is None else samples[name], confidence)


def _judge_names(group: pd.DataFrame) -> str:
    return ", ".join(map(str, group["judge"].unique()))


# -- judge vs humans ------------------------------------------------------------------


def agreement_table(
    pairs: pd.DataFrame,
    *,
    by: Sequence[str] | str = ("run",),
    failures: Failures = "wrong",
    alpha: bool = True,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Judge vs the human majority (or gold) label, one row per group of ``by``.

    Columns: the group keys, ``judge``, ``n_pairs`` / ``n_ok`` / ``n_unparsed`` /
    ``n_error`` / ``n_unlabelled`` (counts of pair rows), ``n`` (labelled rows scored),
    ``accuracy``, ``accuracy_without_tie`` (with ``n_without_tie``), ``kappa``,
    ``kappa_linear``, ``alpha`` (Krippendorff, nominal, every annotator plus the judge)
    beside ``alpha_humans`` (the annotators alone, same rows; both left out with
    ``alpha=False``), each with ``_low`` / ``_high`` bootstrap bounds over items (NaN
    when ``n_resamples=0``).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "agreement_table")
    _check_failures(failures, "agreement_table")
    by = expect_columns(pairs, by, "agreement_table")
    rows = []
    for keys, group in _groups(pairs, by):
        row: dict[str, Any] = {**keys}
        if "judge" not in row:
            row["judge"] = _judge_names(group)
        row.update(_status_counts(group))
        y = verdict_codes(group["label"]).astype(np.int64)
        j = judge_codes(group, failures)
        labelled = y >= 0
        row["n_unlabelled"] = int((~labelled).sum())
        keep = labelled & (j >= 0)
        unit, n_units = item_units(group["item_id"].to_numpy())
        points = point_figures(y[keep], j[keep])
        figures: tuple[str, ...] = FIGURES
        if alpha:
            figures = (*FIGURES, "alpha", "alpha_humans")
            votes = _vote_counts(group)
            judge_votes = np.zeros_like(votes)
            scored = np.flatnonzero((j >= 0) & (j < FAILED))
            judge_votes[scored, j[scored]] = 1.0
            points["alpha"] = krippendorff_alpha(value_counts=votes + judge_votes)
            points["alpha_humans"] = krippendorff_alpha(value_counts=votes)
        samples = None
        if n_resamples > 0 and n_units and keep.any():
            per_unit = [
                _confusion_per_unit(y[keep], j[keep], unit[keep], n_units).reshape(n_units, -1)
            ]
            if alpha:
                per_unit.append(
                    sum_by_unit(unit, coincidences(votes + judge_votes), n_units).reshape(
                        n_units, -1
                    )
                )
                per_unit.append(
                    sum_by_unit(unit, coincidences(votes), n_units).reshape(n_units, -1)
                )
            sums = bootstrap_sums(
                np.concatenate(per_unit, axis=1), n_resamples=n_resamples, seed=seed
            )
            samples = _confusion_figures(sums[:, :16].reshape(-1, _K, _K))
            if alpha:
                samples["alpha"] = alpha_from_coincidences(
                    sums[:, 16:25].reshape(-1, 3, 3), "nominal"
                )
                samples["alpha_humans"] = alpha_from_coincidences(
                    sums[:, 25:34].reshape(-1, 3, 3), "nominal"
                )
        row["n"] = int(points["n"])
        row["n_without_tie"] = int(points["n_without_tie"])
        _with_ci(row, points, samples, confidence, figures)
        rows.append(row)
    table = pd.DataFrame(rows)
    if "n_inconsistent" in table:  # a group without inconsistent pairs has no key: 0
        table["n_inconsistent"] = table["n_inconsistent"].fillna(0).astype(int)
    return table


def confusion_table(pairs: pd.DataFrame, *, by: Sequence[str] | str = ("run",)) -> pd.DataFrame:
    """Counts of (human label, judge verdict) per group; the judge side includes failures.

    Columns: group keys, ``label`` (B/tie/A), ``verdict`` (B/tie/A/unparsed/error, and
    inconsistent for pairs under ``both_orders``), ``count``.
    """
    expect_frame(pairs, "pairs", "confusion_table")
    by = expect_columns(pairs, by, "confusion_table")
    judged = ["A", "tie", "B", "unparsed", "error"]
    if (pairs["status"] == "inconsistent").any():
        judged.append("inconsistent")
    frames = []
    for keys, group in _groups(pairs, by):
        labelled = group[group["label"].notna().to_numpy()]
        verdict = (
            labelled["verdict"]
            .astype(object)
            .where(labelled["status"] == "ok", labelled["status"].astype(object))
        )
        counts = (
            pd.crosstab(labelled["label"].astype(object), verdict)
            .reindex(
                index=["A", "tie", "B"],
                columns=judged,
                fill_value=0,
            )
            .stack()
            .rename("count")
            .reset_index()
        )
        counts.columns = ["label", "verdict", "count"]
        for name, value in keys.items():
            counts.insert(0, name, value)
        frames.append(counts)
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*by, "label", "verdict", "count"])
    )


# -- humans vs humans -----------------------------------------------------------------


def annotator_agreement(
    pairs: pd.DataFrame,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Pairwise agreement and Cohen's kappa between annotators, per benchmark.

    One row per (benchmark, annotator pair) over the items both voted on, with the
    figures of :data:`FIGURES` and bootstrap bounds.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "annotator_agreement")
    rows = []
    for keys, items in _groups(_unique_items(pairs), ["benchmark"]):
        names, matrix = _human_matrix(items)
        for (ia, a), (ib, b) in itertools.combinations(enumerate(names), 2):
            both = (matrix[:, ia] >= 0) & (matrix[:, ib] >= 0)
            y1, y2 = matrix[both, ia], matrix[both, ib]
            row: dict[str, Any] = {**keys, "annotator_1": a, "annotator_2": b, "n": int(both.sum())}
            points = point_figures(y1, y2)
            samples = None
            if n_resamples > 0 and len(y1):
                per_unit = _confusion_per_unit(y1, y2, np.arange(len(y1)), len(y1))
                sums = bootstrap_sums(
                    per_unit.reshape(len(y1), -1), n_resamples=n_resamples, seed=seed
                )
                samples = _confusion_figures(sums.reshape(-1, _K, _K))
            row["n_without_tie"] = int(points["n_without_tie"])
            _with_ci(row, points, samples, confidence)
            rows.append(row)
    return pd.DataFrame(rows)


def _loo_row(
    references: Sequence[np.ndarray],
    predictions: Sequence[tuple[np.ndarray, np.ndarray]],
    n_items: int,
    *,
    failures: Failures,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Figures of predictions against leave-one-out references, averaged over the pairs.

    ``references[k]`` holds one code per item (-1: no majority); ``predictions[k]`` is
    ``(codes, item index per code)``. The bootstrap resamples items once for all ``k``,
    so the bounds are those of the average.
    """
    points, features = [], []
    for reference, (y_pred, unit) in zip(references, predictions, strict=True):
        y_true = reference[unit]
        keep = (y_true >= 0) & (y_pred >= 0)  # excluded failures are -1 (judge_codes)
        points.append(point_figures(y_true[keep], y_pred[keep]))
        if n_resamples > 0:
            features.append(_confusion_per_unit(y_true[keep], y_pred[keep], unit[keep], n_items))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a figure undefined for everyone
        mean = {name: float(np.nanmean([p[name] for p in points])) for name in points[0]}
        samples = None
        if n_resamples > 0 and n_items:
            sums = bootstrap_sums(
                np.stack(features, axis=1).reshape(n_items, -1), n_resamples=n_resamples, seed=seed
            )
            stats = _confusion_figures(sums.reshape(n_resamples, -1, _K, _K))
            samples = {name: np.nanmean(v, axis=1) for name, v in stats.items()}
    # a mean of counts over the references, not a count: named so (a lone reference's is
    # its count)
    row: dict[str, Any] = {"mean_n": mean["n"], "mean_n_without_tie": mean["n_without_tie"]}
    _with_ci(row, mean, samples, confidence)
    return row


def leave_one_out_table(
    pairs: pd.DataFrame,
    *,
    failures: Failures = "wrong",
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """The human baseline beside each judge, computed the same way.

    For each annotator, the reference is the majority of the *other* annotators
    (items without a strict majority among them are skipped; with three annotators
    that is every item where the other two disagree). Rows per benchmark:

    - ``who=<annotator>``, ``kind="annotator"``: that annotator against the others;
    - ``who="humans"``, ``kind="humans"``: the mean over annotators (AlpacaEval's
      leave-one-out human agreement), with ``alpha`` of the annotators alone;
    - ``who=<judge>``, ``kind="judge"`` (one per run): the judge against each
      annotator's leave-one-out reference, averaged over annotators, so it is directly
      comparable with the ``humans`` row.

    ``mean_n`` / ``mean_n_without_tie`` are the mean numbers of items scored per
    reference (a mean over annotators, so not whole numbers; an annotator row has one
    reference and its count). Judge rows also count the run's pairs by status
    (``n_ok``, ``n_unparsed``, ``n_error``; integers, missing on the other rows).
    Benchmarks with fewer than two annotators have no rows.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "leave_one_out_table")
    _check_failures(failures, "leave_one_out_table")
    options: dict[str, Any] = {
        "failures": failures,
        "n_resamples": n_resamples,
        "confidence": confidence,
        "seed": seed,
    }
    rows: list[dict[str, Any]] = []
    for keys, bench_pairs in _groups(pairs, ["benchmark"]):
        items = _unique_items(bench_pairs)
        names, matrix = _human_matrix(items)
        if len(names) < 2:
            continue
        n_items = len(items)
        counts = _code_counts(matrix)
        references = [  # per annotator: the others' majority per item
            majority_codes(_code_counts(np.delete(matrix, a, axis=1))) for a in range(len(names))
        ]
        everyone = np.arange(n_items)
        for a, name in enumerate(names):
            row = _loo_row([references[a]], [(matrix[:, a], everyone)], n_items, **options)
            rows.append({**keys, "who": name, "kind": "annotator", **row})
        humans = _loo_row(
            references, [(matrix[:, a], everyone) for a in range(len(names))], n_items, **options
        )
        humans["alpha"] = krippendorff_alpha(value_counts=counts)
        rows.append({**keys, "who": "humans", "kind": "humans", **humans})
        item_index = pd.Index(items["item_id"])
        for run_keys, run_pairs in _groups(bench_pairs, ["run"]):
            unit = item_index.get_indexer(run_pairs["item_id"])
            codes = judge_codes(run_pairs, failures)
            row = _loo_row(references, [(codes, unit)] * len(references), n_items, **options)
            counts_row = {k: v for k, v in _status_counts(run_pairs).items() if k != "n_pairs"}
            judge = _judge_names(run_pairs)
            rows.append(
                {**keys, "who": judge, "kind": "judge", "run": run_keys["run"], **counts_row, **row}
            )
    table = pd.DataFrame(rows)
    if "n_inconsistent" in table:  # only runs with inconsistent pairs have the key
        judges = (table["kind"] == "judge").to_numpy()
        table.loc[judges, "n_inconsistent"] = table.loc[judges, "n_inconsistent"].fillna(0)
    for column in ("n_ok", "n_unparsed", "n_error", "n_inconsistent"):
        if column in table:  # counts of judge rows: integers beside the others' NA
            table[column] = table[column].astype(pd.Int64Dtype())
    return table


# -- judge vs judge -------------------------------------------------------------------


def compare_judges(
    pairs: pd.DataFrame,
    run_a: str,
    run_b: str,
    *,
    failures: Failures = "wrong",
    **bootstrap: Unpack[Bootstrap],
) -> dict[str, Any]:
    """Two runs on the same labelled pairs: paired bootstrap, exact McNemar, kappa.

    Matches rows on ``(item_id, sample)``. Returns ``n`` (common labelled rows),
    ``accuracy_a`` / ``accuracy_b``, ``difference`` (a - b) with bootstrap bounds and a
    two-sided bootstrap ``p_bootstrap``; McNemar's discordant counts ``a_only`` (a right,
    b wrong) and ``b_only`` and its exact p-value ``p_mcnemar``
    (:func:`scipy.stats.binomtest`, 1.0 when there is no discordant pair); and
    ``kappa`` / ``agreement`` between the two judges' verdicts on every common row
    (failures as their own class).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "compare_judges")
    from scipy.stats import binomtest

    _check_failures(failures, "compare_judges")
    cols = ["item_id", "sample", "label", "verdict", "status"]
    a = pairs.loc[(pairs["run"] == run_a).to_numpy(), cols]
    b = pairs.loc[(pairs["run"] == run_b).to_numpy(), cols]
    if a.empty or b.empty:
        missing = run_a if a.empty else run_b
        raise ConfigError(f"run {missing!r} has no pair judgments to compare")
    a = a.assign(item_id=a["item_id"].astype(str))
    b = b.assign(item_id=b["item_id"].astype(str))
    both = a.merge(b, on=["item_id", "sample"], suffixes=("_a", "_b"))
    ja = judge_codes(both.rename(columns={"verdict_a": "verdict", "status_a": "status"}))
    jb = judge_codes(both.rename(columns={"verdict_b": "verdict", "status_b": "status"}))
    failed_a = np.isin(both["status_a"].astype(object), FAILURE_STATUSES)
    failed_b = np.isin(both["status_b"].astype(object), FAILURE_STATUSES)
    out: dict[str, Any] = {
        "run_a": run_a,
        "run_b": run_b,
        "n_common": len(both),
        "agreement": agreement_score(ja, jb),
        "kappa": cohen_kappa(ja, jb, labels=[0, 1, 2, FAILED]),
    }
    y = verdict_codes(both["label_a"]).astype(np.int64)
    keep = y >= 0
    if failures == "exclude":
        keep &= ~failed_a & ~failed_b
    y, ja, jb = y[keep], ja[keep], jb[keep]
    correct_a, correct_b = (ja == y).astype(float), (jb == y).astype(float)
    a_only = int(np.sum((correct_a == 1) & (correct_b == 0)))
    b_only = int(np.sum((correct_a == 0) & (correct_b == 1)))
    n = len(y)
    out.update(
        n=n,
        accuracy_a=float(correct_a.mean()) if n else NAN,
        accuracy_b=float(correct_b.mean()) if n else NAN,
        a_only=a_only,
        b_only=b_only,
        p_mcnemar=float(binomtest(a_only, a_only + b_only, 0.5).pvalue) if a_only + b_only else 1.0,
    )
    sums = None
    if n_resamples > 0:  # (the units are only needed to resample)
        unit, n_units = item_units(both["item_id"].to_numpy()[keep])
        features = np.stack([correct_a, correct_b, np.ones(n)], axis=1)
        sums = resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)
    diff = None if sums is None else (sums[:, 0] - sums[:, 1]) / sums[:, 2]
    ci_columns(out, "difference", out["accuracy_a"] - out["accuracy_b"], diff, confidence)
    out["p_bootstrap"] = (
        NAN if diff is None else float(min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0))))
    )
    return out


def judge_comparisons(
    pairs: pd.DataFrame,
    *,
    failures: Failures = "wrong",
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """:func:`compare_judges` for every pair of runs on the same benchmark."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "judge_comparisons")
    rows = []
    for keys, group in _groups(pairs, ["benchmark"]):
        runs = list(group["run"].unique())
        for run_a, run_b in itertools.combinations(runs, 2):
            result = compare_judges(
                group,
                str(run_a),
                str(run_b),
                failures=failures,
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            )
            judges = group.drop_duplicates("run").set_index("run")["judge"]
            rows.append({**keys, "judge_a": judges[run_a], "judge_b": judges[run_b], **result})
    return pd.DataFrame(rows)
