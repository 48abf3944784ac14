"""A third-party importer installs with its own pyproject and is found by entry point,
through the same registry path as the built-in importers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from judge.store import RunStore

PLUGIN = Path(__file__).parent / "plugins" / "example_importer"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("importer")
    source = work / "src"
    shutil.copytree(PLUGIN, source)
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return target


def judge_cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "judge.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_importer_plugin_is_listed_and_imports(site: Path, tmp_path: Path) -> None:
    listed = judge_cli(site, "list", "importers")
    assert listed.returncode == 0, listed.stderr
    (line,) = [ln for ln in listed.stdout.splitlines() if ln.split()[:1] == ["winners"]]
    assert "entry point (judge-harness-example-importer)" in line
    assert "table" in listed.stdout and "alpaca_eval" in listed.stdout
    verdicts = tmp_path / "w.tsv"
    verdicts.write_text("arith-01\tleft\narith-02\tsame\n")
    done = judge_cli(
        site, "import", "winners", str(verdicts), "-b", "sample", "-I", "judge=mine",
        "-o", str(tmp_path / "runs"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "imported 2 judgments" in done.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert {j.judge for j in RunStore(run).judgments()} == {"mine"}
    named = judge_cli(
        site, "import", "winners", str(verdicts), "-b", "sample", "--judge-name", "theirs",
        "-o", str(tmp_path / "named"),
    )  # fmt: skip
    assert named.returncode == 0, named.stderr
    (run,) = (tmp_path / "named").iterdir()
    assert {j.judge for j in RunStore(run).judgments()} == {"theirs"}
    bad = judge_cli(site, "import", "winners", str(verdicts), "-b", "sample", "-I", "jduge=x")
    assert bad.returncode == 2 and "invalid options for importer 'winners'" in bad.stderr
    assert "did you mean 'judge'?" in bad.stderr
    verdicts.write_text("arith-01\tleft\narith-02\tboth\n")
    bad = judge_cli(site, "import", "winners", str(verdicts), "-b", "sample", "-o", str(tmp_path))
    assert bad.returncode == 4 and f"{verdicts}:2: field 'winner'" in bad.stderr
