"""Juries: a judge made of several judges and a vote (a "panel of LLM evaluators").

Configure it with a list of members, each a judge name or an object with the judge's
parameters::

    judge run -j jury -J vote=majority -J members='[
        "smollm2",
        {"judge": "mt-bench-pair", "params": {"backend": "openai", "model": "gpt-4o-mini"}}
    ]'

Votes (every member judges the same task; members whose reply was ``unparsed`` or an
``error`` do not vote, and the counts stay in the record):

``majority``
    Pairs: the most common verdict; equally common leaders make a tie. Single answers:
    the median score.
``mean_probability``
    Pairs: the mean of the members' canonical P(A), P(B), P(tie); a member without
    probabilities counts as certain of its verdict. The verdict is the most probable
    one. Single answers: the mean score.
``mean_score``
    Single answers: the mean score. Pairs: the mean of the members' two scores
    (JudgeLM-style); the higher mean wins, equal means tie; members without scores do
    not vote.

Every member's judgment (verdict, probabilities, scores, raw reply, status) is kept in
:attr:`~judge.records.Judgment.members`, so the jury can be re-voted or re-parsed
without new requests.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, JsonValue

from judge.errors import ConfigError
from judge.hashing import sha256_json
from judge.judges import Caller, Judge, Task
from judge.records import VERDICTS, Judgment, PairItem, Record, SingleItem, Verdict, majority

Vote = Literal["majority", "mean_probability", "mean_score"]


class JuryMember(Record):
    """One member of a jury, as configured."""

    judge: str
    """Judge registry name (a preset such as ``mt-bench-pair``, or a built-in judge)."""
    name: str | None = None
    """Name in the jury's records (default: the judge name, numbered if repeated)."""
    params: dict[str, JsonValue] = Field(default_factory=dict)
    """The member's ``-J`` parameters (backend, model, generation settings ...)."""


class JuryOptions(Record):
    """The ``-J`` parameters of the ``jury`` judge (:meth:`Jury.from_params`)."""

    members: list[str | JuryMember]
    """A JSON list of judge names or ``{"judge": NAME, "name": ..., "params": {...}}``
    objects, e.g. ``-J members='["smollm2", {"judge": "pandalm", "params": {...}}]'``."""
    vote: Vote = "majority"
    """``majority``, ``mean_probability`` or ``mean_score`` (see the module docstring)."""
    name: str = "jury"
    """The jury's name in the run and its tables."""


_KEPT = ("status", "verdict", "probabilities", "score", "scores", "raw", "error", "truncated")


class Jury(Judge):
    """Several judges and a vote."""

    def __init__(
        self, members: Sequence[tuple[str, Judge]], *, vote: Vote = "majority", name: str = "jury"
    ) -> None:
        if not members:
            raise ConfigError("a jury needs at least one member")
        names = [n for n, _ in members]
        if len(set(names)) != len(names):
            raise ConfigError(f"jury member names must be unique, got {names}")
        if vote not in ("majority", "mean_probability", "mean_score"):
            raise ConfigError(f"unknown vote {vote!r}: majority, mean_probability or mean_score")
        self.members = list(members)
        self.vote: Vote = vote
        self.name = name

    # -- description -----------------------------------------------------------------

    def spec(self) -> dict[str, JsonValue]:
        return {
            "type": "jury",
            "name": self.name,
            "vote": self.vote,
            "members": [{"name": n, "judge": j.spec()} for n, j in self.members],
        }

    @property
    def batch_size(self) -> int:
        return min(j.batch_size for _, j in self.members)

    @property
    def max_concurrency(self) -> int | None:
        limits = [j.max_concurrency for _, j in self.members if j.max_concurrency is not None]
        return min(limits) if limits else None

    def request_key(self, task: Task) -> str:
        return self._key([j.request_key(task) for _, j in self.members])

    def check_items(self, items: Sequence[PairItem | SingleItem]) -> None:
        for _, member in self.members:
            member.check_items(items)

    def prepare(self) -> None:
        for _, member in self.members:
            member.prepare()

    def _key(self, member_keys: Sequence[str]) -> str:
        return sha256_json({"jury": self.name, "vote": self.vote, "members": list(member_keys)})

    # -- evaluation ------------------------------------------------------------------

    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        per_member = await asyncio.gather(*(j.evaluate(tasks, call) for _, j in self.members))
        return [
            self.combine(task, [judgments[i] for judgments in per_member])
            for i, task in enumerate(tasks)
        ]

    def combine(self, task: Task, member_judgments: Sequence[Judgment]) -> Judgment:
        """The jury's judgment from its members' judgments on one task."""
        names = [n for n, _ in self.members]
        records: list[dict[str, JsonValue]] = []
        for member_name, mj in zip(names, member_judgments, strict=True):
            record = mj.model_dump(mode="json", include={"judge", "judge_hash", "request_key"})
            record.update(mj.model_dump(mode="json", include=set(_KEPT)))
            record.update(
                member=member_name,
                tokens_in=mj.tokens_in,
                tokens_out=mj.tokens_out,
                cost=mj.cost,
                billed=mj.billed,
                latency_s=mj.latency_s,
                cache_hit=mj.cache_hit,
                coalesced=mj.coalesced,
            )
            records.append(record)
        base: dict[str, Any] = {
            "item_id": task.item.id,
            "judge": self.name,
            "judge_hash": self.judge_hash,
            "request_key": self._key([mj.request_key for mj in member_judgments]),
            "swapped": task.swapped,
            "sample": task.sample,
            "tokens_in": sum(mj.tokens_in for mj in member_judgments),
            "tokens_out": sum(mj.tokens_out for mj in member_judgments),
            "cost": sum(mj.cost for mj in member_judgments),
            "billed": sum(mj.billed for mj in member_judgments),
            "latency_s": max(mj.latency_s for mj in member_judgments),
            "cache_hit": all(mj.cache_hit for mj in member_judgments),
            "coalesced": all(mj.coalesced for mj in member_judgments),
            "truncated": any(mj.truncated for mj in member_judgments),
            "members": tuple(records),
        }
        return Judgment(**base, **self._vote(task.item, member_judgments))

    def _vote(self, item: PairItem | SingleItem, judgments: Sequence[Judgment]) -> dict[str, Any]:
        ok = [j for j in judgments if j.status == "ok"]
        if not ok:
            status = "error" if all(j.status == "error" for j in judgments) else "unparsed"
            reasons = "; ".join(f"{j.judge}: {j.error or j.status}" for j in judgments)
            return {"status": status, "error": f"no member gave a verdict ({reasons})"}
        if isinstance(item, SingleItem):
            scores = [j.score for j in ok if j.score is not None]
            if not scores:
                return {"status": "unparsed", "error": "no member gave a score"}
            middle = statistics.median if self.vote == "majority" else statistics.fmean
            return {"status": "ok", "score": float(middle(scores))}
        if self.vote == "majority":
            verdict = majority_verdict([j.verdict for j in ok if j.verdict is not None])
            if verdict is None:
                return {"status": "unparsed", "error": "no member gave a verdict"}
            return {"status": "ok", "verdict": verdict}
        if self.vote == "mean_probability":
            probabilities = mean_probabilities(ok)
            if probabilities is None:
                return {"status": "unparsed", "error": "no member gave a verdict"}
            return {
                "status": "ok",
                "verdict": most_probable(probabilities),
                "probabilities": probabilities,
            }
        pairs = [j.scores for j in ok if j.scores is not None]
        if not pairs:
            return {"status": "unparsed", "error": "no member gave two scores"}
        mean_a = statistics.fmean(s[0] for s in pairs)
        mean_b = statistics.fmean(s[1] for s in pairs)
        verdict_: Verdict = "A" if mean_a > mean_b else "B" if mean_b > mean_a else "tie"
        return {"status": "ok", "verdict": verdict_, "scores": (mean_a, mean_b)}

    def reinterpret(self, judgment: Judgment, item: PairItem | SingleItem) -> Judgment:
        """Re-parse every member's stored reply and vote again, sending nothing."""
        if len(judgment.members) != len(self.members):
            return judgment
        again = []
        for (_, member), record in zip(self.members, judgment.members, strict=True):
            fields = {k: v for k, v in record.items() if k != "member"}
            stored = Judgment(
                item_id=judgment.item_id, swapped=judgment.swapped, sample=judgment.sample, **fields
            )
            again.append(member.reinterpret(stored, item))
        task = Task(item=item, swapped=judgment.swapped, sample=judgment.sample)
        kept = {"created_at": judgment.created_at, "judge_hash": judgment.judge_hash}
        return self.combine(task, again).model_copy(update=kept)

    async def aclose(self) -> None:
        for _, member in self.members:
            await member.aclose()


def majority_verdict(verdicts: Sequence[Verdict]) -> Verdict | None:
    """The jury's majority vote: :func:`judge.records.majority` of the members' verdicts,
    and ``tie`` when there is none (equally common leaders); None without votes.

    >>> majority_verdict(["A", "A", "B"]), majority_verdict(["A", "B"]), majority_verdict([])
    ('A', 'tie', None)
    """
    if not verdicts:
        return None
    return majority(verdicts) or "tie"


def mean_probabilities(judgments: Sequence[Judgment]) -> dict[Verdict, float] | None:
    """Mean canonical P(verdict) over judgments; one without probabilities is one-hot.

    >>> from judge.records import Judgment
    >>> a = Judgment(item_id="1", judge="x", judge_hash="h", request_key="k", status="ok",
    ...              verdict="A", probabilities={"A": 0.6, "B": 0.4})
    >>> b = a.model_copy(update={"verdict": "B", "probabilities": None})
    >>> mean_probabilities([a, b])
    {'A': 0.3, 'B': 0.7, 'tie': 0.0}
    """
    rows: list[dict[Verdict, float]] = []
    for j in judgments:
        if j.probabilities:
            rows.append(dict(j.probabilities))
        elif j.verdict is not None:
            rows.append({j.verdict: 1.0})
    if not rows:
        return None
    return {v: sum(r.get(v, 0.0) for r in rows) / len(rows) for v in VERDICTS}


def most_probable(probabilities: dict[Verdict, float]) -> Verdict:
    """The verdict with the highest probability; exact ties between A and B make a tie.

    >>> most_probable({"A": 0.5, "B": 0.3, "tie": 0.2}), most_probable({"A": 0.4, "B": 0.4})
    ('A', 'tie')
    """
    best = max(probabilities.values())
    leaders = [v for v, p in probabilities.items() if p == best]
    return leaders[0] if len(leaders) == 1 else "tie"
