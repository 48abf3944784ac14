"""The embedded judge: SmolLM2-135M-Instruct GGUF through llama.cpp, the real model."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp")

from judge.backends.base import Completion, CompletionRequest
from judge.backends.llamacpp import LlamaCppBackend
from judge.backends.local import embedded_model_path
from judge.errors import BackendError, ConfigError
from judge.factory import preset_judge
from judge.judges import CallResult, PromptJudge, Task
from judge.records import Message, PairItem
from judge.registry import benchmarks


@pytest.fixture(scope="module")
def judge() -> Iterator[PromptJudge]:
    j = preset_judge("smollm2")
    yield j
    asyncio.run(j.aclose())


@pytest.fixture(scope="module")
def items() -> list[PairItem]:
    return [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)][:6]


def complete(backend: LlamaCppBackend, request: CompletionRequest) -> Completion:
    (result,) = asyncio.run(backend.complete([request]))
    assert isinstance(result, Completion), result
    return result


def test_embedded_gguf_is_found_in_the_wheel() -> None:
    path = embedded_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


def test_verdict_probabilities_match_llama_cpp_logprobs(
    judge: PromptJudge, items: list[PairItem]
) -> None:
    """One forward pass with our logits read == llama.cpp's own logprobs over the vocabulary."""
    import llama_cpp

    backend = judge.backend
    assert isinstance(backend, LlamaCppBackend)
    reference = llama_cpp.Llama(
        model_path=str(embedded_model_path()),
        n_ctx=4096,
        logits_all=True,
        verbose=False,
        n_threads=2,
    )
    try:
        for item in items[:3]:
            request = judge.request(Task(item))
            ours = complete(backend, request).choice_probs
            assert ours is not None
            prompt = backend.format_prompt(request)
            tokens = reference.tokenize(prompt.encode(), add_bos=False, special=True)
            # A fresh evaluation each time: llama-cpp-python's generate() would otherwise
            # reuse the previous prompt's KV prefix, which shifts the logits it reports.
            reference.reset()
            out = reference.create_completion(tokens, max_tokens=1, logprobs=50, temperature=0)
            top = out["choices"][0]["logprobs"]["top_logprobs"][0]
            for choice in ("A", "B"):
                expected = sum(math.exp(lp) for tok, lp in top.items() if tok.strip() == choice)
                assert ours[choice] == pytest.approx(expected, abs=2e-3)
    finally:
        reference.close()


def test_prefix_reuse_does_not_change_probabilities(
    judge: PromptJudge, items: list[PairItem]
) -> None:
    backend = judge.backend
    assert isinstance(backend, LlamaCppBackend)
    requests = [judge.request(Task(i, swapped=s)) for i in items[:3] for s in (False, True)]
    forward = [complete(backend, r).choice_probs for r in requests]
    backward = [complete(backend, r).choice_probs for r in reversed(requests)][::-1]
    assert forward == backward


def test_judgment_is_canonical_and_complete(judge: PromptJudge, items: list[PairItem]) -> None:
    async def call(backend, requests, samples):  # type: ignore[no-untyped-def]
        return [CallResult(r) for r in await backend.complete(requests)]

    item = items[0]
    original, swapped = asyncio.run(judge.evaluate([Task(item), Task(item, swapped=True)], call))
    for j in (original, swapped):
        assert j.status == "ok" and j.probabilities is not None
        assert sum(j.probabilities.values()) == pytest.approx(1.0)
        assert j.tokens_in > 50 and j.tokens_out == 1 and j.latency_s > 0
        assert j.verdict == max(j.probabilities, key=j.probabilities.__getitem__)
    assert swapped.swapped and not original.swapped


def test_generate_mode_parses_the_reply(items: list[PairItem]) -> None:
    judge = preset_judge("smollm2", mode="generate", max_tokens=4)
    request = judge.request(Task(items[0]))
    assert request.choices is None and request.max_tokens == 4
    result = complete(judge.backend, request)  # type: ignore[arg-type]
    assert result.tokens_out >= 1
    fields = judge.interpret(result.text, None, False)
    assert fields["status"] in ("ok", "unparsed")
    asyncio.run(judge.aclose())


def test_prompt_longer_than_the_window_is_an_error_not_a_crash() -> None:
    backend = LlamaCppBackend(n_ctx=256)
    request = CompletionRequest(
        messages=(Message(role="user", content="word " * 400),), max_tokens=1
    )
    (result,) = asyncio.run(backend.complete([request]))
    assert isinstance(result, BackendError) and "exceeds the context window" in str(result)
    asyncio.run(backend.aclose())


def test_kv_cache_options_change_the_spec_and_are_checked() -> None:
    default = LlamaCppBackend()
    assert default.options.kv_cache_type == "f16" and not default.options.flash_attn
    specs = [
        LlamaCppBackend(**options).spec()
        for options in ({}, {"kv_cache_type": "f32"}, {"flash_attn": True})
    ]
    assert len({repr(s) for s in specs}) == 3  # different cache keys
    with pytest.raises(ConfigError, match="flash_attn"):
        LlamaCppBackend(kv_cache_type="q8_0")  # llama.cpp cannot build that context
    LlamaCppBackend(kv_cache_type="q8_0", flash_attn=True)
