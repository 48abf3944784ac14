"""--dry-run counts what a run would send; --max-cost stops it before the budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from judge.benchmark import load_items
from judge.budget import estimate, estimate_tokens, request_cost
from judge.errors import BudgetExceeded
from judge.factory import preset_judge
from judge.judges import PromptJudge
from judge.records import RunConfig
from judge.registry import benchmarks
from judge.run import RetryPolicy, plan_tasks, run_judging
from judge.store import RunStore
from tests.fault_server import FaultServerProcess


def test_dry_run_counts_equal_the_llama_server_prompt_tokens(
    llama_server: str, tmp_path: Path
) -> None:
    items = load_items(benchmarks.get("sample")(), limit=2)
    config = RunConfig(benchmark="sample", judge="smollm2", concurrency=1)
    judge = preset_judge(
        "smollm2", backend="openai", base_url=llama_server, model="smollm2", api_key_env=""
    )
    tasks = plan_tasks(items, config)
    est = estimate(judge, tasks, tokenizer="embedded")
    assert est.requests == 4 and "llama.cpp tokenizer" in est.token_source
    result = run_judging(config, output=tmp_path, judge=judge, items=items)
    reported = {(j.item_id, j.swapped): j.tokens_in for j in result.store.judgments()}
    counted = {
        (t.item.id, t.swapped): n for t, n in zip(tasks, est.per_request_tokens, strict=True)
    }
    assert counted == reported
    # the tokenizer-free estimate is in the same range (it is documented as rough)
    rough = estimate(judge, tasks)
    assert 0.5 < rough.prompt_tokens / est.prompt_tokens < 2.0


def priced_judge(
    server: FaultServerProcess, folder: Path, preset: str = "smollm2", **params: Any
) -> Callable[[], PromptJudge]:
    """A factory of judges of ``preset`` on the fault server at a steep price."""
    prices = folder / "prices.toml"
    prices.write_text('[models."gpt-4o-mini"]\ninput = 10000.0\noutput = 10000.0\n')

    def judge() -> PromptJudge:
        return preset_judge(
            preset,
            backend="openai",
            base_url=server.openai_url,
            model="gpt-4o-mini",
            api_key_env="",
            prices=str(prices),
            **params,
        )

    return judge


def test_max_cost_stops_within_one_request_then_resumes(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    items = load_items(benchmarks.get("sample")())
    config = RunConfig(benchmark="sample", judge="smollm2", concurrency=1)
    judge = priced_judge(fault_server, tmp_path)
    tasks = plan_tasks(items, config)
    built = judge()
    bounds = [
        request_cost(built.backend, estimate_tokens(r), r.max_tokens)
        for r in (built.request(t) for t in tasks)
    ]
    budget = sum(bounds) / 3
    fast = RetryPolicy(base_delay=0.01)
    with pytest.raises(BudgetExceeded, match="stopped before exceeding --max-cost"):
        run_judging(config, output=tmp_path, judge=built, items=items, max_cost=budget, retry=fast)
    store = RunStore(next(p for p in tmp_path.iterdir() if p.is_dir()))
    stored = store.judgments()
    spent = sum(j.billed for j in stored)
    assert 0 < len(stored) < len(tasks)
    assert spent <= budget  # never past the budget ...
    assert spent + bounds[len(stored)] > budget  # ... and stopped only when the next could be
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert "BudgetExceeded" in manifest["extra"]["last_failure"]
    # resumable: a larger budget finishes the run, nothing asked twice
    done = run_judging(
        config, output=tmp_path, judge=judge(), items=items, max_cost=budget * 10, retry=fast
    )
    assert done.manifest.complete and done.requested == len(tasks) - len(stored)
    stats = fault_server.stats()
    assert sum(stats["ok"].values()) == len(tasks)


def test_max_cost_holds_back_batch_submissions_then_resumes(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    """--max-cost with --batch: only the requests whose upper bounds (at batch prices) fit
    are submitted; they are collected and stored, then the run stops (exit-code class
    BudgetExceeded) and a rerun with a larger budget submits only the rest."""
    fault_server.configure(batch_delay=0.05)
    items = load_items(benchmarks.get("sample")(), limit=6)
    config = RunConfig(benchmark="sample", judge="smollm2", execution="batch")
    judge = priced_judge(fault_server, tmp_path)
    tasks = plan_tasks(items, config)
    built = judge()
    bounds = [
        request_cost(built.backend, estimate_tokens(r), r.max_tokens, batch=True)
        for r in (built.request(t) for t in tasks)
    ]
    budget = sum(bounds) / 3
    with pytest.raises(BudgetExceeded, match="not submitted"):
        run_judging(
            config, output=tmp_path, judge=built, items=items, max_cost=budget, batch_poll_s=0.05
        )
    store = RunStore(next(p for p in tmp_path.iterdir() if p.is_dir()))
    stored = store.judgments()
    assert 0 < len(stored) < len(tasks) and all(j.status == "ok" for j in stored)
    assert fault_server.stats()["batches_created"] == 1
    spent = sum(j.billed for j in stored)
    assert spent <= budget  # never past the budget ...
    assert sum(bounds[: len(stored)]) <= budget < sum(bounds[: len(stored) + 1])  # ... one short
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert "BudgetExceeded" in manifest["extra"]["last_failure"]
    done = run_judging(
        config,
        output=tmp_path,
        judge=judge(),
        items=items,
        max_cost=budget * 10,
        batch_poll_s=0.05,
    )
    assert done.manifest.complete and done.requested == len(tasks) - len(stored)
    stats = fault_server.stats()
    assert stats["batches_created"] == 2 and stats["total_ok"] == len(tasks)


def test_max_cost_below_the_concurrency_waits_instead_of_stopping(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    """A budget of three requests' bounds with eight in flight: requests that do not fit
    beside those in flight wait for them (real costs are far below the bounds), so the
    run goes on until the next request could not fit even alone (it stopped before
    sending anything when every concurrency slot reserved its bound up front)."""
    items = load_items(benchmarks.get("sample")(), limit=12)
    config = RunConfig(benchmark="sample", judge="mt-bench-pair", concurrency=8)
    # room for 200 output tokens: the fake model's replies are short
    built = priced_judge(fault_server, tmp_path, "mt-bench-pair", max_tokens=200)()
    tasks = plan_tasks(items, config)
    bounds = {
        (t.item.id, t.swapped): request_cost(built.backend, estimate_tokens(r), r.max_tokens)
        for t, r in ((t, built.request(t)) for t in tasks)
    }
    budget = 3 * max(bounds.values())
    fast = RetryPolicy(base_delay=0.01)
    with pytest.raises(BudgetExceeded, match="stopped before exceeding --max-cost"):
        run_judging(config, output=tmp_path, judge=built, items=items, max_cost=budget, retry=fast)
    store = RunStore(next(p for p in tmp_path.iterdir() if p.is_dir()))
    stored = store.judgments()
    spent = sum(j.billed for j in stored)
    assert len(stored) > 3  # more than three bounds' worth of requests went through
    assert spent <= budget
    left = [b for key, b in bounds.items() if key not in {(j.item_id, j.swapped) for j in stored}]
    assert left and spent + max(left) > budget
