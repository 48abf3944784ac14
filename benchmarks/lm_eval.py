"""``lm_eval``: lm-evaluation-harness ``--log_samples`` files.

One file gives single items (reference = target, score = the sample's metric);
``path_b`` gives pairs of two models labelled by that metric.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from judge.benchmark import AnyItem, Benchmark, BenchmarkOptions
from judge.errors import DataError
from judge.outputs import (
    ModelOutput,
    load_outputs,
    pair_outputs,
)
from judge.records import HumanLabel, HumanScore, SingleItem, Verdict


class LMEvalBenchmark(Benchmark):
    """lm-evaluation-harness ``--log_samples`` output (generation tasks)."""

    name: ClassVar[str] = "lm_eval"
    description: ClassVar[str] = "lm-evaluation-harness samples_*.jsonl (one model or two)"

    class Options(BenchmarkOptions):
        path: str
        """A ``samples_<task>_<date>.jsonl`` file."""
        path_b: str | None = None
        """A second model's samples on the same task: gives pairs labelled by ``metric``."""
        filter: str | None = None
        """Which filter's responses (default: the first in the file)."""
        metric: str | None = None
        """The per-sample metric used as score / label (default: the first logged)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def files(self) -> list[Path]:
        return [Path(p) for p in (self.options.path, self.options.path_b) if p]

    def _metric(self, output: ModelOutput, path: str) -> tuple[str, float] | None:
        names = [k for k in output.metadata if k not in ("target", "filter")]
        name = self.options.metric or (names[0] if names else None)
        if name is None:
            return None
        value = output.metadata.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise DataError(f"sample {output.prompt_id} has no numeric metric {name!r}", path=path)
        return name, float(value)

    def load(self) -> Iterator[AnyItem]:
        o = self.options
        a = load_outputs(o.path, format="lm_eval", lm_eval_filter=o.filter)
        if o.path_b is None:
            for output in a:
                metric = self._metric(output, o.path)
                yield SingleItem(
                    id=str(output.prompt_id),
                    benchmark=self.name,
                    prompt=output.prompt,
                    response=output.response,
                    model=output.model,
                    reference=str(output.metadata.get("target", "")) or None,
                    scores=(HumanScore(annotator=f"lm-eval:{metric[0]}", score=metric[1]),)
                    if metric
                    else (),
                    metadata=dict(output.metadata),
                )
            return
        b = load_outputs(o.path_b, format="lm_eval", lm_eval_filter=o.filter)
        left = {x.prompt_id: x for x in a}
        right = {x.prompt_id: x for x in b}
        pairs = pair_outputs(
            a,
            b,
            by="id",
            benchmark=self.name,
            names=(o.path, o.path_b),
            drop_hint="both files must hold the same doc_ids: the same task and --limit",
        )
        for item in pairs:
            ma, mb = self._metric(left[item.id], o.path), self._metric(right[item.id], o.path_b)
            labels: tuple[HumanLabel, ...] = ()
            if ma and mb:
                verdict: Verdict = "A" if ma[1] > mb[1] else "B" if mb[1] > ma[1] else "tie"
                labels = (HumanLabel(annotator=f"lm-eval:{ma[0]}", verdict=verdict),)
            target = left[item.id].metadata.get("target")
            yield item.model_copy(
                update={"labels": labels, "reference": str(target) if target else None}
            )
