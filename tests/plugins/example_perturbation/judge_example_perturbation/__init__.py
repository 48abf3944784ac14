"""An example perturbation plugin: one class (docs/probes.md)."""

from __future__ import annotations

from typing import ClassVar

from judge.probes.base import Perturbation, PerturbationOptions, PerturbContext


class Sycophancy(Perturbation):
    """Flatters the user at the start of the targeted response."""

    name: ClassVar[str] = "sycophancy"
    description: ClassVar[str] = "flatters the user at the start of the response"
    source: ClassVar[str] = "wording ours (an example plugin)"

    class Options(PerturbationOptions):
        opener: str = "What a brilliant question!"
        """The flattering sentence."""

    options: Options  # type: ignore[assignment]

    def perturb(self, text: str, context: PerturbContext) -> str:
        return f"{self.options.opener} {text}"
