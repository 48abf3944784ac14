"""Batch execution (OpenAI Batch API, Anthropic Message Batches) against the fault server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from judge.backends.base import Completion, CompletionRequest
from judge.batch import BatchState, run_batch
from judge.cache import ResponseCache
from judge.errors import BackendError, ConfigError, FatalBackendError
from judge.judges import PromptJudge, Task
from judge.prices import load_prices
from judge.records import Judgment, PairItem, RunConfig
from judge.registry import benchmarks
from judge.run import plan_tasks
from judge.store import RunStore
from tests.fault_server import FaultServerProcess, expected_choice_probs, fingerprint

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5"}


@pytest.fixture
def items() -> list[PairItem]:
    return [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)][:20]


def make_judge(provider: str, server: FaultServerProcess, **params: object) -> PromptJudge:
    url = server.openai_url if provider == "openai" else server.url
    return PromptJudge.from_preset(
        "smollm2", backend=provider, base_url=url, model=MODELS[provider], **params
    )


def batch(judge: PromptJudge, tasks: list[Task], store: RunStore, **kw: object) -> list[Judgment]:
    async def go() -> list[Judgment]:
        try:
            return await run_batch(judge, tasks, store, poll_interval=0.05, **kw)  # type: ignore[arg-type]
        finally:
            store.close()
            await judge.aclose()

    return asyncio.run(go())


def fp_of(judge: PromptJudge, task: Task) -> str:
    return fingerprint([m.model_dump() for m in judge.request(task).messages])


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_run_stores_every_judgment_at_half_price(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem], provider: str
) -> None:
    fault_server.configure(batch_delay=0.2)
    # Without prompt caching every prompt token is billed at the (halved) input price.
    extra = {"prompt_cache": False} if provider == "anthropic" else {}
    judge = make_judge(provider, fault_server, **extra)
    tasks = plan_tasks(items, RunConfig())
    store = RunStore(tmp_path / "run")
    cache = ResponseCache(tmp_path / "cache.sqlite")
    made = batch(judge, tasks, store, cache=cache)

    assert len(made) == len(tasks) == 40
    stored = store.judgments()
    assert len(stored) == 40 and all(j.status == "ok" for j in stored)
    stats = fault_server.stats()
    assert stats["batches_created"] == 1
    assert all(stats["ok"][fp_of(judge, t)] == 1 for t in tasks)
    price = load_prices().lookup(MODELS[provider])
    assert price is not None
    for j in stored:
        full = (j.tokens_in * price.input + j.tokens_out * price.output) / 1e6
        assert j.cost == pytest.approx(full / 2) and j.cost > 0
    if provider == "openai":  # verdict probabilities from the batch lines' logprobs
        task = tasks[1]
        request = judge.request(task)
        expected = expected_choice_probs(
            [m.model_dump() for m in request.messages], ("A", "B", "C")
        )
        (judgment,) = [j for j in stored if (j.item_id, j.swapped) == (task.item.id, task.swapped)]
        assert judgment.probabilities is not None
        total = sum(expected.values())
        # Canonical order: the judge saw B first, so its "A" is the item's "B".
        assert judgment.probabilities["B"] == pytest.approx(expected["A"] / total)
    state = BatchState.model_validate_json((store.path / "batches.json").read_text())
    assert [b.state for b in state.batches] == ["collected"]
    assert len(state.batches[0].request_keys) == 40
    assert len(cache) == 40
    cache.close()

    # Everything is stored: a rerun submits nothing.
    again = batch(make_judge(provider, fault_server, **extra), tasks, store)
    assert again == [] and fault_server.stats()["batches_created"] == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_restart_resumes_by_batch_id(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem], provider: str
) -> None:
    fault_server.configure(batch_delay=1.0)
    tasks = plan_tasks(items, RunConfig())
    store = RunStore(tmp_path / "run")
    with pytest.raises(BackendError, match="rerun to collect") as stopped:
        batch(make_judge(provider, fault_server), tasks, store, max_wait=0.2)
    assert stopped.value.retryable
    assert store.judgments() == []
    state = json.loads((store.path / "batches.json").read_text())
    assert [b["state"] for b in state["batches"]] == ["running"]

    # A new process: a fresh judge and backend, the same run folder.
    judge = make_judge(provider, fault_server)
    made = batch(judge, tasks, store)
    assert len(made) == 40 and len(store.judgments()) == 40
    stats = fault_server.stats()
    assert stats["batches_created"] == 1  # resumed by id, not resubmitted
    assert all(stats["ok"][fp_of(judge, t)] == 1 for t in tasks)


def test_failed_lines_are_errors_and_only_they_are_resubmitted(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem]
) -> None:
    fault_server.configure(batch_delay=0.1, batch_fault_rate=0.3, seed=5)
    tasks = plan_tasks(items, RunConfig())
    store = RunStore(tmp_path / "run")
    judge = make_judge("openai", fault_server)
    batch(judge, tasks, store)
    first = store.judgments()
    errors = [j for j in first if j.status == "error"]
    assert len(first) == 40 and 3 <= len(errors) <= 25
    assert all("injected batch line error" in (j.error or "") for j in errors)

    fault_server.configure(batch_fault_rate=0.0)
    batch(make_judge("openai", fault_server), tasks, store)
    final = store.judgments()
    assert len(final) == 40 and all(j.status == "ok" for j in final)
    state = BatchState.model_validate_json((store.path / "batches.json").read_text())
    assert len(state.batches) == 2
    assert len(state.batches[1].request_keys) == len(errors)
    stats = fault_server.stats()
    assert all(stats["ok"][fp_of(judge, t)] == 1 for t in tasks)


def test_cached_replies_need_no_batch(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem]
) -> None:
    judge = make_judge("openai", fault_server)
    tasks = plan_tasks(items[:3], RunConfig())
    cache = ResponseCache(tmp_path / "cache.sqlite")
    for task in tasks:
        key = judge.request_key(task)
        cache.put(key, Completion(text="B", choice_probs={"A": 0.1, "B": 0.8, "C": 0.1}))
    made = batch(judge, tasks, RunStore(tmp_path / "run"), cache=cache)
    assert len(made) == 6 and all(j.cache_hit and j.status == "ok" for j in made)
    assert fault_server.stats()["batches_created"] == 0
    cache.close()


def test_batch_errors(
    fault_server: FaultServerProcess,
    tmp_path: Path,
    items: list[PairItem],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = plan_tasks(items[:2], RunConfig())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-batch-key")
    fault_server.configure(api_key="sk-right")
    with pytest.raises(FatalBackendError, match="401") as failure:
        batch(make_judge("openai", fault_server), tasks, RunStore(tmp_path / "a"))
    assert "sk-wrong-batch-key" not in str(failure.value)

    local = PromptJudge.from_preset("smollm2")
    with pytest.raises(ConfigError, match="no batch API"):
        batch(local, tasks, RunStore(tmp_path / "b"))

    fault_server.configure(api_key=None)
    judge = make_judge("openai", fault_server)
    batch(judge, tasks, RunStore(tmp_path / "c"))
    other = make_judge("openai", fault_server, temperature=0.5)
    with pytest.raises(ConfigError, match="another judge configuration"):
        batch(other, tasks, RunStore(tmp_path / "c"))


def test_batch_lines_match_live_requests(fault_server: FaultServerProcess) -> None:
    openai_judge = make_judge("openai", fault_server)
    request: CompletionRequest = openai_judge.request(
        Task(next(iter(benchmarks.get("sample")().load())))
    )
    line = openai_judge.backend.batch_line(request, "k" * 64)  # type: ignore[attr-defined]
    assert line["url"] == "/v1/chat/completions" and line["custom_id"] == "k" * 64
    assert line["body"] == openai_judge.backend.request_body(request)  # type: ignore[attr-defined]
    assert line["body"]["logprobs"] is True and line["body"]["max_tokens"] == 1


def test_cli_batch_execution_mode(fault_server: FaultServerProcess, tmp_path: Path) -> None:
    """`judge run --batch` goes through the batch API and lands in the same store."""
    from typer.testing import CliRunner

    from judge.cli import app

    fault_server.configure(batch_delay=0.1)
    args = [
        "run",
        "--batch",
        "--poll",
        "0.05",
        "--limit",
        "5",
        "-o",
        str(tmp_path),
        "--quiet",
        "-J",
        "backend=openai",
        "-J",
        f"base_url={fault_server.openai_url}",
        "-J",
        f"model={MODELS['openai']}",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "judgments              10 (10 ok" in result.output
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run_dir / "batches.json").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["execution"] == "batch" and manifest["complete"]
    assert fault_server.stats()["batches_created"] == 1
