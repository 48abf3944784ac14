"""Topical-Chat USR human ratings: single-answer grading of dialogue responses.

Reads UniEval's ``topical_chat.json`` as committed: 360 records (60 dialogue
contexts x 6 response sources) of ``source`` (the dialogue history, turns separated
by newlines), ``context`` (the fact the reply should use), ``system_id``,
``system_output`` (the graded reply) and ``scores``: the **mean of 3 annotators** per
aspect: ``overall`` (1-5), ``understandability`` and ``groundedness`` (0-1),
``naturalness``, ``coherence`` and ``engagingness`` (1-3). Each becomes a
:class:`~judge.records.HumanScore` with ``annotator="mean"``. The ``aspect`` option
(``overall`` by default) says which one the judge is compared with: it sets each
item's ``aspect`` and ``scale``, and reports name it.

The prompt shows the conversation and the fact (one turn per line); the raw
``source`` and ``context`` strings are kept in ``metadata``. Item ids are
``c<context number>-<system>``; ``category`` is the response source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.data_paths import dataset_path
from judge.formats import Where, build, json_records, require, text_field
from judge.records import HumanScore, SingleItem

FILE = "topical_chat.json"
SCALES: dict[str, tuple[float, float]] = {
    "overall": (1.0, 5.0),
    "understandability": (0.0, 1.0),
    "naturalness": (1.0, 3.0),
    "coherence": (1.0, 3.0),
    "engagingness": (1.0, 3.0),
    "groundedness": (0.0, 1.0),
}


def dialogue_prompt(history: str, fact: str) -> str:
    """The conversation (one turn per line) and the fact the next reply should use.

    >>> print(dialogue_prompt("hi there \\n hello ! \\n\\n", "cats purr ."))
    Conversation:
    hi there
    hello !
    <BLANKLINE>
    Fact for the next reply:
    cats purr .
    """
    turns = [t.strip() for t in history.split("\n") if t.strip()]
    return "Conversation:\n" + "\n".join(turns) + "\n\nFact for the next reply:\n" + fact.strip()


def system_slug(system_id: str) -> str:
    """A short id fragment for a response source.

    >>> system_slug("Nucleus Decoding (p = 0.5)"), system_slug("Original Ground Truth")
    ('nucleus-decoding-p-0-5', 'original-ground-truth')
    """
    return re.sub(r"[^a-z0-9]+", "-", system_id.lower()).strip("-")


class TopicalChatBenchmark(Benchmark):
    """Topical-Chat USR: 360 dialogue replies with mean human scores (overall 1-5 + 5 aspects)."""

    name: ClassVar[str] = "topical_chat"
    description: ClassVar[str] = (
        "Topical-Chat USR single-answer grading (360 replies, human scores)"
    )

    class Options(BenchmarkOptions):
        path: str | None = None
        """The ``topical_chat_usr`` folder or ``topical_chat.json`` (default: shared datasets)."""
        aspect: Literal[
            "overall",
            "understandability",
            "naturalness",
            "coherence",
            "engagingness",
            "groundedness",
        ] = "overall"
        """The human score the judge is compared with (its scale comes with it)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def _file(self) -> Path:
        path = dataset_path(self.options.path, "topical_chat_usr")
        return path / FILE if path.is_dir() else path

    def files(self) -> list[Path]:
        return [self._file()]

    def load(self) -> Iterator[SingleItem]:
        path = self._file()
        contexts: dict[tuple[str, str], int] = {}
        for line, _, index, row in json_records(path):
            where = Where(path, line)
            if not isinstance(row, dict):
                raise where.error(f"expected a JSON object, got {type(row).__name__}")
            history = text_field(row, "source", where, allow_empty=False)
            fact = text_field(row, "context", where)
            system_id = text_field(row, "system_id", where, allow_empty=False)
            raw_scores = require(row, "scores", where)
            if not isinstance(raw_scores, dict):
                raise where.error(f"expected an object, got {type(raw_scores).__name__}", "scores")
            scores = []
            for aspect, (low, high) in SCALES.items():
                value = require(raw_scores, aspect, Where(path, line))
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise where.error(
                        f"expected a number, got {type(value).__name__}", f"scores.{aspect}"
                    )
                if not low <= value <= high:
                    raise where.error(
                        f"{value} is outside the scale {low}-{high}", f"scores.{aspect}"
                    )
                scores.append(HumanScore(annotator="mean", score=float(value), aspect=aspect))
            context_number = contexts.setdefault((history, fact), len(contexts))
            yield build(
                SingleItem,
                where,
                id=f"c{context_number:02d}-{system_slug(system_id)}",
                benchmark=self.name,
                prompt=dialogue_prompt(history, fact),
                response=text_field(row, "system_output", where),
                model=system_id,
                scores=tuple(scores),
                scale=SCALES[self.options.aspect],
                aspect=self.options.aspect,
                category=system_id,
                metadata={
                    "history": history,
                    "knowledge": fact,
                    "context": context_number,
                    "index": index,
                },
            )
