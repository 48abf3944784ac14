"""How long a length- and style-controlled leaderboard takes: 11 models x 805 instructions.

Imports the shared AlpacaEval annotations (``judge import alpaca_eval``; not timed),
then times :func:`judge.analysis.controlled.win_rates_three_ways` (discrete, weighted and
LC win rates against the baseline, with the joint instruction difficulty, the per-model
5-fold CV of the GLM's penalty and ``n_resamples`` bootstrap refits) and
:func:`judge.analysis.controlled.style_controlled` (plain and style-controlled
Bradley-Terry with its bootstrap). Prints each one's wall and CPU seconds, the total,
and the total as a ratio of the 10 s limit (below 1.0 passes).

Run: ``python bench/leaderboard.py [n_resamples]`` (default 100) from the repository
root (the annotations are found at ../shared/datasets).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

LIMIT_S = 10.0
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def main(n_resamples: int = 100) -> float:
    import warnings

    import sklearn.linear_model  # noqa: F401  (one-off import cost, not timed)

    from judge.analysis.controlled import style_controlled, win_rates_three_ways
    from judge.analysis.frame import load_frame, pair_frame
    from judge.importers import ImportRequest, run_import

    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", UserWarning)
    files = sorted(
        (DATA / "alpaca_eval_annotations").glob(
            "results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json"
        )
    )
    if not files:
        raise SystemExit(f"no AlpacaEval annotations under {DATA}")
    with tempfile.TemporaryDirectory() as tmp:
        written = run_import(
            "alpaca_eval", ImportRequest(sources=tuple(map(str, files))), output=tmp
        )
        pairs = pair_frame(load_frame([store.path for store, _ in written]))
    print(f"{len(files)} models, {len(pairs)} pairs, {n_resamples} bootstrap resamples")
    total = 0.0
    for name, call in (
        (
            "win rates three ways (LC)",
            lambda: win_rates_three_ways(
                pairs, baseline="gpt4_1106_preview", by=("judge",), n_resamples=n_resamples
            ),
        ),
        (
            "style-controlled Bradley-Terry",
            lambda: style_controlled(pairs, by=("judge",), n_resamples=n_resamples),
        ),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        total += wall
        print(f"{name:<32} {wall:6.2f} s wall {cpu:6.2f} s CPU")
    ratio = total / LIMIT_S
    print(f"{'total':<32} {total:6.2f} s = {ratio:.2f} x the {LIMIT_S:.0f} s limit")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
