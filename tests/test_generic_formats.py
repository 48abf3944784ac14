"""Generic formats: tables with a column mapping, HF datasets, AlpacaEval, MT-Bench, lm-eval."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judge.benchmark import load_items
from judge.errors import ConfigError, DataError
from judge.outputs import ModelOutput, detect_output_format, load_outputs, pair_outputs
from judge.records import Message, PairItem, SingleItem
from judge.registry import benchmarks

ROWS = [
    {"qid": "q1", "question": "What is 2+2?", "ans1": "4", "ans2": "5", "winner": "A", "src": "x"},
    {"qid": "q2", "question": "Capital of France?", "ans1": "Lyon", "ans2": "Paris", "winner": "2"},
    {"qid": "q3", "question": "Say hi.", "ans1": "hi", "ans2": "hello", "winner": "tie"},
]
MAPPING = {
    "map.id": "qid",
    "map.prompt": "question",
    "map.response_a": "ans1",
    "map.response_b": "ans2",
    "map.label": "winner",
}


def pairs(bench: Any) -> list[PairItem]:
    items = load_items(bench)
    assert all(isinstance(i, PairItem) for i in items)
    return [i for i in items if isinstance(i, PairItem)]


def write_csv(path: Path, rows: list[dict[str, Any]], delimiter: str = ",") -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def check_mapped(items: list[PairItem]) -> None:
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert [i.label for i in items] == ["A", "B", "tie"]
    assert items[1].prompt == "Capital of France?" and items[1].response_b == "Paris"
    assert all(i.benchmark == "table" for i in items)


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_table_formats_with_a_column_mapping(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"data.{suffix}"
    if suffix in ("csv", "tsv"):
        write_csv(path, ROWS, delimiter="," if suffix == "csv" else "\t")
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == "json":
        path.write_text(json.dumps(ROWS, indent=2))
    else:
        pq.write_table(pa.Table.from_pylist([{**r, "src": r.get("src")} for r in ROWS]), path)
    bench = benchmarks.get("table")(path=str(path), **MAPPING)
    items = pairs(bench)
    check_mapped(items)
    assert items[0].metadata["src"] == "x"
    assert bench.files() == [path]


def test_table_format_option_overrides_the_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.txt.gz.weird"
    write_csv(path, ROWS)
    with pytest.raises(DataError, match="format"):
        load_items(benchmarks.get("table")(path=str(path), **MAPPING))
    check_mapped(pairs(benchmarks.get("table")(path=str(path), format="csv", **MAPPING)))


def test_table_defaults_need_no_mapping(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    rows = [
        {"instruction": "Add 1 and 1.", "response_a": "2", "response_b": "3", "label": "model_a"},
        {
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Name a colour."},
            ],
            "response_a": "Blue.",
            "response_b": "",
            "label": "",
            "model_a": "m1",
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = pairs(benchmarks.get("table")(path=str(path), allow_empty=True))
    assert [i.id for i in items] == ["1", "2"]  # ids default to the line number
    assert items[0].prompt == "Add 1 and 1." and items[0].label == "A"
    assert items[1].prompt == (
        Message(role="system", content="Be brief."),
        Message(role="user", content="Name a colour."),
    )
    assert items[1].labels == () and items[1].model_a == "m1" and items[1].response_b == ""


def test_table_annotator_columns_and_custom_label_values(tmp_path: Path) -> None:
    path = tmp_path / "votes.csv"
    write_csv(
        path,
        [
            {"prompt": "p1", "response_a": "a", "response_b": "b", "h1": "win", "h2": "lose"},
            {"prompt": "p2", "response_a": "a", "response_b": "b", "h1": "win", "h2": "win"},
        ],
    )
    bench = benchmarks.get("table")(
        path=str(path),
        label_columns=["h1", "h2"],
        **{"labels.win": "A", "labels.lose": "B"},
    )
    items = pairs(bench)
    assert [[(v.annotator, v.verdict) for v in i.labels] for i in items] == [
        [("h1", "A"), ("h2", "B")],
        [("h1", "A"), ("h2", "A")],
    ]
    assert [i.label for i in items] == [None, "A"]


def test_table_single_answers_with_scores(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    write_csv(
        path,
        [
            {"id": "a", "prompt": "Explain tides.", "response": "The Moon pulls.", "score": "4"},
            {"id": "b", "prompt": "Explain tides.", "response": "Wind.", "score": "1.5"},
        ],
    )
    items = load_items(benchmarks.get("table")(path=str(path), scale=[1, 5]))
    assert all(isinstance(i, SingleItem) for i in items)
    singles = [i for i in items if isinstance(i, SingleItem)]
    assert [i.human_score() for i in singles] == [4.0, 1.5]
    assert singles[0].scale == (1.0, 5.0)


def test_table_option_errors() -> None:
    with pytest.raises(ConfigError, match="unknown field"):
        benchmarks.get("table")(path="x.csv", **{"map.promt": "q"})
    with pytest.raises(ConfigError, match="path"):
        benchmarks.get("table")()


# -- Hugging Face datasets -----------------------------------------------------------------


def _hf_rows() -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "src"} for r in ROWS]


def test_hf_dataset_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_list(_hf_rows())
    datasets.DatasetDict({"test": dataset, "train": dataset.select([0])}).save_to_disk(
        str(tmp_path / "saved")
    )
    hf = benchmarks.get("hf")
    items = pairs(hf(dataset=str(tmp_path / "saved"), **MAPPING))
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert [i.label for i in items] == ["A", "B", "tie"]
    assert len(load_items(hf(dataset=str(tmp_path / "saved"), split="train", **MAPPING))) == 1
    with pytest.raises(ConfigError, match="split 'validation'"):
        load_items(hf(dataset=str(tmp_path / "saved"), split="validation", **MAPPING))
    dataset.save_to_disk(str(tmp_path / "single"))  # a bare Dataset, no splits
    assert len(load_items(hf(dataset=str(tmp_path / "single"), **MAPPING))) == 3


def test_hf_dataset_from_a_local_data_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    folder = tmp_path / "repo" / "data"
    folder.mkdir(parents=True)
    datasets.Dataset.from_list(_hf_rows()).to_parquet(str(folder / "test-00000-of-00001.parquet"))
    bench = benchmarks.get("hf")(
        dataset=str(tmp_path / "repo"), split="test", cache_dir=str(tmp_path / "cache"), **MAPPING
    )
    items = pairs(bench)
    assert [i.label for i in items] == ["A", "B", "tie"]
    assert any(p.suffix == ".parquet" for p in bench.files())
    with pytest.raises(DataError, match="cannot load dataset"):
        load_items(
            benchmarks.get("hf")(
                dataset=str(tmp_path / "repo"), split="nope", cache_dir=str(tmp_path / "c")
            )
        )


# -- AlpacaEval ----------------------------------------------------------------------------


def _alpaca(path: Path, generator: str, outputs: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        json.dumps(
            [
                {
                    "dataset": "helpful_base",
                    "instruction": i,
                    "input": x,
                    "output": o,
                    "generator": generator,
                }
                for i, x, o in outputs
            ],
            indent=4,
        )
    )
    return path


def test_alpaca_eval_outputs_paired_by_instruction(tmp_path: Path) -> None:
    a = _alpaca(
        tmp_path / "a.json",
        "model-a",
        [
            ("Name a fruit.", "", "Apple."),
            ("Translate.", "bonjour", "hello"),
            ("Count to 3.", "", "1 2 3"),
        ],
    )
    b = _alpaca(
        tmp_path / "b.json",
        "model-b",
        [
            ("Count to 3.", "", "one two three"),
            ("Name a fruit.", "", "Pear."),
            ("Translate.", "bonjour", "hi"),
        ],
    )
    assert detect_output_format(a) == "alpaca_eval"
    items = pairs(benchmarks.get("alpaca_eval")(outputs_a=str(a), outputs_b=str(b)))
    assert [(i.prompt, i.response_a, i.response_b) for i in items] == [
        ("Name a fruit.", "Apple.", "Pear."),
        ("Translate.\n\nbonjour", "hello", "hi"),
        ("Count to 3.", "1 2 3", "one two three"),
    ]
    assert {(i.model_a, i.model_b) for i in items} == {("model-a", "model-b")}
    _alpaca(tmp_path / "short.json", "model-c", [("Name a fruit.", "", "Fig.")])
    with pytest.raises(DataError, match="2 prompt"):
        load_items(
            benchmarks.get("alpaca_eval")(outputs_a=str(a), outputs_b=str(tmp_path / "short.json"))
        )
    loose = benchmarks.get("alpaca_eval")(
        outputs_a=str(a), outputs_b=str(tmp_path / "short.json"), strict=False
    )
    assert len(load_items(loose)) == 1


# -- MT-Bench ------------------------------------------------------------------------------

QUESTIONS: list[dict[str, Any]] = [
    {
        "question_id": 81,
        "category": "writing",
        "turns": ["Write a haiku about rain.", "Now make it about snow."],
    },
    {
        "question_id": 111,
        "category": "math",
        "turns": ["What is 3*7?", "And 3*8?"],
        "reference": ["21", "24"],
    },
]


def _mt_bench_tree(tmp_path: Path) -> Path:
    root = tmp_path / "mt_bench"
    (root / "model_answer").mkdir(parents=True)
    (root / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    for model, answers in {
        "model-x": {81: ["Rain taps the roof.", "Snow hushes all."], 111: ["21", "24"]},
        "model-y": {81: ["Wet.", "Cold."], 111: ["20", "24"]},
    }.items():
        lines = [
            {
                "question_id": qid,
                "answer_id": f"{model}-{qid}",
                "model_id": model,
                "choices": [{"index": 0, "turns": turns}],
                "tstamp": 1700000000.0,
            }
            for qid, turns in answers.items()
        ]
        (root / "model_answer" / f"{model}.jsonl").write_text(
            "".join(json.dumps(x) + "\n" for x in lines)
        )
    return root


def test_mt_bench_answers_make_pairs_for_both_turns(tmp_path: Path) -> None:
    root = _mt_bench_tree(tmp_path)
    a, b = root / "model_answer" / "model-x.jsonl", root / "model_answer" / "model-y.jsonl"
    outputs = load_outputs(a)  # question.jsonl is found beside model_answer/
    assert [o.prompt_id for o in outputs] == ["81", "81/turn2", "111", "111/turn2"]
    assert (
        outputs[1].prompt
        == "### Turn 1\nWrite a haiku about rain.\n\n### Turn 2\nNow make it about snow."
    )
    items = pairs(benchmarks.get("mt_bench")(answers_a=str(a), answers_b=str(b)))
    assert [(i.id, i.category, i.model_a, i.model_b) for i in items] == [
        ("81", "writing", "model-x", "model-y"),
        ("81/turn2", "writing", "model-x", "model-y"),
        ("111", "math", "model-x", "model-y"),
        ("111/turn2", "math", "model-x", "model-y"),
    ]
    turn1 = pairs(benchmarks.get("mt_bench")(answers_a=str(a), answers_b=str(b), turn=1))
    assert [i.id for i in turn1] == ["81", "111"]


def _vote(qid: int, a: str, b: str, winner: str, judge: Any, turn: int) -> dict[str, Any]:
    q = next(x for x in QUESTIONS if x["question_id"] == qid)["turns"]
    answers = {"model-x": ["X1", "X2"], "model-y": ["Y1", "Y2"]}

    def conversation(model: str) -> list[dict[str, str]]:
        out = []
        for n in range(2):
            out += [
                {"role": "user", "content": q[n]},
                {"role": "assistant", "content": answers[model][n]},
            ]
        return out

    return {
        "question_id": qid,
        "model_a": a,
        "model_b": b,
        "winner": winner,
        "judge": judge,
        "conversation_a": conversation(a),
        "conversation_b": conversation(b),
        "turn": turn,
    }


def test_mt_bench_human_judgments_keep_every_vote(tmp_path: Path) -> None:
    root = _mt_bench_tree(tmp_path)
    votes = [
        _vote(81, "model-x", "model-y", "model_a", "expert_0", 1),
        _vote(81, "model-y", "model-x", "model_b", "expert_1", 1),  # same pair, shown reversed
        _vote(81, "model-x", "model-y", "tie (bothbad)", "author_2", 1),
        _vote(81, "model-x", "model-y", "model_b", "expert_0", 2),
        _vote(111, "model-y", "model-x", "model_a", "expert_3", 1),
        _vote(111, "model-y", "model-x", "model_a", "expert_3", 1),  # the same judge twice
    ]
    (root / "human_judgments.json").write_text(json.dumps(votes, indent=2))
    bench = benchmarks.get("mt_bench")(
        judgments=str(root / "human_judgments.json"), questions=str(root / "question.jsonl")
    )
    items = {i.id: i for i in pairs(bench)}
    assert list(items) == [
        "81-model-x-model-y-turn1",
        "81-model-x-model-y-turn2",
        "111-model-y-model-x-turn1",
    ]
    first = items["81-model-x-model-y-turn1"]
    assert [(v.annotator, v.verdict) for v in first.labels] == [
        ("expert_0", "A"),
        ("expert_1", "A"),  # model_b of the reversed vote is model-x, our A
        ("author_2", "tie"),
    ]
    assert first.label == "A" and first.category == "writing"
    assert (first.prompt, first.response_a, first.response_b) == (
        "Write a haiku about rain.",
        "X1",
        "Y1",
    )
    second = items["81-model-x-model-y-turn2"]
    assert second.response_a == "### Turn 1\nX1\n\n### Turn 2\nX2" and second.label == "B"
    math = items["111-model-y-model-x-turn1"]
    assert [v.annotator for v in math.labels] == ["expert_3", "expert_3#2"]
    assert math.reference == "21" and math.response_a == "Y1"
    jsonl = root / "gpt4_pair.jsonl"
    jsonl.write_text(
        json.dumps(_vote(81, "model-x", "model-y", "model_a", ["gpt-4", "pair-v2"], 1)) + "\n"
    )
    (only,) = pairs(benchmarks.get("mt_bench")(judgments=str(jsonl)))
    assert only.labels[0].annotator == "gpt-4/pair-v2" and only.category is None
    with pytest.raises(ConfigError, match="judgments"):
        benchmarks.get("mt_bench")()


# -- lm-evaluation-harness -----------------------------------------------------------------


def _lm_eval_samples(tmp_path: Path, model: str, answers: list[str]) -> Path:
    """Write samples with lm-eval's own writer (EvaluationTracker.save_results_samples)."""
    tracker_module = pytest.importorskip("lm_eval.loggers.evaluation_tracker")
    tracker = tracker_module.EvaluationTracker(output_path=str(tmp_path / "out"))
    tracker.general_config_tracker.model_name_sanitized = model
    tracker.date_id = "2025-01-01T00-00-00"
    questions = [("2+2", "4"), ("3+3", "6"), ("5+5", "10")]
    samples = []
    for doc_id, ((question, target), answer) in enumerate(zip(questions, answers, strict=True)):
        for filter_name, text in (("strict-match", answer), ("flexible-extract", answer + "!")):
            samples.append(
                {
                    "doc_id": doc_id,
                    "doc": {"question": question, "answer": target},
                    "target": target,
                    "arguments": [(f"Question: {question}?\nAnswer:", {"until": ["\n"]})],
                    "resps": [[f"The answer is {text}"]],
                    "filtered_resps": [text],
                    "filter": filter_name,
                    "metrics": ["exact_match"],
                    "doc_hash": "h",
                    "prompt_hash": "p",
                    "target_hash": "t",
                    "exact_match": float(text == target),
                }
            )
    tracker.save_results_samples("arith", samples)
    (path,) = (tmp_path / "out" / model).glob("samples_arith_*.jsonl")
    return path


def test_lm_eval_samples_single_and_pairs(tmp_path: Path) -> None:
    a = _lm_eval_samples(tmp_path, "model-a", ["4", "6", "11"])
    b = _lm_eval_samples(tmp_path, "model-b", ["4", "7", "10"])
    assert detect_output_format(a) == "lm_eval"
    outputs = load_outputs(a)
    assert [(o.prompt_id, o.response, o.model) for o in outputs] == [
        ("0", "4", "model-a"),
        ("1", "6", "model-a"),
        ("2", "11", "model-a"),
    ]
    assert outputs[0].prompt == "Question: 2+2?\nAnswer:"
    singles = load_items(benchmarks.get("lm_eval")(path=str(a)))
    assert [(i.reference, i.scores[0].score) for i in singles if isinstance(i, SingleItem)] == [
        ("4", 1.0),
        ("6", 1.0),
        ("10", 0.0),
    ]
    items = pairs(benchmarks.get("lm_eval")(path=str(a), path_b=str(b)))
    assert [i.label for i in items] == ["tie", "A", "B"]
    assert items[0].labels[0].annotator == "lm-eval:exact_match"
    flexible = load_outputs(a, lm_eval_filter="flexible-extract")
    assert [o.response for o in flexible] == ["4!", "6!", "11!"]


# -- model outputs and pairing -------------------------------------------------------------


def test_load_outputs_generic_tables(tmp_path: Path) -> None:
    csv_path = tmp_path / "model_a.csv"
    write_csv(
        csv_path,
        [
            {"id": "1", "prompt": "Hi?", "response": "Hello.", "model": "a"},
            {"id": "2", "prompt": "Bye?", "response": "Goodbye.", "model": "a"},
        ],
    )
    jsonl_path = tmp_path / "model_b.jsonl"
    jsonl_path.write_text(
        json.dumps({"question": "Bye?", "answer": "Ciao."})
        + "\n"
        + json.dumps({"question": "Hi?", "answer": "Hey."})
        + "\n"
    )
    a = load_outputs(csv_path)
    b = load_outputs(jsonl_path, model="b")
    assert a[0] == ModelOutput(prompt_id="1", prompt="Hi?", response="Hello.", model="a")
    assert [o.model for o in b] == ["b", "b"] and b[0].prompt_id is None
    items = pair_outputs(a, b)  # b has no ids: matched by prompt text, in a's order
    assert [(i.prompt, i.response_a, i.response_b) for i in items] == [
        ("Hi?", "Hello.", "Hey."),
        ("Bye?", "Goodbye.", "Ciao."),
    ]
    assert len({i.id for i in items}) == 2


def test_pair_outputs_by_id_checks_the_prompt_text() -> None:
    a = [ModelOutput(prompt_id="7", prompt="What is 1+1?", response="2")]
    b = [ModelOutput(prompt_id="7", prompt="What is 1+2?", response="3")]
    with pytest.raises(DataError, match="different prompt text"):
        pair_outputs(a, b)
    assert pair_outputs(a, b, by="prompt", strict=False) == []


# -- preference data: chosen / rejected (RewardBench, HH-RLHF, UltraFeedback-binarized) --------


def test_chosen_rejected_rows_are_pairs_with_the_chosen_side_drawn_per_item(
    tmp_path: Path,
) -> None:
    """RewardBench's columns as they are: the chosen response lands at A or B by a seeded
    coin per item (a fixed side would credit an always-first judge with 100%), the gold
    label names that side, the models follow their responses, ``subset`` is the category."""
    rows = [
        {
            "id": n,
            "prompt": f"question {n}?",
            "chosen": f"good answer {n}",
            "rejected": f"bad answer {n}",
            "chosen_model": "gpt-4",
            "rejected_model": "llama-7b",
            "subset": "alpacaeval-easy" if n % 2 else "refusals-dangerous",
        }
        for n in range(40)
    ]
    path = tmp_path / "reward-bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items = load_items(benchmarks.get("table")(path=str(path)))
    assert len(items) == 40 and all(isinstance(i, PairItem) for i in items)
    sides = {i.label for i in items if isinstance(i, PairItem)}
    assert sides == {"A", "B"}
    for item in items:
        assert isinstance(item, PairItem)
        chosen = item.response_a if item.label == "A" else item.response_b
        chosen_model = item.model_a if item.label == "A" else item.model_b
        assert chosen.startswith("good") and chosen_model == "gpt-4"
        assert item.metadata["chosen"] == item.label
        assert item.category in ("alpacaeval-easy", "refusals-dangerous")
    first = [i.label for i in items if isinstance(i, PairItem)]
    assert 10 <= first.count("A") <= 30  # a fair coin over 40 items
    again = load_items(benchmarks.get("table")(path=str(path)))
    assert [i.label for i in again if isinstance(i, PairItem)] == first  # seeded
    other = load_items(benchmarks.get("table")(path=str(path), seed=1))
    assert [i.label for i in other if isinstance(i, PairItem)] != first
    path.write_text(json.dumps({"prompt": "q", "chosen": "a"}) + "\n")
    with pytest.raises(DataError, match=r"reward-bench.jsonl:1: field 'rejected': missing"):
        load_items(benchmarks.get("table")(path=str(path)))
