"""`judge import table`: any judge's verdicts for any registered benchmark, every input
shape, the value map, bad rows named by file, line and field, and a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from judge.analysis.frame import load_frame
from judge.analysis.report import build_report
from judge.benchmark import load_items
from judge.cli import app
from judge.errors import ConfigError, DataError
from judge.importers import ImportRequest, run_import
from judge.records import Judgment, PairItem, RunConfig, RunManifest, Verdict
from judge.store import RunStore
from judge.table_import import TableImporter, export_judgments

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def sample_items() -> list[PairItem]:
    from judge_benchmarks.sample import SampleBenchmark

    return [i for i in load_items(SampleBenchmark()) if isinstance(i, PairItem)]


def read(path: Path, *extra: Path, lenient: bool = False, **options: object) -> list[Judgment]:
    request = ImportRequest(
        sources=tuple(str(p) for p in (path, *extra)), benchmark="sample", lenient=lenient
    )
    (run,) = TableImporter(**options).read(request)
    return list(run.judgments)


def by_key(judgments: list[Judgment]) -> dict[tuple[str, bool], Judgment]:
    return {(j.item_id, j.swapped): j for j in judgments}


# -- shape (a): rows keyed by item id ------------------------------------------------------


def test_csv_rows_with_order_and_presented_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text(
        "id,order,verdict\narith-01,original,A\narith-01,swapped,A\narith-02,original,\n"
    )
    got = by_key(read(path, swapped="presented"))
    assert got["arith-01", False].verdict == "A"
    assert got["arith-01", True].verdict == "B"  # saw B first and picked it: canonical B
    assert got["arith-02", False].status == "unparsed" and got["arith-02", False].verdict is None


def test_canonical_swapped_rows_are_not_flipped(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps({"id": "arith-01", "order": "swapped", "verdict": "A"}) + "\n")
    assert read(path, swapped="canonical")[0].verdict == "A"


def test_swapped_rows_must_say_which_order_their_answer_is_in(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps({"id": "arith-01", "order": "swapped", "verdict": "A"}) + "\n")
    with pytest.raises(DataError, match="swapped=presented") as err:
        read(path)
    assert err.value.line == 1 and err.value.field == "order"


def test_probability_rows(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    rows = [
        {"id": "arith-01", "order": "original", "p_a": 0.8},
        {"id": "arith-01", "order": "swapped", "p_a": 0.3},  # P(first shown) = P(B)
        {"id": "arith-02", "order": 0, "p_a": 0.5},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = by_key(read(path, swapped="presented"))
    assert got["arith-01", False].probabilities == {"A": 0.8, "B": pytest.approx(0.2)}
    assert got["arith-01", False].verdict == "A"
    assert got["arith-01", True].probabilities == {"A": pytest.approx(0.7), "B": 0.3}
    assert got["arith-01", True].verdict == "A"
    assert got["arith-02", False].verdict == "tie"


def test_two_scores_per_pair_and_custom_columns(tmp_path: Path) -> None:
    path = tmp_path / "v.tsv"
    path.write_text("qid\tshown\tr1\tr2\narith-01\tAB\t7\t3\narith-03\tAB\t2\t2\n")
    with pytest.raises(DataError, match="unknown order 'AB'"):
        read(path, id="qid", order="shown", score_a="r1", score_b="r2")
    path.write_text("qid\tshown\tr1\tr2\narith-01\t1\t7\t3\narith-03\t0\t2\t2\n")
    got = by_key(
        read(path, id="qid", order="shown", score_a="r1", score_b="r2", swapped="presented")
    )
    assert got["arith-01", True].scores == (3.0, 7.0) and got["arith-01", True].verdict == "B"
    assert got["arith-03", False].verdict == "tie"


@pytest.mark.parametrize(
    ("encoding", "values"),
    [  # value maps of two common encodings; first, second, tie in presented order
        ({"1": "A", "2": "B", "0": "tie"}, ("1", "2", "0")),
        ({"0": "A", "1": "B", "2": "tie"}, ("0", "1", "2")),
    ],
)
def test_lines_with_a_value_map_and_a_swapped_file(
    tmp_path: Path, sample_items: list[PairItem], encoding: dict[str, str], values: tuple[str, ...]
) -> None:
    n = len(sample_items)
    first, second, tie = values
    original = tmp_path / "original.txt"
    swapped = tmp_path / "swapped.txt"
    original.write_text("\n".join([first, second, tie, *([first] * (n - 3))]) + "\n")
    swapped.write_text("\n".join([first, second, "", *([second] * (n - 3))]) + "\n")
    got = by_key(read(original, swapped, map=encoding))
    ids = [i.id for i in sample_items]
    assert [got[ids[k], False].verdict for k in range(3)] == ["A", "B", "tie"]
    # the swapped file is in presented order: first shown = B
    assert [got[ids[k], True].verdict for k in range(2)] == ["B", "A"]
    assert got[ids[2], True].status == "unparsed"
    assert got[ids[3], True].verdict == "A"
    assert len(got) == 2 * n


def test_lines_must_cover_every_item(tmp_path: Path, sample_items: list[PairItem]) -> None:
    path = tmp_path / "v.txt"
    path.write_text("A\n" * (len(sample_items) - 1))
    with pytest.raises(DataError, match="verdict lines for") as err:
        read(path)
    assert err.value.line == len(sample_items)


def test_single_answer_scores_on_topical_chat(tmp_path: Path) -> None:
    from judge_benchmarks.topical_chat import TopicalChatBenchmark

    items = load_items(TopicalChatBenchmark(path=str(DATA / "topical_chat_usr")))
    path = tmp_path / "scores.csv"
    path.write_text("id,score\n" + "".join(f"{i.id},{k % 5 + 1}\n" for k, i in enumerate(items)))
    request = ImportRequest(
        sources=(str(path),),
        benchmark="topical_chat",
        benchmark_args={"path": str(DATA / "topical_chat_usr")},
    )
    (run,) = TableImporter().read(request)
    assert len(run.judgments) == 360 and run.judgments[7].score == 3.0


def test_unknown_ids_fail_unless_lenient(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("id,verdict\narith-01,A\nnope,B\nnope-2,B\n")
    with pytest.raises(DataError, match="not in the benchmark") as err:
        read(path)
    assert (err.value.line, err.value.field) == (3, "id")
    request = ImportRequest(sources=(str(path),), benchmark="sample", lenient=True)
    (run,) = TableImporter().read(request)
    assert len(run.judgments) == 1 and run.details["skipped_unknown_ids"] == 2
    assert any("skipped 2 rows" in m for m in run.messages)


# -- bad rows: every one names file, line and field -----------------------------------------

BAD_ROWS: list[tuple[str, str, dict[str, object], int | None, str | None, str]] = [
    # (file name, content, options, line, field, message fragment)
    ("v.csv", "id,verdict\narith-01,C\n", {}, 2, "verdict", "unknown verdict 'C'"),
    ("v.csv", "id,verdict\narith-01,1\n", {"map": {"0": "A"}}, 2, "verdict", "unknown verdict"),
    ("v.csv", "id,verdict\n,A\n", {}, 2, "id", "missing item id"),
    ("v.csv", "id,verdict\nnope,A\n", {}, 2, "id", "not in the benchmark"),
    ("v.csv", "item,verdict\narith-01,A\n", {}, 2, "id", "no item id column"),
    ("v.csv", "id,answer\narith-01,A\n", {}, 2, None, "no answer column"),
    ("v.csv", "id,verdict\narith-01,A\narith-01,B\n", {}, 3, None, "second verdict"),
    ("v.csv", "id,order,verdict\narith-01,sideways,A\n", {}, 2, "order", "unknown order"),
    ("v.csv", "id,order,verdict\narith-01,swapped,A\n", {}, 2, "order", "swapped=presented"),
    ("v.csv", "id,sample,verdict\narith-01,-1,A\n", {}, 2, "sample", "sample index"),
    ("v.csv", "id,sample,verdict\narith-01,x,A\n", {}, 2, "sample", "sample index"),
    ("v.csv", "id,p_a\narith-01,1.5\n", {}, 2, "p_a", "in [0, 1]"),
    ("v.csv", "id,p_a\narith-01,high\n", {}, 2, "p_a", "expected a number"),
    ("v.csv", "id,p_a,p_tie\narith-01,0.8,0.5\n", {}, 2, "p_a", "more than 1"),
    ("v.csv", "id,p_a\narith-01,nan\n", {}, 2, "p_a", "finite"),
    ("v.csv", "id,score_a,score_b\narith-01,7,\n", {}, 2, "score_b", "missing number"),
    ("v.csv", "id,score_a,score_b\narith-01,7,x\n", {}, 2, "score_b", "expected a number"),
    ("v.csv", "id,status,verdict\narith-01,broken,A\n", {}, 2, "status", "unknown status"),
    ("v.csv", "id,verdict\narith-01,A,extra\n", {}, 2, None, "fields but the header"),
    ("v.jsonl", '{"id": "arith-01", "verdict": "A"}\n{"id": ', {}, 2, None, "truncated"),
    ("v.jsonl", '{"id": "arith-01", "verdict": "A"}\n[1]\n', {}, 2, None, "JSON object"),
    ("v.jsonl", '{"id": true, "verdict": "A"}\n', {}, 1, "id", "string or integer"),
    ("v.jsonl", '{"id": "arith-01", "verdict": true}\n', {}, 1, "verdict", "expected a verdict"),
    (
        "v.json",
        '[\n{"id": "arith-01", "verdict": "A"},\n{"id": "x", "verdict": "A"}\n]',
        {},
        3,
        "id",
        "not in",
    ),
    ("v.txt", "A\nB\n", {}, 3, None, "verdict lines for"),
    ("v.csv", "id,verdict\narith-01,\xff\n", {}, 2, "verdict", "invalid UTF-8"),
    ("v.csv", "id,score\narith-01,3\n", {}, 2, None, "a pair needs a verdict"),
]


@pytest.mark.parametrize(("name", "content", "options", "line", "field", "message"), BAD_ROWS)
def test_bad_rows_name_file_line_and_field(
    tmp_path: Path,
    name: str,
    content: str,
    options: dict[str, object],
    line: int | None,
    field: str | None,
    message: str,
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))  # "\xff" stays one invalid UTF-8 byte
    with pytest.raises(DataError) as err:
        read(path, **options)  # type: ignore[arg-type]
    assert message in str(err.value)
    assert err.value.path == str(path)
    assert err.value.line == line
    assert err.value.field == field


def test_bad_options_and_requests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid options for importer 'table'"):
        TableImporter(verdit="x")
    with pytest.raises(ConfigError, match="invalid options"):
        TableImporter(map={"1": "first"})
    path = tmp_path / "v.csv"
    path.write_text("id,verdict\narith-01,A\n")
    with pytest.raises(ConfigError, match="-b NAME"):
        TableImporter().read(ImportRequest(sources=(str(path),)))


# -- the run it writes ------------------------------------------------------------------------


def test_manifest_says_it_is_an_import(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("id,verdict\narith-01,1\narith-02,2\n")
    ((store, _),) = run_import(
        "table",
        ImportRequest(sources=(str(path),), benchmark="sample", judge="other/judge"),
        options={"map": {"1": "A", "2": "B"}},
        output=tmp_path / "runs",
    )
    manifest = store.read_manifest()
    assert manifest.git_commit is None and manifest.package_versions == {}
    info = manifest.extra["import"]
    assert info["importer"] == "table" and info["value_map"] == {"1": "A", "2": "B"}
    assert str(path) in info["sources"] and len(info["sources"][str(path)]) == 64
    assert manifest.config.benchmark == "sample" and manifest.config.judge == "other/judge"
    assert manifest.n_items == 2 and info["benchmark_items"] == 66
    assert [j.verdict for j in store.judgments()] == ["A", "B"]


def test_round_trip_gives_identical_report_tables(
    tmp_path: Path, sample_items: list[PairItem]
) -> None:
    """A run exported with export_judgments and imported back reports the same tables."""
    rng = np.random.default_rng(3)
    verdicts: list[Verdict] = ["A", "B", "tie"]
    judgments = []
    for item in sample_items:
        for swapped in (False, True):
            status = rng.choice(["ok"] * 8 + ["unparsed", "error"])
            fields: dict[str, object] = {"status": status}
            if status == "ok":
                p_a = float(rng.uniform())
                fields.update(
                    verdict=verdicts[rng.integers(3)], probabilities={"A": p_a, "B": 1 - p_a}
                )
            else:
                fields["error"] = "no verdict" if status == "unparsed" else "HTTP 500"
            judgments.append(
                Judgment(
                    item_id=item.id,
                    judge="my-judge",
                    judge_hash="h",
                    request_key=f"{item.id}{swapped}",
                    swapped=swapped,
                    **fields,  # type: ignore[arg-type]
                )
            )
    original = RunStore(tmp_path / "a" / "run")
    original.write_items(sample_items)
    original.rewrite_judgments(judgments)
    config = RunConfig(benchmark="sample", judge="my-judge")
    original.write_manifest(RunManifest(run_id="run", config=config, judge_hash="h", data_hash="d"))
    for suffix in (".jsonl", ".csv"):
        exported = export_judgments(original.judgments(), tmp_path / f"export{suffix}")
        run_import(
            "table",
            ImportRequest(sources=(str(exported),), benchmark="sample", judge="my-judge"),
            options={"swapped": "canonical"},
            output=tmp_path / f"b{suffix}",
            run_name="run",
        )
        reports = [
            build_report(load_frame(folder / "run"), n_resamples=20).markdown()
            for folder in (tmp_path / "a", tmp_path / f"b{suffix}")
        ]
        # the paragraph that starts "Generated" holds the generation time
        a, b = (
            "\n".join(line for line in r.splitlines() if not line.startswith("Generated "))
            for r in reports
        )
        assert a == b


def test_cli_import_table_and_list_importers(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "importers"])
    assert listed.exit_code == 0, listed.output
    for name in ("table", "alpaca_eval", "judgebench", "pandalm"):
        assert name in listed.output
    path = tmp_path / "v.csv"
    path.write_text(
        "id,order,label\narith-01,original,2\narith-01,swapped,1\narith-02,original,9\n"
    )
    args = [
        "import",
        "table",
        str(path),
        "-b",
        "sample",
        "-I",
        "verdict=label",
        "-I",
        "swapped=presented",
        "--map",
        "1=A",
        "--map",
        "2=B",
        "-o",
        str(tmp_path / "runs"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 4, result.output
    assert f"{path}:4: field 'label': unknown verdict '9'" in result.output
    path.write_text("id,order,label\narith-01,original,2\narith-01,swapped,1\n")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "imported 2 judgments" in result.output and "1 of 66 benchmark items" in result.output
    bad_map = runner.invoke(app, [*args[:-2], "--map", "0=Q", "-o", str(tmp_path / "q")])
    assert bad_map.exit_code == 2
    assert bad_map.output == "error: --map expects VALUE=A|B|tie|failed, got '0=Q'\n"
