"""The leaderboard's humans row and judge rows use one definition per column."""

from __future__ import annotations

import numpy as np
import pytest

from judge.analysis import agreement, leaderboard
from judge.analysis.bias import prefer_longer_table
from judge.analysis.frame import HUMAN_PREFIX, pair_frame, verdict_codes
from judge.analysis.synthetic import synthetic_frame


def test_judge_and_humans_rows_share_each_definition() -> None:
    frame = synthetic_frame(400, n_runs=2, seed=11)
    pairs = pair_frame(frame)
    board = leaderboard.leaderboard(frame, n_resamples=0).set_index("judge")
    loo = agreement.leave_one_out_table(pairs, n_resamples=0)
    for run in ("run0", "run1"):
        row = board[board["run"] == run].iloc[0]
        expected = loo[(loo["kind"] == "judge") & (loo["run"] == run)].iloc[0]
        # human_agreement is leave-one-out for judges too, so it sits beside the humans row
        assert row["human_agreement"] == pytest.approx(expected["accuracy"])
        assert row["human_kappa"] == pytest.approx(expected["kappa"])
        # accuracy stays against the majority label
        majority = agreement.agreement_table(pairs[pairs["run"] == run], n_resamples=0)
        assert row["accuracy"] == pytest.approx(majority.iloc[0]["accuracy"])
        per_vote = prefer_longer_table(frame[frame["run"] == run], n_resamples=0)
        assert row["p_prefer_longer"] == pytest.approx(per_vote.iloc[0]["p_prefer_longer"])
    humans = board.loc["humans (leave-one-out)"]
    assert np.isnan(humans["accuracy"])
    assert humans["human_agreement"] == pytest.approx(
        loo[loo["kind"] == "humans"].iloc[0]["accuracy"]
    )
    # per vote: every annotator's non-tie vote on an unequal-length pair
    items = pairs.drop_duplicates("item_id")
    longer = verdict_codes(items["longer"])
    hits = total = 0
    for column in [c for c in items.columns if str(c).startswith(HUMAN_PREFIX)]:
        votes = verdict_codes(items[column])
        decided = np.isin(votes, (0, 2)) & (longer >= 0)
        hits += int((decided & (votes == longer)).sum())
        total += int(decided.sum())
    assert humans["p_prefer_longer"] == pytest.approx(hits / total)
    assert humans["n_judgments"] == 3 * 400


def test_a_gold_label_benchmark_has_no_human_agreement() -> None:
    frame = synthetic_frame(300, n_annotators=1, seed=12)
    board = leaderboard.leaderboard(frame, n_resamples=0)
    assert len(board) == 1 and board["human_agreement"].isna().all()
    assert 0 < board["accuracy"].iloc[0] < 1
