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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, JsonValue, ValidationError, field_validator

from judge.errors import BackendError, ConfigError, validation_text
from judge.records import Message, Record

RAW = "raw"
"""The ``chat_template`` option value that sends plain text on every local backend."""


class PromptLayout(Record):
    """How a local backend turns a request's messages into the model's input.

    The judge sets it from the preset's declared layout (``prompts/*.toml``); a request
    without one is a chat, formatted with the model's chat template and its default
    special tokens. HTTP backends send the messages as they are.
    """

    raw: bool = False
    """Send the messages as one plain string, never through a chat template."""
    wrapper: str | None = None
    """For a raw prompt: the text around it, ``{prompt}`` marking where it goes
    (Llama-2 judges: ``[INST] {prompt} [/INST]``)."""
    bos: bool | None = None
    """``True``: the tokens start with exactly one BOS token (added unless a chat
    template wrote it); ``False``: with none; ``None``: the model's default (what its
    chat template writes, or for a raw prompt what its tokenizer adds)."""

    @field_validator("wrapper")
    @classmethod
    def _one_placeholder(cls, value: str | None) -> str | None:
        if value is not None and value.count("{prompt}") != 1:
            raise ValueError("a raw wrapper must contain '{prompt}' exactly once")
        return value


class CompletionRequest(Record):
    """One request to a backend."""

    messages: tuple[Message, ...]
    """The chat to complete."""
    layout: PromptLayout | None = None
    """How a local backend formats ``messages`` (``None``: a chat in the model's template)."""
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

    @property
    def empty(self) -> bool:
        """True for a reply with neither text nor choice probabilities: nothing to judge by.

        >>> Completion(text=" \\n").empty, Completion(text="", choice_probs={"A": 0.9}).empty
        (True, False)
        """
        return not self.text.strip() and not self.choice_probs


class BackendOptions(Record):
    """Options every backend takes; subclasses add their own fields."""

    model: str = Field(default="", description="model name, path or hub id")


class Backend(ABC):
    """Base class of every backend."""

    name: ClassVar[str]
    """Registry name."""
    remote: ClassVar[bool] = False
    """Whether a call leaves this process for a service that may bill it (then a call
    lost in flight must not be sent again blindly, e.g. by a Ray actor's retry)."""

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
                f"invalid options for backend {self.name!r}: "
                f"{validation_text(exc, model=self.Options)}"
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


def plain_prompt(messages: Sequence[Message], wrapper: str | None = None) -> str:
    """The messages as one plain-text prompt (a raw layout), inside ``wrapper`` if any.

    A single message is used verbatim (raw-prompt judges put their whole prompt in it).

    >>> plain_prompt([Message(role="user", content="### Evaluation:\\n")])
    '### Evaluation:\\n'
    >>> plain_prompt([Message(role="system", content="Judge."), Message(role="user", content="Q")])
    'Judge.\\n\\nQ'
    >>> plain_prompt([Message(role="user", content="Q")], "[INST] {prompt} [/INST]")
    '[INST] Q [/INST]'
    """
    text = "\n\n".join(m.content for m in messages)
    if wrapper is None:
        return text
    head, _, tail = wrapper.partition("{prompt}")
    return head + text + tail


def is_raw(layout: PromptLayout | None, chat_template: str | None, *, has_template: bool) -> bool:
    """Whether a local backend sends a request as plain text rather than through a template.

    Raw when the request's layout is raw, when the backend's ``chat_template`` option
    is :data:`RAW`, or when the model has no chat template and none is given.

    >>> is_raw(PromptLayout(raw=True), None, has_template=True)
    True
    >>> is_raw(None, "raw", has_template=True), is_raw(None, None, has_template=True)
    (True, False)
    >>> is_raw(None, None, has_template=False), is_raw(None, "{{ x }}", has_template=False)
    (True, False)
    """
    if (layout is not None and layout.raw) or chat_template == RAW:
        return True
    return not (chat_template or has_template)


def apply_bos(ids: Sequence[int], bos_id: int | None, bos: bool | None) -> list[int]:
    """Token ids with the BOS policy applied: exactly one leading BOS, none, or as given.

    >>> apply_bos([5, 6], 1, True), apply_bos([1, 5], 1, True), apply_bos([1, 1, 5], 1, True)
    ([1, 5, 6], [1, 5], [1, 5])
    >>> apply_bos([1, 5], 1, False), apply_bos([5], 1, None), apply_bos([5], None, True)
    ([5], [5], [5])
    """
    out = list(ids)
    if bos is None or bos_id is None:
        return out
    start = 0
    while start < len(out) and out[start] == bos_id:  # a template's BOS, or a doubled one
        start += 1
    return [bos_id, *out[start:]] if bos else out[start:]


def check_chat_template(value: str | None) -> str | None:
    """Validate a ``chat_template`` option: unset, :data:`RAW`, or a Jinja template.

    A bare name such as ``mistral`` would be sent to the model as literal text.

    >>> check_chat_template("raw"), check_chat_template(None)
    ('raw', None)
    >>> try:
    ...     check_chat_template("chatml")
    ... except ValueError as exc:
    ...     print(str(exc).split("; ")[1])
    'chatml' would reach the model as literal text
    """
    if value is None or value == RAW or "{{" in value or "{%" in value:
        return value
    raise ValueError(
        "chat_template must be 'raw' or a Jinja template (with {{ ... }} or {% ... %}); "
        f"{value!r} would reach the model as literal text"
    )


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


# -- batch mode: what a batch-capable backend hands the batch runner (judge/batch.py) --


@dataclass(frozen=True)
class BatchPoll:
    """Where a provider batch stands (see :mod:`judge.batch`)."""

    state: Literal["running", "ended", "failed", "lost"]
    """``ended``: results can be fetched; ``failed``: the batch as a whole was rejected;
    ``lost``: the provider does not know the id (HTTP 404)."""
    counts: dict[str, int] = field(default_factory=dict)
    """The provider's request counts."""
    detail: str = ""
    """The provider's status word or failure message."""


@dataclass(frozen=True)
class ListedBatch:
    """One batch in the provider's list of recent batches (to find an orphan)."""

    batch_id: str
    created_at: datetime
    """When the provider created it (UTC)."""
    total: int
    """How many requests it holds."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Its metadata (OpenAI); Anthropic's batches have none."""


@dataclass
class BatchResults:
    """The results of an ended batch by custom id, and the lines that did not fit."""

    results: dict[str, Completion | BackendError] = field(default_factory=dict)
    """One result per requested custom id (a success is never replaced by a later line)."""
    unknown: list[str] = field(default_factory=list)
    """Custom ids of lines for requests that were not asked about."""
    duplicates: int = 0
    """Lines for a custom id that already had one."""

    def add(self, custom_id: str, result: Completion | BackendError) -> None:
        """Record one line: the first success wins, a success replaces an earlier error.

        >>> r = BatchResults()
        >>> r.add("k", Completion(text="A")); r.add("k", BackendError("late error"))
        >>> r.add("k", Completion(text="B"))
        >>> r.results["k"].text, r.duplicates
        ('A', 2)
        """
        old = self.results.get(custom_id)
        if old is not None:
            self.duplicates += 1
            if isinstance(old, Completion) or not isinstance(result, Completion):
                return
        self.results[custom_id] = result


class OptionRefused(BackendError):
    """A batch line refused for a field the backend stops sending (as live mode does):
    the runner resubmits the request without it instead of storing an error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
