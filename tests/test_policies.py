"""Pair-level definitions side by side: net_vote and both_orders beside the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judge.analysis.agreement import agreement_table
from judge.analysis.bias import policy_accuracy_wide, policy_table
from judge.analysis.frame import POLICIES, build_frame, pair_frame
from judge.analysis.summary import run_summary
from judge.records import HumanLabel, Judgment, PairItem, Verdict


def item(i: int, label: Verdict) -> PairItem:
    return PairItem(
        id=str(i),
        benchmark="b",
        prompt=f"p{i}",
        response_a="a",
        response_b="bb",
        labels=(HumanLabel(annotator="gold", verdict=label),),
    )


def judgment(i: int, swapped: bool, verdict: Verdict | None, status: str = "ok") -> Judgment:
    return Judgment(
        item_id=str(i),
        judge="j",
        judge_hash="h",
        request_key=f"{i}{swapped}",
        swapped=swapped,
        status=status,  # type: ignore[arg-type]
        verdict=verdict,
    )


# (label, original, swapped) -> expected verdict (or status) per policy
CASES: list[
    tuple[Verdict, tuple[Verdict | None, str], tuple[Verdict | None, str], dict[str, str]]
] = [
    ("A", ("A", "ok"), ("A", "ok"), dict.fromkeys(POLICIES, "A")),
    (
        "tie",
        ("A", "ok"),
        ("B", "ok"),
        {
            "inconsistent_tie": "tie",
            "average_probabilities": "tie",
            "first_order": "A",
            "net_vote": "tie",
            "both_orders": "inconsistent",
        },
    ),
    (
        "A",
        ("A", "ok"),
        ("tie", "ok"),
        {
            "inconsistent_tie": "tie",
            "average_probabilities": "tie",
            "first_order": "A",
            "net_vote": "A",
            "both_orders": "inconsistent",
        },
    ),
    (
        "B",
        (None, "unparsed"),
        ("B", "ok"),
        {
            "inconsistent_tie": "unparsed",
            "average_probabilities": "unparsed",
            "first_order": "unparsed",
            "net_vote": "B",
            "both_orders": "unparsed",
        },
    ),
    (
        "B",
        (None, "error"),
        (None, "unparsed"),
        {
            "inconsistent_tie": "error",
            "average_probabilities": "error",
            "first_order": "error",
            "net_vote": "error",
            "both_orders": "error",
        },
    ),
]


@pytest.fixture
def frame() -> pd.DataFrame:
    items = [item(i, label) for i, (label, _, _, _) in enumerate(CASES)]
    judgments = [
        judgment(i, swapped, *answer)
        for i, (_, original, swapped_answer, _) in enumerate(CASES)
        for swapped, answer in ((False, original), (True, swapped_answer))
    ]
    return build_frame(items, judgments, run="r")


@pytest.mark.parametrize("policy", POLICIES)
def test_each_policy_combines_the_orders(frame: pd.DataFrame, policy: str) -> None:
    pairs = pair_frame(frame, policy).set_index("item_id")  # type: ignore[arg-type]
    for i, (_, _, _, expected) in enumerate(CASES):
        row = pairs.loc[str(i)]
        got = row["verdict"] if row["status"] == "ok" else row["status"]
        assert got == expected[policy], (i, policy)


def test_both_orders_never_credits_a_flip_on_a_tie_label(frame: pd.DataFrame) -> None:
    table = policy_table(frame, n_resamples=0).set_index("policy")
    # item 1 (tie label, A then B): inconsistent_tie credits it, both_orders does not
    assert table.loc["inconsistent_tie", "accuracy"] == pytest.approx(2 / 5)
    assert table.loc["both_orders", "accuracy"] == pytest.approx(1 / 5)
    assert table.loc["net_vote", "accuracy"] == pytest.approx(4 / 5)
    assert table.loc["both_orders", "n_inconsistent"] == 2
    # excluding failures never drops an inconsistent pair: it is the judge's answer
    excluded = policy_table(frame, failures="exclude", n_resamples=0).set_index("policy")
    assert excluded.loc["both_orders", "n"] == 3  # items 3 and 4 failed; 1 and 2 stay
    assert excluded.loc["both_orders", "accuracy"] == pytest.approx(1 / 3)
    wide = policy_accuracy_wide(table.reset_index())
    assert list(wide.columns) == ["run", "judge", "n", *POLICIES]


def test_net_vote_matches_a_direct_count() -> None:
    rng = np.random.default_rng(0)
    verdicts: list[Verdict] = ["A", "B", "tie"]
    items = [item(i, verdicts[rng.integers(2)]) for i in range(300)]
    judgments = []
    votes = {"A": 1, "B": -1, "tie": 0}
    expected = 0
    for it in items:
        pair = [verdicts[rng.integers(3)] for _ in range(2)]
        judgments += [judgment(int(it.id), s, v) for s, v in zip((False, True), pair, strict=True)]
        net = votes[pair[0]] + votes[pair[1]]
        expected += (net > 0 and it.label == "A") or (net < 0 and it.label == "B")
    frame = build_frame(items, judgments, run="r")
    table = agreement_table(pair_frame(frame, "net_vote"), n_resamples=0, alpha=False)
    assert table.iloc[0]["accuracy"] == pytest.approx(expected / 300)


def test_run_summary_shows_every_policy(frame: pd.DataFrame) -> None:
    summary = run_summary(frame)
    assert list(summary["accuracy_by_policy"]) == list(POLICIES)
    assert summary["accuracy_by_policy"]["both_orders"] == pytest.approx(1 / 5)


def test_report_of_a_both_orders_run_where_every_pair_flips() -> None:
    """An always-first judge under both_orders has no agreed verdict at all."""
    from judge.analysis.report import build_report

    items = [
        item(i, "A").model_copy(update={"model_a": "m1", "model_b": f"m{2 + i % 2}"})
        for i in range(12)
    ]
    judgments = [
        judgment(i, swapped, "B" if swapped else "A")
        for i in range(12)
        for swapped in (False, True)
    ]
    frame = build_frame(items, judgments, run="r", reconcile="both_orders")
    text = build_report(frame, n_resamples=5).markdown()
    assert "| 0.00 |" in text  # both_orders accuracy
    assert pair_frame(frame)["status"].eq("inconsistent").all()
