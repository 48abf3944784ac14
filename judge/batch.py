"""Batch execution: OpenAI's Batch API and Anthropic's Message Batches (half price).

Instead of one HTTP request per judgment, every pending request goes into provider
batches (one JSONL line per request, ``custom_id`` = the request key); the batches are
polled until they end, and their results become judgments in the same store, built by
the same judge code as a live run (:meth:`PromptJudge.evaluate` with a caller that
reads the batch results), and land in the response cache too.

The submitted batch ids are written to ``batches.json`` in the run folder *before*
polling starts, so a restarted run resumes by batch id: it polls and collects the
batches it already submitted instead of submitting (and paying for) them again. Only
requests whose judgment is missing or an error, and that no live batch holds, are
submitted. A crash in the moment between the provider accepting a batch and the state
file being written is the one window in which a rerun can submit a request twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import Field, ValidationError

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.backends.http_common import BatchPoll
from judge.cache import ResponseCache
from judge.errors import BackendError, ConfigError, DataError, FatalBackendError
from judge.judges import CallResult, PromptJudge, Task, request_key
from judge.records import Judgment, Record, utcnow
from judge.store import RunStore, atomic_write, judgment_key

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUESTS = {"openai": 50_000, "anthropic": 100_000}
"""The providers' limits on requests per batch."""


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
    ) -> dict[str, Completion | BackendError]: ...


class SubmittedBatch(Record):
    """One provider batch of a run, as recorded in ``batches.json``."""

    batch_id: str
    """The provider's batch id."""
    provider: str
    """``openai`` or ``anthropic``."""
    request_keys: tuple[str, ...]
    """The request keys (custom ids) it holds."""
    state: Literal["running", "ended", "failed", "collected"] = "running"
    """``collected``: its results are in the store."""
    counts: dict[str, int] = Field(default_factory=dict)
    """The provider's request counts at the last poll."""
    submitted_at: datetime = Field(default_factory=utcnow)
    collected_at: datetime | None = None


class BatchState(Record):
    """``batches.json``: every batch a run has submitted."""

    judge_hash: str
    """The judge the batches were made for (a different judge cannot reuse them)."""
    batches: tuple[SubmittedBatch, ...] = ()


def read_state(path: Path, judge_hash: str) -> BatchState:
    """The batch state at ``path`` (empty if the file does not exist)."""
    if not path.exists():
        return BatchState(judge_hash=judge_hash)
    try:
        state = BatchState.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise DataError(f"invalid batch state: {exc}", path=str(path)) from exc
    if state.judge_hash != judge_hash:
        raise ConfigError(
            f"{path} records batches of another judge configuration "
            f"({state.judge_hash} != {judge_hash})"
        )
    return state


def write_state(path: Path, state: BatchState) -> None:
    atomic_write(path, state.model_dump_json(indent=2) + "\n")


def _replace(state: BatchState, batch: SubmittedBatch) -> BatchState:
    kept = tuple(b if b.batch_id != batch.batch_id else batch for b in state.batches)
    return state.model_copy(update={"batches": kept})


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
) -> list[Judgment]:
    """Judge ``tasks`` through the provider's batch API; return the judgments stored.

    ``state_path`` defaults to ``batches.json`` in the run folder. Tasks whose judgment
    the store already holds (other than errors) are skipped; cached replies are used
    without a request. ``max_wait`` (seconds) stops polling early with a retryable
    :class:`BackendError`; the batches keep running and a rerun collects them.
    """
    backend = judge.backend
    if not isinstance(backend, BatchBackend):
        raise ConfigError(f"backend {backend.name!r} has no batch API (use openai or anthropic)")
    path = Path(state_path) if state_path is not None else store.path / "batches.json"
    state = read_state(path, judge.judge_hash)
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

    # Keys that a live batch already holds are waited for, not resubmitted.
    live = {k for b in state.batches if b.state in ("running", "ended") for k in b.request_keys}
    to_submit = [k for k in tasks_by_key if k not in live]
    for start in range(0, len(to_submit), limit):
        chunk = to_submit[start : start + limit]
        lines = [backend.batch_line(requests[k], k) for k in chunk]
        batch_id = await backend.submit_batch(
            lines, metadata={"judge": judge.name, "judge_hash": judge.judge_hash}
        )
        batch = SubmittedBatch(
            batch_id=batch_id, provider=backend.batch_provider, request_keys=tuple(chunk)
        )
        state = state.model_copy(update={"batches": (*state.batches, batch)})
        write_state(path, state)
        log.info("submitted batch %s with %d requests", batch_id, len(chunk))

    started = time.monotonic()
    while True:
        open_batches = [b for b in state.batches if b.state in ("running", "ended")]
        if not open_batches:
            break
        for batch in open_batches:
            if batch.state == "running":
                try:
                    poll = await backend.poll_batch(batch.batch_id)
                except FatalBackendError:
                    raise
                except BackendError as exc:  # a failed poll is retried at the next interval
                    log.warning("polling batch %s failed: %s", batch.batch_id, exc)
                    continue
                if poll.state == "failed":
                    state = _replace(state, batch.model_copy(update={"state": "failed"}))
                    write_state(path, state)
                    raise FatalBackendError(
                        f"{batch.provider} batch {batch.batch_id} failed: {poll.detail}"
                    )
                batch = batch.model_copy(update={"state": poll.state, "counts": poll.counts})
                state = _replace(state, batch)
                write_state(path, state)
            if batch.state == "ended":
                wanted = {k: requests[k] for k in batch.request_keys if k in tasks_by_key}
                if wanted:
                    try:
                        results = await backend.batch_results(batch.batch_id, wanted)
                    except FatalBackendError:
                        raise
                    except BackendError as exc:
                        log.warning("fetching batch %s failed: %s", batch.batch_id, exc)
                        continue
                    written += await _store_results(judge, backend, tasks_by_key, results, store)
                    if cache is not None:
                        for key, result in results.items():
                            if isinstance(result, Completion):
                                cache.put(key, result)
                    for key in wanted:
                        tasks_by_key.pop(key, None)
                batch = batch.model_copy(update={"state": "collected", "collected_at": utcnow()})
                state = _replace(state, batch)
                write_state(path, state)
        if not any(b.state in ("running", "ended") for b in state.batches):
            break
        if max_wait is not None and time.monotonic() - started + poll_interval > max_wait:
            raise BackendError(
                f"batches still running after {max_wait:.0f} s; rerun to collect them "
                f"(their ids are in {path})",
                retryable=True,
            )
        await asyncio.sleep(poll_interval)
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
