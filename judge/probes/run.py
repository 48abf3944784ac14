"""``judge probe``: the unperturbed run and one normal run per probe, and the probe
design read back from run folders.

Each probe is a run of the ``probe`` benchmark (:mod:`judge.probes.benchmark`) with
the same judge, orders, samples and seed as the unperturbed run, so both resume,
share the cache and appear in ``judge report`` like any run. A position-dependent
probe (verdict injection) is two single-order runs, one per presented order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, JsonValue

from judge.errors import ConfigError
from judge.probes.base import TargetRule
from judge.probes.benchmark import ProbeBenchmark, build_perturbation
from judge.records import Judgment, PairItem, Record, RunConfig, RunManifest

DESIGN_COLUMNS = (
    "run",
    "probe",
    "perturbation",
    "baseline_run",
    "item_id",
    "target",
    "target_basis",
    "order",
)
"""Columns of :func:`load_probe_design`: one row per probe run and item."""


class ProbeSpec(Record):
    """One probe: a perturbation, its options and its name in reports."""

    perturbation: str
    """Perturbation registry name."""
    args: dict[str, JsonValue] = Field(default_factory=dict)
    """The perturbation's options."""
    label: str | None = None
    """Name in reports (default: the perturbation name)."""

    @property
    def name(self) -> str:
        """The probe's name in reports."""
        return self.label or self.perturbation


def probe_configs(
    config: RunConfig, spec: ProbeSpec, *, target: TargetRule = "worse", seed: int | None = None
) -> list[RunConfig]:
    """The run configs of one probe against the unperturbed ``config``.

    One config in ``config.orders``; two single-order configs (one per order judged by
    ``config``) for a position-dependent perturbation.
    """
    if config.benchmark == ProbeBenchmark.name:
        raise ConfigError("the unperturbed benchmark cannot itself be a probe")
    perturbation = build_perturbation(spec.perturbation, spec.args)
    args: dict[str, Any] = {
        "base": config.benchmark,
        "base_args": config.benchmark_args,
        "perturbation": spec.perturbation,
        "perturbation_args": spec.args,
        "target": target,
        "seed": config.seed if seed is None else seed,
        "label": spec.name,
    }
    common = {"benchmark": ProbeBenchmark.name}
    if not perturbation.position_dependent:
        return [config.model_copy(update={**common, "benchmark_args": args})]
    orders = {"both": ("original", "swapped"), "original": ("original",)}.get(
        config.orders, ("swapped",)
    )
    return [
        config.model_copy(
            update={**common, "benchmark_args": {**args, "order": order}, "orders": order}
        )
        for order in orders
    ]


@dataclass
class ProbeRuns:
    """What :func:`run_probes` returns: the run folders, unperturbed first."""

    baseline: Path
    probes: dict[str, list[Path]] = field(default_factory=dict)
    new_judgments: list[Judgment] = field(default_factory=list)
    """The judgments this call made, over every run (for the CLI's errors-left check)."""

    @property
    def run_dirs(self) -> list[Path]:
        """Every run folder, the unperturbed one first."""
        return [self.baseline, *(p for paths in self.probes.values() for p in paths)]


def run_probes(
    config: RunConfig,
    specs: Sequence[ProbeSpec],
    *,
    target: TargetRule = "worse",
    output: str | Path = "results",
    argv: Sequence[str] = (),
    progress: bool = False,
    **run_options: Any,
) -> ProbeRuns:
    """Judge ``config`` unperturbed, then once per probe (resuming any that exist).

    ``run_options`` go to :func:`judge.run.run_judging` (``retry``, ``cache_path`` ...).
    """
    from judge.benchmark import load_items
    from judge.factory import benchmark_named
    from judge.run import run_judging

    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"probe names must be distinct, got {names}; give each a label")
    planned = {spec.name: probe_configs(config, spec, target=target) for spec in specs}
    for configs in planned.values():  # every probe's items before any judging is paid for
        for probe_config in configs:
            bench = benchmark_named(probe_config.benchmark, probe_config.benchmark_args)
            load_items(bench)
    baseline = run_judging(config, output=output, argv=argv, progress=progress, **run_options)
    result = ProbeRuns(baseline=baseline.store.path, new_judgments=list(baseline.new_judgments))
    for name, configs in planned.items():
        for probe_config in configs:
            done = run_judging(
                probe_config, output=output, argv=argv, progress=progress, **run_options
            )
            result.probes.setdefault(name, []).append(done.store.path)
            result.new_judgments.extend(done.new_judgments)
    return result


def _is_baseline(candidate: RunManifest, probe: RunManifest) -> bool:
    args = probe.config.benchmark_args
    return (
        candidate.config.benchmark == args.get("base")
        and candidate.config.benchmark_args == args.get("base_args", {})
        and candidate.judge_hash == probe.judge_hash
        and candidate.config.samples == probe.config.samples
        and candidate.config.seed == probe.config.seed
    )


def load_probe_design(run_dirs: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Which side each probe run targets on each item, and its unperturbed run.

    One row per probe run and item (columns :data:`DESIGN_COLUMNS`); runs that are not
    probes contribute nothing. ``baseline_run`` is the run among ``run_dirs`` of the
    base benchmark with the same options, judge, samples and seed (``None`` if absent).
    """
    from judge.store import RunStore

    if isinstance(run_dirs, str | Path):
        run_dirs = [run_dirs]
    stores = [RunStore(d) for d in run_dirs]
    manifests = [s.read_manifest() for s in stores]
    rows: list[dict[str, Any]] = []
    for store, manifest in zip(stores, manifests, strict=True):
        if manifest.config.benchmark != ProbeBenchmark.name:
            continue
        baselines = [m.run_id for m in manifests if _is_baseline(m, manifest)]
        args = manifest.config.benchmark_args
        for item in store.items():
            if not isinstance(item, PairItem) or "probe_target" not in item.metadata:
                continue
            meta = item.metadata
            rows.append(
                {
                    "run": manifest.run_id,
                    "probe": str(meta.get("probe_label") or args.get("perturbation")),
                    "perturbation": str(meta["probe_perturbation"]),
                    "baseline_run": baselines[0] if baselines else None,
                    "item_id": item.id,
                    "target": str(meta["probe_target"]),
                    "target_basis": str(meta.get("probe_target_basis", "label")),
                    "order": str(meta.get("probe_order", "both")),
                }
            )
    return pd.DataFrame(rows, columns=list(DESIGN_COLUMNS))


def format_probe_table(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The per-probe figures as aligned text lines, for the terminal."""
    if table.empty:
        return "no probe runs"

    def pct(value: Any) -> str:
        return "n/a" if pd.isna(value) else f"{100 * float(value):.1f}%"

    def signed(value: Any) -> str:
        return "n/a" if pd.isna(value) else f"{float(value):+.3f}"

    width = max(len(str(p)) for p in table["probe"])
    lines = [
        f"{'probe':<{width}}  shift in P(prefers target) [{confidence:.0%} CI]   p (sign)  "
        "flipped to target  accuracy before -> after  paired / failed"
    ]
    for row in table.itertuples(index=False):
        ci = f"[{signed(row.shift_low)}, {signed(row.shift_high)}]"
        lines.append(
            f"{row.probe!s:<{width}}  {signed(row.shift):>7} {ci:<22}  "
            f"{row.p_value:>8.3g}  {pct(row.flip_to_target):>17}  "
            f"{pct(row.accuracy_before):>8} -> {pct(row.accuracy_after):<13}  "
            f"{row.n_paired} / {row.n_failed_before + row.n_failed_after}"
        )
    return "\n".join(lines)
