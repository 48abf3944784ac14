"""Resilience end to end: the runner + API backends against the fault-injecting server.

- With 20% of attempts failing (429 with Retry-After, 500, 529, timeouts, malformed JSON,
  truncated bodies), 1,000 judgments complete: none lost, none duplicated, and the
  server never served a finished request twice.
- A ``judge run`` killed with SIGKILL mid-run and run again repeats no request whose
  judgment was already stored (counted on the server); the killed run's lock is taken over.
- Two ``judge run`` processes of the same run: the second exits at once naming the
  first (exit 7), a third with ``--wait`` waits and then has nothing to ask; no request
  is sent twice and no judgment stored twice (counted on the server).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from judge.benchmark import load_items
from judge.factory import preset_judge
from judge.judges import PromptJudge, Task
from judge.records import PairItem, RunConfig
from judge.run import RetryPolicy, plan_tasks, run_judging
from judge.store import RunLock, RunStore
from judge_benchmarks.pandalm import PandaLMBenchmark
from tests.fault_server import FAULT_KINDS, FaultServerProcess, fingerprint, spawn
from tests.helpers import assert_finished_not_repeated, run_and_kill

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
FAST_RETRY = RetryPolicy(max_retries=10, base_delay=0.02, max_delay=0.2)


def pandalm_pairs(n: int) -> list[PairItem]:
    items = load_items(PandaLMBenchmark(path=str(DATA / "pandalm")), limit=n)
    return [i for i in items if isinstance(i, PairItem)]


def fingerprints(judge: PromptJudge, tasks: list[Task]) -> Counter[str]:
    return Counter(fingerprint([m.model_dump() for m in judge.request(t).messages]) for t in tasks)


def check_no_loss_no_duplicates(
    store: RunStore, judge: PromptJudge, tasks: list[Task], server: FaultServerProcess
) -> dict[str, Any]:
    lines = store.all_judgments()
    keys = Counter((j.item_id, j.swapped, j.sample) for j in lines)
    assert len(keys) == len(tasks), "lost judgments"
    assert max(keys.values()) == 1, "a judgment was stored twice"
    assert all(j.status == "ok" for j in lines)
    stats = server.stats()
    wanted = fingerprints(judge, tasks)
    for fp, copies in wanted.items():
        # Each distinct request was answered once (identical items may both be in flight).
        assert 1 <= stats["ok"].get(fp, 0) <= copies, fp
    assert set(stats["ok"]) <= set(wanted)
    return stats


@pytest.mark.parametrize(
    ("backend", "n_pairs", "transport"),
    [("openai", 500, "sdk"), ("anthropic", 100, "sdk"), ("openai", 100, "aiohttp")],
)
def test_faults_lose_and_duplicate_nothing(
    fault_server: FaultServerProcess, tmp_path: Path, backend: str, n_pairs: int, transport: str
) -> None:
    # Client timeouts well above any real latency: a reply the server sent but the client
    # gave up on would be asked again (rightly) and look like a duplicate here.
    fault_server.configure(
        latency=0.005, fault_rate=0.2, seed=11, retry_after=0.05, timeout_sleep=3.0
    )
    items = pandalm_pairs(n_pairs)
    base_url = fault_server.openai_url if backend == "openai" else fault_server.url
    params: dict[str, object] = {"timeout": 1.5, "max_connections": 64}
    if backend == "openai":
        params["transport"] = transport
    model = "gpt-4o-mini" if backend == "openai" else "claude-haiku-4-5"
    judge = preset_judge("smollm2", backend=backend, base_url=base_url, model=model, **params)
    config = RunConfig(benchmark="pandalm", judge="smollm2", concurrency=64)
    started = time.monotonic()
    result = run_judging(config, output=tmp_path, judge=judge, items=items, retry=FAST_RETRY)
    elapsed = time.monotonic() - started

    tasks = plan_tasks(items, config)
    assert len(tasks) == 2 * n_pairs
    assert result.manifest.complete
    assert result.manifest.counts.ok == len(tasks) and result.manifest.counts.error == 0
    stats = check_no_loss_no_duplicates(result.store, judge, tasks, fault_server)
    faults: dict[str, int] = stats["faults"]
    attempts = int(stats["total_attempts"])
    # About a fifth of the attempts failed, with every kind of fault represented.
    assert 0.12 < sum(faults.values()) / attempts < 0.3
    assert set(faults) == set(FAULT_KINDS)
    assert result.manifest.totals.cost > 0 and result.manifest.totals.tokens_in > 0
    print(f"{backend}/{transport}: {len(tasks)} judgments in {elapsed:.1f} s, faults {faults}")


def _judge_cli(output: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "judge.cli",
        "run",
        "-b",
        "sample",
        "-j",
        "smollm2",
        "-J",
        "backend=openai",
        "-J",
        f"base_url={url}",
        "-J",
        "model=gpt-4o-mini",
        "-J",
        "timeout=1.5",
        "-o",
        str(output),
        "--name",
        "killed",
        "-c",
        "4",
        "--quiet",
    ]


def start_run(
    command: list[str], env: dict[str, str], store: RunStore, *, lines: int, timeout: float = 60
) -> subprocess.Popen[str]:
    """Start ``judge run``; return once ``lines`` judgments are stored (or it ended)."""
    run = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        path = store.judgments_path
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.02)
    return run


def check_rerun_repeated_nothing(
    store: RunStore,
    server: FaultServerProcess,
    finished: set[tuple[str, bool, int]],
    before: dict[str, int],
) -> None:
    """After a killed run's rerun: every judgment once, and no stored one asked again."""
    assert_finished_not_repeated(
        store.path, finished, before, server.stats(), server.openai_url, 132
    )


def test_sigkill_then_rerun_repeats_no_finished_request(tmp_path: Path) -> None:
    server = spawn("--latency", "0.1", "--fault-rate", "0.1", "--retry-after", "0.05")
    try:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-sigkill"}
        command = _judge_cli(tmp_path, server.openai_url)
        store = RunStore(tmp_path / "killed")
        pid, finished = run_and_kill(command, env, store.path, 40)
        assert 40 <= len(finished) < 132
        before = server.stats()["attempts"]
        stale = json.loads((store.path / "run.lock").read_text())
        assert stale["pid"] == pid  # the killed holder's note; the kernel freed its lock

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert_finished_not_repeated(
            store.path, finished, before, server.stats(), server.openai_url, 132
        )
        manifest = json.loads((store.path / "manifest.json").read_text())
        assert manifest["complete"] is True
    finally:
        server.stop()


def test_two_processes_of_one_run_never_pay_twice(tmp_path: Path) -> None:
    server = spawn("--latency", "0.2")
    try:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-two"}
        command = _judge_cli(tmp_path, server.openai_url)
        store = RunStore(tmp_path / "killed")
        first = start_run(command, env, store, lines=4)
        assert first.poll() is None, "the first run ended before the second started"

        started = time.monotonic()
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 7, second.stderr[-2000:]
        assert time.monotonic() - started < 20  # at once: no request, no model, no wait
        assert f"pid {first.pid} on" in second.stderr and "--wait" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None, "the first run ended before the second was refused"

        assert first.wait(timeout=120) == 0

        # --wait: while this test holds the lock, a third process waits; then it resumes.
        holder = RunLock(store.path)
        assert holder.try_acquire()
        try:
            waiting = subprocess.Popen(
                [*command, "--wait"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert waiting.stderr is not None
            said = waiting.stderr.readline()
            assert "waiting for" in said and f"pid {os.getpid()} on" in said, said
            assert waiting.poll() is None
        finally:
            holder.release()
        assert waiting.wait(timeout=120) == 0, waiting.stderr.read()

        lines = store.all_judgments()
        assert len(lines) == 132 and all(j.status == "ok" for j in lines)
        assert Counter((j.item_id, j.swapped, j.sample) for j in lines).most_common(1)[0][1] == 1
        judge = preset_judge(
            "smollm2", backend="openai", base_url=server.openai_url, model="gpt-4o-mini"
        )
        tasks = plan_tasks(store.items(), RunConfig())
        wanted = fingerprints(judge, tasks)
        stats = server.stats()
        assert set(stats["attempts"]) == set(wanted)
        for fp, copies in wanted.items():
            assert stats["attempts"][fp] <= copies, "a request was sent twice"
        assert sum(stats["attempts"].values()) <= 132
    finally:
        server.stop()
