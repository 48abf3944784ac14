"""Records: frozen, strict, canonical verdicts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from judge.records import (
    HumanLabel,
    Judgment,
    Message,
    PairItem,
    RunConfig,
    RunManifest,
    SingleItem,
    flip,
    majority,
)


def pair(**kw: object) -> PairItem:
    base: dict[str, object] = dict(
        id="1", benchmark="b", prompt="p", response_a="a", response_b="b"
    )
    base.update(kw)
    return PairItem(**base)  # type: ignore[arg-type]


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        pair(respons_a="typo")
    with pytest.raises(ValidationError):
        RunConfig(judg="smollm2")  # type: ignore[call-arg]


def test_records_are_frozen() -> None:
    item = pair()
    with pytest.raises(ValidationError):
        item.response_a = "other"  # type: ignore[misc]


def test_every_annotator_label_is_kept_and_majority_is_derived() -> None:
    labels = tuple(HumanLabel(annotator=f"h{i}", verdict=v) for i, v in enumerate("ABB"))
    item = pair(labels=labels)
    assert [lab.verdict for lab in item.labels] == ["A", "B", "B"]
    assert item.label == "B"
    assert pair(labels=labels[:2]).label is None  # 1-1 split: no majority
    assert majority(["tie", "tie", "A"]) == "tie"


def test_empty_id_rejected() -> None:
    with pytest.raises(ValidationError, match="id must not be empty"):
        pair(id="  ")


def test_chat_prompt_and_prompt_text() -> None:
    item = pair(prompt=(Message(role="system", content="s"), Message(role="user", content="q")))
    assert item.prompt_text == "q"
    assert pair().prompt_text == "p"


def test_single_item_human_score() -> None:
    item = SingleItem(
        id="s",
        benchmark="b",
        prompt="p",
        response="r",
        scores=(
            {"annotator": "a1", "score": 3},
            {"annotator": "a2", "score": 4},  # type: ignore[arg-type]
            {"annotator": "a1", "score": 1, "aspect": "fluency"},
        ),
    )
    assert item.human_score() == 3.5
    assert item.human_score("fluency") == 1
    assert item.human_score("missing") is None


def test_flip_is_an_involution() -> None:
    for v in ("A", "B", "tie"):
        assert flip(flip(v)) == v  # type: ignore[arg-type]


def test_judgment_roundtrip_and_status_values() -> None:
    j = Judgment(
        item_id="1",
        judge="j",
        judge_hash="h",
        request_key="k",
        status="unparsed",
        raw="hmm",
        probabilities={"A": 0.2, "B": 0.8},
    )
    again = Judgment.model_validate_json(j.model_dump_json())
    assert again == j
    with pytest.raises(ValidationError):
        Judgment(item_id="1", judge="j", judge_hash="h", request_key="k", status="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Judgment(item_id="1", judge="j", judge_hash="h", request_key="k", status="ok", verdict="C")  # type: ignore[arg-type]


def test_manifest_roundtrip() -> None:
    m = RunManifest(
        run_id="r", config=RunConfig(), judge_hash="h", data_hash="d", argv=("judge", "run")
    )
    assert RunManifest.model_validate_json(m.model_dump_json()) == m
