"""Runs, run folders and the command line when something is wrong (issue 14, part A).

Each test drives ``judge run`` (or ``judge report``) the way a user would hit the case
and checks the exit code, the one-line message and that what was stored is unchanged.
Most use the in-process CLI with the scripted backend (tests/helpers.py); the cases
about processes, full disks and read-only files run ``python -m judge.cli`` against
the fault server. docs/faults.md lists every case with its exit code and message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from judge.cli import app
from judge.records import RunConfig, RunManifest
from judge.registry import backends
from tests.fault_server import FaultServerProcess
from tests.helpers import ScriptedBackend

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

ROWS = [
    {
        "id": str(i),
        "prompt": f"What is {i} + {i}?",
        "response_a": str(2 * i),
        "response_b": str(2 * i + 1),
        "label": "A",
    }
    for i in range(1, 7)
]


@pytest.fixture(autouse=True)
def scripted() -> Iterator[type[ScriptedBackend]]:
    backends.register("scripted", ScriptedBackend, replace=True)
    ScriptedBackend.calls.clear()
    yield ScriptedBackend
    backends.unregister("scripted")


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def judge_run(out: Path, data: Path, *extra: str, name: str = "run") -> Result:
    """``judge run`` of the table benchmark on ``data`` with the scripted judge."""
    args = ["run", "-b", "table", "-B", f"path={data}", "-j", "smollm2", "-J", "backend=scripted"]
    return runner.invoke(app, [*args, "-o", str(out), "--name", name, "-q", *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but the lock note, which names the last holder)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "run.lock"
    }


def one_line_error(result: Result, code: int) -> str:
    """The one ``error:`` line of a failed command (and no traceback)."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- 2: a data file edited between runs -------------------------------------------------


def test_a_changed_data_file_is_refused_on_resume(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    assert judge_run(out, data).exit_code == 0
    run = out / "run"
    before = snapshot(run)
    seventh = {**ROWS[0], "id": "7", "prompt": "What is 7 + 7?"}

    edited = [dict(r) for r in ROWS]
    edited[1]["response_b"] = "a different answer"  # item 2 changed
    del edited[3]  # item 4 removed
    write_rows(data, [*edited, seventh])  # item 7 added
    ScriptedBackend.calls.clear()
    line = one_line_error(judge_run(out, data), 4)
    assert str(data) in line
    assert "1 changed ('2')" in line and "1 added ('7')" in line and "1 removed ('4')" in line
    assert "--name" in line
    assert snapshot(run) == before and not ScriptedBackend.calls

    # Only added rows: refused unless --extend says to judge them in this run.
    write_rows(data, [*ROWS, seventh])
    line = one_line_error(judge_run(out, data), 4)
    assert "1 added ('7')" in line and "--extend" in line
    assert snapshot(run) == before
    assert judge_run(out, data, "--extend").exit_code == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["n_items"] == 7 and manifest["complete"]
    assert manifest["data_files"][str(data)] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert [json.loads(line)["id"] for line in (run / "items.jsonl").open()][-1] == "7"
    assert sum(ScriptedBackend.calls.values()) == 2  # only item 7, both orders


def test_a_larger_limit_over_the_same_file_still_extends_the_run(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    assert judge_run(out, data, "-n", "3").exit_code == 0
    assert judge_run(out, data, "-n", "5").exit_code == 0
    assert json.loads((out / "run" / "manifest.json").read_text())["n_items"] == 5
    # A row edited beyond the run's items is not in the run: nothing to refuse ...
    edited = [dict(r) for r in ROWS]
    edited[5]["response_a"] = "changed"
    write_rows(data, edited)
    assert judge_run(out, data, "-n", "5").exit_code == 0
    # ... but one of its items edited is, also under a smaller limit.
    edited[4]["response_a"] = "changed"
    write_rows(data, edited)
    assert "1 changed ('5')" in one_line_error(judge_run(out, data, "-n", "2"), 4)


# -- 3: a damaged cache -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["whole file", "table pages"])
def test_a_damaged_cache_is_named_with_what_to_do(tmp_path: Path, damage: str) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    failing = ("-J", "fail_marker=3 + 3", "-J", "fail_times=-1")  # errors: retried on resume
    assert judge_run(out, data, *failing).exit_code in (0, 8)
    cache = out / "cache.sqlite"
    raw = bytearray(cache.read_bytes())
    page = 4096
    assert len(raw) > 2 * page
    start = 0 if damage == "whole file" else page  # page 1 holds the schema
    raw[start:] = bytes((i * 7 + 1) % 251 for i in range(len(raw) - start))
    cache.write_bytes(bytes(raw))
    before = snapshot(out / "run")

    line = one_line_error(judge_run(out, data, *failing), 6)
    assert str(cache) in line and "--fresh-cache" in line and "--no-cache" in line
    assert snapshot(out / "run") == before

    result = judge_run(out, data, *failing, "--fresh-cache", "--allow-errors")
    assert result.exit_code == 0, result.output
    assert "moved the response cache aside" in result.stderr
    (moved,) = out.glob("cache.sqlite.broken-*")
    assert moved.read_bytes() == bytes(raw)
    with contextlib.closing(sqlite3.connect(cache)) as db:  # a new, sound cache
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- 4: errors left ---------------------------------------------------------------------


def test_a_run_with_errors_left_exits_8_unless_allowed(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    failing = ("-J", "fail_marker=3 + 3", "-J", "fail_times=-1")
    result = judge_run(out, data, *failing)
    line = one_line_error(result, 8)
    assert "2 judgment(s) ended in an error" in line and "'3'" in line
    assert "400 bad request" in line and "--allow-errors" in line
    assert "judgments              12 (10 ok, 0 unparsed, 2 error)" in result.stdout
    assert judge_run(out, data, *failing, "--allow-errors").exit_code == 0


def test_a_comparison_with_errors_left_exits_8_unless_allowed(tmp_path: Path) -> None:
    """``judge compare`` printed its tables and exited 0 with every judgment an error."""
    files = []
    for model in ("model-x", "model-y"):
        rows = [{"instruction": f"{n} + {n}", "output": f"{model} {n}", "generator": model}
                for n in range(3)]  # fmt: skip
        files.append(tmp_path / f"{model}.json")
        files[-1].write_text(json.dumps(rows))
    args = ["compare", *map(str, files), "-J", "backend=scripted", "-o", str(tmp_path / "out")]
    args += ["-J", "fail_marker=2 + 2", "-J", "fail_times=-1", "-q", "--resamples", "10"]
    result = runner.invoke(app, args)
    line = one_line_error(result, 8)
    assert "2 judgment(s) ended in an error" in line and "--allow-errors" in line
    assert "judgments             6 (4 ok, 0 unparsed, 2 error)" in result.stdout
    assert runner.invoke(app, [*args, "--allow-errors"]).exit_code == 0


# -- 6: a failed rerun leaves a finished run as it was ------------------------------------


def test_a_bad_line_mid_file_leaves_the_run_byte_identical(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    assert judge_run(out, data).exit_code == 0
    path = out / "run" / "judgments.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:5], b'{"item_id": "3", "broken\n', *lines[5:]]))
    before = snapshot(out / "run")
    manifest = json.loads(before["manifest.json"])
    assert manifest["complete"] and manifest["counts"]["ok"] == 12

    line = one_line_error(judge_run(out, data, "-n", "6"), 4)
    assert f"{path}:6" in line and "invalid JSON" in line
    assert snapshot(out / "run") == before


# -- 7: credentials in base_url ---------------------------------------------------------


def test_credentials_in_base_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    secret = "sk-url-secret-7f3a"
    url = f"http://judge:{secret}@127.0.0.1:9/v1"
    out = tmp_path / "out"
    args = ["-J", "backend=openai", "-J", f"base_url={url}", "-J", "model=gpt-4o-mini"]
    result = runner.invoke(
        app, ["run", "-n", "2", "-o", str(out), "-q", "--max-retries", "0", *args]
    )
    line = one_line_error(result, 2)
    assert "http://***@127.0.0.1:9/v1" in line and "carries credentials" in line
    assert "OPENAI_API_KEY" in line
    assert secret not in result.output
    assert not out.exists()  # the run never started: no folder


def test_manifests_never_hold_url_credentials() -> None:
    url = "http://judge:sk-url-secret@host:8000/v1"
    manifest = RunManifest(
        run_id="r",
        judge_hash="h",
        config=RunConfig(judge_args={"base_url": url, "members": [{"base_url": url}]}),
        judge_spec={"backend": {"model_args": {"base_url": url}}},
        data_hash="x",
        argv=("judge", "run", "-J", f"base_url={url}"),
        extra={"last_failure": f"connection error from {url}"},
    )
    text = manifest.model_dump_json()
    assert "sk-url-secret" not in text and text.count("http://***@host:8000/v1") == 5


# -- 10: the small ones -----------------------------------------------------------------


def test_an_empty_data_file_is_named(tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    line = one_line_error(judge_run(tmp_path / "out", data), 4)
    assert str(data) in line and "no items" in line and "empty" in line
    assert not (tmp_path / "out").exists()


def test_a_folder_as_data_path_is_named_as_a_folder(tmp_path: Path) -> None:
    line = one_line_error(judge_run(tmp_path / "out", tmp_path), 4)
    assert f"{tmp_path}: is a folder; give a data file" in line and "suffix" not in line


def test_bad_extra_body_json_says_it_is_not_json(tmp_path: Path) -> None:
    args = ["run", "-n", "2", "-o", str(tmp_path / "out"), "-J", "backend=openai"]
    args += ["-J", "base_url=http://127.0.0.1:9/v1", "-J", "model=m", "-J", "extra_body={top_k: 5}"]
    line = one_line_error(runner.invoke(app, args), 2)
    assert "extra_body: expected a JSON object, got text that is not valid JSON" in line
    assert "valid dictionary" not in line


def test_misspelt_judge_params_get_did_you_mean(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    line = one_line_error(judge_run(tmp_path / "out", data, "-J", "max_token=8"), 2)
    assert "-J max_token=" in line and "did you mean 'max_tokens'" in line
    line = one_line_error(judge_run(tmp_path / "out", data, "-J", "answr=B"), 2)
    assert "did you mean 'answer'?" in line


def test_option_errors_are_one_line_without_stray_colons(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    line = one_line_error(judge_run(tmp_path / "out", data, "-B", "map.foo=x"), 2)
    assert "unknown field(s) in map: foo" in line
    assert ": :" not in line and "Value error" not in line


def test_a_report_of_no_judgments_is_an_error(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    assert judge_run(out, data).exit_code == 0
    (out / "run" / "judgments.jsonl").write_text("")
    result = runner.invoke(app, ["report", str(out / "run"), "--resamples", "10"])
    line = one_line_error(result, 4)
    assert "no judgments to report" in line and str(out / "run") in line
    assert not (out / "run" / "report").exists()


def test_a_prompt_over_the_context_window_is_warned_about(
    tmp_path: Path, fault_server: FaultServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    huge = [{**ROWS[0], "prompt": "Summarise: " + "lorem ipsum " * 60_000}, ROWS[1]]
    data = write_rows(tmp_path / "data.jsonl", huge)
    args = ["-J", "backend=openai", "-J", f"base_url={fault_server.openai_url}"]
    args += ["-J", "model=gpt-4o-mini", "-J", "context_window=100000"]
    with caplog.at_level("WARNING", logger="judge.truncation"):
        result = runner.invoke(
            app, ["run", "-b", "table", "-B", f"path={data}", "-o", str(tmp_path / "out"), *args]
        )
    assert result.exit_code == 0, result.output
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "about 180" in warnings[0] and "100000-token context window" in warnings[0]
    assert "openai 'gpt-4o-mini'" in warnings[0]


def test_items_and_manifest_get_the_mode_of_judgments(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    old = os.umask(0o022)
    try:
        assert judge_run(tmp_path / "out", data).exit_code == 0
    finally:
        os.umask(old)
    run = tmp_path / "out" / "run"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()}
    assert modes["judgments.jsonl"] == 0o644
    assert modes["items.jsonl"] == modes["manifest.json"] == 0o644


# -- 21: errors inside the runner's task group ------------------------------------------


def test_a_pair_judge_on_single_items_fails_before_any_folder(tmp_path: Path) -> None:
    single = [{"id": str(i), "prompt": f"q{i}", "response": f"r{i}", "score": 3} for i in (1, 2)]
    data = write_rows(tmp_path / "single.jsonl", single)
    out = tmp_path / "out"
    line = one_line_error(judge_run(out, data), 2)
    assert "judge 'smollm2' grades pair items" in line and "single items" in line
    assert not out.exists()


def test_a_misspelt_lm_eval_model_type_fails_before_any_folder(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    data = write_rows(tmp_path / "data.jsonl", ROWS)
    out = tmp_path / "out"
    args = ["run", "-b", "table", "-B", f"path={data}", "-o", str(out), "-q"]
    result = runner.invoke(app, [*args, "-J", "backend=lmeval", "-J", "model_type=hff"])
    line = one_line_error(result, 2)
    assert "unknown lm-eval model 'hff'" in line
    assert not out.exists()


# -- 1 and 5: processes, read-only folders and full disks ---------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge.cli", *args]


def api_run(out: Path, url: str, *extra: str, limit: int = 20) -> list[str]:
    """``judge run`` of the sample benchmark against the fault server."""
    return cli(
        "run",
        "-n",
        str(limit),
        "-J",
        "backend=openai",
        "-J",
        f"base_url={url}",
        "-J",
        "model=gpt-4o-mini",
        "-J",
        "timeout=5",
        "-o",
        str(out),
        "--name",
        "api",
        "-q",
        "--no-cache",
        *extra,
    )


def run_cli(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test-faults"}
    return subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs
    )


def error_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and "Unclosed" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (needs root); skips the test elsewhere."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the filesystem of ``folder``, then free ``leave`` bytes (whole pages)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def keys(path: Path, status: str = "ok") -> Counter[tuple[str, bool]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return Counter((j["item_id"], j["swapped"]) for j in lines if j["status"] == status)


def test_a_full_disk_while_writing_judgments_is_one_line_and_no_partial_line(
    tmp_path: Path, fault_server: FaultServerProcess
) -> None:
    with small_filesystem(tmp_path / "small", "1m") as disk:
        out = disk / "results"
        # First every request fails (errors, retried on resume), then none does.
        fault_server.configure(fault_rate=1.0, faults=["500"])
        first = run_cli(api_run(out, fault_server.openai_url, "--max-retries", "0"))
        assert first.returncode in (0, 8), first.stderr[-2000:]  # 8: errors left
        fault_server.configure(fault_rate=0.0)
        judgments = out / "api" / "judgments.jsonl"
        size_before = judgments.stat().st_size
        filler = fill(disk, leave=4096)  # one page: the manifest's rewrite, then a few lines

        line = error_line(run_cli(api_run(out, fault_server.openai_url)), 6)
        assert line.startswith(f"error: cannot write {judgments}: No space left on device")
        assert "free some space and run the same command again" in line
        data = judgments.read_bytes()
        assert data.endswith(b"\n") and len(data) > size_before
        assert max(keys(judgments).values()) == 1  # each stored once, every line whole
        assert 0 < sum(keys(judgments).values()) < 40

        filler.unlink()
        assert run_cli(api_run(out, fault_server.openai_url)).returncode == 0
        assert sorted(keys(judgments).values()) == [1] * 40
        assert json.loads((out / "api" / "manifest.json").read_text())["complete"]


def test_a_read_only_results_folder_is_one_line_and_untouched(
    tmp_path: Path, fault_server: FaultServerProcess
) -> None:
    with small_filesystem(tmp_path / "ro", "4m") as disk:
        out = disk / "results"
        assert run_cli(api_run(out, fault_server.openai_url, limit=3)).returncode == 0
        before = snapshot(out)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

        # Resuming with more items, and a new run beside it: nothing can be written.
        line = error_line(run_cli(api_run(out, fault_server.openai_url, limit=5)), 6)
        assert f"cannot write {out / 'api'}" in line and "Read-only file system" in line
        assert "-o" in line
        other = run_cli(api_run(out, fault_server.openai_url, "--name", "other", limit=3))
        line = error_line(other, 6)
        assert "Read-only file system" in line
        assert snapshot(out) == before and not (out / "other").exists()


def test_a_read_only_judgments_file_is_one_line_and_untouched(
    tmp_path: Path, fault_server: FaultServerProcess
) -> None:
    out = tmp_path / "results"
    fault_server.configure(fault_rate=1.0, faults=["500"])  # errors: retried on resume
    first = run_cli(api_run(out, fault_server.openai_url, "--max-retries", "0", limit=3))
    assert first.returncode in (0, 8), first.stderr[-2000:]  # 8: errors left
    fault_server.configure(fault_rate=0.0)
    judgments = out / "api" / "judgments.jsonl"
    # Tests run as root, whom chmod does not stop: a read-only bind mount of the file does.
    bound = subprocess.run(["mount", "--bind", str(judgments), str(judgments)], check=False)
    if bound.returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(judgments)], check=True)
        before = snapshot(out)
        line = error_line(run_cli(api_run(out, fault_server.openai_url, limit=3)), 6)
        assert f"cannot write {judgments}: Read-only file system" in line
        assert snapshot(out) == before
    finally:
        subprocess.run(["umount", str(judgments)], check=False)


def test_a_probe_with_errors_left_exits_8_unless_allowed(tmp_path: Path) -> None:
    from judge.factory import benchmark_named

    first = benchmark_named("sample").load().__next__()
    marker = first.prompt_text[:30]
    args = ["probe", "-b", "sample", "-n", "3", "-p", "verdict_injection", "-j", "smollm2"]
    args += ["-J", "backend=scripted", "-J", f"fail_marker={marker}", "-J", "fail_times=-1"]
    args += ["-o", str(tmp_path), "-q", "--resamples", "10"]
    line = one_line_error(runner.invoke(app, args), 8)
    assert "judgment(s) ended in an error" in line and "--allow-errors" in line
    assert runner.invoke(app, [*args, "--allow-errors"]).exit_code == 0
