"""Multi-turn judging: MT-Bench two-turn conversations rendered exactly as FastChat does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.analysis.agreement import agreement_table
from judge.analysis.frame import load_frame, pair_frame
from judge.cli import app
from judge.errors import TemplateError
from judge.judges import PromptJudge, Task
from judge.prompts import load_preset
from judge.records import SingleItem
from judge.registry import backends, benchmarks
from tests import upstream
from tests.fault_server import FaultServerProcess

Q = ["Compose a travel blog post about Hawaii.", "Rewrite it starting every sentence with A."]
ANSWERS = {"model-x": ["X answer 1\n\nwith a blank line", "X answer 2"], "model-y": ["Y1", "Y2"]}


def _judge(preset: str) -> PromptJudge:
    backend = backends.get("openai")(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="")
    return PromptJudge(load_preset(preset), backend)


def _votes(tmp_path: Path) -> Path:
    def conversation(model: str) -> list[dict[str, str]]:
        out = []
        for q, a in zip(Q, ANSWERS[model], strict=True):
            out += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        return out

    vote = {
        "question_id": 81,
        "model_a": "model-x",
        "model_b": "model-y",
        "winner": "model_a",
        "judge": "expert_0",
        "conversation_a": conversation("model-x"),
        "conversation_b": conversation("model-y"),
        "turn": 2,
    }
    path = tmp_path / "human_judgments.json"
    path.write_text(json.dumps([vote]))
    return path


def test_pair_v2_multi_turn_matches_fastchat_in_both_orders(tmp_path: Path) -> None:
    (item,) = benchmarks.get("mt_bench")(judgments=str(_votes(tmp_path))).load()
    assert item.metadata["questions"] == Q  # a conversation, not flattened text
    judge = _judge("mt-bench-pair-multi-turn")
    for swapped, (a, b) in ((False, ("model-x", "model-y")), (True, ("model-y", "model-x"))):
        system, user = judge.request(Task(item, swapped=swapped)).messages
        assert system.content == upstream.FASTCHAT_PAIR_V2_MULTI_TURN_SYSTEM
        assert user.content == upstream.FASTCHAT_PAIR_V2_MULTI_TURN.format(
            question_1=Q[0],
            question_2=Q[1],
            answer_a_1=ANSWERS[a][0],
            answer_a_2=ANSWERS[a][1],
            answer_b_1=ANSWERS[b][0],
            answer_b_2=ANSWERS[b][1],
        )


def test_single_v1_multi_turn_matches_fastchat() -> None:
    item = SingleItem(
        id="s",
        benchmark="t",
        prompt=Q[1],
        response="X answer 2",
        metadata={"questions": Q, "answers": ANSWERS["model-x"]},
    )
    system, user = _judge("mt-bench-single-multi-turn").request(Task(item)).messages
    assert system.content == upstream.FASTCHAT_SINGLE_V1_MULTI_TURN_SYSTEM
    assert user.content == upstream.FASTCHAT_SINGLE_V1_MULTI_TURN.format(
        question_1=Q[0], question_2=Q[1], answer_1=ANSWERS["model-x"][0], answer_2="X answer 2"
    )
    flat = SingleItem(id="flat", benchmark="t", prompt="q", response="r")
    with pytest.raises(TemplateError, match=r"item 'flat'.*needs questions, answers"):
        _judge("mt-bench-single-multi-turn").request(Task(flat))


def test_two_turn_votes_give_rows_per_turn_in_the_frame_and_report(
    tmp_path: Path, fault_server: FaultServerProcess
) -> None:
    """Votes on turn 1 and turn 2 of the same conversations load as one item per turn
    (each holding the conversation up to its turn); the frame's ``turn`` column says which
    turn a judgment is about, and the report groups agreement by it."""
    path = _votes(tmp_path)
    vote = json.loads(path.read_text())[0]
    votes = []
    for qid in (81, 82):
        for turn, winner in ((1, "model_b"), (2, "model_a")):
            votes.append({**vote, "question_id": qid, "turn": turn, "winner": winner})
    path.write_text(json.dumps(votes))
    items = list(benchmarks.get("mt_bench")(judgments=str(path)).load())
    assert sorted(i.id for i in items) == [
        f"{q}-model-x-model-y-turn{t}" for q in (81, 82) for t in (1, 2)
    ]
    for item in items:
        turn = item.metadata["turn"]
        assert item.metadata["questions"] == Q[:turn]  # the conversation up to its turn
        assert item.metadata["answers_a"] == ANSWERS["model-x"][:turn]
    fault_server.configure(reply="Verdict: [[{verdict}]]")
    out = tmp_path / "out"
    args = ["run", "-b", "mt_bench", "-B", f"judgments={path}", "-j", "mt-bench-pair"]
    args += ["-J", "backend=openai", "-J", f"base_url={fault_server.openai_url}"]
    args += ["-J", "model=m", "-J", "api_key_env=", "-o", str(out), "--name", "mt", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = load_frame(out / "mt")
    assert len(frame) == 8  # 2 questions x 2 turns x 2 orders
    assert frame.groupby("turn").size().to_dict() == {1.0: 4, 2.0: 4}
    for _, row in frame.iterrows():
        assert str(row["item_id"]).endswith(f"turn{int(row['turn'])}")
    per_turn = agreement_table(pair_frame(frame), by=("run", "turn"), n_resamples=0)
    assert per_turn["turn"].tolist() == [1.0, 2.0]
    assert per_turn["n_pairs"].tolist() == [2, 2]
    report = CliRunner().invoke(app, ["report", str(out / "mt"), "--resamples", "20"])
    assert report.exit_code == 0, report.output
    text = (out / "mt" / "report" / "report.md").read_text()
    assert "## Per turn" in text
    section = text.split("## Per turn", 1)[1].split("\n## ", 1)[0]
    assert "| mt | 1 |" in section and "| mt | 2 |" in section
