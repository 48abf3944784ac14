"""Single-answer grading: the judge's scores against human scores.

Correlations (Pearson, Spearman, Kendall's tau-b, via :mod:`scipy.stats`) at three
levels: ``item`` (every graded response pooled), ``prompt`` (within each prompt, then
averaged over prompts with at least three responses whose correlation is defined: the
"turn-level" figure of dialogue meta-evaluation) and ``system`` (the mean score of each
system, JuStRank-style system ranking correlation). Leniency is the mean judge score
minus the mean human score on the same items.

**One scale.** Judge and human scores are compared on the item's scale: where the judge
declares its scale (a preset's ``scale``, ``judge_spec["scale"]``) and the item has one
(``SingleItem.scale``), the judge's score is mapped linearly so that the ends of its
scale meet the ends of the item's (1-10 onto 1-5: ``1 + (s - 1) * 4 / 9``) before
leniency and kappa; correlations are unchanged by such a map. Where either scale is
unknown the scores are compared as given, and the tables say so (``scale`` column).

Unparsed and errored judgments have no score: they are left out of every figure here
and counted in ``n_unparsed`` / ``n_error``. Constant input makes a correlation
undefined: it is NaN (scipy's own convention).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, Unpack, get_args

import numpy as np
import pandas as pd

from judge.analysis._pairs import _groups
from judge.analysis._stats import (
    Bootstrap,
    bootstrap_sums,
    ci_columns,
    resample_weights,
    resampling,
)
from judge.analysis.agreement import cohen_kappa
from judge.analysis.frame import expect_choice, expect_columns, expect_frame, rows_of_kind

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


def to_item_scale(
    score: np.ndarray,
    judge_low: np.ndarray,
    judge_high: np.ndarray,
    item_low: np.ndarray,
    item_high: np.ndarray,
) -> np.ndarray:
    """Judge scores mapped linearly onto the item's scale (ends onto ends); unchanged
    where either scale is unknown (NaN).

    >>> to_item_scale(np.array([1.0, 10.0, 5.5]), *(np.array([v] * 3) for v in (1, 10, 1, 5)))
    array([1., 5., 3.])
    >>> to_item_scale(np.array([7.0]), *(np.array([v]) for v in (np.nan, np.nan, 1, 5)))
    array([7.])
    """
    known = ~np.isnan(judge_low) & ~np.isnan(judge_high) & ~np.isnan(item_low)
    known &= ~np.isnan(item_high) & (judge_high > judge_low)
    with np.errstate(invalid="ignore", divide="ignore"):
        mapped = item_low + (score - judge_low) * (item_high - item_low) / (judge_high - judge_low)
    return np.where(known, mapped, score)


def graded_items(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(run, item)`` of the single-answer judgments.

    Columns: ``run``, ``judge``, ``item_id``, ``prompt_key``, ``model``,
    ``judge_score`` (mean over the item's ok samples, on the item's scale where both
    scales are known), ``judge_score_raw`` (as the judge gave it), ``human_score``,
    ``scale`` (what was compared: ``judge 1-10 -> item 1-5``, or ``as given``),
    ``n_ok``, ``n_unparsed``, ``n_error``.
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
                "judge_score_raw",
                "human_score",
                "scale",
                "n_ok",
                "n_unparsed",
                "n_error",
            ]
        )
    ok = (single["status"] == "ok") & single["score"].notna()
    columns = ("judge_scale_low", "judge_scale_high", "scale_low", "scale_high")
    bounds = [single[c].to_numpy(dtype=np.float64) for c in columns]
    raw = single["score"].to_numpy(dtype=np.float64)
    work = single.assign(
        ok_score=pd.Series(to_item_scale(raw, *bounds), index=single.index).where(ok),
        ok_raw=single["score"].where(ok),
        scale=_scale_labels(*bounds),
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
        judge_score_raw=("ok_raw", "mean"),
        human_score=("human_score", "first"),
        scale=("scale", "first"),
        n_ok=("is_ok", "sum"),
        n_unparsed=("is_unparsed", "sum"),
        n_error=("is_error", "sum"),
    ).reset_index()
    return out


def _scale_labels(
    judge_low: np.ndarray, judge_high: np.ndarray, item_low: np.ndarray, item_high: np.ndarray
) -> np.ndarray:
    """What a row's comparison is on, in words (one per row)."""

    def span(low: float, high: float) -> str:
        return f"{low:g}-{high:g}"

    labels: dict[tuple[float, ...], str] = {}
    out = []
    for key in zip(judge_low, judge_high, item_low, item_high, strict=True):
        if key not in labels:
            jl, jh, il, ih = key
            if np.isnan([jl, jh, il, ih]).any():
                labels[key] = "as given (judge or item scale unknown)"
            elif (jl, jh) == (il, ih):
                labels[key] = f"{span(il, ih)} (same scale)"
            else:
                labels[key] = f"judge {span(jl, jh)} -> item {span(il, ih)}"
        out.append(labels[key])
    return np.asarray(out, dtype=object)


def _system_means(graded: pd.DataFrame) -> pd.DataFrame:
    return graded.groupby("model", observed=True)[["judge_score", "human_score"]].mean()


def score_correlations(
    frame: pd.DataFrame,
    *,
    level: Level = "item",
    by: Sequence[str] = ("run",),
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Correlation of judge and human scores per group, with bootstrap bounds over items.

    Columns: group keys, ``judge``, ``level``, ``aspect``, ``n`` (items with both
    scores; unparsed and errored judgments are left out), ``n_units`` (items; prompts
    whose correlation is defined; or systems), ``n_unparsed``, ``n_error``,
    ``pearson`` / ``spearman`` / ``kendall`` with ``_p`` (scipy's p-value; NaN at the
    ``prompt`` level) and ``_low`` / ``_high``.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "score_correlations")
    expect_choice(level, get_args(Level), "level", "score_correlations")
    graded = graded_items(frame)
    by = expect_columns(graded, by, "score_correlations")
    aspects = _aspects(frame)
    rows = []
    for keys, group in _groups(graded, by):
        scored = group[group["judge_score"].notna() & group["human_score"].notna()]
        row: dict[str, Any] = {
            **keys,
            "judge": str(group["judge"].iloc[0]),
            "level": level,
            "aspect": aspects.get(str(keys.get("run", "")), ""),
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


def _aspects(frame: pd.DataFrame) -> dict[str, str]:
    """Run -> the aspect(s) of the human scores its single-answer items are compared with."""
    single = rows_of_kind(frame, "single")
    return {
        str(run): ", ".join(sorted(map(str, part["aspect"].dropna().unique())))
        for run, part in single.groupby("run", observed=True)
    }


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
    # only prompts whose correlation is defined count (constant scores give none)
    return means, int(np.sum(np.isfinite(per_prompt["pearson"])))


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
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Mean judge score minus mean human score on the same items, on one scale, with bounds.

    The judge's scores are first put on the item's scale (see the module docstring;
    the ``scale`` column says what was compared). Also ``kappa_linear``:
    linear-weighted kappa of the judge's and the human scores, both rounded to the
    nearest integer of that scale (NaN without scores).
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "leniency_table")
    graded = graded_items(frame)
    by = expect_columns(graded, by, "leniency_table")
    rows = []
    for keys, group in _groups(graded, by):
        scored = group[group["judge_score"].notna() & group["human_score"].notna()]
        x, y = scored["judge_score"].to_numpy(), scored["human_score"].to_numpy()
        row: dict[str, Any] = {
            **keys,
            "judge": str(group["judge"].iloc[0]),
            "scale": ", ".join(sorted(map(str, scored["scale"].dropna().unique()))),
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
        if len(x):
            judge, human = np.floor(x + 0.5), np.floor(y + 0.5)
            scale = sorted(set(human.tolist()) | set(judge.tolist()))
            row["kappa_linear"] = cohen_kappa(human, judge, labels=scale, weights="linear")
        rows.append(row)
    return pd.DataFrame(rows)
