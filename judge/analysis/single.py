"""Single-answer grading: the judge's scores against human scores.

Correlations (Pearson, Spearman, Kendall's tau-b, via :mod:`scipy.stats`) at three
levels: ``item`` (every graded response pooled), ``prompt`` (within each prompt, then
averaged over prompts with at least three responses: the "turn-level" figure of
dialogue meta-evaluation) and ``system`` (the mean score of each system, JuStRank-style
system ranking correlation). Leniency is the mean judge score minus the mean human
score on the same items (meaningful when both use the same scale).

Constant input makes a correlation undefined: it is NaN (scipy's own convention).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from judge.analysis._pairs import _groups
from judge.analysis._stats import bootstrap_sums, ci_columns, resample_weights
from judge.analysis.agreement import cohen_kappa
from judge.analysis.frame import rows_of_kind

NAN: Final = float("nan")
Level = Literal["item", "prompt", "system"]
CORRELATIONS: Final[tuple[str, ...]] = ("pearson", "spearman", "kendall")


def correlation(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    """``(statistic, p_value)`` of a scipy correlation; NaN when undefined.

    >>> round(correlation(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]), "spearman")[0], 6)
    0.8
    >>> correlation(np.array([1.0, 1, 1]), np.array([1.0, 2, 3]), "pearson")
    (nan, nan)
    """
    from scipy import stats

    functions: dict[str, Callable[..., Any]] = {
        "pearson": stats.pearsonr,
        "spearman": stats.spearmanr,
        "kendall": stats.kendalltau,
    }
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (NAN, NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = functions[method](x, y)
    return (float(result.statistic), float(result.pvalue))


def graded_items(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(run, item)`` of the single-answer judgments.

    Columns: ``run``, ``judge``, ``item_id``, ``prompt_key``, ``model``,
    ``judge_score`` (mean over the item's ok samples), ``human_score``, ``n_ok``,
    ``n_unparsed``, ``n_error``.
    """
    single = rows_of_kind(frame, "single")
    if single.empty:
        return pd.DataFrame(
            columns=[
                "run",
                "judge",
                "item_id",
                "prompt_key",
                "model",
                "judge_score",
                "human_score",
                "n_ok",
                "n_unparsed",
                "n_error",
            ]
        )
    ok = (single["status"] == "ok") & single["score"].notna()
    work = single.assign(
        ok_score=single["score"].where(ok),
        is_ok=ok.astype(int),
        is_unparsed=(single["status"] == "unparsed").astype(int),
        is_error=(single["status"] == "error").astype(int),
    )
    grouped = work.groupby(["run", "item_id"], observed=True, sort=True)
    out = grouped.agg(
        judge=("judge", "first"),
        prompt_key=("prompt_key", "first"),
        model=("model", "first"),
        judge_score=("ok_score", "mean"),
        human_score=("human_score", "first"),
        n_ok=("is_ok", "sum"),
        n_unparsed=("is_unparsed", "sum"),
        n_error=("is_error", "sum"),
    ).reset_index()
    return out


def _system_means(graded: pd.DataFrame) -> pd.DataFrame:
    return graded.groupby("model", observed=True)[["judge_score", "human_score"]].mean()


def score_correlations(
    frame: pd.DataFrame,
    *,
    level: Level = "item",
    by: Sequence[str] = ("run",),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Correlation of judge and human scores per group, with bootstrap bounds over items.

    Columns: group keys, ``judge``, ``level``, ``n`` (items with both scores),
    ``n_units`` (prompts or systems at those levels), ``n_unparsed``, ``n_error``,
    ``pearson`` / ``spearman`` / ``kendall`` with ``_p`` (scipy's p-value; NaN at the
    ``prompt`` level) and ``_low`` / ``_high``.
    """
    graded = graded_items(frame)
    rows = []
    for keys, group in _groups(graded, list(by)):
        scored = group[group["judge_score"].notna() & group["human_score"].notna()]
        row: dict[str, Any] = {
            **keys,
            "judge": str(group["judge"].iloc[0]),
            "level": level,
            "n": len(scored),
            "n_unparsed": int(group["n_unparsed"].sum()),
            "n_error": int(group["n_error"].sum()),
        }
        points, units = _correlations_at(scored, level)
        row["n_units"] = units
        samples = _bootstrap_correlations(scored, level, n_resamples, seed)
        for method in CORRELATIONS:
            row[method], row[f"{method}_p"] = points[method]
            method_samples = None if samples is None else samples[method]
            ci_columns(row, method, row[method], method_samples, confidence)
        rows.append(row)
    return pd.DataFrame(rows)


def _correlations_at(
    scored: pd.DataFrame, level: Level
) -> tuple[dict[str, tuple[float, float]], int]:
    if level == "item":
        x, y = scored["judge_score"].to_numpy(), scored["human_score"].to_numpy()
        return {m: correlation(x, y, m) for m in CORRELATIONS}, len(scored)
    if level == "system":
        means = _system_means(scored)
        x, y = means["judge_score"].to_numpy(), means["human_score"].to_numpy()
        return {m: correlation(x, y, m) for m in CORRELATIONS}, len(means)
    if level != "prompt":
        raise ValueError(f"level must be item, prompt or system, not {level!r}")
    per_prompt: dict[str, list[float]] = {m: [] for m in CORRELATIONS}
    for _, part in scored.groupby("prompt_key", observed=True):
        if len(part) < 3:
            continue
        x, y = part["judge_score"].to_numpy(), part["human_score"].to_numpy()
        for m in CORRELATIONS:
            per_prompt[m].append(correlation(x, y, m)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = {m: (float(np.nanmean(v)) if v else NAN, NAN) for m, v in per_prompt.items()}
    return means, len(per_prompt["pearson"])


def _bootstrap_correlations(
    scored: pd.DataFrame, level: Level, n_resamples: int, seed: int
) -> dict[str, np.ndarray] | None:
    """Correlations over resamples of items (of prompts at the ``prompt`` level)."""
    if n_resamples <= 0 or len(scored) < 2:
        return None
    out: dict[str, list[float]] = {m: [] for m in CORRELATIONS}
    x, y = scored["judge_score"].to_numpy(), scored["human_score"].to_numpy()
    if level == "system":
        system, _ = pd.factorize(scored["model"].to_numpy())
        n_sys = int(system.max()) + 1
        one_hot = np.eye(n_sys)[system]
        features = np.concatenate([one_hot * x[:, None], one_hot * y[:, None], one_hot], axis=1)
        sums = bootstrap_sums(features, n_resamples=n_resamples, seed=seed)
        with np.errstate(invalid="ignore", divide="ignore"):
            jx = sums[:, :n_sys] / sums[:, 2 * n_sys :]
            hy = sums[:, n_sys : 2 * n_sys] / sums[:, 2 * n_sys :]
        for b in range(n_resamples):
            present = ~np.isnan(jx[b])
            for m in CORRELATIONS:
                out[m].append(correlation(jx[b, present], hy[b, present], m)[0])
        return {m: np.asarray(v) for m, v in out.items()}
    if level == "prompt":
        prompts, _ = pd.factorize(scored["prompt_key"].to_numpy())
        per_prompt = []
        for p in range(int(prompts.max()) + 1):
            mask = prompts == p
            per_prompt.append(
                [
                    correlation(x[mask], y[mask], m)[0] if mask.sum() >= 3 else NAN
                    for m in CORRELATIONS
                ]
            )
        values = np.asarray(per_prompt)  # prompts x methods
        finite = ~np.isnan(values)
        sums = bootstrap_sums(
            np.concatenate([np.nan_to_num(values), finite], axis=1),
            n_resamples=n_resamples,
            seed=seed,
        )
        k = len(CORRELATIONS)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums[:, :k] / sums[:, k:]
        return {m: means[:, i] for i, m in enumerate(CORRELATIONS)}
    for weights in resample_weights(len(x), n_resamples, seed):
        for w in weights:
            index = np.repeat(np.arange(len(x)), w.astype(np.int64))
            for m in CORRELATIONS:
                out[m].append(correlation(x[index], y[index], m)[0])
    return {m: np.asarray(v) for m, v in out.items()}


def leniency_table(
    frame: pd.DataFrame,
    *,
    by: Sequence[str] = ("run",),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean judge score minus mean human score on the same items, with bounds.

    Also ``kappa_linear``: linear-weighted kappa of the judge's scores against the
    human scores rounded to the nearest integer, where the judge's scores are all
    integers (a discrete scale); NaN otherwise.
    """
    graded = graded_items(frame)
    rows = []
    for keys, group in _groups(graded, list(by)):
        scored = group[group["judge_score"].notna() & group["human_score"].notna()]
        x, y = scored["judge_score"].to_numpy(), scored["human_score"].to_numpy()
        row: dict[str, Any] = {
            **keys,
            "judge": str(group["judge"].iloc[0]),
            "n": len(scored),
            "mean_judge": float(x.mean()) if len(x) else NAN,
            "mean_human": float(y.mean()) if len(y) else NAN,
        }
        samples = None  # each graded row is one item: its own bootstrap unit
        if n_resamples > 0 and len(x):
            sums = bootstrap_sums(
                np.stack([x - y, np.ones_like(x)], axis=1), n_resamples=n_resamples, seed=seed
            )
            samples = sums[:, 0] / sums[:, 1]
        ci_columns(row, "leniency", row["mean_judge"] - row["mean_human"], samples, confidence)
        row["kappa_linear"] = NAN
        if len(x) and np.all(x == np.round(x)):
            human = np.floor(y + 0.5)
            scale = sorted(set(human.tolist()) | set(x.tolist()))
            row["kappa_linear"] = cohen_kappa(human, x, labels=scale, weights="linear")
        rows.append(row)
    return pd.DataFrame(rows)
