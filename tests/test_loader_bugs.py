"""A benchmark loader's own bug (a plugin's ``KeyError``, an invalid record, a dict for an
item) is one line naming the benchmark and the loader's file and line, exit 4: never a
traceback through judge-harness's code."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from judge.benchmark import Benchmark, BenchmarkOptions, load_items
from judge.cli import app
from judge.errors import DataError
from judge.records import HumanLabel, PairItem

ROWS = [
    {"question": "2+2?", "left": "4", "right": "5", "winner": "A"},
    {"q": "capital of France?", "left": "Paris", "right": "Rome", "winner": "A"},
]


class Broken(Benchmark):
    """Three bugs a plugin written in a hurry has, chosen by ``-B bug=...``."""

    name: ClassVar[str] = "broken"
    description: ClassVar[str] = "a loader with a bug"

    class Options(BenchmarkOptions):
        bug: str = "key"

    options: Options  # type: ignore[assignment]

    def files(self) -> list[Path]:
        return []

    def load(self) -> Iterator[Any]:
        for n, row in enumerate(ROWS):
            if self.options.bug == "dict":
                yield row
            verdict = row["winner"] if self.options.bug == "key" else "left"
            yield PairItem(
                id=f"row-{n}",
                benchmark=self.name,
                prompt=row["question"],  # the second row has no "question": KeyError
                response_a=row["left"],
                response_b=row["right"],
                labels=(HumanLabel(annotator="gold", verdict=verdict),),
            )


@pytest.fixture
def broken() -> Iterator[None]:
    from judge.registry import benchmarks

    benchmarks.register("broken", Broken, replace=True)
    yield
    benchmarks.unregister("broken")


def _line_of(text: str) -> int:
    source, start = inspect.getsourcelines(Broken.load)
    return start + next(i for i, line in enumerate(source) if text in line)


def test_each_loader_bug_names_the_benchmark_and_the_loader_line() -> None:
    here = inspect.getsourcefile(Broken)
    with pytest.raises(DataError) as key:
        load_items(Broken(bug="key"))
    assert str(key.value) == (
        f"benchmark 'broken' failed while loading, at {here}:{_line_of('KeyError')}: "
        "KeyError: 'question'; a loader raises judge.errors.DataError naming the file, "
        "line and field (docs/plugins.md)"
    )
    with pytest.raises(DataError) as invalid:
        load_items(Broken(bug="label"))
    message = str(invalid.value)
    assert message.startswith(
        f"benchmark 'broken' built an invalid item at {here}:{_line_of('HumanLabel(')}: "
    )
    assert message.endswith("verdict: Input should be 'A', 'B' or 'tie'")
    with pytest.raises(DataError, match="yielded a dict, not a PairItem or SingleItem"):
        load_items(Broken(bug="dict"))


def test_the_cli_prints_one_line_and_exits_4(broken: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "-b", "broken", "-j", "smollm2", "-o", str(tmp_path), "-q"]
    )
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: benchmark 'broken' failed while loading, at ")
    assert not any(tmp_path.iterdir())
