"""Reply parsers: judge reply text -> verdict (in *presented* order) or score, or None.

Each parser is a pure function ``(text) -> ParsedReply | None`` with doctests. ``None``
means the reply holds no verdict: the judgment becomes ``unparsed`` with its raw text,
never a tie or a loss. Parsers work in presented order ("A" = the response shown
first); the judge maps the result to canonical order.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from judge.records import Record, Verdict


class ParsedReply(Record):
    """What a parser read from a reply."""

    verdict: Verdict | None = None
    """Pairwise verdict, presented order."""
    score: float | None = None
    """Single-answer score."""
    scores: tuple[float, float] | None = None
    """Scores of the first and second shown response (JudgeLM-style), presented order."""
    reason: str | None = None
    """The judge's explanation, where the format separates it."""


Parser = Callable[[str], ParsedReply | None]

_LETTER = re.compile(r"^[^A-Za-z0-9]*\(?([ABC])\)?(?![A-Za-z0-9])")


def letter(text: str) -> ParsedReply | None:
    """A reply that starts with the letter A, B or C (C = tie).

    >>> letter("A").verdict, letter(" B.").verdict, letter("C").verdict
    ('A', 'B', 'tie')
    >>> letter("Both are fine") is None
    True
    """
    match = _LETTER.match(text.strip())
    if not match:
        return None
    return ParsedReply(verdict=_ABC[match.group(1)])


_ABC: dict[str, Verdict] = {"A": "A", "B": "B", "C": "tie"}

PARSERS: dict[str, Parser] = {
    "letter": letter,
}


def get_parser(name: str) -> Parser:
    """The parser called ``name``."""
    from judge.errors import UnknownNameError

    if name not in PARSERS:
        import difflib

        close = difflib.get_close_matches(name, list(PARSERS), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(f"unknown parser {name!r}{hint}")
    return PARSERS[name]
