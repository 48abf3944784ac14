"""Reading source files so that every error names its file, line and field.

Benchmark loaders and model-output readers share these helpers:

- :func:`read_text` decodes UTF-8 and reports the line of an invalid byte;
- :func:`read_json` parses a whole JSON file, reporting the line of a syntax error
  (and saying "truncated" when the file ends early);
- :func:`json_records` yields each element of a top-level JSON array (or of each
  array in a top-level object of arrays) *with the line it starts on*, so a bad
  record in a pretty-printed file is reported at its line;
- :func:`jsonl_rows`, :func:`delimited_rows`, :func:`parquet_rows` and
  :func:`table_rows` yield ``(line, row)`` pairs, every row a ``dict``; a broken row
  raises its :class:`~judge.errors.DataError` (file, line, field), unless the caller
  passes ``on_error``, which then receives it and the row is skipped (a lenient
  reader counts them). A plugin that forgets a check cannot meet a non-dict row;
- :func:`text_field`, :func:`int_field` and :func:`build` check one field at a time
  and turn a failure into a :class:`~judge.errors.DataError` naming the field.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from judge.errors import DataError, validation_message
from judge.records import Verdict

M = TypeVar("M", bound=BaseModel)
OnError = Callable[[DataError], None]
"""Receives a broken row's error instead of it being raised (the row is skipped)."""


def _fail(error: DataError, on_error: OnError | None) -> None:
    if on_error is None:
        raise error
    on_error(error)


_WS = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Where:
    """A place in a source file, for error messages."""

    path: Path
    line: int | None = None

    def error(self, message: str, field: str | None = None) -> DataError:
        """A :class:`DataError` at this place.

        >>> str(Where(Path("d.json"), 7).error("missing field", "label"))
        "d.json:7: field 'label': missing field"
        """
        return DataError(message, path=str(self.path), line=self.line, field=field)


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a :class:`DataError`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path=str(path)) from exc


def decode_utf8(data: bytes, path: Path) -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped), naming the line of a bad byte.

    >>> decode_utf8(b"ok\\n\\xff", Path("f.txt"))
    Traceback (most recent call last):
    ...
    judge.errors.DataError: f.txt:2: invalid UTF-8 (byte 0xff at column 1)
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})",
            path=str(path),
            line=line,
        ) from exc


def read_text(path: Path) -> str:
    """A UTF-8 text file's contents (see :func:`decode_utf8`)."""
    return decode_utf8(read_bytes(path), path)


def _json_error(exc: json.JSONDecodeError, text: str, path: Path) -> DataError:
    truncated = exc.pos >= len(text.rstrip())
    what = "truncated file" if truncated else "invalid JSON"
    return DataError(f"{what}: {exc.msg} (column {exc.colno})", path=str(path), line=exc.lineno)


def loads_json(text: str, path: Path) -> Any:
    """Parse JSON text from ``path``; a syntax error names the line.

    >>> loads_json('[1, 2', Path("x.json"))
    Traceback (most recent call last):
    ...
    judge.errors.DataError: x.json:1: truncated file: Expecting ',' delimiter (column 6)
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(exc, text, path) from exc


def read_json(path: Path) -> Any:
    """Parse a whole JSON file (see :func:`loads_json`)."""
    return loads_json(read_text(path), path)


def _skip(text: str, pos: int) -> int:
    """The position of the first non-whitespace character at or after ``pos``."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _scan_array(
    text: str, pos: int, decoder: json.JSONDecoder
) -> tuple[list[tuple[int, Any]], int]:
    """Elements of the (valid) array starting at ``text[pos] == '['`` with their lines."""
    out: list[tuple[int, Any]] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "]":
        return out, pos + 1
    # lines counted incrementally: counting from the start for every element was quadratic
    # (9 of the 15 s of importing AlpacaEval's eleven annotation files)
    line, counted = _line(text, pos), pos
    while True:
        value, end = decoder.raw_decode(text, pos)
        line += text.count("\n", counted, pos)
        counted = pos
        out.append((line, value))
        pos = _skip(text, end)
        if text[pos] == "]":
            return out, pos + 1
        pos = _skip(text, pos + 1)  # skip the comma


def json_records(path: Path) -> Iterator[tuple[int, str | None, int, Any]]:
    """Yield ``(line, group, index, value)`` for every record of a JSON file.

    The file holds a top-level array (``group`` is ``None``) or an object whose values
    are arrays (``group`` is the key). ``line`` is where the record starts.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "d.json"
    >>> _ = p.write_text('{"x": [\\n  {"a": 1},\\n  {"a": 2}\\n], "y": []}')
    >>> list(json_records(p))
    [(2, 'x', 0, {'a': 1}), (3, 'x', 1, {'a': 2})]
    """
    text = read_text(path)
    document = loads_json(text, path)  # validates; the scan below may then assume valid JSON
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if isinstance(document, list):
        records, _ = _scan_array(text, pos, decoder)
        for index, (line, value) in enumerate(records):
            yield line, None, index, value
        return
    if not isinstance(document, dict):
        raise DataError(
            f"expected a JSON array or an object of arrays, got {type(document).__name__}",
            path=str(path),
        )
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, end = decoder.raw_decode(text, pos)
        pos = _skip(text, end)
        pos = _skip(text, pos + 1)  # skip the colon
        if text[pos] != "[":
            raise DataError(
                "expected an array of records", path=str(path), line=_line(text, pos), field=key
            )
        records, end = _scan_array(text, pos, decoder)
        for index, (line, value) in enumerate(records):
            yield line, key, index, value
        pos = _skip(text, end)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)


def delimited_rows(
    path: Path, *, delimiter: str = ",", on_error: OnError | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` from a CSV/TSV file with a header row.

    ``line`` is the physical line a record starts on (quoted fields may span lines).
    Blank lines are skipped. A row with more or fewer fields than the header, or with
    invalid UTF-8, raises a :class:`DataError` (or goes to ``on_error`` and is
    skipped); a bad header or broken quoting always raises.
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # keep going row by row; rows holding an undecodable byte are reported below
        text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not record or all(not cell.strip() for cell in record):
                continue
            bad = next((i for i, cell in enumerate(record) if _has_surrogate(cell)), None)
            if header is None:
                if bad is not None:
                    raise DataError("invalid UTF-8 in the header", path=str(path), line=start)
                header = [cell.strip() for cell in record]
                duplicates = sorted({h for h in header if header.count(h) > 1})
                if duplicates:
                    raise DataError(
                        f"duplicate column(s) in header: {', '.join(duplicates)}",
                        path=str(path),
                        line=start,
                    )
                continue
            if bad is not None:
                column = header[bad] if bad < len(header) else None
                _fail(
                    DataError("invalid UTF-8", path=str(path), line=start, field=column), on_error
                )
            elif len(record) != len(header):
                _fail(
                    DataError(
                        f"row has {len(record)} fields but the header has {len(header)}",
                        path=str(path),
                        line=start,
                    ),
                    on_error,
                )
            else:
                yield start, dict(zip(header, record, strict=True))
    except csv.Error as exc:
        # name the line the broken record starts on (an open quote swallows the rest)
        raise DataError(
            f"malformed CSV in the record starting here: {exc}",
            path=str(path),
            line=previous_end + 1,
        ) from exc


def _has_surrogate(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_delimited(path: Path, *, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, row)`` from a CSV/TSV file; the first bad row raises.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text('a,b\\n1,"x\\ny"\\n\\n2,z\\n')
    >>> list(read_delimited(p))
    [(2, {'a': '1', 'b': 'x\\ny'}), (5, {'a': '2', 'b': 'z'})]
    """
    yield from delimited_rows(path, delimiter=delimiter)


def jsonl_rows(
    path: Path, *, on_error: OnError | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, object)`` for every non-blank line of a JSONL file.

    Invalid UTF-8, invalid JSON, a truncated last line and a non-object line raise a
    :class:`DataError` naming the line, or go to ``on_error`` and are skipped.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.jsonl"
    >>> _ = p.write_bytes(b'{"a": 1}\\n\\n[2]\\n{"a": ')
    >>> errors = []
    >>> for n, r in jsonl_rows(p, on_error=errors.append):
    ...     print(n, r)
    1 {'a': 1}
    >>> [str(e).split(": ", 1)[1] for e in errors]
    ['expected a JSON object, got list', 'truncated last line: Expecting value (column 7)']
    >>> list(jsonl_rows(p))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judge.errors.DataError: ...t.jsonl:3: expected a JSON object, got list
    """
    raw = read_bytes(path)
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            _fail(
                DataError(
                    f"invalid UTF-8 (byte 0x{line[exc.start]:02x} at column {exc.start + 1})",
                    path=str(path),
                    line=number,
                ),
                on_error,
            )
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            last = number == len(lines) and not raw.endswith(b"\n")
            what = "truncated last line" if last else "invalid JSON"
            _fail(
                DataError(f"{what}: {exc.msg} (column {exc.colno})", path=str(path), line=number),
                on_error,
            )
            continue
        if not isinstance(obj, dict):
            _fail(
                DataError(
                    f"expected a JSON object, got {_type_name(obj)}", path=str(path), line=number
                ),
                on_error,
            )
            continue
        yield number, obj


def parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row number, row)`` from a Parquet file (row numbers count from 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read Parquet: {exc}", path=str(path)) from exc
    yield from enumerate(table.to_pylist(), start=1)


TABLE_FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")


def table_format(path: Path, declared: str = "auto") -> str:
    """The table format of ``path``: ``declared`` unless ``auto``, else from the suffix.

    >>> table_format(Path("x.JSONL")), table_format(Path("x.tsv")), table_format(Path("x.pq"))
    ('jsonl', 'tsv', 'parquet')
    """
    if path.is_dir():
        raise DataError(
            f"is a folder; give a data file ({', '.join(TABLE_FORMATS)})", path=str(path)
        )
    if declared != "auto":
        return declared
    suffix = path.suffix.lower().lstrip(".")
    aliases = {"ndjson": "jsonl", "pq": "parquet", "txt": "tsv", "tab": "tsv"}
    fmt = aliases.get(suffix, suffix)
    if fmt not in TABLE_FORMATS:
        raise DataError(
            f"cannot tell the format from the suffix {path.suffix!r}; "
            f"pass format= one of {', '.join(TABLE_FORMATS)}",
            path=str(path),
        )
    return fmt


def table_rows(
    path: Path, fmt: str = "auto", *, on_error: OnError | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line, row)`` from a JSONL, JSON (array), CSV, TSV or Parquet file.

    A broken row raises its :class:`DataError` (or goes to ``on_error`` and is skipped).
    """
    fmt = table_format(path, fmt)
    if fmt == "jsonl":
        yield from jsonl_rows(path, on_error=on_error)
    elif fmt in ("csv", "tsv"):
        yield from delimited_rows(path, delimiter="," if fmt == "csv" else "\t", on_error=on_error)
    elif fmt == "parquet":
        yield from parquet_rows(path)
    else:
        for line, _, _, row in json_records(path):
            if isinstance(row, dict):
                yield line, row
            else:
                _fail(
                    DataError(
                        f"expected a JSON object, got {_type_name(row)}", path=str(path), line=line
                    ),
                    on_error,
                )


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def require(row: Mapping[str, Any], key: str, where: Where) -> Any:
    """``row[key]``; a missing key is a :class:`DataError` naming the field."""
    if key not in row:
        raise where.error("missing field", key)
    return row[key]


def text_field(
    row: Mapping[str, Any],
    key: str,
    where: Where,
    *,
    allow_empty: bool = True,
    required: bool = True,
) -> str:
    """A string field. ``allow_empty=False`` rejects empty or whitespace-only text.

    >>> text_field({"r": 3}, "r", Where(Path("f.jsonl"), 2))
    Traceback (most recent call last):
    ...
    judge.errors.DataError: f.jsonl:2: field 'r': expected a string, got int
    """
    if not required and row.get(key) is None:
        return ""
    value = require(row, key, where)
    if not isinstance(value, str):
        raise where.error(f"expected a string, got {_type_name(value)}", key)
    if not allow_empty and not value.strip():
        raise where.error("empty text", key)
    return value


def int_field(row: Mapping[str, Any], key: str, where: Where) -> int:
    """An integer field (a JSON boolean is not an integer).

    >>> int_field({"n": True}, "n", Where(Path("f.json"), 4))
    Traceback (most recent call last):
    ...
    judge.errors.DataError: f.json:4: field 'n': expected an integer, got bool
    """
    value = require(row, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"expected an integer, got {_type_name(value)}", key)
    return value


def label_field(
    row: Mapping[str, Any], key: str, where: Where, mapping: Mapping[Any, Verdict]
) -> Verdict:
    """Map a label value to a canonical verdict; an unknown value names what is allowed.

    >>> label_field({"label": 3}, "label", Where(Path("d.json"), 9), {1: "A", 2: "B"})
    Traceback (most recent call last):
    ...
    judge.errors.DataError: d.json:9: field 'label': unknown label value 3; expected one of 1, 2
    """
    value = require(row, key, where)
    if isinstance(value, bool) or value not in mapping:
        allowed = ", ".join(json.dumps(k) if isinstance(k, str) else str(k) for k in mapping)
        shown = json.dumps(value) if isinstance(value, str | bool) or value is None else value
        raise where.error(f"unknown label value {shown}; expected one of {allowed}", key)
    return mapping[value]


def build(record_type: type[M], where: Where, /, **fields: Any) -> M:
    """Construct a record; a validation failure names the first failing field."""
    try:
        return record_type(**fields)
    except ValidationError as exc:
        field, message = validation_message(exc)
        raise where.error(message, field) from exc
