"""Running the async core from synchronous code, also inside a running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``make()`` to completion from synchronous code.

    Outside an event loop this is :func:`asyncio.run`. Inside one (a Jupyter cell),
    where ``asyncio.run`` is refused, the coroutine runs on a fresh event loop in a
    worker thread while this call blocks; ``await`` the async form instead to keep the
    caller's loop free.

    >>> async def answer() -> int:
    ...     return 42
    >>> run_sync(answer)
    42
    """

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="judge-run") as pool:
        return pool.submit(asyncio.run, main()).result()
