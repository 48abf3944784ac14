"""`judge compare`: model outputs judged in both orders, win rates, a ranking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from judge.registry import benchmarks

pytest.importorskip("llama_cpp")
runner = CliRunner()


def write_outputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Three models' AlpacaEval-format outputs on the 66 sample prompts."""
    items = list(benchmarks.get("sample")().load())
    paths = []
    for name, pick in (("model-x", "response_a"), ("model-y", "response_b"), ("model-z", None)):
        rows = [
            {
                "instruction": item.prompt_text,
                "output": getattr(item, pick) if pick else "I am not sure.",
                "generator": name,
            }
            for item in items
        ]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(rows))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def test_compare_two_models_on_66_prompts(tmp_path: Path) -> None:
    x, y, _ = write_outputs(tmp_path)
    result = runner.invoke(
        app,
        ["compare", str(x), str(y), "-o", str(tmp_path / "out"), "--quiet", "--resamples", "200"],
    )
    assert result.exit_code == 0, result.output
    assert "model-x" in result.output and "model-y" in result.output
    assert "win rate (95% CI)" in result.output and "position consistency" in result.output
    assert "judgments             132 (" in result.output
    (run_dir,) = (tmp_path / "out").glob("compare-*")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["complete"] and manifest["config"]["benchmark_args"]["outputs"] == [
        str(x),
        str(y),
    ]


def test_compare_three_models_gives_a_bradley_terry_ranking(tmp_path: Path) -> None:
    x, y, z = write_outputs(tmp_path)
    result = runner.invoke(
        app,
        [
            "compare",
            str(x),
            str(y),
            str(z),
            "--limit",
            "24",
            "-o",
            str(tmp_path / "out"),
            "--quiet",
            "--resamples",
            "100",
            "--baseline",
            "model-z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Bradley-Terry" in result.output and "Elo" in result.output
    for name in ("model-x", "model-y", "model-z"):
        assert name in result.output
    # discrete / weighted / length-controlled against the baseline, style control
    assert "win rates, three ways (against model-z" in result.output
    assert "style-controlled (length, headers, lists, bold)" in result.output
    assert "style coefficients (log-odds per SD): length" in result.output
    bad = runner.invoke(app, ["compare", str(x), str(y), "--baseline", "nobody", "--quiet"])
    assert bad.exit_code != 0 and "baseline 'nobody' is none of" in bad.output


def test_unmatched_prompts_are_an_error_unless_lenient(tmp_path: Path) -> None:
    x, y, _ = write_outputs(tmp_path)
    rows = json.loads(y.read_text())[:-1]
    y.write_text(json.dumps(rows))
    result = runner.invoke(app, ["compare", str(x), str(y), "-o", str(tmp_path / "out")])
    assert result.exit_code == 4 and f"no output in {y}" in result.output
    result = runner.invoke(
        app,
        [
            "compare",
            str(x),
            str(y),
            "--lenient",
            "--limit",
            "3",
            "-o",
            str(tmp_path / "o2"),
            "--quiet",
            "--resamples",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
