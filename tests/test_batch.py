"""Batch execution (OpenAI Batch API, Anthropic Message Batches) against the fault server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from judge.backends.base import Completion, CompletionRequest
from judge.batch import BatchState, SubmittedBatch, run_batch, write_state
from judge.cache import ResponseCache
from judge.errors import BackendError, ConfigError, FatalBackendError
from judge.factory import preset_judge
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
    return preset_judge("smollm2", backend=provider, base_url=url, model=MODELS[provider], **params)


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

    local = preset_judge("smollm2")
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


# -- faults of the batch path, through the CLI (issue 14, items 11-15) --------------------

ENV_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def cli_run(
    server: FaultServerProcess,
    out: Path,
    provider: str = "openai",
    *extra: str,
    batch_mode: bool = True,
    model: str | None = None,
) -> Any:
    """``judge run [--batch]`` on 5 sample items (10 judgments) against the fault server."""
    from typer.testing import CliRunner

    from judge.cli import app

    url = server.openai_url if provider == "openai" else server.url
    args = [
        "run",
        *(["--batch", "--poll", "0.05"] if batch_mode else []),
        "--limit",
        "5",
        "--name",
        "run",
        "-o",
        str(out),
        "--quiet",
        "-J",
        f"backend={provider}",
        "-J",
        f"base_url={url}",
        "-J",
        f"model={model or MODELS[provider]}",
        *extra,
    ]
    return CliRunner().invoke(app, args)


def state_of(run_dir: Path) -> BatchState:
    return BatchState.model_validate_json((run_dir / "batches.json").read_text())


def stored(run_dir: Path) -> list[Judgment]:
    return RunStore(run_dir).judgments()


def leave_batch_running(server: FaultServerProcess, run_dir: Path, items: list[PairItem]) -> str:
    """Submit the CLI run's 10 requests as a batch and stop polling (a killed ``--batch`` run)."""
    server.configure(batch_delay=60.0)
    tasks = plan_tasks(items[:5], RunConfig())
    with pytest.raises(BackendError, match="rerun to collect"):
        batch(make_judge("openai", server), tasks, RunStore(run_dir), max_wait=0.1)
    (submitted,) = state_of(run_dir).batches
    assert submitted.state == "running" and submitted.batch_id
    return submitted.batch_id


@pytest.mark.parametrize(
    ("provider", "batch_delay"),
    [
        ("openai", 0.1),  # matched by its metadata, checked against its input file
        ("anthropic", 0.1),  # ended when listed: checked against its results' custom ids
        ("anthropic", 8.0),  # still running when listed: adopted by size and time
    ],
)
def test_lost_create_reply_is_adopted_not_paid_twice(
    fault_server: FaultServerProcess,
    tmp_path: Path,
    provider: str,
    batch_delay: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 11: the create call times out but the batch exists; the rerun adopts it."""
    fault_server.configure(batch_delay=batch_delay, batch_create_delay=4.0)
    first = cli_run(fault_server, tmp_path, provider, "-J", "timeout=1.5")
    assert first.exit_code == 5, first.output
    assert "the batch may exist" in first.output and "Rerun with --batch" in first.output
    assert fault_server.stats()["batches_created"] == 1
    (intent,) = state_of(tmp_path / "run").batches
    assert intent.state == "submitting" and intent.batch_id is None

    fault_server.configure(batch_create_delay=0.0)
    second = cli_run(fault_server, tmp_path, provider, "-J", "timeout=1.5")
    assert second.exit_code == 0, second.output
    assert "judgments              10 (10 ok" in second.output
    assert fault_server.stats()["batches_created"] == 1  # adopted, not submitted again
    (adopted,) = state_of(tmp_path / "run").batches
    assert adopted.adopted and adopted.state == "collected" and adopted.batch_id
    assert any("adopted" in r.getMessage() for r in caplog.records)
    judgments = stored(tmp_path / "run")
    assert len(judgments) == 10 and all(j.status == "ok" for j in judgments)


def test_unanswered_submission_without_a_batch_is_submitted_again(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem]
) -> None:
    """Item 11: a recorded attempt that never reached the provider (killed before the
    create call) is looked for, not found, and its requests are submitted once."""
    fault_server.configure(batch_delay=0.1)
    judge = make_judge("openai", fault_server)
    keys = tuple(sorted({judge.request_key(t) for t in plan_tasks(items[:5], RunConfig())}))
    intent = SubmittedBatch(provider="openai", request_keys=keys, state="submitting")
    write_state(
        tmp_path / "run" / "batches.json",
        BatchState(judge_hash=judge.judge_hash, batches=(intent,)),
    )

    result = cli_run(fault_server, tmp_path)
    assert result.exit_code == 0, result.output
    assert "judgments              10 (10 ok" in result.output
    assert fault_server.stats()["batches_created"] == 1
    (submitted,) = state_of(tmp_path / "run").batches
    assert submitted.state == "collected" and not submitted.adopted
    assert sorted(submitted.request_keys) == list(keys)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_batch_error_text_never_holds_the_key(
    fault_server: FaultServerProcess,
    tmp_path: Path,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 12: a provider echoing the key in errored lines never gets it stored."""
    secret = f"sk-{provider}-echoed-secret-0123456789"
    monkeypatch.setenv(ENV_KEYS[provider], secret)
    fault_server.configure(
        api_key=secret, batch_delay=0.1, batch_fault_rate=1.0, batch_echo_key=True
    )
    first = cli_run(fault_server, tmp_path, provider)
    assert first.exception is None or isinstance(first.exception, SystemExit), first.output
    errors = stored(tmp_path / "run")
    assert len(errors) == 10 and all(j.status == "error" for j in errors)
    assert all("request made with key ***" in (j.error or "") for j in errors)

    fault_server.configure(batch_fault_rate=0.0)
    second = cli_run(fault_server, tmp_path, provider)
    assert second.exit_code == 0, second.output
    assert secret not in first.output + second.output
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "judgments.jsonl" for p in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), path


def test_live_rerun_with_batches_in_flight_is_refused(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem]
) -> None:
    """Item 13: without --batch, a run folder with a batch in flight is not sent live."""
    batch_id = leave_batch_running(fault_server, tmp_path / "run", items)

    live = cli_run(fault_server, tmp_path, batch_mode=False)
    assert live.exit_code == 2, live.output
    assert batch_id in live.output and "batches.json" in live.output
    assert "with --batch to collect them" in live.output
    assert fault_server.stats()["total_attempts"] == 0  # nothing was sent live
    assert stored(tmp_path / "run") == []

    fault_server.configure(batch_delay=0.1)
    collected = cli_run(fault_server, tmp_path)
    assert collected.exit_code == 0, collected.output
    stats = fault_server.stats()
    assert stats["batches_created"] == 1 and stats["total_ok"] == 10
    assert len(stored(tmp_path / "run")) == 10

    # Once collected, a live rerun is allowed (and has nothing to send).
    again = cli_run(fault_server, tmp_path, batch_mode=False)
    assert again.exit_code == 0, again.output
    assert fault_server.stats()["total_attempts"] == 10  # the batch lines only


@pytest.mark.parametrize(
    ("provider", "model"), [("openai", "fault-nologprobs"), ("anthropic", "fault-notemp")]
)
def test_batch_falls_back_to_text_when_logprobs_are_refused(
    fault_server: FaultServerProcess, tmp_path: Path, provider: str, model: str
) -> None:
    """Item 14: a probability preset on a model without logprobs is judged by its text
    (and Anthropic's temperature, the one field its backend drops, likewise)."""
    fault_server.configure(batch_delay=0.1)
    result = cli_run(fault_server, tmp_path, provider, model=model)
    assert result.exit_code == 0, result.output
    assert "judgments              10 (10 ok" in result.output
    judgments = stored(tmp_path / "run")
    assert len(judgments) == 10
    assert all(j.status == "ok" and j.verdict and j.probabilities is None for j in judgments)
    stats = fault_server.stats()
    # The refused batch, then its requests again without logprobs; each answered once.
    assert stats["batches_created"] == 2 and stats["rejected"] == 10
    assert stats["total_ok"] == 10 and all(n == 1 for n in stats["ok"].values())
    first, second = state_of(tmp_path / "run").batches
    assert first.state == second.state == "collected"
    assert sorted(first.request_keys) == sorted(second.request_keys)

    rerun = cli_run(fault_server, tmp_path, provider, model=model)
    assert rerun.exit_code == 0 and fault_server.stats()["batches_created"] == 2


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_duplicate_and_unknown_result_lines(
    fault_server: FaultServerProcess,
    tmp_path: Path,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Item 15: an error line after a success keeps the success; odd lines are counted."""
    fault_server.configure(batch_delay=0.1, batch_duplicate_lines=True, batch_unknown_lines=3)
    result = cli_run(fault_server, tmp_path, provider)
    assert result.exit_code == 0, result.output
    assert "judgments              10 (10 ok" in result.output
    assert all(j.status == "ok" for j in stored(tmp_path / "run"))
    (collected,) = state_of(tmp_path / "run").batches
    assert (collected.duplicate_lines, collected.unknown_lines) == (10, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("3 result lines for requests it never held" in w for w in warnings)
    assert any("10 duplicate lines" in w for w in warnings)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_expired_lines_are_labelled_expired_and_resubmitted(
    fault_server: FaultServerProcess, tmp_path: Path, provider: str
) -> None:
    """Item 15: lines the provider never ran are "expired", not "HTTP 500"."""
    fault_server.configure(batch_delay=0.1, batch_expire_rate=0.5, seed=3)
    first = cli_run(fault_server, tmp_path, provider)
    assert first.exception is None or isinstance(first.exception, SystemExit), first.output
    errors = [j for j in stored(tmp_path / "run") if j.status == "error"]
    assert 1 <= len(errors) <= 9
    assert all("expired" in (j.error or "") and "HTTP" not in (j.error or "") for j in errors)

    fault_server.configure(batch_expire_rate=0.0)
    second = cli_run(fault_server, tmp_path, provider)
    assert second.exit_code == 0, second.output
    assert "judgments              10 (10 ok" in second.output
    _, again = state_of(tmp_path / "run").batches
    assert len(again.request_keys) == len(errors)  # only the expired ones went again


def test_batch_unknown_to_the_provider(
    fault_server: FaultServerProcess, tmp_path: Path, items: list[PairItem]
) -> None:
    """Item 15: a recorded batch answered 404 is named, marked lost, and not a dead end."""
    batch_id = leave_batch_running(fault_server, tmp_path / "run", items)
    fault_server.reset()  # the provider forgets every batch: polls answer 404
    fault_server.configure(batch_delay=0.1)

    lost = cli_run(fault_server, tmp_path)
    assert lost.exit_code == 5, lost.output
    assert batch_id in lost.output and "batches.json" in lost.output
    assert "marked lost" in lost.output and "Rerun with --batch" in lost.output
    (marked,) = state_of(tmp_path / "run").batches
    assert marked.state == "lost" and "404" in marked.detail
    assert fault_server.stats()["batches_created"] == 0  # nothing resubmitted unasked

    again = cli_run(fault_server, tmp_path)
    assert again.exit_code == 0, again.output
    assert "judgments              10 (10 ok" in again.output
    assert fault_server.stats()["batches_created"] == 1
    assert [b.state for b in state_of(tmp_path / "run").batches] == ["lost", "collected"]
