"""The backend interface: chat messages in, text (+ verdict-token probabilities, usage) out.

A backend is one class with one abstract method, :meth:`Backend.complete`, which
takes a *batch* of requests (local models want whole batches; HTTP backends take
batches of one) and returns one :class:`Completion` or one :class:`BackendError`
per request, in order. Options are a nested strict pydantic model, so an unknown
``-J key=value`` fails before any work starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from pydantic import Field, JsonValue, ValidationError

from judge.errors import BackendError, ConfigError, validation_text
from judge.records import Message, Record


class CompletionRequest(Record):
    """One request to a backend."""

    messages: tuple[Message, ...]
    """The chat to complete."""
    max_tokens: int = 16
    """Most tokens to generate."""
    temperature: float = 0.0
    """Sampling temperature (0 = greedy)."""
    seed: int | None = None
    """Sampling seed, where the backend honours one."""
    choices: tuple[str, ...] | None = None
    """Verdict strings whose first-token probability the backend should report at the
    first generated position (e.g. ``("A", "B", "C")``); ``None`` for plain generation."""
    stop: tuple[str, ...] = ()
    """Stop sequences."""
    json_schema: dict[str, JsonValue] | None = None
    """Ask for structured output matching this JSON schema, where supported."""
    max_prompt_tokens: int | None = None
    """Trim the prompt to fit this many tokens (set by the judge's truncation policy)."""


class Completion(Record):
    """A backend's answer to one request."""

    text: str
    """Generated text."""
    choice_probs: dict[str, float] | None = None
    """Probability of each requested choice string's first token (not renormalised)."""
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost: float = 0.0
    """US dollars, where the backend knows its price."""
    truncated: bool = False
    """True when the prompt was cut to fit."""
    finish_reason: str | None = None


class BackendOptions(Record):
    """Options every backend takes; subclasses add their own fields."""

    model: str = Field(default="", description="model name, path or hub id")


class Backend(ABC):
    """Base class of every backend."""

    name: ClassVar[str]
    """Registry name."""

    class Options(BackendOptions):
        pass

    batch_size: int = 1
    """How many requests :meth:`complete` wants at once."""
    max_concurrency: int | None = None
    """Upper bound on concurrent ``complete`` calls (``1`` for in-process models)."""

    def __init__(self, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid options for backend {self.name!r}: {validation_text(exc)}"
            ) from exc

    @property
    def model(self) -> str:
        return self.options.model

    spec_exclude: ClassVar[frozenset[str]] = frozenset()
    """Options that do not change the output (timeouts, concurrency, key names)."""

    def spec(self) -> dict[str, JsonValue]:
        """Output-relevant settings, for the judge hash and the cache key.

        Every option except :attr:`spec_exclude` (timeouts, concurrency, keys).
        """
        options = self.options.model_dump(mode="json", exclude=set(self.spec_exclude))
        return {"backend": self.name, **options}

    @abstractmethod
    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        """Complete each request; return one result (or error) per request, in order."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what :meth:`complete` would load on first use (a model), so that a bad
        setting fails before a run starts rather than inside its first task."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients, servers or models."""

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` with this model's tokenizer, where known."""
        return None

    @property
    def context_window(self) -> int | None:
        """The model's context window in tokens, where known."""
        return None


def normalise(probs: dict[str, float]) -> dict[str, float] | None:
    """Scale probabilities so they sum to one; None if they sum to zero.

    >>> normalise({"A": 1.0, "B": 3.0})
    {'A': 0.25, 'B': 0.75}
    """
    total = sum(probs.values())
    if total <= 0:
        return None
    return {k: v / total for k, v in probs.items()}


def choice_token_ids(
    choices: Sequence[str],
    encode: Callable[[str], list[int]],
    decode: Callable[[list[int]], str],
) -> list[list[int]]:
    """For each choice, the token ids its spellings (``"A"``, ``" A"``) start with.

    A spelling whose first token is only whitespace (``" 1"`` -> ``" "``, ``"1"`` in some
    vocabularies) is left out: that token says nothing about the choice.

    >>> vocab = {"A": 1, " A": 2, " ": 3, "1": 4}
    >>> def encode(s):
    ...     return [vocab[s]] if s in vocab else [vocab[" "], vocab[s[1:]]]
    >>> decode = lambda ids: {v: k for k, v in vocab.items()}[ids[0]]
    >>> choice_token_ids(["A", "1"], encode, decode)
    [[1, 2], [4]]
    """
    out = []
    for choice in choices:
        ids: set[int] = set()
        for spelling in (choice, " " + choice):
            tokens = encode(spelling)
            if tokens and decode(tokens[:1]).strip():
                ids.add(tokens[0])
        out.append(sorted(ids))
    return out
