"""Juries: several judges, one vote, every member's verdict kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from judge.backends.base import Backend, CompletionRequest
from judge.cli import app
from judge.errors import ConfigError, UnknownNameError
from judge.judges import CallResult, Task
from judge.jury import Jury
from judge.records import Judgment, PairItem, RunConfig, SingleItem
from judge.registry import backends, benchmarks, judges
from judge.run import RetryPolicy, run_judging
from judge.store import RunStore
from tests.helpers import ScriptedBackend

cli = CliRunner()


@pytest.fixture(autouse=True)
def scripted() -> Iterator[None]:
    backends.register("scripted", ScriptedBackend, replace=True)
    ScriptedBackend.calls.clear()
    yield
    backends.unregister("scripted")


async def direct(
    backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
) -> list[CallResult]:
    return [CallResult(r) for r in await backend.complete(list(requests))]


def member(judge: str, answer: str, **params: Any) -> dict[str, Any]:
    return {"judge": judge, "params": {"backend": "scripted", "answer": answer, **params}}


def build(members: list[Any], **params: Any) -> Jury:
    jury = judges.get("jury")(members=members, **params)
    assert isinstance(jury, Jury)
    return jury


def verdicts(jury: Jury, tasks: list[Task]) -> list[Judgment]:
    return asyncio.run(jury.evaluate(tasks, direct))


@pytest.fixture(scope="module")
def pair() -> PairItem:
    item = next(iter(benchmarks.get("sample")().load()))
    assert isinstance(item, PairItem)
    return item


@pytest.fixture(scope="module")
def single() -> SingleItem:
    item = next(iter(benchmarks.get("topical_chat")().load()))
    assert isinstance(item, SingleItem)
    return item


PANEL = [
    member("smollm2", "A"),  # one-token probabilities: P(A) = 0.7 / 0.9
    member("smollm2", "B"),
    member("mt-bench-pair", "Assistant B is better. [[B]]"),  # generate and parse
]


def test_majority_vote_keeps_every_member(pair: PairItem) -> None:
    jury = build(PANEL)
    assert [name for name, _ in jury.members] == ["smollm2", "smollm2#2", "mt-bench-pair"]
    original, swapped = verdicts(jury, [Task(pair), Task(pair, swapped=True)])
    assert original.status == "ok" and original.verdict == "B"
    assert swapped.verdict == "A"  # the same answers, shown in the other order
    assert [m["member"] for m in original.members] == ["smollm2", "smollm2#2", "mt-bench-pair"]
    assert [m["verdict"] for m in original.members] == ["A", "B", "B"]
    assert original.members[2]["raw"] == "Assistant B is better. [[B]]"
    assert original.members[0]["probabilities"] == pytest.approx(
        {"A": 0.7 / 0.9, "B": 0.1 / 0.9, "tie": 0.1 / 0.9}
    )
    assert original.judge == "jury" and original.item_id == pair.id
    assert original.request_key == jury.request_key(Task(pair))


def test_a_split_vote_is_a_tie(pair: PairItem) -> None:
    (j,) = verdicts(build(PANEL[:2]), [Task(pair)])
    assert j.verdict == "tie"


def test_mean_probability(pair: PairItem) -> None:
    (j,) = verdicts(build(PANEL, vote="mean_probability"), [Task(pair)])
    a, b, c = 0.7 / 0.9, 0.1 / 0.9, 0.1 / 0.9
    # the generate-mode member has no probabilities: it counts as certain of its verdict
    assert j.probabilities == pytest.approx(
        {"A": (a + b + 0) / 3, "B": (b + a + 1) / 3, "tie": (c + c + 0) / 3}
    )
    assert j.verdict == "B"


def test_mean_score_on_single_answers(single: SingleItem) -> None:
    members = [
        member("mt-bench-single", "Good. Rating: [[8]]"),
        member("mt-bench-single", "Weak. Rating: [[5]]"),
        member("mt-bench-single", "Fine. Rating: [[7]]"),
    ]
    (mean,) = verdicts(build(members, vote="mean_score"), [Task(single)])
    assert mean.status == "ok" and mean.score == pytest.approx(20 / 3)
    (median,) = verdicts(build(members, vote="majority"), [Task(single)])
    assert median.score == 7.0


def test_mean_score_on_two_score_judges(pair: PairItem) -> None:
    members = [member("judgelm", "8 6\nAssistant 1 is right."), member("judgelm", "5 9\nNo.")]
    original, swapped = verdicts(
        build(members, vote="mean_score"), [Task(pair), Task(pair, swapped=True)]
    )
    assert original.scores == (6.5, 7.5) and original.verdict == "B"
    assert swapped.scores == (7.5, 6.5) and swapped.verdict == "A"


def test_members_without_a_verdict_do_not_vote(pair: PairItem) -> None:
    panel = [member("mt-bench-pair", "I cannot tell."), member("mt-bench-pair", "So [[A]]")]
    (j,) = verdicts(build(panel), [Task(pair)])
    assert j.status == "ok" and j.verdict == "A"
    assert [m["status"] for m in j.members] == ["unparsed", "ok"]
    (none,) = verdicts(build(panel[:1]), [Task(pair)])
    assert none.status == "unparsed" and "no member gave a verdict" in (none.error or "")
    failing = [member("smollm2", "A", fail_marker=pair.prompt_text[:10], fail_times=-1)]
    (error,) = verdicts(build(failing), [Task(pair)])
    assert error.status == "error" and "400 bad request" in (error.error or "")


def test_reinterpret_votes_again_without_requests(pair: PairItem) -> None:
    jury = build(PANEL)
    (j,) = verdicts(jury, [Task(pair)])
    calls = sum(ScriptedBackend.calls.values())
    again = jury.reinterpret(j, pair)
    assert sum(ScriptedBackend.calls.values()) == calls
    assert again.verdict == j.verdict and again.members == j.members
    assert again.request_key == j.request_key


def test_request_key_follows_the_members(pair: PairItem) -> None:
    key = build(PANEL).request_key(Task(pair))
    assert build(PANEL).request_key(Task(pair)) == key
    changed = [member("smollm2", "C"), *PANEL[1:]]
    assert build(changed).request_key(Task(pair)) != key
    assert build(PANEL, vote="mean_probability").request_key(Task(pair)) != key


def test_bad_configs_fail_before_any_work() -> None:
    with pytest.raises(ConfigError, match="members"):
        build([])
    with pytest.raises(ConfigError, match="members"):
        judges.get("jury")(members="smollm2")
    with pytest.raises(ConfigError, match="unknown vote"):
        build(PANEL, vote="loudest")
    with pytest.raises(ConfigError, match="invalid jury member"):
        build([{"judge": "smollm2", "weight": 2}])
    with pytest.raises(UnknownNameError, match="mt-bench-pair"):
        build(["mt-bench-pairs"])
    named = build([{**PANEL[0], "name": "x"}, {**PANEL[1], "name": "x"}])
    assert [name for name, _ in named.members] == ["x", "x#2"]
    with pytest.raises(ConfigError, match="unique"):
        Jury([("x", named.members[0][1]), ("x", named.members[1][1])])


def test_a_jury_runs_through_the_runner_and_resumes(tmp_path: Path) -> None:
    config = RunConfig(judge="jury", judge_args={"members": PANEL}, limit=3)
    fast = RetryPolicy(max_retries=1, base_delay=0.0)
    first = run_judging(config, output=tmp_path, retry=fast)
    stored = first.store.judgments()
    assert len(stored) == 6 and all(len(j.members) == 3 for j in stored)
    assert first.manifest.complete
    calls = sum(ScriptedBackend.calls.values())
    run_judging(config, output=tmp_path, retry=fast)  # resume: nothing left to ask
    assert sum(ScriptedBackend.calls.values()) == calls


def test_member_failures_show_in_the_summary_and_the_report(tmp_path: Path) -> None:
    # Two of three members fail on every task (one errors, one gives no verdict): the jury
    # still votes "ok" on the one member left, and every count says so.
    panel = [
        member("smollm2", "A"),
        member("smollm2", "A", fail_marker=" ", fail_times=-1),
        member("mt-bench-pair", "I cannot tell."),
    ]
    args = ["run", "-b", "sample", "-n", "5", "-j", "jury", "-J", f"members={json.dumps(panel)}"]
    result = cli.invoke(app, [*args, "-o", str(tmp_path), "--name", "jury", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "judgments              10 (10 ok, 0 unparsed, 0 error)" in result.output
    assert "  member smollm2         10 (10 ok, 0 unparsed, 0 error)" in result.output
    assert "  member smollm2#2       10 (0 ok, 0 unparsed, 10 error)" in result.output
    assert "  member mt-bench-pair   10 (0 ok, 10 unparsed, 0 error)" in result.output

    report = cli.invoke(app, ["report", str(tmp_path / "jury"), "--resamples", "20"])
    assert report.exit_code == 0, report.output
    text = (tmp_path / "jury" / "report" / "report.md").read_text()
    section = text[text.index("### Jury members") :]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:6]
    cells = [[c.strip() for c in row.strip("|").split("|")][1:] for row in rows]
    assert cells == [
        ["(jury vote)", "10", "10", "0", "0"],
        ["smollm2", "10", "10", "0", "0"],
        ["smollm2#2", "10", "0", "0", "10"],
        ["mt-bench-pair", "10", "0", "10", "0"],
    ]


def test_reparse_revotes_a_jury_run_without_requests(tmp_path: Path) -> None:
    args = ["run", "-b", "sample", "-n", "3", "-j", "jury", "-J", f"members={json.dumps(PANEL)}"]
    result = cli.invoke(app, [*args, "-o", str(tmp_path), "--name", "jury", "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "jury"
    before = RunStore(run_dir).all_judgments()
    assert [j.verdict for j in before if not j.swapped] == ["B", "B", "B"]
    calls = sum(ScriptedBackend.calls.values())

    same = cli.invoke(app, ["reparse", str(run_dir)])
    assert same.exit_code == 0, same.output
    assert "reparsed 6 judgments: 0 changed; ok 6, unparsed 0, error 0" in same.output
    assert RunStore(run_dir).all_judgments() == before

    revote = cli.invoke(app, ["reparse", str(run_dir), "-J", "vote=mean_probability"])
    assert revote.exit_code == 0, revote.output
    assert "reparsed 6 judgments: 6 changed" in revote.output
    after = RunStore(run_dir).all_judgments()
    a, b = 0.7 / 0.9, 0.1 / 0.9
    for j in after:
        assert j.judge_hash == before[0].judge_hash and len(j.members) == 3
        assert j.probabilities is not None
        expected = {"A": (a + b) / 3, "B": (b + a + 1) / 3, "tie": (b + b) / 3}
        if j.swapped:
            expected = {"A": expected["B"], "B": expected["A"], "tie": expected["tie"]}
        assert j.probabilities == pytest.approx(expected)
    manifest = RunStore(run_dir).read_manifest()
    assert manifest.extra["reparsed"][-1]["vote"] == "mean_probability"
    assert sum(ScriptedBackend.calls.values()) == calls  # nothing was asked

    bad = cli.invoke(app, ["reparse", str(run_dir), "-J", "vote=loudest"])
    assert bad.exit_code == 2 and "unknown vote 'loudest'" in bad.output
    extra = cli.invoke(app, ["reparse", str(run_dir), "-J", "model=x"])
    assert extra.exit_code == 2 and "reparse does not take parameters ['model']" in extra.output
