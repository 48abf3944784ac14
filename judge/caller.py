"""Reaching a backend: the response cache, retries with backoff, coalescing.

:class:`Caller` is what a judge's ``evaluate`` calls to get replies; the runner makes one
per run (and each ``--workers`` process one of its own). :func:`collector_paused` is
the garbage-collector setting a run's event loop runs under.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.cache import ResponseCache
from judge.errors import BackendError, FatalBackendError, StoreError, plugin_failure
from judge.judges import CallResult, request_key


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of retryable backend errors: exponential backoff with full jitter."""

    max_retries: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    empty_retries: int = 2
    """Retries of an empty reply (no text, no probabilities); then it is an error
    judgment, which a rerun asks again. Few: a model that answers nothing to a prompt
    at temperature 0 will do it again."""

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt`` (1-based); honours ``Retry-After``."""
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        jittered = backoff * (0.5 + rng.random() / 2)
        return max(jittered, float(retry_after)) if retry_after is not None else jittered


class Caller:
    """Reaches a backend through the cache, with bounded retries of retryable errors.

    Identical requests (same :func:`request_key`) in flight at once are sent once: the
    first caller sends it and every later one waits for its reply, or its failure
    (:attr:`coalesced` counts the waits). An empty reply is a retryable failure
    (:attr:`RetryPolicy.empty_retries`), never cached; after the retries it is an error.
    """

    def __init__(self, cache: ResponseCache | None, retry: RetryPolicy, seed: int) -> None:
        self.cache = cache
        self.retry = retry
        self.rng = random.Random(seed)
        self.requests_sent = 0
        self.retries = 0
        self.coalesced = 0
        self.empty_replies = 0
        self._in_flight: dict[str, _Flight] = {}

    async def __call__(
        self, backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
    ) -> list[CallResult]:
        keys = [request_key(backend, r, s) for r, s in zip(requests, samples, strict=True)]
        results: list[CallResult | None] = [None] * len(requests)
        pending: list[int] = []
        followers: list[tuple[int, asyncio.Future[Completion | BackendError]]] = []
        leading: dict[str, _Flight] = {}
        for i, key in enumerate(keys):
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None:
                results[i] = CallResult(cached, cache_hit=True, key=key)
            elif (flight := self._in_flight.get(key)) is not None:
                followers.append((i, flight.wait()))
            else:
                self._in_flight[key] = leading[key] = _Flight()
                pending.append(i)
        try:
            await self._send(backend, requests, keys, pending, results)
        except BaseException as exc:
            for flight in leading.values():
                flight.fail(exc)
            raise
        finally:
            for i in pending:
                flight = leading[keys[i]]
                del self._in_flight[keys[i]]
                result = results[i]
                if result is not None:
                    flight.finish(result.result)
        for i, waiting in followers:
            answer = await waiting
            self.coalesced += 1
            results[i] = CallResult(answer, key=keys[i], coalesced=isinstance(answer, Completion))
        return [r for r in results if r is not None]

    async def _send(
        self,
        backend: Backend,
        requests: Sequence[CompletionRequest],
        keys: Sequence[str],
        pending: list[int],
        results: list[CallResult | None],
    ) -> None:
        """Send ``pending`` (indices into ``requests``), retrying, into ``results``."""
        attempt = 0
        empties: dict[int, int] = {}
        while pending:
            self.requests_sent += len(pending)
            try:
                answers = await backend.complete([requests[i] for i in pending])
            except FatalBackendError:
                raise
            except BackendError as exc:  # a whole-batch failure
                answers = [exc] * len(pending)
            except Exception as exc:  # a backend's (a plugin's) own bug: stop, say where
                failure = plugin_failure(f"backend {backend.name!r} failed", exc)
                raise FatalBackendError(str(failure)) from exc
            if len(answers) != len(pending):
                raise StoreError(
                    f"backend {backend.name!r} returned {len(answers)} results "
                    f"for {len(pending)} requests"
                )
            junk = [a for a in answers if not isinstance(a, Completion | BackendError)]
            if junk:
                raise FatalBackendError(
                    f"backend {backend.name!r} returned a {type(junk[0]).__name__}, not a "
                    "Completion or a BackendError (judge.backends.base)"
                )
            retry_now: list[int] = []
            wait = 0.0
            for i, answer in zip(pending, answers, strict=True):
                if isinstance(answer, Completion) and answer.empty:
                    self.empty_replies += 1
                    empties[i] = empties.get(i, 0) + 1
                    if empties[i] <= self.retry.empty_retries:
                        retry_now.append(i)
                        wait = max(wait, self.retry.delay(empties[i], None, self.rng))
                        continue
                    answer = BackendError(
                        f"empty reply from {backend.name!r} ({empties[i]} attempts): "
                        "no text and no probabilities"
                    )
                if isinstance(answer, Completion):
                    if self.cache is not None:
                        self.cache.put(keys[i], answer)
                    results[i] = CallResult(answer, key=keys[i])
                elif isinstance(answer, FatalBackendError):
                    raise answer
                elif answer.retryable and attempt < self.retry.max_retries:
                    retry_now.append(i)
                    wait = max(wait, self.retry.delay(attempt + 1, answer.retry_after, self.rng))
                else:
                    results[i] = CallResult(answer, key=keys[i])
            pending = retry_now
            if pending:
                attempt += 1
                self.retries += len(pending)
                await asyncio.sleep(wait)


class _Flight:
    """A request on its way; its future is made only when a second caller waits for it
    (a future per request, with its done-callback, cost a loop turn per judgment)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[Completion | BackendError] | None = None

    def wait(self) -> asyncio.Future[Completion | BackendError]:
        if self.future is None:
            self.future = asyncio.get_running_loop().create_future()
            # A failure nobody waits for must not be logged as "never retrieved".
            self.future.add_done_callback(_consume)
        return self.future

    def finish(self, answer: Completion | BackendError) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(answer)

    def fail(self, exc: BaseException) -> None:
        if self.future is not None and not self.future.done():
            if isinstance(exc, Exception):
                self.future.set_exception(exc)
            else:
                self.future.cancel()


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Paused:
    """How many :func:`collector_paused` blocks are open, and the settings to restore."""

    depth = 0
    thresholds: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a judging session with fewer garbage collections; restore the settings after.

    The objects alive when it starts (items, tasks, the judge, the loaded store) are
    frozen out of the collector's reach, and young objects are collected every 20,000
    allocations instead of 700: a judgment makes a few hundred short-lived objects, and
    the collections that kept walking the rest cost ~0.09 ms of an HTTP judgment's
    client CPU (measured with ``gc.callbacks``: 0.007 ms after). Reference counting
    still frees everything that is not in a cycle at once. Blocks nest (an inner one
    freezes what was made since); the outermost to close restores the settings.
    """
    gc.freeze()
    if _Paused.depth == 0:
        _Paused.thresholds = gc.get_threshold()
        gc.set_threshold(20_000, *_Paused.thresholds[1:])
    _Paused.depth += 1
    try:
        yield
    finally:
        _Paused.depth -= 1
        if _Paused.depth == 0:
            gc.set_threshold(*_Paused.thresholds)
            gc.unfreeze()


def progress_bar(total: int, desc: str, *, show: bool) -> Any:
    """The run's tqdm bar on stderr (hidden unless ``show``)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="judgment",
        disable=not show,
        dynamic_ncols=True,
        file=sys.stderr,
    )
