"""Runner: both orders, cache (successes only), retries, resume, reparse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.backends.base import Completion
from judge.cache import FLUSH_EVERY, ResponseCache
from judge.errors import ConfigError, FatalBackendError
from judge.factory import preset_judge
from judge.judges import Task
from judge.records import RunConfig
from judge.registry import backends
from judge.reparse import reparse_run
from judge.run import RetryPolicy, run_judging
from judge.store import RunStore
from tests.helpers import ScriptedBackend

FAST = RetryPolicy(max_retries=3, base_delay=0.0)


@pytest.fixture(autouse=True)
def scripted() -> Iterator[type[ScriptedBackend]]:
    backends.register("scripted", ScriptedBackend, replace=True)
    ScriptedBackend.calls.clear()
    yield ScriptedBackend
    backends.unregister("scripted")


def config(**judge_args: object) -> RunConfig:
    return RunConfig(
        judge="smollm2",
        judge_args={"backend": "scripted", **judge_args},
        limit=6,
        concurrency=3,
    )


def test_both_orders_are_judged_and_verdicts_are_canonical(tmp_path: Path) -> None:
    result = run_judging(config(answer="A"), output=tmp_path, retry=FAST)
    judgments = result.store.judgments()
    assert len(judgments) == 12
    by_order = {(j.item_id, j.swapped): j for j in judgments}
    for item in result.items:
        # The scripted judge always says "A" (the response shown first): canonical
        # verdicts therefore differ between the two orders.
        assert by_order[(item.id, False)].verdict == "A"
        assert by_order[(item.id, True)].verdict == "B"
        assert by_order[(item.id, True)].probabilities == pytest.approx(
            {"A": 0.1 / 0.9, "B": 0.7 / 0.9, "tie": 0.1 / 0.9}
        )
    assert result.manifest.complete
    assert result.manifest.counts.ok == 12


def test_original_order_only(tmp_path: Path) -> None:
    cfg = config().model_copy(update={"orders": "original"})
    result = run_judging(cfg, output=tmp_path, retry=FAST)
    assert {j.swapped for j in result.store.judgments()} == {False}


def test_cache_hits_on_a_fresh_run_folder(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    run_judging(config(), output=tmp_path / "one", cache_path=cache, retry=FAST)
    calls = sum(ScriptedBackend.calls.values())
    second = run_judging(config(), output=tmp_path / "two", cache_path=cache, retry=FAST)
    assert sum(ScriptedBackend.calls.values()) == calls  # nothing new was asked
    assert all(j.cache_hit for j in second.store.judgments())
    assert second.manifest.counts.cache_hits == 12


def test_cache_writes_are_grouped_and_held_entries_are_seen(tmp_path: Path) -> None:
    """Completions are held and written in one transaction per FLUSH_EVERY; a held
    entry is a hit before it is written; close writes what is held; the request key is
    hashed once, by the caller, and stored in the judgment."""
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    for i in range(FLUSH_EVERY + 3):
        cache.put(f"k{i}", Completion(text=str(i)))
    other = ResponseCache(path)  # another process's view: only what was written
    assert len(other) == FLUSH_EVERY
    held = cache.get(f"k{FLUSH_EVERY + 2}")
    assert held is not None and held.text == str(FLUSH_EVERY + 2)
    cache.close()
    assert len(other) == FLUSH_EVERY + 3
    other.close()

    result = run_judging(config(), output=tmp_path / "run", cache_path=path, retry=FAST)
    judge = preset_judge("smollm2", backend="scripted")
    stored = {(j.item_id, j.swapped): j.request_key for j in result.store.judgments()}
    for item in result.items:
        for swapped in (False, True):
            assert stored[(item.id, swapped)] == judge.request_key(Task(item, swapped=swapped))
    assert "RunResult(run=" in repr(result) and len(repr(result)) < 200


def test_only_successes_are_cached(tmp_path: Path) -> None:
    cfg = config(fail_marker="17 × 24", fail_times=-1)
    first = run_judging(cfg, output=tmp_path, retry=FAST)
    errors = [j for j in first.store.judgments() if j.status == "error"]
    assert len(errors) == 2 and all("400 bad request" in (j.error or "") for j in errors)
    assert not first.manifest.complete
    # A rerun retries the errors (they were not cached) and nothing else.
    ScriptedBackend.calls.clear()
    run_judging(cfg, output=tmp_path, retry=FAST)
    assert sum(ScriptedBackend.calls.values()) == 2


def test_retryable_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    result = run_judging(config(fail_marker="17 × 24", fail_times=2), output=tmp_path, retry=FAST)
    assert result.manifest.counts.ok == 12
    assert max(ScriptedBackend.calls.values()) == 3


def test_fatal_error_stops_the_run_and_keeps_what_was_done(tmp_path: Path) -> None:
    with pytest.raises(FatalBackendError, match="401"):
        run_judging(config(fatal_marker="Compute 144"), output=tmp_path, retry=FAST)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = RunStore(run_dir).read_manifest()
    assert not manifest.complete
    assert "401" in manifest.extra["last_failure"]


def test_resume_asks_only_for_missing_judgments(tmp_path: Path) -> None:
    first = run_judging(config(), output=tmp_path, retry=FAST)
    lines_before = first.store.judgments_path.read_text().count("\n")
    ScriptedBackend.calls.clear()
    again = run_judging(config(), output=tmp_path, retry=FAST, cache_path=tmp_path / "other.sqlite")
    assert again.requested == 0 and not ScriptedBackend.calls
    assert again.store.judgments_path.read_text().count("\n") == lines_before
    # A larger --limit extends the same run folder.
    bigger = config().model_copy(update={"limit": 8})
    more = run_judging(bigger, output=tmp_path, retry=FAST, cache_path=tmp_path / "other.sqlite")
    assert more.requested == 4 and more.store.path == first.store.path
    assert len(more.store.judgments()) == 16 and len(more.store.items()) == 8


def test_partial_last_line_is_cut_on_resume(tmp_path: Path) -> None:
    first = run_judging(config(), output=tmp_path, retry=FAST)
    path = first.store.judgments_path
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])  # a kill mid-write
    assert len(RunStore(first.store.path).judgments()) == 11
    again = run_judging(config(), output=tmp_path, retry=FAST)
    assert again.requested == 1
    keys = [(j["item_id"], j["swapped"]) for j in map(json.loads, path.read_text().splitlines())]
    assert len(keys) == len(set(keys)) == 12


def test_changed_judge_in_same_folder_is_refused(tmp_path: Path) -> None:
    run_judging(config(), output=tmp_path, run_name="fixed", retry=FAST)
    with pytest.raises(ConfigError, match="different judge configuration"):
        run_judging(config(answer="B"), output=tmp_path, run_name="fixed", retry=FAST)


def test_reparse_changes_verdicts_without_requests(tmp_path: Path) -> None:
    cfg = config(answer="B.", mode="generate")
    result = run_judging(cfg, output=tmp_path, retry=FAST)
    assert {j.verdict for j in result.store.judgments() if not j.swapped} == {"B"}
    ScriptedBackend.calls.clear()
    changed, counts = reparse_run(result.store.path, parser="letter")
    assert changed == 0 and counts.ok == 12
    assert not ScriptedBackend.calls
    # Corrupt the stored replies' parse (as if an old parser had failed) and reparse.
    store = RunStore(result.store.path)
    broken = [
        j.model_copy(update={"status": "unparsed", "verdict": None}) for j in store.judgments()
    ]
    store.rewrite_judgments(broken)
    changed, counts = reparse_run(result.store.path)
    assert changed == 12 and counts.ok == 12 and not ScriptedBackend.calls
    assert list(result.store.path.glob("judgments.before-reparse-*.jsonl"))


def test_unparsed_reply_is_its_own_outcome(tmp_path: Path) -> None:
    result = run_judging(
        config(answer="Both look fine to me", mode="generate"), output=tmp_path, retry=FAST
    )
    judgments = result.store.judgments()
    assert {j.status for j in judgments} == {"unparsed"}
    assert all(j.verdict is None and j.raw == "Both look fine to me" for j in judgments)


def test_reparse_with_upstream_rules(tmp_path: Path) -> None:
    """`judge reparse RUN -J parse=upstream`: stored replies re-read with upstream's rule
    (MT-Bench: [[A]] anywhere wins) without a request; the manifest records the mode."""
    cfg = RunConfig(
        benchmark="sample",
        judge="mt-bench-pair",
        judge_args={"backend": "scripted", "answer": "Earlier I said [[A]]. Final: [[B]]"},
        limit=2,
    )
    result = run_judging(cfg, output=tmp_path, retry=FAST)
    assert {j.verdict for j in result.store.judgments() if not j.swapped} == {"B"}
    ScriptedBackend.calls.clear()
    changed, counts = reparse_run(result.store.path, overrides={"parse": "upstream"})
    assert changed == 4 and counts.ok == 4 and not ScriptedBackend.calls
    assert {j.verdict for j in RunStore(result.store.path).judgments() if not j.swapped} == {"A"}
    assert result.store.read_manifest().extra["reparsed"][-1]["parse"] == "upstream"
