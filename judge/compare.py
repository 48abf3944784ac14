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
from dataclasses import dataclass
from pathlib import Path

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
from judge.records import PairItem, RunConfig
from judge.run import RetryPolicy, RunResult, run_judging


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
    output: str | Path = "results",
    run_name: str | None = None,
    argv: Sequence[str] = (),
    progress: bool = False,
    retry: RetryPolicy | None = None,
    strict: bool = True,
    n_resamples: int = 1000,
    questions: str | Path | None = None,
) -> Comparison:
    """Judge every pair of outputs and compute win rates (and a ranking for > 2 models)."""
    from judge.analysis.bias import position_table
    from judge.analysis.frame import build_frame, pair_frame
    from judge.analysis.ranking import bradley_terry, win_rates

    files = [Path(p) for p in paths]
    items, models = comparison_items(files, strict=strict, questions=questions)
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
    result = run_judging(
        config,
        output=output,
        run_name=run_name,
        argv=argv,
        progress=progress,
        retry=retry,
        items=items,
    )
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
    return Comparison(result, models, rates, ranking, position)


def format_comparison(c: Comparison) -> str:
    """The comparison as text tables."""

    def pct(x: float) -> str:
        return "  n/a" if pd.isna(x) else f"{100 * x:5.1f}"

    lines = [f"run  {c.run.store.path}", ""]
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
        lines += ["", f"{'rank':>4} {'model':<32} {'Bradley-Terry (95% CI)':>28} {'Elo':>7}"]
        for row in c.ranking.itertuples():
            ci = f"{row.strength:+.2f} [{row.strength_low:+.2f}, {row.strength_high:+.2f}]"
            lines.append(f"{row.rank:>4} {row.model:<32} {ci:>28} {row.elo:>7.0f}")
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
