"""The bundled sample benchmark: pairs with objective labels, written for judge-harness.

Each line of ``data/sample.jsonl`` is one pair: ``id``, ``category``, ``prompt``,
``response_a``, ``response_b``, ``label`` (``A``, ``B`` or ``tie``: which response is
correct by an objective check) and ``why`` (the check). It covers arithmetic, facts,
code, instruction following, refusal of unsafe requests, ties, and pairs where the
longer answer is the wrong one, so a judge's length and position bias show at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import ClassVar

from pydantic import ValidationError

from judge.benchmark import Benchmark, BenchmarkOptions, read_jsonl
from judge.errors import DataError, validation_message
from judge.records import VERDICTS, HumanLabel, PairItem


class SampleBenchmark(Benchmark):
    """The bundled sample: objective pairwise labels, written by this project."""

    name: ClassVar[str] = "sample"
    description: ClassVar[str] = "bundled sample pairs with objective labels (the default)"

    class Options(BenchmarkOptions):
        path: str | None = None
        """Read another file in the same format instead of the bundled one."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def _path(self) -> Path:
        if self.options.path:
            return Path(self.options.path)
        with as_file(files(__package__ or "judge_benchmarks") / "data" / "sample.jsonl") as path:
            return Path(path)

    def files(self) -> list[Path]:
        return [self._path()]

    def load(self) -> Iterator[PairItem]:
        path = self._path()
        for line, row in read_jsonl(path):
            try:
                label = row.pop("label")
                if label not in VERDICTS:
                    raise DataError(
                        f"unknown label value {label!r}; expected A, B or tie",
                        path=str(path),
                        line=line,
                        field="label",
                    )
                why = row.pop("why", None)
                category = row.pop("category", None)
                yield PairItem(
                    benchmark=self.name,
                    labels=(HumanLabel(annotator="gold", verdict=label),),
                    category=category,
                    metadata={"why": why} if why else {},
                    **row,
                )
            except KeyError as exc:
                raise DataError(
                    "missing field", path=str(path), line=line, field=str(exc.args[0])
                ) from exc
            except ValidationError as exc:
                field, msg = validation_message(exc)
                raise DataError(msg, path=str(path), line=line, field=field) from exc
