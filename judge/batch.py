"""Batch execution: OpenAI's Batch API and Anthropic's Message Batches (half price).

Instead of one HTTP request per judgment, every pending request goes into provider
batches (one JSONL line per request, ``custom_id`` = the request key); the batches are
polled until they end, and their results become judgments in the same store, built by
the same judge code as a live run (:meth:`PromptJudge.evaluate` with a caller that
reads the batch results), and land in the response cache too.

``batches.json`` in the run folder records every submission, so a rerun never pays
twice for what a batch already holds:

- A submission is recorded (state ``submitting``, with our own submission id) *before*
  the provider is asked to create the batch, and gets its batch id when the reply
  comes. A batch whose create reply was lost (a client timeout, a crash) is therefore
  known to maybe exist: the next run lists the provider's recent batches and adopts
  it instead of submitting again. OpenAI batches carry the run, the judge hash and the
  submission id as metadata and are matched by it, then checked against their input
  file's custom ids; Anthropic's Message Batches have no metadata, so a batch of the
  same size created around the attempt is adopted, and checked against its results'
  custom ids once they exist (a batch that turns out not to be ours returns nothing
  for our requests, which are then resubmitted by the next run).
- A restarted run resumes by batch id: it polls and collects the batches it already
  submitted. Only requests whose judgment is missing or an error, and that no batch in
  flight holds, are submitted.
- A recorded batch that the provider no longer knows (HTTP 404) is marked ``lost``
  and the run stops with a message; only a deliberate rerun submits its requests again.
- Result lines: a success is never replaced by another line for the same request;
  duplicate lines and lines for requests the batch never held are counted in
  ``batches.json`` and reported.
- A line refused for the one field a backend can stop sending (``logprobs`` on a model
  without them, ``temperature`` where it is rejected) is resubmitted without it in the
  same run, as live mode retries without it (verdicts are then parsed from the text).

A live run (no ``--batch``) on a run folder with batches in flight is refused
(:func:`ensure_no_batches_in_flight`): it would pay full price for requests that a
batch is already running.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pydantic import Field, ValidationError

from judge.backends.base import (
    Backend,
    BatchPoll,
    BatchResults,
    Completion,
    CompletionRequest,
    ListedBatch,
    OptionRefused,
)
from judge.cache import ResponseCache
from judge.errors import BackendError, ConfigError, DataError, FatalBackendError, validation_message
from judge.judges import CallResult, PromptJudge, Task, request_key
from judge.records import Judgment, Record, utcnow
from judge.store import RunStore, atomic_write, judgment_key

if TYPE_CHECKING:
    from judge.budget import BatchBudget

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUESTS = {"openai": 50_000, "anthropic": 100_000}
"""The providers' limits on requests per batch."""

STATE_FILE = "batches.json"
"""The batch state file in a run folder."""

IN_FLIGHT = frozenset({"submitting", "running", "ended"})
"""Batch states whose requests may still be answered (and billed) by the provider."""

ORPHAN_WINDOW = timedelta(minutes=15)
"""How far from a lost create call an orphan's creation time may lie (clock skew, slow
uploads) for it to count as that call's batch."""


@runtime_checkable
class BatchBackend(Protocol):
    """What a backend offers to run as batches (OpenAI and Anthropic backends do)."""

    batch_provider: str

    def batch_line(self, request: CompletionRequest, custom_id: str) -> dict[str, Any]: ...

    async def submit_batch(
        self, lines: Sequence[Mapping[str, Any]], *, metadata: Mapping[str, str]
    ) -> str: ...

    async def poll_batch(self, batch_id: str) -> BatchPoll: ...

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> BatchResults: ...

    async def list_batches(self, *, since: datetime) -> list[ListedBatch]: ...

    async def batch_request_keys(self, batch_id: str) -> frozenset[str] | None: ...


class SubmittedBatch(Record):
    """One provider batch of a run, as recorded in ``batches.json``."""

    batch_id: str | None = None
    """The provider's batch id; ``None`` while the create call is unanswered."""
    provider: str
    """``openai`` or ``anthropic``."""
    request_keys: tuple[str, ...]
    """The request keys (custom ids) it holds."""
    state: Literal["submitting", "running", "ended", "failed", "lost", "collected"] = "running"
    """``submitting``: recorded before the create call, which has not answered (a batch
    may exist); ``collected``: its results are in the store; ``lost``: the provider
    answered 404 for its id."""
    submission: str = Field(default_factory=lambda: uuid.uuid4().hex)
    """Our id of the submission, sent as batch metadata where the provider has it."""
    adopted: bool = False
    """Found among the provider's batches after its create reply was lost."""
    counts: dict[str, int] = Field(default_factory=dict)
    """The provider's request counts at the last poll."""
    duplicate_lines: int = 0
    """Result lines for a request that already had one (the first success is kept)."""
    unknown_lines: int = 0
    """Result lines whose custom id the batch never held (ignored)."""
    detail: str = ""
    """The provider's message when the batch failed or was lost."""
    submitted_at: datetime = Field(default_factory=utcnow)
    collected_at: datetime | None = None


class BatchState(Record):
    """``batches.json``: every batch a run has submitted."""

    judge_hash: str
    """The judge the batches were made for (a different judge cannot reuse them)."""
    batches: tuple[SubmittedBatch, ...] = ()


def _load(path: Path) -> BatchState:
    try:
        return BatchState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        field, message = validation_message(exc)
        raise DataError(
            f"invalid batch state at {field or '(file)'}: {message}", path=str(path)
        ) from exc


def read_state(path: Path, judge_hash: str) -> BatchState:
    """The batch state at ``path`` (empty if the file does not exist)."""
    if not path.exists():
        return BatchState(judge_hash=judge_hash)
    state = _load(path)
    if state.judge_hash != judge_hash:
        raise ConfigError(
            f"{path} records batches of another judge configuration "
            f"({state.judge_hash} != {judge_hash})"
        )
    return state


def write_state(path: Path, state: BatchState) -> None:
    atomic_write(path, state.model_dump_json(indent=2) + "\n")


def ensure_no_batches_in_flight(run_dir: str | Path) -> None:
    """Refuse a live run on a run folder whose ``batches.json`` has batches in flight.

    Sending their requests live would pay full price for what the batches are already
    running (and billing). Raises :class:`ConfigError` saying how to collect them, or
    how to abandon them deliberately.
    """
    path = Path(run_dir) / STATE_FILE
    if not path.exists():
        return
    flight = [b for b in _load(path).batches if b.state in IN_FLIGHT]
    if not flight:
        return
    ids = ", ".join(b.batch_id or "one whose create call went unanswered" for b in flight)
    held = sum(len(b.request_keys) for b in flight)
    raise ConfigError(
        f"{path} records {len(flight)} batch(es) still in flight ({ids}) holding {held} "
        "requests: a live run would pay full price for them again. Rerun the same command "
        f"with --batch to collect them, or abandon them deliberately by moving {path} aside "
        "(what they run is billed anyway)"
    )


class _Ledger:
    """The run's batch state, written to ``batches.json`` at every change."""

    def __init__(self, path: Path, state: BatchState) -> None:
        self.path = path
        self.state = state

    @property
    def batches(self) -> tuple[SubmittedBatch, ...]:
        return self.state.batches

    def put(self, batch: SubmittedBatch) -> SubmittedBatch:
        """Record ``batch`` (replacing the entry of the same submission)."""
        kept = [b for b in self.state.batches if b.submission != batch.submission]
        if len(kept) == len(self.state.batches):
            batches = (*self.state.batches, batch)
        else:
            batches = tuple(
                batch if b.submission == batch.submission else b for b in self.state.batches
            )
        self._write(batches)
        return batch

    def drop(self, batch: SubmittedBatch) -> None:
        self._write(tuple(b for b in self.state.batches if b.submission != batch.submission))

    def _write(self, batches: tuple[SubmittedBatch, ...]) -> None:
        self.state = self.state.model_copy(update={"batches": batches})
        write_state(self.path, self.state)


async def run_batch(
    judge: PromptJudge,
    tasks: Sequence[Task],
    store: RunStore,
    state_path: str | Path | None = None,
    *,
    poll_interval: float = 30.0,
    max_wait: float | None = None,
    max_requests: int | None = None,
    cache: ResponseCache | None = None,
    budget: BatchBudget | None = None,
) -> list[Judgment]:
    """Judge ``tasks`` through the provider's batch API; return the judgments stored.

    ``budget`` (``--max-cost``) holds back the requests that could take the run past
    it: what was submitted is collected, then :class:`~judge.errors.BudgetExceeded`.

    ``state_path`` defaults to ``batches.json`` in the run folder. Tasks whose judgment
    the store already holds (other than errors) are skipped; cached replies are used
    without a request. ``max_wait`` (seconds) stops polling early with a retryable
    :class:`BackendError`; the batches keep running and a rerun collects them.
    """
    backend = judge.backend
    if not isinstance(backend, BatchBackend):
        raise ConfigError(f"backend {backend.name!r} has no batch API (use openai or anthropic)")
    path = Path(state_path) if state_path is not None else store.path / STATE_FILE
    ledger = _Ledger(path, read_state(path, judge.judge_hash))
    limit = max_requests or DEFAULT_MAX_REQUESTS.get(backend.batch_provider, 50_000)

    done = {judgment_key(j) for j in store.judgments() if j.status != "error"}
    pending = [t for t in tasks if (t.item.id, t.swapped, t.sample) not in done]
    requests: dict[str, CompletionRequest] = {}
    tasks_by_key: dict[str, list[Task]] = {}
    for task in pending:
        request = judge.request(task)  # rendered once: the key hashes this request
        key = request_key(backend, request, task.sample)
        requests.setdefault(key, request)
        tasks_by_key.setdefault(key, []).append(task)

    written: list[Judgment] = []

    # Cached replies need no request.
    if cache is not None:
        hits = {k: c for k in list(tasks_by_key) if (c := cache.get(k)) is not None}
        if hits:
            written += await _store_results(
                judge, backend, tasks_by_key, dict(hits), store, from_cache=True
            )
            for key in hits:
                tasks_by_key.pop(key)

    # Before submitting anything: adopt batches whose create reply was lost.
    await _adopt_orphans(backend, ledger)

    resubmitted: set[str] = set()  # keys sent again without a refused option
    started = time.monotonic()
    if budget is not None:  # what earlier sessions left in flight is spent already
        for b in ledger.batches:
            if b.state in IN_FLIGHT:
                for k in b.request_keys:
                    if k in requests:
                        budget.commit(k, requests[k])
    while True:
        # Keys that a batch in flight already holds are waited for, not resubmitted.
        live = {k for b in ledger.batches if b.state in IN_FLIGHT for k in b.request_keys}
        to_submit = [k for k in tasks_by_key if k not in live]
        if budget is not None:
            to_submit = budget.fit(to_submit, requests)
            for key in budget.held_back:
                tasks_by_key.pop(key, None)
        for begin in range(0, len(to_submit), limit):
            chunk = to_submit[begin : begin + limit]
            await _submit(judge, backend, ledger, chunk, requests, run=store.path.name)
        for batch in [b for b in ledger.batches if b.state in ("running", "ended")]:
            if batch.state == "running":
                try:
                    poll = await backend.poll_batch(batch.batch_id or "")
                except FatalBackendError:
                    raise
                except BackendError as exc:  # a failed poll is retried at the next interval
                    log.warning("polling batch %s failed: %s", batch.batch_id, exc)
                    continue
                batch = _after_poll(ledger, batch, poll)
            if batch.state == "ended":
                collected = await _collect(
                    judge, backend, ledger, batch, requests, tasks_by_key, store, cache, resubmitted
                )
                if collected is None:  # fetching failed: retried at the next interval
                    continue
                written += collected
        live = {k for b in ledger.batches if b.state in IN_FLIGHT for k in b.request_keys}
        if any(k not in live for k in tasks_by_key):
            continue  # refused lines to submit again, at once
        if not any(b.state in ("running", "ended") for b in ledger.batches):
            break
        if max_wait is not None and time.monotonic() - started + poll_interval > max_wait:
            raise BackendError(
                f"batches still running after {max_wait:.0f} s; rerun to collect them "
                f"(their ids are in {path})",
                retryable=True,
            )
        await asyncio.sleep(poll_interval)
    if budget is not None:
        budget.check()
    return written


async def _adopt_orphans(backend: BatchBackend, ledger: _Ledger) -> None:
    """Resolve every submission whose create call went unanswered: adopt its batch from
    the provider's list if it exists, else forget it (its requests are submitted again).

    A failure to list raises, so nothing is submitted while an orphan may exist.
    """
    intents = [b for b in ledger.batches if b.state == "submitting"]
    if not intents:
        return
    since = min(b.submitted_at for b in intents) - ORPHAN_WINDOW
    listed = await backend.list_batches(since=since)
    known = {b.batch_id for b in ledger.batches if b.batch_id}
    for intent in intents:
        candidates = [c for c in listed if c.batch_id not in known]
        found = await _find_orphan(backend, intent, candidates)
        if found is None:
            log.info(
                "no %s batch of the submission unanswered at %s exists; its %d requests "
                "are submitted again",
                intent.provider,
                intent.submitted_at.isoformat(timespec="seconds"),
                len(intent.request_keys),
            )
            ledger.drop(intent)
            continue
        log.warning(
            "adopted %s batch %s (%d requests): created by an earlier attempt whose reply "
            "was lost; collecting it instead of submitting again",
            intent.provider,
            found,
            len(intent.request_keys),
        )
        ledger.put(
            intent.model_copy(update={"batch_id": found, "state": "running", "adopted": True})
        )
        known.add(found)


async def _find_orphan(
    backend: BatchBackend, intent: SubmittedBatch, candidates: Sequence[ListedBatch]
) -> str | None:
    """The id of the listed batch that ``intent``'s lost create call made, if any."""
    for candidate in candidates:
        if "submission" in candidate.metadata:  # ours, tagged: match exactly
            if candidate.metadata["submission"] != intent.submission:
                continue
        elif (
            candidate.total != len(intent.request_keys)
            or abs(candidate.created_at - intent.submitted_at) > ORPHAN_WINDOW
        ):
            continue
        keys = await backend.batch_request_keys(candidate.batch_id)
        if keys is not None and keys != frozenset(intent.request_keys):
            continue
        return candidate.batch_id
    return None


async def _submit(
    judge: PromptJudge,
    backend: BatchBackend,
    ledger: _Ledger,
    keys: Sequence[str],
    requests: Mapping[str, CompletionRequest],
    *,
    run: str,
) -> None:
    """Submit one batch of ``keys``, recorded before the provider is asked."""
    intent = ledger.put(
        SubmittedBatch(
            provider=backend.batch_provider, request_keys=tuple(keys), state="submitting"
        )
    )
    lines = [backend.batch_line(requests[k], k) for k in keys]
    metadata = {
        "judge": judge.name,
        "judge_hash": judge.judge_hash,
        "run": run,
        "submission": intent.submission,
    }
    try:
        batch_id = await backend.submit_batch(lines, metadata=metadata)
    except FatalBackendError:
        ledger.drop(intent)  # refused outright: no batch exists
        raise
    except BackendError as exc:
        raise BackendError(
            f"submitting a batch of {len(keys)} requests to {backend.batch_provider} got no "
            f"answer ({exc}); the batch may exist and run (and bill) at the provider. "
            "Rerun with --batch: it looks for that batch among the provider's recent ones "
            f"and collects it before submitting anything again (the attempt is in {ledger.path})",
            retryable=True,
        ) from None
    ledger.put(intent.model_copy(update={"batch_id": batch_id, "state": "running"}))
    log.info("submitted batch %s with %d requests", batch_id, len(keys))


def _after_poll(ledger: _Ledger, batch: SubmittedBatch, poll: BatchPoll) -> SubmittedBatch:
    """Record a poll; a failed or lost batch stops the run with a message."""
    if poll.state == "lost":
        ledger.put(batch.model_copy(update={"state": "lost", "detail": poll.detail}))
        raise FatalBackendError(
            f"{batch.provider} batch {batch.batch_id}, recorded in {ledger.path}, is unknown to "
            f"the provider ({poll.detail}); it is now marked lost there. Rerun with --batch to "
            f"submit its {len(batch.request_keys)} requests again (billed again if it did run: "
            "check the provider's console first if it may belong to another key or project)"
        )
    if poll.state == "failed":
        ledger.put(batch.model_copy(update={"state": "failed", "detail": poll.detail}))
        raise FatalBackendError(f"{batch.provider} batch {batch.batch_id} failed: {poll.detail}")
    return ledger.put(batch.model_copy(update={"state": poll.state, "counts": poll.counts}))


async def _collect(
    judge: PromptJudge,
    backend: BatchBackend,
    ledger: _Ledger,
    batch: SubmittedBatch,
    requests: Mapping[str, CompletionRequest],
    tasks_by_key: dict[str, list[Task]],
    store: RunStore,
    cache: ResponseCache | None,
    resubmitted: set[str],
) -> list[Judgment] | None:
    """Store an ended batch's results and mark it collected (None: fetching failed)."""
    wanted = {k: requests[k] for k in batch.request_keys if k in tasks_by_key}
    written: list[Judgment] = []
    unknown = duplicates = 0
    if wanted:
        try:
            got = await backend.batch_results(batch.batch_id or "", wanted)
        except FatalBackendError:
            raise
        except BackendError as exc:
            log.warning("fetching batch %s failed: %s", batch.batch_id, exc)
            return None
        # A line refused for an option the backend has now dropped goes again without it
        # (once per request); everything else is a judgment.
        refused = {
            k
            for k, r in got.results.items()
            if isinstance(r, OptionRefused) and k not in resubmitted
        }
        results = {k: r for k, r in got.results.items() if k not in refused}
        written = await _store_results(judge, judge.backend, tasks_by_key, results, store)
        if cache is not None:
            for key, result in results.items():
                if isinstance(result, Completion):
                    cache.put(key, result)
        for key in results:
            tasks_by_key.pop(key, None)
        resubmitted |= refused
        if refused:
            log.warning(
                "batch %s: %d requests refused (%s); "
                "submitting them again without the refused option",
                batch.batch_id,
                len(refused),
                got.results[next(iter(refused))],
            )
        held = set(batch.request_keys)
        unknown = sum(1 for c in got.unknown if c not in held)
        duplicates = got.duplicates
        if unknown or duplicates:
            log.warning(
                "batch %s: %d result lines for requests it never held (ignored), %d duplicate "
                "lines (the first success kept); counted in %s",
                batch.batch_id,
                unknown,
                duplicates,
                ledger.path,
            )
    ledger.put(
        batch.model_copy(
            update={
                "state": "collected",
                "collected_at": utcnow(),
                "unknown_lines": unknown,
                "duplicate_lines": duplicates,
            }
        )
    )
    return written


async def _store_results(
    judge: PromptJudge,
    backend: Backend,
    tasks_by_key: Mapping[str, list[Task]],
    results: Mapping[str, Completion | BackendError],
    store: RunStore,
    *,
    from_cache: bool = False,
) -> list[Judgment]:
    """Turn results into judgments with the judge's own code and append them."""
    tasks = [t for key in results for t in tasks_by_key.get(key, [])]

    async def call(
        called: Backend, reqs: Sequence[CompletionRequest], samples: Sequence[int]
    ) -> list[CallResult]:
        keys = [request_key(called, r, s) for r, s in zip(reqs, samples, strict=True)]
        # Tasks that hash to one request share its one reply: only the first is billed.
        first = {k: i for i, k in reversed(list(enumerate(keys)))}
        out = []
        for i, k in enumerate(keys):
            result = results[k]
            if isinstance(result, Completion) and result.empty:  # never final: asked again
                result = BackendError(f"empty reply in batch from {called.name!r}")
            coalesced = first[k] != i and isinstance(result, Completion)
            out.append(CallResult(result, cache_hit=from_cache, key=k, coalesced=coalesced))
        return out

    judgments = await judge.evaluate(tasks, call)
    for judgment in judgments:
        store.append(judgment)
    return judgments
