"""How fast ``judge view`` opens and pages a run of 1,000,000 judgments.

Writes a synthetic run folder (500,000 pairs x 2 orders: prompts, responses of 40 to
1,500 characters, three annotators, raw replies, probabilities, 2% unparsed and 0.5%
errors, every field a real ``judgments.jsonl`` line has; about 1.8 GB of JSON), then
times, through the real HTTP server on 127.0.0.1:

- open: reading the run into DuckDB (verdicts, statuses, labels, lengths; the pair table);
- the first list page (``/``);
- filtered pages: disagrees with humans and flipped between orders; a category and a
  length gap sorted by P(A); unparsed or errored pairs, page 20;
- when the texts (read in the background after opening) are in memory: a text search
  over prompts, responses and raw replies, and one item page.

Prints the wall and CPU seconds of opening; of each page right after opening (wall only:
the background read of the texts shares the process), and again once the texts are in
memory and the process is otherwise idle (wall and CPU: the server runs in this
process); and opening plus the first page against the 5 s limit ("opens in under 5 s").
CPU seconds are the figure to compare on a shared machine, where wall times include
waiting for other processes.

Run: ``python bench/view_scale.py [n_judgments] [--keep FOLDER]`` (``--keep`` writes the
run there once and reuses it). On a busy machine, docs/viewer.md says how the published
times were taken.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

LIMIT_S = 5.0
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "or",
    "at",
    "from",
    "an",
    "which",
    "answer",
    "response",
    "model",
    "question",
    "code",
    "function",
    "data",
    "value",
    "list",
    "python",
    "table",
    "number",
    "first",
    "second",
    "because",
    "however",
    "therefore",
    "example",
    "result",
    "error",
    "string",
    "return",
    "class",
    "sentence",
    "clear",
    "concise",
    "rewrite",
    "explain",
    "reason",
    "step",
    "simple",
    "correct",
    "wrong",
    "better",
]


def _text(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:n_chars]


def write_run(folder: Path, n_judgments: int, seed: int = 0) -> None:
    """A run folder of ``n_judgments`` judgments (both orders of ``n_judgments // 2`` pairs)."""
    from judge.records import RunConfig, RunManifest
    from judge.store import RunStore

    rng = random.Random(seed)
    n_items = n_judgments // 2
    store = RunStore(folder)
    store.write_manifest(
        RunManifest(
            run_id="synthetic-1m",
            config=RunConfig(benchmark="synthetic", judge="synthetic"),
            judge_hash="0" * 16,
            judge_spec={"type": "synthetic", "name": "synthetic"},
            data_hash="0" * 64,
            n_items=n_items,
        )
    )
    verdicts = ("A", "B", "tie")
    with (
        (folder / "items.jsonl").open("w", encoding="utf-8") as items,
        (folder / "judgments.jsonl").open("w", encoding="utf-8") as judgments,
    ):
        for i in range(n_items):
            item_id = f"item-{i:07d}"
            votes = [rng.choice(verdicts) for _ in range(3)]
            item = {
                "id": item_id,
                "benchmark": "synthetic",
                "prompt": _text(rng, rng.randint(40, 400)),
                "reference": None,
                "category": f"category-{rng.randint(0, 19):02d}",
                "metadata": {"source": "bench"},
                "kind": "pair",
                "response_a": _text(rng, rng.randint(40, 1500)),
                "response_b": _text(rng, rng.randint(40, 1500)),
                "model_a": f"model-{rng.randint(0, 3)}",
                "model_b": f"model-{rng.randint(0, 3)}",
                "labels": [
                    {"annotator": f"annotator{k + 1}", "verdict": v} for k, v in enumerate(votes)
                ],
            }
            items.write(json.dumps(item) + "\n")
            for swapped in (False, True):
                roll = rng.random()
                status = "error" if roll < 0.005 else "unparsed" if roll < 0.025 else "ok"
                p_a = rng.random()
                verdict = rng.choice(verdicts) if status == "ok" else None
                judgment = {
                    "item_id": item_id,
                    "judge": "synthetic",
                    "judge_hash": "0" * 16,
                    "request_key": f"{i:064x}"[:60] + ("0001" if swapped else "0000"),
                    "swapped": swapped,
                    "sample": 0,
                    "status": status,
                    "verdict": verdict,
                    "score": None,
                    "scores": None,
                    "probabilities": None
                    if status == "error"
                    else {"A": p_a, "B": 1 - p_a, "tie": 0.0},
                    "raw": None if status == "error" else _text(rng, rng.randint(20, 300)),
                    "error": {"error": "503 overloaded", "unparsed": "no verdict found"}.get(
                        status
                    ),
                    "tokens_in": rng.randint(200, 2000),
                    "tokens_out": rng.randint(1, 300),
                    "cost": 0.0001,
                    "latency_s": rng.random(),
                    "cache_hit": False,
                    "truncated": False,
                    "members": [],
                    "created_at": "2026-11-25T12:00:00Z",
                }
                judgments.write(json.dumps(judgment) + "\n")


def _get(url: str) -> tuple[float, float, bytes]:
    """Wall and process CPU seconds to fetch ``url`` (the server runs in this process)."""
    started, cpu = time.perf_counter(), time.process_time()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = response.read()
    assert b"Cannot show" not in body, body[-500:]
    return time.perf_counter() - started, time.process_time() - cpu, body


PAGES = {
    "first list page": "/",
    "filtered: disagrees with humans + flipped": "/?disagree=1&position=flip",
    "filtered: category + length gap, sorted by P(A)": (
        "/?category=category-07&gap_min=100&gap_max=299&sort=p_a&desc=1"
    ),
    "filtered: unparsed or error, page 20": "/?status=failed&page=20",
}
TEXT_PAGES = {
    "search 'python function' (prompts, responses, replies)": "/?q=python+function",
    "item page": "/item?id=item-0123456",
}


def main(n_judgments: int = 1_000_000, keep: Path | None = None) -> None:
    from judge.view.data import ViewData
    from judge.view.server import ViewServer

    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp) / "run"
        if not (folder / "judgments.jsonl").exists():
            folder.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            write_run(folder, n_judgments)
            size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
            print(
                f"wrote {n_judgments:,} judgments ({size:,.0f} MB) in "
                f"{time.perf_counter() - started:.1f} s (not counted)"
            )
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        data = ViewData([folder])
        opened, opened_cpu = time.perf_counter() - started, time.process_time() - cpu
        server = ViewServer(data, 0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = server.url
            # As a user meets them: right after opening, while the texts are read in the
            # background (so the process's CPU time would count that read too).
            at_once = {name: _get(base + path)[0] for name, path in PAGES.items()}
            data.texts_ready(wait=3600)
            texts = time.perf_counter() - started
            # Again once the process is otherwise idle: its CPU time is the page's own.
            idle = {name: _get(base + path)[:2] for name, path in {**PAGES, **TEXT_PAGES}.items()}
        finally:
            server.shutdown()
            server.server_close()
            data.close()
    width = max(len(name) for name in idle)
    print(f"{'step':<{width}}  {'wall':>7}  {'CPU':>7}  {'idle: wall':>10}  {'CPU':>7}")
    print(
        f"{'open (items, judgments, pair verdicts)':<{width}}  {opened:6.2f}s  {opened_cpu:6.2f}s"
    )
    for name, (wall, cpu_s) in idle.items():
        first = f"{at_once[name]:6.2f}s  {'':>7}" if name in at_once else " " * 16
        print(f"{name:<{width}}  {first}  {wall:9.2f}s  {cpu_s:6.2f}s")
    total = opened + at_once["first list page"]
    cores = os.cpu_count() or 1
    print(
        f"open + first page: {total:.2f} s for {n_judgments:,} judgments; ratio to the "
        f"{LIMIT_S:g} s limit: {total / LIMIT_S:.2f}. Opening used {opened_cpu:.2f} s of CPU "
        f"({opened_cpu / opened:.1f} of the {cores} cores on average)"
    )
    print(
        f"texts (prompts, responses, replies) in memory {texts:.1f} s after opening started, "
        "read in the background; the search and item pages wait for them"
    )
    if load > 0.5:
        print(
            f"note: load average {load:.1f} on {cores} cores when opening started; wall "
            "times include waiting for other processes, CPU times do not"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    keep = Path(args[args.index("--keep") + 1]) if "--keep" in args else None
    numbers = [a for a in args if a.isdigit()]
    main(int(numbers[0]) if numbers else 1_000_000, keep)
