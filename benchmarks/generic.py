"""Generic benchmark formats: your own tables, Hugging Face datasets, model-output files.

- ``table``: a JSONL, JSON (array), CSV, TSV or Parquet file (format from the suffix,
  or ``format=``) with a column mapping: ``-B path=x.csv -B map.prompt=question
  -B map.response_a=ans1 -B map.response_b=ans2 -B map.label=winner``. Unmapped
  fields use the column of the same name (``prompt`` also tries ``instruction`` and
  ``question``). A row with ``response_a``/``response_b`` is a pair; one with
  ``response`` is a single answer (``score`` = its human score). Other columns go to
  ``metadata``. ``lenient=true`` skips bad rows instead of stopping: each skipped
  row's error is kept in ``benchmark.skipped`` and their number is logged.
- ``hf``: a Hugging Face ``datasets`` dataset by hub id, ``revision`` and ``split``
  (or a local folder: ``save_to_disk`` output or data files), same mapping options.
- ``alpaca_eval``: two AlpacaEval ``model_outputs.json`` files paired by instruction.
- ``mt_bench``: FastChat MT-Bench files: ``question.jsonl`` + two
  ``model_answer/<model>.jsonl`` (unlabelled pairs), or the human (or GPT-4 pair)
  judgments (``human_judgments.json``: JSON array or JSONL of votes with
  ``question_id, model_a, model_b, winner, judge, conversation_a, conversation_b,
  turn``; every vote kept as a label).
- ``lm_eval``: lm-evaluation-harness ``--log_samples`` files: one file gives single
  items (reference = target, score = the sample's metric); ``path_b`` gives pairs of
  two models labelled by that metric.

Labels: ``A``/``B``/``tie`` (any case), ``1``/``2`` (first/second), ``model_a``/
``model_b``, ``A>B``/``B>A``/``A=B``, ``1.5`` (AlpacaEval's tie); map any other value
with ``-B labels.<value>=A|B|tie``. An empty label cell means "unlabelled".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, JsonValue, model_validator

from judge.benchmark import AnyItem, Benchmark, BenchmarkOptions
from judge.errors import ConfigError, DataError, MissingDependencyError
from judge.formats import Where, build, table_rows
from judge.outputs import (
    ModelOutput,
    find_mt_bench_questions,
    load_mt_bench_questions,
    load_outputs,
    mt_bench_text,
    pair_outputs,
)
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
)
ALIASES: dict[str, tuple[str, ...]] = {"prompt": ("prompt", "instruction", "question")}

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
    kind: Literal["auto", "pair", "single"] = "auto"
    """Pairs or single answers; ``auto`` decides from the columns."""
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
            elif "response" in columns and columns["response"] in row:
                kind = "single"
            else:
                raise where.error(
                    "cannot tell pairs from single answers: no response_a/response_b or "
                    "response column (map them with -B map.response_a=<column> ...)"
                )
        needed = (
            ("prompt", "response_a", "response_b") if kind == "pair" else ("prompt", "response")
        )
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


class TableBenchmark(Benchmark):
    """Your own JSONL / JSON / CSV / TSV / Parquet file, with a column mapping."""

    name: ClassVar[str] = "table"
    description: ClassVar[str] = "a JSONL/JSON/CSV/TSV/Parquet file with a column mapping"

    class Options(MappingOptions):
        path: str
        """The file to read."""
        format: Literal["auto", "jsonl", "json", "csv", "tsv", "parquet"] = "auto"
        """The file format; ``auto`` reads it from the suffix."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped: list[DataError] = []
        """Rows skipped by the last lenient :meth:`load`."""

    def files(self) -> list[Path]:
        return [Path(self.options.path)]

    def load(self) -> Iterator[AnyItem]:
        path = Path(self.options.path)
        self.skipped = []
        on_error = self.skipped.append if self.options.lenient else None
        rows = (
            (Where(path, line), row)
            for line, row in table_rows(path, self.options.format, on_error=on_error)
        )
        converter = RowConverter(self.options, self.name)
        yield from convert_rows(rows, converter, lenient=self.options.lenient, skipped=self.skipped)


class HFDatasetBenchmark(Benchmark):
    """A Hugging Face ``datasets`` dataset (hub id + revision + split, or a local folder)."""

    name: ClassVar[str] = "hf"
    description: ClassVar[str] = "a Hugging Face dataset by hub id, revision and split"

    class Options(MappingOptions):
        dataset: str
        """Hub id (``org/name``) or a local folder (``save_to_disk`` output or data files)."""
        revision: str | None = None
        """Git revision (commit, tag or branch) on the hub; pin it for reproducible runs."""
        split: str = "test"
        """Which split."""
        subset: str | None = None
        """The dataset configuration name, where it has several."""
        cache_dir: str | None = None
        """Where ``datasets`` caches downloads (default: its own cache folder)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped: list[DataError] = []

    def files(self) -> list[Path]:
        local = Path(self.options.dataset).expanduser()
        if local.is_dir():
            return sorted(p for p in local.rglob("*") if p.is_file())
        return []

    def _dataset(self) -> Any:
        try:
            import datasets
        except ImportError as exc:
            raise MissingDependencyError("datasets", "datasets") from exc
        o = self.options
        local = Path(o.dataset).expanduser()
        saved = local.is_dir() and any(
            (local / f).exists() for f in ("state.json", "dataset_dict.json")
        )
        try:
            if saved:
                loaded = datasets.load_from_disk(str(local))
            else:
                return datasets.load_dataset(
                    o.dataset, o.subset, revision=o.revision, split=o.split, cache_dir=o.cache_dir
                )
        except (OSError, ValueError, datasets.exceptions.DatasetNotFoundError) as exc:
            # OSError covers FileNotFoundError and the hub's ConnectionError
            raise DataError(
                f"cannot load dataset {o.dataset!r} (split {o.split!r}): {exc}"
            ) from exc
        if isinstance(loaded, datasets.DatasetDict):
            if o.split not in loaded:
                raise ConfigError(f"split {o.split!r} not in {local} (has {', '.join(loaded)})")
            return loaded[o.split]
        return loaded

    def load(self) -> Iterator[AnyItem]:
        self.skipped = []
        dataset = self._dataset()
        source = Path(f"{self.options.dataset}[{self.options.split}]")
        rows = ((Where(source, n), dict(row)) for n, row in enumerate(dataset, start=1))
        converter = RowConverter(self.options, self.name)
        yield from convert_rows(rows, converter, lenient=self.options.lenient, skipped=self.skipped)


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


MT_BENCH_WINNERS: dict[str, Verdict] = {
    "model_a": "A",
    "model_b": "B",
    "tie": "tie",
    "tie (bothbad)": "tie",
}


class MTBenchBenchmark(Benchmark):
    """FastChat MT-Bench: human / GPT-4 pairwise judgments, or two models' answers."""

    name: ClassVar[str] = "mt_bench"
    description: ClassVar[str] = "MT-Bench human judgments or two model_answer files (FastChat)"

    class Options(BenchmarkOptions):
        judgments: str | None = None
        """Votes file (``human_judgments.json`` / ``gpt4_pair_judgments.json``, JSON or JSONL)."""
        questions: str | None = None
        """``question.jsonl`` (categories and reference answers; needed with answers)."""
        answers_a: str | None = None
        """Model A's ``model_answer/<model>.jsonl``."""
        answers_b: str | None = None
        """Model B's ``model_answer/<model>.jsonl``."""
        turn: Literal[1, 2, "all"] = "all"
        """Which turn(s) to load."""

        @model_validator(mode="after")
        def _one_source(self) -> MTBenchBenchmark.Options:
            answers = self.answers_a is not None or self.answers_b is not None
            if self.judgments is None and not answers:
                raise ValueError("give judgments=<file> or answers_a= and answers_b=")
            if answers and (self.answers_a is None or self.answers_b is None):
                raise ValueError("give both answers_a and answers_b")
            if self.judgments is not None and answers:
                raise ValueError("give judgments or answers, not both")
            return self

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def files(self) -> list[Path]:
        o = self.options
        return [Path(p) for p in (o.judgments, o.questions, o.answers_a, o.answers_b) if p]

    def _turn_ok(self, turn: int) -> bool:
        return self.options.turn == "all" or self.options.turn == turn

    def load(self) -> Iterator[PairItem]:
        o = self.options
        if o.judgments is None:
            assert o.answers_a is not None and o.answers_b is not None
            questions = o.questions or find_mt_bench_questions(Path(o.answers_a))
            a = [
                x
                for x in load_outputs(o.answers_a, format="mt_bench", questions=questions)
                if self._turn_ok(int(str(x.metadata.get("turn", 1))))
            ]
            b = [
                x
                for x in load_outputs(o.answers_b, format="mt_bench", questions=questions)
                if self._turn_ok(int(str(x.metadata.get("turn", 1))))
            ]
            yield from pair_outputs(
                a,
                b,
                by="id",
                benchmark=self.name,
                names=(str(o.answers_a), str(o.answers_b)),
                drop_hint="both answer files must answer the same questions",
            )
            return
        yield from self._judgments(Path(o.judgments))

    def _judgments(self, path: Path) -> Iterator[PairItem]:
        questions = (
            load_mt_bench_questions(Path(self.options.questions)) if self.options.questions else {}
        )
        groups: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        for line, row in table_rows(path, "jsonl" if path.suffix == ".jsonl" else "json"):
            where = Where(path, line)
            qid, model_a, model_b, turn, winner, judge = _vote_fields(row, where)
            if not self._turn_ok(turn):
                continue
            first, second = sorted((model_a, model_b))
            key = (qid, first, second, turn)
            if key not in groups:
                asked_a, answers_a = _turns(row, "conversation_a", turn, where)
                asked_b, answers_b = _turns(row, "conversation_b", turn, where)
                prompt = mt_bench_text(asked_a)
                response_a, response_b = mt_bench_text(answers_a), mt_bench_text(answers_b)
                if asked_b != asked_a:
                    raise where.error(
                        "the two conversations ask different questions", "conversation_b"
                    )
                groups[key] = {
                    "line": line,
                    "model_a": model_a,
                    "model_b": model_b,
                    "prompt": prompt,
                    "response_a": response_a,
                    "response_b": response_b,
                    "turns": {"questions": asked_a, "answers_a": answers_a, "answers_b": answers_b},
                    "votes": [],
                }
            group = groups[key]
            if model_a != group["model_a"]:  # the same pair shown the other way round
                winner = {"A": "B", "B": "A"}.get(winner, winner)  # type: ignore[assignment]
            names = [v.annotator for v in group["votes"]]
            annotator = judge if judge not in names else f"{judge}#{names.count(judge) + 1}"
            while annotator in names:
                annotator += "'"
            group["votes"].append(HumanLabel(annotator=annotator, verdict=winner))
        for (qid, _, _, turn), group in groups.items():
            question = questions.get(qid, {})
            category = question.get("category")
            reference: Any = question.get("reference")
            yield build(
                PairItem,
                Where(path, group["line"]),
                id=f"{qid}-{group['model_a']}-{group['model_b']}-turn{turn}",
                benchmark=self.name,
                prompt=group["prompt"],
                response_a=group["response_a"],
                response_b=group["response_b"],
                model_a=group["model_a"],
                model_b=group["model_b"],
                labels=tuple(group["votes"]),
                category=category if isinstance(category, str) else None,
                reference=mt_bench_text(reference[:turn]) if _strings(reference) else None,
                # the conversations themselves, for multi-turn templates (FastChat's
                # pair-v2-multi-turn shows both whole dialogues)
                metadata={"question_id": qid, "turn": turn, **group["turns"]},
            )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _vote_fields(row: dict[str, Any], where: Where) -> tuple[str, str, str, int, Verdict, str]:
    for f in ("question_id", "model_a", "model_b", "winner", "judge", "turn"):
        if f not in row:
            raise where.error("missing field", f)
    qid = row["question_id"]
    if isinstance(qid, bool) or not isinstance(qid, int | str):
        raise where.error(f"expected an integer or string, got {type(qid).__name__}", "question_id")
    turn = row["turn"]
    if isinstance(turn, bool) or turn not in (1, 2):
        raise where.error(f"expected 1 or 2, got {turn!r}", "turn")
    winner = row["winner"]
    if not isinstance(winner, str) or winner not in MT_BENCH_WINNERS:
        raise where.error(
            f"unknown label value {winner!r}; expected one of {', '.join(MT_BENCH_WINNERS)}",
            "winner",
        )
    judge = row["judge"]
    if isinstance(judge, list):  # GPT-4 pair files: ["gpt-4", "pair-v2"]
        judge = "/".join(str(j) for j in judge)
    if not isinstance(judge, str) or not judge:
        raise where.error("expected a judge name", "judge")
    for f in ("model_a", "model_b"):
        if not isinstance(row[f], str) or not row[f]:
            raise where.error("expected a model name", f)
    return str(qid), row["model_a"], row["model_b"], turn, MT_BENCH_WINNERS[winner], judge


def _turns(row: dict[str, Any], field: str, turn: int, where: Where) -> tuple[list[str], list[str]]:
    """(the user turns, the assistant turns) up to ``turn`` of a conversation."""
    conversation = row.get(field)
    if not isinstance(conversation, list):
        raise where.error("expected a list of messages", field)
    users: list[str] = []
    assistants: list[str] = []
    for n, message in enumerate(conversation):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise where.error("expected {role, content} messages", f"{field}.{n}")
        if message.get("role") == "user":
            users.append(message["content"])
        elif message.get("role") == "assistant":
            assistants.append(message["content"])
    if len(users) < turn or len(assistants) < turn:
        raise where.error(f"conversation has fewer than {turn} turn(s)", field)
    return users[:turn], assistants[:turn]


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
