"""The executor seam: where a run's pending tasks are judged.

The runner (:mod:`judge.run`) decides *what* is judged and keeps everything that makes a
run a run: the run folder (it is its only writer), the response cache, resume, retries,
coalescing and the budget. An :class:`Executor` decides only *where* the pending tasks'
work happens. Without one, the runner judges in its own event loop (the ``local``
executor); :class:`judge.ray_executor.RayExecutor` sends the backends' calls to Ray actors.

An executor gets the runner's caller and store, and must append each judgment to the
store as it arrives (a killed run then loses nothing it finished).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.judges import Judge, Task
    from judge.records import ExecutorInfo, Judgment, RunConfig
    from judge.store import RunStore


class Executor(ABC):
    """Where a run's pending tasks are judged (the runner keeps the store and the cache)."""

    @abstractmethod
    def prepare(self, judge: Judge) -> None:
        """Make ready what judging needs (start workers, load their models), before the
        run's first task and before a new run's folder exists: a bad setting fails here."""

    @abstractmethod
    def info(self) -> ExecutorInfo:
        """What the manifest records about where this session judged."""

    @abstractmethod
    async def execute(
        self,
        judge: Judge,
        pending: Sequence[Task],
        caller: Any,
        store: RunStore,
        config: RunConfig,
        progress: bool,
    ) -> list[Judgment]:
        """Judge ``pending`` through ``caller`` (the runner's cache, retries and budget),
        appending each judgment to ``store`` as it arrives; return the new judgments."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release workers (called once the run is over, however it ended)."""
