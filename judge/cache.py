"""A content-addressed response cache in SQLite.

Keys are :func:`judge.judges.request_key` hashes: the backend's output-relevant spec,
the rendered request (messages, generation parameters, verdict choices) and the sample
index. Anything that does not change the output (timeouts, concurrency, keys) is not
in the key. Only successful completions are stored: an error is never cached, so it is
retried next time.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from pydantic import ValidationError

from judge.backends.base import Completion
from judge.errors import StoreError


class ResponseCache:
    """``key -> Completion`` in one SQLite file, safe for several processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open cache {self.path}: {exc}") from exc
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT value FROM completions WHERE key = ?", (key,)).fetchone()
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
        self._db.execute(
            "INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)",
            (key, completion.model_dump_json(), time.time()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        self._db.close()
