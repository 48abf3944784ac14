"""PandaLM human-annotated test set (999 pairs, three annotators each).

Reads ``testset-v1.json`` from the PandaLM repository as committed: ``idx``,
``motivation_app``, ``cmp_key`` (``modelX_modelY``), ``instruction``, ``input``,
``response1``, ``response2`` and ``annotator1..3`` (1 = response1 better,
2 = response2 better, 0 = tie). Every annotator's vote is kept as a
:class:`~judge.records.HumanLabel`; the item's ``label`` is their majority.

Quirks handled: six responses are a JSON ``true`` instead of text (cast to
``"True"``, recorded in ``metadata["quirks"]``); 58 responses are empty (real
model outputs, kept). The prompt is the instruction followed by the input (when
there is one); both are also kept separately in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.data_paths import dataset_path
from judge.formats import Where, build, int_field, json_records, label_field, text_field
from judge.records import HumanLabel, PairItem, Verdict

VOTES: dict[int, Verdict] = {1: "A", 2: "B", 0: "tie"}
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
TESTSET = "testset-v1.json"


def pandalm_prompt(instruction: str, input_text: str) -> str:
    """The user's task: the instruction, then the input when there is one.

    >>> pandalm_prompt("Fix the grammar.", "he go home")
    'Fix the grammar.\\n\\nhe go home'
    >>> pandalm_prompt("Tell a joke.", "")
    'Tell a joke.'
    """
    instruction, input_text = instruction.strip(), input_text.strip()
    return (
        f"{instruction}\n\n{input_text}"
        if instruction and input_text
        else instruction or input_text
    )


class PandaLMBenchmark(Benchmark):
    """PandaLM test set: 999 pairs, 3 human votes each (ties included)."""

    name: ClassVar[str] = "pandalm"
    description: ClassVar[str] = "PandaLM human test set: 999 pairs, 3 annotators, ties"

    class Options(BenchmarkOptions):
        path: str | None = None
        """The ``pandalm`` folder or the test-set file (default: the shared datasets)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def _file(self) -> Path:
        path = dataset_path(self.options.path, "pandalm")
        return path / TESTSET if path.is_dir() else path

    def files(self) -> list[Path]:
        return [self._file()]

    def load(self) -> Iterator[PairItem]:
        path = self._file()
        for line, _, _, row in json_records(path):
            where = Where(path, line)
            if not isinstance(row, dict):
                raise where.error(f"expected a JSON object, got {type(row).__name__}")
            idx = int_field(row, "idx", where)
            quirks: list[str] = []
            responses: list[str] = []
            for key in ("response1", "response2"):
                value = row.get(key)
                if isinstance(value, bool):  # upstream quirk: the text "True" stored as JSON true
                    quirks.append(f"{key} was JSON {str(value).lower()}, cast to {str(value)!r}")
                    responses.append(str(value))
                else:
                    responses.append(text_field(row, key, where))
            instruction = text_field(row, "instruction", where)
            input_text = text_field(row, "input", where)
            cmp_key = text_field(row, "cmp_key", where, allow_empty=False)
            model_a, sep, model_b = cmp_key.partition("_")
            if not sep:
                raise where.error(f"expected 'modelX_modelY', got {cmp_key!r}", "cmp_key")
            labels = tuple(
                HumanLabel(annotator=a, verdict=label_field(row, a, where, VOTES))
                for a in ANNOTATORS
            )
            metadata: dict[str, object] = {
                "idx": idx,
                "instruction": instruction,
                "input": input_text,
                "motivation_app": text_field(row, "motivation_app", where),
                "cmp_key": cmp_key,
            }
            if quirks:
                metadata["quirks"] = quirks
            yield build(
                PairItem,
                where,
                id=str(idx),
                benchmark=self.name,
                prompt=pandalm_prompt(instruction, input_text),
                response_a=responses[0],
                response_b=responses[1],
                model_a=model_a,
                model_b=model_b,
                labels=labels,
                category=metadata["motivation_app"],
                metadata=metadata,
            )
