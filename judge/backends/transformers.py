"""Local checkpoints through Hugging Face transformers (``AutoModelForCausalLM``).

The model is a local folder, a hub id (when online) or a GGUF file (``gguf_file=``,
dequantized on load); with no ``model`` option it loads the embedded SmolLM2 GGUF,
the same file the llama.cpp backend runs. Prompts follow the request's layout: the
chat messages in the tokenizer's chat template when it has one (``chat_template=``
overrides it), or one plain string when the layout is raw (PandaLM, JudgeLM, Auto-J),
when ``chat_template=raw``, or when the tokenizer has no template; the BOS token is
added or left out as the layout declares. Requests are batched with left padding.

Verdict probabilities come from one forward pass: the softmax of the last position's
logits, summed for each choice over the token ids its spellings start with (``"A"``
and ``" A"`` are different tokens). Everything else is ``model.generate``.

torch and transformers are imported when the model is first needed; without them
the backend raises :class:`~judge.errors.MissingDependencyError` naming the ``hf``
extra.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from judge.backends.base import (
    BackendOptions,
    Completion,
    CompletionRequest,
    check_chat_template,
)
from judge.backends.local import (
    HFTokenizerBackend,
    cut_at_stop,
    embedded_model_path,
    hf_loading,
    import_transformers,
    torch_device,
    torch_dtype,
)
from judge.errors import BackendError


class TransformersBackend(HFTokenizerBackend):
    """A causal LM run in-process by transformers (CPU or GPU)."""

    name: ClassVar[str] = "transformers"
    max_concurrency = 1  # one model: batches are serialised

    class Options(BackendOptions):
        model: str = Field(
            default="",
            description="local folder, hub id or .gguf file; empty = the embedded SmolLM2 GGUF",
        )
        gguf_file: str | None = Field(
            default=None, description="GGUF file name inside the model folder (dequantized)"
        )
        tokenizer: str | None = Field(default=None, description="tokenizer path (default: model)")
        device: str = Field(default="auto", description="'auto', 'cpu', 'cuda', 'cuda:1', ...")
        dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
        batch_size: int = Field(default=8, ge=1, description="requests per forward pass")
        context_window: int | None = Field(
            default=None, ge=16, description="tokens (default: the model config's maximum)"
        )
        chat_template: str | None = Field(
            default=None,
            description="unset = the tokenizer's (raw if none); 'raw'; or a Jinja template",
        )
        _template = field_validator("chat_template")(check_chat_template)
        revision: str | None = None
        trust_remote_code: bool = False
        local_files_only: bool = False

    spec_exclude: ClassVar[frozenset[str]] = frozenset({"batch_size", "device", "local_files_only"})

    options: Options  # type: ignore[assignment]  # narrowed from BackendOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batch_size = self.options.batch_size
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: Any = None
        self._window: int | None = None

    # -- loading ---------------------------------------------------------------------

    def _source(self) -> tuple[str, str | None]:
        """(folder or hub id, GGUF file name or None)."""
        model, gguf = self.options.model, self.options.gguf_file
        if not model:
            path = embedded_model_path()
            return str(path.parent), path.name
        if model.endswith(".gguf") and Path(model).is_file():
            return str(Path(model).parent), Path(model).name
        return model, gguf

    def _load_kwargs(self) -> dict[str, Any]:
        _, gguf = self._source()
        kwargs: dict[str, Any] = {
            "trust_remote_code": self.options.trust_remote_code,
            "local_files_only": self.options.local_files_only,
        }
        if self.options.revision:
            kwargs["revision"] = self.options.revision
        if gguf:
            kwargs["gguf_file"] = gguf
        return kwargs

    @property
    def tokenizer(self) -> Any:
        """The loaded tokenizer (left padding, a pad token set)."""
        with self._lock:
            if self._tokenizer is None:
                transformers = import_transformers()
                source, _ = self._source()
                kwargs = self._load_kwargs()
                if self.options.tokenizer:
                    kwargs.pop("gguf_file", None)
                with hf_loading(f"the tokenizer of {source!r}"):
                    tok = transformers.AutoTokenizer.from_pretrained(
                        self.options.tokenizer or source, **kwargs
                    )
                tok.padding_side = "left"
                if tok.pad_token is None:
                    tok.pad_token = tok.eos_token
                self._tokenizer = tok
            return self._tokenizer

    @property
    def hf_model(self) -> Any:
        """The loaded ``PreTrainedModel`` (in eval mode, on its device)."""
        with self._lock:
            if self._model is None:
                transformers = import_transformers()
                source, _ = self._source()
                device = torch_device(self.options.device)
                dtype = torch_dtype(self.options.dtype, device)
                with hf_loading(f"model {source!r}"):
                    model = transformers.AutoModelForCausalLM.from_pretrained(
                        source, dtype=dtype, **self._load_kwargs()
                    )
                self._device = device
                self._model = model.to(self._device).eval()
            return self._model

    def prepare(self) -> None:
        torch_device(self.options.device)  # a device torch cannot use, before any loading
        _ = self.tokenizer, self.hf_model

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **options: Any) -> TransformersBackend:
        """Wrap an already loaded model and tokenizer (tests, notebooks)."""
        backend = cls(**options)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        backend._tokenizer = tokenizer
        backend._model = model.eval()
        backend._device = next(model.parameters()).device
        return backend

    @property
    def context_window(self) -> int | None:
        if self.options.context_window:
            return self.options.context_window
        if self._window is None:
            config = self.hf_model.config
            window = getattr(config, "max_position_embeddings", None) or getattr(
                config, "n_positions", None
            )
            self._window = int(window) if window else None
        return self._window

    # -- prompts ---------------------------------------------------------------------

    # -- completion ------------------------------------------------------------------

    def _encode(self, prompts: list[list[int]]) -> Any:
        # token ids come from prompt_token_ids (layout and BOS applied); left padding
        return self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt", padding=True).to(
            self._device
        )

    def complete_sync(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        """Complete the requests in batches of ``batch_size`` in this thread."""
        with self._lock:
            model = self.hf_model
            results: list[Completion | BackendError | None] = [None] * len(requests)
            prompts = [self.prompt_token_ids(r) for r in requests]
            window = self.context_window
            ready: list[int] = []
            for i, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
                n = len(prompt)
                if window is not None and n + request.max_tokens > window:
                    results[i] = BackendError(
                        f"prompt of {n} tokens + {request.max_tokens} to generate exceeds "
                        f"the context window of {window}"
                    )
                else:
                    ready.append(i)

            # batches of similar length waste less padding; generation settings must match
            def group_key(i: int) -> tuple[Any, ...]:
                r = requests[i]
                if r.choices:
                    return ("probs", r.choices)
                return ("generate", r.max_tokens, r.temperature, r.stop, r.seed)

            groups: dict[tuple[Any, ...], list[int]] = {}
            for i in sorted(ready, key=lambda i: len(prompts[i])):
                groups.setdefault(group_key(i), []).append(i)
            for key, members in groups.items():
                for start in range(0, len(members), self.batch_size):
                    batch = members[start : start + self.batch_size]
                    texts = [prompts[i] for i in batch]
                    try:
                        if key[0] == "probs":
                            outs = self._probabilities(model, texts, requests[batch[0]].choices)
                        else:
                            outs = self._generate(model, texts, requests[batch[0]])
                    except BackendError as exc:
                        outs = [exc] * len(batch)
                    for i, out in zip(batch, outs, strict=True):
                        results[i] = out
            return [r if r is not None else BackendError("no result") for r in results]

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return await asyncio.to_thread(self.complete_sync, requests)

    def _forward_last(self, model: Any, enc: Any) -> Any:
        import torch

        mask = enc["attention_mask"]
        # left padding: positions must count real tokens only, as in an unpadded pass
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        extra: dict[str, Any] = {}
        if "logits_to_keep" in inspect.signature(model.forward).parameters:
            extra["logits_to_keep"] = 1  # only the last position's logits are read
        try:
            with torch.inference_mode():
                out = model(
                    input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions, **extra
                )
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(f"out of GPU memory: lower -J batch_size ({exc})") from exc
        return torch.softmax(out.logits[:, -1, :].float(), dim=-1)

    def _probabilities(
        self, model: Any, texts: list[list[int]], choices: tuple[str, ...] | None
    ) -> list[Completion | BackendError]:
        assert choices is not None
        start = time.perf_counter()
        enc = self._encode(texts)
        probs = self._forward_last(model, enc)
        ids = self._choice_token_ids(choices)
        latency = (time.perf_counter() - start) / len(texts)
        lengths = enc["attention_mask"].sum(-1).tolist()
        out: list[Completion | BackendError] = []
        for row, n_in in zip(probs, lengths, strict=True):
            choice_probs = {
                c: float(row[i].sum()) if i else 0.0 for c, i in zip(choices, ids, strict=True)
            }
            best = int(row.argmax())
            out.append(
                Completion(
                    text=str(self.tokenizer.decode([best])),
                    choice_probs=choice_probs,
                    tokens_in=int(n_in),
                    tokens_out=1,
                    latency_s=latency,
                    finish_reason="length",
                )
            )
        return out

    def _generate(
        self, model: Any, texts: list[list[int]], request: CompletionRequest
    ) -> list[Completion | BackendError]:
        import torch

        start = time.perf_counter()
        tok = self.tokenizer
        enc = self._encode(texts)
        sample = request.temperature > 0
        settings: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "do_sample": sample,
            "pad_token_id": tok.pad_token_id,
        }
        if sample:
            settings.update(temperature=request.temperature, top_p=1.0, top_k=0)
            torch.manual_seed(request.seed if request.seed is not None else 0)
        else:  # override sampling defaults a generation_config may carry
            settings.update(temperature=None, top_p=None, top_k=None)
        if request.stop:
            settings.update(stop_strings=list(request.stop), tokenizer=tok)
        try:
            with torch.inference_mode():
                sequences = model.generate(
                    input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], **settings
                )
        except torch.cuda.OutOfMemoryError as exc:
            raise BackendError(f"out of GPU memory: lower -J batch_size ({exc})") from exc
        latency = (time.perf_counter() - start) / len(texts)
        prompt_len = enc["input_ids"].shape[1]
        lengths = enc["attention_mask"].sum(-1).tolist()
        ends = {tok.eos_token_id, tok.pad_token_id} - {None}
        out: list[Completion | BackendError] = []
        for seq, n_in in zip(sequences, lengths, strict=True):
            new = seq[prompt_len:].tolist()
            used = next((k for k, t in enumerate(new) if t in ends), None)
            generated = new if used is None else new[:used]
            text, stopped = cut_at_stop(
                str(tok.decode(generated, skip_special_tokens=True)), request.stop
            )
            finished = used is not None or stopped
            out.append(
                Completion(
                    text=text,
                    tokens_in=int(n_in),
                    tokens_out=len(generated) + (1 if used is not None else 0),
                    latency_s=latency,
                    finish_reason="stop" if finished else "length",
                )
            )
        return out

    async def aclose(self) -> None:
        with self._lock:
            self._model = None
            self._tokenizer = None
