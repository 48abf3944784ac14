"""LLMBar (Zeng et al., ICLR 2024): instruction-following pairs with objective labels.

Reads the repository's ``Dataset/<path>/dataset.json`` files under the local names
of ``../shared/datasets/llmbar`` (``LLMBar_Natural.json``,
``LLMBar_Adversarial_Neighbor.json``, ``Processed_MT-Bench.json`` ...). Each record
is ``{"input", "output_1", "output_2", "label": 1|2}``; there are no ties. The
subset is the item's ``category``.

``subset`` picks the files: ``llmbar`` (the 419-pair benchmark: Natural and the
four Adversarial sets, the default), ``natural``, ``adversarial`` (all four),
one adversarial set, one processed set (FairEval, LLMEval², MT-Bench: human
labels), one case study, ``casestudy`` (all five) or ``all``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import field_validator

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.data_paths import dataset_path
from judge.formats import Where, build, json_records, label_field, text_field
from judge.records import HumanLabel, PairItem, Verdict

FILES: dict[str, str] = {
    "natural": "LLMBar_Natural.json",
    "adversarial_neighbor": "LLMBar_Adversarial_Neighbor.json",
    "adversarial_gptinst": "LLMBar_Adversarial_GPTInst.json",
    "adversarial_gptout": "LLMBar_Adversarial_GPTOut.json",
    "adversarial_manual": "LLMBar_Adversarial_Manual.json",
    "processed_faireval": "Processed_FairEval.json",
    "processed_llmeval2": "Processed_LLMEval_2.json",
    "processed_mtbench": "Processed_MT-Bench.json",
    "casestudy_constraint": "CaseStudy_Constraint.json",
    "casestudy_negation": "CaseStudy_Negation.json",
    "casestudy_normal": "CaseStudy_Normal.json",
    "casestudy_base9": "CaseStudy_Base_9.json",
    "casestudy_base10": "CaseStudy_Base_10.json",
}
ADVERSARIAL = (
    "adversarial_neighbor",
    "adversarial_gptinst",
    "adversarial_gptout",
    "adversarial_manual",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "llmbar": ("natural", *ADVERSARIAL),
    "adversarial": ADVERSARIAL,
    "processed": ("processed_faireval", "processed_llmeval2", "processed_mtbench"),
    "casestudy": tuple(k for k in FILES if k.startswith("casestudy_")),
    "all": tuple(FILES),
}
HUMAN_LABELLED = frozenset(GROUPS["processed"])
LABELS: dict[int, Verdict] = {1: "A", 2: "B"}

Subset = Literal[
    "llmbar",
    "natural",
    "adversarial",
    "adversarial_neighbor",
    "adversarial_gptinst",
    "adversarial_gptout",
    "adversarial_manual",
    "processed",
    "processed_faireval",
    "processed_llmeval2",
    "processed_mtbench",
    "casestudy",
    "casestudy_constraint",
    "casestudy_negation",
    "casestudy_normal",
    "casestudy_base9",
    "casestudy_base10",
    "all",
]


def subsets(subset: str) -> tuple[str, ...]:
    """The single subsets a ``subset`` option stands for.

    >>> subsets("adversarial")[:2]
    ('adversarial_neighbor', 'adversarial_gptinst')
    >>> subsets("natural")
    ('natural',)
    """
    return GROUPS.get(subset, (subset,))


class LLMBarBenchmark(Benchmark):
    """LLMBar: Natural, Adversarial, Processed and case-study subsets."""

    name: ClassVar[str] = "llmbar"
    description: ClassVar[str] = (
        "LLMBar instruction-following pairs (Natural, Adversarial, Processed ...)"
    )

    class Options(BenchmarkOptions):
        path: str | None = None
        """The ``llmbar`` folder (default: the shared datasets)."""
        subset: Subset = "llmbar"
        """Which subset(s) to load; ``llmbar`` is Natural + the four Adversarial sets (419).
        Any case: ``Natural`` as the dataset's folders spell it is ``natural``."""

        @field_validator("subset", mode="before")
        @classmethod
        def _lower(cls, value: object) -> object:
            return value.lower() if isinstance(value, str) else value

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def _folder(self) -> Path:
        return dataset_path(self.options.path, "llmbar")

    def files(self) -> list[Path]:
        folder = self._folder()
        return [folder / FILES[s] for s in subsets(self.options.subset)]

    def load(self) -> Iterator[PairItem]:
        folder = self._folder()
        for subset in subsets(self.options.subset):
            path = folder / FILES[subset]
            for line, _, index, row in json_records(path):
                where = Where(path, line)
                if not isinstance(row, dict):
                    raise where.error(f"expected a JSON object, got {type(row).__name__}")
                yield build(
                    PairItem,
                    where,
                    id=f"{subset}-{index}",
                    benchmark=self.name,
                    prompt=text_field(row, "input", where, allow_empty=False),
                    response_a=text_field(row, "output_1", where),
                    response_b=text_field(row, "output_2", where),
                    labels=(
                        HumanLabel(
                            annotator="gold", verdict=label_field(row, "label", where, LABELS)
                        ),
                    ),
                    category=subset,
                    metadata={
                        "index": index,
                        "file": FILES[subset],
                        "label_source": "human" if subset in HUMAN_LABELLED else "objective",
                    },
                )
