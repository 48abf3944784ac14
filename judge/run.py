"""The runner: items -> tasks (both orders x samples) -> cache -> judge -> store.

Resuming is the default: a rerun of the same command finds the run folder by its id,
reads what ``judgments.jsonl`` holds, and asks only for what is missing (errors are
retried; finished judgments are never asked for again). The cache sits under the
backend, so a judgment whose reply was cached but not yet stored costs no request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from judge.aio import run_sync
from judge.benchmark import Benchmark, compare_items, file_sha256, items_hash, load_items
from judge.cache import ResponseCache
from judge.caller import Caller as Caller  # re-exported: judge.run was their home
from judge.caller import RetryPolicy as RetryPolicy
from judge.caller import collector_paused, progress_bar
from judge.errors import (
    ConfigError,
    DataError,
    JudgeError,
    StoreError,
    first_error,
)
from judge.factory import build_benchmark, build_judge, judge_label, plugin_versions
from judge.hashing import sha256_json
from judge.judges import Judge, PromptJudge, Task
from judge.prompts import preset_hash
from judge.records import (
    ExecutorInfo,
    Judgment,
    PairItem,
    RunConfig,
    RunManifest,
    SingleItem,
    Totals,
    utcnow,
)
from judge.store import (
    RunLock,
    RunStore,
    atomic_write,
    count_judgments,
    judgment_key,
    latest_judgments,
)

if TYPE_CHECKING:
    from judge.executor import Executor

AnyItem = PairItem | SingleItem
log = logging.getLogger(__name__)


@dataclass(repr=False)
class RunResult:
    """What :func:`run_judging` returns."""

    store: RunStore
    manifest: RunManifest
    items: list[AnyItem]
    requested: int = 0
    """Tasks that were pending when this session started."""
    new_judgments: list[Judgment] = field(default_factory=list)

    def __repr__(self) -> str:
        # Short on purpose: asyncio (3.11) formats the run's result while restoring the
        # SIGINT handler; a full repr of every item and judgment cost ~60 us each (cProfile).
        return (
            f"RunResult(run={self.store.path.name!r}, items={len(self.items)}, "
            f"requested={self.requested}, new_judgments={len(self.new_judgments)})"
        )


def plan_tasks(items: Sequence[AnyItem], config: RunConfig) -> list[Task]:
    """Every task of a run: each pair in the configured orders, each sample."""
    orders = {"both": (False, True), "original": (False,), "swapped": (True,)}[config.orders]
    tasks = []
    for item in items:
        item_orders = orders if isinstance(item, PairItem) else (False,)
        for sample in range(config.samples):
            for swapped in item_orders:
                tasks.append(Task(item=item, swapped=swapped, sample=sample, seed=config.seed))
    return tasks


def run_id_for(config: RunConfig, judge: Judge) -> str:
    """A stable run id, so rerunning the same command resumes the same run."""
    identity = {
        "benchmark": config.benchmark,
        "benchmark_args": config.benchmark_args,
        "judge_hash": judge.judge_hash,
        "orders": config.orders,
        "samples": config.samples,
        "seed": config.seed,
    }
    # a preset file is named by its stem (its hash, not its path, is the judge): the same
    # file as ./my-judge.toml or /abs/my-judge.toml resumes the same run
    safe_judge = judge_label(config.judge, judge).replace("/", "_")
    bench = config.benchmark
    label = config.benchmark_args.get("label") if bench == "probe" else None
    if isinstance(label, str):  # a probe's runs differ by their perturbation: say which
        bench = f"probe-{label.replace('/', '_')}"
    return f"{bench}-{safe_judge}-{sha256_json(identity)[:8]}"


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a run's output."""
    out = {"python": sys.version.split()[0]}
    for name in (
        "judge-harness",
        "pydantic",
        "llama-cpp-python",
        "openai",
        "anthropic",
        "transformers",
        "torch",
        "vllm",
        "lm-eval",
        "pandas",
        "scikit-learn",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _preset_files_extra(judge: Judge) -> dict[str, Any]:
    """The manifest's record of the preset files the judge was read from (re-parsing and
    the viewer find them from any folder), or nothing for bundled presets."""
    from judge.factory import preset_files
    from judge.records import PRESET_FILES

    files = preset_files(judge)
    return {PRESET_FILES: files} if files else {}


def git_commit() -> str | None:
    """The commit of the judge-harness checkout, where it is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _run_items(
    store: RunStore,
    previous: RunManifest | None,
    loaded: list[AnyItem],
    *,
    data_files: dict[str, str],
    everything: Callable[[], list[AnyItem]],
    extend: bool,
) -> tuple[list[AnyItem], bool]:
    """The run's items after this session (what it held, then what is new) and whether
    ``items.jsonl`` must be written.

    Stored items are compared with the loaded ones, item by item: a changed or removed
    item is refused (the run's judgments and labels would no longer match the data),
    and so are items added to a data file since the run began unless ``extend`` says
    so. A larger ``--limit`` over an unchanged file extends a run as before.
    """
    if not store.items_path.exists():
        return loaded, True
    stored = store.items()
    changed_files = [
        path
        for path, digest in data_files.items()
        if previous is None or previous.data_files.get(path) != digest
    ]
    whole = everything() if changed_files else None
    changes = compare_items(stored, loaded, everything=whole)
    where = f"{', '.join(changed_files)} changed" if changed_files else "the items changed"
    if changes.changed or changes.removed:
        raise DataError(
            f"{where} since run {store.path} began: {changes.describe()}; its judgments "
            "and labels are of the old items. Start a new run with --name NEW_NAME "
            f"(name=...) (or remove {store.path} to start this one again)"
        )
    if changes.added and changed_files and not extend:
        raise DataError(
            f"{where} since run {store.path} began: {changes.describe()}; pass --extend "
            "(extend=True) to judge the new items in this run, or start a new run with "
            "--name NEW_NAME (name=...)"
        )
    if not changes.added:
        return stored, False
    known = {item.id for item in stored}
    return [*stored, *(item for item in loaded if item.id not in known)], True


def _no_items(config: RunConfig, bench: Benchmark | None) -> ConfigError | DataError:
    """The error for a benchmark that yielded nothing, naming its data files."""
    files = [str(p) for p in bench.files()] if bench is not None else []
    if files:
        return DataError(
            f"benchmark {config.benchmark!r} found no items in {', '.join(files)}: "
            "is the file empty?"
        )
    return ConfigError(f"benchmark {config.benchmark!r} yielded no items")


def _preflight(
    judge: Judge, items: Sequence[AnyItem], config: RunConfig, max_cost: float | None
) -> None:
    """What can fail before a run starts fails here, before any folder is made."""
    judge.check_items(items)
    if config.execution == "batch" and not isinstance(judge, PromptJudge):
        raise ConfigError(f"batch execution needs a prompt judge; {judge.name!r} is not one")
    if config.workers > 1:
        from judge.workers import check_workers

        check_workers(judge, max_cost=max_cost, execution=config.execution)


async def _lock(lock: RunLock, *, wait: bool, poll_s: float = 0.2) -> None:
    """Take the run folder's lock; without ``wait``, a held lock is an error at once."""
    if lock.try_acquire():
        return
    if not wait:
        raise lock.locked_error()
    log.warning("waiting for %s (%s) to finish", lock.path.parent, lock.holder())
    while not lock.try_acquire():
        await asyncio.sleep(poll_s)


class RunOptions(TypedDict, total=False):
    """How to run, beside what to run: the keywords :func:`arun_judging` takes after the
    config, the judge and the items. :func:`run_judging` and
    :func:`judge.compare.compare_outputs` take them as ``**options`` and pass them on, so
    the list (and each default) is written once, in :func:`arun_judging`'s signature."""

    output: str | Path
    """Folder holding run folders (default ``results``)."""
    run_name: str | None
    """The run folder's name (default: from the config)."""
    argv: Sequence[str]
    """The command line, recorded in the manifest."""
    progress: bool
    """Show a progress bar."""
    retry: RetryPolicy | None
    """Retries of retryable backend errors."""
    cache_path: str | Path | None
    """The response cache (SQLite)."""
    batch_poll_s: float
    """Seconds between polls of a provider batch."""
    wait: bool
    """Wait for another process running the same run folder instead of failing."""
    extend: bool
    """Accept items added to a data file when resuming."""
    max_cost: float | None
    """US dollars the whole run may cost."""
    executor: Executor | None
    """Where the backend calls run (None: in this process); see :mod:`judge.executor`."""


def run_judging(
    config: RunConfig,
    *,
    judge: Judge | None = None,
    items: Sequence[AnyItem] | None = None,
    **options: Unpack[RunOptions],
) -> RunResult:
    """Judge a benchmark and store the run; resume it if it exists. Synchronous wrapper
    of :func:`arun_judging` (same keywords; inside a running event loop it runs in a worker
    thread: :func:`judge.aio.run_sync`)."""
    return run_sync(lambda: arun_judging(config, judge=judge, items=items, **options))


async def arun_judging(
    config: RunConfig,
    *,
    output: str | Path = "results",
    run_name: str | None = None,
    argv: Sequence[str] = (),
    progress: bool = False,
    retry: RetryPolicy | None = None,
    judge: Judge | None = None,
    items: Sequence[AnyItem] | None = None,
    cache_path: str | Path | None = None,
    batch_poll_s: float = 30.0,
    wait: bool = False,
    extend: bool = False,
    max_cost: float | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Judge a benchmark and store the run; resume it if it exists.

    ``max_cost`` (US dollars, for the whole run, resumed sessions included) stops the
    run before a request could exceed it (:class:`judge.budget.BudgetGuard`).

    ``config.execution == "batch"`` submits the pending requests through the provider's
    batch API and polls every ``batch_poll_s`` seconds (state in ``batches.json``).

    ``executor`` says where the pending tasks are judged (:mod:`judge.executor`; default:
    this event loop); the run folder, the cache and resume stay here whatever it is.

    One process writes a run folder at a time: another one running it raises
    :class:`~judge.errors.RunLockedError`, or with ``wait`` waits for it. A resumed
    run whose items changed is refused (``extend`` accepts items added to a data file).
    Everything that can fail before the run starts (the items, the judge, the cache,
    the judge's fit to the items, its backends) fails before a new run folder exists,
    and a resume that fails before its first new judgment leaves the folder as it was.
    """
    started = time.perf_counter()
    data_files: dict[str, str] = {}
    bench: Benchmark | None = None
    if items is None:
        bench = build_benchmark(config)
        loaded = load_items(bench, limit=config.limit)
        data_files = {str(p): file_sha256(p) for p in bench.files() if p.is_file()}
    else:
        loaded = list(items)[: config.limit] if config.limit else list(items)
    if not loaded:
        raise _no_items(config, bench)
    everything: Callable[[], list[AnyItem]] = lambda: loaded  # noqa: E731
    if bench is not None and config.limit is not None and len(loaded) >= config.limit:
        everything = functools.partial(load_items, bench)  # the limit cut the items
    if run_name is not None and (Path(run_name).name != run_name or run_name in ("", ".", "..")):
        raise ConfigError(
            f"run name {run_name!r} must be one folder name (no '/' or '..'): "
            f"the run folder is made inside {output}"
        )
    judge = judge or build_judge(config)
    cache: ResponseCache | None = None
    lock: RunLock | None = None
    try:
        _preflight(judge, loaded, config, max_cost)
        store = RunStore(Path(output) / (run_name or run_id_for(config, judge)))
        if not store.path.exists():
            _prepare(judge, executor)  # a new run has work to do: build its backends first
        if config.use_cache:
            cache = ResponseCache(cache_path or Path(output) / "cache.sqlite")
        lock = RunLock(store.path)
        await _lock(lock, wait=wait)
        with collector_paused():  # the bookkeeping after the run makes objects too
            return await _run_locked(
                config,
                judge,
                store,
                cache,
                loaded,
                data_files=data_files,
                everything=everything,
                extend=extend,
                argv=argv,
                progress=progress,
                retry=retry,
                batch_poll_s=batch_poll_s,
                started=started,
                max_cost=max_cost,
                executor=executor,
            )
    finally:
        await _close_quietly(judge.aclose())
        if executor is not None:
            await _close_quietly(executor.aclose())
        if cache is not None:
            _close_cache(cache)
        if lock is not None:
            lock.release()


async def _run_locked(
    config: RunConfig,
    judge: Judge,
    store: RunStore,
    cache: ResponseCache | None,
    loaded: list[AnyItem],
    *,
    data_files: dict[str, str],
    everything: Callable[[], list[AnyItem]],
    extend: bool,
    argv: Sequence[str],
    progress: bool,
    retry: RetryPolicy | None,
    batch_poll_s: float,
    started: float,
    max_cost: float | None,
    executor: Executor | None,
) -> RunResult:
    # Everything is read and checked before anything is written: a bad line anywhere,
    # a changed item or another judge leaves the folder byte-identical.
    previous: RunManifest | None = None
    previous_text: bytes | None = None
    if store.exists():
        previous_text = store.manifest_path.read_bytes()
        previous = store.read_manifest()
        if previous.judge_hash != judge.judge_hash:
            raise ConfigError(
                f"{store.path} holds a run of a different judge configuration "
                f"({previous.judge_hash} != {judge.judge_hash}); choose another --name"
            )
        before = sha256_json([previous.config.benchmark, previous.config.benchmark_args])
        if before != sha256_json([config.benchmark, config.benchmark_args]):
            raise ConfigError(
                f"{store.path} holds a run of benchmark {previous.config.benchmark!r} with "
                f"options {previous.config.benchmark_args or '{}'}, not {config.benchmark!r} "
                f"with {config.benchmark_args or '{}'}; choose another --name (name=...)"
            )
        if previous.config.orders != config.orders:
            raise ConfigError(
                f"{store.path} holds a run judged in orders={previous.config.orders!r}, "
                f"not {config.orders!r}; choose another --name (name=...)"
            )
    if config.execution != "batch":
        from judge.batch import ensure_no_batches_in_flight

        ensure_no_batches_in_flight(store.path)  # a live run would pay for them twice
    all_items, items_new = _run_items(
        store,
        previous,
        loaded,
        data_files=data_files,
        everything=everything,
        extend=extend,
    )
    existing = store.judgments()
    tasks = plan_tasks(loaded, config)
    done = {judgment_key(j) for j in existing if j.status != "error"}
    pending = [t for t in tasks if (t.item.id, t.swapped, t.sample) not in done]
    if pending:
        _prepare(judge, executor)

    manifest = RunManifest(
        run_id=store.path.name,
        config=config,
        judge_hash=judge.judge_hash,
        judge_spec=judge.spec(),
        prompt_hash=preset_hash(judge.preset) if isinstance(judge, PromptJudge) else None,
        data_hash=items_hash(all_items),
        data_files={**(previous.data_files if previous else {}), **data_files},
        git_commit=git_commit(),
        package_versions={**package_versions(), **plugin_versions(config)},
        argv=tuple(argv),
        seed=config.seed,
        n_items=len(all_items),
        counts=count_judgments(existing),
        started_at=previous.started_at if previous else utcnow(),
        totals=previous.totals if previous else Totals(),
        extra={**(previous.extra if previous else {}), **_preset_files_extra(judge)},
        executor=executor.info() if executor is not None else ExecutorInfo(),
    )
    caller: Any = Caller(cache, retry or RetryPolicy(), config.seed)
    if max_cost is not None:
        from judge.budget import BudgetGuard

        caller = BudgetGuard(caller, max_cost, spent=manifest.totals.cost)
    new: list[Judgment] = []
    failure: BaseException | None = None
    # The judgments file first: one that cannot be written stops the run unchanged.
    store.open_for_append()
    try:
        if items_new:
            store.write_items(all_items)
        if pending or previous is None:
            store.write_manifest(manifest)
        if config.execution == "batch":
            new = await _execute_batch(
                judge, pending, store, cache, batch_poll_s, max_cost, manifest.totals.cost
            )
        elif executor is not None:
            new = await executor.execute(judge, pending, caller, store, config, progress)
        elif config.workers > 1:
            from judge.workers import execute_in_workers

            new = await execute_in_workers(
                judge,
                pending,
                store,
                cache,
                workers=config.workers,
                concurrency=config.concurrency,
                retry=retry or RetryPolicy(),
                seed=config.seed,
                progress=progress,
            )
        else:
            new = await execute_tasks(judge, pending, caller, store, config, progress)
    except BaseException as exc:
        failure = exc
        raise
    finally:
        # Each step runs whatever failed before it; the run's own failure wins.
        cleanup: list[JudgeError] = []
        try:
            store.close()
        except JudgeError as exc:
            cleanup.append(exc)
        outcome = failure or (cleanup[0] if cleanup else None)
        try:
            if outcome is not None and store.appended == 0 and previous_text is not None:
                # Nothing new was stored: the run is as it was, and so is its manifest.
                if store.manifest_path.read_bytes() != previous_text:
                    atomic_write(store.manifest_path, previous_text.decode("utf-8"))
            else:
                stored = (
                    latest_judgments([*existing, *new]) if outcome is None else store.judgments()
                )
                manifest = _finalize(store, manifest, tasks, started, outcome, stored)
        except JudgeError as exc:
            cleanup.append(exc)
        except OSError as exc:
            cleanup.append(StoreError(f"cannot update {store.manifest_path}: {exc.strerror}"))
        if failure is None and cleanup:
            raise cleanup[0]
    return RunResult(
        store=store, manifest=manifest, items=all_items, requested=len(pending), new_judgments=new
    )


def _prepare(judge: Judge, executor: Executor | None) -> None:
    """Build what judging needs: the judge's models here, or the executor's workers."""
    if executor is None:
        judge.prepare()
    else:
        executor.prepare(judge)


async def _close_quietly(closing: Awaitable[None]) -> None:
    """Await a close; a failure to close is logged, never raised over the run's own."""
    try:
        await closing
    except Exception as exc:  # cleanup must not hide the run's outcome
        log.warning("closing the judge failed: %s", exc)


def _close_cache(cache: ResponseCache) -> None:
    try:
        cache.close()
    except JudgeError as exc:
        log.warning("%s", exc)


async def _execute_batch(
    judge: Judge,
    pending: list[Task],
    store: RunStore,
    cache: ResponseCache | None,
    poll_interval: float,
    max_cost: float | None = None,
    spent: float = 0.0,
) -> list[Judgment]:
    from judge.batch import run_batch
    from judge.budget import BatchBudget

    if not isinstance(judge, PromptJudge):
        raise ConfigError(f"batch execution needs a prompt judge; {judge.name!r} is not one")
    if not pending:
        return []
    budget = BatchBudget(judge.backend, max_cost, spent=spent) if max_cost is not None else None
    return await run_batch(
        judge, pending, store, cache=cache, poll_interval=poll_interval, budget=budget
    )


async def execute_tasks(
    judge: Judge,
    pending: Sequence[Task],
    caller: Caller,
    store: RunStore,
    config: RunConfig,
    progress: bool,
    *,
    max_concurrency: int | None = None,
) -> list[Judgment]:

    batch = max(1, judge.batch_size)
    chunks = [pending[i : i + batch] for i in range(0, len(pending), batch)]
    bound = judge.max_concurrency if max_concurrency is None else max_concurrency
    workers = min(config.concurrency, bound or config.concurrency, max(1, len(chunks)))
    queue: asyncio.Queue[Sequence[Task]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    made: list[Judgment] = []
    bar = progress_bar(len(pending), f"judging ({judge.name})", show=progress)

    async def worker() -> None:
        while True:
            try:
                chunk = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for judgment in await judge.evaluate(chunk, caller):
                store.append(judgment)
                made.append(judgment)
                bar.update(1)

    try:
        with collector_paused():
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
    except* JudgeError as group:  # ours: raise it as itself, not as a group
        raise first_error(group) from None
    finally:
        bar.close()
    return made


def _finalize(
    store: RunStore,
    manifest: RunManifest,
    tasks: list[Task],
    started: float,
    failure: BaseException | None,
    stored: list[Judgment],
) -> RunManifest:
    counts = count_judgments(stored)
    billed = sum(j.billed for j in stored)
    totals = Totals(
        tokens_in=sum(j.tokens_in for j in stored),
        tokens_out=sum(j.tokens_out for j in stored),
        cost=billed,
        cost_saved=max(0.0, sum(j.cost for j in stored) - billed),
        latency_s=sum(j.latency_s for j in stored),
        wall_s=manifest.totals.wall_s + (time.perf_counter() - started),
    )
    finished = {judgment_key(j) for j in stored if j.status != "error"}
    complete = failure is None and all((t.item.id, t.swapped, t.sample) in finished for t in tasks)
    extra: dict[str, Any] = dict(manifest.extra)
    if failure is not None:
        extra["last_failure"] = f"{type(failure).__name__}: {failure}"
    else:
        extra.pop("last_failure", None)
    final = manifest.model_copy(
        update={
            "counts": counts,
            "totals": totals,
            "finished_at": utcnow(),
            "complete": complete,
            "extra": extra,
        }
    )
    store.write_manifest(final)
    return final
