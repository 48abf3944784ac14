"""The results store: one folder per run.

``results/<run>/`` holds

- ``manifest.json``: the :class:`~judge.records.RunManifest`, replaced atomically;
- ``items.jsonl``: the judged items, written once (atomically) when the run starts,
  so a run can be analysed without its benchmark's source files;
- ``judgments.jsonl``: one :class:`~judge.records.Judgment` per line, appended and
  flushed per judgment (fsync'd when the store closes).

A run killed mid-write can leave a partial last line; opening the store for appending
cuts it off (it was never a finished judgment). Errors are retried on resume, so a key
can have an ``error`` line followed by its final line: readers take the last line per
``(item_id, swapped, sample)``, which is what :meth:`RunStore.judgments` returns.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from judge.errors import DataError, StoreError
from judge.records import Counts, Item, Judgment, PairItem, RunManifest, SingleItem

if TYPE_CHECKING:
    import pandas as pd

    from judge.columns import ItemColumns

_ITEM: TypeAdapter[PairItem | SingleItem] = TypeAdapter(Item)

JudgmentKey = tuple[str, bool, int]


def judgment_key(j: Judgment) -> JudgmentKey:
    """The identity of a judgment within a run."""
    return (j.item_id, j.swapped, j.sample)


def latest_judgments(judgments: Iterable[Judgment]) -> list[Judgment]:
    """The last judgment per ``(item_id, swapped, sample)``, in first-seen order."""
    latest: dict[JudgmentKey, Judgment] = {}
    for j in judgments:
        latest[judgment_key(j)] = j
    return list(latest.values())


def count_judgments(judgments: Iterable[Judgment]) -> Counts:
    """How many judgments of each status (and cache hits) there are."""
    counts = {"total": 0, "ok": 0, "unparsed": 0, "error": 0, "cache_hits": 0}
    for j in judgments:
        counts["total"] += 1
        counts[j.status] += 1
        counts["cache_hits"] += j.cache_hit
    return Counts(**counts)


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """Read and write one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def judgments_path(self) -> Path:
        return self.path / "judgments.jsonl"

    @property
    def items_path(self) -> Path:
        return self.path / "items.jsonl"

    def exists(self) -> bool:
        return self.manifest_path.exists()

    # -- manifest --------------------------------------------------------------------

    def write_manifest(self, manifest: RunManifest) -> None:
        atomic_write(self.manifest_path, manifest.model_dump_json(indent=2) + "\n")

    def read_manifest(self) -> RunManifest:
        if not self.manifest_path.exists():
            raise StoreError(f"{self.path} is not a run folder (no manifest.json)")
        try:
            return RunManifest.model_validate_json(self.manifest_path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise DataError(f"invalid manifest: {exc}", path=str(self.manifest_path)) from exc

    # -- items -----------------------------------------------------------------------

    def write_items(self, items: Iterable[PairItem | SingleItem]) -> None:
        lines = [item.model_dump_json() for item in items]
        atomic_write(self.items_path, "".join(line + "\n" for line in lines))

    def items(self) -> list[PairItem | SingleItem]:
        out: list[PairItem | SingleItem] = []
        for number, obj in _read_lines(self.items_path, lenient_tail=False):
            try:
                out.append(_ITEM.validate_python(obj))
            except ValidationError as exc:
                raise DataError(str(exc), path=str(self.items_path), line=number) from exc
        return out

    def item_columns(self) -> ItemColumns:
        """The items as the columns a frame uses, every line validated.

        Same items and same errors as :meth:`items`, read column-wise by
        :func:`judge.columns.read_items`; files it cannot read that way take the
        per-line path.
        """
        from judge.columns import item_columns, read_items

        columns = read_items(self.items_path)
        return item_columns(self.items()) if columns is None else columns

    # -- judgments -------------------------------------------------------------------

    def open_for_append(self) -> None:
        """Open ``judgments.jsonl`` for appending, cutting off a partial last line."""
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.judgments_path
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                keep = data.rfind(b"\n") + 1
                with path.open("r+b") as handle:
                    handle.truncate(keep)
        self._handle = path.open("a", encoding="utf-8")

    def append(self, judgment: Judgment) -> None:
        """Append one judgment and flush it to the operating system before returning.

        A flushed line survives the process being killed (SIGKILL included); it is
        fsync'd, against power loss, when the store is closed. An fsync per line cost
        about 4 ms, more than an HTTP judgment's own client time.
        """
        if self._handle is None:
            self.open_for_append()
        assert self._handle is not None
        self._handle.write(judgment.model_dump_json() + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def all_judgments(self) -> list[Judgment]:
        """Every stored line, in order (including superseded error lines)."""
        out: list[Judgment] = []
        for number, obj in _read_lines(self.judgments_path, lenient_tail=True):
            try:
                out.append(Judgment.model_validate(obj))
            except ValidationError as exc:
                raise DataError(str(exc), path=str(self.judgments_path), line=number) from exc
        return out

    def judgments(self) -> list[Judgment]:
        """The current judgment per ``(item_id, swapped, sample)``: the last line for each."""
        return latest_judgments(self.all_judgments())

    def judgment_columns(self) -> pd.DataFrame:
        """The current judgments as the columns a frame uses, every line validated.

        Same judgments and same errors as :meth:`judgments`, read column-wise by
        :func:`judge.columns.read_judgments` (a million lines in seconds, not
        the 48 s of one pydantic record per line); files it cannot read column-wise
        take the per-line path.
        """
        from judge.columns import judgment_columns, read_judgments

        columns = read_judgments(self.judgments_path)
        return judgment_columns(self.judgments()) if columns is None else columns

    def rewrite_judgments(self, judgments: Iterable[Judgment]) -> None:
        """Replace ``judgments.jsonl`` atomically (used by ``judge reparse``)."""
        atomic_write(self.judgments_path, "".join(j.model_dump_json() + "\n" for j in judgments))


def _read_lines(path: Path, *, lenient_tail: bool) -> Iterator[tuple[int, Any]]:
    if not path.exists():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            is_tail = number == len(lines) and not data.endswith(b"\n")
            if lenient_tail and is_tail:
                return  # a write cut off by a kill: not a finished record
            raise DataError(f"invalid JSON: {exc}", path=str(path), line=number) from exc
