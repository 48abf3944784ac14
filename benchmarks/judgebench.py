"""JudgeBench (Tan et al., 2024): hard pairs whose labels are objective correctness.

Reads ``dataset=judgebench,response_model=<model>.jsonl`` as committed: ``pair_id``,
``original_id``, ``source`` (``mmlu-pro-<subject>``, ``livebench-reasoning``,
``livebench-math``, ``livecodebench``), ``question``, ``response_model``,
``response_A``, ``response_B`` and ``label`` (``"A>B"`` or ``"B>A"``; no ties).
Both responses of a pair come from the same model.

``category`` is the paper's grouping of the source (knowledge, reasoning, math,
coding); the exact source is in ``metadata["source"]``. ``response_model`` picks
the GPT-4o pairs (350, the paper's main set), the Claude-3.5-Sonnet pairs (270)
or both. Item ids are the ``pair_id`` UUIDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from judge.benchmark import Benchmark, BenchmarkOptions, PublishedFigure, read_jsonl
from judge.data_paths import dataset_path
from judge.formats import Where, build, label_field, read_text, text_field
from judge.records import HumanLabel, PairItem, Verdict

FILES: dict[str, str] = {
    "gpt-4o": "dataset=judgebench,response_model=gpt-4o-2024-05-13.jsonl",
    "claude": "dataset=judgebench,response_model=claude-3-5-sonnet-20240620.jsonl",
}
LABELS: dict[str, Verdict] = {"A>B": "A", "B>A": "B"}
_FIGURE = re.compile(r"([A-Za-z0-9][\w.\-]*)\s*=?\s*\**\s*(\d+(?:\.\d+)?)%")


def provenance_accuracies(text: str) -> dict[str, float]:
    """Judge name -> accuracy (a fraction) from the PROVENANCE bullet that recomputes
    JudgeBench's own metric from the committed judge outputs.

    >>> provenance_accuracies("- **Recomputed ... metric** ... judge o1-mini = **65.71%**; "
    ...                       "reward models GRM-2B 59.43%.\\n- Length: 45.1%")
    {'o1-mini': 0.6571, 'GRM-2B': 0.5943}
    """
    for bullet in re.split(r"\n(?=- )", text):
        if bullet.lstrip("- ").startswith("**Recomputed"):
            return {name: round(float(value) / 100, 10) for name, value in _FIGURE.findall(bullet)}
    return {}


def source_category(source: str) -> str:
    """The paper's category of a JudgeBench ``source``.

    >>> [source_category(s) for s in ("mmlu-pro-law", "livebench-math", "livecodebench")]
    ['knowledge', 'math', 'coding']
    """
    if source.startswith("mmlu-pro"):
        return "knowledge"
    if source == "livebench-reasoning":
        return "reasoning"
    if source == "livebench-math":
        return "math"
    if source == "livecodebench":
        return "coding"
    return source


class JudgeBenchBenchmark(Benchmark):
    """JudgeBench: objective-correctness pairs (GPT-4o 350, Claude 270)."""

    name: ClassVar[str] = "judgebench"
    description: ClassVar[str] = "JudgeBench hard pairs with objective labels (GPT-4o / Claude)"

    class Options(BenchmarkOptions):
        path: str | None = None
        """The ``judgebench`` folder (default: the shared datasets)."""
        response_model: Literal["gpt-4o", "claude", "both"] = "gpt-4o"
        """Whose responses: ``gpt-4o`` (350 pairs), ``claude`` (270) or ``both`` (620)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def files(self) -> list[Path]:
        folder = dataset_path(self.options.path, "judgebench")
        models = (
            list(FILES) if self.options.response_model == "both" else [self.options.response_model]
        )
        return [folder / FILES[m] for m in models]

    @classmethod
    def published_figures(cls, data_root: Path | None = None) -> list[PublishedFigure]:
        """The judges' accuracies (net vote over both orders) in ``judgebench/PROVENANCE.md``."""
        folder = dataset_path(str(data_root / "judgebench") if data_root else None, "judgebench")
        path = folder / "PROVENANCE.md"
        if not path.is_file():
            return []
        return [
            PublishedFigure(
                judge=name,
                metric="accuracy",
                policy="net_vote",
                value=value,
                source=f"{path.name}: JudgeBench's metric recomputed from the committed outputs",
            )
            for name, value in provenance_accuracies(read_text(path)).items()
        ]

    def load(self) -> Iterator[PairItem]:
        for path in self.files():
            for line, row in read_jsonl(path):
                where = Where(path, line)
                source = text_field(row, "source", where, allow_empty=False)
                model = text_field(row, "response_model", where, allow_empty=False)
                original_id = row.get("original_id")
                yield build(
                    PairItem,
                    where,
                    id=text_field(row, "pair_id", where, allow_empty=False),
                    benchmark=self.name,
                    prompt=text_field(row, "question", where, allow_empty=False),
                    response_a=text_field(row, "response_A", where),
                    response_b=text_field(row, "response_B", where),
                    model_a=model,
                    model_b=model,
                    labels=(
                        HumanLabel(
                            annotator="gold", verdict=label_field(row, "label", where, LABELS)
                        ),
                    ),
                    category=source_category(source),
                    metadata={
                        "source": source,
                        "original_id": original_id if isinstance(original_id, int | str) else None,
                        "response_model": model,
                    },
                )
