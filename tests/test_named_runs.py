"""Runs are named by what judged them; one option spelling; errors in the CLI's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import judge
from judge.cli import app
from judge.errors import DataError
from judge.outputs import load_outputs
from tests.fault_server import FaultServerProcess

runner = CliRunner()
ITEMS = [
    {
        "id": f"q{n}",
        "prompt": f"Question {n}?",
        "response_a": "yes",
        "response_b": "no",
        "label": "A",
    }
    for n in range(3)
]


def two_smollm2_runs(url: str, output: Path) -> list[Path]:
    """The smollm2 preset twice, on one OpenAI-wire server but two different models."""
    for model in ("qwen-7b", "llama-8b"):
        judge.evaluate(
            ITEMS,
            judge_params={"backend": "openai", "base_url": url, "model": model},
            output=output,
            name=f"smollm2-{model}",
            orders="original",
        )
    return [output / "smollm2-qwen-7b", output / "smollm2-llama-8b"]


def test_two_runs_of_one_preset_read_apart(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    runs = two_smollm2_runs(fault_server.openai_url, tmp_path)
    frame = judge.load_frame(runs)
    assert sorted(frame["judge"].unique()) == [
        "smollm2 (openai: llama-8b)",
        "smollm2 (openai: qwen-7b)",
    ]
    assert list(judge.load_frame(runs[0])["judge"].unique()) == ["smollm2"]  # alone: its name
    board = judge.leaderboard(frame, n_resamples=0)
    assert {"smollm2 (openai: llama-8b)", "smollm2 (openai: qwen-7b)"} <= set(board["judge"])

    # the report (written with -o, the one spelling of an output folder) names both
    result = runner.invoke(app, ["report", *map(str, runs), "-o", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "smollm2 (openai: llama-8b)" in text and "smollm2 (openai: qwen-7b)" in text
    again = runner.invoke(app, ["report", str(runs[0]), "--out", str(tmp_path / "rep2")])
    assert again.exit_code == 0, again.output  # the old spelling still works

    # the viewer's run names
    duckdb = pytest.importorskip("duckdb")
    assert duckdb is not None
    from judge.view.data import ViewData

    view = ViewData(runs, load_texts=False)
    try:
        assert [r.judge for r in view.runs] == [
            "smollm2 (openai: qwen-7b)",
            "smollm2 (openai: llama-8b)",
        ]
    finally:
        view.close()


def lm_eval_samples(path: Path) -> Path:
    rows = [
        {
            "doc_id": n,
            "arguments": {"gen_args_0": {"arg_0": f"Q{n}?"}},
            "filtered_resps": [f"A{n}"],
            "filter": name,
            "metrics": ["exact_match"],
            "exact_match": 1.0,
            "target": f"A{n}",
        }
        for name in ("strict-match", "flexible-extract")
        for n in range(2)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_a_bad_lm_eval_filter_lists_the_files_filters(tmp_path: Path) -> None:
    path = lm_eval_samples(tmp_path / "samples_gsm8k.jsonl")
    assert len(load_outputs(path, format="lm_eval", lm_eval_filter="flexible-extract")) == 2
    with pytest.raises(DataError, match="the file's filters: strict-match, flexible-extract"):
        load_outputs(path, format="lm_eval", lm_eval_filter="none")
    result = runner.invoke(
        app, ["run", "-b", "lm_eval", "-B", f"path={path}", "-B", "filter=strict", "--dry-run"]
    )
    assert result.exit_code == 4
    assert "strict-match, flexible-extract" in result.output and "Traceback" not in result.output
