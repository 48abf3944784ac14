"""The results store: one folder per run.

``results/<run>/`` holds

- ``manifest.json``: the :class:`~judge.records.RunManifest`, replaced atomically;
- ``items.jsonl``: the judged items, written once (atomically) when the run starts,
  so a run can be analysed without its benchmark's source files;
- ``judgments.jsonl``: one :class:`~judge.records.Judgment` per line, appended and
  flushed per judgment (fsync'd when the store closes);
- ``run.lock``: the lock a process holds while it writes the run (:class:`RunLock`),
  with the holder's pid, host and start time.

A run killed mid-write can leave a partial last line; opening the store for appending
cuts it off (it was never a finished judgment). Errors are retried on resume, so a key
can have an ``error`` line followed by its final line: readers take the last line per
``(item_id, swapped, sample)``, which is what :meth:`RunStore.judgments` returns.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from judge.errors import DataError, RunLockedError, StoreError, validation_text
from judge.records import Counts, Item, Judgment, PairItem, RunManifest, SingleItem, utcnow

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
    """How many judgments of each status (and cache hits, shared replies) there are."""
    counts = {"total": 0, "ok": 0, "unparsed": 0, "error": 0, "cache_hits": 0, "coalesced": 0}
    for j in judgments:
        counts["total"] += 1
        counts[j.status] += 1
        counts["cache_hits"] += j.cache_hit
        counts["coalesced"] += j.coalesced
    return Counts(**counts)


def write_error(path: Path, exc: OSError) -> StoreError:
    """A one-line :class:`StoreError` for a failed write of ``path``, saying what to do.

    >>> str(write_error(Path("r/judgments.jsonl"), OSError(28, "No space left on device")))
    'cannot write r/judgments.jsonl: No space left on device; free some space and run the same command again (what is stored is kept)'
    """  # noqa: E501
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some space and run the same command again (what is stored is kept)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "make it writable, or write the results elsewhere with -o"
    else:
        hint = ""
    return StoreError(f"cannot write {path}: {reason}" + (f"; {hint}" if hint else ""))


def _umask() -> int:
    """The process's umask (read from /proc where it can be, to leave the mask alone)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: Path) -> int:
    """The mode a rewrite of ``path`` gets: the file's own, or what ``open()`` would give."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_umask()


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    The file gets the mode ``open()`` would give it (``mkstemp`` alone gives 0600) or,
    when it exists, keeps its own. A failed write is a one-line :class:`StoreError`.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), new_file_mode(path))
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


class RunLock:
    """An exclusive lock on a run folder, so only one process writes it.

    It is an OS lock (``flock``) on ``<run>/run.lock``: the kernel releases it when the
    holder exits, however it exits (SIGKILL included), so a stale lock never blocks a
    rerun. The file records the holder's pid, host and start time for the message
    another process shows.
    """

    NAME = "run.lock"

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / self.NAME
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; ``False`` when another process holds it."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise write_error(self.path, exc) from exc
        self._fd = fd
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": _now()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        except OSError:
            pass  # the lock holds without the note (a full disk); the message says less
        return True

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it (``another process`` if unknown)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']}, started {info['started_at']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def locked_error(self) -> RunLockedError:
        """The error for finding the lock held."""
        return RunLockedError(
            f"{self.path.parent} is being run by another judge process ({self.holder()}); "
            "wait for it to finish, stop it, or pass --wait to start when it ends"
        )

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race with a waiter)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


class RunStore:
    """Read and write one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._size = 0
        self.appended = 0
        """Judgments this object appended (since it was made)."""

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
            raise DataError(
                f"invalid manifest: {validation_text(exc)}", path=str(self.manifest_path)
            ) from exc

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
                raise DataError(
                    validation_text(exc), path=str(self.items_path), line=number
                ) from exc
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
        path = self.judgments_path
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if path.exists():
                data = path.read_bytes()
                if data and not data.endswith(b"\n"):
                    keep = data.rfind(b"\n") + 1
                    with path.open("r+b") as handle:
                        handle.truncate(keep)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise write_error(path, exc) from exc
        self._fd = fd
        self._size = os.fstat(fd).st_size

    def append(self, judgment: Judgment) -> None:
        """Append one judgment and hand it to the operating system before returning.

        A written line survives the process being killed (SIGKILL included); it is
        fsync'd, against power loss, when the store is closed. An fsync per line cost
        about 4 ms, more than an HTTP judgment's own client time. A write that fails
        (disk full) is cut off again, so no partial line is left behind.
        """
        if self._fd is None:
            self.open_for_append()
        assert self._fd is not None
        line = (judgment.model_dump_json() + "\n").encode("utf-8")
        start = self._size
        try:
            left = memoryview(line)
            while left:
                left = left[os.write(self._fd, left) :]
        except OSError as exc:
            with contextlib.suppress(OSError):  # else the next open cuts the partial line
                os.ftruncate(self._fd, start)
            raise write_error(self.judgments_path, exc) from exc
        self._size = start + len(line)
        self.appended += 1

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            raise write_error(self.judgments_path, exc) from exc
        finally:
            os.close(fd)

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
                raise DataError(
                    validation_text(exc), path=str(self.judgments_path), line=number
                ) from exc
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
