"""``alpaca_eval``: two AlpacaEval ``model_outputs.json`` files paired by instruction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from pydantic import model_validator

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.outputs import (
    load_outputs,
    pair_outputs,
)
from judge.records import PairItem


class AlpacaEvalBenchmark(Benchmark):
    """Two AlpacaEval ``model_outputs.json`` files paired by instruction (unlabelled), or
    the (baseline, model) pairs of an ``annotations.json`` (``judge import alpaca_eval``)."""

    name: ClassVar[str] = "alpaca_eval"
    description: ClassVar[str] = "two AlpacaEval model_outputs.json files paired by instruction"

    class Options(BenchmarkOptions):
        outputs_a: str | None = None
        """Model A's ``model_outputs.json``."""
        outputs_b: str | None = None
        """Model B's ``model_outputs.json`` (e.g. the reference model's)."""
        annotations: str | None = None
        """An ``annotations.json``: its (output_1, output_2) pairs, instead of two files."""
        strict: bool = True
        """An instruction answered by only one model is an error (else it is dropped)."""

        @model_validator(mode="after")
        def _one_source(self) -> AlpacaEvalBenchmark.Options:
            outputs = [self.outputs_a is not None, self.outputs_b is not None]
            annotations = self.annotations is not None
            if not ((annotations and not any(outputs)) or (not annotations and all(outputs))):
                raise ValueError("give outputs_a= and outputs_b=, or annotations=")
            return self

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def files(self) -> list[Path]:
        if self.options.annotations is not None:
            return [Path(self.options.annotations)]
        return [Path(str(self.options.outputs_a)), Path(str(self.options.outputs_b))]

    def load(self) -> Iterator[PairItem]:
        if self.options.annotations is not None:
            from judge.alpaca_eval_import import read_annotations

            run = read_annotations(Path(self.options.annotations))
            yield from (i for i in run.items if isinstance(i, PairItem))
            return
        assert self.options.outputs_a is not None and self.options.outputs_b is not None
        a = load_outputs(self.options.outputs_a, format="alpaca_eval")
        b = load_outputs(self.options.outputs_b, format="alpaca_eval")
        yield from pair_outputs(
            a,
            b,
            by="prompt",
            strict=self.options.strict,
            benchmark=self.name,
            names=(self.options.outputs_a, self.options.outputs_b),
            drop_hint="-B strict=false drops them",
        )
