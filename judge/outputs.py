"""Model outputs: read one model's answers in any supported format, pair two models'.

:func:`load_outputs` reads a file of one model's responses and returns
:class:`ModelOutput` records. Supported (detected from the file):

- **AlpacaEval** ``model_outputs.json``: a JSON array of ``{"instruction", "output",
  "generator", ["input"], ["dataset"]}``; the prompt is the instruction (plus the
  input when there is one) and there is no prompt id, so pairing is by prompt text.
- **MT-Bench** ``model_answer/<model>.jsonl`` (FastChat): ``{"question_id",
  "answer_id", "model_id", "choices": [{"index", "turns": [...]}], "tstamp"}``. The
  question text comes from ``question.jsonl`` (found beside ``model_answer/`` as
  FastChat lays it out, or passed as ``questions=``). Turn 1 gives prompt id
  ``<qid>``; turn 2 gives ``<qid>/turn2`` with both turns of question and answer.
- **lm-evaluation-harness** ``samples_<task>_<date>.jsonl`` (``--log_samples``) of a
  generation task: prompt ``arguments.gen_args_0.arg_0``, response
  ``filtered_resps[0]``, prompt id ``doc_id``; the model is the folder lm-eval
  wrote the file into. Files holding several filters keep the first filter
  (or ``lm_eval_filter=``).
- **Generic** JSONL / JSON / CSV / TSV / Parquet with a prompt column (``prompt``,
  ``instruction``, ``question`` or ``input``), a response column (``response``,
  ``output``, ``completion`` or ``answer``), optionally an id (``prompt_id``, ``id``,
  ``question_id``, ``doc_id``) and a model (``model``, ``generator``, ``model_id``).

:func:`pair_outputs` matches two models' outputs by prompt id, or by exact prompt
text where ids are missing, into :class:`~judge.records.PairItem` records for
``judge compare``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, JsonValue

from judge.errors import DataError
from judge.formats import (
    Where,
    json_records,
    read_bytes,
    table_format,
    table_rows,
    text_field,
)
from judge.records import PairItem, Record

OutputFormat = Literal["auto", "alpaca_eval", "mt_bench", "lm_eval", "table"]

PROMPT_ID_COLUMNS = ("prompt_id", "id", "question_id", "doc_id")
PROMPT_COLUMNS = ("prompt", "instruction", "question", "input")
RESPONSE_COLUMNS = ("response", "output", "completion", "answer")
MODEL_COLUMNS = ("model", "generator", "model_id")


class ModelOutput(Record):
    """One model's response to one prompt."""

    prompt_id: str | None
    """The prompt's id in its source (``None`` where the format has none)."""
    prompt: str
    """The prompt text the model answered."""
    response: str
    """The model's response."""
    model: str | None = None
    """Which model wrote it, where the file says."""
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    """Anything else the source carries (e.g. lm-eval's target and metrics)."""


def _first(row: Mapping[str, Any], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in row), None)


def _sniff(path: Path) -> tuple[str, dict[str, Any] | None]:
    """The table format and the first record (``None`` if unreadable or empty)."""
    fmt = table_format(path)
    for _, row in table_rows(path, fmt, on_error=lambda _: None):  # the loader reports it
        return fmt, row
    return fmt, None


def detect_output_format(path: Path) -> OutputFormat:
    """Which model-output format ``path`` holds, from its first record."""
    fmt, first = _sniff(path)
    if first is None:
        return "table"
    if "choices" in first and "question_id" in first:
        return "mt_bench"
    if "doc_id" in first and "arguments" in first and "resps" in first:
        return "lm_eval"
    if fmt == "json" and "instruction" in first and "output" in first:
        return "alpaca_eval"
    return "table"


def load_outputs(
    path: str | Path,
    *,
    format: OutputFormat = "auto",
    questions: str | Path | None = None,
    model: str | None = None,
    lm_eval_filter: str | None = None,
) -> list[ModelOutput]:
    """Read one model's outputs from ``path`` (see the module docstring for formats).

    ``model`` overrides the model name the file gives (or supplies one it lacks).
    """
    path = Path(path)
    read_bytes(path)  # a missing file is a DataError naming it
    kind = detect_output_format(path) if format == "auto" else format
    if kind == "alpaca_eval":
        outputs = _alpaca_eval(path)
    elif kind == "mt_bench":
        outputs = _mt_bench_answers(path, Path(questions) if questions else None)
    elif kind == "lm_eval":
        outputs = _lm_eval(path, lm_eval_filter)
    else:
        outputs = _generic(path)
    if model is not None:
        outputs = [o.model_copy(update={"model": model}) for o in outputs]
    if not outputs:
        raise DataError("no model outputs in the file", path=str(path))
    return outputs


def alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """AlpacaEval's prompt: the instruction, then the input when there is one.

    >>> alpaca_prompt("Translate to French.", "Good morning")
    'Translate to French.\\n\\nGood morning'
    """
    return f"{instruction}\n\n{input_text}" if input_text.strip() else instruction


def _alpaca_eval(path: Path) -> list[ModelOutput]:
    out = []
    for line, _, _, row in json_records(path):
        where = Where(path, line)
        if not isinstance(row, dict):
            raise where.error(f"expected a JSON object, got {type(row).__name__}")
        instruction = text_field(row, "instruction", where, allow_empty=False)
        input_text = text_field(row, "input", where, required=False)
        generator = row.get("generator")
        extra = {k: v for k, v in row.items() if k in ("dataset", "datasplit") and _jsonable(v)}
        out.append(
            ModelOutput(
                prompt_id=None,
                prompt=alpaca_prompt(instruction, input_text),
                response=text_field(row, "output", where),
                model=generator if isinstance(generator, str) else None,
                metadata=extra,
            )
        )
    return out


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _rows(path: Path) -> Iterable[tuple[Where, dict[str, Any]]]:
    for line, row in table_rows(path):
        yield Where(path, line), row


def find_mt_bench_questions(answer_file: Path) -> Path | None:
    """``question.jsonl`` for an answer file in FastChat's layout (``<bench>/model_answer/``)."""
    for candidate in (
        answer_file.parent.parent / "question.jsonl",
        answer_file.parent / "question.jsonl",
    ):
        if candidate.is_file():
            return candidate
    return None


def load_mt_bench_questions(path: Path) -> dict[str, dict[str, Any]]:
    """``question_id`` -> ``{"turns": [...], "category": ..., "reference": [...]}``."""
    questions: dict[str, dict[str, Any]] = {}
    for where, row in _rows(path):
        qid = row.get("question_id")
        if isinstance(qid, bool) or not isinstance(qid, int | str):
            raise where.error("missing or invalid question id", "question_id")
        turns = row.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise where.error("expected a non-empty list of strings", "turns")
        if str(qid) in questions:
            raise where.error(f"duplicate question id {qid}", "question_id")
        questions[str(qid)] = row
    return questions


def mt_bench_text(turns: Sequence[str]) -> str:
    """Several turns as one text, each under a ``### Turn N`` heading (one turn: as is).

    >>> print(mt_bench_text(["Hi?", "And then?"]))
    ### Turn 1
    Hi?
    <BLANKLINE>
    ### Turn 2
    And then?
    """
    if len(turns) == 1:
        return turns[0]
    return "\n\n".join(f"### Turn {n}\n{t}" for n, t in enumerate(turns, start=1))


def _mt_bench_answers(path: Path, questions_path: Path | None) -> list[ModelOutput]:
    questions_path = questions_path or find_mt_bench_questions(path)
    if questions_path is None:
        raise DataError(
            "MT-Bench answers hold no question text and no question.jsonl was found beside "
            "model_answer/; name it with --questions <question.jsonl> "
            "(questions= in Python)",
            path=str(path),
        )
    questions = load_mt_bench_questions(questions_path)
    out = []
    for where, row in _rows(path):
        qid = str(row.get("question_id"))
        if qid not in questions:
            raise where.error(f"question {qid} is not in {questions_path}", "question_id")
        choices = row.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise where.error("expected a non-empty list of choices", "choices")
        answers = choices[0].get("turns")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise where.error("expected a list of strings", "choices.0.turns")
        asked = questions[qid]["turns"]
        model = row.get("model_id") if isinstance(row.get("model_id"), str) else path.stem
        category = questions[qid].get("category")
        for turn in range(1, min(len(asked), len(answers)) + 1):
            out.append(
                ModelOutput(
                    prompt_id=qid if turn == 1 else f"{qid}/turn{turn}",
                    prompt=mt_bench_text(asked[:turn]),
                    response=mt_bench_text(answers[:turn]),
                    model=model,
                    metadata={
                        "turn": turn,
                        "question_id": qid,
                        "category": category if isinstance(category, str) else None,
                        # the dialogue itself, for multi-turn templates
                        "questions": list(asked[:turn]),
                        "answers": list(answers[:turn]),
                    },
                )
            )
    return out


def lm_eval_prompt(arguments: Any) -> str | None:
    """The prompt of an lm-eval sample's ``arguments`` (0.4.3+ dict form or the older list).

    >>> lm_eval_prompt({"gen_args_0": {"arg_0": "Q: 2+2?", "arg_1": {"until": ["\\n"]}}})
    'Q: 2+2?'
    >>> lm_eval_prompt([["Q: 2+2?", {"until": ["\\n"]}]])
    'Q: 2+2?'
    """
    first: Any = None
    if isinstance(arguments, dict):
        first = arguments.get("gen_args_0")
        first = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(arguments, list) and arguments and isinstance(arguments[0], list | tuple):
        first = arguments[0][0] if arguments[0] else None
    return first if isinstance(first, str) else None


def _lm_eval(path: Path, wanted_filter: str | None) -> list[ModelOutput]:
    out = []
    chosen = wanted_filter
    seen: set[str] = set()
    filters: dict[str, None] = {}  # every filter the file holds, in order of appearance
    for where, row in _rows(path):
        row_filter = row.get("filter", "none")
        filters[str(row_filter)] = None
        chosen = chosen or row_filter
        if row_filter != chosen:
            continue
        doc_id = row.get("doc_id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
            raise where.error("missing or invalid doc id", "doc_id")
        if str(doc_id) in seen:
            raise where.error(f"duplicate doc_id {doc_id} for filter {chosen!r}", "doc_id")
        seen.add(str(doc_id))
        prompt = lm_eval_prompt(row.get("arguments"))
        if prompt is None:
            raise where.error("no prompt text in arguments (gen_args_0.arg_0)", "arguments")
        filtered = row.get("filtered_resps")
        response = filtered[0] if isinstance(filtered, list) and filtered else None
        if not isinstance(response, str):
            raise where.error(
                "expected generated text; is this a generation task (not multiple choice)?",
                "filtered_resps",
            )
        metrics = row.get("metrics") if isinstance(row.get("metrics"), list) else []
        metadata: dict[str, JsonValue] = {"target": str(row.get("target", "")), "filter": chosen}
        for name in metrics or []:
            value = row.get(name)
            if isinstance(name, str) and isinstance(value, int | float | bool):
                metadata[name] = value
        out.append(
            ModelOutput(
                prompt_id=str(doc_id),
                prompt=prompt,
                response=response,
                model=path.parent.name or None,
                metadata=metadata,
            )
        )
    if wanted_filter is not None and not out:
        raise DataError(
            f"no samples with filter {wanted_filter!r}; the file's filters: "
            f"{', '.join(filters) or 'none'} (-B filter=NAME)",
            path=str(path),
        )
    return out


def _generic(path: Path) -> list[ModelOutput]:
    out = []
    for where, row in _rows(path):
        prompt_col = _first(row, PROMPT_COLUMNS)
        response_col = _first(row, RESPONSE_COLUMNS)
        if prompt_col is None:
            raise where.error(f"no prompt column (one of {', '.join(PROMPT_COLUMNS)})", "prompt")
        if response_col is None:
            raise where.error(
                f"no response column (one of {', '.join(RESPONSE_COLUMNS)})", "response"
            )
        id_col = _first(row, PROMPT_ID_COLUMNS)
        model_col = _first(row, MODEL_COLUMNS)
        raw_id = row.get(id_col) if id_col else None
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str | None):
            raise where.error(f"expected a string or integer, got {type(raw_id).__name__}", id_col)
        model = row.get(model_col) if model_col else None
        out.append(
            ModelOutput(
                prompt_id=None if raw_id in (None, "") else str(raw_id),
                prompt=text_field(row, prompt_col, where, allow_empty=False),
                response=text_field(row, response_col, where),
                model=model if isinstance(model, str) and model else None,
            )
        )
    return out


def _prompt_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def pair_outputs(
    a: Sequence[ModelOutput],
    b: Sequence[ModelOutput],
    *,
    by: Literal["auto", "id", "prompt"] = "auto",
    strict: bool = True,
    benchmark: str = "compare",
    names: tuple[str, str] = ("A", "B"),
    drop_hint: str = "strict=False drops them",
) -> list[PairItem]:
    """Pair two models' outputs on the same prompts, in ``a``'s order.

    ``by="auto"`` matches by prompt id when every output on both sides has one, else
    by exact prompt text. With ``strict`` (the default) a prompt answered by only one
    side is an error; otherwise it is dropped (:func:`unmatched_prompts` counts them).
    Outputs matched by id must have the same prompt text. Item ids are the prompt ids
    (or a hash of the prompt text). ``names`` name the two sides in error messages
    (``judge compare`` passes the file names) and ``drop_hint`` says how to drop
    unmatched prompts (``judge compare`` names ``--lenient``).

    >>> a = [ModelOutput(prompt_id="1", prompt="2+2?", response="4", model="m1")]
    >>> b = [ModelOutput(prompt_id="1", prompt="2+2?", response="5", model="m2")]
    >>> [(p.id, p.response_a, p.response_b, p.model_a, p.model_b) for p in pair_outputs(a, b)]
    [('1', '4', '5', 'm1', 'm2')]
    """
    by = match_by(a, b, by)
    left, right = _index(a, by, names[0]), _index(b, by, names[1])
    missing_b = [k for k in left if k not in right]
    missing_a = [k for k in right if k not in left]
    if strict and (missing_a or missing_b):
        parts = []
        for side, keys in ((names[1], missing_b), (names[0], missing_a)):
            if keys:
                shown = ", ".join(repr(k[:40]) for k in keys[:3])
                parts.append(f"{len(keys)} prompt(s) have no output in {side} (e.g. {shown})")
        raise DataError("unmatched outputs: " + "; ".join(parts) + f" ({drop_hint})")
    items = []
    for k, left_output in left.items():
        right_output = right.get(k)
        if right_output is None:
            continue
        if by == "id" and left_output.prompt != right_output.prompt:
            raise DataError(
                f"prompt id {k!r} has different prompt text in {names[0]} and {names[1]}; "
                "the files answer different questions under the same ids"
            )
        metadata: dict[str, JsonValue] = {}
        for side, o in (("a", left_output), ("b", right_output)):
            if o.metadata:
                metadata[f"metadata_{side}"] = dict(o.metadata)
        category = left_output.metadata.get("category")
        turns = [o.metadata.get("answers") for o in (left_output, right_output)]
        if all(isinstance(t, list) for t in turns) and "questions" in left_output.metadata:
            # conversations (MT-Bench turn 2): both dialogues, for multi-turn templates
            metadata["questions"] = left_output.metadata["questions"]
            metadata["answers_a"], metadata["answers_b"] = turns
        items.append(
            PairItem(
                id=k if by == "id" else _prompt_key(k),
                benchmark=benchmark,
                prompt=left_output.prompt,
                response_a=left_output.response,
                response_b=right_output.response,
                model_a=left_output.model,
                model_b=right_output.model,
                category=category if isinstance(category, str) else None,
                metadata=metadata,
            )
        )
    return items


def match_by(
    a: Sequence[ModelOutput], b: Sequence[ModelOutput], by: Literal["auto", "id", "prompt"]
) -> Literal["id", "prompt"]:
    """How two sides are matched: by prompt id when every output has one, else by text."""
    if by != "auto":
        return by
    return "id" if all(o.prompt_id is not None for o in [*a, *b]) else "prompt"


def _match_key(output: ModelOutput, by: Literal["id", "prompt"]) -> str:
    return str(output.prompt_id) if by == "id" else output.prompt


def _index(
    outputs: Sequence[ModelOutput], by: Literal["id", "prompt"], side: str
) -> dict[str, ModelOutput]:
    found: dict[str, ModelOutput] = {}
    for o in outputs:
        k = _match_key(o, by)
        if k in found:
            what = f"prompt id {k!r}" if by == "id" else f"prompt {k[:60]!r}"
            raise DataError(f"{side}: {what} appears twice")
        found[k] = o
    return found


def unmatched_prompts(
    a: Sequence[ModelOutput],
    b: Sequence[ModelOutput],
    *,
    by: Literal["auto", "id", "prompt"] = "auto",
) -> tuple[int, int]:
    """How many of ``a``'s prompts ``b`` does not answer, and how many of ``b``'s ``a`` does not.

    >>> a = [ModelOutput(prompt_id=str(i), prompt=f"q{i}", response="r") for i in range(3)]
    >>> unmatched_prompts(a, a[:1])
    (2, 0)
    """
    way = match_by(a, b, by)
    left = {_match_key(o, way) for o in a}
    right = {_match_key(o, way) for o in b}
    return len(left - right), len(right - left)


def empty_responses(outputs: Sequence[ModelOutput]) -> list[ModelOutput]:
    """The outputs whose response is empty or whitespace (a judge would grade nothing)."""
    return [o for o in outputs if not o.response.strip()]
