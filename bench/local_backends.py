"""Pairs per second of each local backend, and one-pass probability verdicts vs generate-and-parse.

Every backend judges the same pairs from the bundled sample benchmark (``--pairs``
judgments: the first pairs in both orders) with the same SmolLM2-135M-Instruct weights:

* ``llamacpp``      the Q4_1 GGUF through llama.cpp (the embedded default);
* ``transformers``  the same GGUF dequantized by transformers (CPU, batched);
* ``lmeval``        lm-eval's ``hf`` model wrapping that transformers model;
* ``vllm``          when vllm and a CUDA GPU are present (``--vllm-model``).

Three ways to get a verdict, each timed after the model is loaded and warmed up (best of
``--repeats`` runs):

* ``probs``     one forward pass, P(A)/P(B)/P(C) of the verdict token (smollm2 preset);
* ``gen-4``     generate up to 4 tokens and parse the letter (same prompt);
* ``gen-mt``    the MT-Bench pairwise prompt: an explanation, then [[A]]/[[B]]/[[C]],
                up to ``--gen-tokens`` tokens, parsed.

The ratio column is pairs/s of ``probs`` over pairs/s of that mode on the same backend.

    python bench/local_backends.py [--pairs 100] [--gen-tokens 128] \\
        [--backends llamacpp,transformers,lmeval]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from judge.backends.base import Backend, CompletionRequest
from judge.judges import CallResult, PromptJudge, Task
from judge.prompts import load_preset
from judge.records import Judgment, PairItem
from judge.registry import benchmarks


async def direct(
    backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
) -> list[CallResult]:
    """No cache, no retries: the backend alone."""
    return [CallResult(r) for r in await backend.complete(list(requests))]


def judge_tasks(judge: PromptJudge, tasks: list[Task]) -> tuple[float, list[Judgment]]:
    """Seconds to judge ``tasks`` in the backend's batch size, and the judgments."""
    size = max(1, judge.batch_size)
    out: list[Judgment] = []
    start = time.perf_counter()
    for i in range(0, len(tasks), size):
        out.extend(asyncio.run(judge.evaluate(tasks[i : i + size], direct)))
    return time.perf_counter() - start, out


def build_backends(names: list[str], vllm_model: str | None) -> dict[str, Backend]:
    built: dict[str, Backend] = {}
    if "llamacpp" in names:
        from judge.backends.llamacpp import LlamaCppBackend

        built["llamacpp"] = LlamaCppBackend()
    transformers_backend = None
    if "transformers" in names or "lmeval" in names:
        from judge.backends.transformers import TransformersBackend

        transformers_backend = TransformersBackend(batch_size=8)
        transformers_backend.hf_model  # noqa: B018 - load before timing
        if "transformers" in names:
            built["transformers"] = transformers_backend
    if "lmeval" in names and transformers_backend is not None:
        from lm_eval.models.huggingface import HFLM

        from judge.backends.lmeval import LmEvalBackend

        lm = HFLM(
            pretrained=transformers_backend.hf_model,
            tokenizer=transformers_backend.tokenizer,
            batch_size=8,
            device=str(transformers_backend.hf_model.device),
        )
        built["lmeval"] = LmEvalBackend.from_lm(lm, batch_size=8)
    if "vllm" in names and vllm_model:
        from judge.backends.vllm import VllmBackend

        built["vllm"] = VllmBackend(model=vllm_model, gpu_memory_utilization=0.5)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100, help="judgments (pairs x orders)")
    parser.add_argument("--gen-tokens", type=int, default=128, help="max tokens for gen-mt")
    parser.add_argument("--backends", default="llamacpp,transformers,lmeval")
    parser.add_argument("--modes", default="probs,gen-4,gen-mt")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--vllm-model", default=None, help="checkpoint for the vllm backend")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    items = [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)]
    tasks = [Task(item, swapped=s) for item in items for s in (False, True)][: args.pairs]
    modes = args.modes.split(",")
    rows: list[dict[str, Any]] = []
    for name, backend in build_backends(args.backends.split(","), args.vllm_model).items():
        judges = {
            "probs": PromptJudge(load_preset("smollm2"), backend, mode="probs"),
            "gen-4": PromptJudge(
                load_preset("smollm2"), backend, mode="generate", generation={"max_tokens": 4}
            ),
            "gen-mt": PromptJudge(
                load_preset("mt-bench-pair"),
                backend,
                generation={"max_tokens": args.gen_tokens},
            ),
        }
        rates: dict[str, float] = {}
        for mode in modes:
            judge = judges[mode]
            judge_tasks(judge, tasks[:1])  # warm-up (first-call allocations, prompt cache)
            # best of --repeats: on a shared machine the slowest runs measure the neighbours
            seconds, judgments = min(
                (judge_tasks(judge, tasks) for _ in range(args.repeats)), key=lambda r: r[0]
            )
            rates[mode] = len(tasks) / seconds
            ok = sum(j.status == "ok" for j in judgments)
            rows.append(
                {
                    "backend": name,
                    "mode": mode,
                    "pairs": len(tasks),
                    "seconds": round(seconds, 2),
                    "pairs_per_s": round(rates[mode], 3),
                    "ok": ok,
                    "tokens_out_mean": round(sum(j.tokens_out for j in judgments) / len(tasks), 1),
                    "probs_ratio": None,
                }
            )
            print(
                f"{name:13s} {mode:7s} {rates[mode]:8.2f} pairs/s  ok {ok}/{len(tasks)}", flush=True
            )
        for row in rows:
            if row["backend"] == name and "probs" in rates:
                row["probs_ratio"] = round(rates["probs"] / row["pairs_per_s"], 2)
        asyncio.run(backend.aclose())

    print()
    print("| backend | mode | pairs/s | probs speed-up | ok | mean tokens out |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['mode']} | {row['pairs_per_s']:.2f} | "
            f"{row['probs_ratio']:.1f}x | {row['ok']}/{row['pairs']} | {row['tokens_out_mean']} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
