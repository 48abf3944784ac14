"""``judge run --executor ray``: the same judgments, store, cache and resume on Ray actors.

One local Ray instance (2 CPUs) serves the module: it takes seconds to start. In-process
runs use it directly; ``judge run`` subprocesses join it with ``--ray-address``. Its
teardown shuts it down, and a check at the end finds no Ray process left.

- The embedded llama.cpp judge on 2 actors gives the in-process run's judgments
  (verdicts equal, probabilities within 1e-6); a cached run dispatches nothing.
- A reward model (the ``reward`` judge, a tiny random sequence classifier) on 2 actors,
  through ``judge run --executor ray``, gives the in-process scores and verdicts.
- A driver killed with SIGKILL mid-run, then rerun: nothing lost, nothing stored twice,
  no finished request asked again (counted on the fault server).
- An actor killed mid-run: the run ends (never hangs), each lost call an error judgment
  that names the actor; a rerun completes the run.
- Without ``--executor ray``, ``ray`` is never imported; without ray installed,
  ``--executor ray`` is one line and exit 3; a bad ``--ray-address`` one line and exit 2.
- No Ray process is left running once the module is done (checked in the teardown).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge.records import RunConfig
from judge.run import RetryPolicy, run_judging
from judge.store import RunStore
from tests.fault_server import FaultServerProcess, spawn
from tests.helpers import assert_finished_not_repeated, run_and_kill, tiny_reward_model

ROOT = Path(__file__).resolve().parents[1]
FAST_RETRY = RetryPolicy(max_retries=3, base_delay=0.02, max_delay=0.2)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray instance limited to 2 CPUs for the module; yields its address.

    Its teardown checks that every process it started (the GCS, the raylet, workers and
    actors: this process's descendants) is gone after ``ray.shutdown``.
    """
    ray = pytest.importorskip("ray")
    import psutil

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        started = [p for p in psutil.Process().children(recursive=True) if _is_ray(p)]
        ray.shutdown()
    _gone, alive = psutil.wait_procs(started, timeout=20)
    left = [f"{p.pid} {' '.join(p.cmdline()[:2])}" for p in alive if p.is_running()]
    assert not left, f"Ray processes left running: {left}"


def _is_ray(process: Any) -> bool:
    """Whether a process is one of Ray's (not, say, the session's fault server)."""
    import psutil

    try:
        command = " ".join(process.cmdline())
        return process.name() in ("raylet", "gcs_server") or (
            command.startswith("ray::") or "/ray/" in command
        )
    except psutil.Error:  # it ended meanwhile
        return False


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test-ray"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "judge.cli", "run", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the same judgments ------------------------------------------------------------------


@pytest.mark.model
def test_ray_gives_the_in_process_judgments(ray_cluster: str, tmp_path: Path) -> None:
    from judge.ray_executor import RayExecutor, RayOptions

    # One thread per model: two actors share the module's two CPUs.
    config = RunConfig(judge="smollm2", judge_args={"n_threads": 1}, limit=4, use_cache=False)
    local = run_judging(config, output=tmp_path / "local")
    ray_run = run_judging(
        config, output=tmp_path / "ray", executor=RayExecutor(RayOptions(actors=2))
    )
    assert ray_run.requested == local.requested == 8
    _assert_same_judgments(ray_run.store, local.store)
    manifest = ray_run.manifest
    assert manifest.complete and manifest.executor.name == "ray"
    assert (manifest.executor.actors, manifest.executor.cpus) == (2, 2.0)
    assert local.manifest.executor.name == "local"

    # Cached tasks never reach an actor: with every reply cached, all are cache hits.
    cached_config = config.model_copy(update={"use_cache": True})
    run_judging(cached_config, output=tmp_path / "cached", run_name="first")
    again = run_judging(
        cached_config,
        output=tmp_path / "cached",
        run_name="second",
        executor=RayExecutor(RayOptions(actors=1)),
    )
    assert len(again.new_judgments) == 8 and all(j.cache_hit for j in again.new_judgments)
    # Stored tasks are not even planned: a rerun asks for nothing.
    rerun = run_judging(config, output=tmp_path / "ray", executor=RayExecutor())
    assert rerun.requested == 0 and rerun.manifest.complete


def _assert_same_judgments(mine_store: RunStore, their_store: RunStore) -> None:
    """Equal keys, statuses, verdicts and request keys; probabilities within 1e-6."""
    mine = {(j.item_id, j.swapped): j for j in mine_store.judgments()}
    theirs = {(j.item_id, j.swapped): j for j in their_store.judgments()}
    assert mine.keys() == theirs.keys()
    for key, j in mine.items():
        assert j.status == theirs[key].status == "ok"
        assert j.verdict == theirs[key].verdict and j.request_key == theirs[key].request_key
        assert j.probabilities is not None and theirs[key].probabilities is not None
        for choice, p in j.probabilities.items():
            assert abs(p - theirs[key].probabilities[choice]) < 1e-6


@pytest.mark.model  # a real (tiny, random) transformers model
def test_a_reward_model_on_ray_gives_the_in_process_scores(
    ray_cluster: str, tmp_path: Path
) -> None:
    """Each actor loads the reward model once and scores batches of texts the driver
    formats; the driver stores the judgments as in-process."""
    pytest.importorskip("transformers")
    from judge.ray_executor import RayExecutor, RayOptions

    model = tiny_reward_model(tmp_path / "tiny-rm")
    args = {"model": str(model), "device": "cpu", "batch_size": 2}  # 4 batches of 2 pairs
    config = RunConfig(judge="reward", judge_args=args, limit=4, use_cache=False)
    local = run_judging(config, output=tmp_path, run_name="local")
    executor = RayExecutor(RayOptions(actors=2))
    on_ray = run_judging(config, output=tmp_path, run_name="ray", executor=executor).store
    _assert_same_judgments(on_ray, local.store)
    theirs = {(j.item_id, j.swapped): j.scores for j in local.store.judgments()}
    for j in on_ray.judgments():
        want = theirs[(j.item_id, j.swapped)]
        assert j.scores is not None and want is not None
        assert max(abs(a - b) for a, b in zip(j.scores, want, strict=True)) < 1e-5
    manifest = on_ray.read_manifest()
    assert manifest.complete and (manifest.executor.name, manifest.executor.actors) == ("ray", 2)
    assert manifest.judge_hash == local.manifest.judge_hash


# -- a killed driver -----------------------------------------------------------------------


def test_sigkill_of_the_driver_then_rerun_repeats_nothing(ray_cluster: str, tmp_path: Path) -> None:
    server = spawn("--latency", "0.1")
    try:
        command = _cli(
            *("-b", "sample", "-j", "smollm2", "-J", "backend=openai"),
            *("-J", f"base_url={server.openai_url}", "-J", "model=gpt-4o-mini"),
            *("-o", str(tmp_path), "--name", "killed", "-c", "8", "--quiet"),
            *("--executor", "ray", "--ray-address", ray_cluster, "--actors", "2"),
        )
        store = RunStore(tmp_path / "killed")
        _, finished = run_and_kill(command, _env(), store.path, 30)
        assert 30 <= len(finished) < 132
        time.sleep(1.0)  # anything the killed driver's actors still had in flight lands
        before = server.stats()["attempts"]

        rerun = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert_finished_not_repeated(
            store.path, finished, before, server.stats(), server.openai_url, 132
        )
        manifest = json.loads(store.manifest_path.read_text())
        assert manifest["complete"] is True and manifest["executor"]["name"] == "ray"
        assert manifest["executor"]["address"] == ray_cluster
    finally:
        server.stop()


# -- a killed actor ------------------------------------------------------------------------


def test_an_actor_killed_mid_run_ends_in_clear_errors_then_a_rerun_completes(
    ray_cluster: str, tmp_path: Path
) -> None:
    from judge.ray_executor import RayExecutor, RayOptions

    server = spawn("--latency", "0.3")
    try:
        judge_args = {"backend": "openai", "base_url": server.openai_url, "model": "gpt-4o-mini"}
        config = RunConfig(judge="smollm2", judge_args=judge_args, limit=20, concurrency=8)
        executor = RayExecutor(RayOptions(actors=2))
        store = RunStore(tmp_path / "run")
        killed: list[int] = []

        def kill_one_actor() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                path = store.judgments_path
                if executor.actor_pids() and path.exists() and path.read_bytes().count(b"\n") >= 8:
                    pid = executor.actor_pids()[0]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_one_actor)
        killer.start()
        started = time.monotonic()
        result = run_judging(
            config, output=tmp_path, run_name="run", executor=executor, retry=FAST_RETRY
        )
        killer.join()
        assert killed, "no actor was killed"
        assert time.monotonic() - started < 60
        judgments = result.store.judgments()
        assert len(judgments) == 40 and result.requested == 40
        errors = [j for j in judgments if j.status == "error"]
        # The HTTP calls lost with the actor are not sent again (the provider may have
        # answered them); each is an error naming the actor, never a silent loss.
        assert all("Ray actor" in str(j.error) for j in errors)
        assert not result.manifest.complete or not errors

        rerun = run_judging(config, output=tmp_path, run_name="run", executor=RayExecutor())
        assert rerun.requested == len(errors)
        final = rerun.store.all_judgments()
        assert all(j.status == "ok" for j in rerun.store.judgments())
        ok_keys = Counter((j.item_id, j.swapped) for j in final if j.status == "ok")
        assert len(ok_keys) == 40 and max(ok_keys.values()) == 1
        assert rerun.manifest.complete
    finally:
        server.stop()


# -- Ray stays optional; errors are one line ------------------------------------------------


def test_ray_is_not_imported_without_executor_ray(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    script = f"""
import sys
from judge.cli import main
sys.argv = ["judge", "run", "-n", "2", "-J", "backend=openai", "-J",
            "base_url={fault_server.openai_url}", "-J", "model=gpt-4o-mini",
            "-o", {str(tmp_path)!r}, "--quiet"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))
assert not loaded, loaded
print("RAY-FREE")
"""
    out = subprocess.run(
        [sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "RAY-FREE" in out.stdout, out.stderr[-2000:]


def test_executor_ray_without_ray_installed_is_exit_3_in_one_line(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["ray"] = None  # as if the extra were not installed
from judge.cli import main
sys.argv = ["judge", "run", "-n", "1", "-o", {str(tmp_path)!r}, "--executor", "ray"]
main()
"""
    out = subprocess.run(
        [sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "error: ray is not installed; install it with: pip install 'judge-harness[ray]'"
    ]
    assert not (tmp_path / "sample-smollm2").exists() and not list(tmp_path.glob("sample-*"))


def test_bad_ray_options_are_one_line_and_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_free_port()}"  # nothing listens there
    cases = [
        (["--executor", "ray", "--ray-address", address], "cannot reach the Ray cluster"),
        (["--executor", "ray", "--ray-address", "nonsense"], "is not host:port"),
        (["--actors", "2"], "--actors only apply with --executor ray"),
        (["--executor", "dask"], "--executor must be local or ray"),
        (["--executor", "ray", "--actors", "0"], "actors"),
    ]
    for args, message in cases:
        started = time.monotonic()
        out = subprocess.run(
            _cli("-n", "1", "-o", str(tmp_path), *args),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, out.stderr)
        assert time.monotonic() - started < 30
    assert not list(tmp_path.glob("sample-*"))


# -- vLLM data parallel (GPU machines only) -----------------------------------------------


def _gpus() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


@pytest.mark.gpu
@pytest.mark.model
def test_vllm_data_parallel_on_ray(ray_cluster: str, tmp_path: Path) -> None:
    """One vLLM engine per GPU on Ray actors gives one in-process engine's verdicts.

    The checkpoint is ``JUDGE_VLLM_MODEL`` when set, else the embedded SmolLM2 GGUF.
    """
    if _gpus() == 0:
        pytest.skip("needs a CUDA GPU")
    pytest.importorskip("vllm")
    import ray

    from judge.backends.llamacpp import embedded_model_path
    from judge.ray_executor import RayExecutor, RayOptions

    gpus = int(ray.cluster_resources().get("GPU", 0))
    if gpus == 0:
        pytest.skip("the module's Ray instance sees no GPU")
    model = os.environ.get("JUDGE_VLLM_MODEL") or str(embedded_model_path())
    judge_args = {
        "backend": "vllm",
        "model": model,
        "max_model_len": 4096,
        "gpu_memory_utilization": 0.3,
        "batch_size": 4,  # several batches, so every actor gets some
    }
    config = RunConfig(judge="smollm2", judge_args=judge_args, limit=8, use_cache=False)
    executor = RayExecutor(RayOptions(actors=gpus, actor_gpus=1, actor_cpus=0))
    on_ray = run_judging(config, output=tmp_path / "ray", executor=executor)
    assert on_ray.manifest.executor.actor_gpus == 1 and on_ray.manifest.complete
    local = run_judging(config, output=tmp_path / "local")
    mine = {(j.item_id, j.swapped): j for j in on_ray.store.judgments()}
    theirs = {(j.item_id, j.swapped): j for j in local.store.judgments()}
    assert mine.keys() == theirs.keys()
    for key, j in mine.items():
        assert j.verdict == theirs[key].verdict
        assert j.probabilities is not None and theirs[key].probabilities is not None
        assert max(abs(p - theirs[key].probabilities[c]) for c, p in j.probabilities.items()) < 1e-3
