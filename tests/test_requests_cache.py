"""Requests and the cache, end to end through ``judge run`` on the fault server.

Counted on the server: identical requests in flight are sent once (issue 14.8), an empty
reply is retried and never cached (14.9), a reply is on disk about a second after it
arrives even when no other reply follows, so a SIGKILL then costs it no second request
(14.20); and the run's cost counts every billed reply once (14.16).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from judge.benchmark import load_items
from judge.cache import FLUSH_SECONDS, ResponseCache
from judge.factory import preset_judge
from judge.judges import Task
from judge.records import Judgment, PairItem, RunConfig
from judge.run import RetryPolicy, plan_tasks, run_judging
from judge.store import RunStore
from judge_benchmarks.pandalm import PandaLMBenchmark
from tests.fault_server import FaultServerProcess, fingerprint, spawn

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
ENV = {**os.environ, "OPENAI_API_KEY": "sk-test-requests"}


def judge_cli(output: Path, url: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "judge.cli",
        "run",
        "-J",
        "backend=openai",
        "-J",
        f"base_url={url}",
        "-J",
        "model=gpt-4o-mini",
        "-o",
        str(output),
        "--quiet",
        *args,
    ]


def fingerprints(url: str, tasks: list[Task], preset: str = "smollm2") -> Counter[str]:
    judge = preset_judge(preset, backend="openai", base_url=url, model="gpt-4o-mini")
    return Counter(fingerprint([m.model_dump() for m in judge.request(t).messages]) for t in tasks)


def pandalm_tasks(n: int) -> list[Task]:
    items = load_items(PandaLMBenchmark(path=str(DATA / "pandalm")), limit=n)
    assert all(isinstance(i, PairItem) for i in items)
    return plan_tasks(items, RunConfig())


def pandalm_run(output: Path, url: str, name: str) -> subprocess.CompletedProcess[str]:
    command = judge_cli(output, url, "-b", "pandalm", "-B", f"path={DATA / 'pandalm'}")
    command += ["-n", "100", "-c", "16", "--name", name]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)


def test_identical_requests_in_flight_are_sent_once(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    # PandaLM's first 100 items hold identical pairs a few rows apart (items 0 and 2, 1 and
    # 3, 91, 93 and 94, ...): with 16 in flight, identical requests are asked at once.
    fault_server.configure(latency=0.05)
    result = pandalm_run(tmp_path, fault_server.openai_url, "coalesce")
    assert result.returncode == 0, result.stderr[-2000:]

    tasks = pandalm_tasks(100)
    wanted = fingerprints(fault_server.openai_url, tasks)
    assert len(wanted) < len(tasks) == 200  # some bodies are asked for more than once
    stats = fault_server.stats()
    assert stats["total_attempts"] == len(wanted), "an identical request was sent twice"
    assert all(stats["attempts"][fp] == 1 for fp in wanted)

    store = RunStore(tmp_path / "coalesce")
    judgments = store.all_judgments()
    assert len(judgments) == 200 and all(j.status == "ok" for j in judgments)
    # Every waiting task got the one reply (the verdict is canonical: an identical request
    # may show a pair in the other order).
    by_key: dict[str, set[str | None]] = {}
    for j in judgments:
        by_key.setdefault(j.request_key, set()).add(j.raw)
    assert all(len(v) == 1 for v in by_key.values())
    shared = [j for j in judgments if j.coalesced or j.cache_hit]
    assert len(shared) == len(tasks) - len(wanted)
    manifest = store.read_manifest()
    assert manifest.counts.coalesced >= 1 and manifest.complete


def test_cost_counts_each_billed_reply_once(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    fault_server.configure(latency=0.05)
    first = pandalm_run(tmp_path, fault_server.openai_url, "first")
    assert first.returncode == 0, first.stderr[-2000:]
    store = RunStore(tmp_path / "first")
    judgments = store.all_judgments()
    # One price per distinct request: what the server answered (once each, as counted).
    price = {j.request_key: j.cost for j in judgments}
    assert fault_server.stats()["total_attempts"] == len(price)
    totals = store.read_manifest().totals
    assert totals.cost > 0
    assert abs(totals.cost - sum(price.values())) < 1e-12
    would_have = sum(j.cost for j in judgments)
    assert totals.cost < would_have  # the overstatement the audit measured
    assert abs(totals.cost_saved - (would_have - totals.cost)) < 1e-12
    assert f"${totals.cost:.4f} billed (${totals.cost_saved:.4f} saved" in first.stdout

    # The same judgments again under another name: every reply comes from the cache.
    second = pandalm_run(tmp_path, fault_server.openai_url, "second")
    assert second.returncode == 0, second.stderr[-2000:]
    again = RunStore(tmp_path / "second").read_manifest().totals
    assert fault_server.stats()["total_attempts"] == len(price)
    assert again.cost == 0 and abs(again.cost_saved - would_have) < 1e-12
    assert f"$0.0000 billed (${would_have:.4f} saved" in second.stdout

    # Judgments written before ``billed`` existed still load, billed as they were then.
    line = json.loads(store.judgments_path.read_text().splitlines()[0])
    for key in ("billed", "coalesced"):
        line.pop(key)
    old = Judgment.model_validate(line)
    assert old.billed == (0.0 if old.cache_hit else old.cost) and not old.coalesced


def test_an_empty_reply_is_retried_not_cached(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    # Every conversation's first answer is a well-formed 200 with empty content.
    fault_server.configure(script=["empty"])
    command = judge_cli(tmp_path, fault_server.openai_url, "-b", "sample", "-n", "5")
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = tmp_path.glob("sample-*")
    judgments = RunStore(run_dir).all_judgments()
    assert len(judgments) == 10
    assert all(j.status == "ok" and j.verdict is not None and j.raw for j in judgments)
    stats = fault_server.stats()
    assert stats["faults"] == {"empty": 10}
    assert all(n == 2 for n in stats["attempts"].values()) and len(stats["attempts"]) == 10
    assert "judgments              10 (10 ok, 0 unparsed, 0 error)" in result.stdout


def test_an_empty_reply_after_the_retries_is_an_error_asked_again(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    # Library level: the exit code of a run that ends with errors is another item's.
    fault_server.configure(script=["empty", "empty", "empty"])
    items = [i for i in load_items(PandaLMBenchmark(path=str(DATA / "pandalm")), limit=3)]
    judge = preset_judge(
        "smollm2", backend="openai", base_url=fault_server.openai_url, model="gpt-4o-mini"
    )
    # Items 0 and 2 are identical and all six requests are in flight at once: the waiting
    # ones share the leader's failure, as they would share its reply.
    config = RunConfig(benchmark="pandalm", judge="smollm2", concurrency=8)
    retry = RetryPolicy(base_delay=0.01, empty_retries=2)
    first = run_judging(config, output=tmp_path, judge=judge, items=items, retry=retry)
    stored = first.store.all_judgments()
    assert len(stored) == 6 and all(j.status == "error" for j in stored)
    assert len(fault_server.stats()["attempts"]) == 4
    assert all(n == 3 for n in fault_server.stats()["attempts"].values())
    assert all((j.error or "").startswith("empty reply from 'openai' (3 attempts)") for j in stored)
    assert not first.manifest.complete
    cache = ResponseCache(tmp_path / "cache.sqlite")
    assert len(cache) == 0, "an empty reply was cached"
    cache.close()

    # The next run asks again (the server's fourth answer is a real one).
    judge = preset_judge(
        "smollm2", backend="openai", base_url=fault_server.openai_url, model="gpt-4o-mini"
    )
    second = run_judging(config, output=tmp_path, judge=judge, items=items, retry=retry)
    assert second.manifest.complete and second.manifest.counts.ok == 6
    assert all(n == 4 for n in fault_server.stats()["attempts"].values())


def test_a_reply_is_flushed_to_the_cache_without_a_next_reply(tmp_path: Path) -> None:
    # A jury whose second member hangs: the first member's reply has no judgment yet (the
    # jury's needs both), so only the cache can save it from being asked again. Its own
    # server: the hung request keeps a handler busy after the kill.
    server = spawn()
    try:
        flushed_before_kill(server, tmp_path)
    finally:
        server.stop()


def flushed_before_kill(fault_server: FaultServerProcess, tmp_path: Path) -> None:
    fault_server.configure(model_latency={"gpt-4o-slow": 60.0})
    url = fault_server.openai_url
    members = [
        {"judge": preset, "params": {"backend": "openai", "base_url": url, "model": model}}
        for preset, model in (("smollm2", "gpt-4o-mini"), ("mt-bench-pair", "gpt-4o-slow"))
    ]
    command = [
        sys.executable,
        "-m",
        "judge.cli",
        "run",
        "-b",
        "sample",
        "-n",
        "1",
        "--orders",
        "original",
        "-j",
        "jury",
        "-J",
        f"members={json.dumps(members)}",
        "-o",
        str(tmp_path),
        "--name",
        "jury",
        "--quiet",
    ]
    run = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and fault_server.stats()["total_ok"] < 1:
            assert run.poll() is None, run.stderr.read() if run.stderr else ""
            time.sleep(0.05)
        assert fault_server.stats()["total_ok"] == 1  # the first member's reply
        time.sleep(FLUSH_SECONDS + 1.5)  # no other reply arrives meanwhile
        assert run.poll() is None
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
        if run.stderr:
            run.stderr.close()
    first_member = {fp for fp, n in fault_server.stats()["ok"].items() if n == 1}
    assert len(first_member) == 1
    assert (
        not RunStore(tmp_path / "jury").judgments_path.exists()
        or not RunStore(tmp_path / "jury").all_judgments()
    )

    fault_server.configure(model_latency={})
    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    stats = fault_server.stats()
    (fp,) = first_member
    assert stats["attempts"][fp] == 1, "the reply received before the kill was asked again"
    (judgment,) = RunStore(tmp_path / "jury").all_judgments()
    assert [m["cache_hit"] for m in judgment.members] == [True, False]
