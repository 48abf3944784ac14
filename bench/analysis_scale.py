"""How long the analysis layer takes on 1,000,000 synthetic judgments (no bootstrap CIs).

Builds a synthetic frame (2 judges x 250,000 pairs x 2 orders, three annotators,
probabilities, 2% unparsed and 0.5% errors), then computes every table the report
shows with ``n_resamples=0``: pair frames under each policy, agreement (overall and
per category), confusion counts, the human baseline and annotator kappas, judge vs
judge, the leaderboard, position bias (overall, by length gap and quality gap, per
policy), length bias and its regression, win rates and Bradley-Terry, the run summary.

Prints each table's wall and CPU seconds, the total, and the total as a ratio of the
10 s budget (below 1.0 passes). Reading run folders is not part of the analysis budget
(``bench/load_frame.py`` times it beside pyarrow on 1,000,000 judgments): with ``--load``
the script also writes a 100,000-judgment run folder and times
:func:`judge.analysis.frame.load_frame` on it.

Run: ``python bench/analysis_scale.py [n_judgments] [--load]``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

LIMIT_S = 10.0


def main(n_judgments: int = 1_000_000) -> float:
    from judge.analysis import agreement, bias, ranking
    from judge.analysis.frame import pair_frame
    from judge.analysis.leaderboard import leaderboard
    from judge.analysis.summary import run_summary
    from judge.analysis.synthetic import synthetic_frame

    started = time.perf_counter()
    import krippendorff  # noqa: F401  (one-off import costs, reported apart)
    import scipy.optimize
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    print(
        f"imports of scikit-learn, scipy, krippendorff: {time.perf_counter() - started:.2f} s "
        "(not counted)"
    )
    n_runs = 2
    started = time.perf_counter()
    frame = synthetic_frame(n_judgments // (2 * n_runs), n_runs=n_runs, seed=0)
    print(
        f"synthetic frame: {len(frame):,} judgments in {time.perf_counter() - started:.2f} s "
        "(not counted)"
    )

    timings: dict[str, tuple[float, float]] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    pairs = timed("pair_frame (run policy)", lambda: pair_frame(frame))
    timed("agreement by run", lambda: agreement.agreement_table(pairs, n_resamples=0))
    timed(
        "agreement by category",
        lambda: agreement.agreement_table(pairs, by=["run", "category"], n_resamples=0),
    )
    timed("confusion", lambda: agreement.confusion_table(pairs))
    timed(
        "human baseline (leave-one-out)",
        lambda: agreement.leave_one_out_table(pairs, n_resamples=0),
    )
    timed("annotator kappas", lambda: agreement.annotator_agreement(pairs, n_resamples=0))
    timed("judge vs judge", lambda: agreement.judge_comparisons(pairs, n_resamples=0))
    timed("leaderboard", lambda: leaderboard(frame, pairs=pairs, n_resamples=0))
    timed("position", lambda: bias.position_table(frame, pairs=pairs, n_resamples=0))
    timed(
        "position by length gap",
        lambda: bias.position_by_gap(frame, pairs=pairs, gap="length", n_resamples=0),
    )
    timed(
        "position by quality gap",
        lambda: bias.position_by_gap(frame, pairs=pairs, gap="quality", n_resamples=0),
    )
    timed("reconcile policies", lambda: bias.policy_table(frame, n_resamples=0))
    timed("length preference", lambda: bias.prefer_longer_table(frame, n_resamples=0))
    timed("length regression", lambda: bias.length_regression(frame))
    timed("win rates", lambda: ranking.win_rates(pairs, n_resamples=0))
    timed("bradley-terry", lambda: ranking.bradley_terry(pairs, n_resamples=0))
    timed("run summary", lambda: run_summary(frame))

    width = max(map(len, timings))
    print(f"  {'table':<{width}}  {'wall':>7}  {'cpu':>7}")
    for name, (wall_s, cpu_s) in timings.items():
        print(f"  {name:<{width}}  {wall_s:6.2f}s  {cpu_s:6.2f}s")
    total = sum(wall for wall, _ in timings.values())
    cpu_total = sum(cpu for _, cpu in timings.values())
    print(
        f"total {total:.2f} s wall ({cpu_total:.2f} s CPU) for {len(frame):,} judgments; "
        f"ratio to the {LIMIT_S:g} s limit: {total / LIMIT_S:.2f} (CPU: {cpu_total / LIMIT_S:.2f})"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(
            f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
            "wall times include waiting for other processes"
        )
    return total


def time_loading(n_pairs: int = 50_000) -> float:
    """Seconds :func:`load_frame` takes on a run folder of ``2 * n_pairs`` judgments."""
    import tempfile

    from judge.analysis.frame import load_frame
    from judge.records import HumanLabel, Judgment, PairItem, RunConfig, RunManifest
    from judge.store import RunStore

    items = [
        PairItem(
            id=str(i),
            benchmark="synthetic",
            prompt=f"question {i}",
            response_a="a" * (i % 400),
            response_b="b" * 120,
            labels=tuple(HumanLabel(annotator=f"h{k}", verdict="A") for k in range(3)),
        )
        for i in range(n_pairs)
    ]
    judgments = [
        Judgment(
            item_id=str(i),
            judge="j",
            judge_hash="h",
            request_key=f"{i}/{swapped}",
            swapped=swapped,
            status="ok",
            verdict="A",
            probabilities={"A": 0.7, "B": 0.3},
        )
        for i in range(n_pairs)
        for swapped in (False, True)
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        store.write_manifest(
            RunManifest(run_id="load", config=RunConfig(), judge_hash="h", data_hash="d")
        )
        store.write_items(items)
        store.rewrite_judgments(judgments)
        started = time.perf_counter()
        frame = load_frame(folder)
        seconds = time.perf_counter() - started
    print(
        f"load_frame: {len(frame):,} judgments read from a run folder in {seconds:.2f} s "
        "(not counted)"
    )
    return seconds


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 1_000_000)
    if "--load" in sys.argv:
        time_loading()
