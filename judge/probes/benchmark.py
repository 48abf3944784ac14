"""The ``probe`` benchmark: another benchmark's pairs with one side perturbed.

A probe run is a normal run of this benchmark (``judge run -b probe -B base=llmbar
-B perturbation=bandwagon``), so the runner, store, cache, resume, ``judge reparse``
and ``judge report`` work on it unchanged. Item ids, labels and every other field are
the base benchmark's; only the targeted response differs, and ``metadata`` records
the probe (``probe_perturbation``, ``probe_target``, ``probe_target_basis``,
``probe_order``, ``probe_seed``, ``probe_label``). The benchmark options are part of
the run id, so each probe has its own run folder beside the unperturbed run.

A position-dependent perturbation (``verdict_injection`` names the target's presented
position) needs ``order=original`` or ``order=swapped`` and a run judged in that order
only (``--orders``); ``judge probe`` makes both runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, JsonValue

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.errors import ConfigError
from judge.probes.base import Order, Perturbation, TargetRule, choose_target, perturb_item
from judge.records import PairItem


def build_perturbation(name: str, args: dict[str, Any] | None = None) -> Perturbation:
    """The perturbation registered as ``name``, with its options."""
    from judge.registry import perturbations

    cls = perturbations.get(name)
    built = cls(**(args or {}))
    if not isinstance(built, Perturbation):
        raise ConfigError(f"perturbation {name!r} is not a Perturbation")
    return built


class ProbeBenchmark(Benchmark):
    """A base benchmark's pairs with the targeted side perturbed."""

    name: ClassVar[str] = "probe"
    description: ClassVar[str] = "another benchmark's pairs with one side perturbed (bias probe)"

    class Options(BenchmarkOptions):
        base: str
        """The benchmark whose pairs are perturbed."""
        base_args: dict[str, JsonValue] = Field(default_factory=dict)
        """The base benchmark's options."""
        perturbation: str
        """Perturbation registry name (``judge list perturbations``)."""
        perturbation_args: dict[str, JsonValue] = Field(default_factory=dict)
        """The perturbation's options."""
        target: TargetRule = "worse"
        """Which side to perturb: the labelled-``worse`` or -``better`` response (a seeded
        coin where the label is a tie or missing), or always ``A`` or ``B``."""
        order: Order | None = None
        """The single order the run is judged in, for position-dependent perturbations."""
        seed: int = 0
        """Seeds the perturbation's random choices and the coin for unlabelled items."""
        label: str | None = None
        """The probe's name in reports (default: the perturbation name)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options.base == self.name:
            raise ConfigError("benchmark 'probe' cannot wrap itself; name another base")
        self.perturbation = build_perturbation(
            self.options.perturbation, self.options.perturbation_args
        )
        if self.perturbation.position_dependent and self.options.order is None:
            raise ConfigError(
                f"perturbation {self.options.perturbation!r} names the target's presented "
                "position: pass -B order=original (with --orders original) or "
                "-B order=swapped (with --orders swapped); judge probe runs both"
            )

    def _base(self) -> Benchmark:
        from judge.factory import benchmark_named

        return benchmark_named(self.options.base, self.options.base_args)

    def files(self) -> list[Path]:
        return self._base().files()

    def load(self) -> Iterator[PairItem]:
        opts = self.options
        label = opts.label or opts.perturbation
        for item in self._base().load():
            if not isinstance(item, PairItem):
                raise ConfigError(
                    f"benchmark {opts.base!r} item {item.id!r} is a single-answer item; "
                    "probes perturb one side of a pair"
                )
            target, basis = choose_target(item, opts.target, opts.seed)
            yield perturb_item(
                item,
                self.perturbation,
                target=target,
                order=opts.order,
                seed=opts.seed,
                metadata={"probe_label": label, "probe_target_basis": basis},
            )
