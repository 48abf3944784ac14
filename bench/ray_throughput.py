"""Judgments per second on Ray actors against the in-process runner (the embedded judge).

Runs the sample with the embedded llama.cpp judge (cache off) four ways: in-process
with all cores' threads (the baseline), in-process with one thread, and with
``--executor ray`` on 1 and 2 actors of one thread each, on a local Ray instance
started beforehand (its start-up is printed, not counted). Actor start-up (a worker
process, its imports and the model load) is timed apart from judging. Prints each as a
ratio to the baseline.

What a 2-core machine can and cannot show: it can show that the executor's overhead
per judgment is small (1 actor against 1 in-process thread) and what start-up costs;
it cannot show scaling, because two actors and one two-thread model share the same two
cores: any gain is llama.cpp's single-thread efficiency, not more hardware. On a
cluster, throughput adds up per node or per GPU (one actor each) until the driver's
own loop (rendering, cache, parsing, the store: thousands of judgments/s) is the limit.

    python bench/ray_throughput.py [--items 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from judge.factory import preset_judge
from judge.records import RunConfig
from judge.run import run_judging


def in_process(config: RunConfig, threads: int) -> float:
    """Judgments/s of the runner in this process (model load not counted)."""
    judge = preset_judge("smollm2", n_threads=threads)
    judge.prepare()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_judging(config, output=out, judge=judge)
        return result.manifest.counts.total / (time.perf_counter() - start)


def on_ray(config: RunConfig, actors: int) -> tuple[float, float]:
    """(actor start-up seconds, judgments/s) with ``actors`` one-thread actors."""
    from judge.ray_executor import RayExecutor, RayOptions

    judge = preset_judge("smollm2", n_threads=1)
    judge.prepare()  # the driver renders prompts with the model's tokenizer
    executor = RayExecutor(RayOptions(actors=actors))
    start = time.perf_counter()
    executor.prepare(judge)
    started = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_judging(config, output=out, judge=judge, executor=executor)
        rate = result.manifest.counts.total / (time.perf_counter() - start)
    asyncio.run(executor.aclose())
    return started, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20, help="sample pairs (x2 orders)")
    args = parser.parse_args()
    import ray

    cores = os.cpu_count() or 1
    config = RunConfig(limit=args.items, use_cache=False, concurrency=8)
    start = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    print(f"ray.init (local, {cores} CPUs)            {time.perf_counter() - start:.1f} s")
    try:
        base = in_process(config, cores)
        one_thread = in_process(config, 1)
        rows = [(f"in-process, {cores} threads (baseline)", base, None)]
        rows.append(("in-process, 1 thread", one_thread, None))
        for actors in (1, 2):
            started, rate = on_ray(config, actors)
            rows.append((f"ray, {actors} actor(s) x 1 thread", rate, started))
    finally:
        ray.shutdown()
    print(f"{2 * args.items} judgments per run, cache off, {cores} cores")
    for label, rate, started in rows:
        extra = f"  (actors started in {started:.1f} s)" if started is not None else ""
        print(f"{label:<36} {rate:6.2f} judgments/s  ratio {rate / base:.2f}{extra}")


if __name__ == "__main__":
    main()
