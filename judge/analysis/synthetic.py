"""Synthetic judgment frames with known biases, for tests, benchmarks and examples.

:func:`synthetic_frame` draws pairs with a latent quality difference, human annotators
who see it through noise (and prefer longer answers a little), and a judge that sees
it through noise plus a chosen position bias and length bias, judged in both orders.
The frame has exactly the columns and dtypes of :func:`judge.analysis.frame.load_frame`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge.analysis.frame import (
    CODE_A,
    CODE_B,
    CODE_TIE,
    HUMAN_PREFIX,
    KIND_DTYPE,
    LONGER_DTYPE,
    ORDER_DTYPE,
    POLICY_DTYPE,
    STATUS_DTYPE,
    VERDICT_DTYPE,
    _finish,
    shown_verdicts,
)


def _vote(latent: np.ndarray, tie_band: float) -> np.ndarray:
    return np.where(latent > tie_band, CODE_A, np.where(latent < -tie_band, CODE_B, CODE_TIE))


def synthetic_frame(
    n_items: int = 1000,
    *,
    n_annotators: int = 3,
    n_runs: int = 1,
    samples: int = 1,
    judge_noise: float = 0.7,
    position_bias: float = 0.3,
    length_bias: float = 0.4,
    human_noise: float = 0.5,
    human_length_bias: float = 0.15,
    tie_band: float = 0.25,
    p_unparsed: float = 0.02,
    p_error: float = 0.005,
    probabilities: bool = True,
    n_models: int = 4,
    n_categories: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """A judgment frame of ``n_runs`` judges x ``n_items`` pairs x 2 orders x ``samples``.

    ``position_bias`` pushes the judge towards the response shown first and
    ``length_bias`` towards the longer one (in units of the latent quality scale).

    >>> f = synthetic_frame(50, seed=1)
    >>> len(f), sorted(f["order"].unique())
    (100, ['original', 'swapped'])
    """
    rng = np.random.default_rng(seed)
    strength = np.linspace(-0.5, 0.5, n_models)
    model_a = rng.integers(0, n_models, n_items)
    model_b = (model_a + rng.integers(1, n_models, n_items)) % n_models if n_models > 1 else model_a
    quality = strength[model_a] - strength[model_b] + rng.normal(0, 1, n_items)
    len_a = np.round(rng.lognormal(5.0, 0.8, n_items))
    len_b = np.round(rng.lognormal(5.0, 0.8, n_items))
    longer_sign = np.sign(len_a - len_b)
    votes = np.stack(
        [
            _vote(
                quality + human_length_bias * longer_sign + rng.normal(0, human_noise, n_items),
                tie_band,
            )
            for _ in range(n_annotators)
        ],
        axis=1,
    ).astype(np.int8)
    counts = np.stack([(votes == c).sum(axis=1) for c in range(3)], axis=1)
    top = counts.max(axis=1)
    label = np.where((counts == top[:, None]).sum(axis=1) == 1, counts.argmax(axis=1), -1)
    category = rng.integers(0, n_categories, n_items)

    per_run = n_items * 2 * samples
    item = np.tile(np.repeat(np.arange(n_items), 2 * samples), n_runs)
    swapped = np.tile(np.tile([False, True], n_items * samples), n_runs)
    sample = np.tile(np.tile(np.repeat(np.arange(samples), 2), n_items), n_runs)
    run = np.repeat(np.arange(n_runs), per_run)
    n = len(item)
    # the judge's latent preference for A, from its own seat
    a_first = np.where(swapped, -1.0, 1.0)
    judge_skill = 1.0 + 0.5 * run / max(n_runs, 1)
    latent = (
        judge_skill * quality[item]
        + position_bias * a_first
        + length_bias * longer_sign[item]
        + rng.normal(0, judge_noise, n)
    )
    verdict = _vote(latent, tie_band).astype(np.int8)
    u = rng.random(n)
    status = np.where(u < p_error, 2, np.where(u < p_error + p_unparsed, 1, 0)).astype(np.int8)
    verdict[status != 0] = -1
    if probabilities:
        logits = np.stack([-latent, np.full(n, -abs(tie_band)), latent], axis=1) * 2
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        probs[status != 0] = np.nan
    else:
        probs = np.full((n, 3), np.nan)

    item_ids = pd.Categorical.from_codes(item, categories=[f"item{i}" for i in range(n_items)])
    models = [f"model{m}" for m in range(n_models)]
    data = {
        "run": pd.Categorical.from_codes(run, categories=[f"run{r}" for r in range(n_runs)]),
        "judge": pd.Categorical.from_codes(run, categories=[f"judge{r}" for r in range(n_runs)]),
        "reconcile": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=POLICY_DTYPE),
        "item_id": item_ids,
        "order": pd.Categorical.from_codes(swapped.astype(np.int8), dtype=ORDER_DTYPE),
        "swapped": swapped,
        "sample": sample.astype(np.int64),
        "status": pd.Categorical.from_codes(status, dtype=STATUS_DTYPE),
        "verdict": pd.Categorical.from_codes(verdict, dtype=VERDICT_DTYPE),
        "verdict_shown": shown_verdicts(verdict, swapped),
        "p_a": probs[:, 2],
        "p_b": probs[:, 0],
        "p_tie": probs[:, 1],
        "score": np.full(n, np.nan),
        "score_a": np.full(n, np.nan),
        "score_b": np.full(n, np.nan),
        "tokens_in": rng.integers(200, 800, n),
        "tokens_out": np.where(status == 2, 0, rng.integers(1, 50, n)),
        "cost": np.full(n, 2e-5),
        "latency_s": rng.exponential(0.3, n),
        "cache_hit": np.zeros(n, dtype=bool),
        "benchmark": pd.Categorical.from_codes(
            np.zeros(n, dtype=np.int8), categories=["synthetic"]
        ),
        "category": pd.Categorical.from_codes(
            category[item], categories=[f"cat{c}" for c in range(n_categories)]
        ),
        "kind": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=KIND_DTYPE),
        "prompt_key": item_ids,
        "len_a": len_a[item],
        "len_b": len_b[item],
        "longer": pd.Categorical.from_codes(
            np.where(longer_sign > 0, 1, np.where(longer_sign < 0, 0, -1))[item].astype(np.int8),
            dtype=LONGER_DTYPE,
        ),
        "model_a": pd.Categorical.from_codes(model_a[item], categories=models),
        "model_b": pd.Categorical.from_codes(model_b[item], categories=models),
        "model": pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=models),
        "label": pd.Categorical.from_codes(label[item].astype(np.int8), dtype=VERDICT_DTYPE),
        "n_annotators": np.full(n, n_annotators, dtype=np.int64),
        "human_score": np.full(n, np.nan),
    }
    for a in range(n_annotators):
        data[f"{HUMAN_PREFIX}annotator{a + 1}"] = pd.Categorical.from_codes(
            votes[item, a], dtype=VERDICT_DTYPE
        )
    return _finish(pd.DataFrame(data))


def synthetic_probe_frames(
    n_items: int = 100, *, follow: float = 1.0, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An unperturbed run and a probe run of a judge that follows the probe with
    probability ``follow``, and the probe design (as :func:`judge.probes.run.
    load_probe_design` returns it).

    The judge's unperturbed verdicts are uniform over A / B / tie; on the probe run it
    picks the targeted (labelled-worse) side with probability ``follow`` and otherwise
    draws a fresh uniform verdict: ``follow=0`` is a judge the probe moves only at random.

    >>> frame, design = synthetic_probe_frames(10, seed=1)
    >>> sorted(frame["run"].unique()), len(design)
    (['base', 'probe'], 10)
    """
    from judge.analysis.frame import build_frame, concat_frames
    from judge.records import HumanLabel, Judgment, PairItem

    rng = np.random.default_rng(seed)
    verdicts = np.array(["A", "B", "tie"], dtype=object)
    labels = rng.choice(["A", "B"], n_items)
    items = [
        PairItem(
            id=f"item{i}",
            benchmark="synthetic",
            prompt=f"question {i}",
            response_a=f"answer a{i}",
            response_b=f"answer b{i}",
            labels=(HumanLabel(annotator="gold", verdict=labels[i]),),
        )
        for i in range(n_items)
    ]
    targets = np.where(labels == "A", "B", "A")

    def judgments(run: str, chosen: np.ndarray) -> list[Judgment]:
        return [
            Judgment(
                item_id=f"item{i}",
                judge="synthetic",
                judge_hash="0",
                request_key=f"{run}:{i}:{swapped}",
                swapped=bool(swapped),
                status="ok",
                verdict=chosen[i, swapped],
            )
            for i in range(n_items)
            for swapped in (0, 1)
        ]

    before = verdicts[rng.integers(0, 3, (n_items, 2))]
    fresh = verdicts[rng.integers(0, 3, (n_items, 2))]
    follows = rng.random((n_items, 2)) < follow
    after = np.where(follows, np.repeat(targets[:, None], 2, axis=1), fresh)
    frame = concat_frames(
        [
            build_frame(items, judgments("base", before), run="base"),
            build_frame(items, judgments("probe", after), run="probe"),
        ]
    )
    design = pd.DataFrame(
        {
            "run": "probe",
            "probe": "synthetic",
            "perturbation": "synthetic",
            "baseline_run": "base",
            "item_id": [f"item{i}" for i in range(n_items)],
            "target": targets,
            "target_basis": "label",
            "order": "both",
        }
    )
    return frame, design
