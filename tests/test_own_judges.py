"""Bring your own judge: a preset from a file, from a plugin, and per-item variables."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from judge.errors import ConfigError, TemplateError, UnknownNameError
from judge.judges import PromptJudge, Task
from judge.prompts import load_preset, preset_hash
from judge.records import RunConfig, SingleItem
from judge.registry import judges
from judge.run import RetryPolicy, run_judging
from judge.starter import write_starter
from tests.fault_server import FaultServerProcess

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).parent / "plugins" / "example_judge"


def _single(item_id: str, **metadata: str) -> SingleItem:
    return SingleItem(
        id=item_id, benchmark="t", prompt="What is 2+2?", response="4", metadata=metadata
    )


def test_new_judge_writes_a_preset_that_runs_from_its_path(
    tmp_path: Path, fault_server: FaultServerProcess
) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["new-judge", "my-judge", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    toml = tmp_path / "my-judge.toml"
    assert toml.read_text().startswith("# my-judge: a pairwise judge")
    again = runner.invoke(app, ["new-judge", "my-judge", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists; pass --force" in again.output

    fault_server.configure(reply="The first is right. [[{verdict}]]")
    out = tmp_path / "results"
    args = ["run", "-b", "sample", "-j", str(toml), "-J", "backend=openai"]
    args += ["-J", f"base_url={fault_server.openai_url}", "-J", "model=gpt-4o-mini"]
    args += ["-J", "api_key_env=", "-n", "3", "-o", str(out), "--name", "mine", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "mine" / "manifest.json").read_text())
    assert manifest["judge_spec"]["preset"] == "my-judge"
    assert manifest["counts"]["ok"] == 6 and manifest["counts"]["unparsed"] == 0
    first = json.loads((out / "mine" / "judgments.jsonl").read_text().splitlines()[0])
    assert first["raw"].startswith("The first is right. [[") and first["verdict"] in (
        "A",
        "B",
        "tie",
    )
    # the registry builds it from the path; the hash ignores where the file lies
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path, moved, ignore=shutil.ignore_patterns("results", "elsewhere"))
    assert preset_hash(load_preset(str(moved / "my-judge.toml"))) == preset_hash(
        load_preset(str(toml))
    )
    assert callable(judges.get(str(toml)))


def test_preset_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_preset(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "pair"\nuser = "missing.jinja"\nparser = "letter"\n')
    with pytest.raises(TemplateError, match=r"bad\.toml: template file .*missing\.jinja"):
        load_preset(str(bad))
    (tmp_path / "u.jinja").write_text("{{ instruction }} {{ secret }}")
    undeclared = tmp_path / "undeclared.toml"
    undeclared.write_text('user = "u.jinja"\nvariables = ["instruction"]\nparser = "letter"\n')
    with pytest.raises(TemplateError, match=r"undeclared\.toml: u\.jinja uses .*\['secret'\]"):
        load_preset(str(undeclared))
    (tmp_path / "broken.jinja").write_text("line one\n{% if instruction %}never closed\n")
    broken = tmp_path / "broken.toml"
    broken.write_text('user = "broken.jinja"\nvariables = ["instruction"]\nparser = "letter"\n')
    with pytest.raises(TemplateError, match=r"broken\.toml: broken\.jinja line \d+: "):
        load_preset(str(broken))  # it said "template line 2", not which template
    misspelt = tmp_path / "misspelt.toml"
    misspelt.write_text('user = "u.jinja"\nvariables = ["instruction", "secret"]\n'
                        'parser = "mt_bench_pairr"\n')  # fmt: skip
    with pytest.raises(TemplateError, match=r"misspelt\.toml: unknown parser .*'mt_bench_pair'"):
        PromptJudge(load_preset(str(misspelt)), _backend())  # it did not name the file
    typo = tmp_path / "typo.toml"
    typo.write_text('user = "u.jinja"\nparsr = "letter"\n')
    with pytest.raises(TemplateError, match=r"typo\.toml: .*parsr"):
        load_preset(str(typo))
    with pytest.raises(UnknownNameError, match="did you mean 'mt-bench-pair'"):
        judges.get("mt-bench-pairr")


def test_per_item_rubric_from_a_benchmark_column(tmp_path: Path) -> None:
    write_starter("rubric-judge", tmp_path, kind="single")
    preset = load_preset(str(tmp_path / "rubric-judge.toml"))
    judge = PromptJudge(preset, _backend())
    item = _single("q1", rubric="Is the arithmetic right?")
    user = judge.request(Task(item)).messages[-1].content
    assert "Criteria: Is the arithmetic right?" in user
    # an item without the column gets the run-wide default (-J var.rubric / [params])
    judge = PromptJudge(preset, _backend(), template_vars={"rubric": "Default rubric."})
    assert "Criteria: Default rubric." in judge.request(Task(_single("q2"))).messages[-1].content
    # ... and without any value it is an error naming the item
    judge = PromptJudge(preset, _backend())
    with pytest.raises(TemplateError, match=r"item 'q3'.*'rubric' is undefined"):
        judge.request(Task(_single("q3")))


def test_prometheus_per_row_rubric_from_a_table(tmp_path: Path) -> None:
    rows = [
        {"id": "r1", "prompt": "Say hi", "response": "hi", "rubric": "[Politeness] Score 1: rude"},
        {"id": "r2", "prompt": "Say bye", "response": "bye", "rubric": "[Brevity] Score 1: long"},
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    from judge.benchmark import load_items
    from judge.registry import benchmarks

    items = load_items(benchmarks.get("table")(path=str(data)))
    judge = PromptJudge(load_preset("prometheus2-absolute"), _backend())
    texts = [judge.request(Task(i)).messages[-1].content for i in items]
    assert "[Politeness] Score 1: rude" in texts[0] and "[Brevity]" not in texts[0]
    assert "[Brevity] Score 1: long" in texts[1]


PROMETHEUS_ROWS_TOML = """\
description = "Prometheus absolute grading with a per-row rubric from score descriptions."
kind = "single"
user = "prom.user.jinja"
variables = ["instruction", "response", "criteria", "score1_description",
  "score2_description", "score3_description", "score4_description", "score5_description"]
required = ["criteria"]
parser = "prometheus_absolute"
scale = [1, 5]
"""


def test_prometheus_score_descriptions_per_row(tmp_path: Path) -> None:
    """Feedback Collection's columns (criteria, score1..5_description) fill the rubric as
    prometheus-eval's SCORE_RUBRIC_TEMPLATE writes it (docs/own-judges.md, section 2)."""
    (tmp_path / "prom.toml").write_text(PROMETHEUS_ROWS_TOML)
    lines = [f"Score {n}: {{{{ score{n}_description }}}}" for n in range(1, 6)]
    (tmp_path / "prom.user.jinja").write_text(
        "{{ instruction }}\n{{ response }}\n###Score Rubrics:\n[{{ criteria }}]\n"
        + "\n".join(lines)
    )
    descriptions = {f"score{n}_description": f"level {n}" for n in range(1, 6)}
    row = {"id": "f1", "prompt": "Say hi", "response": "hi", "criteria": "Polite?"}
    data = tmp_path / "fc.jsonl"
    data.write_text(json.dumps({**row, **descriptions}) + "\n" + json.dumps({**row, "id": "f2"}))
    from judge.benchmark import load_items
    from judge.registry import benchmarks

    first, second = load_items(benchmarks.get("table")(path=str(data)))
    judge = PromptJudge(load_preset(str(tmp_path / "prom.toml")), _backend())
    rubric = "[Polite?]\n" + "\n".join(f"Score {n}: level {n}" for n in range(1, 6))
    assert judge.request(Task(first)).messages[-1].content.endswith(rubric)
    with pytest.raises(TemplateError, match=r"item 'f2'.*score1_description"):
        judge.request(Task(second))


def _backend() -> object:
    from judge.registry import backends

    return backends.get("openai")(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("judge-plugin")
    source = work / "src"
    shutil.copytree(PLUGIN, source)
    target = work / "site"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"),
            *("--no-index", "--quiet", "--target", str(target), str(source)),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


CHECK = """
import json
from judge.judges import Task
from judge.parsers import get_parser
from judge.prompts import load_preset
from judge.records import PairItem
from judge.registry import judges
entry = next(e for e in judges.entries() if e.name == "yes_no")
preset = load_preset("yes_no")
judge = judges.get("yes_no")(backend="openai", base_url="http://127.0.0.1:9/v1", model="m",
                             api_key_env="")
item = PairItem(id="p", benchmark="t", prompt="2+2?", response_a="4", response_b="5")
print(json.dumps({
    "source": entry.source,
    "parser": preset.parser,
    "verdict": get_parser("first_or_second")("SECOND it is").verdict,
    "prompt": judge.request(Task(item)).messages[-1].content,
    "interpreted": judge.interpret("FIRST", None, True)["verdict"],
}))
"""


def test_preset_and_parser_from_an_installed_plugin(site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["source"] == "preset (entry point (judge-harness-example-judge))"
    assert out["parser"] == "first_or_second" and out["verdict"] == "B"
    assert out["prompt"].startswith('Which answer to "2+2?" is better?\nFIRST: 4\nSECOND: 5')
    assert out["interpreted"] == "B"  # FIRST shown in swapped order is canonical B


GEVAL_TOML = """\
description = "G-Eval style: the expected 1-5 score from the score tokens' probabilities."
kind = "single"
user = "geval.user.jinja"
variables = ["instruction", "response"]
parser = "mt_bench_single"
mode = "probs"
score_choices = ["1", "2", "3", "4", "5"]
backend = "llamacpp"
"""


@pytest.mark.model  # the embedded llama.cpp judge
def test_geval_expected_score_keeps_the_distribution(tmp_path: Path) -> None:
    import asyncio

    from judge.backends.base import Completion

    (tmp_path / "geval.toml").write_text(GEVAL_TOML)
    (tmp_path / "geval.user.jinja").write_text(
        "Rate the answer from 1 (bad) to 5 (good).\nQ: {{ instruction }}\nA: {{ response }}\n"
        "Reply with one digit."
    )
    judge = judges.get(str(tmp_path / "geval.toml"))(n_threads=1)
    items = [
        _single("g1"),
        SingleItem(id="g2", benchmark="t", prompt="Capital of France?", response="Berlin"),
    ]
    config = RunConfig(benchmark="t", judge="geval", concurrency=1)
    result = run_judging(config, output=tmp_path / "out", judge=judge, items=items)
    stored = {j.item_id: j for j in result.store.judgments()}
    for item in items:
        request = judge.request(Task(item))
        assert request.max_tokens == 1 and request.choices == ("1", "2", "3", "4", "5")
        direct = asyncio.run(judge.backend.complete([request]))[0]
        assert isinstance(direct, Completion) and direct.choice_probs
        total = sum(direct.choice_probs.get(c, 0.0) for c in request.choices)
        got = stored[item.id]
        assert got.status == "ok" and got.score_probabilities is not None
        for c in request.choices:
            assert got.score_probabilities[c] == pytest.approx(
                direct.choice_probs.get(c, 0.0) / total, abs=1e-6
            )
        expected = sum(int(c) * p for c, p in got.score_probabilities.items())
        assert got.score == pytest.approx(expected) and 1.0 <= got.score <= 5.0
        # re-parsing keeps it without a request
        again = judge.reinterpret(got, item)
        assert again.score == pytest.approx(got.score)
        assert again.score_probabilities == pytest.approx(got.score_probabilities)


def test_an_item_without_its_rubric_stops_the_run_naming_it(tmp_path: Path) -> None:
    write_starter("rj", tmp_path, kind="single")
    toml = tmp_path / "rj.toml"
    toml.write_text("\n".join(x for x in toml.read_text().splitlines() if "var.rubric" not in x))
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "r1", "prompt": "Say hi", "response": "hi", "rubric": "polite"}\n'
        '{"id": "r2", "prompt": "Say bye", "response": "bye"}\n'
    )
    args = ["run", "-b", "table", "-B", f"path={rows}", "-j", str(toml), "-J", "backend=openai"]
    args += [
        "-J",
        "model=gpt-4o-mini",
        "-J",
        "api_key_env=",
        "-J",
        "base_url=http://127.0.0.1:9/v1",
    ]
    args += ["--dry-run", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error: item 'r2': preset 'rj', user template: 'rubric' is undefined" in result.output


def criteria_toml(user: str, criteria: list[str], scale: tuple[int, int], max_tokens: int) -> str:
    """A single-answer preset scoring ``criteria`` in one call, as JSON."""
    return (
        f'description = "{len(criteria)} criteria scored in one call, as JSON."\n'
        f'kind = "single"\nuser = "{user}"\nvariables = ["instruction", "response"]\n'
        f'parser = "criteria_json"\ncriteria = {json.dumps(criteria)}\n'
        f"scale = [{scale[0]}, {scale[1]}]\n\n[params]\nmax_tokens = {max_tokens}\n"
    )


CRITERIA_TOML = criteria_toml(
    "criteria.user.jinja", ["relevance", "accuracy", "fluency"], (1, 5), max_tokens=64
)


def test_multi_criterion_preset_with_json_schema_on_the_llama_server(
    llama_server: str, tmp_path: Path
) -> None:
    from judge.analysis.frame import load_frame

    (tmp_path / "criteria.toml").write_text(CRITERIA_TOML)
    (tmp_path / "criteria.user.jinja").write_text(
        "Score the answer from 1 to 5 on relevance, accuracy and fluency, as JSON.\n"
        "Question: {{ instruction }}\nAnswer: {{ response }}"
    )
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"id": "c1", "prompt": "What is 2+2?", "response": "4"}\n'
        '{"id": "c2", "prompt": "Capital of France?", "response": "Berlin, I think."}\n'
    )
    judge = judges.get(str(tmp_path / "criteria.toml"))(
        backend="openai",
        base_url=llama_server,
        model="smollm2",
        api_key_env="",
        structured_output="json_object_schema",  # llama_cpp.server's form of a schema
    )
    assert judge.json_schema["required"] == ["relevance", "accuracy", "fluency"]
    config = RunConfig(benchmark="table", benchmark_args={"path": str(rows)}, judge="criteria")
    result = run_judging(
        config, output=tmp_path / "out", judge=judge, retry=RetryPolicy(max_retries=1)
    )
    stored = result.store.judgments()
    assert [j.status for j in stored] == ["ok", "ok"], [(j.raw, j.error) for j in stored]
    for j in stored:
        assert j.criteria is not None and set(j.criteria) == {"relevance", "accuracy", "fluency"}
        assert json.loads(str(j.raw)) == j.criteria  # the grammar-constrained JSON itself
        assert all(1 <= v <= 5 for v in j.criteria.values())
        assert j.score == pytest.approx(sum(j.criteria.values()) / 3)
    frame = load_frame(result.store.path).set_index("item_id")
    for j in stored:
        for name, value in (j.criteria or {}).items():
            assert frame.loc[j.item_id, f"criterion_{name}"] == value
    # a score off the scale is unparsed, naming the criterion (never clipped)
    off = judge.interpret('{"relevance": 1, "accuracy": 0, "fluency": 2}', None, False)
    assert off["status"] == "unparsed" and "accuracy" in off["error"]


TOPICAL_CRITERIA_TOML = criteria_toml(
    "tc.user.jinja", ["naturalness", "coherence", "engagingness"], (1, 3), max_tokens=48
)


def test_criteria_section_against_topical_chat_human_sub_scores(
    llama_server: str, tmp_path: Path
) -> None:
    """Each criterion its own column in the frame and the report, compared with the human
    score of the aspect of the same name (real Topical-Chat USR items)."""
    from judge.analysis.criteria import criteria_table
    from judge.analysis.frame import load_frame
    from judge.benchmark import load_items
    from judge.registry import benchmarks

    (tmp_path / "tc.toml").write_text(TOPICAL_CRITERIA_TOML)
    (tmp_path / "tc.user.jinja").write_text(
        "Rate the reply from 1 to 3 on naturalness, coherence and engagingness, as JSON.\n"
        "{{ instruction }}\nReply: {{ response }}"
    )
    out = tmp_path / "out"
    args = ["run", "-b", "topical_chat", "-j", str(tmp_path / "tc.toml"), "-n", "3"]
    args += ["-J", "backend=openai", "-J", f"base_url={llama_server}", "-J", "model=smollm2"]
    args += ["-J", "api_key_env=", "-J", "structured_output=json_object_schema"]
    args += ["-o", str(out), "--name", "tc", "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = load_frame(out / "tc").set_index("item_id")
    items = {i.id: i for i in load_items(benchmarks.get("topical_chat")(), limit=3)}
    for item_id, row in frame.iterrows():
        human = {s.aspect: s.score for s in items[str(item_id)].scores}
        for name in ("naturalness", "coherence", "engagingness"):
            assert row[f"human_criterion_{name}"] == human[name]
            assert 1 <= row[f"criterion_{name}"] <= 3 or row["status"] != "ok"
    assert "human_criterion_overall" not in frame  # only aspects the judge scored
    table = criteria_table(frame.reset_index(), n_resamples=0).set_index("criterion")
    assert list(table.index) == ["naturalness", "coherence", "engagingness"]
    ok = frame[frame["status"] == "ok"]
    for name in table.index:
        assert table.loc[name, "mean"] == pytest.approx(ok[f"criterion_{name}"].mean())
        assert table.loc[name, "n_human"] == len(ok)
        assert table.loc[name, "leniency"] == pytest.approx(
            ok[f"criterion_{name}"].mean() - ok[f"human_criterion_{name}"].mean()
        )
    report = CliRunner().invoke(app, ["report", str(out / "tc"), "--resamples", "20"])
    assert report.exit_code == 0, report.output
    text = (out / "tc" / "report" / "report.md").read_text()
    section = text.split("## Criteria", 1)[1]
    for name in ("naturalness", "coherence", "engagingness"):
        assert name in section
    assert "How often each score was given" in section


def test_bad_generation_parameters_are_one_line_before_anything_runs(tmp_path: Path) -> None:
    """``-J temperature=hot`` was a traceback (``float('hot')``) from the judge's constructor."""
    base = ["run", "-b", "sample", "-n", "1", "-o", str(tmp_path), "-q", "-J", "backend=openai"]
    base += ["-J", "base_url=http://127.0.0.1:9/v1", "-J", "model=gpt-4o-mini"]
    env = {"OPENAI_API_KEY": "sk-test-generation"}
    for params, message in (
        (
            ["temperature=hot"],
            "temperature: Input should be a valid number, unable to parse string as a number",
        ),
        (["max_tokens=0"], "max_tokens: Input should be greater than or equal to 1"),
        (["temperature=-1"], "temperature: Input should be greater than or equal to 0"),
    ):
        args = [*base, *(a for p in params for a in ("-J", p))]
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == (
            f"error: invalid generation parameters of judge 'smollm2': {message}"
        )
    assert not any(tmp_path.iterdir())


def test_a_preset_files_runs_are_found_again_from_any_folder(
    tmp_path: Path, fault_server: FaultServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs of ``-j ./my-judge.toml``: one run folder however the path is spelt,
    ``judge reparse`` from another folder (alone and as a jury member), and the viewer
    renders its prompts (it said "unknown preset 'my-judge'")."""
    from judge.records import PRESET_FILES
    from judge.store import RunStore
    from judge.view.prompts import rendered_prompts

    runner = CliRunner()
    assert runner.invoke(app, ["new-judge", "my-judge", "--dir", str(tmp_path)]).exit_code == 0
    fault_server.configure(reply="The first is right. [[{verdict}]]")
    out = tmp_path / "results"
    backend = ["-J", "backend=openai", "-J", f"base_url={fault_server.openai_url}"]
    backend += ["-J", "model=gpt-4o-mini", "-J", "api_key_env="]
    monkeypatch.chdir(tmp_path)
    for spelt in ("./my-judge.toml", "my-judge.toml", str(tmp_path / "my-judge.toml")):
        args = ["run", "-b", "sample", "-j", spelt, *backend, "-n", "2", "-o", str(out), "-q"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    (run,) = (
        out.iterdir()
        if not (out / "cache.sqlite").exists()
        else [p for p in out.iterdir() if p.is_dir()]
    )
    assert run.name.startswith("sample-my-judge-")  # was sample-._my-judge.toml-...
    manifest = RunStore(run).read_manifest()
    assert manifest.extra[PRESET_FILES] == {"my-judge": str(tmp_path / "my-judge.toml")}

    params = {
        "backend": "openai",
        "base_url": fault_server.openai_url,
        "model": "gpt-4o-mini",
        "api_key_env": "",
    }
    members = json.dumps(
        [
            {"judge": "./my-judge.toml", "params": params},
            {"judge": "mt-bench-pair", "params": params},
        ]
    )
    jury = ["run", "-b", "sample", "-j", "jury", "-J", f"members={members}"]
    result = runner.invoke(app, [*jury, "-n", "2", "-o", str(out), "--name", "jury", "-q"])
    assert result.exit_code == 0, result.output

    monkeypatch.chdir(tmp_path.parent)  # another folder: ./my-judge.toml is not here
    for folder, extra in ((run, ["--parser", "letter"]), (out / "jury", [])):
        reparsed = runner.invoke(app, ["reparse", str(folder), *extra])
        assert reparsed.exit_code == 0, reparsed.output

    jury_store = RunStore(out / "jury")
    item = jury_store.items()[0]
    judgment = next(j for j in jury_store.judgments() if j.item_id == item.id)
    rendered = rendered_prompts(
        jury_store.read_manifest().judge_spec,
        item,
        judgment.model_dump(mode="json"),
        files=jury_store.read_manifest().extra[PRESET_FILES],  # type: ignore[arg-type]
    )
    assert [r.who for r in rendered] == ["my-judge", "mt-bench-pair"]
    assert all(r.messages and "differs" not in r.note for r in rendered), rendered
