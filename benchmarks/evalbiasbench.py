"""EvalBiasBench (OffsetBias, Park et al. 2024): 80 bias probes in six bias types.

Reads ``biasbench.json`` as committed: an object keyed by bias type, each value a
list of ``{"bias", "instruction", "response1", "response2", "label": 1}``. The
correct response is **always** ``response1`` (``first_is_correct``), so a judge
must see both orders (the runner's default) or it looks perfect through a
first-position bias. The bias type is the item's ``category``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.data_paths import dataset_path
from judge.formats import Where, build, json_records, label_field, text_field
from judge.records import HumanLabel, PairItem, Verdict

FILE = "biasbench.json"
LABELS: dict[int, Verdict] = {1: "A", 2: "B"}


def slug(text: str) -> str:
    """A lowercase id fragment.

    >>> slug("familiar knowledge preference bias"), slug("content_continuation")
    ('familiar-knowledge-preference-bias', 'content-continuation')
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class EvalBiasBenchBenchmark(Benchmark):
    """EvalBiasBench: 80 pairs probing six judge biases; the correct response is first."""

    name: ClassVar[str] = "evalbiasbench"
    description: ClassVar[str] = "EvalBiasBench bias probes (80 pairs, 6 types; judge both orders)"
    first_is_correct: ClassVar[bool] = True

    class Options(BenchmarkOptions):
        path: str | None = None
        """The ``evalbiasbench`` folder or ``biasbench.json`` (default: the shared datasets)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def _file(self) -> Path:
        path = dataset_path(self.options.path, "evalbiasbench")
        return path / FILE if path.is_dir() else path

    def files(self) -> list[Path]:
        return [self._file()]

    def load(self) -> Iterator[PairItem]:
        path = self._file()
        for line, group, index, row in json_records(path):
            where = Where(path, line)
            if not isinstance(row, dict):
                raise where.error(f"expected a JSON object, got {type(row).__name__}")
            bias = text_field(row, "bias", where, allow_empty=False)
            yield build(
                PairItem,
                where,
                id=f"{slug(group or bias)}-{index}",
                benchmark=self.name,
                prompt=text_field(row, "instruction", where, allow_empty=False),
                response_a=text_field(row, "response1", where),
                response_b=text_field(row, "response2", where),
                labels=(
                    HumanLabel(annotator="gold", verdict=label_field(row, "label", where, LABELS)),
                ),
                category=bias,
                metadata={"group": group, "index": index},
            )
