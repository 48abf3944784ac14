"""The tidy frame: records -> one row per judgment, run folders, Parquet, pair verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judge.analysis.frame import (
    POLICIES,
    build_frame,
    concat_frames,
    human_columns,
    load_frame,
    pair_frame,
    pair_frames,
    read_frame,
    save_frame,
)
from judge.errors import ConfigError, DataError
from judge.records import (
    HumanLabel,
    HumanScore,
    Judgment,
    PairItem,
    RunConfig,
    RunManifest,
    SingleItem,
    flip,
)
from judge.store import RunStore
from tests.analysis_helpers import make_judgment


def pair(
    item_id: str,
    a: str = "short",
    b: str = "a longer answer",
    votes: tuple[str, ...] = ("A",),
    category: str | None = "cat",
) -> PairItem:
    return PairItem(
        id=item_id,
        benchmark="toy",
        prompt=f"prompt {item_id}",
        response_a=a,
        response_b=b,
        model_a="m1",
        model_b="m2",
        category=category,
        labels=tuple(HumanLabel(annotator=f"h{i}", verdict=v) for i, v in enumerate(votes, 1)),
    )


def judgment(
    item_id: str,
    verdict: str | None,
    *,
    swapped: bool = False,
    status: str = "ok",
    sample: int = 0,
    probabilities: dict[str, float] | None = None,
) -> Judgment:
    return make_judgment(
        item_id,
        judge="toy-judge",
        request_key=f"{item_id}{swapped}{sample}",
        swapped=swapped,
        sample=sample,
        status=status,
        verdict=verdict,
        probabilities=probabilities,
        tokens_in=10,
        tokens_out=1,
        cost=0.001,
        latency_s=0.5,
    )


def test_build_frame_columns_and_values() -> None:
    items = [pair("1", votes=("A", "A", "tie")), pair("2", a="x" * 50, b="y", votes=("B", "tie"))]
    judgments = [
        judgment("1", "A"),
        judgment("1", "A", swapped=True),  # the judge saw B first and picked A = second shown
        judgment("2", None, status="unparsed"),
        judgment("2", "tie", swapped=True),
    ]
    frame = build_frame(items, judgments, run="r1")
    assert len(frame) == 4
    assert human_columns(frame) == ["human:h1", "human:h2", "human:h3"]
    assert frame["verdict_shown"].astype(object).tolist()[:2] == ["first", "second"]
    assert pd.isna(frame["verdict_shown"].iloc[2]) and frame["verdict_shown"].iloc[3] == "tie"
    assert frame["order"].astype(str).tolist() == ["original", "swapped", "original", "swapped"]
    assert frame["label"].astype(object).tolist()[:2] == ["A", "A"]
    assert pd.isna(frame["label"].iloc[2])  # B vs tie: no majority
    assert frame["len_a"].tolist() == [5.0, 5.0, 50.0, 50.0]
    assert frame["longer"].astype(object).tolist() == ["B", "B", "A", "A"]
    assert frame["n_annotators"].tolist() == [3, 3, 2, 2]
    assert pd.isna(frame["human:h3"].iloc[2])
    assert frame["status"].astype(str).tolist() == ["ok", "ok", "unparsed", "ok"]
    assert frame["cost"].sum() == pytest.approx(0.004)
    assert list(frame["verdict"].cat.categories) == ["B", "tie", "A"]


def test_unknown_item_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not among the run's items"):
        build_frame([pair("1")], [judgment("nope", "A")], run="r")


def test_single_items() -> None:
    item = SingleItem(
        id="s1",
        benchmark="toy",
        prompt="p",
        response="resp",
        model="sys1",
        scores=(HumanScore(annotator="mean", score=3.5),),
    )
    judged = make_judgment("s1", request_key="k", status="ok", score=4.0)
    frame = build_frame([item], [judged], run="r")
    row = frame.iloc[0]
    assert row["kind"] == "single" and row["score"] == 4.0 and row["human_score"] == 3.5
    assert row["model"] == "sys1" and math.isnan(row["len_b"])
    assert len(pair_frame(frame)) == 0


def write_run(
    folder: Path,
    run_id: str,
    items: list[PairItem],
    judgments: list[Judgment],
    reconcile: str = "inconsistent_tie",
) -> Path:
    store = RunStore(folder / run_id)
    store.write_manifest(
        RunManifest(
            run_id=run_id,
            config=RunConfig(reconcile=reconcile),
            judge_hash="h",
            data_hash="d",
        )
    )
    store.write_items(items)
    with store:
        for j in judgments:
            store.append(j)
    return store.path


def test_load_frame_reads_run_folders_and_keeps_the_latest_judgment(tmp_path: Path) -> None:
    items = [pair("1"), pair("2")]
    first = write_run(
        tmp_path,
        "run-a",
        items,
        [
            judgment("1", None, status="error"),
            judgment("1", "B"),  # the retry supersedes the error line
            judgment("2", "A"),
        ],
    )
    second = write_run(tmp_path, "run-b", items, [judgment("1", "A")], reconcile="first_order")
    frame = load_frame([first, second])
    assert sorted(frame["run"].unique()) == ["run-a", "run-b"]
    run_a = frame[frame["run"] == "run-a"]
    assert run_a["status"].astype(str).tolist() == ["ok", "ok"]
    assert frame.loc[frame["run"] == "run-b", "reconcile"].iloc[0] == "first_order"
    with pytest.raises(ConfigError, match="given twice"):
        load_frame([first, first])


def test_parquet_round_trip(tmp_path: Path) -> None:
    items = [pair("1", votes=("A", "B", "B")), pair("2")]
    frame = build_frame(
        items,
        [
            judgment("1", "A", probabilities={"A": 0.7, "B": 0.3}),
            judgment("2", None, status="error"),
        ],
        run="r",
    )
    path = save_frame(frame, tmp_path / "f.parquet")
    back = read_frame(path)
    pd.testing.assert_frame_equal(back, frame, check_categorical=False)
    assert list(back["verdict"].cat.categories) == ["B", "tie", "A"]
    assert back["p_tie"].iloc[0] == 0.0  # probabilities without a tie give it none


def test_concat_keeps_categoricals() -> None:
    a = build_frame([pair("1")], [judgment("1", "A")], run="a")
    b = build_frame([pair("1")], [judgment("1", "B")], run="b")
    both = concat_frames([a, b])
    assert isinstance(both["item_id"].dtype, pd.CategoricalDtype)
    assert both["verdict"].astype(str).tolist() == ["A", "B"]


# -- pair verdicts ----------------------------------------------------------------------


def two_orders(
    original: str | None,
    swapped: str | None,
    *,
    status_original: str = "ok",
    status_swapped: str = "ok",
    probabilities: tuple[dict[str, float] | None, ...] = (None, None),
    reconcile: str = "inconsistent_tie",
) -> pd.DataFrame:
    judgments = [
        judgment("1", original, status=status_original, probabilities=probabilities[0]),
        judgment("1", swapped, swapped=True, status=status_swapped, probabilities=probabilities[1]),
    ]
    return build_frame([pair("1")], judgments, run="r", reconcile=reconcile)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("original", "swapped", "expected"),
    [
        ("A", "A", {"inconsistent_tie": "A", "average_probabilities": "A", "first_order": "A"}),
        ("A", "B", {"inconsistent_tie": "tie", "average_probabilities": "tie", "first_order": "A"}),
        (
            "B",
            "tie",
            {"inconsistent_tie": "tie", "average_probabilities": "tie", "first_order": "B"},
        ),
    ],
)
def test_policies(original: str, swapped: str, expected: dict[str, str]) -> None:
    frame = two_orders(original, swapped)
    for policy, verdict in expected.items():
        row = pair_frame(frame, policy).iloc[0]  # type: ignore[arg-type]
        assert (row["status"], row["verdict"]) == ("ok", verdict), policy
    row = pair_frame(frame).iloc[0]
    assert row["consistent"] == float(original == swapped)
    assert row["n_orders"] == 2


def test_average_probabilities_uses_the_probabilities() -> None:
    frame = two_orders("A", "B", probabilities=({"A": 0.9, "B": 0.1}, {"A": 0.4, "B": 0.6}))
    row = pair_frame(frame, "average_probabilities").iloc[0]
    assert row["verdict"] == "A"
    assert row["p_a"] == pytest.approx(0.65) and row["p_b"] == pytest.approx(0.35)
    assert pair_frame(frame, "inconsistent_tie").iloc[0]["verdict"] == "tie"


def test_failures_are_never_ties() -> None:
    frame = two_orders("A", None, status_swapped="unparsed")
    tie_policy = pair_frame(frame, "inconsistent_tie").iloc[0]
    assert tie_policy["status"] == "unparsed" and pd.isna(tie_policy["verdict"])
    assert math.isnan(tie_policy["consistent"])
    first = pair_frame(frame, "first_order").iloc[0]
    assert (first["status"], first["verdict"]) == ("ok", "A")
    errored = two_orders(None, None, status_original="unparsed", status_swapped="error")
    assert pair_frame(errored).iloc[0]["status"] == "error"  # error before unparsed


def test_single_order_runs_use_that_order_under_every_policy() -> None:
    frame = build_frame([pair("1")], [judgment("1", "B", swapped=True)], run="r")
    for policy in POLICIES:
        row = pair_frame(frame, policy).iloc[0]
        assert (row["status"], row["verdict"], row["n_orders"]) == ("ok", "B", 1)


def test_policy_none_uses_each_runs_configuration() -> None:
    a = two_orders("A", "B", reconcile="first_order")
    b = two_orders("A", "B").assign(run="other")
    frames = pair_frame(concat_frames([a, b]))
    assert dict(zip(frames["run"], frames["verdict"], strict=True)) == {"r": "A", "other": "tie"}


# -- the vectorised pair frame against a plain per-pair implementation --------------------


def reference_pair(judgments: list[Judgment], policy: str) -> tuple[str, str | None]:
    """(status, verdict) of one pair, written the obvious way."""
    by_order = {j.swapped: j for j in judgments}
    if len(by_order) == 1 or policy == "first_order":
        chosen = by_order.get(False, by_order.get(True))
        assert chosen is not None
        return chosen.status, chosen.verdict if chosen.status == "ok" else None
    o, s = by_order[False], by_order[True]
    if policy == "net_vote" and "ok" in (o.status, s.status):
        vote = {"A": 1, "B": -1, "tie": 0}
        net = sum(vote[str(j.verdict)] for j in (o, s) if j.status == "ok")
        return "ok", "A" if net > 0 else "B" if net < 0 else "tie"
    if o.status != "ok" or s.status != "ok":
        worst = "error" if "error" in (o.status, s.status) else "unparsed"
        return worst, None
    assert o.verdict is not None and s.verdict is not None
    if policy == "inconsistent_tie":
        return "ok", o.verdict if o.verdict == s.verdict else "tie"
    if policy == "both_orders":
        return ("ok", o.verdict) if o.verdict == s.verdict else ("inconsistent", None)
    p = {v: 0.0 for v in ("A", "B", "tie")}
    for j in (o, s):
        probs: dict[str, float] = {str(k): x for k, x in (j.probabilities or {}).items()}
        if not probs:
            probs = {str(j.verdict): 1.0}
        for v in p:
            p[v] += probs.get(v, 0.0) / 2
    top = max(p.values())
    winners = [v for v in p if abs(p[v] - top) <= 1e-8 + 1e-5 * abs(top)]  # as np.isclose
    return "ok", winners[0] if len(winners) == 1 else "tie"


verdicts = st.sampled_from(["A", "B", "tie"])


@st.composite
def judged_pairs(draw: st.DrawFn) -> list[list[Judgment]]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        orders = draw(st.sampled_from([(False,), (True,), (False, True)]))
        group = []
        for swapped in orders:
            status = draw(st.sampled_from(["ok", "ok", "ok", "unparsed", "error"]))
            verdict = draw(verdicts) if status == "ok" else None
            probabilities = None
            if status == "ok" and draw(st.booleans()):
                a = draw(st.floats(0, 1))
                b = draw(st.floats(0, 1 - a))
                probabilities = {"A": a, "B": b, "tie": 1 - a - b}
            group.append(
                make_judgment(
                    str(i),
                    request_key=f"{i}{swapped}",
                    swapped=swapped,
                    status=status,
                    verdict=verdict,
                    probabilities=probabilities,
                )
            )
        out.append(group)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(judged_pairs())
def test_pair_frame_matches_reference(groups: list[list[Judgment]]) -> None:
    items = [pair(str(i)) for i in range(len(groups))]
    frame = build_frame(items, [j for g in groups for j in g], run="r")
    computed = pair_frames(frame, POLICIES)
    for policy in POLICIES:
        table = computed[policy].set_index("item_id")
        for i, group in enumerate(groups):
            status, verdict = reference_pair(group, policy)
            row = table.loc[str(i)]
            assert row["status"] == status, (policy, group)
            got = None if pd.isna(row["verdict"]) else row["verdict"]
            assert got == verdict, (policy, group)


def test_flip_is_consistent_with_shown_verdicts() -> None:
    # the judge that always picks the first shown response: canonical verdicts flip
    frame = build_frame(
        [pair("1")], [judgment("1", "A"), judgment("1", flip("A"), swapped=True)], run="r"
    )
    assert frame["verdict_shown"].astype(str).tolist() == ["first", "first"]
    assert pair_frame(frame).iloc[0]["consistent"] == 0.0
    assert np.isnan(pair_frame(frame).iloc[0]["p_a"])
