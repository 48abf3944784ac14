"""One majority rule: the unique most common vote, else no majority.

``judge.records.majority`` states it; the analysis' array form, the viewer's SQL and the
jury's vote must agree with it on every combination of votes (the jury turns "no
majority" into its ``tie`` verdict, as documented in ``judge.jury``).
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np

from judge.analysis.frame import CODE_MISSING, majority_codes
from judge.jury import majority_verdict
from judge.records import VERDICTS, Verdict, majority
from judge.view.data import _MAJORITY

CODES: dict[Verdict, int] = {"B": 0, "tie": 1, "A": 2}  # frame.verdict_codes' order


def every_vote_list(most: int = 4) -> list[tuple[Verdict, ...]]:
    return [
        votes
        for n in range(most + 1)
        for votes in itertools.combinations_with_replacement(VERDICTS, n)
    ]


def test_the_rule_on_examples() -> None:
    assert majority(["A", "B", "A"]) == "A"
    assert majority(["tie", "tie", "A"]) == "tie"
    assert majority(["A", "B"]) is None  # equally common leaders: no majority
    assert majority(["A", "A", "B", "B", "tie"]) is None
    assert majority([]) is None


def test_every_implementation_follows_it() -> None:
    cases = every_vote_list()
    assert len(cases) == 35
    counts = np.array([[v.count("B"), v.count("tie"), v.count("A")] for v in cases])
    codes = majority_codes(counts)
    sql = duckdb.sql(
        "SELECT "
        + _MAJORITY
        + " FROM (VALUES "
        + ", ".join(f"({i}, {c[2]}, {c[0]}, {c[1]})" for i, c in enumerate(counts))
        + ") AS t(i, n_a, n_b, n_tie) ORDER BY i"
    ).fetchall()
    for votes, code, (in_sql,) in zip(cases, codes, sql, strict=True):
        expected = majority(votes)
        assert code == (CODES[expected] if expected else CODE_MISSING), votes
        assert in_sql == expected, votes
        assert majority_verdict(votes) == (expected or ("tie" if votes else None)), votes
