"""How long :func:`judge.analysis.frame.load_frame` takes on a run of 1,000,000 judgments,
beside pyarrow reading the same ``judgments.jsonl`` into a table.

Writes a synthetic run folder in a temporary directory: ``n_items`` pair items judged
in both orders, ``samples`` samples each (default 250,000 x 2 x 2 = 1,000,000
judgments), 2% unparsed, 0.5% errors superseded by a retried line (so the store's
latest-line-per-key rule has work to do), verdict probabilities on the ok lines. Every
line is a real ``model_dump_json`` of a :class:`~judge.records.Judgment` (a handful of
dumped templates with the ids substituted), so the file is exactly what the runner
writes.

Then times, best of ``--repeat`` (default 3) runs each, wall and CPU seconds:

- ``pyarrow``: ``pyarrow.json.read_json(judgments.jsonl).to_pandas()`` (type inference,
  no validation): the reference;
- ``load_frame``: the whole run folder (manifest, items, judgments, validated) into
  the tidy frame;

and prints the ratio ``load_frame / pyarrow`` against the 2x limit (below 2.0 passes),
for wall and for CPU time (CPU time is the fairer figure on a machine shared with other
work). ``--old`` also times the per-line pydantic path (``RunStore.judgments()`` then
:func:`~judge.analysis.frame.build_frame`) for comparison.

Run: ``python bench/load_frame.py [n_judgments] [--repeat N] [--old]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LIMIT = 2.0


def write_run(folder: Path, n_judgments: int = 1_000_000, samples: int = 2) -> int:
    """A synthetic run folder of about ``n_judgments`` current judgments; returns the line count."""
    from judge.records import HumanLabel, Judgment, PairItem, RunConfig, RunManifest
    from judge.store import RunStore

    n_items = max(1, n_judgments // (2 * samples))
    store = RunStore(folder)
    store.write_manifest(
        RunManifest(
            run_id="load",
            config=RunConfig(samples=samples),
            judge_hash="0123456789abcdef",
            data_hash="d",
        )
    )
    item = PairItem(
        id="@ID@",
        benchmark="synthetic",
        prompt="Question @ID@: which answer is better?",
        response_a="An answer of moderate length. " * 4,
        response_b="A shorter answer.",
        model_a="model-x",
        model_b="model-y",
        category="@CAT@",
        labels=(
            HumanLabel(annotator="annotator1", verdict="A"),
            HumanLabel(annotator="annotator2", verdict="B"),
            HumanLabel(annotator="annotator3", verdict="A"),
        ),
    ).model_dump_json()
    with open(store.items_path, "w", encoding="utf-8") as out:
        out.writelines(
            item.replace("@ID@", str(i)).replace("@CAT@", f"cat{i % 7}") + "\n"
            for i in range(n_items)
        )

    common: dict[str, Any] = {
        "item_id": "@ID@",
        "judge": "smollm2",
        "judge_hash": "0123456789abcdef",
        "request_key": "@KEY@",
        "tokens_in": 412,
        "tokens_out": 1,
        "latency_s": 0.27,
    }
    ok = {
        verdict: Judgment(
            **common,
            status="ok",
            verdict=verdict,
            raw=verdict,
            probabilities={"A": 0.62, "B": 0.31, "tie": 0.07},
        ).model_dump_json()
        for verdict in ("A", "B", "tie")
    }
    unparsed = Judgment(
        **common, status="unparsed", raw="I cannot decide.", error="no verdict in the reply"
    ).model_dump_json()
    error = Judgment(
        **common, status="error", error="HTTP 503 from the server (after 3 tries)"
    ).model_dump_json()

    def line(template: str, i: int, swapped: bool, sample: int) -> str:
        text = template.replace("@ID@", str(i)).replace("@KEY@", f"{i:x}{swapped:d}{sample}")
        if swapped:
            text = text.replace('"swapped":false', '"swapped":true', 1)
        if sample:
            text = text.replace('"sample":0', f'"sample":{sample}', 1)
        return text + "\n"

    lines = 0
    with open(store.judgments_path, "w", encoding="utf-8") as out:
        for i in range(n_items):
            for sample in range(samples):
                for swapped in (False, True):
                    n = (2 * i + swapped) * samples + sample
                    if n % 200 == 0:  # 0.5%: an error line, retried later in the file
                        out.write(line(error, i, swapped, sample))
                        lines += 1
                    template = unparsed if n % 50 == 1 else ok[("A", "B", "tie", "A")[n % 4]]
                    out.write(line(template, i, swapped, sample))
                    lines += 1
    return lines


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall and best CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def main(n_judgments: int = 1_000_000, repeat: int = 3, old: bool = False) -> float:
    import pyarrow.json

    from judge.analysis.frame import build_frame, load_frame
    from judge.store import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        started = time.perf_counter()
        lines = write_run(folder, n_judgments)
        size = (folder / "judgments.jsonl").stat().st_size
        n_items = (folder / "items.jsonl").read_bytes().count(b"\n")
        print(
            f"wrote {lines:,} judgment lines ({size / 1e6:.0f} MB) and {n_items:,} items in "
            f"{time.perf_counter() - started:.1f} s (not counted)"
        )
        load_frame(folder)  # warm imports and caches (not counted)

        arrow_wall, arrow_cpu, table = best_of(
            repeat, lambda: pyarrow.json.read_json(folder / "judgments.jsonl").to_pandas()
        )
        rows = len(table)
        del table
        wall, cpu, frame = best_of(repeat, lambda: load_frame(folder))
        print(f"  {'reader':<36} {'wall':>7} {'cpu':>7}")
        print(f"  {'pyarrow read_json + to_pandas':<36} {arrow_wall:6.2f}s {arrow_cpu:6.2f}s")
        print(f"  {'load_frame (validated, tidy frame)':<36} {wall:6.2f}s {cpu:6.2f}s")
        if old:

            def per_line() -> Any:
                store = RunStore(folder)
                return build_frame(store.items(), store.judgments(), run="load")

            old_wall, old_cpu, _ = best_of(1, per_line)
            print(f"  {'per-line pydantic (old path)':<36} {old_wall:6.2f}s {old_cpu:6.2f}s")
        print(
            f"{rows:,} lines read by pyarrow, {len(frame):,} current judgments in the frame; "
            f"load_frame / pyarrow: {wall / arrow_wall:.2f} wall, {cpu / arrow_cpu:.2f} CPU "
            f"(limit {LIMIT:g})"
        )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print(
            f"note: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
            "wall times include waiting for other processes"
        )
    return wall / arrow_wall


if __name__ == "__main__":
    args = sys.argv[1:]
    repeat = 3
    if "--repeat" in args:
        at = args.index("--repeat")
        repeat = int(args[at + 1])
        del args[at : at + 2]
    numbers = [a for a in args if not a.startswith("--")]
    main(int(numbers[0]) if numbers else 1_000_000, repeat=repeat, old="--old" in args)
