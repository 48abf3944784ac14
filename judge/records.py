"""Records that cross a module or file boundary.

All are frozen pydantic models that reject unknown keys, so a misspelt field in a
data file or a config fails when it is loaded, not an hour into a run.

Verdicts are always in *canonical* order: ``"A"`` means the item's ``response_a``
won, whatever order the judge saw the two responses in (``swapped`` records that).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

Verdict = Literal["A", "B", "tie"]
"""A pairwise verdict in canonical order."""

VERDICTS: tuple[Verdict, ...] = ("A", "B", "tie")

Status = Literal["ok", "unparsed", "error"]
"""``ok``: a verdict was read; ``unparsed``: the reply held none; ``error``: no reply."""

Role = Literal["system", "user", "assistant"]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def flip(verdict: Verdict) -> Verdict:
    """Swap a verdict between presented and canonical order.

    >>> flip("A"), flip("B"), flip("tie")
    ('B', 'A', 'tie')
    """
    return "B" if verdict == "A" else "A" if verdict == "B" else "tie"


_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")


def redact_url_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@``.

    >>> redact_url_credentials("-J base_url=http://me:sk-123@127.0.0.1:8000/v1")
    '-J base_url=http://***@127.0.0.1:8000/v1'
    >>> redact_url_credentials("mail me@example.com")
    'mail me@example.com'
    """
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def redact_json(value: Any) -> Any:
    """:func:`redact_url_credentials` applied to every string in a JSON value."""
    if isinstance(value, str):
        return redact_url_credentials(value)
    if isinstance(value, list | tuple):
        return type(value)(redact_json(v) for v in value)
    if isinstance(value, dict):
        return {k: redact_json(v) for k, v in value.items()}
    return value


class Record(BaseModel):
    """Base of every boundary record: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(Record):
    """One chat message."""

    role: Role
    """Who speaks: system, user or assistant."""
    content: str
    """The message text."""


class HumanLabel(Record):
    """One annotator's pairwise vote on an item."""

    annotator: str
    """Who voted (e.g. ``annotator1``, ``gold``)."""
    verdict: Verdict
    """The vote, canonical order."""


class HumanScore(Record):
    """One annotator's score of a single response."""

    annotator: str
    """Who scored (e.g. ``annotator1``, ``mean``)."""
    score: float
    """The score on the benchmark's scale."""
    aspect: str = "overall"
    """What was scored (``overall`` or a sub-score such as ``engaging``)."""


Prompt = Annotated[str | tuple[Message, ...], Field(union_mode="left_to_right")]


class _Item(Record):
    id: str
    """Unique within the benchmark."""
    benchmark: str
    """Registry name of the benchmark this item comes from."""
    prompt: Prompt
    """The user's instruction (text), or the conversation as chat messages."""
    reference: str | None = None
    """A reference answer, where the benchmark has one."""
    category: str | None = None
    """A grouping for per-category tables (subset, bias type, task)."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    """Anything else the source carries, kept for analysis."""

    @field_validator("id")
    @classmethod
    def _id_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("id must not be empty")
        return value

    @property
    def prompt_text(self) -> str:
        """The prompt as plain text (the last user message for a conversation)."""
        if isinstance(self.prompt, str):
            return self.prompt
        users = [m.content for m in self.prompt if m.role == "user"]
        return users[-1] if users else ""


class PairItem(_Item):
    """Two responses to one prompt, with every annotator's vote kept."""

    kind: Literal["pair"] = "pair"
    response_a: str
    """The first response in the source's order."""
    response_b: str
    """The second response in the source's order."""
    model_a: str | None = None
    """Which model wrote ``response_a``, where known."""
    model_b: str | None = None
    """Which model wrote ``response_b``, where known."""
    labels: tuple[HumanLabel, ...] = ()
    """Every annotator's vote (or one ``gold`` label for objective benchmarks)."""

    @property
    def label(self) -> Verdict | None:
        """The majority label: the most common vote, or ``None`` without a strict majority.

        >>> PairItem(id="1", benchmark="x", prompt="p", response_a="a", response_b="b",
        ...          labels=(HumanLabel(annotator="h1", verdict="A"),
        ...                  HumanLabel(annotator="h2", verdict="A"),
        ...                  HumanLabel(annotator="h3", verdict="tie"))).label
        'A'
        """
        return majority([lab.verdict for lab in self.labels])


class SingleItem(_Item):
    """One response to grade, with human scores."""

    kind: Literal["single"] = "single"
    response: str
    """The response to grade."""
    model: str | None = None
    """Which model or system wrote the response."""
    scores: tuple[HumanScore, ...] = ()
    """Human scores (every annotator, or their mean where only that is published)."""
    scale: tuple[float, float] | None = None
    """The lowest and highest score of the benchmark's scale (of ``aspect``)."""
    aspect: str = "overall"
    """The aspect of the human scores the judge's score is compared with."""

    def human_score(self, aspect: str | None = None) -> float | None:
        """The mean human score on ``aspect`` (default: the item's own), or ``None``."""
        aspect = self.aspect if aspect is None else aspect
        values = [s.score for s in self.scores if s.aspect == aspect]
        return sum(values) / len(values) if values else None


Item = Annotated[PairItem | SingleItem, Field(discriminator="kind")]


def majority(votes: Sequence[Verdict]) -> Verdict | None:
    """The majority of ``votes``: the unique most common vote; None without votes or when
    two verdicts share the top count (no majority).

    This is the one majority rule: human labels (an item without a majority is
    unlabelled), the viewer's SQL and the analysis' array form
    (:func:`judge.analysis.frame.majority_codes`) follow it, and a jury turns "no
    majority" into its ``tie`` verdict (:mod:`judge.jury`).

    >>> majority(["A", "B", "A"]), majority(["A", "B"]), majority([])
    ('A', None, None)
    """
    if not votes:
        return None
    counts = Counter(votes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


class Judgment(Record):
    """One judge reply on one item in one order, as stored in ``judgments.jsonl``."""

    item_id: str
    """The judged item's id."""
    judge: str
    """The judge's name."""
    judge_hash: str
    """Hash of everything about the judge that changes its output (template, model, params)."""
    request_key: str
    """Content hash of the request; the cache and resume key."""
    swapped: bool = False
    """True when the judge saw ``response_b`` first."""
    sample: int = 0
    """Sample index, for repeated sampling of the same request."""
    status: Status
    """``ok``, ``unparsed`` (reply had no verdict) or ``error`` (no reply)."""
    verdict: Verdict | None = None
    """Pairwise verdict in canonical order, when ``status`` is ``ok``."""
    score: float | None = None
    """Single-answer score (or the pair's score difference) when the judge gives one."""
    scores: tuple[float, float] | None = None
    """Two scores in canonical order, for judges that score both responses (JudgeLM)."""
    probabilities: dict[Verdict, float] | None = None
    """P(verdict) in canonical order from the verdict token, where the backend exposes it."""
    criteria: dict[str, float] | None = None
    """Multi-criterion presets: each named criterion's score (``score`` is their mean)."""
    score_probabilities: dict[str, float] | None = None
    """G-Eval style single scores: P(score token) over the preset's ``score_choices``
    (normalised); ``score`` is then their expectation."""
    raw: str | None = None
    """The judge's raw reply text (kept for re-parsing)."""
    error: str | None = None
    """What went wrong, for ``unparsed`` and ``error``."""
    tokens_in: int = 0
    """Prompt tokens."""
    tokens_out: int = 0
    """Generated tokens."""
    cost: float = 0.0
    """Cost in US dollars of the reply, from the price table (0 for local judges): what
    asking for it costs, whether or not this judgment paid (see ``billed``)."""
    billed: float = 0.0
    """US dollars this judgment was billed: ``cost``, or 0 when the reply came from the
    cache or from an identical request in flight (``coalesced``). Files written before
    this field existed get ``cost`` (0 on a cache hit) when they are read."""
    latency_s: float = 0.0
    """Seconds the backend call took (0 on a cache hit)."""
    cache_hit: bool = False
    """True when the reply came from the cache."""
    coalesced: bool = False
    """True when the reply was shared with an identical request already in flight, so
    this judgment sent nothing (juries: every member's reply was shared)."""
    truncated: bool = False
    """True when the prompt was cut to fit the model's context window."""
    members: tuple[dict[str, JsonValue], ...] = ()
    """For juries: each member's verdict record (name, verdict, probabilities, status)."""
    created_at: datetime = Field(default_factory=utcnow)
    """When the judgment was made."""

    @model_validator(mode="before")
    @classmethod
    def _default_billed(cls, data: Any) -> Any:
        # Judgments stored before ``billed`` existed (and records built without it) were
        # billed their cost unless the reply came from the cache.
        if isinstance(data, dict) and "billed" not in data:
            data = {**data, "billed": 0.0 if data.get("cache_hit") else data.get("cost", 0.0)}
        return data


class Counts(Record):
    """How many judgments of each status a run holds."""

    total: int = 0
    ok: int = 0
    unparsed: int = 0
    error: int = 0
    cache_hits: int = 0
    coalesced: int = 0
    """Judgments whose reply was shared with an identical request in flight."""


class Totals(Record):
    """Resource totals of a run."""

    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    """US dollars billed: each reply counted once, cache hits and replies shared by
    identical requests in flight cost nothing (the sum of ``Judgment.billed``)."""
    cost_saved: float = 0.0
    """US dollars the cache and shared replies saved: what those judgments' replies
    would have cost if each had been asked for (``cost - billed`` summed)."""
    latency_s: float = 0.0
    """Sum of backend call seconds."""
    wall_s: float = 0.0
    """Wall-clock seconds the run took (summed over resumed sessions)."""


class RunConfig(Record):
    """Everything that defines a run; resolved before the run starts and stored in the manifest."""

    benchmark: str = "sample"
    """Benchmark registry name."""
    benchmark_args: dict[str, JsonValue] = Field(default_factory=dict)
    """Arguments for the benchmark loader (``-B key=value``)."""
    judge: str = "smollm2"
    """Judge registry name."""
    judge_args: dict[str, JsonValue] = Field(default_factory=dict)
    """Judge parameters (``-J key=value``)."""
    orders: Literal["both", "original", "swapped"] = "both"
    """Which presentation orders to judge each pair in."""
    reconcile: Literal[
        "inconsistent_tie", "average_probabilities", "first_order", "net_vote", "both_orders"
    ] = "inconsistent_tie"
    """How the two orders combine into one pair verdict (reports show every policy)."""
    samples: int = Field(default=1, ge=1)
    """How many samples per request (sample index is part of the cache key)."""
    limit: int | None = Field(default=None, ge=1)
    """Judge only the first ``limit`` items (every item is still loaded and checked)."""
    concurrency: int = Field(default=4, ge=1)
    """Requests in flight at once (the backend may lower it)."""
    seed: int = 0
    """Seed for sampling and any randomised order."""
    use_cache: bool = True
    """Read and write the response cache."""
    execution: Literal["live", "batch"] = "live"
    """``live`` requests, or the provider's batch API (OpenAI Batch, Anthropic Message
    Batches: half price, results within hours; resumable by batch id)."""
    workers: int = Field(default=1, ge=1)
    """Processes that send a live run's requests (each its own event loop, sharing
    ``concurrency``); the calling process alone writes the store and the cache."""


class ExecutorInfo(Record):
    """Where a run's latest session judged its tasks (``manifest.json``'s ``executor``)."""

    name: str = "local"
    """``local`` (the runner's own event loop) or ``ray`` (a Ray cluster)."""
    address: str | None = None
    """The Ray cluster's address as given (``None``: a local instance the run started)."""
    actors: int | None = None
    """Ray actors per backend, each holding one replica of the backend (its model)."""
    actor_gpus: float | None = None
    """GPUs each actor reserved."""
    nodes: int | None = None
    """Live nodes in the cluster when the session started."""
    cpus: float | None = None
    """CPUs in the cluster when the session started."""
    gpus: float | None = None
    """GPUs in the cluster when the session started."""


class RunManifest(Record):
    """``manifest.json``: what a run was, so it can be understood and replayed."""

    run_id: str
    config: RunConfig
    judge_hash: str
    """Hash of the judge's output-relevant settings."""
    judge_spec: dict[str, JsonValue] = Field(default_factory=dict)
    """The judge's resolved description (backend, model, template, parser, params)."""
    prompt_hash: str | None = None
    """Content hash of the prompt template."""
    data_hash: str
    """Hash of the loaded items (and the source files where the loader names them)."""
    data_files: dict[str, str] = Field(default_factory=dict)
    """Source file path -> sha256, where the loader names files."""
    git_commit: str | None = None
    package_versions: dict[str, str] = Field(default_factory=dict)
    argv: tuple[str, ...] = ()
    seed: int = 0
    n_items: int = 0
    counts: Counts = Field(default_factory=Counts)
    totals: Totals = Field(default_factory=Totals)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    complete: bool = False
    """True when every planned judgment is stored."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Backend-specific facts (batch ids, server info)."""
    executor: ExecutorInfo = Field(default_factory=ExecutorInfo)
    """Where the latest session judged (the runner's loop, or a Ray cluster and its size)."""

    @field_validator("argv", "judge_spec", "extra")
    @classmethod
    def _no_url_credentials(cls, value: Any) -> Any:
        # A manifest is shared with results: a key in a URL must never reach it.
        return redact_json(value)

    @field_validator("config")
    @classmethod
    def _no_url_credentials_in_config(cls, config: RunConfig) -> RunConfig:
        return config.model_copy(
            update={
                "judge_args": redact_json(config.judge_args),
                "benchmark_args": redact_json(config.benchmark_args),
            }
        )


PRESET_FILES = "preset_files"
"""``RunManifest.extra`` key: preset name -> the absolute path of the TOML file a run's
judge (or jury member) was read from, so that re-parsing and the viewer find a preset
file from any folder (its path is not in the judge's spec, which moving it must not
change)."""

ORDER_UNKNOWN_KEY = "order_unknown"
"""``RunManifest.judge_spec`` key an importer sets to ``true`` when its source does not
record which response the judge was shown first (AlpacaEval stores its verdicts
un-swapped without saying): the frame's ``order_unknown`` column, and no position-bias
figure for the run (``judge.analysis.frame.order_unknown_judge``)."""


def judged_by(manifest: RunManifest) -> tuple[str, str]:
    """A run's judge name and what ran it (``backend: model``; ``""`` when unknown).

    >>> m = RunManifest(run_id="r", config=RunConfig(), judge_hash="h", data_hash="d",
    ...     judge_spec={"name": "smollm2", "backend": {"backend": "openai",
    ...                                                "model": "/models/Qwen2.5-7B"}})
    >>> judged_by(m)
    ('smollm2', 'openai: Qwen2.5-7B')
    """
    spec = manifest.judge_spec
    name = spec.get("name")
    backend = spec.get("backend")
    detail = ""
    if isinstance(backend, dict):
        model = str(backend.get("model") or "").rstrip("/").rsplit("/", 1)[-1]
        detail = ": ".join(str(p) for p in (backend.get("backend"), model) if p)
    return (name if isinstance(name, str) and name else manifest.config.judge), detail


def judge_labels(manifests: list[RunManifest]) -> list[str]:
    """How tables name each run's judge: its name, with the backend and model added
    where runs of that name ran on different ones (two ``smollm2`` runs on llama.cpp and
    on a vLLM server read ``smollm2 (llamacpp: ...)`` and ``smollm2 (openai: ...)``).
    Runs of one judge on the same backend and model keep the plain name (the same judge,
    e.g. on two benchmarks); the run column tells them apart.

    >>> def run(i, backend):
    ...     return RunManifest(run_id=f"r{i}", config=RunConfig(), judge_hash="h",
    ...         data_hash="d", judge_spec={"name": "smollm2", "backend": {"backend": backend,
    ...         "model": "m.gguf"}})
    >>> judge_labels([run(1, "llamacpp"), run(2, "openai"), run(3, "openai")])
    ['smollm2 (llamacpp: m.gguf)', 'smollm2 (openai: m.gguf)', 'smollm2 (openai: m.gguf)']
    >>> judge_labels([run(1, "llamacpp"), run(2, "llamacpp")])
    ['smollm2', 'smollm2']
    """
    found = [judged_by(m) for m in manifests]
    details: dict[str, set[str]] = {}
    for name, detail in found:
        details.setdefault(name, set()).add(detail)
    return [
        f"{name} ({detail})" if len(details[name]) > 1 and detail else name
        for name, detail in found
    ]
