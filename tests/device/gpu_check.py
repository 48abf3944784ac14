"""GPU check of the transformers backend and the reward judge: the same run on CPU and CUDA."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import transformers

OUT = Path(os.environ["OUT"])
RUNS = Path("/tmp/gpuruns")


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
    print(r.stdout[-1500:])
    print(r.stderr[-3000:])
    path = RUNS / name / "judgments.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def key(j):
    return (j["item_id"], j.get("swapped"), j.get("sample", 0))


def compare(a, b, what):
    da, db = {key(j): j for j in a}, {key(j): j for j in b}
    same = sorted(set(da) & set(db))
    verdicts = sum(da[k].get("verdict") == db[k].get("verdict") for k in same)
    diffs = []
    for k in same:
        pa, pb = da[k].get("probabilities") or {}, db[k].get("probabilities") or {}
        for c in set(pa) & set(pb):
            diffs.append(abs(pa[c] - pb[c]))
        sa, sb = da[k].get("score"), db[k].get("score")
        if isinstance(sa, (int, float)) and isinstance(sb, (int, float)):
            diffs.append(abs(sa - sb))
    print(
        f"{what}: {len(same)} judgments in both, verdicts equal {verdicts}/{len(same)}, "
        f"max |prob or score diff| {max(diffs) if diffs else float('nan'):.2e}"
    )


print(
    "torch",
    torch.__version__,
    "transformers",
    transformers.__version__,
    "cuda",
    torch.cuda.is_available(),
    torch.cuda.get_device_name(0) if torch.cuda.is_available() else "",
)
causal = str(Path(".gpu/causal").resolve())
reward = str(Path(".gpu/reward").resolve())
c32 = run(
    "causal-cpu",
    "-j",
    "smollm2",
    "-J",
    "backend=transformers",
    "-J",
    f"model={causal}",
    "-J",
    "device=cpu",
    "-J",
    "dtype=float32",
)
g32 = run(
    "causal-cuda",
    "-j",
    "smollm2",
    "-J",
    "backend=transformers",
    "-J",
    f"model={causal}",
    "-J",
    "device=cuda",
    "-J",
    "dtype=float32",
)
gbf = run(
    "causal-cuda-bf16",
    "-j",
    "smollm2",
    "-J",
    "backend=transformers",
    "-J",
    f"model={causal}",
    "-J",
    "device=cuda",
    "-J",
    "dtype=bfloat16",
)
gauto = run("causal-auto", "-j", "smollm2", "-J", "backend=transformers", "-J", f"model={causal}")
compare(c32, g32, "transformers float32 cpu vs cuda")
compare(c32, gbf, "transformers cpu float32 vs cuda bfloat16")
rc = run("reward-cpu", "-j", "reward", "-J", f"model={reward}", "-J", "device=cpu")
rg = run("reward-cuda", "-j", "reward", "-J", f"model={reward}", "-J", "device=cuda")
compare(rc, rg, "reward cpu vs cuda")
for name in ("causal-auto", "reward-cuda"):
    m = RUNS / name / "manifest.json"
    if m.exists():
        man = json.loads(m.read_text())
        print(
            name, "manifest judge spec:", json.dumps(man.get("judge_spec", man.get("judge")))[:600]
        )
