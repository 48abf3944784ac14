"""``judge describe``: every plugin's options, and the generated reference page."""

from __future__ import annotations

import inspect
from pathlib import Path

from typer.testing import CliRunner

from judge.cli import app
from judge.describe import JUDGE_OPTIONS, PromptJudgeOptions, describe, reference_markdown
from judge.factory import jury_judge
from judge.judges import PromptJudge
from judge.jury import JuryOptions
from judge.registry import REGISTRIES

REFERENCE = Path(__file__).parents[1] / "docs" / "reference.md"
runner = CliRunner()


def test_committed_reference_is_the_generated_one() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        "docs/reference.md is stale: judge describe --reference > docs/reference.md"
    )


def test_reference_covers_every_builtin() -> None:
    page = REFERENCE.read_text(encoding="utf-8")
    for kind, registry in REGISTRIES.items():
        for entry in registry.entries():
            if entry.source in ("built-in", "preset (prompts/)"):
                assert f"### `{entry.name}`" in page, (kind, entry.name)


def test_describe_lm_eval_loader_options() -> None:
    result = runner.invoke(app, ["describe", "lm_eval", "--kind", "benchmarks"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "path: str = required" in out
    assert "path_b: str | None = None" in out
    assert "filter: str | None = None" in out and "Which filter's responses" in out
    assert "metric: str | None = None" in out


def test_list_kind_name_describes_a_backend() -> None:
    result = runner.invoke(app, ["list", "backends", "llamacpp"])
    assert result.exit_code == 0, result.output
    assert "n_ctx: int = 4096" in result.output and "context window" in result.output


def test_a_name_in_several_kinds_shows_each() -> None:
    kinds = [doc.kind for doc in describe("pandalm")]
    assert kinds == ["judge", "benchmark", "importer"]


def test_preset_shows_its_defaults_and_backend_options() -> None:
    (doc,) = describe("smollm2", "judges")
    titles = [title for title, _ in doc.sections]
    assert titles[0].startswith("judge options") and "backend options of 'llamacpp'" in titles[-1]
    judge_options = {o.name: o for o in doc.sections[0][1]}
    assert judge_options["max_tokens"].default == "4"  # the preset's, not the model default
    assert judge_options["mode"].default == "'probs'"


def test_preset_file_is_described(tmp_path: Path) -> None:
    written = runner.invoke(app, ["new-judge", "mine", "--dir", str(tmp_path)])
    assert written.exit_code == 0, written.output
    result = runner.invoke(app, ["describe", str(tmp_path / "mine.toml"), "--markdown"])
    assert result.exit_code == 0, result.output
    assert "| `temperature` | `float` |" in result.output


def test_unknown_name_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["describe", "lm_evl"])
    assert result.exit_code == 2
    assert "did you mean 'lm_eval'" in result.output


def test_option_models_match_what_the_judges_take() -> None:
    assert set(PromptJudgeOptions.model_fields) == {*PromptJudge.JUDGE_KEYS, "backend"}
    taken = set(inspect.signature(jury_judge).parameters)
    assert set(JuryOptions.model_fields) == taken
    assert set(JUDGE_OPTIONS) == {
        e.name for e in REGISTRIES["judges"].entries() if e.source == "built-in"
    }


def test_a_plugin_without_a_docstring_does_not_show_its_base_class_text() -> None:
    from judge.importers import Importer
    from judge.registry import importers

    class NoDoc(Importer):
        name = "nodoc"

        def read(self, request):  # type: ignore[no-untyped-def]
            return []

    importers.register("nodoc", NoDoc)
    try:
        (doc,) = describe("nodoc", "importers")
    finally:
        importers.unregister("nodoc")
    assert doc.summary == "" and Importer.__doc__
