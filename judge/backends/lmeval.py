"""Any lm-evaluation-harness model as a judge backend.

The model is an lm-eval model class from its registry (``hf``, ``vllm``, ...) built
from a *dict* of arguments (``-J model_type=hf -J model_args='{"pretrained": "..."}'``),
never a comma-packed string, or an existing instance wrapped with
:meth:`LmEvalBackend.from_lm`. lm-eval then does the batching and multi-GPU work.

Prompts follow the request's layout: the model's chat template (``chat_template=``
overrides it), or one plain string when the layout is raw or ``chat_template=raw``
(``apply_chat_template=false`` is the same as ``raw``).

Verdict probabilities come from ``loglikelihood`` of each choice's first token as a
continuation of the chat-formatted prompt (both spellings, ``"A"`` and ``" A"``,
summed), so P(verdict) is read in one scoring pass; everything else goes through
``generate_until``. Chat-completion model classes cannot score continuations (they
raise ``NotImplementedError``): with those, use generate mode.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, JsonValue, field_validator

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
from judge.backends.local import LocalBackend, cut_at_stop, embedded_model_path
from judge.errors import BackendError, ConfigError, MissingDependencyError


class LmEvalBackend(LocalBackend):
    """An lm-evaluation-harness ``LM`` used through ``loglikelihood`` and ``generate_until``."""

    name: ClassVar[str] = "lmeval"
    max_concurrency = 1  # the LM instance is not re-entrant

    class Options(BackendOptions):
        model: str = Field(
            default="",
            description="checkpoint, passed as model_args.pretrained; empty with model_type "
            "'hf' = the embedded SmolLM2 GGUF",
        )
        model_type: str = Field(default="hf", description="lm-eval model registry name")
        model_args: dict[str, JsonValue] = Field(
            default_factory=dict, description="keyword arguments of the lm-eval model class"
        )
        batch_size: int = Field(default=16, ge=1, description="requests per lm-eval call")
        device: str | None = Field(default=None, description="lm-eval device ('cpu', 'cuda')")
        apply_chat_template: bool = Field(
            default=True, description="format prompts with the model's chat template"
        )
        chat_template: str | None = Field(
            default=None,
            description="unset = the model's (raw if none); 'raw'; or a Jinja template "
            "(needs a Hugging Face tokenizer)",
        )
        _template = field_validator("chat_template")(check_chat_template)

    spec_exclude: ClassVar[frozenset[str]] = frozenset({"batch_size", "device"})

    options: Options  # type: ignore[assignment]  # narrowed from BackendOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batch_size = self.options.batch_size
        self._lm: Any = None
        self._continuation_cache: dict[tuple[str, ...], list[list[str]]] = {}

    @classmethod
    def from_lm(cls, lm: Any, **options: Any) -> LmEvalBackend:
        """Wrap an existing lm-eval ``LM`` instance (e.g. ``HFLM(pretrained=model)``)."""
        backend = cls(**options)
        backend._lm = lm
        return backend

    @property
    def lm(self) -> Any:
        """The lm-eval model instance, created on first use."""
        return self._once("_lm", self._create_lm)

    def _create_lm(self) -> Any:
        try:
            from lm_eval.api import registry  # the package's (a test blocks lm_eval.api)
        except ImportError as exc:
            raise MissingDependencyError("lm-eval", "lmeval") from exc
        try:
            model_cls = registry.get_model(self.options.model_type)
        except ValueError as exc:
            raise ConfigError(f"unknown lm-eval model {self.options.model_type!r}") from exc
        args: dict[str, Any] = dict(self.options.model_args)
        if self.options.model:
            args.setdefault("pretrained", self.options.model)
        elif self.options.model_type == "hf" and "pretrained" not in args:
            path = embedded_model_path()
            args.update(pretrained=str(path.parent), gguf_file=path.name)
        extra: dict[str, Any] = {"batch_size": self.options.batch_size}
        if self.options.device:
            extra["device"] = self.options.device
        try:
            return model_cls.create_from_arg_obj(args, extra)
        except ImportError as exc:
            raise MissingDependencyError(str(exc.name or "lm-eval"), "lmeval") from exc

    def prepare(self) -> None:
        _ = self.lm

    # -- prompts ---------------------------------------------------------------------

    def _tokenizer(self) -> Any:
        return getattr(self.lm, "tokenizer", None)

    def format_prompt(self, request: CompletionRequest) -> str:
        """The prompt text lm-eval receives: the chat template applied, or raw text.

        lm-eval takes strings, so the BOS policy is applied to the text: a declared BOS
        is written as the tokenizer's BOS text (lm-eval then adds no second one), and a
        refused one is removed. :meth:`prompt_token_ids` checks the result.
        """
        tok = self._tokenizer()
        template = self.options.chat_template
        if not self.options.apply_chat_template and template is None:
            template = RAW
        layout = request.layout
        messages = [m.model_dump() for m in request.messages]
        if is_raw(layout, template, has_template=bool(getattr(tok, "chat_template", None))):
            text = plain_prompt(request.messages, layout.wrapper if layout else None)
        elif template is not None:
            if tok is None or not hasattr(tok, "apply_chat_template"):
                raise ConfigError(
                    f"lm-eval model {self.options.model_type!r} has no Hugging Face "
                    "tokenizer to apply -J chat_template with; use chat_template=raw"
                )
            text = str(
                tok.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True, chat_template=template
                )
            )
        else:
            text = str(self.lm.apply_chat_template(messages, add_generation_prompt=True))
        bos_text = getattr(tok, "bos_token", None)
        bos = layout.bos if layout else None
        if bos is not None and bos_text:
            if bos and not text.startswith(bos_text):
                text = bos_text + text
            elif not bos and text.startswith(bos_text):
                text = text[len(bos_text) :]
        return text

    def prompt_token_ids(self, request: CompletionRequest) -> list[int]:
        """The token ids lm-eval encodes the prompt to (``tok_encode``), BOS checked."""
        text = self.format_prompt(request)
        with self._lock:
            encode = getattr(self.lm, "tok_encode", None)
            if not callable(encode):
                raise ConfigError(f"lm-eval model {self.options.model_type!r} has no tokenizer")
            ids = list(encode(text))
        bos = request.layout.bos if request.layout else None
        bos_id = getattr(self._tokenizer(), "bos_token_id", None)
        if apply_bos(ids, bos_id, bos) != ids:
            raise ConfigError(
                f"lm-eval encodes this prompt {'without' if bos else 'with'} a BOS token, "
                f"against the preset's layout (bos={str(bos).lower()}); set model_args "
                f"add_bos_token={str(bool(bos)).lower()}"
            )
        return ids

    def count_tokens(self, text: str) -> int | None:
        with self._lock:
            encode = getattr(self.lm, "tok_encode", None)
            return len(encode(text)) if callable(encode) else None

    @property
    def context_window(self) -> int | None:
        window = getattr(self.lm, "max_length", None)
        return int(window) if isinstance(window, int) else None

    def _continuations(self, choices: tuple[str, ...]) -> list[list[str]]:
        """For each choice, the continuation strings whose likelihood counts.

        With a tokenizer: the text of the first token of each spelling (``"A"``, ``" A"``),
        so a multi-token choice counts its first token as the other backends do.
        """
        if choices not in self._continuation_cache:
            tok = self._tokenizer()
            if tok is None:
                groups = [[c, " " + c] for c in choices]
            else:
                ids = choice_token_ids(
                    choices,
                    lambda s: list(tok(s, add_special_tokens=False)["input_ids"]),
                    lambda i: str(tok.decode(i)),
                )
                groups = [[str(tok.decode([i])) for i in group] for group in ids]
            self._continuation_cache[choices] = groups
        return self._continuation_cache[choices]

    # -- completion ------------------------------------------------------------------

    def complete_sync(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        """Score or generate every request through the lm-eval model."""
        from lm_eval.api.instance import Instance

        with self._lock:
            lm = self.lm
            prompts = [self.format_prompt(r) for r in requests]
            for request in requests:
                if request.layout is not None and request.layout.bos is not None:
                    self.prompt_token_ids(request)  # refuses a prompt lm-eval would mis-BOS
            results: list[Completion | BackendError | None] = [None] * len(requests)
            scoring: list[tuple[int, int]] = []  # (request index, continuation index)
            score_instances: list[Any] = []
            generate = []
            for i, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
                if request.choices:
                    for group in self._continuations(request.choices):
                        for cont in group:
                            scoring.append((i, len(score_instances)))
                            score_instances.append(
                                Instance("loglikelihood", {}, (prompt, cont), len(score_instances))
                            )
                else:
                    generate.append(i)
            start = time.perf_counter()
            if score_instances:
                try:
                    scored = lm.loglikelihood(score_instances, disable_tqdm=True)
                except NotImplementedError as exc:
                    raise ConfigError(
                        f"lm-eval model {self.options.model_type!r} cannot score "
                        "continuations; use -J mode=generate"
                    ) from exc
                latency = (time.perf_counter() - start) / max(1, len({i for i, _ in scoring}))
                for i in sorted({i for i, _ in scoring}):
                    results[i] = self._choice_completion(
                        requests[i],
                        prompts[i],
                        [scored[k][0] for j, k in scoring if j == i],
                        latency,
                    )
            if generate:
                start = time.perf_counter()
                instances = [
                    Instance("generate_until", {}, (prompts[i], _gen_kwargs(requests[i])), n)
                    for n, i in enumerate(generate)
                ]
                texts = lm.generate_until(instances, disable_tqdm=True)
                latency = (time.perf_counter() - start) / len(generate)
                for i, text in zip(generate, texts, strict=True):
                    cut, stopped = cut_at_stop(str(text), requests[i].stop)
                    results[i] = Completion(
                        text=cut,
                        tokens_in=self.count_tokens(prompts[i]) or 0,
                        tokens_out=self.count_tokens(cut) or 0,
                        latency_s=latency,
                        finish_reason="stop" if stopped else None,
                    )
            return [r if r is not None else BackendError("no result") for r in results]

    def _choice_completion(
        self, request: CompletionRequest, prompt: str, logliks: list[float], latency: float
    ) -> Completion:
        assert request.choices is not None
        groups = self._continuations(request.choices)
        probs: dict[str, float] = {}
        k = 0
        for choice, group in zip(request.choices, groups, strict=True):
            probs[choice] = sum(math.exp(ll) for ll in logliks[k : k + len(group)])
            k += len(group)
        best = max(probs, key=lambda c: probs[c])
        return Completion(
            text=best,
            choice_probs=probs,
            tokens_in=self.count_tokens(prompt) or 0,
            tokens_out=1,
            latency_s=latency,
            finish_reason="length",
        )

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return await asyncio.to_thread(self.complete_sync, requests)

    async def aclose(self) -> None:
        with self._lock:
            self._lm = None


def _gen_kwargs(request: CompletionRequest) -> dict[str, Any]:
    """lm-eval ``generate_until`` arguments for a request.

    >>> _gen_kwargs(CompletionRequest(messages=(), max_tokens=8, stop=("\\n",)))
    {'until': ['\\n'], 'max_gen_toks': 8, 'do_sample': False, 'temperature': 0.0}
    """
    return {
        "until": list(request.stop),
        "max_gen_toks": request.max_tokens,
        "do_sample": request.temperature > 0,
        "temperature": request.temperature,
    }
