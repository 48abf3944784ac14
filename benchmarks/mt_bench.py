"""``mt_bench``: FastChat MT-Bench files.

``question.jsonl`` + two ``model_answer/<model>.jsonl`` (unlabelled pairs), or the human
(or GPT-4 pair) judgments (``human_judgments.json``: JSON array or JSONL of votes with
``question_id, model_a, model_b, winner, judge, conversation_a, conversation_b, turn``;
every vote kept as a label).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from judge.benchmark import Benchmark, BenchmarkOptions
from judge.formats import Where, build, table_rows
from judge.outputs import (
    find_mt_bench_questions,
    load_mt_bench_questions,
    load_outputs,
    mt_bench_text,
    pair_outputs,
)
from judge.records import HumanLabel, PairItem, Verdict

MT_BENCH_WINNERS: dict[str, Verdict] = {
    "model_a": "A",
    "model_b": "B",
    "tie": "tie",
    "tie (bothbad)": "tie",
}


class MTBenchBenchmark(Benchmark):
    """FastChat MT-Bench: human / GPT-4 pairwise judgments, or two models' answers."""

    name: ClassVar[str] = "mt_bench"
    description: ClassVar[str] = "MT-Bench human judgments or two model_answer files (FastChat)"

    class Options(BenchmarkOptions):
        judgments: str | None = None
        """Votes file (``human_judgments.json`` / ``gpt4_pair_judgments.json``, JSON or JSONL)."""
        questions: str | None = None
        """``question.jsonl`` (categories and reference answers; needed with answers)."""
        answers_a: str | None = None
        """Model A's ``model_answer/<model>.jsonl``."""
        answers_b: str | None = None
        """Model B's ``model_answer/<model>.jsonl``."""
        turn: Literal[1, 2, "all"] = "all"
        """Which turn(s) to load."""

        @model_validator(mode="after")
        def _one_source(self) -> MTBenchBenchmark.Options:
            answers = self.answers_a is not None or self.answers_b is not None
            if self.judgments is None and not answers:
                raise ValueError("give judgments=<file> or answers_a= and answers_b=")
            if answers and (self.answers_a is None or self.answers_b is None):
                raise ValueError("give both answers_a and answers_b")
            if self.judgments is not None and answers:
                raise ValueError("give judgments or answers, not both")
            return self

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def files(self) -> list[Path]:
        o = self.options
        return [Path(p) for p in (o.judgments, o.questions, o.answers_a, o.answers_b) if p]

    def _turn_ok(self, turn: int) -> bool:
        return self.options.turn == "all" or self.options.turn == turn

    def load(self) -> Iterator[PairItem]:
        o = self.options
        if o.judgments is None:
            assert o.answers_a is not None and o.answers_b is not None
            questions = o.questions or find_mt_bench_questions(Path(o.answers_a))
            a = [
                x
                for x in load_outputs(o.answers_a, format="mt_bench", questions=questions)
                if self._turn_ok(int(str(x.metadata.get("turn", 1))))
            ]
            b = [
                x
                for x in load_outputs(o.answers_b, format="mt_bench", questions=questions)
                if self._turn_ok(int(str(x.metadata.get("turn", 1))))
            ]
            yield from pair_outputs(
                a,
                b,
                by="id",
                benchmark=self.name,
                names=(str(o.answers_a), str(o.answers_b)),
                drop_hint="both answer files must answer the same questions",
            )
            return
        yield from self._judgments(Path(o.judgments))

    def _judgments(self, path: Path) -> Iterator[PairItem]:
        questions = (
            load_mt_bench_questions(Path(self.options.questions)) if self.options.questions else {}
        )
        groups: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        for line, row in table_rows(path, "jsonl" if path.suffix == ".jsonl" else "json"):
            where = Where(path, line)
            qid, model_a, model_b, turn, winner, judge = _vote_fields(row, where)
            if not self._turn_ok(turn):
                continue
            first, second = sorted((model_a, model_b))
            key = (qid, first, second, turn)
            if key not in groups:
                asked_a, answers_a = _turns(row, "conversation_a", turn, where)
                asked_b, answers_b = _turns(row, "conversation_b", turn, where)
                prompt = mt_bench_text(asked_a)
                response_a, response_b = mt_bench_text(answers_a), mt_bench_text(answers_b)
                if asked_b != asked_a:
                    raise where.error(
                        "the two conversations ask different questions", "conversation_b"
                    )
                groups[key] = {
                    "line": line,
                    "model_a": model_a,
                    "model_b": model_b,
                    "prompt": prompt,
                    "response_a": response_a,
                    "response_b": response_b,
                    "turns": {"questions": asked_a, "answers_a": answers_a, "answers_b": answers_b},
                    "votes": [],
                }
            group = groups[key]
            if model_a != group["model_a"]:  # the same pair shown the other way round
                winner = {"A": "B", "B": "A"}.get(winner, winner)  # type: ignore[assignment]
            names = [v.annotator for v in group["votes"]]
            annotator = judge if judge not in names else f"{judge}#{names.count(judge) + 1}"
            while annotator in names:
                annotator += "'"
            group["votes"].append(HumanLabel(annotator=annotator, verdict=winner))
        for (qid, _, _, turn), group in groups.items():
            question = questions.get(qid, {})
            category = question.get("category")
            reference: Any = question.get("reference")
            yield build(
                PairItem,
                Where(path, group["line"]),
                id=f"{qid}-{group['model_a']}-{group['model_b']}-turn{turn}",
                benchmark=self.name,
                prompt=group["prompt"],
                response_a=group["response_a"],
                response_b=group["response_b"],
                model_a=group["model_a"],
                model_b=group["model_b"],
                labels=tuple(group["votes"]),
                category=category if isinstance(category, str) else None,
                reference=mt_bench_text(reference[:turn]) if _strings(reference) else None,
                # the conversations themselves, for multi-turn templates (FastChat's
                # pair-v2-multi-turn shows both whole dialogues)
                metadata={"question_id": qid, "turn": turn, **group["turns"]},
            )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _vote_fields(row: dict[str, Any], where: Where) -> tuple[str, str, str, int, Verdict, str]:
    for f in ("question_id", "model_a", "model_b", "winner", "judge", "turn"):
        if f not in row:
            raise where.error("missing field", f)
    qid = row["question_id"]
    if isinstance(qid, bool) or not isinstance(qid, int | str):
        raise where.error(f"expected an integer or string, got {type(qid).__name__}", "question_id")
    turn = row["turn"]
    if isinstance(turn, bool) or turn not in (1, 2):
        raise where.error(f"expected 1 or 2, got {turn!r}", "turn")
    winner = row["winner"]
    if not isinstance(winner, str) or winner not in MT_BENCH_WINNERS:
        raise where.error(
            f"unknown label value {winner!r}; expected one of {', '.join(MT_BENCH_WINNERS)}",
            "winner",
        )
    judge = row["judge"]
    if isinstance(judge, list):  # GPT-4 pair files: ["gpt-4", "pair-v2"]
        judge = "/".join(str(j) for j in judge)
    if not isinstance(judge, str) or not judge:
        raise where.error("expected a judge name", "judge")
    for f in ("model_a", "model_b"):
        if not isinstance(row[f], str) or not row[f]:
            raise where.error("expected a model name", f)
    return str(qid), row["model_a"], row["model_b"], turn, MT_BENCH_WINNERS[winner], judge


def _turns(row: dict[str, Any], field: str, turn: int, where: Where) -> tuple[list[str], list[str]]:
    """(the user turns, the assistant turns) up to ``turn`` of a conversation."""
    conversation = row.get(field)
    if not isinstance(conversation, list):
        raise where.error("expected a list of messages", field)
    users: list[str] = []
    assistants: list[str] = []
    for n, message in enumerate(conversation):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise where.error("expected {role, content} messages", f"{field}.{n}")
        if message.get("role") == "user":
            users.append(message["content"])
        elif message.get("role") == "assistant":
            assistants.append(message["content"])
    if len(users) < turn or len(assistants) < turn:
        raise where.error(f"conversation has fewer than {turn} turn(s)", field)
    return users[:turn], assistants[:turn]
