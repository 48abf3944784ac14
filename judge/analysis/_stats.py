"""Shared numerical machinery: the cluster bootstrap and metrics over count arrays.

Point estimates elsewhere delegate to scikit-learn, scipy and krippendorff. The
bootstrap needs the same figures for hundreds of resamples at once, so they are
computed here from additive per-item counts (confusion matrices, coincidence
matrices): a resample is a vector of item multiplicities ``w`` and its counts are
``w @ per_item_counts``, one matrix product for all resamples. The tests check these
formulas against the libraries on the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypedDict

import numpy as np
import pandas as pd

from judge.errors import ConfigError, did_you_mean

FloatArray = np.ndarray
NAN: Final = float("nan")
_CHUNK_ELEMENTS: Final = 1 << 23
"""Resample weights materialised at once (rows x items), to bound memory."""


class Bootstrap(TypedDict, total=False):
    """The bootstrap options of every analysis function that gives confidence intervals.

    Passed as keywords (``agreement_table(pairs, n_resamples=200, seed=1)``); the names,
    defaults and checks live here, in :func:`resampling`, for all of them.

    - ``n_resamples``: resamples of the units (items, or prompts for the controlled win
      rates); ``0`` gives no intervals (the ``_low`` / ``_high`` columns are NaN).
      Default 1000, 200 for the GLM-based controlled win rates.
    - ``confidence``: the two-sided level of the percentile intervals, in (0, 1); 0.95.
    - ``seed``: the seed of the resampling, so a table is reproducible; 0.
    """

    n_resamples: int
    confidence: float
    seed: int


def resampling(options: Mapping[str, Any], *, n_resamples: int = 1000) -> tuple[int, float, int]:
    """``(n_resamples, confidence, seed)`` from a function's ``**bootstrap`` keywords.

    Unknown keywords and values out of range are a :class:`ConfigError`, not a silent default.

    >>> resampling({"seed": 3})
    (1000, 0.95, 3)
    >>> resampling({"n_resample": 5})
    Traceback (most recent call last):
    ...
    judge.errors.ConfigError: unknown bootstrap option 'n_resample'; did you mean 'n_resamples'?
    """
    known = Bootstrap.__annotations__
    for key in options:
        if key not in known:
            raise ConfigError(f"unknown bootstrap option {key!r}{did_you_mean(key, known)}")
    n = options.get("n_resamples", n_resamples)
    confidence = options.get("confidence", 0.95)
    seed = options.get("seed", 0)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ConfigError(f"n_resamples must be a whole number >= 0, not {n!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, float | int | np.floating):
        raise ConfigError(f"confidence must be a number between 0 and 1, not {confidence!r}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), not {confidence!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed must be a whole number, not {seed!r}")
    return int(n), float(confidence), int(seed)


def cluster_counts(unit: np.ndarray, code: np.ndarray, n_units: int, n_codes: int) -> np.ndarray:
    """Per-unit histogram of ``code``: an ``(n_units, n_codes)`` array of counts.

    >>> cluster_counts(np.array([0, 0, 1]), np.array([2, 2, 0]), 2, 3).tolist()
    [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]
    """
    flat = np.bincount(unit * n_codes + code, minlength=n_units * n_codes)
    return flat.reshape(n_units, n_codes).astype(np.float64)


def resample_weights(n_units: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap multiplicities of ``n_units`` units, in chunks of ``(rows, n_units)``.

    The same ``(n_units, n_resamples, seed)`` always gives the same resamples, so
    figures computed on the same items share them (paired comparisons).
    """
    rng = np.random.default_rng(seed)
    rows = max(1, min(n_resamples, _CHUNK_ELEMENTS // max(n_units, 1)))
    done = 0
    while done < n_resamples:
        b = min(rows, n_resamples - done)
        if n_units == 0:
            yield np.zeros((b, 0))
        else:
            draws = rng.integers(0, n_units, size=(b, n_units))
            offsets = (np.arange(b) * n_units)[:, None]
            counts = np.bincount((draws + offsets).ravel(), minlength=b * n_units)
            yield counts.reshape(b, n_units).astype(np.float64)
        done += b


def bootstrap_sums(per_unit: np.ndarray, *, n_resamples: int, seed: int) -> np.ndarray:
    """Column sums of ``per_unit`` (units x features) under ``n_resamples`` resamples of units.

    >>> bootstrap_sums(np.ones((4, 2)), n_resamples=3, seed=0).tolist()
    [[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]]
    """
    per_unit = np.asarray(per_unit, dtype=np.float64)
    n_units = per_unit.shape[0]
    flat = per_unit.reshape(n_units, -1)
    parts = [w @ flat for w in resample_weights(n_units, n_resamples, seed)]
    out = np.concatenate(parts, axis=0) if parts else np.zeros((0, per_unit[0].size))
    return out.reshape(n_resamples, *per_unit.shape[1:])


def percentile_ci(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap ``samples`` (NaN resamples ignored).

    >>> [round(x, 6) for x in percentile_ci(np.arange(101.0), 0.9)]
    [5.0, 95.0]
    >>> percentile_ci(np.array([np.nan, np.nan]), 0.95)
    (nan, nan)
    """
    finite = samples[~np.isnan(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return (float(low), float(high))


def ci_columns(
    row: dict[str, Any],
    name: str,
    point: float,
    samples: np.ndarray | None,
    confidence: float,
) -> None:
    """Set ``row[name]`` to ``point`` and ``<name>_low`` / ``<name>_high`` to the percentile
    interval of ``samples`` (NaN bounds when there are no samples).

    >>> row = {}
    >>> ci_columns(row, "x", 0.5, None, 0.95)
    >>> row
    {'x': 0.5, 'x_low': nan, 'x_high': nan}
    """
    row[name] = point
    low, high = percentile_ci(samples, confidence) if samples is not None else (NAN, NAN)
    row[f"{name}_low"], row[f"{name}_high"] = low, high


def kappa_weights(n_classes: int, weights: str | None) -> np.ndarray:
    """Disagreement weights as scikit-learn uses them: 0/1, ``|i-j|`` or ``(i-j)^2``.

    >>> kappa_weights(3, "linear").tolist()
    [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    """
    index = np.arange(n_classes, dtype=np.float64)
    if weights is None:
        return 1.0 - np.eye(n_classes)
    diff = index[:, None] - index[None, :]
    return np.abs(diff) if weights == "linear" else diff**2


def kappa_from_confusion(
    confusion: np.ndarray, weights: np.ndarray, *, zero_division: float = float("nan")
) -> np.ndarray:
    """Cohen's kappa of each ``(..., K, K)`` confusion matrix (rows: rater 1).

    Same formula and undefined cases as :func:`sklearn.metrics.cohen_kappa_score`:
    no observations, or zero expected disagreement, give ``zero_division``.

    >>> float(kappa_from_confusion(np.array([[5.0, 1.0], [2.0, 4.0]]), kappa_weights(2, None)))
    0.5
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum(axis=(-1, -2))
    rows = confusion.sum(axis=-1)
    cols = confusion.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = rows[..., :, None] * cols[..., None, :] / total[..., None, None]
        observed_d = (weights * confusion).sum(axis=(-1, -2))
        expected_d = (weights * expected).sum(axis=(-1, -2))
        kappa = 1 - observed_d / expected_d
    undefined = (total == 0) | (expected_d == 0)
    return np.where(undefined, zero_division, kappa)


def ordinal_distances(marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's squared ordinal distances from value marginals ``(..., K)``."""
    cumulative = np.cumsum(marginals, axis=-1)
    # sum_{g=c}^{k} n_g - (n_c + n_k) / 2 for c <= k
    k = marginals.shape[-1]
    lo = np.minimum(np.arange(k)[:, None], np.arange(k)[None, :])
    hi = np.maximum(np.arange(k)[:, None], np.arange(k)[None, :])
    below = np.where(lo > 0, np.take(cumulative, np.maximum(lo - 1, 0), axis=-1), 0.0)
    between = np.take(cumulative, hi, axis=-1) - below
    half = (marginals[..., :, None] + marginals[..., None, :]) / 2
    return np.asarray((between - half) ** 2)


def coincidences(value_counts: np.ndarray) -> np.ndarray:
    """Per-unit coincidence matrices ``(units, K, K)`` from value counts ``(units, K)``.

    Units with fewer than two values are not pairable and contribute nothing.
    """
    counts = np.asarray(value_counts, dtype=np.float64)
    m = counts.sum(axis=1)
    pairable = m >= 2
    outer = counts[:, :, None] * counts[:, None, :]
    outer -= counts[:, :, None] * np.eye(counts.shape[1])[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = outer / (m - 1)[:, None, None]
    return np.where(pairable[:, None, None], scaled, 0.0)


def alpha_from_coincidences(
    coincidence: np.ndarray, level: str, *, zero_division: float = float("nan")
) -> np.ndarray:
    """Krippendorff's alpha of each ``(..., K, K)`` coincidence matrix (nominal or ordinal).

    Zero expected disagreement (one value used, or nothing pairable) gives ``zero_division``.
    """
    o = np.asarray(coincidence, dtype=np.float64)
    marginals = o.sum(axis=-1)
    n = marginals.sum(axis=-1)
    k = o.shape[-1]
    if level == "nominal":
        distance = np.broadcast_to(1.0 - np.eye(k), o.shape)
    elif level == "ordinal":
        distance = ordinal_distances(marginals)
    else:
        raise ValueError(f"level must be nominal or ordinal, not {level!r}")
    expected = marginals[..., :, None] * marginals[..., None, :]
    expected = expected - np.eye(k) * marginals[..., :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = expected / (n - 1)[..., None, None]
        observed_d = (o * distance).sum(axis=(-1, -2))
        expected_d = (expected * distance).sum(axis=(-1, -2))
        alpha = 1 - observed_d / expected_d
    undefined = ~(expected_d > 0) | ~(n > 1)
    return np.where(undefined, zero_division, alpha)


def bootstrap_ci(
    per_unit: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    n_resamples: int,
    seed: int,
    confidence: float,
) -> tuple[float, float]:
    """Percentile CI of ``statistic`` (vectorised over resampled unit sums).

    ``statistic`` takes the resampled sums, shape ``(n_resamples, *per_unit.shape[1:])``.
    ``n_resamples=0`` gives ``(nan, nan)``.
    """
    if n_resamples <= 0 or per_unit.shape[0] == 0:
        return (float("nan"), float("nan"))
    sums = bootstrap_sums(per_unit, n_resamples=n_resamples, seed=seed)
    return percentile_ci(np.asarray(statistic(sums), dtype=np.float64), confidence)


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with NaN where the denominator is 0.

    >>> safe_ratio(np.array([1.0, 1.0]), np.array([2.0, 0.0])).tolist()
    [0.5, nan]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(denominator > 0, denominator, 1)
        return np.where(denominator > 0, numerator / safe, np.nan)


def sum_by_unit(unit: np.ndarray, values: np.ndarray, n_units: int) -> np.ndarray:
    """Sum the rows of ``values`` (rows x ...) that share a unit: ``(n_units, ...)``.

    >>> sum_by_unit(np.array([1, 0, 1]), np.array([[1.0], [2.0], [3.0]]), 2).tolist()
    [[2.0], [4.0]]
    """
    from scipy import sparse

    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(values.shape[0], -1)
    rows = len(unit)
    matrix = sparse.csr_matrix(
        (np.ones(rows), (np.asarray(unit, dtype=np.int64), np.arange(rows))), shape=(n_units, rows)
    )
    return np.asarray(matrix @ flat).reshape(n_units, *values.shape[1:])


def item_units(item_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Bootstrap units of rows: a code per distinct item id (first seen first), and their count.

    >>> unit, n_units = item_units(np.array(["b", "a", "b"]))
    >>> unit.tolist(), n_units
    ([0, 1, 0], 2)
    """
    unit, _ = pd.factorize(item_ids)
    return unit, (int(unit.max()) + 1 if len(unit) else 0)


def resampled_unit_sums(
    unit: np.ndarray, features: np.ndarray, n_units: int, *, n_resamples: int, seed: int
) -> np.ndarray | None:
    """Per-unit sums of ``features`` (rows x ...) under ``n_resamples`` resamples of units:
    :func:`sum_by_unit` then :func:`bootstrap_sums`; None without resamples or units."""
    if n_resamples <= 0 or n_units == 0:
        return None
    per_unit = sum_by_unit(unit, features, n_units)
    return bootstrap_sums(per_unit, n_resamples=n_resamples, seed=seed)


def l1_logistic_batch(
    x: np.ndarray,
    pref: np.ndarray,
    weights: np.ndarray,
    c: np.ndarray | float,
    *,
    tol: float = 1e-9,
    max_iter: int = 200,
) -> np.ndarray:
    """Coefficients ``(B, p)`` of ``B`` L1-penalised logistic regressions at once.

    Problem ``b`` minimises ``|w|_1 + c[b] * sum_i weights[b, i] * loss_i(w)`` with the
    probability-target log loss ``loss_i = pref_i log(1 + e^-z) + (1 - pref_i)
    log(1 + e^z)``, ``z = x_i . w``, no intercept: the objective scikit-learn's
    ``LogisticRegression(l1_ratio=1, solver="liblinear", fit_intercept=False, C=c)``
    minimises when each row enters twice (a win weighted by ``pref``, a loss by
    ``1 - pref``). For the bootstrap and the cross-validation of a small dense design,
    where hundreds of refits through scikit-learn cost milliseconds each in per-call
    overhead; ``tests/test_analysis_metrics.py`` checks the solutions against
    liblinear's.

    Proximal Newton (as liblinear's newGLMNET): a quadratic model of the loss, its L1
    problem solved by coordinate descent, a backtracking line search on the objective;
    it stops when every problem's step is below ``tol``.

    >>> x = np.array([[1.0, 0.5], [1.0, -0.5], [1.0, 2.0]])
    >>> w = l1_logistic_batch(x, np.array([0.9, 0.2, 0.8]), np.ones((1, 3)), 1e4)
    >>> bool(abs(w[0, 1]) > 0), w.shape
    (True, (1, 2))
    """
    x = np.asarray(x, dtype=np.float64)
    pref = np.asarray(pref, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n_problems, p = weights.shape[0], x.shape[1]
    scale = np.broadcast_to(np.asarray(c, dtype=np.float64), (n_problems,))
    sw = weights * scale[:, None]  # (B, n): the loss weight of each row in each problem

    from scipy.special import expit

    w = np.zeros((n_problems, p))
    value = _l1_objective(w, x, pref, sw)
    active = np.ones(n_problems, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        wa, swa = w[active], sw[active]
        z = wa @ x.T
        prob = expit(z)
        grad = (swa * (prob - pref)) @ x  # (b, p)
        hess = np.einsum("bn,ni,nj->bij", swa * prob * (1.0 - prob), x, x)
        diag = np.einsum("bii->bi", hess)
        d = np.zeros_like(wa)
        for _sweep in range(50):
            moved = np.zeros(len(wa))
            for j in range(p):
                g_j = grad[:, j] + np.einsum("bi,bi->b", hess[:, j, :], d)
                h_j = diag[:, j]
                with np.errstate(divide="ignore", invalid="ignore"):
                    target = wa[:, j] + d[:, j] - g_j / h_j
                    new = np.sign(target) * np.maximum(np.abs(target) - 1.0 / h_j, 0.0)
                new = np.where(h_j > 1e-12, new, 0.0)  # a column without weight: 0
                step = new - wa[:, j]
                moved = np.maximum(moved, np.abs(step - d[:, j]))
                d[:, j] = step
            if moved.max(initial=0.0) <= tol * 0.1:
                break
        # backtracking (Armijo, as newGLMNET: sigma 0.01) on the full objective
        decrease = (
            np.einsum("bi,bi->b", grad, d) + np.abs(wa + d).sum(axis=1) - np.abs(wa).sum(axis=1)
        )
        t = np.ones(len(wa))
        old = value[active]
        new_w, new_value = wa.copy(), old.copy()  # no decrease found: stay, at the optimum
        pending = np.ones(len(wa), dtype=bool)
        for _halving in range(40):
            trial = wa + t[:, None] * d
            trial_value = _l1_objective(trial, x, pref, swa)
            take = pending & (trial_value <= old + 0.01 * t * decrease)
            new_w[take], new_value[take] = trial[take], trial_value[take]
            pending &= ~take
            if not pending.any():
                break
            t = np.where(pending, t * 0.5, t)
        done = (np.abs(new_w - wa).max(axis=1) <= tol) | pending
        index = np.flatnonzero(active)
        w[index], value[index] = new_w, new_value
        active[index[done]] = False
    return w


def _l1_objective(w: np.ndarray, x: np.ndarray, pref: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """The objective of :func:`l1_logistic_batch` for each row of ``w`` (weights ``sw``
    already scaled by ``c``)."""
    z = w @ x.T
    loss = np.logaddexp(0.0, z) - pref * z
    return np.asarray((sw * loss).sum(axis=1) + np.abs(w).sum(axis=1))
