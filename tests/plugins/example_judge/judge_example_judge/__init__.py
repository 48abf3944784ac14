"""An example preset plugin: the ``yes_no`` preset and the ``first_or_second`` parser."""

from __future__ import annotations

from judge.parsers import ParsedReply


def first_or_second(text: str) -> ParsedReply | None:
    """``FIRST`` -> A, ``SECOND`` -> B, ``SAME`` -> tie; anything else is unparsed.

    >>> first_or_second("I pick SECOND.").verdict
    'B'
    """
    upper = text.upper()
    for word, verdict in (("FIRST", "A"), ("SECOND", "B"), ("SAME", "tie")):
        if word in upper:
            return ParsedReply(verdict=verdict)
    return None
