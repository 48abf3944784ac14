"""The evaluator leaderboard: agreement with humans beside the judges' biases and costs.

It combines :mod:`judge.analysis.agreement` and :mod:`judge.analysis.bias`, so it lives
above both (neither imports the other's tables).
"""

from __future__ import annotations

from typing import Any, Final, Unpack

import numpy as np
import pandas as pd

from judge.analysis._pairs import _human_matrix, _unique_items
from judge.analysis._stats import Bootstrap, resampling, safe_ratio
from judge.analysis.agreement import Failures, agreement_table, leave_one_out_table
from judge.analysis.bias import first_position_table, prefer_longer_table
from judge.analysis.frame import (
    CODE_A,
    CODE_TIE,
    expect_frame,
    pair_frame,
    rows_of_kind,
    verdict_codes,
)

LEADERBOARD_COLUMNS: Final[tuple[str, ...]] = (
    "judge",
    "run",
    "benchmark",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "kappa",
    "kappa_low",
    "kappa_high",
    "human_agreement",
    "human_agreement_low",
    "human_agreement_high",
    "human_kappa",
    "p_prefer_longer",
    "p_prefer_first",
    "unparsed_rate",
    "error_rate",
    "cost_per_1000",
    "seconds_per_1000",
    "n_judgments",
)

LEADERBOARD_DEFINITIONS: Final[dict[str, str]] = {
    "accuracy": "judges: verdict vs the majority (or gold) label; humans: n/a (the "
    "majority includes them)",
    "kappa": "Cohen's kappa, same rows as accuracy",
    "human_agreement": "leave-one-out, the same for both kinds of row: each annotator's "
    "reference is the majority of the other annotators; the humans row is each annotator "
    "against it, a judge row the judge against it, averaged over annotators (benchmarks "
    "with two or more annotators only; a gold-label benchmark has none)",
    "human_kappa": "Cohen's kappa, leave-one-out as human_agreement",
    "p_prefer_longer": "per vote: judges, each ok non-tie judgment (both orders); humans, "
    "each annotator's non-tie vote; pairs of unequal length",
    "p_prefer_first": "per vote, non-tie: the response shown first (annotators saw "
    "response A first)",
}
"""What each leaderboard column means, for judge rows and the humans row alike."""


def leaderboard(
    frame: pd.DataFrame,
    *,
    policy: str | None = None,
    failures: Failures = "wrong",
    pairs: pd.DataFrame | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Judges ranked AlpacaEval-evaluator-table style, one row per run (plus ``humans``).

    Every column has one definition for judge rows and the humans row
    (:data:`LEADERBOARD_DEFINITIONS`): ``accuracy`` / ``kappa`` against the majority or
    gold label (judges only); ``human_agreement`` / ``human_kappa`` leave-one-out
    (judges and humans alike, benchmarks with several annotators); ``p_prefer_longer``
    and ``p_prefer_first`` per vote; ``unparsed_rate`` and ``error_rate`` (of
    judgments), ``cost_per_1000`` ($) and ``seconds_per_1000`` (backend seconds per
    1,000 judgments), ``n_judgments`` (humans: votes). Sorted per benchmark by
    ``human_agreement`` where the benchmark has it, else by ``accuracy``.
    """
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_frame(frame, "judgments", "leaderboard")
    if pairs is None:
        pairs = pair_frame(frame, policy)  # type: ignore[arg-type]
    opts: dict[str, Any] = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    agree = agreement_table(pairs, by=["run"], failures=failures, alpha=False, **opts)
    longer = prefer_longer_table(frame, by=["run"], n_resamples=0)
    first = first_position_table(frame, by=["run"], n_resamples=0)
    judgments = rows_of_kind(frame, "pair")
    usage = (
        judgments.groupby("run", observed=True)
        .agg(
            benchmark=("benchmark", "first"),
            n_judgments=("status", "size"),
            n_unparsed=("status", lambda s: int((s == "unparsed").sum())),
            n_error=("status", lambda s: int((s == "error").sum())),
            cost=("cost", "sum"),
            latency_s=("latency_s", "sum"),
        )
        .reset_index()
    )
    if usage.empty:
        return pd.DataFrame()
    board = usage.merge(
        agree[["run", "judge", *(f"{n}{x}" for n in ("accuracy", "kappa") for x in _BOUNDS)]],
        on="run",
        how="left",
    )
    loo = leave_one_out_table(pairs, failures=failures, **opts)
    if len(loo) and (loo["kind"] == "judge").any():
        judge_loo = loo[loo["kind"] == "judge"].rename(columns=_LOO_NAMES)
        board = board.merge(judge_loo[["run", *_LOO_NAMES.values()]], on="run", how="left")
    board = board.merge(longer[["run", "p_prefer_longer"]], on="run", how="left")
    board = board.merge(first[["run", "p_prefer_first"]], on="run", how="left")
    board["unparsed_rate"] = board["n_unparsed"] / board["n_judgments"]
    board["error_rate"] = board["n_error"] / board["n_judgments"]
    board["cost_per_1000"] = 1000 * board["cost"] / board["n_judgments"]
    board["seconds_per_1000"] = 1000 * board["latency_s"] / board["n_judgments"]
    for column in ("benchmark", "run", "judge"):
        board[column] = board[column].astype(str)
    humans = human_reference_rows(pairs, loo=loo)
    board = pd.concat(
        [board.reindex(columns=LEADERBOARD_COLUMNS), humans.reindex(columns=LEADERBOARD_COLUMNS)],
        ignore_index=True,
    )
    key = board["human_agreement"].where(board["human_agreement"].notna(), board["accuracy"])
    board = board.assign(_key=key).sort_values(
        ["benchmark", "_key"], ascending=[True, False], na_position="last"
    )
    board["n_judgments"] = board["n_judgments"].astype(pd.Int64Dtype())  # a count, not 12.000
    return board.drop(columns="_key").reset_index(drop=True)


_BOUNDS: Final = ("", "_low", "_high")
_LOO_NAMES: Final = {
    "accuracy": "human_agreement",
    "accuracy_low": "human_agreement_low",
    "accuracy_high": "human_agreement_high",
    "kappa": "human_kappa",
}


def human_vote_rates(items: pd.DataFrame) -> dict[str, float]:
    """P(prefers the longer response) and P(prefers response A) over every annotator's
    non-tie vote (the per-vote definitions the leaderboard uses for judges too).

    >>> items = pd.DataFrame({"longer": pd.Series(["A", "B"], dtype="category"),
    ...                       "human:h1": pd.Series(["A", "A"], dtype="category"),
    ...                       "human:h2": pd.Series(["A", "tie"], dtype="category")})
    >>> human_vote_rates(items)
    {'p_prefer_longer': 0.6666666666666666, 'p_prefer_first': 1.0, 'n_votes': 4}
    """
    _, matrix = _human_matrix(items)
    longer = verdict_codes(items["longer"]).astype(np.int64)[:, None]
    voted = matrix >= 0
    decided = voted & (matrix != CODE_TIE)
    unequal = decided & (longer >= 0)
    return {
        "p_prefer_longer": float(safe_ratio((unequal & (matrix == longer)).sum(), unequal.sum())),
        "p_prefer_first": float(safe_ratio((decided & (matrix == CODE_A)).sum(), decided.sum())),
        "n_votes": int(voted.sum()),
    }


def human_reference_rows(
    pairs: pd.DataFrame,
    *,
    loo: pd.DataFrame | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> pd.DataFrame:
    """Leaderboard rows for the humans of each multi-annotator benchmark (leave-one-out
    agreement and kappa; per-vote P(prefer longer) and P(prefer first))."""
    n_resamples, confidence, seed = resampling(bootstrap)
    if loo is None:
        loo = leave_one_out_table(pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
    if loo.empty:
        return pd.DataFrame()
    humans = loo[loo["kind"] == "humans"]
    rows = []
    for _, h in humans.iterrows():
        items = _unique_items(pairs[(pairs["benchmark"] == h["benchmark"]).to_numpy()])
        rates = human_vote_rates(items)
        rows.append(
            {
                "judge": "humans (leave-one-out)",
                "run": "",
                "benchmark": str(h["benchmark"]),
                **{new: h[old] for old, new in _LOO_NAMES.items()},
                "p_prefer_longer": rates["p_prefer_longer"],
                "p_prefer_first": rates["p_prefer_first"],
                "n_judgments": rates["n_votes"],
            }
        )
    return pd.DataFrame(rows)
