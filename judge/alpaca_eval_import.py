"""``judge import alpaca_eval``: AlpacaEval ``annotations.json`` files as runs.

Each file is a JSON array with one annotation per instruction: ``instruction``,
``output_1`` (the baseline's answer) and ``generator_1``, ``output_2`` (the evaluated
model's) and ``generator_2``, ``annotator``, ``preference`` and optionally
``dataset``, ``price_per_example``, ``time_per_example``, ``raw_completion``.

``preference`` (a number, or a number in a string) is AlpacaEval's encoding: 1 = the
baseline wins, 2 = the model wins, 1.5 or 0 = draw, and for its weighted annotators a
value in [1, 2] equal to 1 + P(model wins). It becomes one judgment per instruction,
original order only (AlpacaEval randomises the order shown and un-swaps before
storing, without recording which order was shown: the manifest's ``judge_spec`` says
so with ``order_unknown``, and the report measures no position bias), with the
preference kept as
probabilities ``{A: 2 - p, B: p - 1}`` and the verdict ``B`` above 1.5, ``A`` below,
``tie`` at 1.5. A missing (null) preference is an unparsed judgment, left out of the
win rate as AlpacaEval drops it; a value outside [1, 2] (other than 0) is an error.

Items are pairs (A = baseline output, B = model output) with ids from the
instruction text, as ``judge compare`` pairs outputs by prompt, so imports of
different models against the same baseline share item ids. One run per file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

from pydantic import JsonValue

from judge.errors import ConfigError, DataError
from judge.formats import Where, json_records, text_field
from judge.hashing import sha256_json
from judge.importers import ImportedRun, Importer, ImportRequest, source_judge_hash
from judge.outputs import _prompt_key as prompt_key  # the id judge compare gives a prompt
from judge.records import ORDER_UNKNOWN_KEY, Judgment, PairItem, RunConfig, Verdict


def preference_value(value: Any, where: Where) -> float | None:
    """An AlpacaEval preference as a number in [1, 2] (0 -> 1.5); None when missing.

    >>> from pathlib import Path
    >>> w = Where(Path("annotations.json"), 3)
    >>> preference_value("1.25", w), preference_value(0, w), preference_value(None, w)
    (1.25, 1.5, None)
    >>> preference_value(2.5, w)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judge.errors.DataError: annotations.json:3: field 'preference': 2.5 is not a preference ...
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise where.error(f"expected a number, got {value!r}", "preference")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise where.error(f"expected a number, got {value!r}", "preference") from None
    if math.isnan(number):
        return None
    if number == 0:
        return 1.5
    if not 1.0 <= number <= 2.0:
        raise where.error(f"{value} is not a preference (1 to 2, or 0 for a draw)", "preference")
    return number


def preference_verdict(p: float) -> Verdict:
    """The verdict of a preference in [1, 2]: B (the model) above 1.5, A below, tie at 1.5.

    >>> preference_verdict(1.9), preference_verdict(1.0001), preference_verdict(1.5)
    ('B', 'A', 'tie')
    """
    return "B" if p > 1.5 else "A" if p < 1.5 else "tie"


def read_annotations(path: Path, *, judge: str | None = None) -> ImportedRun:
    """One ``annotations.json`` as a run (see the module docstring)."""
    items: list[PairItem] = []
    rows: list[tuple[str, float | None, dict[str, Any], Where]] = []
    seen: dict[str, int] = {}
    annotators: set[str] = set()
    models: set[tuple[str, str]] = set()
    for line, _, _, row in json_records(path):
        where = Where(path, line)
        if not isinstance(row, dict):
            raise where.error(f"expected a JSON object, got {type(row).__name__}")
        instruction = text_field(row, "instruction", where, allow_empty=False)
        baseline = text_field(row, "generator_1", where, allow_empty=False)
        model = text_field(row, "generator_2", where, allow_empty=False)
        item_id = prompt_key(instruction)
        if item_id in seen:
            raise where.error(f"instruction already annotated at line {seen[item_id]}")
        seen[item_id] = line
        if "preference" not in row:
            raise where.error("missing field", "preference")
        preference = preference_value(row["preference"], where)
        annotator = row.get("annotator")
        annotators.add(str(annotator) if annotator else "unknown")
        models.add((baseline, model))
        dataset = row.get("dataset")
        items.append(
            PairItem(
                id=item_id,
                benchmark="alpaca_eval",
                prompt=instruction,
                response_a=text_field(row, "output_1", where),
                response_b=text_field(row, "output_2", where),
                model_a=baseline,
                model_b=model,
                category=dataset if isinstance(dataset, str) and dataset else None,
            )
        )
        rows.append((item_id, preference, row, where))
    if not items:
        raise DataError("no annotations in the file", path=str(path))
    name = judge or "alpaca_eval/" + "+".join(sorted(annotators))
    judge_hash = source_judge_hash("alpaca_eval", name, [path])
    judgments = [
        _judgment(item_id, p, row, where, name, judge_hash) for item_id, p, row, where in rows
    ]
    evaluated: list[JsonValue] = [m for m in sorted({m for _, m in models})]
    baselines: list[JsonValue] = [b for b in sorted({b for b, _ in models})]
    annotator_names: list[JsonValue] = [a for a in sorted(annotators)]
    config = RunConfig(
        benchmark="alpaca_eval",
        benchmark_args={"annotations": str(path)},
        judge=name,
        orders="original",
    )
    details: dict[str, JsonValue] = {
        "models": list(evaluated),
        "baselines": list(baselines),
        "annotators": annotator_names,
        "preference": "AlpacaEval: 1 baseline wins, 2 model wins, 1.5 or 0 draw; "
        "kept as probabilities {A: 2 - p, B: p - 1}",
    }
    return ImportedRun(
        name="import-alpaca_eval-" + "+".join(map(str, evaluated)).replace("/", "-"),
        config=config,
        judge_hash=judge_hash,
        judge_spec={
            "name": name,
            "imported_from": str(path),
            "annotators": annotator_names,
            # AlpacaEval shows the outputs in a random order and stores the verdict
            # un-swapped without saying which: position bias cannot be measured
            ORDER_UNKNOWN_KEY: True,
        },
        items=items,
        judgments=judgments,
        sources=[path],
        orders=1,
        details=details,
    )


def _judgment(
    item_id: str,
    preference: float | None,
    row: dict[str, Any],
    where: Where,
    judge: str,
    judge_hash: str,
) -> Judgment:
    def number(key: str) -> float:
        value = row.get(key)
        if value is None or value == "":
            return 0.0
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise where.error(f"expected a number, got {value!r}", key) from None
        return 0.0 if math.isnan(result) else result

    raw = row.get("raw_completion")
    common: dict[str, Any] = {
        "item_id": item_id,
        "judge": judge,
        "judge_hash": judge_hash,
        "request_key": sha256_json({"judge_hash": judge_hash, "item": item_id}),
        "raw": raw if isinstance(raw, str) else json.dumps(raw, default=str),
        "cost": number("price_per_example"),
        "latency_s": number("time_per_example"),
    }
    if preference is None:
        return Judgment(status="unparsed", error="no preference in the annotation", **common)
    return Judgment(
        status="ok",
        verdict=preference_verdict(preference),
        probabilities={"A": 2.0 - preference, "B": preference - 1.0},
        **common,
    )


class AlpacaEvalImporter(Importer):
    """``judge import alpaca_eval annotations.json...``: one run per file."""

    name: ClassVar[str] = "alpaca_eval"
    description: ClassVar[str] = "AlpacaEval annotations.json (baseline vs model, preferences)"

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        if not request.sources:
            raise ConfigError("alpaca_eval: give one or more annotations.json files")
        runs = [read_annotations(Path(s), judge=request.judge) for s in request.sources]
        add_figure_lines(runs)
        return runs


def add_figure_lines(runs: list[ImportedRun]) -> None:
    """Add AlpacaEval's leaderboard figures to each run's messages, computed over all
    the runs together (so the instruction set behind ``avg_length`` is their union)."""
    from judge.analysis.frame import build_frame, concat_frames, pair_frame
    from judge.analysis.winrate import HEAD_TO_HEAD, head_to_head

    frame = concat_frames(
        build_frame(r.items, r.judgments, run=f"{i}:{r.name}") for i, r in enumerate(runs)
    )
    table = head_to_head(pair_frame(frame))
    for row in table.to_dict("records"):
        run = runs[int(str(row["run"]).split(":", 1)[0])]
        figures = ", ".join(
            f"{k} {row[k]:.4f}" if isinstance(row[k], float) else f"{k} {row[k]}"
            for k in HEAD_TO_HEAD
        )
        run.messages.append(f"{row['model_b']} vs {row['model_a']}: {figures}")
