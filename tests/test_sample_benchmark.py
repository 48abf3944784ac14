"""The bundled sample benchmark: size, balance and the length-trap design."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from judge.benchmark import load_items
from judge.errors import DataError
from judge.records import PairItem
from judge.registry import benchmarks

SAMPLE = Path(__file__).parents[1] / "benchmarks" / "data" / "sample.jsonl"
CATEGORIES = {
    "arithmetic",
    "facts",
    "code",
    "instruction_following",
    "safety",
    "tie",
    "length_trap",
}


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]


def test_size_ids_and_keys(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 60
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    keys = {"id", "category", "prompt", "response_a", "response_b", "label", "why"}
    assert all(set(r) == keys for r in rows)
    assert all(r[k].strip() for r in rows for k in keys)


def test_every_category_present(rows: list[dict[str, str]]) -> None:
    assert {r["category"] for r in rows} == CATEGORIES


def test_label_balance(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["label"] for r in rows)
    assert set(counts) <= {"A", "B", "tie"}
    decided = counts["A"] + counts["B"]
    assert 0.35 <= counts["A"] / decided <= 0.65
    assert 0.35 <= counts["B"] / decided <= 0.65
    assert counts["tie"] >= 5
    # ties are exactly the tie category
    assert all((r["label"] == "tie") == (r["category"] == "tie") for r in rows)


def test_length_traps_favour_the_shorter_answer(rows: list[dict[str, str]]) -> None:
    traps = [r for r in rows if r["category"] == "length_trap"]
    shorter_wins = 0
    for r in traps:
        shorter = "A" if len(r["response_a"]) < len(r["response_b"]) else "B"
        shorter_wins += r["label"] == shorter
    assert shorter_wins >= 8


def test_loads_through_registry(rows: list[dict[str, str]]) -> None:
    items = load_items(benchmarks.get("sample")())
    assert len(items) == len(rows)
    assert all(isinstance(i, PairItem) and i.benchmark == "sample" for i in items)
    by_id = {i.id: i for i in items}
    for r in rows:
        item = by_id[r["id"]]
        assert isinstance(item, PairItem)
        assert item.label == r["label"]
        assert item.category == r["category"]
        assert item.metadata["why"] == r["why"]


def test_bad_label_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    row = {"id": "x", "prompt": "p", "response_a": "a", "response_b": "b", "label": "C"}
    bad.write_text(json.dumps({**row, "label": "A"}) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError) as err:
        load_items(benchmarks.get("sample")(path=str(bad)))
    assert err.value.line == 2 and str(bad) in str(err.value)
