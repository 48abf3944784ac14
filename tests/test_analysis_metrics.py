"""Every analysis metric equals scikit-learn / scipy / krippendorff on the same input.

Property tests (hypothesis) include ties, failures and degenerate inputs (one class
only, empty), whose behaviour is defined explicitly: NaN (``zero_division``).
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

from judge.analysis._stats import (
    alpha_from_coincidences,
    bootstrap_sums,
    coincidences,
    kappa_from_confusion,
    kappa_weights,
    l1_logistic_batch,
    percentile_ci,
    resample_weights,
)
from judge.analysis.agreement import (
    FAILED,
    _confusion_figures,
    agreement_score,
    cohen_kappa,
    krippendorff_alpha,
    point_figures,
)
from judge.analysis.bias import logistic_wald
from judge.analysis.frame import majority_codes
from judge.analysis.ranking import fit_bradley_terry, fit_bradley_terry_batch
from judge.analysis.single import correlation
from judge.records import majority

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples every run: CI cannot fail on a new random draw
)
codes = st.integers(min_value=0, max_value=2)


def same(a: float, b: float, tol: float = 1e-9) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def sk_kappa(y1: np.ndarray, y2: np.ndarray, **kw: object) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(y1, y2, **kw))


@st.composite
def label_pairs(draw: st.DrawFn, failures: bool = True) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=1, max_value=40))
    y_true = np.array(draw(st.lists(codes, min_size=n, max_size=n)))
    top = FAILED if failures else 2
    y_pred = np.array(draw(st.lists(st.integers(0, top), min_size=n, max_size=n)))
    if draw(st.booleans()):  # degenerate: the judge copies, or uses one class only
        y_pred = y_true.copy() if draw(st.booleans()) else np.full(n, draw(codes))
    return y_true, y_pred


@SETTINGS
@given(label_pairs())
def test_accuracy_with_and_without_ties_equal_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = data
    assert same(agreement_score(y_true, y_pred), accuracy_score(y_true, y_pred))
    keep = (y_true != 1) & (y_pred != 1)
    expected = accuracy_score(y_true[keep], y_pred[keep]) if keep.any() else float("nan")
    assert same(agreement_score(y_true, y_pred, ties="without", tie_label=1), expected)


@SETTINGS
@given(label_pairs(), st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_wrapper_equals_sklearn(
    data: tuple[np.ndarray, np.ndarray], weights: str | None
) -> None:
    y_true, y_pred = data
    labels = [0, 1, 2, FAILED]
    expected = sk_kappa(y_true, y_pred, labels=labels, weights=weights)
    assert same(cohen_kappa(y_true, y_pred, labels=labels, weights=weights), expected)  # type: ignore[arg-type]
    # the vectorised bootstrap formula gives the same figure
    conf = confusion_matrix(y_true, y_pred, labels=labels)
    assert same(float(kappa_from_confusion(conf, kappa_weights(4, weights))), expected)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd"), st.integers(1, 5)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([None, ["a", "b", "c"], ["d", "c", "b", "a"]]),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_kappa_of_any_labels_and_weights_equals_sklearn(
    rows: list[tuple[str, str, int]], labels: list[str] | None, weights: str | None
) -> None:
    # string classes, classes found or given (values outside ``labels`` left out), and
    # sample weights: our confusion-matrix kappa against scikit-learn's
    first = np.array([r[0] for r in rows])
    second = np.array([r[1] for r in rows])
    counts = np.array([r[2] for r in rows], dtype=float)
    kept = np.isin(first, labels) & np.isin(second, labels) if labels else first == first
    assume(kept.any())
    expected = sk_kappa(first, second, labels=labels, weights=weights, sample_weight=counts)
    got = cohen_kappa(first, second, labels=labels, weights=weights, sample_weight=counts)  # type: ignore[arg-type]
    assert same(got, expected)


def test_kappa_undefined_cases_follow_zero_division() -> None:
    # one class only on both sides: expected disagreement is zero
    assert math.isnan(cohen_kappa(["A", "A", "A"], ["A", "A", "A"]))
    assert cohen_kappa(["A", "A"], ["A", "A"], zero_division=1.0) == 1.0
    assert math.isnan(cohen_kappa([], []))
    # human uses one class, judge another: defined (0), as in sklearn
    assert cohen_kappa(["A", "A"], ["B", "B"]) == sk_kappa(
        np.array(["A", "A"]), np.array(["B", "B"])
    )
    assert math.isnan(float(kappa_from_confusion(np.zeros((3, 3)), kappa_weights(3, None))))


@SETTINGS
@given(label_pairs())
def test_point_figures_equal_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = data
    figures = point_figures(y_true, y_pred)
    assert same(figures["accuracy"], accuracy_score(y_true, y_pred))
    assert same(figures["kappa"], sk_kappa(y_true, y_pred, labels=[0, 1, 2, FAILED]))
    scored = y_pred != FAILED
    expected_linear = (
        sk_kappa(y_true[scored], y_pred[scored], labels=[0, 1, 2], weights="linear")
        if scored.any()
        else float("nan")
    )
    assert same(figures["kappa_linear"], expected_linear)
    # the vectorised versions used by the bootstrap agree with the point estimates
    conf = confusion_matrix(y_true, y_pred, labels=[0, 1, 2, FAILED]).astype(float)
    vectorised = _confusion_figures(conf)
    for name in ("accuracy", "accuracy_without_tie", "kappa", "kappa_linear"):
        assert same(float(vectorised[name]), figures[name]), name


def test_failures_count_as_their_own_class_in_kappa() -> None:
    y_true = np.array([2, 2, 0, 0, 1])
    y_pred = np.array([2, FAILED, 0, 2, 1])
    figures = point_figures(y_true, y_pred)
    assert figures["accuracy"] == pytest.approx(0.6)
    assert figures["kappa"] == pytest.approx(sk_kappa(y_true, y_pred))


@st.composite
def reliability(draw: st.DrawFn) -> np.ndarray:
    coders = draw(st.integers(min_value=2, max_value=5))
    units = draw(st.integers(min_value=1, max_value=25))
    values = draw(
        st.lists(
            st.sampled_from([0.0, 1.0, 2.0, math.nan]),
            min_size=coders * units,
            max_size=coders * units,
        )
    )
    return np.array(values).reshape(coders, units)


def reference_alpha(data: np.ndarray, level: Literal["nominal", "ordinal"]) -> float:
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = krippendorff.alpha(data, level_of_measurement=level, value_domain=[0, 1, 2])
    except ValueError:  # "at least one unit with values assigned by at least two coders"
        return float("nan")
    return float(value) if np.isfinite(value) else float("nan")


@SETTINGS
@given(reliability(), st.sampled_from(["nominal", "ordinal"]))
def test_alpha_equals_krippendorff(data: np.ndarray, level: Literal["nominal", "ordinal"]) -> None:
    expected = reference_alpha(data, level)
    assert same(krippendorff_alpha(data, level=level, n_values=3), expected)
    value_counts = np.stack([(data == v).sum(axis=0) for v in range(3)], axis=1)
    vectorised = float(alpha_from_coincidences(coincidences(value_counts).sum(axis=0), level))
    assert same(vectorised, expected)


def test_alpha_degenerate_cases() -> None:
    assert math.isnan(krippendorff_alpha([[1, 1, 1], [1, 1, 1]], n_values=3))  # one value used
    assert math.isnan(krippendorff_alpha([[0, math.nan], [math.nan, 1]], n_values=3))  # no pairs
    assert krippendorff_alpha([[0, 1], [0, 1]]) == 1.0


@SETTINGS
@given(st.lists(st.lists(codes, min_size=0, max_size=5), min_size=1, max_size=30))
def test_majority_codes_match_records_majority(votes: list[list[int]]) -> None:
    names = ["B", "tie", "A"]
    counts = np.array([[v.count(c) for c in range(3)] for v in votes])
    expected = [majority([names[c] for c in v]) for v in votes]  # type: ignore[misc]
    got = majority_codes(counts)
    assert [names[g] if g >= 0 else None for g in got] == expected


@SETTINGS
@given(st.integers(1, 50), st.integers(1, 30), st.integers(0, 2**31))
def test_bootstrap_is_seeded_and_resamples_units(n_units: int, n_resamples: int, seed: int) -> None:
    chunks = list(resample_weights(n_units, n_resamples, seed))
    weights = np.concatenate(chunks)
    assert weights.shape == (n_resamples, n_units)
    assert np.all(weights.sum(axis=1) == n_units)  # each resample draws n units
    again = np.concatenate(list(resample_weights(n_units, n_resamples, seed)))
    assert np.array_equal(weights, again)
    values = np.arange(n_units, dtype=float)[:, None]
    sums = bootstrap_sums(values, n_resamples=n_resamples, seed=seed)
    assert np.allclose(sums[:, 0], weights @ values[:, 0])


def test_percentile_ci_matches_numpy() -> None:
    samples = np.random.default_rng(0).normal(size=500)
    low, high = percentile_ci(samples, 0.9)
    assert (low, high) == pytest.approx(tuple(np.quantile(samples, [0.05, 0.95])))


@SETTINGS
@given(st.integers(10, 200), st.floats(-2, 2), st.integers(0, 1000))
def test_logistic_wald_equals_sklearn_unpenalised(n: int, slope: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + slope * x)))).astype(float)
    assume(0 < y.sum() < n)
    fit = logistic_wald(x, y)
    assume(not math.isnan(fit["coef"]))  # separated samples have no finite MLE
    model = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(x[:, None], y)
    assert fit["coef"] == pytest.approx(model.coef_[0, 0], abs=1e-4)
    assert fit["intercept"] == pytest.approx(model.intercept_[0], abs=1e-4)
    # Wald SE from the observed information (numerical second derivative of the loglik)
    design = np.stack([np.ones(n), x], axis=1)
    p = 1 / (1 + np.exp(-(design @ [fit["intercept"], fit["coef"]])))
    info = (design * (p * (1 - p))[:, None]).T @ design
    assert fit["se"] == pytest.approx(math.sqrt(np.linalg.inv(info)[1, 1]), rel=1e-6)
    assert fit["p_value"] == pytest.approx(2 * stats.norm.sf(abs(fit["coef"] / fit["se"])))


def test_logistic_wald_weights_equal_repeated_rows() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0])
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    w = np.array([3.0, 1.0, 2.0, 1.0, 1.0, 2.0])
    weighted = logistic_wald(x, y, sample_weight=w)
    repeated = logistic_wald(np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int)))
    for key in ("intercept", "coef", "se", "p_value", "n"):
        assert weighted[key] == pytest.approx(repeated[key], rel=1e-6)


def test_logistic_wald_degenerate_is_nan() -> None:
    assert math.isnan(logistic_wald(np.arange(5.0), np.zeros(5))["coef"])  # y constant
    assert math.isnan(logistic_wald(np.ones(5), np.array([0.0, 1, 0, 1, 1]))["coef"])  # x const
    separated = logistic_wald(np.arange(6.0), np.array([0.0, 0, 0, 1, 1, 1]))
    assert math.isnan(separated["coef"])


@SETTINGS
@given(st.integers(2, 5), st.integers(0, 1000), st.sampled_from([1e-3, 0.1, 1.0]))
def test_bradley_terry_equals_sklearn_logistic_regression(m: int, seed: int, l2: float) -> None:
    rng = np.random.default_rng(seed)
    wins = rng.integers(0, 6, size=(m, m)).astype(float)
    np.fill_diagonal(wins, 0)
    wins[0, 1] += 0.5  # a tie, counted half each way
    wins[1, 0] += 0.5
    rows, labels, weights = [], [], []
    for i in range(m):
        for j in range(m):
            if wins[i, j] > 0:
                x = np.zeros(m)
                x[i], x[j] = 1, -1
                rows += [x, -x]
                labels += [1, 0]
                weights += [wins[i, j], wins[i, j]]
    # each battle appears as (e_i - e_j, win) and (e_j - e_i, loss), so sklearn's loss is
    # twice ours: C * 2L + |w|^2 / 2  <=>  L + l2/2 |w|^2  with  C = 1 / (2 l2)
    model = LogisticRegression(C=1 / (2 * l2), fit_intercept=False, tol=1e-12, max_iter=10_000)
    model.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    theta = fit_bradley_terry(wins, l2=l2)
    assert theta == pytest.approx(model.coef_[0], abs=1e-4)


@pytest.mark.parametrize("l2", [0.0, 1e-4, 0.5])
def test_batched_bradley_terry_equals_one_at_a_time(l2: float) -> None:
    rng = np.random.default_rng(1)
    wins = rng.integers(0, 6, size=(40, 4, 4)).astype(float) + 0.5  # no model unbeaten
    for w in wins:
        np.fill_diagonal(w, 0)
    batch = fit_bradley_terry_batch(wins, l2=l2)
    single = np.stack([fit_bradley_terry(w, l2=l2) for w in wins])
    assert batch == pytest.approx(single, abs=1e-6)


def test_bradley_terry_recovers_log_odds() -> None:
    theta = fit_bradley_terry(np.array([[0, 8.0, 9.0], [2.0, 0, 6.0], [1.0, 4.0, 0]]), l2=0.0)
    assert theta[0] > theta[1] > theta[2]
    assert theta.sum() == pytest.approx(0.0, abs=1e-9)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(1, 5, allow_nan=False)), min_size=2, max_size=40
    ),
    st.sampled_from(["pearson", "spearman", "kendall"]),
)
def test_correlation_equals_scipy(points: list[tuple[int, float]], method: str) -> None:
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points])
    value, p_value = correlation(x, y, method)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert math.isnan(value) and math.isnan(p_value)  # constant input: undefined
        return
    function = {
        "pearson": stats.pearsonr,
        "spearman": stats.spearmanr,
        "kendall": stats.kendalltau,
    }[method]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = function(x, y)
    assert same(value, float(expected.statistic), 1e-12)
    assert same(p_value, float(expected.pvalue), 1e-12)


def test_sklearn_warns_where_we_define_behaviour() -> None:
    # the wrapper silences sklearn's warning because NaN is our documented result
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        assert math.isnan(cohen_kappa(["tie"], ["tie"]))


@pytest.mark.parametrize("c", [1e-4, 0.0774, 1.0, 21.5, 1e4])
def test_batched_l1_logistic_equals_liblinear(c: float) -> None:
    # The LC bootstrap and cross-validation fit many weightings of one small design at
    # once: each solution must be liblinear's (run to a tight tolerance) for its weights,
    # including a column without signal (L1 keeps it at 0) and rows weighted 0.
    rng = np.random.default_rng(7)
    n = 300
    x = np.column_stack([np.tanh(rng.normal(size=n)), rng.normal(size=n), np.ones(n), np.zeros(n)])
    pref = np.clip(1 / (1 + np.exp(-(x @ [1.2, -0.6, 0.3, 0.0] + rng.normal(size=n)))), 0, 1)
    pref[:20] = 1.0  # hard preferences too (clipped into the open interval)
    pref = np.clip(pref, 1e-6, 1 - 1e-6)
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1 / n), size=3)])
    got = l1_logistic_batch(x, pref, weights, c)
    for w, coef in zip(weights, got, strict=True):
        model = LogisticRegression(
            C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=1e-12, max_iter=10**5
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(
                np.vstack([x, x]),
                np.r_[np.ones(n), np.zeros(n)],
                sample_weight=np.r_[pref * w, (1 - pref) * w],
            )
        assert np.allclose(coef, model.coef_[0], atol=1e-5), (coef, model.coef_[0])
        assert coef[3] == 0.0
