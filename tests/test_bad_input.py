"""Bad input: every malformed row is a DataError naming the file, the line and the field.

Each case writes a small broken file (or a copy of a real dataset file with one
record broken) and checks the error's ``path``, ``line`` and ``field``. The lenient
cases check that ``lenient=true`` skips exactly the bad rows and counts them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from judge.benchmark import load_items
from judge.errors import DataError
from judge.outputs import ModelOutput, load_outputs, pair_outputs
from judge.registry import benchmarks

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"

GOOD = {"id": "1", "prompt": "2+2?", "response_a": "4", "response_b": "5", "label": "A"}


def jsonl(*rows: dict[str, Any] | str) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


@dataclass
class Case:
    """A broken input: files to write, the benchmark that reads them, the error expected."""

    files: dict[str, bytes]
    benchmark: str
    options: dict[str, Any]
    line: int | None
    field: str | None
    message: str
    error_file: str | None = None
    """The file the error must name (default: the first one written)."""


def table(
    name: str, content: bytes, line: int | None, field: str | None, message: str, **opts: Any
) -> Case:
    return Case({name: content}, "table", {"path": name, **opts}, line, field, message)


CASES: dict[str, Case] = {
    "jsonl missing field": table(
        "d.jsonl",
        jsonl(GOOD, {k: v for k, v in GOOD.items() if k != "response_b"} | {"id": "2"}),
        2,
        "response_b",
        "missing",
    ),
    "jsonl prompt wrong type": table(
        "d.jsonl", jsonl(GOOD | {"prompt": 42}), 1, "prompt", "expected a string or a list"
    ),
    "jsonl response wrong type": table(
        "d.jsonl",
        jsonl(GOOD, GOOD | {"id": "2", "response_a": {"text": "4"}}),
        2,
        "response_a",
        "expected a string, got dict",
    ),
    "jsonl duplicate id": table(
        "d.jsonl",
        jsonl(GOOD, GOOD | {"id": "2"}, GOOD),
        3,
        "id",
        "duplicate id '1' (first at line 1)",
    ),
    "jsonl empty response": table(
        "d.jsonl",
        jsonl(GOOD, GOOD | {"id": "2", "response_b": "  "}),
        2,
        "response_b",
        "empty response",
    ),
    "jsonl empty prompt": table(
        "d.jsonl", jsonl(GOOD | {"prompt": ""}), 1, "prompt", "empty prompt"
    ),
    "jsonl empty id": table("d.jsonl", jsonl(GOOD | {"id": " "}), 1, "id", "empty id"),
    "jsonl invalid utf-8": table(
        "d.jsonl", jsonl(GOOD) + b'{"id": "2", "prompt": "caf\xe9"}\n', 2, None, "invalid UTF-8"
    ),
    "jsonl truncated last line": table(
        "d.jsonl",
        jsonl(GOOD, GOOD | {"id": "2"}) + b'{"id": "3", "prompt": "x", "resp',
        3,
        None,
        "truncated last line",
    ),
    "jsonl invalid json mid-file": table(
        "d.jsonl", jsonl(GOOD, "{'id': '2'}", GOOD | {"id": "3"}), 2, None, "invalid JSON"
    ),
    "jsonl line not an object": table("d.jsonl", jsonl(GOOD, '["a", "b"]'), 2, None, "got list"),
    "jsonl unknown label value": table(
        "d.jsonl",
        jsonl(GOOD, GOOD | {"id": "2", "label": "C"}),
        2,
        "label",
        "unknown label value 'C'",
    ),
    "jsonl label wrong type": table(
        "d.jsonl", jsonl(GOOD | {"label": ["A"]}), 1, "label", "expected a label, got list"
    ),
    "jsonl mapped column missing": table(
        "d.jsonl",
        jsonl({"q": "2+2?", "x": "4", "y": "5"}, {"q": "3+3?", "x": "6"}),
        2,
        "y",
        "missing (response_b)",
        **{"map.prompt": "q", "map.response_a": "x", "map.response_b": "y"},
    ),
    "csv too few fields": table(
        "d.csv",
        b"id,prompt,response_a,response_b,label\n1,a,b,c,A\n2,a,b\n",
        3,
        None,
        "row has 3 fields",
    ),
    "csv invalid utf-8 in a cell": table(
        "d.csv",
        b"id,prompt,response_a,response_b\n1,a,b,c\n2,a,caf\xe9,c\n",
        3,
        "response_a",
        "invalid UTF-8",
    ),
    "csv unknown label in mapped column": table(
        "d.csv",
        b"id,question,r1,r2,winner\n1,q,a,b,A\n2,q,a,b,both\n",
        3,
        "winner",
        "unknown label value 'both'",
        **{
            "map.prompt": "question",
            "map.response_a": "r1",
            "map.response_b": "r2",
            "map.label": "winner",
        },
    ),
    "csv duplicate id after a multi-line cell": table(
        "d.csv",
        b'id,prompt,response_a,response_b\n1,"line one\nline two",a,b\n1,p,a,b\n',
        4,
        "id",
        "duplicate id",
    ),
    "csv score not a number": table(
        "s.csv", b"id,prompt,response,score\n1,p,r,4\n2,p,r,four\n", 3, "score", "expected a number"
    ),
    "csv score outside the scale": table(
        "s.csv",
        b"id,prompt,response,score\n1,p,r,4\n2,p,r,7\n",
        3,
        "score",
        "outside the scale",
        scale=[1, 5],
    ),
    "csv unterminated quote": table(
        "d.csv", b'id,prompt,response_a,response_b\n1,p,a,b\n2,"p,a,b\n', 3, None, "malformed CSV"
    ),
    "csv duplicate header": table(
        "d.csv", b"id,prompt,prompt,response_a,response_b\n1,p,p,a,b\n", 1, None, "duplicate column"
    ),
    "json array truncated": table(
        "d.json", b'[\n  {"id": "1", "prompt": "p",\n', 3, None, "truncated file"
    ),
    "json array record missing field": table(
        "d.json",
        b'[\n  {"id": "1", "prompt": "p", "response_a": "a", "response_b": "b"},\n'
        b'  {\n    "id": "2",\n    "prompt": "p",\n    "response_a": "a"\n  }\n]\n',
        3,
        "response_b",
        "missing",
    ),
    "sample benchmark bad label": Case(
        {"s.jsonl": jsonl(GOOD, GOOD | {"id": "2", "label": "B+"})},
        "sample",
        {"path": "s.jsonl"},
        2,
        "label",
        "unknown label value 'B+'",
    ),
    "mt_bench unknown winner": Case(
        {
            "votes.jsonl": jsonl(
                {
                    "question_id": 81,
                    "model_a": "m1",
                    "model_b": "m2",
                    "winner": "model_c",
                    "judge": "expert_0",
                    "turn": 1,
                    "conversation_a": [],
                    "conversation_b": [],
                }
            )
        },
        "mt_bench",
        {"judgments": "votes.jsonl"},
        1,
        "winner",
        "unknown label value 'model_c'",
    ),
    "mt_bench conversation too short": Case(
        {
            "votes.json": json.dumps(
                [
                    {
                        "question_id": 81,
                        "model_a": "m1",
                        "model_b": "m2",
                        "winner": "tie",
                        "judge": "expert_0",
                        "turn": 2,
                        "conversation_a": [
                            {"role": "user", "content": "q"},
                            {"role": "assistant", "content": "a"},
                        ],
                        "conversation_b": [],
                    }
                ],
                indent=1,
            ).encode()
        },
        "mt_bench",
        {"judgments": "votes.json"},
        2,
        "conversation_a",
        "fewer than 2 turn",
    ),
    "lm_eval multiple-choice samples": Case(
        {
            "samples_arc_2025.jsonl": jsonl(
                {
                    "doc_id": 0,
                    "doc": {},
                    "target": "1",
                    "filter": "none",
                    "metrics": ["acc"],
                    "acc": 1.0,
                    "arguments": {"gen_args_0": {"arg_0": "Q?", "arg_1": " yes"}},
                    "resps": [[["-1.2", "True"]]],
                    "filtered_resps": [["-1.2", "True"]],
                }
            )
        },
        "lm_eval",
        {"path": "samples_arc_2025.jsonl"},
        1,
        "filtered_resps",
        "generation task",
    ),
}


def _copy_and_break(tmp: Path, folder: str, name: str, old: str, new: str, count: int = 1) -> Path:
    """Copy a real dataset file into ``tmp/folder`` replacing the ``count``-th ``old``."""
    source = DATA / folder / name
    target = tmp / folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    pos = -1
    for _ in range(count):
        pos = text.index(old, pos + 1)
    target.write_text(text[:pos] + new + text[pos + len(old) :], encoding="utf-8")
    return target


def _record_line(path: Path, marker: str) -> int:
    """The line of the record whose first line after ``{`` contains ``marker``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, text in enumerate(lines, start=1):
        if marker in text and lines[number - 2].strip() == "{":
            return number - 1
    raise AssertionError(marker)


@dataclass
class RealCase:
    """A real dataset file with one record broken."""

    build: Callable[[Path], tuple[Path, int]]
    benchmark: str
    options: Callable[[Path], dict[str, Any]]
    field: str | None
    message: str


def _pandalm(old: str, new: str) -> Callable[[Path], tuple[Path, int]]:
    def build(tmp: Path) -> tuple[Path, int]:
        # record idx 5 starts on line 2 + 12 * 5 of the pretty-printed file
        text = (DATA / "pandalm" / "testset-v1.json").read_text(encoding="utf-8")
        start = text.index('"idx": 5,')
        offset = text.index(old, start)
        count = text[:offset].count(old) + 1
        line = _record_line(DATA / "pandalm" / "testset-v1.json", '"idx": 5,')
        return _copy_and_break(tmp, "pandalm", "testset-v1.json", old, new, count), line

    return build


def _first_record(
    folder: str, name: str, old: str, new: str, line: int
) -> Callable[[Path], tuple[Path, int]]:
    def build(tmp: Path) -> tuple[Path, int]:
        return _copy_and_break(tmp, folder, name, old, new), line

    return build


def _judgebench(tmp: Path) -> tuple[Path, int]:
    name = "dataset=judgebench,response_model=claude-3-5-sonnet-20240620.jsonl"
    path = _copy_and_break(tmp, "judgebench", name, '"label": "B>A"', '"label": "A=B"')
    lines = path.read_text(encoding="utf-8").splitlines()
    return path, next(n for n, t in enumerate(lines, start=1) if '"label": "A=B"' in t)


REAL_CASES: dict[str, RealCase] = {
    "pandalm vote out of range": RealCase(
        _pandalm('"annotator2": ', '"annotator2": 3, "was": '),
        "pandalm",
        lambda tmp: {"path": str(tmp / "pandalm")},
        "annotator2",
        "unknown label value 3",
    ),
    "pandalm missing response": RealCase(
        _pandalm('"response2": ', '"response_2": '),
        "pandalm",
        lambda tmp: {"path": str(tmp / "pandalm")},
        "response2",
        "missing field",
    ),
    "pandalm idx not an integer": RealCase(
        _pandalm('"idx": 5,', '"idx": "5",'),
        "pandalm",
        lambda tmp: {"path": str(tmp / "pandalm")},
        "idx",
        "expected an integer, got str",
    ),
    "llmbar label 0": RealCase(
        _first_record("llmbar", "LLMBar_Natural.json", '"label": ', '"label": 0, "x": ', 2),
        "llmbar",
        lambda tmp: {"path": str(tmp / "llmbar"), "subset": "natural"},
        "label",
        "unknown label value 0",
    ),
    "judgebench tie label": RealCase(
        _judgebench,
        "judgebench",
        lambda tmp: {"path": str(tmp / "judgebench"), "response_model": "claude"},
        "label",
        'unknown label value "A=B"',
    ),
    "evalbiasbench response not text": RealCase(
        _first_record(
            "evalbiasbench", "biasbench.json", '"response2": ', '"response2": 7, "x": ', 3
        ),
        "evalbiasbench",
        lambda tmp: {"path": str(tmp / "evalbiasbench")},
        "response2",
        "expected a string, got int",
    ),
    "topical_chat score not a number": RealCase(
        _first_record(
            "topical_chat_usr", "topical_chat.json", '"overall": ', '"overall": "high", "x": ', 2
        ),
        "topical_chat",
        lambda tmp: {"path": str(tmp / "topical_chat_usr")},
        "scores.overall",
        "expected a number, got str",
    ),
}


def _check(err: DataError, path: Path, line: int | None, field: str | None, message: str) -> None:
    assert err.path is not None and Path(err.path).name == path.name, str(err)
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    assert message in str(err)
    text = str(err)
    assert text.startswith(f"{err.path}:{line}: " if line is not None else f"{err.path}: ")
    if field is not None:
        assert f"field {field!r}" in text


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    for file_name, content in case.files.items():
        (tmp_path / file_name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    bench = benchmarks.get(case.benchmark)(**case.options)
    with pytest.raises(DataError) as err:
        load_items(bench)
    error_file = tmp_path / (case.error_file or next(iter(case.files)))
    _check(err.value, error_file, case.line, case.field, case.message)


@pytest.mark.parametrize("name", sorted(REAL_CASES))
def test_bad_real_data(name: str, tmp_path: Path) -> None:
    case = REAL_CASES[name]
    path, line = case.build(tmp_path)
    bench = benchmarks.get(case.benchmark)(**case.options(tmp_path))
    with pytest.raises(DataError) as err:
        load_items(bench)
    _check(err.value, path, line, case.field, case.message)


def test_pandalm_record_lines_are_where_the_records_start(tmp_path: Path) -> None:
    path, line = _pandalm('"annotator1": ', '"annotator1": -1, "x": ')(tmp_path)
    assert line == 2 + 12 * 5
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[line - 1].strip() == "{" and '"idx": 5,' in lines[line]


# -- model outputs ---------------------------------------------------------------------


def test_outputs_without_a_response_column(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(jsonl({"prompt": "p", "response": "r"}, {"prompt": "q", "reply": "r"}))
    with pytest.raises(DataError) as err:
        load_outputs(path)
    _check(err.value, path, 2, "response", "no response column")


def test_unmatched_outputs_are_an_error_when_strict() -> None:
    a = [ModelOutput(prompt_id=str(i), prompt=f"p{i}", response="x") for i in range(3)]
    b = [ModelOutput(prompt_id=str(i), prompt=f"p{i}", response="y") for i in range(2)]
    with pytest.raises(DataError, match=r"1 prompt\(s\) have no output in B \(e.g. '2'\)"):
        pair_outputs(a, b)
    assert [p.id for p in pair_outputs(a, b, strict=False)] == ["0", "1"]
    with pytest.raises(DataError, match="appears twice"):
        pair_outputs([*a, a[0]], a)


# -- lenient loading -------------------------------------------------------------------


def test_lenient_jsonl_skips_and_counts_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        jsonl(
            GOOD,
            GOOD | {"id": "2", "label": "C"},  # unknown label
            GOOD | {"id": "3"},
            GOOD | {"id": "3"},  # duplicate id
            GOOD | {"id": "4", "response_a": ""},  # empty response
            "{not json",
            GOOD | {"id": "5"},
        )
        + b'{"id": "6", "pro'  # truncated last line
    )
    bench = benchmarks.get("table")(path=str(path), lenient=True)
    items = load_items(bench)
    assert [i.id for i in items] == ["1", "3", "5"]
    assert [(e.line, e.field) for e in bench.skipped] == [
        (2, "label"),
        (4, "id"),
        (5, "response_a"),
        (6, None),
        (8, None),
    ]
    with pytest.raises(DataError):  # the same file is an error without lenient
        load_items(benchmarks.get("table")(path=str(path)))


def test_lenient_csv_skips_bad_rows_and_keeps_going(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(
        b"id,prompt,response_a,response_b,label\n1,p,a,b,A\n2,p,caf\xe9,b,B\n3,p,a\n4,p,a,b,tie\n"
    )
    bench = benchmarks.get("table")(path=str(path), lenient="true")
    items = load_items(bench)
    assert [i.id for i in items] == ["1", "4"]
    assert [(e.line, e.field) for e in bench.skipped] == [(3, "response_a"), (4, None)]


def test_lenient_does_not_hide_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_items(benchmarks.get("table")(path=str(tmp_path / "nope.csv"), lenient=True))


def test_real_file_copy_is_untouched_when_not_broken(tmp_path: Path) -> None:
    """The copy helper itself: an unbroken copy loads like the original."""
    target = tmp_path / "evalbiasbench"
    target.mkdir()
    shutil.copy(DATA / "evalbiasbench" / "biasbench.json", target)
    assert len(load_items(benchmarks.get("evalbiasbench")(path=str(target)))) == 80
