"""docs/plugins.md's backend example runs as written: the class in its ``python`` block,
registered, judges the sample through a preset and stores its retryable failures as errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from judge.cli import app
from judge.factory import benchmark_named
from judge.registry import backends
from judge.store import RunStore

DOC = Path(__file__).parents[1] / "docs" / "plugins.md"


def test_the_documented_backend_runs_a_preset(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## A backend plugin") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict[str, Any] = {"__name__": "docs_backend"}
    exec(compile(code, str(DOC), "exec"), namespace)
    backends.register("echo", namespace["Echo"], replace=True)
    try:
        args = ["run", "-b", "sample", "-j", "mt-bench-pair", "-J", "backend=echo", "-n", "4"]
        args += ["-o", str(tmp_path), "--name", "echo", "-q", "--allow-errors"]
        args += ["--max-retries", "0"]  # the failures are retryable: no backoff here
        first = benchmark_named("sample").load().__next__().prompt_text[:40]
        result = CliRunner().invoke(app, [*args, "-J", f"fail_on={first}"])
        assert result.exit_code == 0, result.output
        judgments = RunStore(tmp_path / "echo").judgments()
        assert len(judgments) == 8
        statuses = sorted(j.status for j in judgments)  # the first item's two orders fail
        assert statuses == ["error", "error", "ok", "ok", "ok", "ok", "ok", "ok"]
        assert all(j.verdict == "A" if not j.swapped else j.verdict == "B"
                   for j in judgments if j.status == "ok")  # fmt: skip
        described = CliRunner().invoke(app, ["describe", "echo"])
        assert described.exit_code == 0 and "fail_on: str = ''" in described.output
    finally:
        backends.unregister("echo")


def test_the_documented_row_helpers_build_items_and_name_the_bad_field(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import pytest

    from judge.errors import DataError

    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Helpers for reading rows") : text.index("## 4. The entry")]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    good = '{"input": "2+2?", "output_1": "4", "output_2": "5", "label": 1}\n'
    (tmp_path / "pairs.jsonl").write_text(good)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    item = namespace["item"]
    assert (item.id, item.prompt, item.response_a, item.labels[0].verdict) == (
        "pairs-1", "2+2?", "4", "A"
    )  # fmt: skip
    (tmp_path / "pairs.jsonl").write_text(good + good.replace('"2+2?"', "3"))
    bad = r"pairs\.jsonl:2: field 'input': expected a string, got int"
    with pytest.raises(DataError, match=bad):
        exec(compile(code, str(DOC), "exec"), {})
