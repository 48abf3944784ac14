"""``--workers N``: one run's requests sent from several processes, one store writer.

Against the fault-injecting server (counted there):

- with faults, two workers store the same judgments as one, lose and duplicate
  nothing, and send no finished request twice; identical items land in one worker and
  are sent once; the manifest records the worker count;
- the parent of two workers killed with SIGKILL: its workers exit, and a rerun with
  workers repeats no request whose judgment was stored, and stores nothing twice;
- what several processes cannot do (a cost cap) is refused before the run starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from judge.errors import ConfigError
from judge.factory import preset_judge
from judge.judges import PromptJudge
from judge.records import RunConfig
from judge.run import plan_tasks, run_judging
from judge.store import RunStore
from tests.fault_server import FaultServerProcess, spawn
from tests.test_faults import (
    FAST_RETRY,
    _judge_cli,
    check_no_loss_no_duplicates,
    check_rerun_repeated_nothing,
    fingerprints,
    pandalm_pairs,
    start_run,
)


def _openai_judge(server: FaultServerProcess) -> PromptJudge:
    return preset_judge(
        "smollm2",
        backend="openai",
        base_url=server.openai_url,
        model="gpt-4o-mini",
        timeout=1.5,
        max_connections=32,
        transport="aiohttp",
    )


def test_two_workers_store_what_one_does_and_send_nothing_twice(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    fault_server.configure(
        latency=0.005, fault_rate=0.2, seed=5, retry_after=0.05, timeout_sleep=3.0
    )
    pairs = pandalm_pairs(60)
    twins = [p.model_copy(update={"id": f"{p.id}-twin"}) for p in pairs[:10]]
    items = [*pairs, *twins]  # same requests under other ids: coalesced, sent once
    outcome = {}
    for workers in (1, 2):
        fault_server.reset()
        judge = _openai_judge(fault_server)
        config = RunConfig(judge="smollm2", concurrency=32, workers=workers)
        result = run_judging(
            config, output=tmp_path / f"w{workers}", judge=judge, items=items, retry=FAST_RETRY
        )
        assert result.manifest.complete and result.manifest.config.workers == workers
        tasks = plan_tasks(items, config)
        stats = check_no_loss_no_duplicates(result.store, judge, tasks, fault_server)
        twice = {k: v for k, v in stats["ok"].items() if v > 1}
        assert not twice, (workers, twice, result.manifest.counts)
        assert set(stats["ok"]) == set(fingerprints(judge, tasks))
        assert stats["faults"], "the server injected no fault"
        outcome[workers] = sorted(
            (j.item_id, j.swapped, j.verdict, str(j.probabilities), j.raw, j.request_key)
            for j in result.store.judgments()
        )
    assert outcome[1] == outcome[2]


def test_workers_refuse_a_cost_cap(fault_server: FaultServerProcess, tmp_path: Path) -> None:
    judge = _openai_judge(fault_server)
    with pytest.raises(ConfigError, match="--max-cost"):
        run_judging(
            RunConfig(judge="smollm2", workers=2),
            output=tmp_path,
            judge=judge,
            items=pandalm_pairs(2),
            max_cost=1.0,
        )
    assert not any(tmp_path.iterdir()), "a refused run made a folder"


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigkill_of_the_parent_loses_and_repeats_nothing(tmp_path: Path) -> None:
    server = spawn("--latency", "0.1", "--fault-rate", "0.1", "--retry-after", "0.05")
    try:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test-workers"}
        command = [*_judge_cli(tmp_path, server.openai_url), "--workers", "2"]
        store = RunStore(tmp_path / "killed")
        run = start_run(command, env, store, lines=40, timeout=90)
        assert run.poll() is None, "the run ended before it could be killed"
        workers = _children(run.pid)
        assert len(workers) == 2, workers
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.05)
        assert not any(_alive(p) for p in workers), "a worker outlived its parent"
        finished = {(j.item_id, j.swapped, j.sample) for j in store.all_judgments()}
        assert 40 <= len(finished) < 132
        before = server.stats()["attempts"]

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        assert rerun.returncode == 0, rerun.stderr[-2000:]

        check_rerun_repeated_nothing(store, server, finished, before)
        manifest = json.loads((store.path / "manifest.json").read_text())
        assert manifest["complete"] is True and manifest["config"]["workers"] == 2
    finally:
        server.stop()
