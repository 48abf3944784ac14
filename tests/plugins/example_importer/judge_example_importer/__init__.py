"""An importer plugin: ``item<TAB>winner`` lines (winner ``left``, ``right`` or ``same``),
one order, for any registered pairwise benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from judge.benchmark import load_items
from judge.errors import ConfigError
from judge.formats import Where, read_text
from judge.importers import ImportedRun, Importer, ImporterOptions, ImportRequest
from judge.records import Judgment, RunConfig

WINNERS = {"left": "A", "right": "B", "same": "tie"}


class Winners(Importer):
    name: ClassVar[str] = "winners"

    class Options(ImporterOptions):
        judge: str = "winners-judge"
        """Name of the judge that wrote the file (``--judge-name`` overrides it)."""

    options: Options  # type: ignore[assignment]

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        from judge.registry import benchmarks

        if not request.benchmark or len(request.sources) != 1:
            raise ConfigError("winners: give one file and -b BENCHMARK")
        path = Path(request.sources[0])
        judge = request.judge or self.options.judge
        bench = benchmarks.get(request.benchmark)(**request.benchmark_args)  # -B options
        items = {i.id: i for i in load_items(bench)}
        judgments = []
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            where = Where(path, number)
            item_id, _, winner = line.partition("\t")
            if item_id not in items:
                raise where.error(f"unknown item {item_id!r}", "item")
            if winner not in WINNERS:
                raise where.error(f"unknown winner {winner!r}", "winner")
            judgments.append(
                Judgment(
                    item_id=item_id,
                    judge=judge,
                    judge_hash="winners",
                    request_key=item_id,
                    status="ok",
                    verdict=WINNERS[winner],
                )
            )
        used = {j.item_id for j in judgments}
        return [
            ImportedRun(
                name=f"winners-{request.benchmark}",
                config=RunConfig(
                    benchmark=request.benchmark,
                    benchmark_args=request.benchmark_args,
                    judge=judge,
                    orders="original",
                ),
                judge_hash="winners",
                judge_spec={"name": judge},
                items=[i for i in items.values() if i.id in used],
                judgments=judgments,
                sources=[path],
            )
        ]
