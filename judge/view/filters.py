"""The viewer's URL scheme: which items a list page shows, as query parameters.

``/?run=RUN_ID&verdict=unparsed`` lists the pairs of run ``RUN_ID`` whose pair outcome is
``unparsed``; ``/item?run=RUN_ID&id=ITEM_ID`` is one item. The report builds the same
URLs (:func:`list_url`) to link each count to the items behind it. Parameters:

- ``run``: the run (its manifest ``run_id``) whose judgments the filters below test and
  the list shows first; default: the first run the viewer was started on;
- ``q``: text search (case-insensitive substring) in the item id, prompt, responses and
  the judge's raw replies;
- ``disagree=1``: the pair outcome differs from the human majority (or gold) label
  (labelled pairs only; an unparsed or errored pair counts as disagreeing, as in the
  report's default ``--failures wrong``);
- ``position``: ``flip`` (both orders ok, A in one and B in the other), ``inconsistent``
  (both orders ok, any different verdict, ties included), ``consistent``;
- ``status``: ``ok``, ``unparsed``, ``error`` or ``failed`` (unparsed or error): at least
  one order's judgment has it;
- ``verdict``: the pair outcome under the run's reconcile policy: ``A``, ``B``, ``tie``, or
  ``unparsed`` / ``error`` when the pair has no verdict (the report's confusion columns);
- ``label``: the human majority (or gold) label ``A``, ``B``, ``tie``, or ``none``;
- ``category``; ``gap_min`` / ``gap_max``: ``|len(response_a) - len(response_b)|`` in
  characters, inclusive;
- ``judges_disagree=1`` (two or more runs): another run's pair outcome on the item differs;
- ``sort`` (``item``, ``gap``, ``p_a``, ``category``, ``verdict``, ``label``, ``status``),
  ``desc=1``, ``page`` (from 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal
from urllib.parse import urlencode

from pydantic import Field, ValidationError

from judge.errors import ConfigError, validation_text
from judge.records import Record

Sort = Literal["item", "gap", "p_a", "category", "verdict", "label", "status"]

DEFAULT_VIEWER_URL = "http://127.0.0.1:8765"
"""Where ``judge view`` listens by default, and where report links point by default."""


class ItemFilter(Record):
    """One list page of the viewer: filters, sort order and page (see the module docstring)."""

    run: str | None = None
    """The focused run's id (default: the first run)."""
    q: str = ""
    """Case-insensitive text search."""
    disagree: bool = False
    """Only pairs whose outcome differs from the human label."""
    position: Literal["flip", "inconsistent", "consistent"] | None = None
    """How the two orders' verdicts relate."""
    status: Literal["ok", "unparsed", "error", "failed"] | None = None
    """A status that at least one order's judgment has."""
    verdict: Literal["A", "B", "tie", "unparsed", "error"] | None = None
    """The pair outcome under the run's reconcile policy."""
    label: Literal["A", "B", "tie", "none"] | None = None
    """The human majority (or gold) label; ``none``: no majority or no label."""
    category: str | None = None
    """The item's category."""
    gap_min: int | None = Field(default=None, ge=0)
    """Smallest length gap in characters."""
    gap_max: int | None = Field(default=None, ge=0)
    """Largest length gap in characters."""
    judges_disagree: bool = False
    """Only items on which another open run's pair outcome differs."""
    sort: Sort = "item"
    """Sort key (``item``: the order of items.jsonl)."""
    desc: bool = False
    """Sort descending."""
    page: int = Field(default=1, ge=1)
    """Page number, from 1."""

    def query(self, **changes: object) -> str:
        """The query string of this filter (with ``changes``), default values left out.

        >>> ItemFilter(run="r1", verdict="unparsed").query()
        'run=r1&verdict=unparsed'
        >>> ItemFilter(disagree=True, page=3).query(page=1)
        'disagree=1'
        """
        data = self.model_dump()
        data.update(changes)
        defaults = ItemFilter().model_dump()
        pairs: list[tuple[str, str]] = []
        for name, value in data.items():
            if value == defaults[name] or value is None:
                continue
            pairs.append((name, "1" if value is True else str(value)))
        return urlencode(pairs)

    @classmethod
    def from_query(cls, params: Mapping[str, Sequence[str]]) -> ItemFilter:
        """Parse ``urllib.parse.parse_qs`` output; empty values count as absent.

        >>> ItemFilter.from_query({"position": ["flip"], "category": [""], "desc": ["on"]})
        ItemFilter(run=None, q='', disagree=False, position='flip', status=None, ...)
        """
        values: dict[str, str] = {}
        for name, given in params.items():
            if len(given) > 1:
                raise ConfigError(f"query parameter {name!r} is given {len(given)} times")
            if given and given[0] != "":
                values[name] = given[0]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(validation_text(exc, root="query")) from exc

    def __repr__(self) -> str:  # short enough for a doctest
        shown = ", ".join(f"{k}={v!r}" for k, v in list(self.model_dump().items())[:5])
        return f"ItemFilter({shown}, ...)"


def list_url(base: str, **filters: object) -> str:
    """The viewer URL of the items matching ``filters`` (names as in :class:`ItemFilter`).

    >>> list_url("http://127.0.0.1:8765", run="sample-x", position="flip")
    'http://127.0.0.1:8765/?run=sample-x&position=flip'
    """
    query = ItemFilter.model_validate(filters).query()
    return f"{base.rstrip('/')}/?{query}" if query else f"{base.rstrip('/')}/"


def item_url(base: str, run: str, item_id: str, sample: int = 0) -> str:
    """The viewer URL of one item.

    >>> item_url("http://127.0.0.1:8765", "r", "a b")
    'http://127.0.0.1:8765/item?run=r&id=a+b'
    """
    pairs = [("run", run), ("id", item_id)] + ([("sample", str(sample))] if sample else [])
    return f"{base.rstrip('/')}/item?{urlencode(pairs)}"
