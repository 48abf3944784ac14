"""``table``: your own table of pairs or single answers.

A JSONL, JSON (array), CSV, TSV or Parquet file (format from the suffix, or ``format=``)
with a column mapping (:mod:`benchmarks.mapping`): ``-B path=x.csv -B map.prompt=question
-B map.response_a=ans1 -B map.response_b=ans2 -B map.label=winner``. ``lenient=true``
skips bad rows instead of stopping: each skipped row's error is kept in
``benchmark.skipped`` and their number is logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from judge.benchmark import AnyItem, Benchmark
from judge.errors import DataError
from judge.formats import Where, table_rows

from .mapping import (
    MappingOptions,
    RowConverter,
    convert_rows,
)


class TableBenchmark(Benchmark):
    """Your own JSONL / JSON / CSV / TSV / Parquet file, with a column mapping."""

    name: ClassVar[str] = "table"
    description: ClassVar[str] = "a JSONL/JSON/CSV/TSV/Parquet file with a column mapping"

    class Options(MappingOptions):
        path: str
        """The file to read."""
        format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"] = "auto"
        """The file format; ``auto`` reads it from the suffix."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped: list[DataError] = []
        """Rows skipped by the last lenient :meth:`load`."""

    def files(self) -> list[Path]:
        return [Path(self.options.path)]

    def load(self) -> Iterator[AnyItem]:
        path = Path(self.options.path)
        self.skipped = []
        on_error = self.skipped.append if self.options.lenient else None
        rows = (
            (Where(path, line), row)
            for line, row in table_rows(path, self.options.format, on_error=on_error)
        )
        converter = RowConverter(self.options, self.name)
        yield from convert_rows(rows, converter, lenient=self.options.lenient, skipped=self.skipped)
