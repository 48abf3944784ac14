"""Loading checks the whole input: `--limit` still reads and checks every row, and the
row helpers of judge.formats raise DataError (or hand it to on_error) instead of yielding it."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge.benchmark import load_items
from judge.errors import DataError
from judge.formats import delimited_rows, jsonl_rows, table_rows
from judge_benchmarks.sample import SampleBenchmark


def test_limit_still_checks_every_row(tmp_path: Path) -> None:
    source = SampleBenchmark()._path().read_text(encoding="utf-8").splitlines()
    path = tmp_path / "sample.jsonl"
    path.write_text("\n".join([*source[:5], source[5].replace('"label": "', '"label": "X')]) + "\n")
    with pytest.raises(DataError) as err:
        load_items(SampleBenchmark(path=str(path)), limit=2)
    assert err.value.line == 6
    assert [i.id for i in load_items(SampleBenchmark(), limit=3)] == [
        "arith-01",
        "arith-02",
        "arith-03",
    ]


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("t.jsonl", '{"a": 1}\n[2]\n', 2),
        ("t.jsonl", '{"a": 1}\n{"a": \n{"a": 3}\n', 2),
        ("t.csv", "a,b\n1,2\n3\n", 3),
        ("t.json", '[{"a": 1},\n 5]', 2),
    ],
)
def test_row_helpers_raise_or_hand_over(tmp_path: Path, name: str, content: str, line: int) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as err:
        list(table_rows(path))
    assert err.value.line == line and err.value.path == str(path)
    errors: list[DataError] = []
    rows = list(table_rows(path, on_error=errors.append))
    assert all(isinstance(row, dict) for _, row in rows)
    assert [e.line for e in errors] == [line]


def test_specific_helpers_share_the_convention(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text("[1]\n")
    with pytest.raises(DataError, match="JSON object"):
        list(jsonl_rows(bad))
    csv = tmp_path / "t.csv"
    csv.write_text("a\n1,2\n")
    with pytest.raises(DataError, match="fields but the header"):
        list(delimited_rows(csv))
