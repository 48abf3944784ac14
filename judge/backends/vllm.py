"""Offline vLLM (``vllm.LLM``) on one or more GPUs.

Parallelism settings are passed through to the engine: ``tensor_parallel_size``,
``pipeline_parallel_size``, ``data_parallel_size``, and anything else in
``engine_args`` (a dict). Prompts are the chat messages in the tokenizer's chat
template (``chat_template=`` overrides it), or one plain string when the request's
layout is raw or ``chat_template=raw``; tokenized here, BOS policy applied, and sent
as token ids so every backend sees the same tokens.

Verdict probabilities come from one generated token with ``logprobs``: vLLM reports
the top ``logprobs`` tokens of that position, and each choice sums its spellings'
probabilities among them (a choice outside the top ones counts as 0, which is below
the smallest reported probability).

vllm is imported when the engine is first needed; without it the backend raises
:class:`~judge.errors.MissingDependencyError` naming the ``vllm`` extra.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, JsonValue, field_validator

from judge.backends.base import (
    BackendOptions,
    Completion,
    CompletionRequest,
    check_chat_template,
)
from judge.backends.local import (
    HFTokenizerBackend,
    cut_at_stop,
    import_optional,
)
from judge.errors import BackendError, ConfigError


class VllmBackend(HFTokenizerBackend):
    """A model served in-process by vLLM's offline ``LLM`` engine.

    The engine is given token ids (:meth:`prompt_token_ids`), never text, so its own
    tokenization (which would add a BOS to a templated prompt that already has one)
    cannot change the layout.
    """

    name: ClassVar[str] = "vllm"
    max_concurrency = 1  # the engine batches internally; calls are serialised

    class Options(BackendOptions):
        model: str = Field(default="", description="local folder, hub id or .gguf file")
        tokenizer: str | None = Field(default=None, description="tokenizer (default: model)")
        tensor_parallel_size: int = Field(default=1, ge=1)
        pipeline_parallel_size: int = Field(default=1, ge=1)
        data_parallel_size: int = Field(default=1, ge=1)
        dtype: str = "auto"
        max_model_len: int | None = Field(default=None, ge=16)
        gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
        quantization: str | None = None
        trust_remote_code: bool = False
        enforce_eager: bool = False
        seed: int = 0
        logprobs: int = Field(default=20, ge=1, description="top tokens read for verdicts")
        chat_template: str | None = Field(
            default=None, description="unset = the tokenizer's (raw if none); 'raw'; or Jinja"
        )
        _template = field_validator("chat_template")(check_chat_template)
        batch_size: int = Field(default=256, ge=1, description="requests per engine call")
        engine_args: dict[str, JsonValue] = Field(
            default_factory=dict, description="more vllm.LLM keyword arguments"
        )

    spec_exclude: ClassVar[frozenset[str]] = frozenset(
        {
            "batch_size",
            "tensor_parallel_size",
            "pipeline_parallel_size",
            "data_parallel_size",
            "gpu_memory_utilization",
            "enforce_eager",
        }
    )

    options: Options  # type: ignore[assignment]  # narrowed from BackendOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options.model:
            raise ConfigError("the vllm backend needs -J model=<folder, hub id or .gguf>")
        self.batch_size = self.options.batch_size
        self._llm: Any = None

    @property
    def llm(self) -> Any:
        """The ``vllm.LLM`` engine, started on first use."""
        return self._once("_llm", self._start_engine)

    def _start_engine(self) -> Any:
        vllm = import_optional("vllm", "vllm", "vllm")
        opts = self.options
        kwargs: dict[str, Any] = {
            "model": opts.model,
            "tensor_parallel_size": opts.tensor_parallel_size,
            "pipeline_parallel_size": opts.pipeline_parallel_size,
            "dtype": opts.dtype,
            "gpu_memory_utilization": opts.gpu_memory_utilization,
            "trust_remote_code": opts.trust_remote_code,
            "enforce_eager": opts.enforce_eager,
            "seed": opts.seed,
            "max_logprobs": max(20, opts.logprobs),
        }
        if opts.data_parallel_size > 1:
            kwargs["data_parallel_size"] = opts.data_parallel_size
        for key in ("tokenizer", "max_model_len", "quantization"):
            if getattr(opts, key) is not None:
                kwargs[key] = getattr(opts, key)
        kwargs.update(opts.engine_args)
        return vllm.LLM(**kwargs)

    def prepare(self) -> None:
        _ = self.llm

    @property
    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    @property
    def context_window(self) -> int | None:
        if self.options.max_model_len:
            return self.options.max_model_len
        return int(self.llm.llm_engine.model_config.max_model_len)

    def sampling_params(self, request: CompletionRequest) -> Any:
        """vLLM ``SamplingParams`` for a request."""
        import vllm

        if request.choices:
            return vllm.SamplingParams(
                max_tokens=1, temperature=0.0, logprobs=self.options.logprobs
            )
        return vllm.SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            stop=list(request.stop) or None,
        )

    def complete_sync(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        """Run every request through the engine in one ``generate`` call."""
        with self._lock:
            llm = self.llm
            window = self.context_window
            results: list[Completion | BackendError | None] = [None] * len(requests)
            prompts, params, index = [], [], []
            for i, request in enumerate(requests):
                ids = self.prompt_token_ids(request)
                if window is not None and len(ids) + request.max_tokens > window:
                    results[i] = BackendError(
                        f"prompt of {len(ids)} tokens + {request.max_tokens} to generate "
                        f"exceeds the context window of {window}"
                    )
                    continue
                prompts.append({"prompt_token_ids": list(ids)})
                params.append(self.sampling_params(request))
                index.append(i)
            if prompts:
                start = time.perf_counter()
                outputs = llm.generate(prompts, params, use_tqdm=False)
                latency = (time.perf_counter() - start) / len(prompts)
                for i, prompt, output in zip(index, prompts, outputs, strict=True):
                    results[i] = self._completion(requests[i], prompt, output, latency)
            return [r if r is not None else BackendError("no result") for r in results]

    def _completion(
        self, request: CompletionRequest, prompt: dict[str, Any], output: Any, latency: float
    ) -> Completion:
        first = output.outputs[0]
        tokens_in = len(prompt["prompt_token_ids"])
        if request.choices:
            top = first.logprobs[0] if first.logprobs else {}
            probs = {
                choice: sum(math.exp(top[t].logprob) for t in ids if t in top)
                for choice, ids in zip(
                    request.choices, self._choice_token_ids(request.choices), strict=True
                )
            }
            return Completion(
                text=first.text,
                choice_probs=probs,
                tokens_in=tokens_in,
                tokens_out=1,
                latency_s=latency,
                finish_reason="length",
            )
        text, _ = cut_at_stop(first.text, request.stop)
        return Completion(
            text=text,
            tokens_in=tokens_in,
            tokens_out=len(first.token_ids),
            latency_s=latency,
            finish_reason=first.finish_reason,
        )

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return await asyncio.to_thread(self.complete_sync, requests)

    async def aclose(self) -> None:
        with self._lock:
            self._llm = None
