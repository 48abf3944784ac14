"""The perturbation plugin protocol.

A perturbation is a class with a ``name``, a ``source`` (the paper its wording comes
from, or a note that the wording is ours), a nested strict ``Options`` model and one
method, :meth:`Perturbation.perturb`, that rewrites the *targeted* response's text.
It must be deterministic given its options and the :class:`PerturbContext` (draw any
randomness from ``context.rng``, which is seeded by the probe seed and the item id).
Register a third-party perturbation with an entry point in the
``judge_harness.perturbations`` group (see ``docs/probes.md``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import ValidationError

from judge.errors import ConfigError, validation_text
from judge.records import PairItem, Record

Side = Literal["A", "B"]
"""A response of a pair in canonical order (``A``: the item's ``response_a``)."""
Order = Literal["original", "swapped"]
"""A presentation order: ``original`` shows ``response_a`` first."""
TargetRule = Literal["worse", "better", "A", "B"]
"""Which side a probe perturbs: the labelled-worse or -better response, or a fixed side."""


class PerturbationOptions(Record):
    """Options every perturbation takes (subclasses add fields)."""


@dataclass(frozen=True)
class PerturbContext:
    """What a perturbation may look at besides the targeted text."""

    item: PairItem
    """The unperturbed item."""
    target: Side
    """The targeted side, canonical order."""
    position: Side | None
    """Where the judge sees the targeted response (``A``: shown first), when the probe
    is run in one order only; ``None`` for order-independent probes."""
    rng: random.Random
    """Seeded by the probe seed, the perturbation name and the item id."""


class Perturbation(ABC):
    """Base class of perturbations."""

    name: ClassVar[str]
    """Registry name."""
    description: ClassVar[str] = ""
    """One line: what the transform does."""
    source: ClassVar[str] = ""
    """Where the wording comes from (paper and section), or that it is ours."""
    position_dependent: ClassVar[bool] = False
    """True when the text names the targeted response's presented position ("[[A]]"):
    such a probe is judged as two single-order runs, one per order."""

    class Options(PerturbationOptions):
        pass

    def __init__(self, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            msgs = validation_text(exc, model=self.Options)
            raise ConfigError(f"invalid options for perturbation {self.name!r}: {msgs}") from exc

    @abstractmethod
    def perturb(self, text: str, context: PerturbContext) -> str:
        """The targeted response's new text."""


def choose_target(item: PairItem, rule: TargetRule, seed: int) -> tuple[Side, str]:
    """The side a probe targets on ``item`` and how it was chosen.

    ``worse`` / ``better`` follow the majority (or gold) label; an item whose label is a
    tie or missing gets a side drawn by a coin seeded with ``seed`` and the item id
    (basis ``coin``), so every item of the benchmark is probed.

    >>> from judge.records import HumanLabel
    >>> item = PairItem(id="1", benchmark="x", prompt="p", response_a="a", response_b="b",
    ...                 labels=(HumanLabel(annotator="gold", verdict="A"),))
    >>> choose_target(item, "worse", 0), choose_target(item, "better", 0)
    (('B', 'label'), ('A', 'label'))
    """
    if rule == "A" or rule == "B":
        return rule, "fixed"
    label = item.label
    if label == "A" or label == "B":
        return (label if rule == "better" else "B" if label == "A" else "A"), "label"
    coin = random.Random(f"target:{seed}:{item.id}").random() < 0.5
    return ("A" if coin else "B"), "coin"


def presented_position(target: Side, order: Order) -> Side:
    """Where the judge sees the ``target`` response in ``order`` (``A``: first).

    >>> presented_position("A", "original"), presented_position("A", "swapped")
    ('A', 'B')
    """
    return target if order == "original" else "B" if target == "A" else "A"


def perturb_item(
    item: PairItem,
    perturbation: Perturbation,
    *,
    target: Side,
    order: Order | None = None,
    seed: int = 0,
    metadata: dict[str, Any] | None = None,
) -> PairItem:
    """``item`` with the ``target`` response rewritten by ``perturbation``.

    The id, labels and every other field are kept; only the targeted response changes,
    and ``metadata`` gains ``probe`` facts (perturbation, target, order, seed).
    A position-dependent perturbation needs ``order``.
    """
    if perturbation.position_dependent and order is None:
        raise ConfigError(
            f"perturbation {perturbation.name!r} names the target's presented position; "
            "it needs an order (original or swapped)"
        )
    position = presented_position(target, order) if order is not None else None
    rng = random.Random(f"{seed}:{perturbation.name}:{item.id}")
    context = PerturbContext(item=item, target=target, position=position, rng=rng)
    field = "response_a" if target == "A" else "response_b"
    new_text = perturbation.perturb(getattr(item, field), context)
    facts: dict[str, Any] = {
        "probe_perturbation": perturbation.name,
        "probe_target": target,
        "probe_order": order or "both",
        "probe_seed": seed,
        **(metadata or {}),
    }
    return item.model_copy(update={field: new_text, "metadata": {**item.metadata, **facts}})
