"""The reward judge: a sequence classifier scoring each response once (offline, tiny model)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from judge.analysis.frame import load_frame
from judge.cli import app
from judge.records import PairItem
from judge.reward import pair_fields, reward_judge
from tests.helpers import tiny_reward_model
from tests.reward_server import RewardServer


@pytest.fixture(autouse=True, scope="module")
def _torch_and_transformers() -> None:
    """Every test here needs both; imported when a test runs, not at collection (about
    3 s, which each pytest-xdist worker of the fast lane would pay)."""
    pytest.importorskip("transformers")
    pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reward_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random LlamaForSequenceClassification with SmolLM2's tokenizer, saved."""
    return tiny_reward_model(tmp_path_factory.mktemp("reward") / "tiny-rm")


def _manual(folder: Path, text: str) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    ids = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        return float(model(**ids).logits[0, 0])


@pytest.mark.model  # a real (tiny, random) transformers model
def test_reward_run_scores_equal_a_manual_forward_pass(reward_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "results"
    args = ["run", "-b", "sample", "-j", "reward", "-J", f"model={reward_folder}"]
    args += ["-J", "batch_size=3", "-J", "device=cpu", "-n", "4", "-o", str(out)]
    args += ["--name", "rm", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = out / "rm"
    judgments = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    assert len(judgments) == 8 and all(j["status"] == "ok" for j in judgments)
    # both orders give the same canonical judgment: no position effect by construction
    by_item: dict[str, list[dict[str, Any]]] = {}
    for j in judgments:
        by_item.setdefault(j["item_id"], []).append(j)
    for pair in by_item.values():
        assert {p["swapped"] for p in pair} == {False, True}
        assert pair[0]["scores"] == pair[1]["scores"] and pair[0]["verdict"] == pair[1]["verdict"]

    items = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines()]
    judge = reward_judge(model=str(reward_folder), device="cpu")
    for raw in items[:2]:
        item = PairItem.model_validate(raw)
        text_a = judge.text(item, item.response_a)
        assert text_a.startswith("<|im_start|>")  # SmolLM2's chat template, as it defines it
        want_a, want_b = (
            _manual(reward_folder, text_a),
            _manual(reward_folder, judge.text(item, item.response_b)),
        )
        got = by_item[item.id][0]
        assert got["scores"] == pytest.approx([want_a, want_b], abs=1e-5)
        assert got["probabilities"]["A"] == pytest.approx(1 / (1 + math.exp(want_b - want_a)))

    report = runner.invoke(app, ["report", str(run), "--resamples", "50"])
    assert report.exit_code == 0, report.output
    text = (run / "report" / "report.md").read_text()
    # no order to swap: the report says so instead of measuring a position effect
    position = text.split("## Position bias", 1)[1].split("\n## ", 1)[0]
    assert "rm: position bias is 0 by construction" in position
    assert "consistency" not in position.split("left out of the tables below.", 1)[1]
    assert "position bias: 0 by construction (each response scored once, no order)" in text
    frame = load_frame(run)
    assert frame["order_free"].all()


def test_pair_fields_tie_margin_and_sigmoid() -> None:
    assert pair_fields(2.0, 0.0)["probabilities"]["A"] == pytest.approx(1 / (1 + math.exp(-2)))
    assert pair_fields(0.0, 0.3, tie_margin=0.2)["verdict"] == "B"
    assert pair_fields(0.0, 0.1, tie_margin=0.2)["verdict"] == "tie"


@pytest.fixture(scope="module")
def reward_server(reward_folder: Path) -> Iterator[RewardServer]:
    """vLLM's classification API on 127.0.0.1, computing with the tiny reward model."""
    server = RewardServer(reward_folder)
    try:
        yield server
    finally:
        server.close()


def _read(run: Path) -> dict[tuple[str, bool], dict[str, Any]]:
    lines = (run / "judgments.jsonl").read_text().splitlines()
    return {(j["item_id"], j["swapped"]): j for j in map(json.loads, lines)}


@pytest.mark.model  # a real (tiny, random) transformers model
def test_served_reward_model_scores_equal_the_local_judge(
    reward_folder: Path, reward_server: RewardServer, tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "results"
    common = ["run", "-b", "sample", "-j", "reward", "-n", "4", "-o", str(out), "-q"]
    served = [*common, "-J", f"base_url={reward_server.url}", "-J", "model=tiny-rm"]
    result = runner.invoke(app, [*served, "-J", "concurrency=3", "--name", "served"])
    assert result.exit_code == 0, result.output
    local = [*common, "-J", f"model={reward_folder}", "-J", "device=cpu", "--name", "local"]
    result = runner.invoke(app, local)
    assert result.exit_code == 0, result.output
    got, want = _read(out / "served"), _read(out / "local")
    assert got.keys() == want.keys() and len(got) == 8
    for key, j in got.items():
        assert j["status"] == "ok"
        assert j["scores"] == pytest.approx(want[key]["scores"], abs=1e-4)
        assert j["verdict"] == want[key]["verdict"]
    # each response scored once: the two orders of a pair share their two requests
    assert reward_server.stats()["requests"] == 8
    manifest = json.loads((out / "served" / "manifest.json").read_text())
    assert manifest["judge_spec"]["type"] == "reward_http"
    assert reward_server.url not in json.dumps(manifest["judge_spec"])
    report = runner.invoke(app, ["report", str(out / "served"), "--resamples", "20"])
    assert report.exit_code == 0, report.output
    text = (out / "served" / "report" / "report.md").read_text()
    assert "served: position bias is 0 by construction" in text


@pytest.mark.model  # a real (tiny, random) transformers model
def test_served_reward_failures(reward_server: RewardServer, tmp_path: Path) -> None:
    """Transient failures are retried, then become error judgments a rerun retries; a
    refusal (unknown model: HTTP 404) stops the run with one line."""
    runner = CliRunner()
    out = tmp_path / "results"
    args = ["run", "-b", "sample", "-j", "reward", "-n", "2", "-o", str(out), "-q"]
    args += ["-J", f"base_url={reward_server.url}", "-J", "model=tiny-rm", "--name", "f"]
    reward_server.post("/admin/fail?n=100&status=503")
    result = runner.invoke(app, [*args, "-J", "max_retries=1", "-J", "concurrency=1"])
    assert result.exit_code == 8, result.output  # errors left
    assert {j["status"] for j in _read(out / "f").values()} == {"error"}
    assert "HTTP 503" in next(iter(_read(out / "f").values()))["error"]
    reward_server.post("/admin/fail?n=2&status=503")  # two failures, then answers
    result = runner.invoke(app, [*args, "-J", "max_retries=3", "-J", "concurrency=1"])
    assert result.exit_code == 0, result.output
    assert {j["status"] for j in _read(out / "f").values()} == {"ok"}
    reward_server.post("/admin/fail?n=0")
    bad = ["run", "-b", "sample", "-j", "reward", "-n", "1", "-o", str(out), "-q"]
    bad += ["-J", f"base_url={reward_server.url}", "-J", "model=nope", "--name", "bad"]
    result = runner.invoke(app, bad)
    assert result.exit_code == 5, result.output
    assert "HTTP 404" in result.output and "nope" in result.output


def test_a_gpu_torch_cannot_use_is_one_line_and_no_run_folder(tmp_path: Path) -> None:
    """``device=cuda`` where torch sees no GPU: exit 2, what torch sees, no traceback.

    The device is checked before anything is loaded, so the model folder here is empty;
    run on the CPU, that empty folder is itself one line naming it (transformers raises
    ``ValueError`` there, which used to be a traceback)."""
    import torch

    from judge.backends.local import torch_device
    from judge.errors import ConfigError

    assert str(torch_device("cpu")) == "cpu"
    with pytest.raises(ConfigError, match="is not a torch device"):
        torch_device("gpu")
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        with pytest.raises(ConfigError, match=f"torch sees {count} GPU"):
            torch_device(f"cuda:{count}")
        return
    out = tmp_path / "results"
    folder = tmp_path / "empty-model"
    folder.mkdir()

    def run(*judge_args: str) -> str:
        result = CliRunner().invoke(
            app, ["run", "-b", "sample", "-n", "1", "-o", str(out), "-q", *judge_args]
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        (line,) = result.output.strip().splitlines()
        return line

    for judge_args in (
        ["-j", "reward", "-J", f"model={folder}", "-J", "device=cuda"],
        ["-j", "smollm2", "-J", "backend=transformers", "-J", f"model={folder}",
         "-J", "device=cuda:1"],
    ):  # fmt: skip
        line = run(*judge_args)
        assert "device=" in line and "use device=cpu or device=auto" in line
    for judge_args in (
        ["-j", "reward", "-J", f"model={folder}"],
        ["-j", "smollm2", "-J", "backend=transformers", "-J", f"model={folder}"],
    ):
        line = run(*judge_args, "-J", "device=cpu")
        assert line.startswith(f"error: cannot load the tokenizer of '{folder}': "), line
    assert not out.exists() or not any(out.iterdir())
