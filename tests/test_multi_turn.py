"""Multi-turn judging: MT-Bench two-turn conversations rendered exactly as FastChat does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.errors import TemplateError
from judge.judges import PromptJudge, Task
from judge.prompts import load_preset
from judge.records import SingleItem
from judge.registry import backends, benchmarks
from tests import upstream

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
