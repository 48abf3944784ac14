"""``judge compare``'s input messages (issue 14.19), judged by the fault server's fake model.

Errors name the file (not "A"/"B") and the CLI's own option; ``--lenient`` says how many
prompts it dropped; empty responses are judged with a warning; MT-Bench answers without a
``question.jsonl`` beside them take ``--questions``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from judge.store import RunStore
from tests.fault_server import FaultServerProcess

ENV = {**os.environ, "OPENAI_API_KEY": "sk-test-compare"}


def compare(url: str, output: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "judge.cli", "compare", *args]
    command += ["-J", "backend=openai", "-J", f"base_url={url}", "-J", "model=gpt-4o-mini"]
    command += ["-o", str(output), "--quiet", "--resamples", "20"]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=120)


def alpaca(path: Path, model: str, outputs: dict[str, str]) -> Path:
    rows = [{"instruction": q, "output": a, "generator": model} for q, a in outputs.items()]
    path.write_text(json.dumps(rows))
    return path


QUESTIONS = {f"Question {n}?": f"Answer {n}." for n in range(4)}


def test_compare_input_errors_name_the_file_and_the_cli_option(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    url = fault_server.openai_url
    x = alpaca(tmp_path / "x.json", "model-x", QUESTIONS)
    short = alpaca(tmp_path / "short.json", "model-y", dict(list(QUESTIONS.items())[:3]))

    strict = compare(url, tmp_path / "out", str(x), str(short))
    assert strict.returncode == 4
    message = strict.stderr.strip()
    assert message.startswith(
        f"error: unmatched outputs: 1 prompt(s) have no output in {short} (e.g. 'Question 3?')"
    )
    assert "--lenient" in message and "strict=False" not in message
    assert message.count("\n") == 0 and not (tmp_path / "out").exists()

    twice = tmp_path / "twice.json"
    rows = json.loads(x.read_text())
    twice.write_text(json.dumps([*rows, rows[1]]))
    dup = compare(url, tmp_path / "out", str(x), str(twice))
    assert dup.returncode == 4
    assert dup.stderr.strip() == f"error: {twice}: prompt 'Question 1?' appears twice"

    lenient = compare(url, tmp_path / "out", str(x), str(short), "--lenient")
    assert lenient.returncode == 0, lenient.stderr[-2000:]
    assert (
        f"dropped 1 prompt(s) of {x} that {short} does not answer and 0 of {short} "
        f"that {x} does not answer; 3 pairs left"
    ) in lenient.stderr
    assert "judgments             6 (6 ok" in lenient.stdout


def test_compare_warns_about_empty_outputs(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    x = alpaca(tmp_path / "x.json", "model-x", QUESTIONS)
    blank = alpaca(
        tmp_path / "blank.json", "model-y", {**QUESTIONS, "Question 2?": "", "Question 3?": " "}
    )
    result = compare(fault_server.openai_url, tmp_path / "out", str(x), str(blank))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        f"{blank}: 2 of 4 responses are empty (e.g. to 'Question 2?'); they are judged as they are"
    ) in result.stderr
    assert str(x) not in result.stderr  # the file without empty responses is not named
    (run_dir,) = (tmp_path / "out").glob("compare-*")
    assert len(RunStore(run_dir).all_judgments()) == 8


def mt_bench_answers(folder: Path, model: str) -> Path:
    path = folder / f"{model}.jsonl"
    rows = [
        {
            "question_id": qid,
            "answer_id": f"{model}-{qid}",
            "model_id": model,
            "choices": [{"index": 0, "turns": [f"{model} says {qid}."]}],
            "tstamp": 0.0,
        }
        for qid in (81, 82)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_mt_bench_answers_take_questions_from_the_cli(
    fault_server: FaultServerProcess, tmp_path: Path
) -> None:
    answers = tmp_path / "answers"
    answers.mkdir()
    a, b = mt_bench_answers(answers, "model-a"), mt_bench_answers(answers, "model-b")
    questions = tmp_path / "elsewhere" / "questions.jsonl"
    questions.parent.mkdir()
    questions.write_text(
        "".join(
            json.dumps({"question_id": q, "category": "writing", "turns": [f"Write {q}."]}) + "\n"
            for q in (81, 82)
        )
    )
    url = fault_server.openai_url
    missing = compare(url, tmp_path / "out", str(a), str(b))
    assert missing.returncode == 4
    assert missing.stderr.strip() == (
        f"error: {a}: MT-Bench answers hold no question text and no question.jsonl was found "
        "beside model_answer/; name it with --questions <question.jsonl> (questions= in Python)"
    )
    given = compare(url, tmp_path / "out", str(a), str(b), "--questions", str(questions))
    assert given.returncode == 0, given.stderr[-2000:]
    assert "model-a" in given.stdout and "judgments             4 (4 ok" in given.stdout
    (run_dir,) = (tmp_path / "out").glob("compare-*")
    items = RunStore(run_dir).items()
    assert [i.prompt_text for i in items] == ["Write 81.", "Write 82."]
    assert RunStore(run_dir).read_manifest().config.benchmark_args["questions"] == str(questions)
