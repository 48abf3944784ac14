"""GPU check of --executor ray --actor-gpus: GPU actors give the in-process CPU judgments."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
RUNS = Path("/tmp/rayruns")
MODELS = Path("/tmp/models")


def build() -> None:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, LlamaForSequenceClassification

    from tests.helpers import tiny_llama_config

    tok = AutoTokenizer.from_pretrained(".gpu/tok")
    for name, cls, extra in (
        ("causal", LlamaForCausalLM, {}),
        ("reward", LlamaForSequenceClassification, {"num_labels": 1}),
    ):
        torch.manual_seed(0)
        model = cls(tiny_llama_config(tok, **extra))
        model.save_pretrained(MODELS / name)
        tok.save_pretrained(MODELS / name)


def run(name, *args):
    cmd = [
        sys.executable,
        "-m",
        "judge.cli",
        "run",
        "-b",
        "sample",
        "-n",
        "12",
        "-o",
        str(RUNS),
        "--name",
        name,
        "--quiet",
        "--no-cache",
        *args,
    ]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(f"== {name}: rc={r.returncode} {time.time() - t:.1f}s")
    print(r.stdout[-700:])
    print(r.stderr[-1500:])
    path = RUNS / name / "judgments.jsonl"
    man = RUNS / name / "manifest.json"
    if man.exists():
        print(name, "manifest executor:", json.dumps(json.loads(man.read_text()).get("executor")))
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def compare(a, b, what):
    def key(j):
        return (j["item_id"], j["swapped"], j["sample"])

    da, db = {key(j): j for j in a}, {key(j): j for j in b}
    same = sorted(set(da) & set(db))
    eq = sum(da[k]["verdict"] == db[k]["verdict"] for k in same)
    diffs = [
        abs(
            (da[k].get("probabilities") or {}).get(c, 0)
            - (db[k].get("probabilities") or {}).get(c, 0)
        )
        for k in same
        for c in ("A", "B", "tie")
    ]
    diffs += [
        abs(x - y)
        for k in same
        for x, y in zip(da[k].get("scores") or [], db[k].get("scores") or [], strict=False)
    ]
    print(
        f"{what}: {len(same)} judgments in both, verdicts equal {eq}/{len(same)}, "
        f"max |diff| {max(diffs) if diffs else float('nan'):.2e}"
    )


build()
causal, reward = str(MODELS / "causal"), str(MODELS / "reward")
tf = ["-j", "smollm2", "-J", "backend=transformers", "-J", f"model={causal}", "-J", "dtype=float32"]
cpu = run("causal-cpu", *tf, "-J", "device=cpu")
gpu = run(
    "causal-ray-gpu",
    *tf,
    "-J",
    "device=cuda",
    "--executor",
    "ray",
    "--actors",
    "1",
    "--actor-gpus",
    "1",
)
compare(cpu, gpu, "transformers in-process CPU vs Ray actor on the GPU")
# an actor without a GPU share sees no GPU: device=cuda is refused clearly, auto is the CPU
run("causal-ray-nogpu", *tf, "-J", "device=cuda", "--executor", "ray", "--actors", "1")
auto = run("causal-ray-auto-nogpu", *tf, "--executor", "ray", "--actors", "1")
compare(cpu, auto, "transformers in-process CPU vs Ray actor without a GPU share (device=auto)")
