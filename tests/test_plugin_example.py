"""The example benchmark plugin installs with its own pyproject and is found by entry point.

It is installed with ``pip --target`` into a temporary folder that only a child
process sees (through PYTHONPATH), so neither the environment nor the checkout
is changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugins" / "example_benchmark"

CHECK = """
import json
from judge.benchmark import load_items
from judge.records import RunConfig
from judge.registry import benchmarks
from judge.factory import plugin_versions
entry = next(e for e in benchmarks.entries() if e.name == "pipe_votes")
items = load_items(benchmarks.get("pipe_votes")())
print(json.dumps({
    "source": entry.source,
    "target": entry.target,
    "builtin_still_there": "sample" in benchmarks,
    "labels": [i.label for i in items],
    "first": [items[0].id, items[0].prompt, items[0].response_a, items[0].response_b],
    "versions": plugin_versions(RunConfig(benchmark="pipe_votes")),
}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    shutil.copytree(PLUGIN, source)  # build from a copy: no build/ or egg-info in the checkout
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


def run_python(code: str, site: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_example_plugin_is_registered_by_entry_point_and_loads(site: Path) -> None:
    done = run_python(CHECK, site)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["source"] == "entry point (judge-harness-example-benchmark)"
    assert result["target"] == "judge_example_benchmark:PipeVotes"
    assert result["builtin_still_there"]
    assert result["labels"] == ["A", "B", "tie", "A", "B"]
    assert result["first"] == ["votes-2", "How many legs does an insect have?", "Six.", "Eight."]
    # a run of the plugin records the plugin's version in its manifest's package_versions
    assert result["versions"] == {"judge-harness-example-benchmark": "0.1.0"}


def test_example_plugin_reports_bad_rows(site: Path, tmp_path: Path) -> None:
    bad = tmp_path / "mine.psv"
    bad.write_text("question|left|right|winner\nq|a|b|left\nq2|a|b|both\n", encoding="utf-8")
    code = (
        "from judge.registry import benchmarks\n"
        "from judge.benchmark import load_items\n"
        "from judge.errors import DataError\n"
        f"try:\n    load_items(benchmarks.get('pipe_votes')(path={str(bad)!r}))\n"
        "except DataError as e:\n    print(e.line, e.field, e)\n"
    )
    done = run_python(code, site)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 winner ") and "unknown winner 'both'" in done.stdout


def test_example_plugin_is_small() -> None:
    module = PLUGIN / "judge_example_benchmark" / "__init__.py"
    assert len(module.read_text(encoding="utf-8").splitlines()) < 60


@pytest.mark.model  # runs `judge run` with the embedded judge
def test_example_plugin_runs_through_the_cli(site: Path, tmp_path: Path) -> None:
    """`judge list` names the plugin; `judge run -b pipe_votes` judges it (embedded judge)."""
    pytest.importorskip("llama_cpp")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    judge = [sys.executable, "-m", "judge.cli"]
    listed = subprocess.run(
        [*judge, "list", "benchmarks"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    (line,) = [ln for ln in listed.stdout.splitlines() if "pipe_votes" in ln]
    assert "entry point (judge-harness-example-benchmark)" in line
    ran = subprocess.run(
        [*judge, "run", "-b", "pipe_votes", "-o", str(tmp_path), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr
    assert "judgments              10 (10 ok" in ran.stdout
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert run_dir.name.startswith("pipe_votes-smollm2-")
