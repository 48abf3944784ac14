"""A content-addressed response cache in SQLite.

Keys are :func:`judge.judges.request_key` hashes: the backend's output-relevant spec,
the rendered request (messages, generation parameters, verdict choices) and the sample
index. Anything that does not change the output (timeouts, concurrency, keys) is not
in the key. Only successful completions are stored: an error (or an empty reply) is
never cached, so it is retried next time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from pydantic import ValidationError

from judge.backends.base import Completion
from judge.errors import StoreError
from judge.records import utcnow

_DAMAGED = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_NO_SPACE = frozenset({"SQLITE_FULL"})

FLUSH_EVERY = 256
"""Completions held in memory before they are written in one transaction."""
FLUSH_SECONDS = 1.0
"""...or after this long, whichever comes first (and always on close)."""


class ResponseCache:
    """``key -> Completion`` in one SQLite file, safe for several processes.

    Writes are grouped: :meth:`put` holds a completion in memory and writes up to
    :data:`FLUSH_EVERY` of them in one transaction, so a fast HTTP judge does not pay a
    commit per reply. Held completions are also written :data:`FLUSH_SECONDS` after the
    first of them arrived: by a timer on the running event loop (so a reply is on disk
    within about a second even when no other reply follows), or by the next :meth:`put`
    outside an event loop; and always on :meth:`close`. :meth:`get` sees held
    completions. A killed process loses at most the last second's entries, which only
    costs their requests again; the run's judgments are in its own store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot open cache {self.path}: {exc.strerror}") from exc
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error("open", exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error("open", exc) from exc
        self.hits = 0
        self.misses = 0
        self._held: dict[str, Completion] = {}
        self._held_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_error: StoreError | None = None

    def get(self, key: str) -> Completion | None:
        held = self._held.get(key)
        if held is not None:
            self.hits += 1
            return held
        try:
            row = self._db.execute("SELECT value FROM completions WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        if row is None:
            self.misses += 1
            return None
        try:
            completion = Completion.model_validate_json(row[0])
        except ValidationError:
            self.misses += 1
            return None  # written by an incompatible version: treat as absent
        self.hits += 1
        return completion

    def put(self, key: str, completion: Completion) -> None:
        """Hold ``completion`` for the next grouped write; an empty reply is not kept."""
        if completion.empty:
            return
        self._raise_timer_error()
        now = time.monotonic()
        if not self._held:
            self._held_since = now
            self._start_timer()
        self._held[key] = completion
        if len(self._held) >= FLUSH_EVERY or now - self._held_since >= FLUSH_SECONDS:
            self.flush()

    def _start_timer(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: the next put or close writes
            return
        self._timer = loop.call_later(FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        self._timer = None
        try:
            self.flush()
        except StoreError as exc:  # raised from the next put or close, not the loop
            self._timer_error = exc

    def _raise_timer_error(self) -> None:
        if self._timer_error is not None:
            error, self._timer_error = self._timer_error, None
            raise error

    def flush(self) -> None:
        """Write the held completions in one transaction."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._held:
            return
        now = time.time()
        rows = [(k, c.model_dump_json(), now) for k, c in self._held.items()]
        try:
            with self._db:  # one transaction
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        self._held.clear()

    def __len__(self) -> int:
        self.flush()
        try:
            return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def close(self) -> None:
        try:
            self.flush()
            self._raise_timer_error()
        finally:
            self._db.close()

    def _error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        """A one-line error for a failed cache operation, saying what to do."""
        name = getattr(exc, "sqlite_errorname", "")
        if name in _DAMAGED:
            return StoreError(
                f"the response cache {self.path} is damaged ({exc}); run again with "
                "--fresh-cache to move it aside and start an empty one, or with --no-cache"
            )
        hint = (
            "free some space and run the same command again"
            if name in _NO_SPACE
            else "make it writable, or run again with --no-cache"
        )
        return StoreError(f"cannot {doing} the response cache {self.path}: {exc}; {hint}")


def move_aside(path: str | Path) -> Path | None:
    """Rename a cache file (and its WAL files) to ``<name>.broken-<time>``; the new name,
    or ``None`` when there was no cache. The next run starts an empty cache."""
    path = Path(path)
    if not path.exists():
        return None
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    try:
        for suffix in ("-wal", "-shm", ""):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(f"cannot move the cache {path} aside: {exc.strerror}") from exc
    return target
