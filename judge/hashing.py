"""Content hashes of JSON-able payloads (judge, request, run and preset identities).

A leaf module: everything that hashes a payload imports it, and it imports nothing of
ours, so hashing never pulls prompts, judges or backends into an import.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)


def canonical_json(payload: Any) -> str:
    """The canonical JSON of ``payload``: sorted keys, no spaces, UTF-8 kept as is.

    >>> canonical_json({"b": 1, "a": ["é", None]})
    '{"a":["é",null],"b":1}'
    """
    return _CANONICAL.encode(payload)


def sha256_text(text: str) -> str:
    """sha256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload`` (sorted keys, no spaces).

    >>> sha256_json({"b": 1, "a": [1, 2]}) == sha256_json({"a": [1, 2], "b": 1})
    True
    >>> sha256_json({})[:12]
    '44136fa355b3'
    """
    return sha256_text(canonical_json(payload))
