"""Local backends on real models: llama.cpp, transformers and the lm-eval adapter.

The SmolLM2-135M GGUF is run three ways: by llama.cpp, by transformers (the same file,
dequantized), and by lm-eval's ``hf`` model wrapping that transformers model. All three
see the same chat-template-formatted prompt text. A float32 copy of the GGUF, written
at test time, lets llama.cpp run the very weights transformers runs, so the three agree
exactly rather than up to Q4_1 rounding. A tiny random ``LlamaForCausalLM``
built from a config checks batching, generation, truncation and the lm-eval registry
path quickly.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.backends.lmeval import LmEvalBackend
from judge.backends.transformers import TransformersBackend
from judge.errors import MissingDependencyError
from judge.judges import CallResult, PromptJudge, Task
from judge.prompts import load_preset
from judge.records import Judgment, Message, PairItem, SingleItem
from judge.registry import benchmarks
from judge.truncation import MARKER, count_prompt_tokens
from tests.helpers import dequantize_gguf, tiny_llama_config


async def direct(
    backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
) -> list[CallResult]:
    """A caller with no cache and no retries."""
    return [CallResult(r) for r in await backend.complete(list(requests))]


def judge_all(judge: PromptJudge, tasks: list[Task]) -> list[Judgment]:
    return asyncio.run(judge.evaluate(tasks, direct))


@pytest.fixture(autouse=True, scope="module")
def _torch_and_transformers() -> None:
    """Every test here needs both; imported when a test runs, not when the module is
    collected (torch and transformers take about 3 s to import, which every pytest-xdist
    worker would pay for the fast lane, where these tests are deselected)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def sample_items() -> list[PairItem]:
    return [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)]


@pytest.fixture(scope="module")
def hf_gguf() -> Iterator[TransformersBackend]:
    """The embedded SmolLM2 GGUF, loaded by transformers (about 15-30 s)."""
    backend = TransformersBackend(batch_size=6, device="cpu")
    backend.hf_model  # noqa: B018 - load once for the module
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def llamacpp() -> Iterator[Backend]:
    pytest.importorskip("llama_cpp")
    from judge.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(n_threads=2)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def smollm2_f32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded GGUF with every tensor dequantized to float32 (540 MB, about 8 s)."""
    pytest.importorskip("gguf")
    from judge.backends.local import embedded_model_path

    target = tmp_path_factory.mktemp("gguf") / "SmolLM2-135M-Instruct.F32.gguf"
    return dequantize_gguf(embedded_model_path(), target)


@pytest.fixture(scope="module")
def llamacpp_f32(smollm2_f32: Path) -> Iterator[Backend]:
    """llama.cpp on the float32 GGUF with a float32 KV cache: no quantized arithmetic."""
    pytest.importorskip("llama_cpp")
    from judge.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(model=str(smollm2_f32), kv_cache_type="f32", n_threads=2)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def lmeval_hf(hf_gguf: TransformersBackend) -> LmEvalBackend:
    """lm-eval's ``hf`` model (HFLM) wrapping the same loaded model and tokenizer."""
    pytest.importorskip("lm_eval")
    pytest.importorskip("accelerate")
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=hf_gguf.hf_model, tokenizer=hf_gguf.tokenizer, batch_size=6, device="cpu")
    return LmEvalBackend.from_lm(lm)


@pytest.fixture(scope="module")
def tiny(hf_gguf: TransformersBackend) -> TransformersBackend:
    """A 2-layer random Llama with SmolLM2's tokenizer (and chat template), no download."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = hf_gguf.tokenizer
    config = tiny_llama_config(tokenizer)
    return TransformersBackend.from_model(LlamaForCausalLM(config), tokenizer, batch_size=4)


def prob_table(judgments: list[Judgment]) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    for j in judgments:
        assert j.status == "ok" and j.probabilities, (j.status, j.error)
        out.append({str(v): p for v, p in j.probabilities.items()})
    return out


def test_every_backend_sees_the_same_prompt_text(
    llamacpp: Backend,
    hf_gguf: TransformersBackend,
    lmeval_hf: LmEvalBackend,
    sample_items: list[PairItem],
) -> None:
    for preset in ("smollm2", "mt-bench-pair"):
        request = PromptJudge(load_preset(preset), hf_gguf).request(Task(sample_items[0]))
        texts = {b.name: b.format_prompt(request) for b in (llamacpp, hf_gguf, lmeval_hf)}  # type: ignore[attr-defined]
        assert len(set(texts.values())) == 1, texts
        assert texts["transformers"].endswith("<|im_start|>assistant\n")


def test_verdict_probabilities_agree_across_backends(
    llamacpp: Backend,
    hf_gguf: TransformersBackend,
    lmeval_hf: LmEvalBackend,
    sample_items: list[PairItem],
) -> None:
    """One forward pass per prompt on each backend; the probabilities agree.

    transformers and lm-eval run the same float32 weights: they agree to 1e-4.
    llama.cpp runs the Q4_1 weights with 8-bit-quantized activations and an f16 KV
    cache, so it differs a little from the dequantized float32 model: 0.013 on average
    and up to 0.03 on these 6 prompts, 0.014 and 0.05 on 20 (10 pairs). That is ggml's
    quantized arithmetic, not our backends: on float32 weights with a float32 KV cache
    they agree to 1e-5 (``test_verdict_probabilities_agree_exactly_on_float32_weights``).
    """
    tasks = [Task(item, swapped=s) for item in sample_items[:3] for s in (False, True)]
    preset = load_preset("smollm2")
    table = {
        b.name: prob_table(judge_all(PromptJudge(preset, b), tasks))
        for b in (llamacpp, hf_gguf, lmeval_hf)
    }
    diffs_hf = [
        abs(a[v] - b[v])
        for a, b in zip(table["transformers"], table["lmeval"], strict=True)
        for v in a
    ]
    assert max(diffs_hf) < 1e-4
    diffs_cpp = [
        abs(a[v] - b[v])
        for a, b in zip(table["llamacpp"], table["transformers"], strict=True)
        for v in a
    ]
    assert statistics.fmean(diffs_cpp) < 0.02, diffs_cpp
    assert max(diffs_cpp) < 0.06, diffs_cpp
    for a, b in zip(table["llamacpp"], table["transformers"], strict=True):
        assert max(a, key=a.__getitem__) == max(b, key=b.__getitem__)


def test_float32_gguf_holds_the_weights_transformers_loads(
    smollm2_f32: Path, hf_gguf: TransformersBackend
) -> None:
    """transformers loads the float32 copy to the same tensors, bit for bit, as the Q4_1
    original (it dequantizes with the same ``gguf.quants`` code), so the copy is the
    model that ``hf_gguf`` and ``lmeval_hf`` run."""
    import torch

    copy = TransformersBackend(model=str(smollm2_f32), device="cpu")
    try:
        original, loaded = hf_gguf.hf_model.state_dict(), copy.hf_model.state_dict()
        assert original.keys() == loaded.keys()
        different = [k for k in original if not torch.equal(original[k], loaded[k])]
        assert not different, different
    finally:
        asyncio.run(copy.aclose())


def test_verdict_probabilities_agree_exactly_on_float32_weights(
    llamacpp_f32: Backend,
    hf_gguf: TransformersBackend,
    lmeval_hf: LmEvalBackend,
    sample_items: list[PairItem],
) -> None:
    """llama.cpp on the float32 GGUF (f32 KV cache), transformers and lm-eval agree.

    transformers is ``hf_gguf``, the Q4_1 original dequantized on load: the test above
    shows it holds exactly the float32 copy's weights, and sharing it saves a second
    load. With no quantized weights, activations or cache left in llama.cpp, what
    remains is float32 rounding in different kernels: measured on these 20 prompts,
    at most 5e-6 (1e-6 on average), with the KV prefix reused across prompts as usual
    (evaluating every prompt from scratch gives the same numbers).
    The bound asserted, 1e-3, is 20 times tighter than the issue's 0.02. An f16 KV cache
    alone would add up to 1e-3, flash attention up to 1.5e-3.
    """
    tasks = [Task(item, swapped=s) for item in sample_items[:10] for s in (False, True)]
    preset = load_preset("smollm2")
    request = PromptJudge(preset, hf_gguf).request(tasks[0])
    assert llamacpp_f32.format_prompt(request) == hf_gguf.format_prompt(request)  # type: ignore[attr-defined]
    table = {
        b.name: prob_table(judge_all(PromptJudge(preset, b), tasks))
        for b in (llamacpp_f32, hf_gguf, lmeval_hf)
    }
    for other in ("transformers", "lmeval"):
        diffs = [
            abs(a[v] - b[v])
            for a, b in zip(table["llamacpp"], table[other], strict=True)
            for v in a
        ]
        assert max(diffs) < 1e-3, (other, max(diffs), statistics.fmean(diffs))


def test_generate_mode_on_the_gguf(
    hf_gguf: TransformersBackend, lmeval_hf: LmEvalBackend, sample_items: list[PairItem]
) -> None:
    tasks = [Task(sample_items[0])]
    for backend in (hf_gguf, lmeval_hf):
        judge = PromptJudge(
            load_preset("smollm2"), backend, mode="generate", generation={"max_tokens": 4}
        )
        (j,) = judge_all(judge, tasks)
        assert j.status == "ok" and j.verdict in ("A", "B", "tie"), (backend.name, j.raw)
        assert j.tokens_in > 100 and 1 <= j.tokens_out <= 4 + 1


def test_batches_with_left_padding_match_single_requests(
    tiny: TransformersBackend, sample_items: list[PairItem]
) -> None:
    judge = PromptJudge(load_preset("smollm2"), tiny)
    requests = [judge.request(Task(item)) for item in sample_items[:6]]
    lengths = {tiny.count_tokens(tiny.format_prompt(r)) for r in requests}
    assert len(lengths) > 3  # really different lengths, so padding matters
    batched = tiny.complete_sync(requests)
    single = [tiny.complete_sync([r])[0] for r in requests]
    for b, s in zip(batched, single, strict=True):
        assert isinstance(b, Completion) and isinstance(s, Completion)
        assert b.choice_probs is not None and s.choice_probs is not None
        for choice in b.choice_probs:
            assert b.choice_probs[choice] == pytest.approx(s.choice_probs[choice], abs=1e-5)
    generate = [r.model_copy(update={"choices": None, "max_tokens": 6}) for r in requests]
    batched_text = [c.text for c in tiny.complete_sync(generate) if isinstance(c, Completion)]
    single_text = [
        c.text for r in generate for c in tiny.complete_sync([r]) if isinstance(c, Completion)
    ]
    assert batched_text == single_text and len(batched_text) == 6


def test_stop_sequences_cut_generation(tiny: TransformersBackend) -> None:
    request = CompletionRequest(
        messages=(Message(role="user", content="Say something."),), max_tokens=12
    )
    (free,) = tiny.complete_sync([request])
    assert isinstance(free, Completion) and free.tokens_out == 12 and free.finish_reason == "length"
    stop = free.text[len(free.text) // 2 :][:3]
    assert stop.strip()
    (stopped,) = tiny.complete_sync([request.model_copy(update={"stop": (stop,)})])
    assert isinstance(stopped, Completion)
    assert stopped.text == free.text[: free.text.find(stop)]
    assert stopped.finish_reason == "stop"


def test_long_pairs_are_trimmed_to_the_window_and_marked(tiny: TransformersBackend) -> None:
    long_item = max(
        benchmarks.get("judgebench")().load(),
        key=lambda i: len(i.response_a) + len(i.response_b) if isinstance(i, PairItem) else 0,
    )
    assert isinstance(long_item, PairItem)
    untrimmed = PromptJudge(load_preset("mt-bench-pair"), tiny).request(Task(long_item))
    empty = long_item.model_copy(update={"response_a": "", "response_b": ""})
    bare = PromptJudge(load_preset("mt-bench-pair"), tiny).request(Task(empty))
    full_tokens = count_prompt_tokens(tiny, untrimmed.messages)
    bare_tokens = count_prompt_tokens(tiny, bare.messages)
    assert full_tokens is not None and bare_tokens is not None
    window = bare_tokens + 8 + 300  # room for 300 tokens of responses out of thousands
    assert full_tokens > window + 1000
    backend = TransformersBackend.from_model(
        tiny.hf_model, tiny.tokenizer, context_window=window, batch_size=4
    )
    judge = PromptJudge(load_preset("mt-bench-pair"), backend, generation={"max_tokens": 8})
    request = judge.request(Task(long_item))
    assert request.max_prompt_tokens == window - 8
    tokens = count_prompt_tokens(backend, request.messages)
    assert tokens is not None and tokens <= window - 8
    user = request.messages[-1].content
    assert long_item.prompt_text in user  # the instruction is kept whole
    assert user.count("tokens trimmed ...]") == 2  # both long responses cut in the middle
    assert MARKER.split("{n}")[0] in user
    assert long_item.response_a[:30] in user and long_item.response_a.rstrip()[-20:] in user
    (judgment,) = judge_all(judge, [Task(long_item)])
    assert judgment.truncated and judgment.status != "error"
    short = PairItem(id="s", benchmark="t", prompt="2+2?", response_a="4", response_b="5")
    assert judge.request(Task(short)).max_prompt_tokens is None
    (fits,) = judge_all(judge, [Task(short)])
    assert not fits.truncated


def test_lmeval_adapter_builds_models_from_its_registry(
    tiny: TransformersBackend, tmp_path: Path, sample_items: list[PairItem]
) -> None:
    """``-J model_type=hf -J model_args={...}``: lm-eval builds the model; same numbers."""
    pytest.importorskip("lm_eval")
    pytest.importorskip("accelerate")
    tiny.hf_model.save_pretrained(tmp_path)
    tiny.tokenizer.save_pretrained(tmp_path)
    from_registry = LmEvalBackend(
        model_type="hf", model_args={"pretrained": str(tmp_path), "dtype": "float32"}, device="cpu"
    )
    from_folder = TransformersBackend(model=str(tmp_path), device="cpu", local_files_only=True)
    judge_lm = PromptJudge(load_preset("smollm2"), from_registry)
    judge_tf = PromptJudge(load_preset("smollm2"), from_folder)
    tasks = [Task(item) for item in sample_items[:3]]
    for a, b in zip(
        prob_table(judge_all(judge_lm, tasks)), prob_table(judge_all(judge_tf, tasks)), strict=True
    ):
        assert a == pytest.approx(b, abs=1e-4)


def test_missing_dependencies_name_their_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependencyError, match=r"judge-harness\[hf\]"):
        TransformersBackend(model="some/model").tokenizer  # noqa: B018
    monkeypatch.setitem(sys.modules, "lm_eval.api", None)
    with pytest.raises(MissingDependencyError, match=r"judge-harness\[lmeval\]"):
        LmEvalBackend(model="some/model").lm  # noqa: B018
    from judge.backends.vllm import VllmBackend

    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(MissingDependencyError, match=r"judge-harness\[vllm\]"):
        VllmBackend(model="some/model").llm  # noqa: B018


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.gpu
def test_vllm_agrees_with_transformers_on_gpu(sample_items: list[PairItem]) -> None:
    """vLLM (offline ``LLM``) and transformers on the same checkpoint and prompts.

    The checkpoint is ``JUDGE_VLLM_MODEL`` when set, else the embedded SmolLM2 GGUF.
    """
    if not _cuda():
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("vllm")
    from judge.backends.local import embedded_model_path
    from judge.backends.vllm import VllmBackend

    model = os.environ.get("JUDGE_VLLM_MODEL") or str(embedded_model_path())
    options: dict[str, Any] = {"model": model, "max_model_len": 4096, "gpu_memory_utilization": 0.3}
    vllm_backend = VllmBackend(**options)
    hf_backend = TransformersBackend(model=model, device="cuda", dtype="float32")
    tasks = [Task(item, swapped=s) for item in sample_items[:4] for s in (False, True)]
    preset = load_preset("smollm2")
    a = prob_table(judge_all(PromptJudge(preset, vllm_backend), tasks))
    b = prob_table(judge_all(PromptJudge(preset, hf_backend), tasks))
    assert max(abs(x[v] - y[v]) for x, y in zip(a, b, strict=True) for v in x) < 0.03
    generated = judge_all(PromptJudge(preset, vllm_backend, mode="generate"), tasks[:2])
    assert all(j.status in ("ok", "unparsed") and j.raw for j in generated)


# -- prompt layouts: every local backend sends each fine-tuned judge's exact tokens ---------


def _layout_backends(
    template: str | None, llamacpp: Backend, hf_gguf: TransformersBackend, lmeval_hf: LmEvalBackend
) -> list[Any]:
    """llama.cpp, transformers and lm-eval on the SmolLM2 GGUF, with ``template`` (an
    upstream model's chat template) in place of SmolLM2's own where one is given."""
    if template is None:
        return [llamacpp, hf_gguf, lmeval_hf]
    from judge.backends.llamacpp import LlamaCppBackend

    return [
        LlamaCppBackend(n_threads=2, chat_template=template),
        TransformersBackend.from_model(hf_gguf.hf_model, hf_gguf.tokenizer, chat_template=template),
        LmEvalBackend.from_lm(lmeval_hf.lm, chat_template=template),
    ]


def test_every_local_backend_sends_the_upstream_tokens_with_one_bos(
    llamacpp: Backend,
    hf_gguf: TransformersBackend,
    lmeval_hf: LmEvalBackend,
    sample_items: list[PairItem],
) -> None:
    """For every fine-tuned preset, in both orders: llama.cpp, transformers and lm-eval
    format the same string as upstream's inference code (tests/upstream.py) and send the
    same token ids, which start with exactly one BOS (SmolLM2's id 1), as upstream's do."""
    from tests.upstream import FINE_TUNED_LAYOUTS, upstream_final_prompt

    tok = hf_gguf.tokenizer
    single = next(i for i in benchmarks.get("topical_chat")().load() if isinstance(i, SingleItem))
    by_template: dict[str | None, list[str]] = {}
    for name, (_, template) in FINE_TUNED_LAYOUTS.items():
        by_template.setdefault(template, []).append(name)
    for template, names in by_template.items():
        backends = _layout_backends(template, llamacpp, hf_gguf, lmeval_hf)
        try:
            for name in names:
                preset = load_preset(name)
                rubric = str(preset.params.get("var.rubric", ""))
                judges = [
                    PromptJudge(preset, b, template_vars={"rubric": rubric} if rubric else {})
                    for b in backends
                ]
                item: PairItem | SingleItem = sample_items[0] if preset.kind == "pair" else single
                for swapped in (False, True) if preset.kind == "pair" else (False,):
                    shown: tuple[str, ...]
                    if isinstance(item, PairItem):
                        shown = (item.response_a, item.response_b)
                        shown = shown[::-1] if swapped else shown
                    else:
                        shown = (item.response,)
                    expected = upstream_final_prompt(
                        name,
                        instruction=item.prompt_text,
                        responses=shown,
                        rubric=rubric,
                        bos_text=tok.bos_token,
                    )
                    body = expected.removeprefix(tok.bos_token)
                    want = [tok.bos_token_id, *tok(body, add_special_tokens=False)["input_ids"]]
                    for j in judges:
                        request = j.request(Task(item, swapped=swapped))
                        text = expected
                        if j.backend.name == "lmeval" and not text.startswith(tok.bos_token):
                            text = tok.bos_token + text  # lm-eval takes text: BOS as text
                        assert j.backend.format_prompt(request) == text, (name, j.backend.name)  # type: ignore[attr-defined]
                        ids = j.backend.prompt_token_ids(request)  # type: ignore[attr-defined]
                        if j.backend.name == "llamacpp":
                            # llama.cpp's BPE merges a few spans the HF tokenizer of the
                            # same GGUF splits ("\n\n" before "1."): same text, one BOS
                            assert ids[0] == tok.bos_token_id != ids[1], (name, swapped)
                            assert tok.decode(ids[1:]) == body, (name, swapped)
                        else:
                            assert ids == want, (name, j.backend.name, swapped)
        finally:
            if template is not None:
                asyncio.run(backends[0].aclose())


def test_mistral_template_that_rejects_system_roles_runs_prometheus(
    tiny: TransformersBackend, sample_items: list[PairItem]
) -> None:
    """Mistral's template raises on a system role; Prometheus' user-only layout folds the
    system prompt into the one [INST] turn, so it runs; a chat layout is refused clearly."""
    from judge.errors import ConfigError
    from tests.upstream import MISTRAL_V02_TEMPLATE

    backend = TransformersBackend.from_model(
        tiny.hf_model, tiny.tokenizer, chat_template=MISTRAL_V02_TEMPLATE, batch_size=4
    )
    single = SingleItem(id="s", benchmark="t", prompt="2+2?", response="4")
    for name, item in (("prometheus2-relative", sample_items[0]), ("prometheus2-absolute", single)):
        preset = load_preset(name)
        rubric = {"rubric": preset.params["var.rubric"]}
        judge = PromptJudge(preset, backend, generation={"max_tokens": 4}, template_vars=rubric)
        orders = (False, True) if isinstance(item, PairItem) else (False,)
        judgments = judge_all(judge, [Task(item, swapped=s) for s in orders])
        assert all(j.status in ("ok", "unparsed") and j.raw is not None for j in judgments)
        as_chat = PromptJudge(preset, backend, layout="chat", template_vars=rubric)
        with pytest.raises(ConfigError, match="roles must alternate"):
            as_chat.request(Task(item))


def test_vllm_sends_the_layouts_token_ids(hf_gguf: TransformersBackend) -> None:
    """vLLM's prompt path (no GPU here): formatting and tokenization are the same pure
    functions as transformers', and it hands the engine token ids, BOS policy applied.
    Only the engine's tokenizer is used; the engine itself is not started."""
    import types

    from judge.backends.base import PromptLayout
    from judge.backends.vllm import VllmBackend
    from tests.upstream import MISTRAL_V02_TEMPLATE

    messages = (Message(role="user", content="Be fair.\n\nQ"),)
    for options, layout in (
        ({}, PromptLayout(raw=True, wrapper="[INST] {prompt} [/INST]", bos=True)),
        ({"chat_template": MISTRAL_V02_TEMPLATE}, PromptLayout(bos=True)),
        ({"chat_template": "raw"}, None),
        ({}, None),
    ):
        vllm_backend = VllmBackend(model="unused", **options)
        vllm_backend._llm = types.SimpleNamespace(get_tokenizer=lambda: hf_gguf.tokenizer)
        hf = TransformersBackend.from_model(hf_gguf.hf_model, hf_gguf.tokenizer, **options)
        request = CompletionRequest(messages=messages, layout=layout)
        assert vllm_backend.format_prompt(request) == hf.format_prompt(request)
        assert vllm_backend.prompt_token_ids(request) == hf.prompt_token_ids(request)
    raw = CompletionRequest(
        messages=messages,
        layout=PromptLayout(raw=True, wrapper="[INST] {prompt} [/INST]", bos=True),
    )
    vllm_backend = VllmBackend(model="unused")
    vllm_backend._llm = types.SimpleNamespace(get_tokenizer=lambda: hf_gguf.tokenizer)
    ids = vllm_backend.prompt_token_ids(raw)
    assert ids[0] == hf_gguf.tokenizer.bos_token_id != ids[1]
    assert hf_gguf.tokenizer.decode(ids[1:]) == "[INST] Be fair.\n\nQ [/INST]"


def test_chat_template_raw_is_raw_on_every_local_backend(
    hf_gguf: TransformersBackend, lmeval_hf: LmEvalBackend, sample_items: list[PairItem]
) -> None:
    """`-J chat_template=raw` on a chat preset: the messages as plain text everywhere,
    never the four characters "raw"; the model's default BOS (SmolLM2 adds none)."""
    from judge.backends.llamacpp import LlamaCppBackend

    cpp = LlamaCppBackend(n_threads=2, chat_template="raw")
    try:
        raw_backends: list[Any] = [
            cpp,
            TransformersBackend.from_model(
                hf_gguf.hf_model, hf_gguf.tokenizer, chat_template="raw"
            ),
            LmEvalBackend.from_lm(lmeval_hf.lm, chat_template="raw"),
            LmEvalBackend.from_lm(lmeval_hf.lm, apply_chat_template=False),
        ]
        for backend in raw_backends:
            request = PromptJudge(load_preset("mt-bench-pair"), backend).request(
                Task(sample_items[0])
            )
            expected = "\n\n".join(m.content for m in request.messages)
            assert backend.format_prompt(request) == expected, backend.name
            ids = backend.prompt_token_ids(request)
            assert hf_gguf.tokenizer.decode(ids) == expected and ids[0] != 1, backend.name
    finally:
        asyncio.run(cpp.aclose())
