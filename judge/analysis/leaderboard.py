"""The evaluator leaderboard: agreement with humans beside the judges' biases and costs.

It combines :mod:`judge.analysis.agreement` and :mod:`judge.analysis.bias`, so it lives
above both (neither imports the other's tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge.analysis._pairs import _unique_items
from judge.analysis.agreement import NAN, Failures, agreement_table, leave_one_out_table
from judge.analysis.bias import first_position_table, human_prefer_longer, prefer_longer_table
from judge.analysis.frame import CODE_TIE, pair_frame, rows_of_kind, verdict_codes


def leaderboard(
    frame: pd.DataFrame,
    *,
    policy: str | None = None,
    failures: Failures = "wrong",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    pairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Judges ranked AlpacaEval-evaluator-table style, one row per run (plus ``humans``).

    Columns: ``judge``, ``run``, ``benchmark``, ``human_agreement`` (accuracy vs the
    majority, with bounds), ``kappa``, ``p_prefer_longer`` and ``p_prefer_first`` (of
    the judge's ok, non-tie judgments; per judgment, both orders), ``unparsed_rate`` and
    ``error_rate`` (of judgments), ``cost_per_1000`` ($) and ``seconds_per_1000`` (backend
    seconds per 1,000 judgments), ``n_judgments``. A ``humans`` row per benchmark with
    several annotators gives the leave-one-out agreement, P(humans prefer longer) and
    P(label is the first response).
    """
    if pairs is None:
        pairs = pair_frame(frame, policy)  # type: ignore[arg-type]
    agree = agreement_table(
        pairs,
        by=["run"],
        failures=failures,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        alpha=False,
    )
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
        agree[
            [
                "run",
                "judge",
                "accuracy",
                "accuracy_low",
                "accuracy_high",
                "kappa",
                "kappa_low",
                "kappa_high",
            ]
        ],
        on="run",
        how="left",
    )
    board = board.merge(longer[["run", "p_prefer_longer"]], on="run", how="left")
    board = board.merge(first[["run", "p_prefer_first"]], on="run", how="left")
    board["unparsed_rate"] = board["n_unparsed"] / board["n_judgments"]
    board["error_rate"] = board["n_error"] / board["n_judgments"]
    board["cost_per_1000"] = 1000 * board["cost"] / board["n_judgments"]
    board["seconds_per_1000"] = 1000 * board["latency_s"] / board["n_judgments"]
    board = board.rename(
        columns={
            "accuracy": "human_agreement",
            "accuracy_low": "human_agreement_low",
            "accuracy_high": "human_agreement_high",
        }
    )
    board["benchmark"] = board["benchmark"].astype(str)
    board["run"] = board["run"].astype(str)
    board["judge"] = board["judge"].astype(str)
    humans = human_reference_rows(pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
    columns = [
        "judge",
        "run",
        "benchmark",
        "human_agreement",
        "human_agreement_low",
        "human_agreement_high",
        "kappa",
        "kappa_low",
        "kappa_high",
        "p_prefer_longer",
        "p_prefer_first",
        "unparsed_rate",
        "error_rate",
        "cost_per_1000",
        "seconds_per_1000",
        "n_judgments",
    ]
    board = pd.concat([board[columns], humans.reindex(columns=columns)], ignore_index=True)
    return board.sort_values(
        ["benchmark", "human_agreement"], ascending=[True, False], na_position="last"
    ).reset_index(drop=True)


def human_reference_rows(
    pairs: pd.DataFrame, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Leaderboard rows for the humans of each multi-annotator benchmark."""
    loo = leave_one_out_table(pairs, n_resamples=n_resamples, confidence=confidence, seed=seed)
    if loo.empty:
        return pd.DataFrame()
    humans = loo[loo["kind"] == "humans"]
    rows = []
    for _, h in humans.iterrows():
        items = _unique_items(pairs[(pairs["benchmark"] == h["benchmark"]).to_numpy()])
        longer = human_prefer_longer(items, n_resamples=0)
        label = verdict_codes(items["label"])
        decided = label != CODE_TIE
        decided &= label >= 0
        rows.append(
            {
                "judge": "humans (leave-one-out)",
                "run": "",
                "benchmark": str(h["benchmark"]),
                "human_agreement": h["accuracy"],
                "human_agreement_low": h["accuracy_low"],
                "human_agreement_high": h["accuracy_high"],
                "kappa": h["kappa"],
                "kappa_low": h["kappa_low"],
                "kappa_high": h["kappa_high"],
                "p_prefer_longer": longer["p_prefer_longer"],
                # annotators saw response A first
                "p_prefer_first": float(np.mean(label[decided] == 2)) if decided.any() else NAN,
                "n_judgments": int(h["n"]),
            }
        )
    return pd.DataFrame(rows)
