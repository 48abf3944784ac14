"""Running the async core from synchronous code, also inside a running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


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


def blocking(function: Callable[P, Awaitable[T]]) -> Callable[P, T]:
    """The blocking form of an async function, through :func:`run_sync`: the same
    signature and docs, named without the leading ``a`` (``aevaluate`` -> ``evaluate``).

    >>> async def adouble(x: int) -> int:
    ...     return 2 * x
    >>> double = blocking(adouble)
    >>> double.__name__, double(21)
    ('double', 42)
    """

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(lambda: function(*args, **kwargs))

    call.__name__ = call.__qualname__ = function.__name__.removeprefix("a")
    return call
