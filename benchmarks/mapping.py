"""The column mapping shared by the ``table`` and ``hf`` loaders: field names and their
aliases, label values, ``-B map.<field>=<column>`` / ``-B labels.<value>=A|B|tie``, and the
row -> item conversion (lenient or not).

A row with ``response_a``/``response_b`` is a pair; one with ``response`` is a single
answer (``score`` = its human score). Unmapped fields use the column of the same name
(``prompt`` also tries ``instruction`` and ``question``); other columns go to ``metadata``.

Labels: ``A``/``B``/``tie`` (any case), ``1``/``2`` (first/second), ``model_a``/
``model_b``, ``A>B``/``B>A``/``A=B``, ``1.5`` (AlpacaEval's tie); map any other value
with ``-B labels.<value>=A|B|tie``. An empty label cell means "unlabelled".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import Field, JsonValue, model_validator

from judge.benchmark import AnyItem, BenchmarkOptions
from judge.errors import DataError
from judge.formats import Where, build
from judge.records import HumanLabel, HumanScore, PairItem, SingleItem, Verdict

log = logging.getLogger(__name__)

FIELDS = (
    "id",
    "prompt",
    "response_a",
    "response_b",
    "label",
    "model_a",
    "model_b",
    "response",
    "score",
    "model",
    "category",
    "reference",
    "chosen",
    "rejected",
    "chosen_model",
    "rejected_model",
)
ALIASES: dict[str, tuple[str, ...]] = {
    "prompt": ("prompt", "instruction", "question"),
    "category": ("category", "subset"),
}

STANDARD_LABELS: dict[str, Verdict] = {
    "a": "A",
    "b": "B",
    "tie": "tie",
    "1": "A",
    "2": "B",
    "1.0": "A",
    "2.0": "B",
    "1.5": "tie",
    "model_a": "A",
    "model_b": "B",
    "a>b": "A",
    "a>>b": "A",
    "b>a": "B",
    "b>>a": "B",
    "a=b": "tie",
    "tie (bothbad)": "tie",
}


def parse_label(value: Any, where: Where, column: str, extra: dict[str, Verdict]) -> Verdict | None:
    """A source label as a canonical verdict; ``None`` for an empty cell.

    >>> w = Where(Path("t.csv"), 3)
    >>> [parse_label(v, w, "label", {}) for v in ("A", "b", 2, "Tie", "model_a", "")]
    ['A', 'B', 'B', 'tie', 'A', None]
    >>> parse_label("C", w, "winner", {"C": "tie"})
    'tie'
    >>> parse_label("C", w, "winner", {})
    Traceback (most recent call last):
    ...
    judge.errors.DataError: t.csv:3: field 'winner': unknown label value 'C'; expected A, B or tie (or 1/2, model_a/model_b, A>B/B>A/A=B); map others with -B labels.<value>=A|B|tie
    """  # noqa: E501
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise where.error(f"expected a label, got {type(value).__name__}", column)
    text = str(value).strip()
    if text in extra:
        return extra[text]
    verdict = STANDARD_LABELS.get(text.lower())
    if verdict is None:
        raise where.error(
            f"unknown label value {text!r}; expected A, B or tie (or 1/2, model_a/model_b, "
            "A>B/B>A/A=B); map others with -B labels.<value>=A|B|tie",
            column,
        )
    return verdict


def _fold_dotted(data: Any, names: tuple[str, ...]) -> Any:
    """Fold flat ``map.prompt=...`` keys (as ``-B`` gives them) into nested dicts."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in list(out):
        head, dot, tail = key.partition(".")
        if dot and head in names:
            nested = dict(out.get(head) or {})
            nested[tail] = out.pop(key)
            out[head] = nested
    for head in names:
        if isinstance(out.get(head), dict):  # -B map.prompt=1 arrives as int 1: column "1"
            out[head] = {str(k): v if head == "labels" else str(v) for k, v in out[head].items()}
    return out


class MappingOptions(BenchmarkOptions):
    """Column mapping options shared by ``table`` and ``hf``."""

    map: dict[str, str] = Field(default_factory=dict)
    """Our field -> source column (``-B map.prompt=question``); fields: see FIELDS."""
    labels: dict[str, Verdict] = Field(default_factory=dict)
    """Extra label values -> verdict (``-B labels.win=A``)."""
    label_columns: list[str] = Field(default_factory=list)
    """Columns that each hold one annotator's vote (kept as separate labels)."""
    kind: Literal["auto", "pair", "preference", "single"] = "auto"
    """Pairs, preference pairs (``chosen`` / ``rejected`` columns, as RewardBench and most
    reward-model data) or single answers; ``auto`` decides from the columns."""
    seed: int = 0
    """Preference pairs: the seed of the coin that puts ``chosen`` at A or B per item (a
    fixed side would credit a judge that always picks one position)."""
    scale: tuple[float, float] | None = None
    """The score scale of single items (lowest, highest)."""
    allow_empty: bool = False
    """Accept empty responses (otherwise an empty response is an error)."""
    lenient: bool = False
    """Skip bad rows (counted in ``benchmark.skipped``) instead of stopping at the first."""

    @model_validator(mode="before")
    @classmethod
    def _fold(cls, data: Any) -> Any:
        return _fold_dotted(data, ("map", "labels"))

    @model_validator(mode="after")
    def _check_map(self) -> MappingOptions:
        unknown = sorted(set(self.map) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) in map: {', '.join(unknown)}; known: {FIELDS}")
        return self


class RowConverter:
    """Turns mapped source rows into items, checking every field."""

    def __init__(self, options: MappingOptions, benchmark: str) -> None:
        self.options = options
        self.benchmark = benchmark
        self.columns: dict[str, str] | None = None
        self.kind: str | None = None

    def _resolve(self, row: dict[str, Any], where: Where) -> None:
        columns: dict[str, str] = {}
        for f in FIELDS:
            if f in self.options.map:
                columns[f] = self.options.map[f]
                continue
            for candidate in ALIASES.get(f, (f,)):
                if candidate in row:
                    columns[f] = candidate
                    break
        kind = self.kind or self.options.kind  # decided on the first row, kept for the rest
        if kind == "auto":
            if "response_a" in columns and columns["response_a"] in row:
                kind = "pair"
            elif "chosen" in columns and columns["chosen"] in row:
                kind = "preference"
            elif "response" in columns and columns["response"] in row:
                kind = "single"
            else:
                raise where.error(
                    "cannot tell pairs from single answers: no response_a/response_b, "
                    "chosen/rejected or response column (map them with "
                    "-B map.response_a=<column> ...)"
                )
        needed = {
            "pair": ("prompt", "response_a", "response_b"),
            "preference": ("prompt", "chosen", "rejected"),
            "single": ("prompt", "response"),
        }[kind]
        for f in needed:
            columns.setdefault(f, f)
        self.columns, self.kind = columns, kind

    def _text(self, row: dict[str, Any], f: str, where: Where, *, required: bool) -> str | None:
        assert self.columns is not None
        column = self.columns.get(f)
        if column is None or column not in row:
            if required:
                raise where.error(f"missing ({f})", column or f)
            return None
        value = row[column]
        if value is None:
            if required:
                raise where.error(f"missing value ({f})", column)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise where.error(f"expected a string, got {type(value).__name__}", column)
        return str(value)

    def _response(self, row: dict[str, Any], f: str, where: Where) -> str:
        text = self._text(row, f, where, required=True) or ""
        if not self.options.allow_empty and not text.strip():
            assert self.columns is not None
            raise where.error("empty response (allow_empty=true accepts it)", self.columns[f])
        return text

    def convert(self, row: dict[str, Any], where: Where) -> AnyItem:
        self._resolve(row, where)  # per row: aliases may differ between JSONL rows
        assert self.columns is not None
        columns = self.columns
        item_id = self._text(row, "id", where, required=False)
        if item_id is None:
            item_id = str(where.line)
        elif not item_id.strip():
            raise where.error("empty id", columns["id"])
        prompt_column = columns["prompt"]
        prompt: Any = row.get(prompt_column)
        if prompt_column not in row or prompt is None:
            raise where.error("missing (prompt)", prompt_column)
        if isinstance(prompt, str):
            if not prompt.strip():
                raise where.error("empty prompt", prompt_column)
        elif not isinstance(prompt, list):
            raise where.error(
                f"expected a string or a list of messages, got {type(prompt).__name__}",
                prompt_column,
            )
        used = {c for c in columns.values()} | set(self.options.label_columns)
        metadata: dict[str, JsonValue] = {
            k: v for k, v in row.items() if k not in used and _json_value(v)
        }
        common: dict[str, Any] = {
            "id": item_id,
            "benchmark": self.benchmark,
            "prompt": prompt,
            "category": self._text(row, "category", where, required=False),
            "reference": self._text(row, "reference", where, required=False),
            "metadata": metadata,
        }
        if self.kind == "preference":
            return self._preference(row, where, common)
        if self.kind == "pair":
            labels: list[HumanLabel] = []
            if "label" in columns and columns["label"] in row:
                gold = parse_label(
                    row[columns["label"]], where, columns["label"], self.options.labels
                )
                if gold is not None:
                    labels.append(HumanLabel(annotator="gold", verdict=gold))
            for column in self.options.label_columns:
                if column not in row:
                    raise where.error("missing (annotator vote)", column)
                vote = parse_label(row[column], where, column, self.options.labels)
                if vote is not None:
                    labels.append(HumanLabel(annotator=column, verdict=vote))
            return build(
                PairItem,
                where,
                response_a=self._response(row, "response_a", where),
                response_b=self._response(row, "response_b", where),
                model_a=self._text(row, "model_a", where, required=False),
                model_b=self._text(row, "model_b", where, required=False),
                labels=tuple(labels),
                **common,
            )
        scores: tuple[HumanScore, ...] = ()
        score_text = self._text(row, "score", where, required=False)
        if score_text is not None and score_text.strip():
            try:
                score = float(score_text)
            except ValueError as exc:
                raise where.error(
                    f"expected a number, got {score_text!r}", columns["score"]
                ) from exc
            scale = self.options.scale
            if scale is not None and not scale[0] <= score <= scale[1]:
                raise where.error(f"{score} is outside the scale {scale}", columns["score"])
            scores = (HumanScore(annotator="human", score=score),)
        return build(
            SingleItem,
            where,
            response=self._response(row, "response", where),
            model=self._text(row, "model", where, required=False),
            scores=scores,
            scale=self.options.scale,
            **common,
        )

    def _preference(self, row: dict[str, Any], where: Where, common: dict[str, Any]) -> AnyItem:
        """A ``chosen`` / ``rejected`` row as a pair whose gold label is the chosen side,
        the side drawn by a coin seeded with ``seed`` and the item id."""
        chosen = self._response(row, "chosen", where)
        rejected = self._response(row, "rejected", where)
        models = (
            self._text(row, "chosen_model", where, required=False),
            self._text(row, "rejected_model", where, required=False),
        )
        coin = random.Random(f"chosen:{self.options.seed}:{common['id']}").random() < 0.5
        side: Verdict = "A" if coin else "B"
        texts, names = ((chosen, rejected), models) if coin else ((rejected, chosen), models[::-1])
        return build(
            PairItem,
            where,
            response_a=texts[0],
            response_b=texts[1],
            model_a=names[0],
            model_b=names[1],
            labels=(HumanLabel(annotator="gold", verdict=side),),
            **{**common, "metadata": {**common["metadata"], "chosen": side}},
        )


def _json_value(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False


def convert_rows(
    rows: Iterable[tuple[Where, dict[str, Any] | DataError]],
    converter: RowConverter,
    *,
    lenient: bool,
    skipped: list[DataError],
) -> Iterator[AnyItem]:
    """Convert rows, checking ids are unique; with ``lenient`` bad rows go to ``skipped``."""
    seen: dict[str, int | None] = {}
    for where, row in rows:
        try:
            if isinstance(row, DataError):
                raise row
            item = converter.convert(row, where)
            if item.id in seen:
                raise where.error(
                    f"duplicate id {item.id!r} (first at line {seen[item.id]})",
                    converter.columns.get("id", "id") if converter.columns else "id",
                )
        except DataError as exc:
            if not lenient:
                raise
            skipped.append(exc)
            continue
        seen[item.id] = where.line
        yield item
    if skipped:
        log.warning("skipped %d bad row(s) (lenient loading); first: %s", len(skipped), skipped[0])
