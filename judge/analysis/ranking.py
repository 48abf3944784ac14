"""Ranking the compared systems from a judge's pair verdicts.

:func:`win_rates` counts wins, ties and losses of each model against each opponent
(``model_a`` / ``model_b`` of the items) with bootstrap bounds over items;
:func:`bradley_terry` fits Bradley-Terry strengths by maximum likelihood (a tie is
half a win for each side) with bootstrap bounds, for any number of models.
Unparsed and errored verdicts are not battles: their count is reported beside.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple, Unpack

import numpy as np
import pandas as pd

from judge.analysis._pairs import _groups
from judge.analysis._stats import (
    Bootstrap,
    ci_columns,
    item_units,
    resampled_unit_sums,
    resampling,
    safe_ratio,
)
from judge.analysis.frame import (
    CODE_A,
    CODE_B,
    CODE_TIE,
    expect_columns,
    expect_frame,
    verdict_codes,
)

NAN: Final = float("nan")
ELO_SCALE: Final = 400 / math.log(10)
"""Strength (natural log-odds) -> Elo points, as Chatbot Arena reports them."""
ELO_BASE: Final = 1000.0


def _category_index(values: pd.Series, names: pd.Index) -> np.ndarray:
    """Positions of a (categorical) column's values in ``names``; -1 where missing."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    lookup = names.get_indexer(values.cat.categories.astype(str))
    codes = np.asarray(values.cat.codes, dtype=np.int64)
    return np.where(codes >= 0, lookup[codes], -1)


class _Battles(NamedTuple):
    names: list[str]
    """The models, sorted."""
    a: np.ndarray
    """Model index of response A, per ok battle."""
    b: np.ndarray
    verdict: np.ndarray
    """Verdict code, per ok battle."""
    failed: np.ndarray
    """Pairs without an ok verdict (unparsed, error; inconsistent under ``both_orders``):
    not battles. Counted per pair of models (m x m, symmetric; a model against itself
    on the diagonal)."""
    items: pd.Series
    """Item, per pair with both models ..."""
    ok: np.ndarray
    """... and which of those pairs are battles."""

    def units(self) -> tuple[np.ndarray, int]:
        """The item of each ok battle as a bootstrap unit, and the number of units."""
        return item_units(self.items.to_numpy()[self.ok])


def _battles(group: pd.DataFrame) -> _Battles:
    """The ok battles of a group's pairs that name both models."""
    has_models = (group["model_a"].notna() & group["model_b"].notna()).to_numpy()
    group = group[has_models]
    ok = (group["status"] == "ok").to_numpy()
    present = [str(v) for column in ("model_a", "model_b") for v in group[column].unique()]
    index = pd.Index(sorted(set(present)))
    a = _category_index(group["model_a"], index)
    b = _category_index(group["model_b"], index)
    verdict = verdict_codes(group["verdict"]).astype(np.int64)
    failed = np.zeros((len(index), len(index)), dtype=np.int64)
    np.add.at(failed, (a[~ok], b[~ok]), 1)
    failed = failed + failed.T - np.diag(np.diag(failed))  # both ways; the diagonal once
    return _Battles(list(index), a[ok], b[ok], verdict[ok], failed, group["item_id"], ok)


def _tournaments(
    pairs: pd.DataFrame, by: Sequence[str]
) -> Iterator[tuple[dict[str, Any], _Battles, np.ndarray]]:
    """Per group of ``by`` with at least two models: its keys, battles and win features."""
    for keys, group in _groups(pairs, by):
        battles = _battles(group)
        m = len(battles.names)
        if m >= 2:
            yield keys, battles, _win_features(battles.a, battles.b, battles.verdict, m)


def _resampled(
    battles: _Battles, features: np.ndarray, n_resamples: int, seed: int
) -> np.ndarray | None:
    """Per-item sums of per-battle ``features``, resampled over items; None without resamples."""
    if n_resamples <= 0:
        return None
    unit, n_units = battles.units()
    return resampled_unit_sums(unit, features, n_units, n_resamples=n_resamples, seed=seed)


def _win_features(a: np.ndarray, b: np.ndarray, verdict: np.ndarray, m: int) -> np.ndarray:
    """Per battle: wins (m x m, row beats column, a tie half each way) and games (m x m)."""
    n = len(a)
    rows = np.arange(n)
    wins = np.zeros((n, m, m))
    games = np.zeros((n, m, m))
    a_win = (verdict == CODE_A).astype(float) + 0.5 * (verdict == CODE_TIE)
    b_win = (verdict == CODE_B).astype(float) + 0.5 * (verdict == CODE_TIE)
    wins[rows, a, b] = a_win
    wins[rows, b, a] = b_win
    games[rows, a, b] = 1.0
    games[rows, b, a] = 1.0
    return np.concatenate([wins.reshape(n, m * m), games.reshape(n, m * m)], axis=1)


def win_rates(
    pairs: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Wins, ties and losses of each model against each opponent (and ``all`` of them).

    ``win_rate`` is ``(wins + ties / 2) / battles``. Columns: group keys, ``model``,
    ``opponent``, ``battles``, ``wins``, ``ties``, ``losses``, ``win_rate`` with bounds,
    ``n_failed`` (the pairs of this model and this opponent, or every opponent for
    ``all``, without an ok verdict: unparsed, error, or inconsistent under
    ``both_orders``; not battles).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "win_rates")
    rows = []
    for keys, battles, features in _tournaments(pairs, expect_columns(pairs, by, "win_rates")):
        names, a, b, verdict = battles.names, battles.a, battles.b, battles.verdict
        m = len(names)
        sums = _resampled(battles, features, n_resamples, seed)
        wins = features[:, : m * m].sum(axis=0).reshape(m, m)
        games = features[:, m * m :].sum(axis=0).reshape(m, m)
        outright = np.zeros((m, m))
        np.add.at(outright, (a[verdict == CODE_A], b[verdict == CODE_A]), 1)
        np.add.at(outright, (b[verdict == CODE_B], a[verdict == CODE_B]), 1)
        ties = np.zeros((m, m))
        np.add.at(ties, (a[verdict == CODE_TIE], b[verdict == CODE_TIE]), 1)
        ties = ties + ties.T
        for i, model in enumerate(names):
            for j, opponent in [*enumerate(names), (-1, "all")]:
                if j == i or (j >= 0 and games[i, j] == 0):
                    continue
                cols = [j] if j >= 0 else [k for k in range(m) if k != i]
                n_games = games[i, cols].sum()
                row: dict[str, Any] = {
                    **keys,
                    "model": model,
                    "opponent": opponent,
                    "battles": int(n_games),
                    "wins": int(outright[i, cols].sum()),
                    "ties": int(ties[i, cols].sum()),
                    "losses": int(outright[cols, i].sum()),
                    "win_rate": float(safe_ratio(wins[i, cols].sum(), n_games)),
                    "n_failed": int(battles.failed[i, cols].sum()),
                }
                samples = None
                if sums is not None:
                    w = sums[:, : m * m].reshape(-1, m, m)[:, i, cols].sum(axis=1)
                    g = sums[:, m * m :].reshape(-1, m, m)[:, i, cols].sum(axis=1)
                    samples = safe_ratio(w, g)
                ci_columns(row, "win_rate", row["win_rate"], samples, confidence)
                rows.append(row)
    return pd.DataFrame(rows)


def fit_bradley_terry(
    wins: np.ndarray, *, l2: float = 1e-4, start: np.ndarray | None = None
) -> np.ndarray:
    """Bradley-Terry log-strengths from a ``wins[i, j]`` matrix (i beat j; ties as halves).

    Maximises ``sum_ij wins[i,j] log sigmoid(theta_i - theta_j) - l2/2 |theta|^2``
    (the small ridge keeps an unbeaten model finite and fixes the scale's origin:
    the strengths sum to zero). This is an L2-penalised logistic regression without
    intercept on ``x = e_i - e_j`` (the tests check it against scikit-learn's
    ``LogisticRegression(fit_intercept=False)``). ``start`` warm-starts the optimiser
    (the bootstrap starts each resample from the point estimate).

    >>> theta = fit_bradley_terry(np.array([[0.0, 3.0], [1.0, 0.0]]), l2=0.0)
    >>> round(float(theta[0] - theta[1]), 4) == round(math.log(3), 4)
    True
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    wins = np.asarray(wins, dtype=np.float64)
    m = wins.shape[0]
    games = wins + wins.T

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        diff = theta[:, None] - theta[None, :]
        value = -(wins * log_expit(diff)).sum() + l2 / 2 * theta @ theta
        gradient = -(wins - games * expit(diff)).sum(axis=1) + l2 * theta
        return float(value), gradient

    result = minimize(
        objective,
        np.zeros(m) if start is None else np.asarray(start, dtype=np.float64),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000},
    )
    theta = np.asarray(result.x)
    return theta - theta.mean() if l2 == 0 else theta


def fit_bradley_terry_batch(
    wins: np.ndarray, *, l2: float = 1e-4, start: np.ndarray | None = None
) -> np.ndarray:
    """:func:`fit_bradley_terry` for a stack of ``(B, m, m)`` win matrices at once.

    Newton's method on all of them together (the Hessian is ``m x m`` per matrix), for
    the bootstrap; ``start`` (``(m,)`` or ``(B, m)``) should be near the solution, e.g.
    the point estimate. The tests check it against :func:`fit_bradley_terry`.
    """
    from scipy.special import expit

    wins = np.asarray(wins, dtype=np.float64)
    b, m, _ = wins.shape
    games = wins + np.swapaxes(wins, 1, 2)
    theta = np.zeros((b, m)) if start is None else np.broadcast_to(start, (b, m)).copy()
    ridge = max(l2, 1e-9) * np.eye(m)
    for _ in range(100):
        diff = theta[:, :, None] - theta[:, None, :]
        p = expit(diff)
        gradient = -(wins - games * p).sum(axis=2) + l2 * theta
        weight = games * p * (1 - p)
        hessian = -weight + np.einsum("bi,ij->bij", weight.sum(axis=2), np.eye(m)) + ridge
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta - theta.mean(axis=1, keepdims=True) if l2 == 0 else theta


def bradley_terry(
    pairs: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    l2: float = 1e-4,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Bradley-Terry strengths of the models per group, with bootstrap bounds over items.

    Columns: group keys, ``model``, ``strength`` (log-odds, summing to zero) with
    ``_low`` / ``_high``, ``elo`` (``1000 + 400 * strength / ln 10``), ``rank`` (1 = best),
    ``rank_range`` (the ranks the intervals allow, e.g. ``"1-3"``:
    :func:`judge.analysis.controlled.rank_ranges`), ``never_wins`` (no win and no tie: its
    strength is set by the ridge alone), ``battles``, ``n_failed`` (the pairs involving
    this model without an ok verdict: unparsed, error, or inconsistent under
    ``both_orders``; not battles, so not in its strength).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "bradley_terry")
    from judge.analysis.controlled import rank_ranges

    rows = []
    by = expect_columns(pairs, by, "bradley_terry")
    for keys, tournament, features in _tournaments(pairs, by):
        names = tournament.names
        m = len(names)
        wins = features[:, : m * m].sum(axis=0).reshape(m, m)
        theta = fit_bradley_terry(wins, l2=l2)
        samples = None
        sums = _resampled(tournament, features[:, : m * m], n_resamples, seed)
        if sums is not None:
            samples = fit_bradley_terry_batch(sums.reshape(-1, m, m), l2=l2, start=theta)
        battles = features[:, m * m :].sum(axis=0).reshape(m, m).sum(axis=1)
        order = np.argsort(-theta)
        ranks = np.empty(m, dtype=int)
        ranks[order] = np.arange(1, m + 1)
        for i, model in enumerate(names):
            row: dict[str, Any] = {**keys, "model": model}
            strength = float(theta[i])
            model_samples = None if samples is None else samples[:, i]
            ci_columns(row, "strength", strength, model_samples, confidence)
            row["elo"] = ELO_BASE + ELO_SCALE * strength
            row["rank"] = int(ranks[i])
            row["never_wins"] = bool(wins[i].sum() == 0)
            row["battles"] = int(battles[i])
            row["n_failed"] = int(tournament.failed[i].sum())
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.sort_values([*by, "rank"]).reset_index(drop=True)
    ranges = {
        i: r
        for _, g in out.groupby(by, sort=False, observed=True)
        for i, r in zip(g.index, rank_ranges(g, "strength"), strict=True)
    }
    out.insert(int(out.columns.get_loc("rank")) + 1, "rank_range", pd.Series(ranges))
    return out


def summary(frame: pd.DataFrame, *, reconcile: str | None = None) -> dict[str, Any]:
    """The short post-run summary; see :func:`judge.analysis.summary.run_summary`."""
    from judge.analysis.summary import run_summary

    return run_summary(frame, reconcile=reconcile)
