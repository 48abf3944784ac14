"""A plugin's own bug is one line naming the plugin and its file and line, never a
traceback through judge-harness's code: a benchmark loader's (a ``KeyError``, an invalid
record, a dict for an item), an importer's and a perturbation's exit 4; a backend's stops the
run, exit 5."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from judge.backends.base import Backend, BackendOptions, Completion, CompletionRequest
from judge.benchmark import Benchmark, BenchmarkOptions, load_items
from judge.cli import app
from judge.errors import DataError
from judge.importers import ImportedRun, Importer, ImportRequest
from judge.probes.base import Perturbation, PerturbContext
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


def _line_of(text: str, function: Any = Broken.load) -> int:
    """The line of ``function``'s source that holds ``text`` (where the plugin's bug is)."""
    source, start = inspect.getsourcelines(function)
    return start + next(i for i, line in enumerate(source) if text in line)


def test_each_loader_bug_names_the_benchmark_and_the_loader_line() -> None:
    here = inspect.getsourcefile(Broken)
    with pytest.raises(DataError) as key:
        load_items(Broken(bug="key"))
    assert str(key.value) == (
        f"benchmark 'broken' failed while loading, at {here}:{_line_of('KeyError')}: "
        "KeyError: 'question'"
    )
    with pytest.raises(DataError) as invalid:
        load_items(Broken(bug="label"))
    message = str(invalid.value)
    assert message == (
        f"benchmark 'broken' failed while loading, at {here}:{_line_of('HumanLabel(')}: "
        "invalid record: verdict: Input should be 'A', 'B' or 'tie'"
    )
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


class BrokenImporter(Importer):
    """An importer plugin that indexes a row by a column the file does not have."""

    name: ClassVar[str] = "broken_importer"

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        row: dict[str, str] = {"id": "1"}
        raise_here = row["verdict"]  # KeyError
        return [raise_here]  # type: ignore[list-item]


class BrokenPerturbation(Perturbation):
    """A perturbation plugin that fails on short responses."""

    name: ClassVar[str] = "broken_perturbation"

    def perturb(self, text: str, context: PerturbContext) -> str:
        return text + " " + text.split()[40]  # IndexError on a short response


def test_importer_and_perturbation_bugs_are_one_line_naming_the_plugin_line(
    tmp_path: Path,
) -> None:
    from judge.registry import importers, perturbations

    here = inspect.getsourcefile(BrokenImporter)
    source = tmp_path / "verdicts.csv"
    source.write_text("id,verdict\n1,A\n")
    importers.register("broken_importer", BrokenImporter, replace=True)
    perturbations.register("broken_perturbation", BrokenPerturbation, replace=True)
    try:
        result = CliRunner().invoke(
            app, ["import", "broken_importer", str(source), "-o", str(tmp_path / "out")]
        )
        assert result.exit_code == 4, result.output
        at = _line_of("KeyError", BrokenImporter.read)
        assert result.output.strip() == (
            f"error: importer 'broken_importer' failed while reading, at {here}:{at}: "
            "KeyError: 'verdict'"
        )
        probe = ["probe", "-b", "sample", "-p", "broken_perturbation", "-j", "smollm2"]
        result = CliRunner().invoke(app, [*probe, "-o", str(tmp_path / "probe"), "-q"])
        assert result.exit_code == 4, result.output
        at = _line_of("IndexError", BrokenPerturbation.perturb)
        assert result.output.strip() == (
            f"error: benchmark 'probe' failed while loading, at {here}:{at}: "
            "IndexError: list index out of range"
        )
        assert not (tmp_path / "probe").exists()  # found before the unperturbed run
    finally:
        importers.unregister("broken_importer")
        perturbations.unregister("broken_perturbation")
    assert not (tmp_path / "out").exists()


class BrokenBackend(Backend):
    """A backend plugin that reads a reply field its server does not send, or (``junk``)
    returns plain strings."""

    name: ClassVar[str] = "broken_backend"

    class Options(BackendOptions):
        junk: bool = False

    async def complete(self, requests: Sequence[CompletionRequest]) -> list[Any]:
        if self.options.junk:
            return ["A" for _ in requests]
        reply: dict[str, str] = {"text": "A"}
        return [Completion(text=reply["content"]) for _ in requests]  # KeyError


def test_a_backend_plugins_bug_stops_the_run_in_one_line(tmp_path: Path) -> None:
    from judge.registry import backends

    here = inspect.getsourcefile(BrokenBackend)
    at = _line_of("KeyError", BrokenBackend.complete)
    backends.register("broken_backend", BrokenBackend, replace=True)
    try:
        for junk, message in (
            (False, f"backend 'broken_backend' failed, at {here}:{at}: KeyError: 'content'"),
            (
                True,
                "backend 'broken_backend' returned a str, not a Completion or a BackendError "
                "(judge.backends.base)",
            ),
        ):
            args = ["run", "-b", "sample", "-n", "2", "-j", "smollm2", "-q", "-o", str(tmp_path)]
            args += ["-J", "backend=broken_backend", "-J", f"junk={str(junk).lower()}"]
            result = CliRunner().invoke(app, [*args, "--name", f"junk-{junk}"])
            assert result.exit_code == 5, result.output
            assert "Traceback" not in result.output
            assert result.output.strip() == f"error: {message}"
    finally:
        backends.unregister("broken_backend")
