"""``judge import table``: any judge's verdicts, for any registered benchmark, as a run.

Two shapes of input (see ``docs/importing.md`` for examples):

- **rows keyed by item id** (JSONL, JSON array, CSV, TSV or Parquet): one row per
  item and order with the item id, an optional order field (``original`` /
  ``swapped``; absent: every row is the original order), an optional ``sample``, and
  the judge's answer as a verdict, a probability P(A), two scores (pairs) or a score
  (single-answer items);
- **one verdict per line** (``format=lines``, or a ``.txt`` file): line *i* is the
  verdict on the benchmark's *i*-th item in the original order; a second file holds
  the swapped order, in the order the judge saw the responses.

A value map (``--map 1=A --map 2=B --map 0=tie``; targets ``A``, ``B``, ``tie`` and
``failed``) reads encodings such as 0/1/2 or 1/2/0; an empty cell is a reply without a
verdict (``unparsed``), never a tie. Verdicts, probabilities and scores of swapped
rows are taken as the judge saw the responses (``swapped=presented``, flipped back
to canonical order) or as already canonical (``swapped=canonical``); a file with
swapped rows must say which. Every row is checked; a bad one names file, line and
field. An id the benchmark does not have is an error unless the import is lenient
(then it is skipped and counted).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, JsonValue

from judge.benchmark import AnyItem, load_items
from judge.errors import ConfigError, DataError
from judge.formats import Where, read_text, table_format, table_rows
from judge.hashing import sha256_json
from judge.importers import ImportedRun, Importer, ImporterOptions, ImportRequest
from judge.importers import source_judge_hash as _judge_hash
from judge.records import Judgment, PairItem, RunConfig, SingleItem, Verdict, flip

Target = Literal["A", "B", "tie", "failed"]
DEFAULT_MAP: dict[str, Target] = {"a": "A", "b": "B", "tie": "tie"}
"""Without ``--map``: ``A``, ``B`` and ``tie`` in any case."""
ORDER_VALUES: dict[str, bool] = {
    "original": False,
    "swapped": True,
    "0": False,
    "1": True,
    "false": False,
    "true": True,
}
"""Order field values (any case) -> swapped: original/swapped, 0/1, false/true."""


class TableOptions(ImporterOptions):
    """``-I key=value`` options of the ``table`` importer (``TableImporter.Options``)."""

    format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet", "lines"] = "auto"
    """Input format; ``auto`` goes by the suffix (``.txt`` is ``lines``)."""
    id: str = "id"
    """Column holding the benchmark's item id."""
    order: str = "order"
    """Column saying which order the judge saw (optional column)."""
    sample: str = "sample"
    """Column with the sample index for repeated samples (optional column)."""
    verdict: str = "verdict"
    """Column with the verdict, read through the value map."""
    probability: str = "p_a"
    """Column with P(A) (P(the first shown) when ``swapped=presented``)."""
    probability_b: str = "p_b"
    """Column with P(B) (optional; default 1 - P(A) - P(tie))."""
    probability_tie: str = "p_tie"
    """Column with P(tie) (optional; default 0)."""
    score_a: str = "score_a"
    """Column with response A's score (pairs scored one response at a time)."""
    score_b: str = "score_b"
    """Column with response B's score."""
    score: str = "score"
    """Column with the score of a single-answer item."""
    status: str = "status"
    """Optional column: ``unparsed`` or ``error`` marks a failed reply (as exported)."""
    swapped: Literal["presented", "canonical"] | None = None
    """How swapped rows' answers are given; required when there are swapped rows
    (default for the second ``lines`` file: ``presented``)."""
    map: dict[str, Target] = Field(default_factory=dict)
    """Value -> A | B | tie | failed (``--map 1=A``); values are compared as text."""
    scale: tuple[float, float] | None = None
    """The judge's score scale, lowest and highest (``-I scale=[1,10]``): single-answer
    reports put its scores on the item's scale before leniency and kappa."""


class TableImporter(Importer):
    """``judge import table FILE [SWAPPED_FILE] -b BENCHMARK [-B k=v] [-I k=v] [--map v=A]``."""

    name: ClassVar[str] = "table"
    description: ClassVar[str] = "any judge's verdicts for any benchmark (table or lines)"

    class Options(TableOptions):
        pass

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        from judge.factory import benchmark_named

        if not request.benchmark:
            raise ConfigError("table: say which benchmark the verdicts are about (-b NAME)")
        if not request.sources:
            raise ConfigError("table: give the verdict file (and, for lines, the swapped one)")
        try:
            bench = benchmark_named(request.benchmark, request.benchmark_args)
        except TypeError as exc:
            raise ConfigError(f"benchmark {request.benchmark!r}: {exc}") from exc
        items = load_items(bench)
        paths = [Path(s) for s in request.sources]
        fmt = self._format(paths[0])
        reader = _Reader(self.options, items)
        if fmt == "lines":
            if len(paths) > 2:
                raise ConfigError("table: lines take one file per order (original [swapped])")
            reader.read_lines(paths[0], swapped=False)
            if len(paths) == 2:
                reader.read_lines(paths[1], swapped=True)
        else:
            for path in paths:
                reader.read_rows(path, self._format(path), lenient=request.lenient)
        covered = [i for i in items if i.id in reader.seen_items]
        if not covered:
            raise DataError("no verdict matched an item of the benchmark", path=str(paths[0]))
        orders = sorted({swapped for _, swapped, _ in reader.judgments})
        judge = request.judge or f"import/{paths[0].stem}"
        mapping = self._value_map()
        details: dict[str, JsonValue] = {
            "format": fmt,
            "benchmark_items": len(items),
            "items_with_verdicts": len(covered),
            "skipped_unknown_ids": reader.skipped,
            "value_map": dict(mapping),
            "options": self.options.model_dump(mode="json", exclude={"map"}),
        }
        judge_hash = _judge_hash(
            "table", judge, paths, options=details["options"], value_map=details["value_map"]
        )
        judgments = [
            Judgment(
                item_id=item_id,
                judge=judge,
                judge_hash=judge_hash,
                request_key=sha256_json(
                    {"judge_hash": judge_hash, "item": item_id, "swapped": swapped, "s": sample}
                ),
                swapped=swapped,
                sample=sample,
                **fields,
            )
            for (item_id, swapped, sample), fields in reader.judgments.items()
        ]
        config = RunConfig(
            benchmark=request.benchmark,
            benchmark_args=dict(request.benchmark_args),
            judge=judge,
            orders="both" if len(orders) == 2 else "swapped" if orders == [True] else "original",
            samples=1 + max(sample for _, _, sample in reader.judgments),
        )
        messages = [
            f"{len(covered)} of {len(items)} benchmark items have verdicts",
        ]
        if reader.skipped:
            messages.append(f"skipped {reader.skipped} rows whose id is not in the benchmark")
        return [
            ImportedRun(
                name=f"import-{request.benchmark}-{_slug(judge)}",
                config=config,
                judge_hash=judge_hash,
                judge_spec={
                    "name": judge,
                    "imported_from": [str(p) for p in paths],
                    **({"scale": list(self.options.scale)} if self.options.scale else {}),
                },
                items=covered,
                judgments=judgments,
                sources=paths,
                data_files=[f for f in bench.files() if f.is_file()],
                orders=len(orders) * config.samples,
                details=details,
                messages=messages,
            )
        ]

    def _format(self, path: Path) -> str:
        if self.options.format != "auto":
            return self.options.format
        if path.suffix.lower() in (".txt", ".lines"):
            return "lines"
        return table_format(path)

    def _value_map(self) -> dict[str, Target]:
        return dict(self.options.map) if self.options.map else dict(DEFAULT_MAP)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-")


class _Reader:
    """Collects judgments from rows or lines, checking each as it goes."""

    def __init__(self, options: TableOptions, items: list[AnyItem]) -> None:
        self.options = options
        self.items = {i.id: i for i in items}
        self.order = [i.id for i in items]
        self.map = {str(k): v for k, v in options.map.items()} if options.map else dict(DEFAULT_MAP)
        self.case_blind = not options.map
        self.judgments: dict[tuple[str, bool, int], dict[str, Any]] = {}
        self.where: dict[tuple[str, bool, int], str] = {}
        self.seen_items: set[str] = set()
        self.skipped = 0

    # -- shapes ------------------------------------------------------------------------

    def read_lines(self, path: Path, *, swapped: bool) -> None:
        lines = read_text(path).split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line
        if len(lines) != len(self.order):
            raise DataError(
                f"{len(lines)} verdict lines for {len(self.order)} benchmark items "
                "(one line per item, in the benchmark's order)",
                path=str(path),
                line=min(len(lines), len(self.order)) + 1,
            )
        presented = swapped and self.options.swapped != "canonical"
        for number, (item_id, value) in enumerate(zip(self.order, lines, strict=True), start=1):
            where = Where(path, number)
            item = self.items[item_id]
            if not isinstance(item, PairItem):
                raise where.error("one verdict per line needs a pairwise benchmark")
            fields = self._verdict_fields(value.strip("\r"), "verdict", where, presented)
            fields.setdefault("raw", value.strip("\r"))
            self._add(item_id, swapped, 0, fields, where)

    def read_rows(self, path: Path, fmt: str, *, lenient: bool) -> None:
        header_checked = False
        for line, row in _rows(path, fmt):
            where = Where(path, line)
            if not header_checked:
                self._check_columns(row, where)
                header_checked = True
            raw_id = row.get(self.options.id)
            if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
                raise where.error("missing item id", self.options.id)
            if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
                raise where.error(
                    f"expected a string or integer id, got {type(raw_id).__name__}",
                    self.options.id,
                )
            item_id = str(raw_id)
            item = self.items.get(item_id)
            if item is None:
                if lenient:
                    self.skipped += 1
                    continue
                raise where.error(
                    f"item id {item_id!r} is not in the benchmark (--lenient skips such rows)",
                    self.options.id,
                )
            swapped = self._order(row, where)
            sample = self._sample(row, where)
            presented = swapped and self._presented(where)
            if isinstance(item, SingleItem):
                fields = self._score_fields(row, where)
            else:
                fields = self._pair_fields(row, where, presented)
            fields.setdefault("raw", json.dumps(row, ensure_ascii=False, default=str))
            self._add(item_id, swapped, sample, fields, where)

    # -- fields --------------------------------------------------------------------------

    def _check_columns(self, row: Mapping[str, Any], where: Where) -> None:
        o = self.options
        answers = (o.verdict, o.probability, o.score_a, o.score)
        if o.id not in row:
            raise where.error(
                f"no item id column (columns: {', '.join(map(str, row))}); "
                "name it with -I id=COLUMN",
                o.id,
            )
        if not any(column in row for column in answers):
            raise where.error(
                f"no answer column: expected one of {', '.join(answers)} "
                f"(columns: {', '.join(map(str, row))}); name it with -I verdict=COLUMN, "
                "-I probability=COLUMN, -I score_a=... -I score_b=... or -I score=COLUMN"
            )

    def _presented(self, where: Where) -> bool:
        if self.options.swapped is None:
            raise where.error(
                "a swapped-order row: say whether its answer is in the order the judge saw "
                "the responses (-I swapped=presented) or already canonical "
                "(-I swapped=canonical)",
                self.options.order,
            )
        return self.options.swapped == "presented"

    def _order(self, row: Mapping[str, Any], where: Where) -> bool:
        key = self.options.order
        if key not in row:
            return False
        value = row[key]
        text = str(value).strip().lower() if value is not None else ""
        if text not in ORDER_VALUES:
            raise where.error(
                f"unknown order {value!r}; expected original or swapped (or 0/1, false/true)",
                key,
            )
        return ORDER_VALUES[text]

    def _sample(self, row: Mapping[str, Any], where: Where) -> int:
        key = self.options.sample
        value = row.get(key)
        if value is None or value == "":
            return 0
        try:
            number = int(str(value))
        except ValueError:
            raise where.error(f"expected a sample index (0, 1, ...), got {value!r}", key) from None
        if number < 0 or isinstance(value, bool):
            raise where.error(f"expected a sample index (0, 1, ...), got {value!r}", key)
        return number

    def _failure(self, row: Mapping[str, Any], where: Where) -> dict[str, Any] | None:
        key = self.options.status
        value = row.get(key)
        if value is None or value == "" or value == "ok":
            return None
        if value in ("unparsed", "error"):
            error = row.get("error")
            return {
                "status": value,
                "error": str(error) if error else f"{value} in the imported file",
            }
        if value == "inconsistent":
            raise where.error("inconsistent is a pair's status, not a judgment's", key)
        raise where.error(f"unknown status {value!r}; expected ok, unparsed or error", key)

    def _pair_fields(self, row: Mapping[str, Any], where: Where, presented: bool) -> dict[str, Any]:
        o = self.options
        failed = self._failure(row, where)
        if failed is not None:
            return failed
        fields: dict[str, Any] = {}
        if _present(row.get(o.probability)):
            fields["probabilities"] = self._probabilities(row, where, presented)
        if _present(row.get(o.score_a)) or _present(row.get(o.score_b)):
            a = _number(row, o.score_a, where)
            b = _number(row, o.score_b, where)
            fields["scores"] = (b, a) if presented else (a, b)
        if not fields and o.verdict not in row:
            raise where.error(
                f"a pair needs a verdict ({o.verdict}), P(A) ({o.probability}) or two scores "
                f"({o.score_a}, {o.score_b}); a single score is for single-answer items"
            )
        if _present(row.get(o.verdict)) or not fields:
            verdict = self._verdict_fields(row.get(o.verdict), o.verdict, where, presented)
            return {**fields, **verdict}
        if "probabilities" in fields:
            p = fields["probabilities"]
            fields["verdict"] = _argmax(p)
        elif "scores" in fields:
            a, b = fields["scores"]
            fields["verdict"] = "A" if a > b else "B" if b > a else "tie"
        fields["status"] = "ok"
        return fields

    def _probabilities(
        self, row: Mapping[str, Any], where: Where, presented: bool
    ) -> dict[Verdict, float]:
        o = self.options
        p_first = _probability(row, o.probability, where)
        p_tie = 0.0
        if _present(row.get(o.probability_tie)):
            p_tie = _probability(row, o.probability_tie, where)
        if _present(row.get(o.probability_b)):
            p_second = _probability(row, o.probability_b, where)
        else:
            p_second = 1.0 - p_first - p_tie
            if p_second < -1e-9:
                raise where.error(
                    f"P(A) + P(tie) = {p_first + p_tie} is more than 1", o.probability
                )
            p_second = max(p_second, 0.0)
        if presented:
            p_first, p_second = p_second, p_first
        out: dict[Verdict, float] = {"A": p_first, "B": p_second}
        if p_tie:
            out["tie"] = p_tie
        return out

    def _verdict_fields(
        self, value: Any, field: str, where: Where, presented: bool
    ) -> dict[str, Any]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            text = ""
        elif isinstance(value, bool):
            raise where.error(f"expected a verdict, got {value!r}", field)
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = str(value).strip()
        if not text:
            return {"status": "unparsed", "error": "empty verdict", "raw": ""}
        key = text.lower() if self.case_blind else text
        if key not in self.map:
            allowed = ", ".join(repr(k) for k in self.map)
            raise where.error(
                f"unknown verdict {text!r}; expected one of {allowed} (map values with --map)",
                field,
            )
        target = self.map[key]
        if target == "failed":
            return {"status": "unparsed", "error": f"verdict {text!r} maps to failed", "raw": text}
        verdict: Verdict = target
        return {"status": "ok", "verdict": flip(verdict) if presented else verdict}

    def _score_fields(self, row: Mapping[str, Any], where: Where) -> dict[str, Any]:
        failed = self._failure(row, where)
        if failed is not None:
            return failed
        key = self.options.score
        if key not in row:
            raise where.error("a single-answer item needs a score column (-I score=COLUMN)", key)
        if not _present(row[key]):
            return {"status": "unparsed", "error": "empty score"}
        return {"status": "ok", "score": _number(row, key, where)}

    def _add(
        self,
        item_id: str,
        swapped: bool,
        sample: int,
        fields: dict[str, Any],
        where: Where,
    ) -> None:
        key = (item_id, swapped, sample)
        if key in self.judgments:
            order = "swapped" if swapped else "original"
            raise where.error(
                f"second verdict for item {item_id!r}, {order} order, sample {sample} "
                f"(first at {self.where[key]})"
            )
        if fields.get("status") != "ok":
            fields.pop("verdict", None)
        self.judgments[key] = fields
        self.where[key] = f"line {where.line}"
        self.seen_items.add(item_id)


def _rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    yield from table_rows(path, fmt)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _number(row: Mapping[str, Any], key: str, where: Where) -> float:
    if key not in row or not _present(row[key]):
        raise where.error("missing number", key)
    value = row[key]
    if isinstance(value, bool):
        raise where.error(f"expected a number, got {value!r}", key)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise where.error(f"expected a number, got {value!r}", key) from None
    if not math.isfinite(number):
        raise where.error(f"expected a finite number, got {value!r}", key)
    return number


def _probability(row: Mapping[str, Any], key: str, where: Where) -> float:
    number = _number(row, key, where)
    if not 0.0 <= number <= 1.0:
        raise where.error(f"a probability must be in [0, 1], got {number}", key)
    return number


def _argmax(p: Mapping[Verdict, float]) -> Verdict:
    """The most probable verdict; a shared maximum is a tie.

    >>> _argmax({"A": 0.7, "B": 0.3}), _argmax({"A": 0.5, "B": 0.5})
    ('A', 'tie')
    """
    top = max(p.values())
    best = [v for v, x in p.items() if math.isclose(x, top)]
    return best[0] if len(best) == 1 else "tie"


EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "order",
    "sample",
    "status",
    "verdict",
    "p_a",
    "p_b",
    "p_tie",
    "score_a",
    "score_b",
    "score",
    "error",
)
"""Columns :func:`export_judgments` writes: answers in canonical order."""


def export_judgments(judgments: Iterable[Judgment], path: str | Path) -> Path:
    """Write judgments as rows keyed by item id (JSONL or CSV, by the suffix), answers in
    canonical order: ``judge import table PATH -b NAME -I swapped=canonical`` reads
    them back into the same judgments (verdicts, probabilities, scores, failures)."""
    import csv

    path = Path(path)
    rows = []
    for j in judgments:
        p = j.probabilities or {}
        rows.append(
            {
                "id": j.item_id,
                "order": "swapped" if j.swapped else "original",
                "sample": j.sample,
                "status": j.status,
                "verdict": j.verdict,
                "p_a": p.get("A") if p else None,
                "p_b": p.get("B") if p else None,
                "p_tie": p.get("tie") if p else None,
                "score_a": j.scores[0] if j.scores else None,
                "score_b": j.scores[1] if j.scores else None,
                "score": j.score,
                "error": j.error,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(EXPORT_COLUMNS))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
