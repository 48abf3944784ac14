"""Example judge-harness benchmark plugin: pairs in a pipe-separated file.

Each line of the file is ``question|left|right|winner`` (after a header line), where
``winner`` is ``left``, ``right`` or ``draw``. Registered by the entry point in
pyproject.toml, so ``judge run -b pipe_votes`` finds it once the package is installed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.errors import DataError
from judge.records import HumanLabel, PairItem, Verdict

WINNERS: dict[str, Verdict] = {"left": "A", "right": "B", "draw": "tie"}


class PipeVotes(Benchmark):
    """Pairs from ``question|left|right|winner`` lines."""

    name: ClassVar[str] = "pipe_votes"
    description: ClassVar[str] = "pipe-separated pairs with a left/right/draw winner column"

    class Options(BenchmarkOptions):
        path: str | None = None
        """Read this file instead of the bundled votes.psv (``-B path=...``)."""

    options: Options  # type: ignore[assignment]  # (for mypy: our Options, not the base's)

    def files(self) -> list[Path]:
        bundled = Path(str(files(__name__) / "votes.psv"))
        return [Path(self.options.path) if self.options.path else bundled]

    def load(self) -> Iterator[PairItem]:
        path = self.files()[0]
        with path.open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle, delimiter="|"), start=2):
                winner = (row.get("winner") or "").strip().lower()
                if winner not in WINNERS:
                    raise DataError(
                        f"unknown winner {winner!r}; expected left, right or draw",
                        path=str(path),
                        line=line,
                        field="winner",
                    )
                yield PairItem(
                    id=f"{path.stem}-{line}",
                    benchmark=self.name,
                    prompt=row["question"],
                    response_a=row["left"],
                    response_b=row["right"],
                    labels=(HumanLabel(annotator="gold", verdict=WINNERS[winner]),),
                )
