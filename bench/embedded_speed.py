"""Judgments per second of the embedded judge against llama.cpp's own prompt processing.

The limit: llama.cpp evaluating the same prompts (reset, one ``eval`` of the whole
prompt, no Python around it) at its measured prompt-processing speed. Our figure: the
full runner path (render, cache lookup, judge, parse, append + fsync) on the same
prompts with the cache off. A ratio above 1 means the KV-prefix reuse of the shared
system prompt saves more than the harness costs.

    python bench/embedded_speed.py [--items 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from judge.backends.llamacpp import LlamaCppBackend
from judge.factory import preset_judge
from judge.records import RunConfig
from judge.registry import benchmarks
from judge.run import plan_tasks, run_judging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30, help="sample pairs (x2 orders)")
    args = parser.parse_args()

    config = RunConfig(limit=args.items, use_cache=False, concurrency=1)
    items = list(benchmarks.get("sample")().load())[: args.items]
    judge = preset_judge("smollm2")
    backend = judge.backend
    assert isinstance(backend, LlamaCppBackend)
    tasks = plan_tasks(items, config)
    prompts = [backend.format_prompt(judge.request(t)) for t in tasks]
    llm = backend._load()
    token_lists = [llm.tokenize(p.encode(), add_bos=False, special=True) for p in prompts]
    n_tokens = sum(len(t) for t in token_lists)

    llm.eval(token_lists[0])  # warm-up
    start = time.perf_counter()
    for tokens in token_lists:
        llm.reset()
        llm.eval(tokens)
    pp_seconds = time.perf_counter() - start
    pp_speed = n_tokens / pp_seconds
    limit = len(token_lists) / pp_seconds  # judgments/s if only prompt processing cost time
    asyncio.run(judge.aclose())

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_judging(config, output=out)
        wall = time.perf_counter() - start
    ours = result.manifest.counts.total / wall
    print(f"prompts                         {len(tasks)} ({n_tokens / len(tasks):.0f} tokens each)")
    print(f"llama.cpp prompt processing     {pp_speed:.0f} tokens/s -> {limit:.2f} judgments/s")
    print(f"judge run (runner, cache off)   {ours:.2f} judgments/s (incl. model load)")
    print(f"ratio to llama.cpp              {ours / limit:.2f}")


if __name__ == "__main__":
    main()
