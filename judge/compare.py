"""``judge compare``: judge two or more models' outputs on the same prompts.

Each file holds one model's outputs (any format :func:`judge.outputs.load_outputs`
reads). Two files give one pair per prompt; more give every pair of models (a round
robin) so a Bradley-Terry ranking can be fitted. Every pair is judged in both orders
by default, like any run, and the run folder is a normal run that ``judge report``
reads.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Unpack

import pandas as pd

from judge.benchmark import file_sha256
from judge.errors import ConfigError
from judge.outputs import (
    ModelOutput,
    empty_responses,
    load_outputs,
    pair_outputs,
    unmatched_prompts,
)
from judge.records import PairItem, RunConfig, judged_by
from judge.run import RunOptions, RunResult, run_judging


@dataclass
class Comparison:
    """A finished comparison: the run, and its tables."""

    run: RunResult
    models: list[str]
    win_rates: pd.DataFrame
    """Per model and opponent: battles, wins, ties, losses, win rate with a bootstrap CI."""
    ranking: pd.DataFrame
    """Bradley-Terry strengths with bootstrap CIs (more than two models), else empty."""
    position: pd.DataFrame
    """Position consistency across the two orders."""
    three_ways: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Discrete, probability-weighted and length-controlled win rates per model with SEs,
    CIs and LC rank ranges (:func:`judge.analysis.controlled.win_rates_three_ways`)."""
    style: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Plain and style-controlled Bradley-Terry strengths with CIs and rank ranges."""
    style_coefficients: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The style covariates' coefficients with CIs."""
    baseline: str | None = None


log = logging.getLogger(__name__)


def comparison_items(
    paths: Sequence[Path], *, strict: bool = True, questions: str | Path | None = None
) -> tuple[list[PairItem], list[str]]:
    """Pair items of every pair of output files, and the model names (one per file).

    Without ``strict``, prompts only one file of a pair answers are dropped, with a
    warning that says how many. Empty responses are judged, with a warning.
    ``questions`` is MT-Bench's ``question.jsonl`` for answer files without one beside them.
    """
    if len(paths) < 2:
        raise ConfigError("compare needs at least two output files")
    outputs: list[list[ModelOutput]] = []
    models: list[str] = []
    for path in paths:
        loaded = load_outputs(path, questions=questions)
        empty = empty_responses(loaded)
        if empty:
            log.warning(
                "%s: %d of %d responses are empty (e.g. to %r); they are judged as they are",
                path,
                len(empty),
                len(loaded),
                empty[0].prompt_id or empty[0].prompt[:60],
            )
        name = next((o.model for o in loaded if o.model), None) or path.stem
        if name in models:
            name = f"{name} ({path.name})"
        models.append(name)
        outputs.append([o.model_copy(update={"model": name}) for o in loaded])
    per_pair: list[list[PairItem]] = []
    many = len(paths) > 2
    for i, j in itertools.combinations(range(len(paths)), 2):
        names = (str(paths[i]), str(paths[j]))
        pairs = pair_outputs(
            outputs[i],
            outputs[j],
            strict=strict,
            names=names,
            drop_hint="judge compare --lenient drops them",
        )
        only_i, only_j = unmatched_prompts(outputs[i], outputs[j])
        if only_i or only_j:
            log.warning(
                "dropped %d prompt(s) of %s that %s does not answer and %d of %s "
                "that %s does not answer; %d pairs left",
                only_i,
                names[0],
                names[1],
                only_j,
                names[1],
                names[0],
                len(pairs),
            )
        if many:
            pairs = [
                p.model_copy(update={"id": f"{models[i]} vs {models[j]}: {p.id}"}) for p in pairs
            ]
        per_pair.append(pairs)
    # Interleave the model pairs prompt by prompt, so that --limit keeps every pairing.
    items = [p for group in itertools.zip_longest(*per_pair) for p in group if p is not None]
    return items, models


def compare_outputs(
    paths: Sequence[str | Path],
    *,
    config: RunConfig,
    strict: bool = True,
    n_resamples: int = 1000,
    questions: str | Path | None = None,
    baseline: str | None = None,
    difficulty: str | Path | None = None,
    gamed: Sequence[str] = (),
    **options: Unpack[RunOptions],
) -> Comparison:
    """Judge every pair of outputs and compute win rates (and a ranking for > 2 models).

    The length- and style-controlled tables (:mod:`judge.analysis.controlled`) refit a
    GLM per resample, so they use at most :data:`CONTROLLED_RESAMPLES` resamples.
    ``baseline`` (a model name) gives win rates against it instead of a round robin;
    ``difficulty`` is a CSV of instruction difficulty for the LC GLM
    (:func:`judge.analysis.controlled.read_difficulty`); ``gamed`` names compared models
    that are length-gamed variants of the baseline (the LC GLM is regularised towards
    them, AlpacaEval's way; they get no row of their own). ``options`` are the runner's
    (:class:`judge.run.RunOptions`: ``output``, ``run_name``, ``retry``, ...)."""
    from judge.analysis.bias import position_table
    from judge.analysis.controlled import read_difficulty, style_controlled
    from judge.analysis.frame import build_frame, pair_frame
    from judge.analysis.ranking import bradley_terry, win_rates

    files = [Path(p) for p in paths]
    items, models = comparison_items(files, strict=strict, questions=questions)
    if baseline is not None and baseline not in models:
        raise ConfigError(
            f"--baseline {baseline!r} is none of the compared models: {', '.join(models)}"
        )
    if gamed and baseline is None:
        raise ConfigError("--gamed needs --baseline (gamed variants of the baseline)")
    unknown = [g for g in gamed if g not in models]
    if unknown:
        raise ConfigError(
            f"--gamed {unknown[0]!r} is none of the compared models: {', '.join(models)}"
        )
    user_difficulty = read_difficulty(difficulty) if difficulty is not None else None
    config = config.model_copy(
        update={
            "benchmark": "compare",
            "benchmark_args": {
                "outputs": [str(p) for p in files],
                "sha256": [file_sha256(p) for p in files],
                **({"questions": str(questions)} if questions is not None else {}),
            },
        }
    )
    result = run_judging(config, items=items, **options)
    frame = build_frame(
        result.store.items(),
        result.store.judgments(),
        run=result.manifest.run_id,
        reconcile=config.reconcile,
    )
    pairs = pair_frame(frame, config.reconcile)
    rates = win_rates(pairs, n_resamples=n_resamples, seed=config.seed)
    ranking = (
        bradley_terry(pairs, n_resamples=n_resamples, seed=config.seed)
        if len(models) > 2
        else pd.DataFrame()
    )
    position = position_table(frame, pairs=pairs, n_resamples=n_resamples, seed=config.seed)
    boot = min(n_resamples, CONTROLLED_RESAMPLES)
    three = controlled_win_rates(
        pairs,
        baseline=baseline,
        difficulty=user_difficulty,
        gamed=gamed,
        n_resamples=boot,
        seed=config.seed,
    )
    style, coefficients = (
        style_controlled(pairs, n_resamples=boot, seed=config.seed)
        if len(pairs)
        else (pd.DataFrame(), pd.DataFrame())
    )
    return Comparison(
        result, models, rates, ranking, position, three, style, coefficients, baseline
    )


CONTROLLED_RESAMPLES = 200
"""Bootstrap resamples of the length- and style-controlled tables (each refits a GLM)."""


def controlled_win_rates(
    pairs: pd.DataFrame,
    *,
    baseline: str | None = None,
    difficulty: pd.Series | None = None,
    gamed: Sequence[str] = (),
    n_resamples: int = CONTROLLED_RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Win rates three ways per model with ``lc_rank``, the ranks its LC interval allows."""
    from judge.analysis.controlled import win_rates_three_ways, with_lc_rank

    table = win_rates_three_ways(
        pairs,
        baseline=baseline,
        difficulty=difficulty,
        gamed=gamed,
        n_resamples=n_resamples,
        seed=seed,
    )
    return with_lc_rank(table, ("run",))


def format_comparison(c: Comparison) -> str:
    """The comparison as text tables."""

    def pct(x: float) -> str:
        return "  n/a" if pd.isna(x) else f"{100 * x:5.1f}"

    name, detail = judged_by(c.run.manifest)
    judge = f"{name} ({detail})" if detail else name
    lines = [f"run    {c.run.store.path}", f"judge  {judge}", ""]
    overall = c.win_rates[c.win_rates["opponent"] == "all"] if len(c.win_rates) else c.win_rates
    lines.append(
        f"{'model':<32} {'battles':>7} {'win':>5} {'tie':>5} {'loss':>5}  win rate (95% CI)"
    )
    for row in overall.itertuples():
        lines.append(
            f"{row.model:<32} {row.battles:>7} {row.wins:>5} {row.ties:>5} {row.losses:>5}  "
            f"{pct(row.win_rate)}% [{pct(row.win_rate_low)}, {pct(row.win_rate_high)}]"
        )
    if len(c.ranking):
        lines += ["", f"{'rank':>5} {'model':<32} {'Bradley-Terry (95% CI)':>28} {'Elo':>7}"]
        for row in c.ranking.itertuples():
            ci = f"{row.strength:+.2f} [{row.strength_low:+.2f}, {row.strength_high:+.2f}]"
            note = "  (never wins: strength set by the ridge)" if row.never_wins else ""
            lines.append(f"{row.rank_range:>5} {row.model:<32} {ci:>28} {row.elo:>7.0f}{note}")
    lines += _controlled_lines(c)
    if len(c.position):
        pos = c.position.iloc[0]
        lines += [
            "",
            f"position consistency  {pct(pos['consistency'])}% "
            f"[{pct(pos['consistency_low'])}, {pct(pos['consistency_high'])}] "
            "(same verdict in both orders)",
        ]
    counts = c.run.manifest.counts
    lines.append(
        f"judgments             {counts.total} ({counts.ok} ok, {counts.unparsed} unparsed, "
        f"{counts.error} error)"
    )
    return "\n".join(lines)


def _controlled_lines(c: Comparison) -> list[str]:
    """The length- and style-controlled tables of the printout."""

    def ci(value: float, low: float, high: float) -> str:
        if pd.isna(value):
            return "n/a"
        if pd.isna(low):
            return f"{value:5.1f}"
        return f"{value:5.1f} [{low:5.1f}, {high:5.1f}]"

    lines: list[str] = []
    t = c.three_ways
    if len(t):
        against = f"against {c.baseline}" if c.baseline else "round robin"
        lines += [
            "",
            f"win rates, three ways ({against}; %, 95% CI; LC = length-controlled)",
            f"{'rank':>5} {'model':<28} {'discrete':>20} {'weighted':>20} {'LC':>20}",
        ]
        for row in t.itertuples():
            note = "  (never wins)" if row.never_wins else ""
            lines.append(
                f"{row.lc_rank:>5} {row.model:<28} "
                f"{ci(row.discrete, row.discrete_low, row.discrete_high):>20} "
                f"{ci(row.weighted, row.weighted_low, row.weighted_high):>20} "
                f"{ci(row.lc, row.lc_low, row.lc_high):>20}{note}"
            )
    s = c.style
    if len(s) and len(c.models) > 2:
        lines += [
            "",
            "Bradley-Terry, plain and style-controlled (length, headers, lists, bold)",
            f"{'rank':>5} {'model':<28} {'plain (95% CI)':>24} {'rank':>5} "
            f"{'controlled (95% CI)':>24}",
        ]
        for row in s.itertuples():
            plain = f"{row.strength:+.2f} [{row.strength_low:+.2f}, {row.strength_high:+.2f}]"
            ctrl = f"{row.controlled:+.2f} [{row.controlled_low:+.2f}, {row.controlled_high:+.2f}]"
            note = "  (never wins: strength set by the ridge)" if row.never_wins else ""
            lines.append(
                f"{row.strength_rank:>5} {row.model:<28} {plain:>24} "
                f"{row.controlled_rank:>5} {ctrl:>24}{note}"
            )
        coefs = ", ".join(
            f"{r.covariate} {r.coef:+.2f} [{r.coef_low:+.2f}, {r.coef_high:+.2f}]"
            for r in c.style_coefficients.itertuples()
        )
        lines.append(f"style coefficients (log-odds per SD): {coefs}")
    return lines
