"""Judges: what turns an item into a verdict.

A :class:`Judge` receives *tasks* (an item, the order to show it in, a sample index)
and a :data:`Caller` that reaches its backend through the cache and the retry policy;
it returns one :class:`~judge.records.Judgment` per task. :class:`PromptJudge` is the
common case: a preset's template + a backend + the preset's parser. Juries (several
judges and a vote) live in :mod:`judge.jury`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, cast
from weakref import WeakKeyDictionary

from pydantic import Field, JsonValue, ValidationError

from judge.backends.base import RAW, Backend, Completion, CompletionRequest, PromptLayout, normalise
from judge.errors import (
    BackendError,
    ConfigError,
    TemplateError,
    UnknownNameError,
    validation_text,
)
from judge.hashing import canonical_json, sha256_json, sha256_text
from judge.parsers import ParsedReply, get_parser, get_upstream_parser, remove_quoted
from judge.prompts import DEFAULT_CRITERION_SCALE, Layout, Preset, preset_hash
from judge.records import (
    VERDICTS,
    Judgment,
    PairItem,
    Record,
    SingleItem,
    Status,
    Verdict,
    flip,
)
from judge.truncation import fit_to_window


@dataclass(frozen=True)
class Task:
    """One judgment to make: ``item`` shown in order ``swapped``, sample ``sample``."""

    item: PairItem | SingleItem
    swapped: bool = False
    sample: int = 0
    seed: int = 0
    """The run's seed; sampling requests use ``seed + sample``."""


@dataclass(frozen=True)
class CallResult:
    """A backend answer as the runner's caller returns it."""

    result: Completion | BackendError
    cache_hit: bool = False
    key: str | None = None
    """The request's :func:`request_key`, when the caller computed it already."""
    coalesced: bool = False
    """True when an identical request already in flight brought the reply (nothing sent)."""


Caller = Callable[
    [Backend, Sequence[CompletionRequest], Sequence[int]], Awaitable[list[CallResult]]
]
"""``call(backend, requests, sample_indices)``: cache lookup, retries, then the backend."""


class Judge(ABC):
    """Base class of every judge."""

    name: str

    @abstractmethod
    def spec(self) -> dict[str, JsonValue]:
        """Everything about the judge that changes its output."""

    @cached_property
    def judge_hash(self) -> str:
        """Hash of :meth:`spec` (computed once: a judge does not change once built)."""
        return sha256_json(self.spec())[:16]

    @property
    def batch_size(self) -> int:
        """How many tasks :meth:`evaluate` wants at once."""
        return 1

    @property
    def max_concurrency(self) -> int | None:
        """Upper bound on concurrent :meth:`evaluate` calls."""
        return None

    @abstractmethod
    def request_key(self, task: Task) -> str:
        """Content hash of what is asked for ``task``: the resume key."""

    @abstractmethod
    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        """One judgment per task, in order. Errors are judgments with status ``error``."""

    def reinterpret(self, judgment: Judgment, item: PairItem | SingleItem) -> Judgment:
        """Re-parse a stored judgment's raw reply without a new request."""
        return judgment

    def check_items(self, items: Sequence[PairItem | SingleItem]) -> None:  # noqa: B027
        """Raise :class:`~judge.errors.ConfigError` when the judge cannot grade ``items``
        (checked before a run starts, so no task fails on it)."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Build what the judge's backends make on first use (models), before a run's
        first task: a bad setting then fails at once, with its own message."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release backends."""


Mode = Literal["generate", "probs"]
ParseMode = Literal["strict", "upstream"]
LAYOUTS: tuple[Layout, ...] = ("chat", "user-only", "raw")


class Generation(Record):
    """A prompt judge's generation parameters (``-J max_tokens=32 -J temperature=0.7``),
    checked before anything runs: ``temperature=hot`` is a one-line error, not a
    traceback at the first request."""

    max_tokens: int = Field(16, ge=1)
    """Reply length limit in tokens (presets usually set it)."""
    temperature: float = Field(0.0, ge=0.0)
    """Sampling temperature (0: greedy)."""
    stop: str | tuple[str, ...] = ()
    """Stop strings."""
    json_schema: dict[str, JsonValue] | None = None
    """A JSON schema the reply must follow, where the backend takes one."""


class PromptJudge(Judge):
    """A preset (template + parser + defaults) on a backend."""

    def __init__(
        self,
        preset: Preset,
        backend: Backend,
        *,
        name: str | None = None,
        mode: Mode | None = None,
        parser: str | None = None,
        generation: dict[str, Any] | None = None,
        template_vars: dict[str, Any] | None = None,
        parse: str = "strict",
        layout: str | None = None,
    ) -> None:
        self.preset = preset
        self.backend = backend
        self.name = name or preset.name
        self.mode: Mode = mode or preset.mode
        if self.mode == "probs" and not (preset.choices or preset.score_choices):
            raise ConfigError(
                f"preset {preset.name!r} declares no choices; mode 'probs' needs them"
            )
        self.parser_name = parser or preset.parser
        if parse not in ("strict", "upstream"):
            raise ConfigError(f"parse must be 'strict' or 'upstream', not {parse!r}")
        self.parse: ParseMode = cast(ParseMode, parse)
        # upstream mode reproduces the format's own parsing rule, ties included
        try:
            self.parser = (
                get_upstream_parser(self.parser_name)
                if self.parse == "upstream"
                else get_parser(self.parser_name)
            )
        except UnknownNameError as exc:
            if preset.file is None or parser:  # a bundled preset, or -J parser= named it
                raise
            # the user's preset file names it: say which file to fix
            raise TemplateError(f"{preset.file}: {exc}") from exc
        if layout is not None and layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        self.layout_override: Layout | None = layout
        self._check_layout()
        try:
            gen = Generation.model_validate(generation or {})
        except ValidationError as exc:
            raise ConfigError(
                f"invalid generation parameters of judge {self.name!r}: "
                f"{validation_text(exc, model=Generation)}"
            ) from exc
        self.max_tokens = gen.max_tokens
        self.temperature = gen.temperature
        self.stop: tuple[str, ...] = (gen.stop,) if isinstance(gen.stop, str) else gen.stop
        self.json_schema = gen.json_schema
        if self.json_schema is None and preset.criteria:
            self.json_schema = criteria_schema(preset)
        self.template_vars = dict(template_vars or {})

    # Parameters the judge itself takes; every other -J key goes to the backend's Options.
    JUDGE_KEYS = (
        "mode",
        "parser",
        "parse",
        "layout",
        "max_tokens",
        "temperature",
        "stop",
        "json_schema",
        "name",
    )

    @property
    def layout(self) -> Layout:
        """The prompt layout in use: the preset's, or ``-J layout=...``."""
        return self.layout_override or self.preset.layout

    def prompt_layout(self) -> PromptLayout | None:
        """What the backend needs to know of the layout (``None``: a plain chat)."""
        if self.layout == "chat" and self.preset.bos is None:
            return None  # the default: requests (and their cache keys) as before layouts
        raw = self.layout == "raw"
        return PromptLayout(
            raw=raw, wrapper=self.preset.wrapper if raw else None, bos=self.preset.bos
        )

    def _check_layout(self) -> None:
        options = getattr(self.backend, "options", None)
        template = getattr(options, "chat_template", None)
        if self.layout == "raw" and template not in (None, RAW):
            raise ConfigError(
                f"judge {self.name!r} sends a raw prompt (layout 'raw', as its model was "
                "trained); -J chat_template=<template> would not be used: drop it, or "
                "pass -J layout=chat (or user-only) to format through a chat template"
            )

    # -- specification -----------------------------------------------------------------

    def spec(self) -> dict[str, JsonValue]:
        spec: dict[str, JsonValue] = {
            "type": "prompt",
            "name": self.name,
            "preset": self.preset.name,
            "preset_hash": preset_hash(self.preset),
            "parser": self.parser_name,
            "mode": self.mode,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": list(self.stop),
            "json_schema": self.json_schema,
            "template_vars": self.template_vars,
            "backend": self.backend.spec(),
            **({"scale": list(self.preset.scale)} if self.preset.scale else {}),
        }
        # only when set, so judges that use neither keep their hash
        if self.parse != "strict":
            spec["parse"] = self.parse
        if self.layout_override is not None:
            spec["layout"] = self.layout_override
        return spec

    @property
    def batch_size(self) -> int:
        return self.backend.batch_size

    @property
    def max_concurrency(self) -> int | None:
        return self.backend.max_concurrency

    # -- requests --------------------------------------------------------------------

    def variables(self, task: Task) -> dict[str, Any]:
        """Template variables for ``task`` (responses in presented order)."""
        item = task.item
        base: dict[str, Any] = {
            "instruction": item.prompt_text,
            "item": item,
            "reference": item.reference,
            "metadata": item.metadata,
            "input": item.metadata.get("input", ""),
            **self.template_vars,
        }
        # Per-item values: a benchmark column (kept in the item's metadata) named like a
        # declared variable fills it for this item, over the run-wide -J var.X default.
        for name in self.preset.variables:
            if name in item.metadata and name not in _ITEM_FIELDS:
                base[name] = item.metadata[name]
        if isinstance(item, PairItem):
            first, second = (
                (item.response_b, item.response_a)
                if task.swapped
                else (item.response_a, item.response_b)
            )
            base.update(response_a=first, response_b=second)
            # per-response columns (a conversation's answers_a / answers_b) follow the order
            if task.swapped:
                for left, right in _PAIRED_COLUMNS:
                    if left in base and right in base:
                        base[left], base[right] = base[right], base[left]
        else:
            base.update(response=item.response)
        return base

    def request(self, task: Task) -> CompletionRequest:
        if (self.preset.kind == "pair") != isinstance(task.item, PairItem):
            raise ConfigError(
                f"judge {self.name!r} grades {self.preset.kind} items; "
                f"item {task.item.id!r} is a {task.item.kind} item"
            )
        max_tokens = 1 if self.mode == "probs" else self.max_tokens
        # Responses are trimmed from the middle when the prompt exceeds the window.
        layout = self.prompt_layout()
        try:
            messages, trimmed_to = fit_to_window(
                self.preset,
                self.variables(task),
                self.backend,
                max_tokens,
                layout=self.layout,
                prompt_layout=layout,
            )
        except TemplateError as exc:
            raise TemplateError(f"item {task.item.id!r}: {exc}") from exc
        choices: tuple[str, ...] | None = None
        if self.mode == "probs":
            if self.preset.choices:
                choices = tuple(self.preset.choices.values())
            else:
                choices = self.preset.score_choices
        return CompletionRequest(
            messages=messages,
            layout=layout,
            max_tokens=max_tokens,
            temperature=self.temperature,
            seed=task.seed + task.sample if self.temperature > 0 else None,
            choices=choices,
            stop=self.stop,
            json_schema=self.json_schema,
            max_prompt_tokens=trimmed_to,
        )

    def request_key(self, task: Task) -> str:
        return request_key(self.backend, self.request(task), task.sample)

    def check_items(self, items: Sequence[PairItem | SingleItem]) -> None:
        wrong = [item for item in items if item.kind != self.preset.kind]
        if wrong:
            raise ConfigError(
                f"judge {self.name!r} grades {self.preset.kind} items, but {len(wrong)} of "
                f"{len(items)} items are {wrong[0].kind} items (e.g. {wrong[0].id!r}); "
                f"choose a judge for {wrong[0].kind} items (judge list judges)"
            )

    def prepare(self) -> None:
        self.backend.prepare()

    # -- evaluation ------------------------------------------------------------------

    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        requests = [self.request(t) for t in tasks]
        results = await call(self.backend, requests, [t.sample for t in tasks])
        return [
            self._judgment(task, req, res)
            for task, req, res in zip(tasks, requests, results, strict=True)
        ]

    def _judgment(self, task: Task, request: CompletionRequest, res: CallResult) -> Judgment:
        base: dict[str, Any] = {
            "item_id": task.item.id,
            "judge": self.name,
            "judge_hash": self.judge_hash,
            "request_key": res.key or request_key(self.backend, request, task.sample),
            "swapped": task.swapped,
            "sample": task.sample,
            "cache_hit": res.cache_hit,
            "coalesced": res.coalesced,
        }
        if isinstance(res.result, BackendError):
            return Judgment(status="error", error=str(res.result), billed=0.0, **base)
        comp = res.result
        base.update(
            raw=comp.text,
            tokens_in=comp.tokens_in,
            tokens_out=comp.tokens_out,
            cost=comp.cost,
            billed=0.0 if res.cache_hit or res.coalesced else comp.cost,
            latency_s=comp.latency_s,
            truncated=comp.truncated or request.max_prompt_tokens is not None,
        )
        fields = self.interpret(
            comp.text, comp.choice_probs, task.swapped, responses=responses_of(task.item)
        )
        return Judgment(**base, **fields)

    def interpret(
        self,
        text: str,
        choice_probs: dict[str, float] | None,
        swapped: bool,
        *,
        responses: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Status, verdict, probabilities and scores (canonical order) from a reply.

        ``responses`` are the candidate answers: verbatim copies of them are removed
        from the reply before parsing, so a verdict marker quoted from a candidate is
        not read as the judge's own (:func:`judge.parsers.remove_quoted`).
        """
        out: dict[str, Any] = {}
        status: Status = "ok"
        if self.preset.choices and choice_probs:
            probs = normalise(
                {v: choice_probs.get(tok, 0.0) for v, tok in self.preset.choices.items()}
            )
            if probs is not None:
                canon = {(flip(cast(Verdict, v)) if swapped else v): p for v, p in probs.items()}
                out["probabilities"] = {v: canon.get(v, 0.0) for v in VERDICTS if v in canon}
        if self.mode == "probs" and "probabilities" in out:
            ranked = sorted(out["probabilities"].items(), key=lambda kv: -kv[1])
            out["verdict"] = ranked[0][0]
            return {"status": status, **out}
        if self.mode == "probs" and self.preset.score_choices and choice_probs:
            dist = normalise({c: choice_probs.get(c, 0.0) for c in self.preset.score_choices})
            if dist is not None:
                # G-Eval: the expected score, with the distribution it comes from kept
                out["score_probabilities"] = dist
                out["score"] = sum(float(c) * p for c, p in dist.items())
                return {"status": status, **out}
        try:
            if self.parse == "upstream":
                # upstream neither removes quoted candidates nor skips empty replies
                parsed = self.parser(text)
            else:
                shown = remove_quoted(text, responses) if responses else text
                parsed = parse_reply(self.parser, shown)
            if parsed is not None and not isinstance(parsed, ParsedReply):
                raise TypeError(f"returned a {type(parsed).__name__}, not a ParsedReply or None")
        except Exception as exc:  # a parser's (a plugin's) bug on this reply: unparsed, said
            error = f"parser {self.parser_name!r} failed on this reply: {type(exc).__name__}: "
            return {"status": "unparsed", "error": error + " ".join(str(exc).split()), **out}
        if parsed is None:
            return {"status": "unparsed", "error": "no verdict found in the reply", **out}
        if parsed.verdict is not None:
            out["verdict"] = flip(parsed.verdict) if swapped else parsed.verdict
        if parsed.scores is not None:
            first, second = parsed.scores
            out["scores"] = (second, first) if swapped else (first, second)
        if parsed.score is not None:
            out["score"] = parsed.score
        if self.preset.criteria:
            got = {c.lower(): v for c, v in (parsed.criteria or {}).items()}
            low, high = self.preset.scale or DEFAULT_CRITERION_SCALE
            missing = [
                c for c in self.preset.criteria if not low <= got.get(c.lower(), -1e9) <= high
            ]
            if missing:
                error = f"no score on {low}-{high} for criteria {', '.join(missing)}"
                return {"status": "unparsed", "error": error, **out}
            criteria = {c: got[c.lower()] for c in self.preset.criteria}
            out["criteria"] = criteria
            out["score"] = sum(criteria.values()) / len(criteria)
        return {"status": status, **out}

    def reinterpret(self, judgment: Judgment, item: PairItem | SingleItem) -> Judgment:
        if judgment.status == "error" or judgment.raw is None:
            return judgment
        presented: dict[str, float] | None = None
        if judgment.probabilities and self.preset.choices:
            presented = {}
            for verdict, prob in judgment.probabilities.items():
                shown: Verdict = flip(verdict) if judgment.swapped else verdict
                presented[self.preset.choices[shown]] = prob
        if judgment.score_probabilities and self.preset.score_choices:
            presented = dict(judgment.score_probabilities)
        fields = self.interpret(
            judgment.raw, presented, judgment.swapped, responses=responses_of(item)
        )
        cleared = {
            "verdict": None,
            "score": None,
            "scores": None,
            "error": None,
            "score_probabilities": None,
            "criteria": None,
        }
        return judgment.model_copy(update={**cleared, **fields, "judge": self.name})

    async def aclose(self) -> None:
        await self.backend.aclose()


def criteria_schema(preset: Preset) -> dict[str, Any]:
    """The JSON schema of a multi-criterion preset's answer: each criterion an integer
    of the preset's scale, all required, nothing else.

    >>> p = Preset(name="x", kind="single", user="u", parser="criteria_json",
    ...            criteria=("fluency",), scale=(1, 3))
    >>> criteria_schema(p)["properties"]
    {'fluency': {'type': 'integer', 'enum': [1, 2, 3]}}
    """
    low, high = preset.scale or DEFAULT_CRITERION_SCALE
    return {
        "type": "object",
        "properties": {
            # enum, not minimum/maximum: grammar-based servers (llama.cpp) honour enums
            c: {"type": "integer", "enum": list(range(int(low), int(high) + 1))}
            for c in preset.criteria
        },
        "required": list(preset.criteria),
        "additionalProperties": False,
    }


_PAIRED_COLUMNS = (("answers_a", "answers_b"),)
"""Per-item variables that belong to response A and B: swapped with the responses."""

_ITEM_FIELDS = frozenset({"instruction", "item", "response", "response_a", "response_b"})
"""Variables an item's own fields fill; a metadata column never replaces them."""


def responses_of(item: PairItem | SingleItem) -> tuple[str, ...]:
    """The candidate responses of an item."""
    if isinstance(item, PairItem):
        return (item.response_a, item.response_b)
    return (item.response,)


def parse_reply(parser: Callable[[str], ParsedReply | None], text: str) -> ParsedReply | None:
    """Run a parser, treating an empty reply as unparsed."""
    if not text or not text.strip():
        return None
    return parser(text)


_SPEC_JSON: WeakKeyDictionary[Backend, str] = WeakKeyDictionary()


def request_key(backend: Backend, request: CompletionRequest, sample: int) -> str:
    """Cache and resume key: backend spec + the rendered request + the sample index.

    The hash of ``{"backend": spec, "request": request, "sample": sample}`` in canonical
    JSON, assembled from parts: the spec's JSON is made once per backend (a backend does
    not change once built, as :attr:`Judge.judge_hash` assumes), which cut the key's
    cost by a third on an HTTP judge.

    >>> from judge.backends.base import Message
    >>> from judge.registry import backends
    >>> backend = backends.get("openai")(model="m", base_url="http://127.0.0.1:1/v1")
    >>> request = CompletionRequest(messages=(Message(role="user", content="é?"),))
    >>> payload = request.model_dump(mode="json")
    >>> del payload["layout"]
    >>> whole = {"backend": backend.spec(), "request": payload, "sample": 3}
    >>> request_key(backend, request, 3) == sha256_json(whole)
    True
    """
    payload = request.model_dump(mode="json")
    if payload.get("layout") is None:  # a plain chat: the key it had before layouts
        payload.pop("layout", None)
    spec = _SPEC_JSON.get(backend)
    if spec is None:
        spec = _SPEC_JSON[backend] = canonical_json(backend.spec())
    # Sorted keys: "backend" < "request" < "sample", as canonical_json orders them.
    blob = f'{{"backend":{spec},"request":{canonical_json(payload)},"sample":{sample:d}}}'
    return sha256_text(blob)
