"""``judge run --dry-run``: what a run would still ask, estimated without sending anything.

It sits above the runner (it plans the run's tasks as :mod:`judge.run` does) and the
budget arithmetic (:mod:`judge.budget`), which the runner itself uses for ``--max-cost``.
"""

from __future__ import annotations

from pathlib import Path

from judge.benchmark import load_items
from judge.budget import CostEstimate, estimate
from judge.errors import ConfigError
from judge.factory import build_benchmark, build_judge
from judge.judges import PromptJudge
from judge.records import RunConfig
from judge.run import plan_tasks, run_id_for
from judge.store import RunStore, judgment_key


def estimate_run(
    config: RunConfig,
    *,
    output: str | Path = "results",
    run_name: str | None = None,
    tokenizer: str | None = None,
) -> CostEstimate:
    """The estimate of what ``judge run`` with ``config`` would still ask (nothing sent)."""
    items = load_items(build_benchmark(config), limit=config.limit)
    judge = build_judge(config)
    if not isinstance(judge, PromptJudge):
        raise ConfigError(f"--dry-run estimates prompt judges; {judge.name!r} is not one")
    store = RunStore(Path(output) / (run_name or run_id_for(config, judge)))
    done: set[tuple[str, bool, int]] = set()
    if store.exists() and store.path.joinpath("judgments.jsonl").exists():
        done = {judgment_key(j) for j in store.judgments() if j.status != "error"}
    tasks = [t for t in plan_tasks(items, config) if (t.item.id, t.swapped, t.sample) not in done]
    return estimate(judge, tasks, tokenizer=tokenizer)
