"""Judge presets: each renders real items in its model's trained format and parses its replies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.errors import BackendError, TemplateError
from judge.judges import PromptJudge, Task
from judge.parsers import PARSERS
from judge.prompts import list_presets, load_preset
from judge.records import PairItem, SingleItem
from judge.registry import benchmarks
from tests import upstream
from tests.upstream import FINE_TUNED_LAYOUTS, upstream_final_prompt

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/datasets is missing")

FINE_TUNED = {
    "judgelm",
    "pandalm",
    "prometheus2-absolute",
    "prometheus2-relative",
    "auto-j",
    "auto-j-single",
    "selene-mini",
    "selene-mini-absolute",
    "offsetbias",
}


class PromptOnly(Backend):
    """A backend that never runs: presets are rendered, not sent (no context window)."""

    name: ClassVar[str] = "prompt-only"

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return [BackendError("not sent") for _ in requests]


def judge(preset: str, **kwargs: Any) -> PromptJudge:
    loaded = load_preset(preset)
    params = {k[4:]: v for k, v in loaded.params.items() if k.startswith("var.")}
    params.update(kwargs.pop("template_vars", {}))
    return PromptJudge(loaded, PromptOnly(), template_vars=params, **kwargs)


def first(name: str, **options: Any) -> Any:
    return next(iter(benchmarks.get(name)(**options).load()))


@pytest.fixture(scope="module")
def pair_items() -> list[PairItem]:
    """Real pairs: PandaLM (instruction + separate input), LLMBar, JudgeBench, EvalBiasBench."""
    pandalm = next(i for i in benchmarks.get("pandalm")().load() if i.metadata.get("input"))
    return [pandalm, first("llmbar"), first("judgebench"), first("evalbiasbench")]


@pytest.fixture(scope="module")
def single_items() -> list[SingleItem]:
    return list(benchmarks.get("topical_chat")().load())[:6]


@pytest.fixture(scope="module")
def pair_with_reference(pair_items: list[PairItem]) -> PairItem:
    """A PandaLM pair with the reference answer gpt-3.5 wrote for it in PandaLM's judge outputs."""
    item = pair_items[0]
    rows = json.loads((DATA / "pandalm" / "gpt-3.5-turbo-testset-v1.json").read_text())
    reference = next(r["gpt_reference"] for r in rows if str(r["idx"]) == item.id)
    return item.model_copy(update={"reference": reference})


@pytest.fixture(scope="module")
def single_with_reference(single_items: list[SingleItem]) -> SingleItem:
    """A Topical-Chat response graded against the human ground-truth response of its context."""
    truth = next(i for i in single_items if i.model == "Original Ground Truth")
    other = next(
        i
        for i in single_items
        if i.model != "Original Ground Truth" and i.metadata["context"] == truth.metadata["context"]
    )
    return other.model_copy(update={"reference": truth.response})


def test_presets_are_complete() -> None:
    names = list_presets()
    for expected in [
        "mt-bench-pair",
        "mt-bench-single",
        "mt-bench-pair-reference",
        "mt-bench-single-reference",
        "alpaca-eval",
        *FINE_TUNED,
    ]:
        assert expected in names
    for name in names:
        preset = load_preset(name)
        assert preset.source and preset.description, name
        assert preset.parser in PARSERS, name
        if preset.mode == "probs":
            assert preset.choices or preset.score_choices, name
        if name in FINE_TUNED:
            assert preset.trained_on, name


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_renders_real_items_in_both_orders(
    name: str,
    pair_items: list[PairItem],
    single_items: list[SingleItem],
    pair_with_reference: PairItem,
    single_with_reference: SingleItem,
) -> None:
    preset = load_preset(name)
    needs_reference = "reference" in preset.required
    if preset.kind == "pair":
        items: list[PairItem | SingleItem] = (
            [pair_with_reference] if needs_reference else [*pair_items, pair_with_reference]
        )
    else:
        items = (
            [single_with_reference]
            if needs_reference
            else [*single_items[:2], single_with_reference]
        )
    if "questions" in preset.required:  # multi-turn formats: the items as two-turn dialogues
        items = [as_conversation(item) for item in items]
    j = judge(name)
    for item in items:
        for swapped in (False, True) if isinstance(item, PairItem) else (False,):
            request = j.request(Task(item, swapped=swapped))
            text = "\n".join(m.content for m in request.messages)
            assert request.messages[-1].role == "user"
            assert "{{" not in text and "{%" not in text
            task_text = item.metadata.get("instruction") or item.prompt_text
            assert str(task_text).strip()[:40] in text
            if isinstance(item, PairItem):
                first_shown, second_shown = (
                    (item.response_b, item.response_a)
                    if swapped
                    else (item.response_a, item.response_b)
                )
                a_at = text.find(first_shown.strip()[:60])
                b_at = text.find(second_shown.strip()[:60], a_at + 1)
                assert 0 <= a_at < b_at, (name, item.id, swapped)
            else:
                assert item.response.strip()[:60] in text
            if item.reference and "reference" in preset.variables:
                assert item.reference.strip()[:40] in text


def as_conversation(item: PairItem | SingleItem) -> PairItem | SingleItem:
    """A real item as the first turn of a two-turn dialogue (the second turn written here)."""
    follow_up = "Now say the same in one sentence."
    turns: dict[str, list[str]] = {"questions": [item.prompt_text, follow_up]}
    if isinstance(item, PairItem):
        turns |= {"answers_a": [item.response_a, "A short."], "answers_b": [item.response_b, "B."]}
    else:
        turns |= {"answers": [item.response, "Short."]}
    return item.model_copy(update={"metadata": {**item.metadata, **turns}})


@pytest.mark.parametrize(
    "name", [n for n in list_presets() if "reference" in load_preset(n).required]
)
def test_reference_guided_presets_refuse_items_without_a_reference(
    name: str, pair_items: list[PairItem], single_items: list[SingleItem]
) -> None:
    item = pair_items[1] if load_preset(name).kind == "pair" else single_items[0]
    with pytest.raises(TemplateError, match="reference"):
        judge(name).request(Task(item))


def test_pandalm_prompt_is_byte_exact_on_all_999_items() -> None:
    j = judge("pandalm")
    items = list(benchmarks.get("pandalm")().load())
    assert len(items) == 999
    for item in items:
        (message,) = j.request(Task(item)).messages
        expected = upstream.pandalm_prompt(
            str(item.metadata["instruction"]),
            str(item.metadata["input"]),
            item.response_a,
            item.response_b,
        )
        assert message.content == expected, item.id


def test_judgelm_prompt_matches_upstream_construction(
    pair_items: list[PairItem], pair_with_reference: PairItem
) -> None:
    """``system + '\\n' + template.format(...) + appendix``, as gen_model_judgement.py builds it."""
    system, prompt = upstream.JUDGELM_SYSTEM, upstream.JUDGELM_PROMPT
    plain, with_reference = upstream.JUDGELM_TEMPLATE, upstream.JUDGELM_TEMPLATE_W_REFERENCE
    j = judge("judgelm")
    for item, template in ((pair_items[2], plain), (pair_with_reference, with_reference)):
        expected = (
            system
            + "\n"
            + template.format(
                question=item.prompt_text,
                reference=item.reference,
                answer_1=item.response_a,
                answer_2=item.response_b,
                prompt=prompt,
            )
            + "### Response:"
        )
        (message,) = j.request(Task(item)).messages
        assert message.content == expected.strip()


def test_prometheus_keeps_its_trailing_feedback_cue(single_with_reference: SingleItem) -> None:
    request = judge("prometheus2-absolute").request(Task(single_with_reference))
    (user,) = request.messages  # the system prompt is folded into the one user turn
    assert user.role == "user"
    assert user.content.startswith("You are a fair judge assistant tasked with")
    assert "for performance.\n\n###Task Description:\n" in user.content
    assert user.content.endswith("###Feedback: ")
    assert "a reference answer that gets a score of 5, and a score rubric" in user.content
    assert "###Reference Answer (Score 5):" in user.content
    assert "Score 5: The model consistently offers highly relevant" in user.content
    bare = single_with_reference.model_copy(update={"reference": None})
    user_bare = judge("prometheus2-absolute").request(Task(bare)).messages[0].content
    assert "Reference Answer" not in user_bare
    assert "to evaluate, and a score rubric" in user_bare


def test_offsetbias_prompt_keeps_its_exact_text(pair_items: list[PairItem]) -> None:
    (message,) = judge("offsetbias").request(Task(pair_items[0])).messages
    assert "given instruction.\n                \nSelect the Output (a)" in message.content
    assert message.content.endswith(
        "# Which is better, Output (a) or Output (b)? Your response should be either "
        "\u201cOutput (a)\u201d or \u201cOutput (b)\u201d:"
    )


def test_rubric_is_a_template_variable(pair_items: list[PairItem]) -> None:
    custom = judge("selene-mini", template_vars={"rubric": "Is the response concise?"})
    (message,) = custom.request(Task(pair_items[0])).messages
    assert message.content.endswith("Score Rubrics:\n[Is the response concise?]")


# Replies in each format, as each model's repository documents them.
GOLDEN: list[tuple[str, str, dict[str, Any]]] = [
    ("mt-bench-pair", "Assistant B's answer is more helpful.\n\n[[B]]", {"verdict": "B"}),
    ("mt-bench-pair-reference", "Both match the reference. [[C]]", {"verdict": "tie"}),
    ("mt-bench-single", "The answer is correct and clear. Rating: [[9]]", {"score": 9.0}),
    ("mt-bench-single-reference", "It contradicts the reference. Rating: [[2]]", {"score": 2.0}),
    ("alpaca-eval", "M", {"verdict": "B"}),
    (
        "alpaca-eval-ranking",
        "[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]",
        {"verdict": "A"},
    ),
    (
        "judgelm",
        "8 6\nAssistant 1 provided a more detailed answer ...",
        {"verdict": "A", "scores": (8.0, 6.0)},
    ),
    ("pandalm", "Tie\n\n### Reason: Both are correct.\n\n### Reference: ...\n", {"verdict": "tie"}),
    ("prometheus2-absolute", "The response is mostly helpful ... [RESULT] 4", {"score": 4.0}),
    ("prometheus2-relative", "Response A lacks detail ... [RESULT] B", {"verdict": "B"}),
    ("auto-j", "1. The key factors ...\n\nSo, the final decision is Response 2.", {"verdict": "B"}),
    ("auto-j-single", "The response is concise ...\n\nRating: [[7]]", {"score": 7.0}),
    (
        "selene-mini",
        "**Reasoning:** Response A answers the question.\n\n**Result:** A",
        {"verdict": "A"},
    ),
    ("selene-mini-absolute", "**Reasoning:** Partly relevant.\n\n**Result:** 3", {"score": 3.0}),
    ("offsetbias", "Output (b)", {"verdict": "B"}),
    ("arena-hard", "My final verdict is Assistant A is slightly better: [[A>B]]", {"verdict": "A"}),
]


@pytest.mark.parametrize(("name", "reply", "expected"), GOLDEN)
def test_each_preset_parses_its_format_in_both_orders(
    name: str, reply: str, expected: dict[str, Any]
) -> None:
    j = judge(name, mode="generate")
    assert j.interpret(reply, None, False) == {"status": "ok", **expected}
    flipped = j.interpret(reply, None, True)
    if "verdict" in expected:
        canonical = {"A": "B", "B": "A", "tie": "tie"}[expected["verdict"]]
        assert flipped["verdict"] == canonical
    if "scores" in expected:
        assert flipped["scores"] == tuple(reversed(expected["scores"]))
    assert j.interpret("I would rather not say.", None, False)["status"] == "unparsed"


def test_alpaca_eval_reads_one_token_probabilities() -> None:
    j = judge("alpaca-eval")
    assert j.mode == "probs"
    out = j.interpret("m", {"m": 0.6, "M": 0.2}, False)
    assert out["verdict"] == "A" and out["probabilities"] == pytest.approx({"A": 0.75, "B": 0.25})
    swapped = j.interpret("m", {"m": 0.6, "M": 0.2}, True)
    assert swapped["verdict"] == "B" and swapped["probabilities"]["B"] == pytest.approx(0.75)


# -- golden tests: the final prompt string each fine-tuned judge's backend sends ------------


@pytest.fixture(scope="module")
def smollm2_tokenizer() -> Any:
    """The SmolLM2 GGUF's tokenizer as transformers loads it (no model weights)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from judge.backends.transformers import TransformersBackend

    return TransformersBackend(device="cpu").tokenizer


def tokenizer_backend(tokenizer: Any, chat_template: str | None) -> Any:
    """A transformers backend that only formats and tokenizes (its model is never loaded)."""
    from judge.backends.transformers import TransformersBackend

    backend = TransformersBackend(device="cpu", chat_template=chat_template, context_window=10**6)
    backend._tokenizer = tokenizer  # the shared, already loaded tokenizer
    return backend


def shown_responses(item: PairItem | SingleItem, swapped: bool) -> tuple[str, ...]:
    if isinstance(item, PairItem):
        pair = (item.response_a, item.response_b)
        return pair[::-1] if swapped else pair
    return (item.response,)


@pytest.mark.parametrize("name", sorted(FINE_TUNED_LAYOUTS))
def test_final_prompt_is_upstreams_byte_for_byte_in_both_orders(
    name: str,
    smollm2_tokenizer: Any,
    pair_items: list[PairItem],
    single_items: list[SingleItem],
    pair_with_reference: PairItem,
    single_with_reference: SingleItem,
) -> None:
    """The string after layout and chat template equals upstream's inference code's output
    (tests/upstream.py, transcribed with repo@commit), and the token ids start with
    exactly one BOS, as upstream's do."""
    preset = load_preset(name)
    layout, template = FINE_TUNED_LAYOUTS[name]
    assert preset.layout == layout and preset.bos is True
    tok = smollm2_tokenizer
    backend = tokenizer_backend(tok, template)
    j = judge(name)
    j.backend = backend
    rubric = str(preset.params.get("var.rubric", ""))
    items: list[PairItem | SingleItem] = (
        [*pair_items, pair_with_reference]
        if preset.kind == "pair"
        else [*single_items[:2], single_with_reference]
    )
    for item in items:
        for swapped in (False, True) if isinstance(item, PairItem) else (False,):
            request = j.request(Task(item, swapped=swapped))
            expected = upstream_final_prompt(
                name,
                instruction=str(item.metadata.get("instruction") or item.prompt_text)
                if name == "pandalm"
                else item.prompt_text,
                input_text=str(item.metadata.get("input", "")),
                responses=shown_responses(item, swapped),
                reference=item.reference if "reference" in preset.variables else None,
                rubric=rubric,
                bos_text=tok.bos_token,
            )
            text = backend.format_prompt(request)
            assert text == expected, (name, item.id, swapped)
            ids = backend.prompt_token_ids(request)
            body = expected.removeprefix(tok.bos_token) if layout != "raw" else expected
            assert ids == [tok.bos_token_id, *tok(body, add_special_tokens=False)["input_ids"]]
            assert ids[1] != tok.bos_token_id  # exactly one BOS


def test_prometheus_library_layout_is_the_training_layout() -> None:
    """prometheus-eval's library at 8536c6d (FastChat "mistral" on templates that start with
    a newline) and its training recipe give the same string; HEAD's templates lost the
    newline, so HEAD's library folds with a single newline (documented, not reproduced)."""
    content = upstream.ABSOLUTE_PROMPT_WO_REF_8536C6D.format(
        instruction="Q", response="R", rubric="[x]"
    )
    assert upstream.fastchat_mistral(
        upstream.ABS_SYSTEM_PROMPT, content
    ) == upstream.prometheus_training_prompt(upstream.ABS_SYSTEM_PROMPT, content[1:])
    head = upstream.fastchat_mistral(upstream.ABS_SYSTEM_PROMPT, content[1:])
    assert "for performance.\n###Task" in head


def test_raw_prompts_never_go_through_a_chat_template(
    smollm2_tokenizer: Any, pair_items: list[PairItem]
) -> None:
    """-J chat_template=raw means raw; a template override on a raw preset is refused;
    a bare template name is refused before it could reach the model as text."""
    from judge.backends.transformers import TransformersBackend
    from judge.errors import ConfigError

    item = pair_items[2]
    raw = tokenizer_backend(smollm2_tokenizer, "raw")
    chat = judge("mt-bench-pair")
    chat.backend = raw
    request = chat.request(Task(item))
    text = raw.format_prompt(request)
    assert text == "\n\n".join(m.content for m in request.messages)
    assert "<|im_start|>" not in text
    with pytest.raises(ConfigError, match="layout 'raw'"):
        PromptJudge(
            load_preset("auto-j"),
            TransformersBackend(chat_template="[INST] {{ messages[-1].content }} [/INST]"),
        )
    from judge.backends.llamacpp import LlamaCppBackend
    from judge.backends.lmeval import LmEvalBackend
    from judge.backends.vllm import VllmBackend

    for backend_cls in (LlamaCppBackend, TransformersBackend, VllmBackend, LmEvalBackend):
        with pytest.raises(ConfigError, match="literal text"):
            backend_cls(model="m", chat_template="mistral")
    auto_j = PromptJudge(load_preset("auto-j"), raw)  # raw on a raw preset: the same string
    assert raw.format_prompt(auto_j.request(Task(item))).startswith("[INST] You are assessing")
