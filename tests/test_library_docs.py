"""docs/library.md runs: its ``python`` blocks in order, the notebook one inside a loop.

Each block is executed in one shared namespace, as a reader pasting them into a
session would; a block with a top-level ``await`` is compiled as a Jupyter cell is
(``PyCF_ALLOW_TOP_LEVEL_AWAIT``) and it, and every block after it, runs inside a
running event loop, so the sync API is exercised there as well.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

LIBRARY = Path(__file__).parents[1] / "docs" / "library.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def blocks() -> list[str]:
    return BLOCK.findall(LIBRARY.read_text(encoding="utf-8"))


def run_block(code: str, namespace: dict[str, Any], *, in_loop: bool) -> str:
    """Run one block; with ``in_loop`` inside a running event loop. Its stdout."""
    compiled = compile(code, str(LIBRARY), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if in_loop:

            async def cell() -> None:
                result = eval(compiled, namespace)
                if asyncio.iscoroutine(result):
                    await result

            asyncio.run(cell())
        else:
            exec(compiled, namespace)
    return out.getvalue()


@pytest.mark.model  # the embedded SmolLM2 judge, a few items
def test_library_page_runs() -> None:
    namespace: dict[str, Any] = {"__name__": "library_md"}
    outputs = []
    in_loop = False
    for code in blocks():
        in_loop = in_loop or "await " in code
        outputs.append(run_block(code, namespace, in_loop=in_loop))
    assert in_loop, "the page shows no block inside a running event loop"
    text = "\n".join(outputs)
    assert "6 ['original', 'swapped']" in text  # 3 items, both orders
    assert "takes the pair frame" in text  # the wrong frame is an error
    assert "add" in text and "capital" in text  # the DataFrame's items
    assert "manifest.json" in text and "True" in text  # the named run folder, reloaded
    assert namespace["frame"] is not None and len(namespace["frame"]) == 1


def test_every_public_name_is_on_the_page() -> None:
    import judge

    page = LIBRARY.read_text(encoding="utf-8")
    missing = [n for n in judge.__all__ if n != "__version__" and f"`{n}`" not in page]
    assert not missing


def test_python_blocks_parse() -> None:
    found = blocks()
    assert len(found) >= 6
    for code in found:
        compile(code, str(LIBRARY), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
