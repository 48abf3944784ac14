"""One run in several processes: ``--workers N`` (``RunConfig.workers``).

A Python client spends its CPU on one core; a fast local server (vLLM on a big GPU)
answers faster than one core can render prompts, parse replies and keep the books.
With ``workers > 1`` the runner starts N worker processes (``python -m judge.workers``),
each with its own event loop and connections, and gives each a share of the pending
tasks. A worker renders, looks the request up in the response cache (read only),
sends it with the usual retries and coalescing, and writes each judgment back to the
parent as one JSON line on its stdout, with the reply to cache.

The parent stays the only writer: it appends each judgment to the run's store as it
arrives (flushed per line, as in one process), puts the replies into the cache, holds
the run lock and does the resume bookkeeping. So a parent killed at any moment leaves
a store of whole judgments that a rerun completes, never repeats; its workers notice
the parent is gone (their pipe breaks, or their parent pid changes) and exit.

Identical requests are coalesced inside one process, so the shares are cut by request
key (the parent renders each pending request once to know it): tasks that send the
same request land in the same worker and are sent once. The seam with the runner is
:func:`execute_in_workers`; everything else about the run is the runner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import pickle
import signal
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from judge import errors
from judge.backends.base import Completion
from judge.errors import BackendError, ConfigError, JudgeError, StoreError
from judge.records import Judgment

if TYPE_CHECKING:
    from judge.cache import ResponseCache
    from judge.caller import RetryPolicy
    from judge.judges import Judge, Task
    from judge.store import RunStore

PARENT_POLL_S = 1.0
"""How often a worker checks that its parent is alive (a SIGKILLed parent closes no pipe
a worker waiting on a slow reply would notice)."""


@dataclass(frozen=True)
class WorkerJob:
    """What a worker is given on its stdin (pickled): everything to judge its share."""

    judge: Judge
    tasks: list[Task]
    retry: RetryPolicy
    seed: int
    concurrency: int
    cache_path: str | None


def shares(tasks: Sequence[Task], workers: int, key: Callable[[Task], str]) -> list[list[Task]]:
    """``tasks`` cut into ``workers`` shares by ``key`` (a request key): tasks that send
    the same request share a worker, whose caller sends it once.

    >>> from judge.judges import Task
    >>> from judge.records import PairItem
    >>> a = PairItem(id="1", benchmark="x", prompt="p", response_a="a", response_b="b")
    >>> twin = a.model_copy(update={"id": "2"})
    >>> parts = shares([Task(a), Task(twin), Task(a, swapped=True)], 2, lambda t: t.item.prompt)
    >>> sorted(len(p) for p in parts)
    [0, 3]
    """
    out: list[list[Task]] = [[] for _ in range(workers)]
    for task in tasks:
        digest = hashlib.sha256(key(task).encode("utf-8")).digest()
        out[int.from_bytes(digest[:8], "big") % workers].append(task)
    return out


def check_workers(judge: Judge, *, max_cost: float | None, execution: str) -> None:
    """Refuse, before the run starts, what several processes cannot do."""
    if execution == "batch":
        raise ConfigError("--workers applies to live requests; a --batch run needs none")
    if max_cost is not None:
        raise ConfigError(
            "--max-cost keeps one running total and cannot span --workers processes; "
            "use one worker for a capped run"
        )
    for backend in _backends(judge):
        limiter = getattr(backend, "limiter", None)
        if limiter is not None and limiter.active:
            raise ConfigError(
                f"backend {backend.name!r} paces requests (rpm/tpm); each worker would pace "
                "on its own and together exceed the limit: use one worker"
            )
    try:
        pickle.dumps(judge)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"judge {judge.name!r} cannot be sent to worker processes ({exc}); --workers is "
            "for HTTP judges (a local model lives in one process)"
        ) from None


def _backends(judge: Judge) -> list[Any]:
    members = getattr(judge, "members", None)
    if members:
        return [b for _, member in members for b in _backends(member)]
    backend = getattr(judge, "backend", None)
    return [backend] if backend is not None else []


async def execute_in_workers(
    judge: Judge,
    pending: list[Task],
    store: RunStore,
    cache: ResponseCache | None,
    *,
    workers: int,
    concurrency: int,
    retry: RetryPolicy,
    seed: int,
    progress: bool,
) -> list[Judgment]:
    """Judge ``pending`` in ``workers`` processes; store every judgment here, as it comes."""
    from judge.caller import progress_bar

    # Rendering every request here (its key) costs the parent ~0.05 ms a task, once; it
    # is what makes coalescing exact across processes.
    parts = [p for p in shares(pending, workers, judge.request_key) if p]
    if not parts:
        return []
    per_worker = max(1, -(-concurrency // len(parts)))
    made: list[Judgment] = []
    bar = progress_bar(len(pending), f"judging ({judge.name}, {len(parts)} workers)", show=progress)
    procs: list[asyncio.subprocess.Process] = []
    try:
        for number, part in enumerate(parts):
            job = WorkerJob(
                judge=judge,
                tasks=part,
                retry=retry,
                seed=seed + number,
                concurrency=per_worker,
                cache_path=str(cache.path) if cache is not None else None,
            )
            procs.append(await _start(job))

        def take(line: bytes) -> None:
            judgment, key, completion = _parse_line(line)
            store.append(judgment)
            if cache is not None and completion is not None:
                cache.put(key, completion)
            made.append(judgment)
            bar.update(1)

        async with asyncio.TaskGroup() as group:
            for number, proc in enumerate(procs):
                group.create_task(_collect(number, proc, take))
    except* JudgeError as group:  # ours: raise it as itself, not as a group
        raise errors.first_error(group) from None
    finally:
        bar.close()
        for proc in procs:
            await _stop(proc)
    return made


async def _start(job: WorkerJob) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "judge.workers",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**26,  # a judgment line holds the whole reply text
    )
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps(job))
    await proc.stdin.drain()
    proc.stdin.close()
    return proc


async def _collect(number: int, proc: asyncio.subprocess.Process, take: Any) -> None:
    """Read one worker's lines until it ends; its error (or death) becomes ours."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        if line.startswith(b'{"error"'):
            raise _error_from(line)
        if not line.endswith(b"\n"):
            break  # cut off by the worker's death: not a finished judgment
        try:
            take(line)
        except ValueError as exc:  # not JSON, or not a judgment (pydantic's error is one)
            raise StoreError(
                f"worker process {number + 1} (pid {proc.pid}) sent a line that is not a "
                f"judgment ({str(exc).splitlines()[0]}): {line[:120]!r}"
            ) from None
    code = await proc.wait()
    if code != 0:
        raise StoreError(
            f"worker process {number + 1} (pid {proc.pid}) ended with exit code {code}; "
            "what it judged is stored: run the same command again to finish the run"
        )


def _parse_line(line: bytes) -> tuple[Judgment, str, Completion | None]:
    data = json.loads(line)
    judgment = Judgment.model_validate(data["j"])
    completion = Completion.model_validate(data["c"]) if data["c"] is not None else None
    return judgment, judgment.request_key, completion


def _error_from(line: bytes) -> JudgeError:
    data = json.loads(line)
    cls = getattr(errors, str(data.get("type")), None)
    message = str(data.get("error"))
    if isinstance(cls, type) and issubclass(cls, JudgeError):
        return cls(message)
    return BackendError(message)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End a worker that is still running (the run failed or was interrupted)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 5.0)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


# -- the worker process -------------------------------------------------------------------


class _ReadOnlyCache:
    """The run's cache as a worker sees it: SQLite reads, plus this worker's own recent
    replies (the parent writes them to SQLite within about a second: until then a
    repeated request must still find them, as it would in one process)."""

    RECENT = 65_536

    def __init__(self, cache: ResponseCache | None) -> None:
        self.cache = cache
        self.to_keep: dict[str, Completion] = {}
        self.recent: OrderedDict[str, Completion] = OrderedDict()

    def get(self, key: str) -> Completion | None:
        if self.cache is None:
            return None
        mine = self.recent.get(key) or self.to_keep.get(key)
        if mine is not None:
            self.cache.hits += 1
            return mine
        return self.cache.get(key)

    def put(self, key: str, completion: Completion) -> None:
        if self.cache is not None and not completion.empty:
            self.to_keep[key] = completion

    def sent(self, key: str) -> Completion | None:
        """The reply for ``key`` to send to the parent (once), kept as a recent one."""
        kept = self.to_keep.pop(key, None)
        if kept is not None:
            self.recent[key] = kept
            if len(self.recent) > self.RECENT:
                self.recent.popitem(last=False)
        return kept


async def _work(job: WorkerJob, out: Any) -> None:
    from judge.caller import Caller, collector_paused

    cache = None
    if job.cache_path is not None:
        from judge.cache import ResponseCache

        cache = ResponseCache(job.cache_path)
    reads = _ReadOnlyCache(cache)
    caller = Caller(reads, job.retry, job.seed)  # type: ignore[arg-type]
    queue = iter(job.tasks)
    batch = max(1, job.judge.batch_size)

    def emit(judgment: Judgment) -> None:
        kept = reads.sent(judgment.request_key)
        completion = kept.model_dump_json() if kept is not None else "null"
        out.write(f'{{"j":{judgment.model_dump_json()},"c":{completion}}}\n'.encode())

    async def worker() -> None:
        while chunk := [t for _, t in zip(range(batch), queue, strict=False)]:
            for judgment in await job.judge.evaluate(chunk, caller):
                emit(judgment)
            out.flush()

    async def watch_parent(parent: int) -> None:
        while os.getppid() == parent:
            await asyncio.sleep(PARENT_POLL_S)
        os._exit(1)  # the parent is gone: nobody would store what we judge

    watcher = asyncio.create_task(watch_parent(os.getppid()))
    try:
        with collector_paused():
            async with asyncio.TaskGroup() as group:
                for _ in range(min(job.concurrency, len(job.tasks))):
                    group.create_task(worker())
    finally:
        watcher.cancel()
        await job.judge.aclose()
        if cache is not None:
            cache.close()


def main() -> None:
    """Entry of a worker process: a pickled :class:`WorkerJob` on stdin, lines on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    job: WorkerJob = pickle.loads(sys.stdin.buffer.read())
    # The judgment lines get the pipe to themselves: whatever else writes to stdout (a
    # library's print) goes to stderr instead of into the parent's records.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        asyncio.run(_work(job, out))
    except* JudgeError as group:
        first = errors.first_error(group)
        line = json.dumps({"error": str(first), "type": type(first).__name__})
        with contextlib.suppress(BrokenPipeError):
            out.write(line.encode() + b"\n")
            out.flush()
        sys.exit(0)
    except* BrokenPipeError:
        os._exit(1)  # the parent closed our pipe: stop quietly


if __name__ == "__main__":
    main()
