"""Run files read column-wise: pyarrow parses, the record's rules run on whole columns.

:func:`read_judgments` reads ``judgments.jsonl``, :func:`read_items` ``items.jsonl``;
:func:`judgment_columns` and :func:`item_columns` give the same columns from records
already in memory.

Reading a big run line by line through pydantic cost about 48 us a judgment (48 s for
a million). Here pyarrow parses the file against the :class:`~judge.records.Judgment`
schema and every rule of the record is checked on whole columns: unknown keys (top
level and inside ``probabilities``), required fields, types, the ``status`` and
``verdict`` enums, two-element ``scores``, ``members`` a list of objects, ``created_at``
an ISO 8601 datetime, and nulls where the record allows none. Lines a check cannot
clear are validated by pydantic one by one, in file order, so a bad line raises the
same :class:`~judge.errors.DataError` (file, line, field) as :meth:`RunStore.all_judgments
<judge.store.RunStore.all_judgments>`; a file pyarrow cannot parse at all (bad JSON,
a type pydantic would coerce, blank lines) is read by that per-line path whole.

pyarrow reads a missing key and an explicit ``null`` alike; the record does not (a
missing ``cost`` takes its default, ``"cost": null`` is an error). One scan of the raw
bytes finds every explicit ``null`` given to a key that allows none; those lines go to
pydantic, and the remaining nulls are missing keys that take their defaults. (A key
spelled with ``\\u`` escapes and given ``null`` escapes that scan; nothing we write or
import spells keys so.)

The result keeps the store's rule: the last line per ``(item_id, swapped, sample)``, in
first-seen order (superseded error lines are dropped after being validated).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from pydantic import TypeAdapter, ValidationError

from judge.errors import DataError, validation_text
from judge.records import VERDICTS, Item, Judgment, PairItem, Role, SingleItem, Status

SCALARS: Final[dict[str, pa.DataType]] = {
    "item_id": pa.string(),
    "judge": pa.string(),
    "judge_hash": pa.string(),
    "request_key": pa.string(),
    "swapped": pa.bool_(),
    "sample": pa.int64(),
    "status": pa.string(),
    "verdict": pa.string(),
    "score": pa.float64(),
    "scores": pa.list_(pa.float64()),
    "probabilities": pa.struct([(v, pa.float64()) for v in VERDICTS]),
    "raw": pa.string(),
    "error": pa.string(),
    "tokens_in": pa.int64(),
    "tokens_out": pa.int64(),
    "cost": pa.float64(),
    "billed": pa.float64(),
    "latency_s": pa.float64(),
    "cache_hit": pa.bool_(),
    "coalesced": pa.bool_(),
    "truncated": pa.bool_(),
    "created_at": pa.string(),
}
"""The arrow type of every :class:`Judgment` field but ``members`` (free-form JSON
objects, whose type pyarrow infers)."""

INFERRED: Final = ("members", "criteria", "score_probabilities")
COLUMNS: Final = (*SCALARS, *INFERRED)

_ITEM: TypeAdapter[PairItem | SingleItem] = TypeAdapter(Item)

ENUMS: Final[dict[str, tuple[str, ...]]] = {"status": get_args(Status), "verdict": VERDICTS}

# A subset of the datetimes pydantic accepts (what the store writes, with any offset);
# others go to pydantic. The calendar (30 February) is checked by the cast after.
_ISO_DATETIME: Final = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)


def _not_nullable() -> tuple[list[str], list[str]]:
    """Required fields, and fields with a default that refuse ``null``."""
    required, defaulted = [], []
    for name, field in Judgment.model_fields.items():
        if field.is_required():
            required.append(name)
        elif field.default is not None or field.default_factory is not None:
            defaulted.append(name)
    return required, defaulted


def _explicit_null_pattern(keys: list[str]) -> re.Pattern[bytes]:
    names = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(rb'"(?:' + names.encode() + rb')"[ \t\r\n]*:[ \t\r\n]*null')


def _lines(data: bytes) -> np.ndarray:
    """The byte offset where each line starts (one more entry: the end)."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    starts = np.concatenate([[0], ends + 1])
    if starts[-1] == len(data):
        return starts
    return np.concatenate([starts, [len(data)]])


def read_judgments(path: Path) -> pd.DataFrame | None:
    """The current judgments of ``path`` as columns, every line validated.

    Returns ``None`` where the per-line reader must do the work (pyarrow cannot parse
    the file, or its lines are not one JSON object each); raises the per-line reader's
    :class:`DataError` for the first bad line.

    Columns (defaults filled in): ``judge``, ``item_id``, ``swapped``, ``sample``,
    ``status``, ``verdict``, ``score``, ``scores`` as ``score_a`` / ``score_b``,
    ``probabilities`` as ``p_a`` / ``p_b`` / ``p_tie`` (as in
    :func:`judge.analysis.frame.build_frame`), ``tokens_in``, ``tokens_out``, ``cost``,
    ``billed`` (a line without it: ``cost``, 0 on a cache hit, as the record reads it),
    ``latency_s``, ``cache_hit``, and on jury runs one ``member:<name>`` status column
    per member (:func:`member_statuses`).
    """
    if set(COLUMNS) != set(Judgment.model_fields):
        return None  # a field this reader does not know: validate line by line
    if not path.exists():
        return _empty()
    data = path.read_bytes()
    if not data:
        return _empty()
    whole = data.endswith(b"\n")
    if not whole:
        tail = data[data.rfind(b"\n") + 1 :]
        # a line cut off by a kill is not a finished record (as the per-line reader)
        if _parses(tail):
            data += b"\n"
        else:
            data = data[: len(data) - len(tail)]
            if not data:
                return _empty()
    table = _parse(data, pa.schema(list(SCALARS.items())), path if whole else None)
    if table is None:
        return None
    if table.num_rows == 0:
        return _empty()
    flagged = _check(table, data)
    if flagged is None:
        return None
    if flagged.any():
        _validate_lines(path, data, np.flatnonzero(flagged), Judgment.model_validate)
    return _columns(table)


def _parse(data: bytes, schema: pa.Schema | None, path: Path | None = None) -> pa.Table | None:
    """pyarrow's table of newline-terminated ``data``, or ``None`` if it is not one JSON
    object per line that pyarrow can read (the per-line reader then says why).

    ``path``: the file ``data`` was read from, unchanged; pyarrow reads it itself, which
    spreads the parse over the cores (from a buffer in memory it ran about 1.5x longer).
    A file that changed in between gives another row count, and the per-line reader."""
    n_lines = data.count(b"\n")
    # one object per line: every line ends with "}" (no blank or whitespace-only lines,
    # which pyarrow skips, no CRLF, no object split over lines), and pyarrow finds as
    # many rows as lines (so two objects on one line fail)
    if data.count(b"}\n") != n_lines:
        return None
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    try:
        source = path if path is not None else pa.BufferReader(data)
        table = pa_json.read_json(source, parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == n_lines else None


def _parses(line: bytes) -> bool:
    import json

    try:
        json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


def _check(table: pa.Table, data: bytes) -> np.ndarray | None:
    """Rows that break a rule of the record (pydantic gives the error), or ``None`` when
    the file needs the per-line reader (a key the record does not have, a type of
    ``members`` that is not a list of objects)."""
    names = table.column_names
    if set(names) - set(COLUMNS):
        return None  # an unknown key: pydantic names it
    probabilities = table.column("probabilities").type
    if {probabilities.field(i).name for i in range(probabilities.num_fields)} - set(VERDICTS):
        return None
    bad = np.zeros(table.num_rows, dtype=bool)

    def flag(mask: pa.Array | pa.ChunkedArray) -> None:
        nonlocal bad
        bad |= mask if isinstance(mask, np.ndarray) else np.asarray(pc.fill_null(mask, True))

    required, defaulted = _not_nullable()
    for name in required:
        flag(pc.is_null(table.column(name)))
    for name, allowed in ENUMS.items():
        column = table.column(name)
        flag(pc.and_kleene(pc.is_valid(column), pc.invert(pc.is_in(column, pa.array(allowed)))))
    scores = table.column("scores")
    flag(pc.and_kleene(pc.is_valid(scores), pc.not_equal(pc.list_value_length(scores), 2)))
    if pc.list_flatten(scores).null_count:
        flag(_list_has_null(scores))
    if "members" in names:
        members = table.column("members")
        kind = members.type
        if not pa.types.is_list(kind) or not (
            pa.types.is_struct(kind.value_type) or pa.types.is_null(kind.value_type)
        ):
            return None
        if pa.types.is_struct(kind.value_type) and any(
            kind.value_type.get_field_index(name) >= 0
            and not _stringish(kind.value_type.field(name).type)
            for name in ("member", "judge")
        ):
            return None  # a member named by a number or an object: str() it line by line
        if pa.types.is_null(kind.value_type):
            flag(pc.greater(pc.list_value_length(members), 0))  # [null, ...]
        elif pc.list_flatten(members).null_count:
            flag(_list_has_null(members))
    for name in ("criteria", "score_probabilities"):
        # free-form {name: number} objects, on multi-criterion and G-Eval runs only:
        # pydantic checks the lines that hold one
        if name in names and not pa.types.is_null(table.column(name).type):
            flag(pc.is_valid(table.column(name)))
    created = table.column("created_at")
    shaped = pc.match_substring_regex(created, _ISO_DATETIME)
    flag(pc.and_kleene(pc.is_valid(created), pc.invert(shaped)))
    try:
        pc.cast(pc.filter(created, pc.fill_null(shaped, False)), pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        flag(pc.is_valid(created))  # an impossible date somewhere: pydantic finds it
    # explicit nulls for keys that refuse null (a null read for a missing key is fine)
    _flag_explicit_nulls(data, [*defaulted, *VERDICTS], bad)
    return bad


def _flag_explicit_nulls(data: bytes, keys: list[str], bad: np.ndarray) -> None:
    """Flag the lines where one of ``keys`` is given an explicit ``null``.

    Keys nested in free-form JSON (``metadata``, ``members``) flag their lines too; the
    per-line check then finds them valid, which costs time, not correctness.
    """
    pattern = _explicit_null_pattern(keys)
    whole = pa.Array.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)],
    )
    # RE2 scans the whole file about twice as fast as re; re then finds the lines
    if pc.match_substring_regex(whole, pattern.pattern.decode())[0].as_py():
        starts = _lines(data)
        for match in pattern.finditer(data):
            bad[np.searchsorted(starts, match.start(), side="right") - 1] = True


def _stringish(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_null(kind))


def _list_has_null(column: pa.ChunkedArray) -> pa.Array:
    """Per row of a list column: does it hold a null element?"""
    flat = pc.list_flatten(column)
    parents = np.asarray(pc.list_parent_indices(column))
    out = np.zeros(len(column), dtype=bool)
    out[parents[np.asarray(pc.is_null(flat), dtype=bool)]] = True
    return pa.array(out)


def _validate_lines(
    path: Path, data: bytes, rows: np.ndarray, validate: Callable[[Any], object]
) -> None:
    """Validate the given lines (0-based) with pydantic, in order; raise on the first bad one."""
    import json

    starts = _lines(data)
    for row in rows:
        line = data[starts[row] : starts[row + 1]]
        try:
            validate(json.loads(line))
        except ValidationError as exc:
            raise DataError(validation_text(exc), path=str(path), line=int(row) + 1) from exc


def _empty() -> pd.DataFrame:
    return _columns(pa.table({name: pa.array([], type=t) for name, t in SCALARS.items()}))


def _defaults() -> dict[str, Any]:
    return {
        name: field.default
        for name, field in Judgment.model_fields.items()
        if not field.is_required() and field.default_factory is None
    }


def _numpy(table: pa.Table, name: str, default: Any, dtype: Any) -> np.ndarray:
    column = table.column(name)
    if column.null_count:
        column = pc.fill_null(column, default)
    return np.asarray(column.to_numpy(), dtype=dtype)


_VERDICT_ORDER: Final = ("B", "tie", "A")
"""Verdict categories in ordinal order (as :data:`judge.analysis.frame.VERDICT_ORDER`)."""

USAGE_COLUMNS: Final = ("tokens_in", "tokens_out", "cost", "billed", "latency_s", "cache_hit")
"""A judgment's usage fields, read as they are and copied as they are onto the frame."""

_USED: Final = (
    "criteria",
    "item_id",
    "judge",
    "swapped",
    "sample",
    "status",
    "verdict",
    "score",
    "scores",
    "probabilities",
    *USAGE_COLUMNS,
    "members",
)


def _categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """A string column as a pandas categorical (dictionary-encoded by arrow)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    found = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False))
    categories = found.sort_values()  # sorted, as pandas orders them
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return pd.Categorical.from_codes(categories.get_indexer(found)[codes], categories=categories)


def _coded(column: pa.ChunkedArray, categories: tuple[str, ...]) -> pd.Categorical:
    """A column of enum values as a categorical with exactly ``categories``."""
    codes = pc.fill_null(pc.index_in(column, value_set=pa.array(categories)), -1)
    return pd.Categorical.from_codes(
        np.asarray(codes.to_numpy(), dtype=np.int64), categories=list(categories)
    )


def _columns(table: pa.Table) -> pd.DataFrame:
    """The frame's judgment columns from validated rows, keeping the last line per key."""
    defaults = _defaults()
    table = table.select([n for n in _USED if n in table.column_names])
    item_id = _categorical(table.column("item_id"))
    swapped = _numpy(table, "swapped", defaults["swapped"], bool)
    sample = _numpy(table, "sample", defaults["sample"], np.int64)
    # the last line per (item_id, swapped, sample), in first-seen order
    n_samples = int(sample.max()) + 1 if len(sample) else 1
    key = (np.asarray(item_id.codes, dtype=np.int64) * 2 + swapped) * n_samples + sample
    _, first = np.unique(key, return_index=True)
    _, last_reversed = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last_reversed
    keep = last[np.argsort(first, kind="stable")]

    probabilities = table.column("probabilities")
    p: dict[str, np.ndarray] = {}
    present = np.zeros(table.num_rows, dtype=bool)
    for v in VERDICTS:
        child = pc.struct_field(probabilities, v)
        p[v] = np.asarray(child.to_numpy(zero_copy_only=False), dtype=float)
        present |= np.asarray(pc.is_valid(child), dtype=bool)
    # null here is a missing key (explicit nulls were refused above); {} gives none
    given = np.asarray(pc.is_valid(probabilities), dtype=bool) & present
    has_tie = np.asarray(pc.is_valid(pc.struct_field(probabilities, "tie")), dtype=bool)
    scores = table.column("scores")
    pairs = np.full((table.num_rows, 2), np.nan)
    has_scores = np.asarray(pc.is_valid(scores), dtype=bool)
    if has_scores.any():
        flat = np.asarray(pc.list_flatten(scores).to_numpy(), dtype=float)
        pairs[has_scores] = flat.reshape(-1, 2)
    cost = _numpy(table, "cost", defaults["cost"], np.float64)
    cache_hit = _numpy(table, "cache_hit", defaults["cache_hit"], bool)
    # a line without ``billed`` (written before it existed) was billed its cost, 0 on a
    # cache hit (Judgment's rule); an explicit null was refused above
    billed = np.array(table.column("billed").to_numpy(zero_copy_only=False), dtype=float)
    unbilled = np.asarray(pc.is_null(table.column("billed")), dtype=bool)
    billed[unbilled] = np.where(cache_hit[unbilled], 0.0, cost[unbilled])
    out = pd.DataFrame(
        {
            "judge": _categorical(table.column("judge")),
            "item_id": item_id,
            "swapped": swapped,
            "sample": sample,
            "status": _coded(table.column("status"), get_args(Status)),
            "verdict": _coded(table.column("verdict"), _VERDICT_ORDER),
            "score": np.asarray(table.column("score").to_numpy(zero_copy_only=False), float),
            "score_a": pairs[:, 0],
            "score_b": pairs[:, 1],
            "p_a": np.where(given, p["A"], np.nan),
            "p_b": np.where(given, p["B"], np.nan),
            # a judge whose probabilities name no tie gives a tie no probability
            "p_tie": np.where(given, np.where(has_tie, p["tie"], 0.0), np.nan),
            "tokens_in": _numpy(table, "tokens_in", defaults["tokens_in"], np.int64),
            "tokens_out": _numpy(table, "tokens_out", defaults["tokens_out"], np.int64),
            "cost": cost,
            "billed": billed,
            "latency_s": _numpy(table, "latency_s", defaults["latency_s"], np.float64),
            "cache_hit": cache_hit,
        }
    )
    if len(keep) != len(out):
        # superseded lines out (numpy takes: cheaper than taking the arrow table's rows)
        out = out.take(keep).reset_index(drop=True)
        for name in ("judge", "item_id"):
            out[name] = out[name].cat.remove_unused_categories()
    if "members" in table.column_names:
        members = table.column("members")
        if len(keep) != table.num_rows:
            members = members.take(pa.array(keep))
        statuses = _member_statuses(members)
        if statuses:
            out = pd.concat([out, pd.DataFrame(statuses)], axis=1)
    if "criteria" in table.column_names and pa.types.is_struct(table.column("criteria").type):
        criteria = table.column("criteria")
        if len(keep) != table.num_rows:
            criteria = criteria.take(pa.array(keep))
        kind = criteria.type
        columns = {
            CRITERION_PREFIX + kind.field(i).name: np.asarray(
                pc.cast(pc.struct_field(criteria, i), pa.float64()).to_numpy(zero_copy_only=False),
                dtype=float,
            )
            for i in range(kind.num_fields)
        }
        out = pd.concat([out, pd.DataFrame(columns)], axis=1)
    return out


def _member_statuses(members: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """:func:`member_statuses` of a ``members`` column (a list of objects whose
    ``member`` and ``judge`` are text, as :func:`_check` made sure)."""
    kind = members.type
    if not pa.types.is_struct(kind.value_type):
        return {}  # every list empty (or null: a missing key)
    flat = pc.list_flatten(members)
    if not len(flat):
        return {}
    parents = np.asarray(pc.list_parent_indices(members), dtype=np.int64)

    def field(name: str) -> pa.Array:
        if kind.value_type.get_field_index(name) < 0:
            return pa.nulls(len(flat), pa.string())
        return pc.struct_field(flat, name)

    # ``record.get("member") or record.get("judge")``, and str(None) where neither is
    member, judge = field("member"), field("judge")
    named = pc.and_kleene(pc.is_valid(member), pc.not_equal(member, ""))
    name = pc.fill_null(pc.if_else(pc.fill_null(named, False), member, judge), "None")
    status_field = field("status")
    status = (
        status_field if pa.types.is_string(status_field.type) else pa.nulls(len(flat), pa.string())
    )
    long = pd.DataFrame(
        {
            "row": parents,
            "name": name.to_numpy(zero_copy_only=False),
            "status": status.to_numpy(zero_copy_only=False),
        }
    )
    last = long.drop_duplicates(["row", "name"], keep="last")
    out: dict[str, np.ndarray] = {}
    for member_name in pd.unique(long["name"]):
        mine = last[(last["name"] == member_name).to_numpy()]
        column = np.full(len(members), None, dtype=object)
        column[mine["row"].to_numpy(dtype=np.int64)] = mine["status"].to_numpy(dtype=object)
        out[MEMBER_PREFIX + str(member_name)] = column
    return out


MEMBER_PREFIX: Final = "member:"
"""Prefix of a jury's per-member status columns (``member:smollm2``), on jury runs only."""


def member_statuses(judgments: Sequence[Judgment]) -> dict[str, list[str | None]]:
    """``member:<name>`` -> each judgment's status from that jury member (None: not a member).

    Empty for judgments without members (every judge but a jury).
    """
    columns: dict[str, list[str | None]] = {}
    for row, j in enumerate(judgments):
        for record in j.members:
            name = MEMBER_PREFIX + str(record.get("member") or record.get("judge"))
            status = record.get("status")
            if name not in columns:
                columns[name] = [None] * len(judgments)
            columns[name][row] = status if isinstance(status, str) else None
    return columns


def judgment_columns(judgments: Sequence[Judgment]) -> pd.DataFrame:
    """The columns :func:`read_judgments` gives, from records already in memory.

    >>> from judge.records import Judgment
    >>> j = Judgment(item_id="1", judge="j", judge_hash="h", request_key="k",
    ...              status="ok", verdict="A", probabilities={"A": 0.75, "B": 0.25})
    >>> judgment_columns([j])[["verdict", "p_a", "p_tie"]].to_dict("records")
    [{'verdict': 'A', 'p_a': 0.75, 'p_tie': 0.0}]
    """
    n = len(judgments)
    probabilities = [j.probabilities for j in judgments]
    scores = [j.scores for j in judgments]
    return pd.DataFrame(
        {
            "judge": pd.Categorical([j.judge for j in judgments]),
            "item_id": pd.Categorical([j.item_id for j in judgments]),
            "swapped": np.fromiter((j.swapped for j in judgments), dtype=bool, count=n),
            "sample": np.fromiter((j.sample for j in judgments), dtype=np.int64, count=n),
            "status": pd.Categorical(
                [j.status for j in judgments], categories=list(get_args(Status))
            ),
            "verdict": pd.Categorical(
                [j.verdict for j in judgments], categories=list(_VERDICT_ORDER)
            ),
            "score": np.array(
                [np.nan if j.score is None else j.score for j in judgments], dtype=np.float64
            ),
            "score_a": np.array([s[0] if s else np.nan for s in scores], dtype=np.float64),
            "score_b": np.array([s[1] if s else np.nan for s in scores], dtype=np.float64),
            "p_a": np.array(
                [p.get("A", np.nan) if p else np.nan for p in probabilities], dtype=np.float64
            ),
            "p_b": np.array(
                [p.get("B", np.nan) if p else np.nan for p in probabilities], dtype=np.float64
            ),
            # a judge whose probabilities name no tie gives a tie no probability
            "p_tie": np.array(
                [p.get("tie", 0.0) if p else np.nan for p in probabilities], dtype=np.float64
            ),
            "tokens_in": np.fromiter((j.tokens_in for j in judgments), dtype=np.int64, count=n),
            "tokens_out": np.fromiter((j.tokens_out for j in judgments), dtype=np.int64, count=n),
            "cost": np.fromiter((j.cost for j in judgments), dtype=np.float64, count=n),
            "billed": np.fromiter((j.billed for j in judgments), dtype=np.float64, count=n),
            "latency_s": np.fromiter((j.latency_s for j in judgments), dtype=np.float64, count=n),
            "cache_hit": np.fromiter((j.cache_hit for j in judgments), dtype=bool, count=n),
            **member_statuses(judgments),
            **criterion_scores(judgments),
        }
    )


CRITERION_PREFIX: Final = "criterion_"
"""Prefix of a multi-criterion judge's per-criterion score columns."""


def criterion_scores(judgments: Sequence[Judgment]) -> dict[str, np.ndarray]:
    """``criterion_<name>`` -> each judgment's score on that criterion (NaN: none), in
    first-seen order of the names; empty for judges without criteria."""
    names = dict.fromkeys(c for j in judgments if j.criteria for c in j.criteria)
    return {
        CRITERION_PREFIX + name: np.array(
            [(j.criteria or {}).get(name, np.nan) for j in judgments], dtype=float
        )
        for name in names
    }


# -- items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemColumns:
    """The item facts a frame uses: one row per item, plus the votes and scores long."""

    items: pd.DataFrame
    """``item_id``, ``benchmark``, ``category``, ``kind``, ``prompt_text`` (the text, or
    the last user message of a conversation), ``len_a``, ``len_b`` (NaN for single
    items), ``model_a``, ``model_b``, ``model``, and for single items ``aspect`` (the
    aspect of the human scores the judge is compared with), ``scale_low`` and
    ``scale_high`` (NaN without a scale, and for pairs), ``turn`` (the conversation turn
    judged, ``metadata.turn``; NaN where the item has none)."""
    labels: pd.DataFrame
    """Pair votes in file order: ``row`` (position in ``items``), ``annotator``, ``verdict``."""
    scores: pd.DataFrame
    """Single-answer scores in file order: ``row``, ``annotator``, ``score``, ``aspect``."""


def item_turn(value: Any) -> float:
    """The turn an item's judgment is about, from its ``metadata.turn`` (NaN: none).

    >>> item_turn(2), item_turn("1"), item_turn(None), item_turn("x")
    (2.0, 1.0, nan, nan)
    """
    if isinstance(value, bool) or value is None:
        return np.nan
    try:
        turn = float(value)
    except (TypeError, ValueError):
        return np.nan
    return turn if turn.is_integer() and turn >= 1 else np.nan


def item_columns(items: Sequence[PairItem | SingleItem]) -> ItemColumns:
    """The columns :func:`read_items` gives, from records already in memory."""
    rows: dict[str, list[Any]] = {
        name: []
        for name in (
            "item_id",
            "benchmark",
            "category",
            "kind",
            "prompt_text",
            "len_a",
            "len_b",
            "model_a",
            "model_b",
            "model",
            "aspect",
            "scale_low",
            "scale_high",
            "turn",
            *MARKDOWN_COLUMNS,
        )
    }
    labels: list[tuple[int, str, str]] = []
    scores: list[tuple[int, str, float, str]] = []
    for position, item in enumerate(items):
        rows["item_id"].append(item.id)
        rows["benchmark"].append(item.benchmark)
        rows["category"].append(item.category)
        rows["kind"].append(item.kind)
        rows["prompt_text"].append(item.prompt_text)
        rows["turn"].append(item_turn(item.metadata.get("turn")))
        if isinstance(item, PairItem):
            rows["len_a"].append(float(len(item.response_a)))
            rows["len_b"].append(float(len(item.response_b)))
            rows["model_a"].append(item.model_a)
            rows["model_b"].append(item.model_b)
            rows["model"].append(None)
            rows["aspect"].append(None)
            rows["scale_low"].append(np.nan)
            rows["scale_high"].append(np.nan)
            for side, text in (("a", item.response_a), ("b", item.response_b)):
                counts = markdown_counts(text)
                for element, count in zip(("headers", "lists", "bold"), counts, strict=True):
                    rows[f"{element}_{side}"].append(float(count))
            labels.extend((position, lab.annotator, lab.verdict) for lab in item.labels)
        else:
            rows["len_a"].append(float(len(item.response)))
            rows["len_b"].append(np.nan)
            rows["model_a"].append(None)
            rows["model_b"].append(None)
            rows["model"].append(item.model)
            rows["aspect"].append(item.aspect)
            rows["scale_low"].append(item.scale[0] if item.scale else np.nan)
            rows["scale_high"].append(item.scale[1] if item.scale else np.nan)
            for markdown in MARKDOWN_COLUMNS:
                rows[markdown].append(np.nan)
            scores.extend((position, s.annotator, s.score, s.aspect) for s in item.scores)
    return ItemColumns(
        items=pd.DataFrame(rows),
        labels=pd.DataFrame(labels, columns=["row", "annotator", "verdict"]),
        scores=pd.DataFrame(scores, columns=["row", "annotator", "score", "aspect"]),
    )


MARKDOWN_COLUMNS: Final[tuple[str, ...]] = (
    "headers_a",
    "lists_a",
    "bold_a",
    "headers_b",
    "lists_b",
    "bold_b",
)
"""Markdown element counts of each response (Arena-Hard's style features; see
:func:`markdown_counts`); NaN for single-answer items and frames built without them."""
# One spelling for Python's re and pyarrow's RE2 (both count non-overlapping matches).
_MARKDOWN_PATTERNS: Final = (
    r"(?m)^#{1,6}\s",  # headers
    r"(?m)^\s*(?:\d+\.|[-*+])\s",  # list items
    r"\*\*[^*\n]+\*\*|__[^_\n]+__",  # bold spans
)
_CODE_BLOCK: Final = r"```[^`]*```"
_MARKDOWN_RE: Final = tuple(re.compile(p) for p in _MARKDOWN_PATTERNS)
_CODE_RE: Final = re.compile(_CODE_BLOCK)


def markdown_counts(text: str) -> tuple[int, int, int]:
    r"""Headers, list items and bold spans of a response, code blocks removed first
    (Arena-Hard's ``add_markdown_info`` counts: ``#``..``######`` headers, ordered and
    unordered list items, ``**``/``__`` bold).

    >>> markdown_counts("# T\n\n- a\n- b\n1. **c**\n```\n# not a header\n```")
    (1, 3, 1)
    """
    text = _CODE_RE.sub("", text)
    headers, lists, bold = (len(pattern.findall(text)) for pattern in _MARKDOWN_RE)
    return headers, lists, bold


def _markdown_columns(column: pa.ChunkedArray, side: str) -> dict[str, np.ndarray]:
    """:func:`markdown_counts` of every text of ``column``, on whole columns (RE2)."""
    text = pc.replace_substring_regex(column, _CODE_BLOCK, "")
    return {
        f"{element}_{side}": np.asarray(
            pc.count_substring_regex(text, pattern).to_numpy(zero_copy_only=False), dtype=float
        )
        for element, pattern in zip(("headers", "lists", "bold"), _MARKDOWN_PATTERNS, strict=True)
    }


_ITEM_COMMON: Final = ("id", "benchmark", "prompt", "reference", "category", "metadata", "kind")
_ITEM_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "pair": (*_ITEM_COMMON, "response_a", "response_b", "model_a", "model_b", "labels"),
    "single": (*_ITEM_COMMON, "response", "model", "scores", "scale", "aspect"),
}
_ITEM_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "pair": ("id", "benchmark", "prompt", "kind", "response_a", "response_b"),
    "single": ("id", "benchmark", "prompt", "kind", "response"),
}
_ITEM_STRINGS: Final = (
    "id",
    "benchmark",
    "reference",
    "category",
    "kind",
    "response_a",
    "response_b",
    "model_a",
    "model_b",
    "response",
    "model",
    "aspect",
)
# str.strip() leaves nothing: every character is whitespace to Python (a superset here)
_BLANK: Final = r"^[\t\n\x0b\f\r\x1c-\x1f\x85\p{Z}]*$"


def read_items(path: Path) -> ItemColumns | None:
    """The items of ``items.jsonl`` as columns, every line validated as an item record.

    Returns ``None`` where the per-line reader must do the work (pyarrow cannot parse
    the file, pair and single items are mixed, a field has a type pyarrow cannot check);
    raises the per-line reader's :class:`DataError` for the first bad line.
    """
    if {*_ITEM_FIELDS["pair"], *_ITEM_FIELDS["single"]} != {
        *PairItem.model_fields,
        *SingleItem.model_fields,
    }:
        return None  # a field this reader does not know
    if not path.exists():
        return item_columns([])
    data = path.read_bytes()
    if not data:
        return item_columns([])
    if not data.endswith(b"\n"):
        return None
    table = _parse(data, None, path)
    if table is None:
        return None
    if "kind" not in table.column_names or not pa.types.is_string(table.column("kind").type):
        return None
    kinds = table.column("kind").unique().drop_null().to_pylist()
    if len(kinds) != 1 or kinds[0] not in _ITEM_FIELDS:
        return None  # mixed or unknown kinds: pydantic sorts them out line by line
    kind = str(kinds[0])
    names = table.column_names
    if set(names) - set(_ITEM_FIELDS[kind]):
        return None  # an unknown key: pydantic names it
    types = {name: table.column(name).type for name in names}
    for name in _ITEM_STRINGS:
        if name in types and not (pa.types.is_string(types[name]) or pa.types.is_null(types[name])):
            return None
    if "metadata" in types and not (
        pa.types.is_struct(types["metadata"]) or pa.types.is_null(types["metadata"])
    ):
        return None
    bad = np.zeros(table.num_rows, dtype=bool)

    def flag(mask: Any) -> None:
        nonlocal bad
        bad |= mask if isinstance(mask, np.ndarray) else np.asarray(pc.fill_null(mask, True))

    for name in _ITEM_REQUIRED[kind]:
        if name not in names:
            bad[:] = True
            break
        flag(pc.is_null(table.column(name)))
    item_id = table.column("id")
    if pa.types.is_string(item_id.type):
        flag(pc.match_substring_regex(item_id, _BLANK))
    prompt = table.column("prompt") if "prompt" in names else None
    prompt_text: Any = None
    if prompt is not None and pa.types.is_list(prompt.type):
        messages = _struct_list(
            prompt, {"role": pa.string(), "content": pa.string()}, required=("role", "content")
        )
        if messages is None or not pa.types.is_struct(prompt.type.value_type):
            return None
        flat = pc.list_flatten(prompt)
        parents = np.asarray(pc.list_parent_indices(prompt))
        role, content = pc.struct_field(flat, "role"), pc.struct_field(flat, "content")
        broken = pc.or_kleene(
            pc.or_kleene(pc.is_null(flat), pc.is_null(content)),
            pc.invert(pc.fill_null(pc.is_in(role, pa.array(get_args(Role))), False)),
        )
        flag(_any_per_row(parents, np.asarray(broken, dtype=bool), table.num_rows))
        users = np.asarray(pc.fill_null(pc.equal(role, "user"), False), dtype=bool)
        last_user = pd.Series(np.asarray(content.to_numpy(zero_copy_only=False))[users]).groupby(
            parents[users]
        )
        prompt_text = np.full(table.num_rows, "", dtype=object)
        last = last_user.last()
        prompt_text[last.index.to_numpy()] = last.to_numpy()
    elif prompt is not None and pa.types.is_string(prompt.type):
        prompt_text = prompt.to_numpy(zero_copy_only=False)
    elif prompt is not None and not pa.types.is_null(prompt.type):
        return None
    defaulted = ["metadata"]
    labels = pd.DataFrame(columns=["row", "annotator", "verdict"])
    scores = pd.DataFrame(columns=["row", "annotator", "score", "aspect"])
    if kind == "pair" and "labels" in names:
        defaulted.append("labels")
        column = table.column("labels")
        wanted = {"annotator": pa.string(), "verdict": pa.string()}
        if _struct_list(column, wanted, required=("annotator", "verdict")) is None:
            return None
        _flag_null_lists(column, flag)
        if pa.types.is_struct(column.type.value_type):
            flat = pc.list_flatten(column)
            parents = np.asarray(pc.list_parent_indices(column))
            annotator, verdict = (
                pc.struct_field(flat, "annotator"),
                pc.struct_field(flat, "verdict"),
            )
            broken = pc.or_kleene(
                pc.or_kleene(pc.is_null(flat), pc.is_null(annotator)),
                pc.invert(pc.fill_null(pc.is_in(verdict, pa.array(VERDICTS)), False)),
            )
            flag(_any_per_row(parents, np.asarray(broken, dtype=bool), table.num_rows))
            labels = pd.DataFrame(
                {
                    "row": parents,
                    "annotator": annotator.to_numpy(zero_copy_only=False),
                    "verdict": verdict.to_numpy(zero_copy_only=False),
                }
            )
    scale_given: pa.ChunkedArray | None = None
    if kind == "single":
        defaulted += ["scores", "aspect"]
        if "scale" in names:
            scale = table.column("scale")
            if not (
                pa.types.is_null(scale.type)
                or (pa.types.is_list(scale.type) and _numeric(scale.type.value_type))
            ):
                return None
            if pa.types.is_list(scale.type):
                flag(
                    pc.and_kleene(pc.is_valid(scale), pc.not_equal(pc.list_value_length(scale), 2))
                )
                flat = pc.list_flatten(scale)
                parents = np.asarray(pc.list_parent_indices(scale))
                flag(_any_per_row(parents, np.asarray(pc.is_null(flat)), table.num_rows))
                scale_given = scale
        if "scores" in names:
            column = table.column("scores")
            value = column.type.value_type if pa.types.is_list(column.type) else None
            if value is not None and pa.types.is_struct(value):
                score_type = (
                    value.field("score").type if value.get_field_index("score") >= 0 else None
                )
                if score_type is None or not _numeric(score_type):
                    return None
            fields = {"annotator": pa.string(), "score": None, "aspect": pa.string()}
            if _struct_list(column, fields, required=("annotator", "score")) is None:
                return None
            _flag_null_lists(column, flag)
            if pa.types.is_struct(column.type.value_type):
                flat = pc.list_flatten(column)
                parents = np.asarray(pc.list_parent_indices(column))
                annotator = pc.struct_field(flat, "annotator")
                score = pc.struct_field(flat, "score")
                broken = pc.or_kleene(
                    pc.or_kleene(pc.is_null(flat), pc.is_null(annotator)), pc.is_null(score)
                )
                flag(_any_per_row(parents, np.asarray(broken, dtype=bool), table.num_rows))
                aspect = (
                    pc.fill_null(pc.struct_field(flat, "aspect"), "overall")
                    if column.type.value_type.get_field_index("aspect") >= 0
                    else pa.array(["overall"] * len(flat))
                )
                scores = pd.DataFrame(
                    {
                        "row": parents,
                        "annotator": annotator.to_numpy(zero_copy_only=False),
                        "score": np.asarray(score.to_numpy(zero_copy_only=False), dtype=float),
                        "aspect": aspect.to_numpy(zero_copy_only=False),
                    }
                )
    _flag_explicit_nulls(data, defaulted, bad)
    if bad.any():
        _validate_lines(path, data, np.flatnonzero(bad), _ITEM.validate_python)
    # every scale given is two numbers now (pydantic refused any other)
    scale_low, scale_high = np.full(table.num_rows, np.nan), np.full(table.num_rows, np.nan)
    if scale_given is not None:
        given = np.asarray(pc.is_valid(scale_given), dtype=bool)
        bounds = np.asarray(pc.list_flatten(scale_given).to_numpy(zero_copy_only=False), float)
        scale_low[given], scale_high[given] = bounds[0::2], bounds[1::2]

    def strings(name: str) -> Any:
        if name not in names:
            return np.full(table.num_rows, None, dtype=object)
        return table.column(name).to_numpy(zero_copy_only=False)

    def lengths(name: str) -> np.ndarray:
        return np.asarray(pc.utf8_length(table.column(name)).to_numpy(), dtype=float)

    pair = kind == "pair"
    frame = pd.DataFrame(
        {
            "item_id": strings("id"),
            "benchmark": strings("benchmark"),
            "category": strings("category"),
            "kind": np.full(table.num_rows, kind, dtype=object),
            "prompt_text": prompt_text,
            "len_a": lengths("response_a" if pair else "response"),
            "len_b": lengths("response_b") if pair else np.full(table.num_rows, np.nan),
            "model_a": strings("model_a") if pair else strings("-"),
            "model_b": strings("model_b") if pair else strings("-"),
            "model": strings("-") if pair else strings("model"),
            "aspect": strings("-") if pair else _filled(strings("aspect"), "overall"),
            "scale_low": scale_low,
            "scale_high": scale_high,
            "turn": _turns(table),
            **(
                {
                    **_markdown_columns(table.column("response_a"), "a"),
                    **_markdown_columns(table.column("response_b"), "b"),
                }
                if pair
                else {name: np.full(table.num_rows, np.nan) for name in MARKDOWN_COLUMNS}
            ),
        }
    )
    return ItemColumns(items=frame, labels=labels, scores=scores)


def _turns(table: pa.Table) -> np.ndarray:
    """:func:`item_turn` of every row's ``metadata.turn``, column-wise."""
    n = table.num_rows
    if "metadata" not in table.column_names:
        return np.full(n, np.nan)
    metadata = table.column("metadata")
    if not pa.types.is_struct(metadata.type) or metadata.type.get_field_index("turn") < 0:
        return np.full(n, np.nan)
    turn = pc.struct_field(metadata, "turn")
    return np.array([item_turn(v) for v in turn.to_pylist()], dtype=np.float64)


def _filled(values: np.ndarray, default: str) -> np.ndarray:
    """``values`` with ``default`` where a line had none (a missing key)."""
    values = np.asarray(values, dtype=object).copy()
    values[pd.isna(values)] = default
    return values


def _flag_null_lists(column: pa.ChunkedArray, flag: Callable[[Any], None]) -> None:
    """Flag non-empty lists of a list-of-nulls column (``[null]`` is no record)."""
    if pa.types.is_list(column.type) and pa.types.is_null(column.type.value_type):
        flag(pc.greater(pc.list_value_length(column), 0))


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _struct_list(
    column: pa.ChunkedArray,
    fields: dict[str, pa.DataType | None],
    *,
    required: tuple[str, ...] = (),
) -> bool | None:
    """True if ``column`` is a list of objects whose keys are among ``fields`` with those
    types (``None``: any), ``required`` among them, or a list of nulls; else ``None``."""
    kind = column.type
    if pa.types.is_null(kind):
        return True
    if not pa.types.is_list(kind):
        return None
    value = kind.value_type
    if pa.types.is_null(value):
        return True
    if not pa.types.is_struct(value):
        return None
    if any(value.get_field_index(name) < 0 for name in required):
        return None
    for i in range(value.num_fields):
        field = value.field(i)
        if field.name not in fields:
            return None  # an unknown key: pydantic names it
        want = fields[field.name]
        if want is not None and not (field.type == want or pa.types.is_null(field.type)):
            return None
    return True


def _any_per_row(parents: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """Per row: is any of its list elements' ``values`` true?"""
    out = np.zeros(n_rows, dtype=bool)
    out[parents[values]] = True
    return out
