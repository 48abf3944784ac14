"""Records shared by the analysis tests."""

from __future__ import annotations

from typing import Any

from judge.records import Judgment


def make_judgment(
    item_id: str, *, judge: str = "j", request_key: str | None = None, **fields: Any
) -> Judgment:
    """A judgment of ``item_id`` by ``judge`` (judge hash ``"h"``; the request key is the
    item id unless given); ``fields`` are the rest of :class:`~judge.records.Judgment`."""
    return Judgment(
        item_id=item_id,
        judge=judge,
        judge_hash="h",
        request_key=item_id if request_key is None else request_key,
        **fields,
    )
