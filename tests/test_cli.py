"""The CLI end to end, with the real embedded judge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app

pytest.importorskip("llama_cpp")
runner = CliRunner()


def judge_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge.cli", *args]


@pytest.mark.model  # runs `judge run` with the embedded judge
def test_run_prints_the_summary_and_writes_the_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--limit", "4", "-o", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    for label in (
        "accuracy vs labels",
        "Cohen's kappa",
        "position consistency",
        "first-position rate",
        "P(prefers longer)",
        "unparsed",
        "tokens in / out",
        "time",
    ):
        assert label in result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"]["ok"] == 8
    assert manifest["config"]["benchmark"] == "sample" and manifest["config"]["judge"] == "smollm2"
    assert manifest["prompt_hash"] and manifest["data_hash"] and manifest["package_versions"]
    assert any(path.endswith("sample.jsonl") for path in manifest["data_files"])
    # The same command again resumes: nothing new, the same folder.
    again = runner.invoke(app, ["run", "--limit", "4", "-o", str(tmp_path), "--quiet"])
    assert again.exit_code == 0
    assert len((run_dir / "judgments.jsonl").read_text().splitlines()) == 8


def test_list_shows_every_name_and_its_source() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "llamacpp" in result.output and "built-in" in result.output
    assert "smollm2" in result.output and "preset (prompts/)" in result.output
    assert "sample" in result.output
    # the source and target columns line up, however long a name is
    rows = [line for line in result.output.splitlines() if line.startswith("  ")]
    names = [line[2:].split()[0] for line in rows]
    starts = {
        len(row) - len(row[2 + len(n) :].lstrip()) for row, n in zip(rows, names, strict=True)
    }
    assert len(starts) == 1, "every row's name column has one width"
    assert max(map(len, names)) > 28  # prometheus2-absolute-noprefix overflowed a fixed width


def test_a_bad_option_value_is_one_line_not_a_framed_box() -> None:
    result = runner.invoke(app, ["run", "-n", "abc"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: Invalid value for '--limit' / '-n': Input should be a valid integer, unable "
        "to parse string as an integer (see judge run --help)"
    ]
    twice = runner.invoke(app, ["run", "-b", "llmbar", "-B", "subset=natural", "-B", "subset=x"])
    assert twice.exit_code == 2
    assert twice.output == "error: -B subset= is given twice: 'natural' and 'x'\n"
    missing = runner.invoke(app, ["import"])
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    assert "Missing argument 'importer'" in missing.output


def test_unknown_names_and_bad_params_are_one_line_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "-j", "smolm2", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "did you mean 'smollm2'" in result.output
    result = runner.invoke(app, ["run", "-J", "n_ctxx=5", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "n_ctxx" in result.output
    result = runner.invoke(app, ["run", "-J", "novalue", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "key=value" in result.output


def test_malformed_input_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = {"id": "1", "prompt": "p", "response_a": "a", "response_b": "b", "label": "A"}
    bad.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "2", "label": "X"}) + "\n")
    result = runner.invoke(app, ["run", "-B", f"path={bad}", "-o", str(tmp_path / "out")])
    assert result.exit_code == 4
    assert f"{bad}:2" in result.output and "label" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.model  # runs `judge run` with the embedded judge
def test_sigkill_mid_run_then_rerun_loses_and_repeats_nothing(tmp_path: Path) -> None:
    args = judge_cmd("run", "--limit", "30", "-o", str(tmp_path), "--name", "killed", "--quiet")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    path = tmp_path / "killed" / "judgments.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= 10:
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be killed: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    text = path.read_text()
    finished = [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]
    assert 10 <= len(finished) < 60
    before = {(j["item_id"], j["swapped"]) for j in finished}

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    keys = [(j["item_id"], j["swapped"]) for j in lines]
    assert len(keys) == len(set(keys)) == 60  # none lost, none duplicated
    assert lines[: len(finished)] == finished  # what was finished is untouched
    new = lines[len(finished) :]
    assert not before & {(j["item_id"], j["swapped"]) for j in new}  # nothing asked again
    manifest = json.loads((tmp_path / "killed" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"]["total"] == 60


@pytest.mark.model  # tokenizes with the embedded llama.cpp model
def test_render_prints_the_exact_prompt_and_tokens_in_both_orders() -> None:
    """`judge render`: PandaLM's raw prompt (upstream's string, byte for byte) on the
    embedded llama.cpp model, both orders, with one BOS token first; errors are one line."""
    from judge_benchmarks.sample import SampleBenchmark
    from tests.upstream import autoj_prompt

    item = next(i for i in SampleBenchmark().load() if i.kind == "pair")
    result = runner.invoke(app, ["render", "-j", "auto-j", "--item", item.id, "--tokens"])
    assert result.exit_code == 0, result.output
    blocks = result.output.split("\n\n=== ")
    assert len(blocks) == 2 and "original order" in blocks[0] and "swapped order" in blocks[1]
    assert "layout raw, bos true" in blocks[0]
    for block, shown in zip(
        blocks,
        ((item.response_a, item.response_b), (item.response_b, item.response_a)),
        strict=True,
    ):
        expected = autoj_prompt(item.prompt_text, *shown, "pairwise_tie")
        text = block.split(" characters) -----\n", 1)[1].split("\n----- end of prompt text")[0]
        assert text == expected
        assert "starts with BOS 1): [1, " in block
    as_json = runner.invoke(app, ["render", "-j", "auto-j", "--item", item.id, "--json"])
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    assert [r["swapped"] for r in rows] == [False, True] and rows[0]["text"].startswith("[INST] ")
    missing = runner.invoke(app, ["render", "-j", "auto-j", "--item", "nope"])
    assert missing.exit_code != 0 and "has no item 'nope'" in missing.output
    assert "its 66 item ids look like 'arith-01', 'arith-02', 'arith-03'" in missing.output
    assert "Traceback" not in missing.output
    refused = runner.invoke(
        app, ["render", "-j", "pandalm", "--item", item.id, "-J", "chat_template=chatml"]
    )
    assert refused.exit_code != 0 and "literal text" in refused.output
