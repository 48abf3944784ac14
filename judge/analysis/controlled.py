"""Length- and style-controlled model comparison, over the pair frame.

:func:`win_rates_three_ways` gives each model's win rate three ways, against a baseline
(``baseline=``) or against every other model (a round robin):

- ``discrete``: 100 x mean of 1 / 0.5 / 0 for a win / tie / loss, where a verdict with
  probabilities counts as a win when P(model wins) > 0.5 (AlpacaEval's
  ``discrete_win_rate``);
- ``weighted``: 100 x mean P(model wins) (+ half the tie probability); the discrete
  outcome where the judge gave no probabilities (AlpacaEval's ``win_rate``);
- ``lc``: AlpacaEval 2.0's length-controlled win rate. Per model, a logistic GLM of the
  preference (a probability target) on ``tanh(std_delta_len)`` (the opponent's minus the
  model's length in characters, over its standard deviation across the model's pairs),
  an instruction-difficulty term and a constant, L1-penalised with the penalty chosen by
  5-fold cross-validation grouped by prompt (AlpacaEval's ``length_controlled_v1``
  formula, ``fit_intercept=False`` with the constant as a column; fitted with
  scikit-learn's liblinear). LC = 100 x mean over the model's pairs of the GLM's
  prediction with the length term at 0. The instruction difficulty is read from the
  user (a per-prompt value) or estimated jointly across the compared models as
  AlpacaEval fits its own (its ``notebooks/instruction_difficulty.ipynb``): the
  per-prompt effects of one L1 logistic regression with a constant and a length slope
  per model, the penalty chosen by 5-fold cross-validation over the annotations, the
  same grid and criterion as the per-model GLM (nothing is chosen against published
  figures). Annotations of length-gamed baseline variants (``gamed=``) join every
  model's fit with their own constant and sample weight ``gamed_weight`` split between
  them, which pulls the length slope towards the one they reveal (AlpacaEval's
  regularisation to its gamed baselines).

Each comes with a standard error (the sample standard error of the mean for the first
two, the bootstrap standard deviation for LC) and a percentile bootstrap interval over
prompts; LC's bootstrap refits the GLM at the penalty chosen on the full data.

:func:`style_controlled` fits Bradley-Terry with Arena-Hard's style covariates (its
``show_result.py``): the normalised length difference ``(len_m - len_o) / (len_m + len_o)``
and, for headers, list items and bold spans, the difference of densities (count per
character) ``(d_m - d_o) / (d_m + d_o + 1)``; each covariate is standardised over the
battles. Its controlled strengths and the covariates' coefficients come with bootstrap
intervals, beside the plain Bradley-Terry fit. :func:`rank_ranges` turns intervals into
the ranks a model could hold. :func:`system_agreement` correlates two rankings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Unpack

import numpy as np
import pandas as pd

from judge.analysis._pairs import _groups
from judge.analysis._stats import Bootstrap, ci_columns, l1_logistic_batch, resampling
from judge.analysis.frame import expect_columns, expect_frame
from judge.analysis.winrate import preferences
from judge.errors import ConfigError, DataError, did_you_mean

NAN: Final = float("nan")
C_GRID: Final = np.logspace(-4, 4, 10)
"""Inverse penalties tried by the cross-validation (scikit-learn's default ``Cs=10``)."""
STYLE_COVARIATES: Final[tuple[str, ...]] = ("length", "headers", "lists", "bold")
WAYS: Final[tuple[str, ...]] = ("discrete", "weighted", "lc")


def perspective(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each pair with a verdict twice: once from each model's side.

    Columns: ``run``, ``judge``, ``prompt_key``, ``item_id``, ``model``, ``opponent``,
    ``preference`` (P(model wins), ties half), ``discrete`` (1 / 0.5 / 0),
    ``len_self``, ``len_opp`` and the markdown counts ``headers_self`` ... ``bold_opp``.
    """
    pref = preferences(pairs)
    keep = (
        ~np.isnan(pref) & pairs["model_a"].notna().to_numpy() & pairs["model_b"].notna().to_numpy()
    )
    p = pairs[keep]
    pref = pref[keep]
    base = {
        "run": p["run"].astype(str).to_numpy(),
        "judge": p["judge"].astype(str).to_numpy(),
        "prompt_key": p["prompt_key"].astype(str).to_numpy(),
        "item_id": p["item_id"].astype(str).to_numpy(),
    }
    sides = []
    for me, other, pm in (("b", "a", pref), ("a", "b", 1 - pref)):
        side = {
            **base,
            "model": p[f"model_{me}"].astype(str).to_numpy(),
            "opponent": p[f"model_{other}"].astype(str).to_numpy(),
            "preference": pm,
            "discrete": np.select([pm > 0.5, pm < 0.5], [1.0, 0.0], 0.5),
            "len_self": p[f"len_{me}"].to_numpy(dtype=np.float64),
            "len_opp": p[f"len_{other}"].to_numpy(dtype=np.float64),
        }
        for name in ("headers", "lists", "bold"):
            for who, s in (("self", me), ("opp", other)):
                column = f"{name}_{s}"
                side[f"{name}_{who}"] = (
                    p[column].to_numpy(dtype=np.float64) if column in p else np.full(len(p), NAN)
                )
        frame = pd.DataFrame(side)
        if me == "a":  # a model judged against itself appears once
            frame = frame[frame["model"] != frame["opponent"]]
        sides.append(frame)
    return pd.concat(sides, ignore_index=True)


def read_difficulty(path: str | Path) -> pd.Series:
    """A user's instruction difficulty: a CSV with ``prompt_key`` (or ``instruction``, the
    prompt text) and ``instruction_difficulty`` columns; returned indexed by prompt key."""
    import hashlib

    source = Path(path)
    try:
        table = pd.read_csv(source)
    except (OSError, ValueError) as exc:
        raise DataError(f"{source}: cannot read the difficulty file: {exc}") from exc
    if "instruction_difficulty" not in table:
        raise DataError(f"{source}: no instruction_difficulty column")
    if "prompt_key" in table:
        keys = table["prompt_key"].astype(str)
    elif "instruction" in table:
        keys = (
            table["instruction"]
            .astype(str)
            .map(lambda t: hashlib.sha1(t.encode("utf-8")).hexdigest()[:12])
        )
    else:
        raise DataError(f"{source}: needs a prompt_key or instruction column")
    values = pd.to_numeric(table["instruction_difficulty"], errors="coerce")
    bad = values.isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{source}, line {line}: instruction_difficulty is not a number")
    return pd.Series(values.to_numpy(), index=keys.to_numpy())


def _tanh_len(rows: pd.DataFrame) -> np.ndarray:
    delta = (rows["len_opp"] - rows["len_self"]).to_numpy(dtype=np.float64)
    sd = float(np.std(delta, ddof=1)) if len(delta) > 1 else 0.0
    return np.tanh(delta / sd) if sd > 0 else np.zeros(len(delta))


def estimate_difficulty(rows: pd.DataFrame, *, c: float | None = None) -> pd.Series:
    """Per-prompt difficulty, estimated jointly over the models of ``rows``
    (:func:`perspective` rows), as AlpacaEval fits its ``instruction_difficulty``: one
    logistic regression of the preference on a constant and a ``tanh`` length slope per
    model and an effect per prompt (the prompt effects enter with coefficient 1), L1
    (scikit-learn, liblinear) with the inverse penalty ``c``, or, by default, the one of
    :data:`C_GRID` of least held-out log loss in 5-fold cross-validation over the
    annotations (each fold holds out a fifth of the rows; their prompts and models stay
    in the training folds through the other rows). The prompt effects, centred, are the
    difficulty."""
    from scipy import sparse
    from sklearn.model_selection import KFold

    rows = rows[rows["model"] != rows["opponent"]]
    if rows.empty:
        return pd.Series(dtype=np.float64)
    models, model_idx = np.unique(rows["model"].to_numpy(), return_inverse=True)
    prompts, prompt_idx = np.unique(rows["prompt_key"].to_numpy(), return_inverse=True)
    tanh = np.concatenate([_tanh_len(g) for _, g in rows.groupby("model", sort=True)])
    order = np.argsort(model_idx, kind="stable")
    x_tanh = np.empty(len(rows))
    x_tanh[order] = tanh
    n, m = len(rows), len(models)
    r = np.arange(n)
    design = sparse.hstack(
        [
            sparse.csr_matrix((np.ones(n), (r, model_idx)), shape=(n, m)),
            sparse.csr_matrix((x_tanh, (r, model_idx)), shape=(n, m)),
            sparse.csr_matrix((np.ones(n), (r, prompt_idx)), shape=(n, len(prompts))),
        ]
    ).tocsr()
    pref = rows["preference"].to_numpy(dtype=np.float64)
    weight = np.ones(n)
    if c is None and n > 1:
        folds = list(KFold(n_splits=min(5, n), shuffle=True, random_state=123).split(r))
        c = _choose_c(design, pref, weight, folds)
    elif c is None:
        c = float(C_GRID[-1])
    effect = _fit(design, pref, weight, c).coef_[0, 2 * m :]
    return pd.Series(effect - effect.mean(), index=prompts)


def _fit(x: Any, pref: np.ndarray, weight: np.ndarray, c: float) -> Any:
    """The L1-penalised logistic GLM with a probability target (each row twice: as a
    win weighted by P and as a loss weighted by 1 - P), through scikit-learn's
    liblinear; ``x`` dense or sparse. The difficulty estimate (a sparse design with a
    column per prompt) fits it; the small dense LC designs go through
    :func:`_fit_dense`, the same objective for many weightings at once."""
    from scipy import sparse
    from sklearn import config_context
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(
        C=c, l1_ratio=1.0, solver="liblinear", fit_intercept=False, random_state=123
    )
    keep = weight > 0
    if not keep.all() and keep.any():  # a row of weight 0 (not drawn) adds nothing
        x, pref, weight = x[keep], pref[keep], weight[keep]
    n = x.shape[0]
    # a preference of exactly 0 or 1 everywhere would leave one class without weight,
    # which liblinear drops (mislabelling the other): keep both classes present
    pref = np.clip(pref, PREF_FLOOR, 1 - PREF_FLOOR)
    # the inputs are finite by construction: skip scikit-learn's per-call checks (they
    # cost as much as the solver: 51 fits per difficulty estimate)
    with config_context(assume_finite=True, skip_parameter_validation=True):
        model.fit(
            sparse.vstack([x, x]).tocsr() if sparse.issparse(x) else np.vstack([x, x]),
            np.r_[np.ones(n), np.zeros(n)],
            sample_weight=np.r_[pref * weight, (1 - pref) * weight],
        )
    return model


def _predict(model: Any, x: Any) -> np.ndarray:
    """P(win) of a fitted :func:`_fit` GLM: the logistic of ``x @ coef`` (no intercept),
    what ``predict_proba`` returns, without its per-call input checks."""
    from scipy.special import expit

    return np.asarray(expit(x @ model.coef_[0]))


PREF_FLOOR: Final = 1e-6
"""Preferences enter the GLM fits clipped to [PREF_FLOOR, 1 - PREF_FLOOR]."""


def _choose_c(
    x: Any,
    pref: np.ndarray,
    weight: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> float:
    """The inverse penalty of :data:`C_GRID` with the least held-out log loss summed over
    ``folds`` (each fold's weighted mean, as scikit-learn's ``LogisticRegressionCV``
    sums its folds' scores). A dense design fits every fold and penalty at once
    (:func:`_fit_dense`); the sparse difficulty design goes through scikit-learn."""
    from scipy import sparse
    from scipy.special import expit

    losses = np.zeros(len(C_GRID))
    if not sparse.issparse(x):
        masks = np.zeros((len(folds), x.shape[0]))
        for f, (train, _test) in enumerate(folds):
            masks[f, train] = 1.0
        # problem f * len(C_GRID) + k: fold f's training rows at penalty C_GRID[k]
        coef = _fit_dense(
            x,
            pref,
            np.repeat(masks * weight, len(C_GRID), axis=0),
            np.tile(C_GRID, len(folds)),
        ).reshape(len(folds), len(C_GRID), -1)
        for f, (_train, test) in enumerate(folds):
            p, w = pref[test, None], weight[test, None]
            losses += _log_loss(p, w, expit(x[test] @ coef[f].T))  # (rows, grid)
        return float(C_GRID[int(np.argmin(losses))])
    for train, test in folds:
        for k, c in enumerate(C_GRID):
            model = _fit(x[train], pref[train], weight[train], float(c))
            losses[k] += float(_log_loss(pref[test], weight[test], _predict(model, x[test])))
    return float(C_GRID[int(np.argmin(losses))])


def _log_loss(p: np.ndarray, w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Weighted mean log loss of predictions ``q`` for preferences ``p`` over the rows
    (axis 0), ``q`` clipped away from 0 and 1."""
    q = np.clip(q, 1e-15, 1 - 1e-15)
    return np.asarray(-np.mean(w * (p * np.log(q) + (1 - p) * np.log(1 - q)), axis=0))


def _fit_dense(
    x: np.ndarray, pref: np.ndarray, weights: np.ndarray, c: np.ndarray | float
) -> np.ndarray:
    """Coefficients ``(B, p)`` of the :func:`_fit` GLM for each row of ``weights`` at
    once (:func:`~judge.analysis._stats.l1_logistic_batch`, the same objective), for
    the small dense designs of the LC fits: their bootstrap and cross-validation
    refit it hundreds of times."""
    return l1_logistic_batch(x, np.clip(pref, PREF_FLOOR, 1 - PREF_FLOOR), weights, c)


def _prompt_folds(groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """5-fold splits grouped by prompt (fewer when there are fewer prompts)."""
    from sklearn.model_selection import GroupKFold

    n_splits = min(5, len(np.unique(groups)))
    if n_splits < 2:
        return []
    return list(GroupKFold(n_splits=n_splits).split(groups, groups=groups))


def _lc_design(
    rows: pd.DataFrame,
    difficulty: pd.Series,
    gamed: Sequence[pd.DataFrame],
    gamed_weight: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Training design (model rows, then gamed rows), preferences, weights, prompt groups,
    the test design (length at 0) and the number of the model's rows."""
    diff = difficulty.reindex(rows["prompt_key"].to_numpy()).fillna(0.0).to_numpy()
    x = np.column_stack([_tanh_len(rows), diff, np.ones(len(rows))])
    test = x.copy()
    test[:, 0] = 0.0
    parts_x, parts_p, parts_w, parts_g = [x], [rows["preference"].to_numpy()], [], []
    parts_w.append(np.ones(len(rows)))
    parts_g.append(rows["prompt_key"].to_numpy())
    for g in gamed:
        gd = difficulty.reindex(g["prompt_key"].to_numpy()).fillna(0.0).to_numpy()
        parts_x.append(np.column_stack([_tanh_len(g), gd, np.zeros(len(g))]))
        parts_p.append(g["preference"].to_numpy())
        parts_w.append(np.full(len(g), gamed_weight / len(gamed)))
        parts_g.append(g["prompt_key"].to_numpy())
    return (
        np.vstack(parts_x),
        np.concatenate(parts_p).astype(np.float64),
        np.concatenate(parts_w),
        np.concatenate(parts_g),
        test,
        len(rows),
    )


def _bootstrap_counts(
    prompts: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resamples of prompts: the distinct prompts, each row's prompt index, and how often
    each prompt is drawn per resample ``(B, prompts)``."""
    keys, unit = np.unique(prompts, return_inverse=True)
    counts = rng.multinomial(len(keys), np.full(len(keys), 1 / len(keys)), size=n_resamples)
    return keys, unit, counts.astype(np.float64)


def win_rates_three_ways(
    pairs: pd.DataFrame,
    *,
    baseline: str | None = None,
    by: Sequence[str] = ("run",),
    difficulty: pd.Series | None = None,
    gamed: Sequence[str] = (),
    gamed_weight: float = 0.2,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Discrete, probability-weighted and length-controlled win rates per model (module doc).

    ``baseline`` keeps each model's pairs against that model (AlpacaEval's setting; the
    baseline itself, judged against itself, is 50 by construction); without it every
    opponent counts (a round robin). ``difficulty`` (per prompt key, e.g. from
    :func:`read_difficulty`) replaces the joint estimate. ``gamed`` names models whose
    pairs against the baseline are length-gamed variants of it (needs ``baseline``).

    Columns: group keys, ``model``, ``opponent`` (the baseline or ``all``), ``n``
    (pairs), ``never_wins`` (no pair with P(win) > 0.5), for each way ``w`` of
    :data:`WAYS`: ``w``, ``w_se``, ``w_low``, ``w_high``; the GLM's ``length_coef``,
    ``difficulty_coef``, ``constant`` and ``glm_c`` (the chosen inverse penalty).
    Percentages (0-100). Sorted by LC win rate.
    """
    n_resamples, confidence, seed = resampling(bootstrap, n_resamples=200)
    expect_frame(pairs, "pairs", "win_rates_three_ways")
    by = expect_columns(pairs, by, "win_rates_three_ways")
    if gamed and baseline is None:
        raise DataError("gamed baselines need a baseline")
    rows_all = perspective(pairs)
    out = []
    for keys, group in _groups(rows_all, list(by)):
        if baseline is not None:
            group = group[group["opponent"] == baseline]
        gamed_rows = [group[group["model"] == g] for g in gamed]
        diff = (
            difficulty
            if difficulty is not None
            else estimate_difficulty(group[~group["model"].isin(gamed)])
        )
        for k, (model, rows) in enumerate(group.groupby("model", sort=True)):
            if model in gamed:
                continue
            out.append(
                {
                    **keys,
                    "model": model,
                    "opponent": baseline if baseline is not None else "all",
                    **_three_ways(
                        rows,
                        is_self=model == baseline,
                        difficulty=diff,
                        gamed=[g for g in gamed_rows if len(g)],
                        gamed_weight=gamed_weight,
                        n_resamples=n_resamples,
                        confidence=confidence,
                        rng=np.random.default_rng([seed, k]),
                    ),
                }
            )
    table = pd.DataFrame(out)
    if table.empty:
        return table
    return table.sort_values([*by, "lc"], ascending=[True] * len(by) + [False]).reset_index(
        drop=True
    )


def _three_ways(
    rows: pd.DataFrame,
    *,
    is_self: bool,
    difficulty: pd.Series,
    gamed: Sequence[pd.DataFrame],
    gamed_weight: float,
    n_resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    from scipy.special import expit

    n = len(rows)
    never = not is_self and bool((rows["preference"] <= 0.5).all())
    out: dict[str, Any] = {"n": n, "never_wins": never}
    keys, unit, counts = _bootstrap_counts(rows["prompt_key"].to_numpy(), n_resamples, rng)
    boots = counts[:, unit]
    for way in ("discrete", "weighted"):
        values = rows["discrete" if way == "discrete" else "preference"].to_numpy()
        point = 100 * float(values.mean())
        samples = 100 * (boots @ values) / boots.sum(axis=1) if n_resamples > 0 else None
        ci_columns(out, way, point, samples, confidence)
        out[f"{way}_se"] = 100 * float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else NAN
    glm = {"length_coef": NAN, "difficulty_coef": NAN, "constant": NAN, "glm_c": NAN}
    if is_self:
        ci_columns(out, "lc", 50.0, np.full(max(n_resamples, 1), 50.0), confidence)
        out["lc_se"] = 0.0
        return {**_order(out), **glm}
    x, pref, weight, groups, test, n_model = _lc_design(rows, difficulty, gamed, gamed_weight)
    folds = _prompt_folds(groups)
    c = _choose_c(x, pref, weight, folds) if folds else float(C_GRID[-1])
    coef = _fit_dense(x, pref, weight[None, :], c)[0]
    point = 100 * float(expit(test @ coef).mean())
    samples = None
    if n_resamples > 0:
        # the gamed baselines' rows are resampled with the same draw of prompts
        index = pd.Index(keys)
        extra = index.get_indexer(groups[n_model:])
        drawn = np.hstack([np.zeros((n_resamples, 1)), counts])  # 0: a prompt not drawn
        fitted = _fit_dense(x, pref, weight * np.hstack([boots, drawn[:, extra + 1]]), c)
        q = expit(fitted @ test.T)  # (resamples, rows)
        samples = 100 * (boots * q).sum(axis=1) / boots.sum(axis=1)
    ci_columns(out, "lc", point, samples, confidence)
    out["lc_se"] = float(np.std(samples, ddof=1)) if samples is not None else NAN
    glm = {
        "length_coef": float(coef[0]),
        "difficulty_coef": float(coef[1]),
        "constant": float(coef[2]),
        "glm_c": c,
    }
    return {**_order(out), **glm}


def _order(out: dict[str, Any]) -> dict[str, Any]:
    keys = ["n", "never_wins"]
    for way in WAYS:
        keys += [way, f"{way}_se", f"{way}_low", f"{way}_high"]
    return {k: out[k] for k in keys}


def common_baseline(pairs: pd.DataFrame) -> str | None:
    """The model every pair has as ``model_a`` (an AlpacaEval-style baseline), if any."""
    firsts = pairs["model_a"].dropna().astype(str).unique()
    return (
        str(firsts[0]) if len(firsts) == 1 and len(pairs["model_b"].dropna().unique()) > 1 else None
    )


def leaderboard(
    pairs: pd.DataFrame,
    **bootstrap: Unpack[Bootstrap],
) -> tuple[pd.DataFrame, str | None]:
    """:func:`win_rates_three_ways` per judge, against the common baseline where every
    pair has one (else a round robin), with ``lc_rank`` (:func:`rank_ranges` of LC)."""
    n_resamples, confidence, seed = resampling(bootstrap, n_resamples=200)
    expect_frame(pairs, "pairs", "leaderboard")
    baseline = common_baseline(pairs)
    table = win_rates_three_ways(
        pairs,
        baseline=baseline,
        by=("judge",),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )
    return with_lc_rank(table, ("judge",)), baseline


def with_lc_rank(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """``table`` (of :func:`win_rates_three_ways`) with ``lc_rank`` after ``lc_high``: the
    ranks its LC interval allows within its group (:func:`rank_ranges`)."""
    if table.empty:
        return table
    ranks = {
        i: r
        for _, g in table.groupby(list(by), sort=False)
        for i, r in zip(g.index, rank_ranges(g, "lc"), strict=True)
    }
    out = table.copy()
    out.insert(int(out.columns.get_loc("lc_high")) + 1, "lc_rank", pd.Series(ranks))
    return out


def style_covariates(rows: pd.DataFrame) -> np.ndarray:
    """Arena-Hard's style covariates of :func:`perspective` rows (module doc), each
    standardised over the rows; a covariate that does not vary is 0."""
    len_s = rows["len_self"].to_numpy(dtype=np.float64)
    len_o = rows["len_opp"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = [np.where(len_s + len_o > 0, (len_s - len_o) / (len_s + len_o), 0.0)]
        for name in ("headers", "lists", "bold"):
            d_s = rows[f"{name}_self"].to_numpy(dtype=np.float64) / np.maximum(len_s, 1)
            d_o = rows[f"{name}_opp"].to_numpy(dtype=np.float64) / np.maximum(len_o, 1)
            columns.append((d_s - d_o) / (d_s + d_o + 1))
    x = np.nan_to_num(np.column_stack(columns))
    sd = x.std(axis=0, ddof=1) if len(x) > 1 else np.zeros(x.shape[1])
    centred = x - x.mean(axis=0)
    return np.where(sd > 0, centred / np.where(sd > 0, sd, 1.0), 0.0)


def style_controlled(
    pairs: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    covariates: Sequence[str] = STYLE_COVARIATES,
    l2: float = 1e-4,
    **bootstrap: Unpack[Bootstrap],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bradley-Terry with and without style covariates, per group.

    A logistic regression (scikit-learn, lbfgs, a tiny ridge ``l2``) of each battle's
    preference for ``model_b`` on ``e_b - e_a`` (model strengths, centred to sum to
    zero) plus the covariates of B against A. Returns ``(models, coefficients)``:
    ``models`` has ``model``, ``strength`` (plain) and ``controlled`` with bounds, their
    ranks and :func:`rank_ranges`, ``never_wins``; ``coefficients`` has ``covariate``,
    ``coef`` with bounds (log-odds per standard deviation of the covariate).
    """
    n_resamples, confidence, seed = resampling(bootstrap, n_resamples=200)
    expect_frame(pairs, "pairs", "style_controlled")
    by = expect_columns(pairs, by, "style_controlled")

    unknown = sorted(set(covariates) - set(STYLE_COVARIATES))
    if unknown:
        raise DataError(f"unknown style covariate {unknown[0]!r}; one of {STYLE_COVARIATES}")
    cols = [STYLE_COVARIATES.index(c) for c in covariates]
    rows_all = perspective(pairs)
    rows_all = rows_all[rows_all["model"] != rows_all["opponent"]]  # no self-battles
    from sklearn.linear_model import LogisticRegression

    models_out, coefs_out = [], []
    for keys, group in _groups(rows_all, list(by)):
        # one row per battle: B's side of the canonical pair
        names = np.unique(np.r_[group["model"].to_numpy(), group["opponent"].to_numpy()])
        if len(names) < 2:
            continue
        battles = group.drop_duplicates(["run", "item_id"], keep="first")
        m = len(names)
        me = np.searchsorted(names, battles["model"].to_numpy())
        op = np.searchsorted(names, battles["opponent"].to_numpy())
        n = len(battles)
        onehot = np.zeros((n, m))
        onehot[np.arange(n), me] += 1
        onehot[np.arange(n), op] -= 1
        style = style_covariates(battles)[:, cols]
        pref = battles["preference"].to_numpy(dtype=np.float64)
        prompts = battles["prompt_key"].to_numpy()
        with_style = np.hstack([onehot, style])

        ones = np.ones(n)
        fitters = [
            LogisticRegression(
                C=1 / l2 if l2 > 0 else np.inf, fit_intercept=False, max_iter=1000, warm_start=True
            )
            for _ in range(2)
        ]
        plain = _fit_bt(fitters[0], onehot, pref, ones)
        full = _fit_bt(fitters[1], with_style, pref, ones)
        plain_s = full_s = None
        if n_resamples > 0:
            _, unit, counts = _bootstrap_counts(prompts, n_resamples, np.random.default_rng(seed))
            boots = counts[:, unit]
            plain_s = np.array([_fit_bt(fitters[0], onehot, pref, w) for w in boots])
            full_s = np.array([_fit_bt(fitters[1], with_style, pref, w) for w in boots])
        wins = pd.Series(pref > 0.5).groupby(battles["model"].to_numpy()).any()
        losses_of = pd.Series(pref < 0.5).groupby(battles["opponent"].to_numpy()).any()
        table = []
        for i, name in enumerate(names):
            row: dict[str, Any] = {**keys, "model": str(name)}
            ci_columns(
                row,
                "strength",
                float(plain[i] - plain[:m].mean()),
                None if plain_s is None else plain_s[:, i] - plain_s[:, :m].mean(axis=1),
                confidence,
            )
            ci_columns(
                row,
                "controlled",
                float(full[i] - full[:m].mean()),
                None if full_s is None else full_s[:, i] - full_s[:, :m].mean(axis=1),
                confidence,
            )
            row["never_wins"] = not (
                bool(wins.get(name, False)) or bool(losses_of.get(name, False))
            )
            table.append(row)
        frame = pd.DataFrame(table)
        for column in ("strength", "controlled"):
            frame[f"{column}_rank"] = rank_ranges(frame, column)
        models_out.append(frame.sort_values("controlled", ascending=False))
        for j, cov in enumerate(covariates):
            row = {**keys, "covariate": cov}
            ci_columns(
                row,
                "coef",
                float(full[m + j]),
                None if full_s is None else full_s[:, m + j],
                confidence,
            )
            coefs_out.append(row)
    models = pd.concat(models_out, ignore_index=True) if models_out else pd.DataFrame()
    return models, pd.DataFrame(coefs_out)


def _fit_bt(model: Any, x: np.ndarray, pref: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Bradley-Terry (with covariates) as a logistic regression with a probability
    target: each battle twice, as a win weighted by P and a loss weighted by 1 - P.
    ``model`` is a warm-started scikit-learn ``LogisticRegression`` (the bootstrap
    starts each refit from the previous solution)."""
    n = len(x)
    pref = np.clip(pref, PREF_FLOOR, 1 - PREF_FLOOR)
    model.fit(
        np.vstack([x, x]),
        np.r_[np.ones(n), np.zeros(n)],
        sample_weight=np.r_[pref * weight, (1 - pref) * weight],
    )
    return np.array(model.coef_[0])


def rank_ranges(table: pd.DataFrame, column: str) -> list[str]:
    """The ranks each model could hold given the intervals ``column_low`` / ``_high``:
    best rank = 1 + models whose interval lies wholly above this one's, worst rank =
    models whose interval is not wholly below it. ``"2"`` when both agree, else ``"1-3"``.

    >>> t = pd.DataFrame({"s_low": [0.5, 0.4, -1.0], "s_high": [0.9, 0.8, -0.5]})
    >>> rank_ranges(t.assign(s=[0.7, 0.6, -0.7]), "s")
    ['1-2', '1-2', '3']
    """
    low = table[f"{column}_low"].to_numpy(dtype=np.float64)
    high = table[f"{column}_high"].to_numpy(dtype=np.float64)
    point = table[column].to_numpy(dtype=np.float64)
    low = np.where(np.isnan(low), point, low)
    high = np.where(np.isnan(high), point, high)
    out = []
    for i in range(len(table)):
        best = 1 + int(np.sum(low > high[i]))
        worst = len(table) - int(np.sum(high < low[i]))
        out.append(str(best) if best == worst else f"{best}-{worst}")
    return out


def system_agreement(
    first: Mapping[str, Any] | pd.Series,
    second: Mapping[str, Any] | pd.Series,
    *,
    first_samples: pd.DataFrame | None = None,
    second_samples: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Spearman and Kendall correlation of two per-model scores (e.g. a judge's and the
    humans' win rates) over the models both have; with bootstrap intervals when
    ``*_samples`` (resamples x models) are given."""
    from scipy.stats import kendalltau, spearmanr

    a, b = pd.Series(first, dtype=np.float64), pd.Series(second, dtype=np.float64)
    common = sorted(set(a.dropna().index) & set(b.dropna().index))
    out: dict[str, Any] = {"n_models": len(common)}
    for name, fn in (("spearman", spearmanr), ("kendall", kendalltau)):
        point = float(fn(a[common], b[common])[0]) if len(common) > 2 else NAN
        samples = None
        if first_samples is not None and second_samples is not None and len(common) > 2:
            samples = np.array(
                [
                    fn(fa[common], fb[common])[0]
                    for (_, fa), (_, fb) in zip(
                        first_samples.iterrows(), second_samples.iterrows(), strict=True
                    )
                ]
            )
        ci_columns(out, name, point, samples, confidence)
    return out


HUMANS: Final = "humans"
"""The reference name of the human majority label in :func:`system_level` and
:func:`self_preference`."""


def _with_humans(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` plus one pseudo-judgment per labelled pair: the human label as the
    verdict of the judge :data:`HUMANS` (one copy per item)."""
    labelled = pairs[pairs["label"].notna()].drop_duplicates("item_id")
    if labelled.empty:
        return pairs
    humans = labelled.assign(
        judge=HUMANS,
        run=HUMANS,
        status="ok",
        verdict=labelled["label"].astype(str),
        p_a=NAN,
        p_b=NAN,
        p_tie=NAN,
    )
    out = pd.concat(
        [pairs.astype({"judge": str, "run": str, "status": str, "verdict": object}), humans],
        ignore_index=True,
    )
    return out


def system_level(
    pairs: pd.DataFrame,
    *,
    reference: str = HUMANS,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """System-level agreement: per judge, the Spearman and Kendall correlation between its
    per-model win rates (mean preference over every pair the model is in) and those of
    ``reference`` (the human majority label, or another judge's name) on the same pairs,
    with a percentile bootstrap interval over prompts (AlpacaEval's Spearman column;
    JuStRank's system-level view). Columns: ``judge``, ``reference``, ``n_models``,
    ``n_pairs``, ``spearman`` and ``kendall`` with bounds."""
    n_resamples, confidence, seed = resampling(bootstrap, n_resamples=200)
    expect_frame(pairs, "pairs", "system_level")
    judges = sorted(map(str, pairs["judge"].unique()))
    if reference != HUMANS and reference not in judges:
        raise ConfigError(
            f"system_level: reference {reference!r} is neither {HUMANS!r} nor a judge of "
            f"these pairs{did_you_mean(reference, judges)} (judges: {', '.join(judges)})"
        )
    from scipy.stats import kendalltau, spearmanr

    rows = perspective(_with_humans(pairs) if reference == HUMANS else pairs)
    ref = rows[rows["judge"] == reference]
    out = []
    for judge, mine in rows[rows["judge"] != reference].groupby("judge", sort=True):
        common = sorted(set(mine["item_id"]) & set(ref["item_id"]))
        a = mine[mine["item_id"].isin(common)]
        b = ref[ref["item_id"].isin(common)]
        models = sorted(set(a["model"]) & set(b["model"]))
        row: dict[str, Any] = {
            "judge": judge,
            "reference": reference,
            "n_models": len(models),
            "n_pairs": len(common),
        }
        if len(models) < 3:
            for name in ("spearman", "kendall"):
                ci_columns(row, name, NAN, None, confidence)
            out.append(row)
            continue
        keys, _, counts = _bootstrap_counts(
            np.r_[a["prompt_key"].to_numpy(), b["prompt_key"].to_numpy()],
            n_resamples,
            np.random.default_rng(seed),
        )
        point_a, point_b = _model_rates(a, models, None), _model_rates(b, models, None)
        unit_a = pd.Index(keys).get_indexer(a["prompt_key"])
        unit_b = pd.Index(keys).get_indexer(b["prompt_key"])
        for name, fn in (("spearman", spearmanr), ("kendall", kendalltau)):
            point = float(fn(point_a, point_b)[0])
            samples = None
            if n_resamples > 0:
                samples = np.array(
                    [
                        fn(
                            _model_rates(a, models, c[unit_a]),
                            _model_rates(b, models, c[unit_b]),
                            nan_policy="omit",
                        )[0]
                        for c in counts
                    ]
                )
            ci_columns(row, name, point, samples, confidence)
        out.append(row)
    return pd.DataFrame(out)


def _model_rates(
    part: pd.DataFrame, models: Sequence[str], weights: np.ndarray | None
) -> np.ndarray:
    """Weighted mean preference per model of :func:`perspective` rows (NaN: no rows)."""
    idx = pd.Index(models).get_indexer(part["model"])
    keep = idx >= 0
    w = np.ones(int(keep.sum())) if weights is None else weights[keep]
    num = np.bincount(idx[keep], w * part["preference"].to_numpy()[keep], len(models))
    den = np.bincount(idx[keep], w, len(models))
    return np.asarray(num / np.where(den > 0, den, np.nan))


def self_preference(
    pairs: pd.DataFrame,
    *,
    judge: str,
    models: Sequence[str],
    reference: str = HUMANS,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """How much ``judge`` favours its own model (or family: ``models``): per model, its win
    rate under the judge and under ``reference`` (the human label or another judge) on the
    same pairs, and the difference with a paired bootstrap interval over prompts.
    Columns: ``model``, ``n``, ``judge_win_rate``, ``reference_win_rate``,
    ``favouritism`` (judge minus reference, percentage points) with bounds."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(pairs, "pairs", "self_preference")
    rows = perspective(_with_humans(pairs) if reference == HUMANS else pairs)
    out = []
    for model in models:
        own = rows[rows["model"] == model]
        a = own[own["judge"] == judge].drop_duplicates("item_id").set_index("item_id")
        b = own[own["judge"] == reference].drop_duplicates("item_id").set_index("item_id")
        common = a.index.intersection(b.index)
        row: dict[str, Any] = {"model": model, "n": len(common)}
        if len(common) == 0:
            row |= {"judge_win_rate": NAN, "reference_win_rate": NAN}
            ci_columns(row, "favouritism", NAN, None, confidence)
            out.append(row)
            continue
        pa = a.loc[common, "preference"].to_numpy(dtype=np.float64)
        pb = b.loc[common, "preference"].to_numpy(dtype=np.float64)
        row["judge_win_rate"] = 100 * float(pa.mean())
        row["reference_win_rate"] = 100 * float(pb.mean())
        samples = None
        if n_resamples > 0:
            _, unit, counts = _bootstrap_counts(
                a.loc[common, "prompt_key"].to_numpy(), n_resamples, np.random.default_rng(seed)
            )
            w = counts[:, unit]
            samples = 100 * (w @ (pa - pb)) / w.sum(axis=1)
        ci_columns(row, "favouritism", 100 * float((pa - pb).mean()), samples, confidence)
        out.append(row)
    return pd.DataFrame(out)
