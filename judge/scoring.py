"""Judges that score each response once, alone (reward models, local or served).

A pair's verdict comes from its two scores (:func:`pair_fields`): the sign of
``d = r_A - r_B`` (``tie`` within ``tie_margin``) and the Bradley-Terry probability
``P(A) = sigmoid(d)``. A response's score does not depend on the other response, so
both presentation orders give the same judgment: position bias is 0 by construction.

A scoring judge keeps what a judgment is (the units it scores, the cache of scores per
unit, the verdicts) and hands the compute to its :class:`Scorer` (a reward model, a
served model's client): the unit an executor may run elsewhere, as it runs backends
(:mod:`judge.ray_executor` builds one scorer per Ray actor from :meth:`Scorer.replica`).
"""

from __future__ import annotations

import asyncio
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from pydantic import JsonValue

from judge.hashing import sha256_json
from judge.judges import Caller, Judge, Task
from judge.records import Judgment, PairItem, SingleItem, Verdict


def pair_fields(reward_a: float, reward_b: float, tie_margin: float = 0.0) -> dict[str, Any]:
    """Verdict and Bradley-Terry probabilities of a pair from its two rewards.

    >>> out = pair_fields(1.0, 0.0)
    >>> out["verdict"], round(out["probabilities"]["A"], 4)
    ('A', 0.7311)
    >>> pair_fields(0.5, 0.45, tie_margin=0.1)["verdict"]
    'tie'
    """
    d = reward_a - reward_b
    verdict: Verdict = "tie" if abs(d) <= tie_margin else ("A" if d > 0 else "B")
    p_a = 1.0 / (1.0 + math.exp(-d)) if d > -700 else 0.0
    return {
        "verdict": verdict,
        "probabilities": {"A": p_a, "B": 1.0 - p_a},
        "scores": (reward_a, reward_b),
    }


def conversation(item: PairItem | SingleItem, response: str) -> list[dict[str, str]]:
    """The chat a reward model scores for ``response``: the prompt's turns (one user turn
    for a text prompt) and the response as the assistant turn."""
    turns = (
        [{"role": "user", "content": item.prompt}]
        if isinstance(item.prompt, str)
        else [m.model_dump() for m in item.prompt]
    )
    return [*turns, {"role": "assistant", "content": response}]


def responses_of(item: PairItem | SingleItem) -> list[str]:
    """The responses a reward judge scores for ``item`` (A then B, or the one)."""
    return [item.response_a, item.response_b] if isinstance(item, PairItem) else [item.response]


class Scorer(ABC):
    """The compute of a scoring judge: scores units (a reward model's texts, a served
    model's request bodies), each alone. Built from :meth:`replica` in another process
    (a Ray actor), prepared once there, it scores what the driver's judge sends it."""

    name: str
    """The judge's name (for messages)."""
    retry_safe: bool = True
    """Whether a call lost with its process may be sent again (false where a provider
    may have answered, and billed, it)."""
    max_concurrency: int = 1
    """Calls one scorer serves at once."""

    @abstractmethod
    def replica(self) -> tuple[type[Scorer], dict[str, Any]]:
        """The class and keyword arguments that build an equal scorer elsewhere (a
        :class:`~judge.errors.ConfigError` when it cannot be rebuilt, e.g. an in-memory
        model)."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Load what scoring needs (the model), once."""

    @abstractmethod
    async def score(self, units: Sequence[JsonValue]) -> list[float | str]:
        """A score per unit, or the error message that kept it unscored; a
        :class:`~judge.errors.FatalBackendError` stops the run."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""


class ScoringJudge(Judge):
    """A judge that scores each response once, alone (reward models, local or served):
    the pair verdict comes from the two scores (:func:`pair_fields`), so both
    presentation orders give the same judgment. Each distinct unit is scored once per
    session (the two orders of a pair share their scores)."""

    def __init__(self, name: str, tie_margin: float, scorer: Scorer) -> None:
        self.name = name
        self.tie_margin = tie_margin
        self.scorer = scorer
        """Where the units are scored (an executor may point it elsewhere for a run)."""
        self._scores: dict[str, float] = {}

    @abstractmethod
    def unit(self, item: PairItem | SingleItem, response: str) -> JsonValue:
        """What the scorer scores for ``response`` to ``item``."""

    def prepare(self) -> None:
        self.scorer.prepare()

    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        def units() -> list[JsonValue]:  # a tokenizer's chat template may load it: a thread
            return [self.unit(t.item, r) for t in tasks for r in responses_of(t.item)]

        wanted = await asyncio.to_thread(units)
        keys = [sha256_json(u) for u in wanted]
        todo = dict(sorted({k: u for k, u in zip(keys, wanted, strict=True)}.items()))
        for key in self._scores.keys() & todo.keys():
            del todo[key]
        errors: dict[str, str] = {}
        if todo:
            scores = await self.scorer.score(list(todo.values()))
            for key, score in zip(todo, scores, strict=True):
                if isinstance(score, str):
                    errors[key] = score
                else:
                    self._scores[key] = score
        return self.judgments(tasks, [self._scores.get(k, errors.get(k, "")) for k in keys])

    async def aclose(self) -> None:
        await self.scorer.aclose()

    def request_key(self, task: Task) -> str:
        item = task.item
        prompt: Any = (
            item.prompt if isinstance(item.prompt, str) else [m.model_dump() for m in item.prompt]
        )
        payload = {"judge": self.spec(), "prompt": prompt, "responses": responses_of(item)}
        return sha256_json({**payload, "swapped": task.swapped, "sample": task.sample})

    def judgments(self, tasks: Sequence[Task], scores: Sequence[float | str]) -> list[Judgment]:
        """One judgment per task from the scores of its responses, in task order (a
        ``str`` in place of a score is the error that kept the response unscored)."""
        remaining = iter(scores)
        out = []
        for task in tasks:
            base: dict[str, Any] = {
                "item_id": task.item.id,
                "judge": self.name,
                "judge_hash": self.judge_hash,
                "request_key": self.request_key(task),
                "swapped": task.swapped,
                "sample": task.sample,
            }
            mine = [next(remaining) for _ in responses_of(task.item)]
            errors = [s for s in mine if isinstance(s, str)]
            if errors:
                out.append(Judgment(**base, status="error", error=errors[0]))
                continue
            values = [float(s) for s in mine]
            if isinstance(task.item, PairItem):
                fields = pair_fields(values[0], values[1], self.tie_margin)
                raw = {"reward_a": values[0], "reward_b": values[1]}
            else:
                fields, raw = {"score": values[0]}, {"reward": values[0]}
            out.append(Judgment(**base, status="ok", **fields, raw=json.dumps(raw)))
        return out
