"""Registries: built-ins, presets, run-time registration, "did you mean"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from judge.errors import ConfigError, DataError, UnknownNameError
from judge.registry import Registry, backends, benchmarks, judges


def test_builtins_resolve_lazily() -> None:
    from judge.backends.llamacpp import LlamaCppBackend
    from judge_benchmarks.sample import SampleBenchmark

    assert backends.get("llamacpp") is LlamaCppBackend
    assert benchmarks.get("sample") is SampleBenchmark


def test_presets_are_judges_with_their_source() -> None:
    entry = {e.name: e for e in judges.entries()}["smollm2"]
    assert entry.source == "preset (prompts/)"


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'sample'"):
        benchmarks.get("sampel")
    with pytest.raises(UnknownNameError, match="known:"):
        benchmarks.get("zzzzzzzz")


def test_register_and_collisions() -> None:
    reg: Registry[object] = Registry("thing", builtins={"a": "judge.records:flip"})
    reg.register("b", object())
    assert reg.names() == ["a", "b"]
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("a", object())
    reg.unregister("b")
    assert "b" not in reg


def test_bad_target_is_a_config_error() -> None:
    reg: Registry[object] = Registry("thing", builtins={"bad": "no_colon_here"})
    with pytest.raises(ConfigError, match="module:attr"):
        reg.get("bad")


def _distribution(site: Path, entry_points: str, modules: dict[str, str]) -> None:
    """An installed distribution, as pip lays one out: a ``dist-info`` folder with its
    entry points beside the modules (``site`` goes on ``sys.path``)."""
    info = site / "nc_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nc-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, text in modules.items():
        (site / f"{name}.py").write_text(text)


BROKEN = {
    "nc_missing_dep": "import nonexistent_module_xyz\n\n\nclass Bench:\n    name = 'a'\n",
    "nc_plugin_ok": (
        "class Bench:\n    name = 'fine'\n\n\nclass Other:\n    name = 'other'\n\n\nX = 1\n"
    ),
}


def test_a_broken_entry_point_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _distribution(
        tmp_path,
        "[judge_harness.things]\n"
        "a = nc_missing_dep:Bench\n"  # its module imports a package that is not installed
        "b = nc_plugin_ok:Missing\n"  # no such attribute
        "c = nc_plugin_ok:X\n"  # not a class or function
        "d = nc_plugin_ok:Other\n"  # its class says another name
        "fine = nc_plugin_ok:Bench\n"
        "builtin = nc_plugin_ok:Bench\n",  # claims a built-in's name
        BROKEN,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[object] = Registry("thing", builtins={"builtin": "judge.records:flip"})
    with pytest.raises(DataError) as missing:
        reg.get("a")
    assert str(missing.value) == (
        "thing 'a' (nc_missing_dep:Bench, entry point (nc-plugin)) could not be loaded, at "
        f"{tmp_path / 'nc_missing_dep.py'}:1: ModuleNotFoundError: "
        "No module named 'nonexistent_module_xyz'"
    )
    with pytest.raises(DataError, match=r"'b' .* AttributeError: module 'nc_plugin_ok' has no"):
        reg.get("b")
    with pytest.raises(ConfigError, match=r"'c' .* is 'int', not a class or a function"):
        reg.get("c")
    with pytest.raises(ConfigError, match=r"'d' .* loads Other, whose name is 'other'"):
        reg.get("d")
    # the clash spoils its own name only: the listing and every other name still work
    assert reg.get("fine").__name__ == "Bench"  # type: ignore[attr-defined]
    clash = {e.name: e for e in reg.entries()}["builtin"]
    assert clash.source == "built-in" and "collides with built-in" in clash.problem
    with pytest.raises(ConfigError, match="from entry point of nc-plugin collides with built-in"):
        reg.get("builtin")


def test_cli_lists_a_clash_and_names_a_broken_benchmark(tmp_path: Path) -> None:
    _distribution(
        tmp_path,
        "[judge_harness.benchmarks]\nllmbar = nc_plugin_ok:Bench\nbroken = nc_missing_dep:Bench\n",
        BROKEN,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}

    def judge(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "judge.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    listed = judge("list", "benchmarks")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == ["llmbar"])
    assert "built-in" in row and "(unusable: benchmark 'llmbar' from entry point of" in row
    assert judge("describe", "sample").returncode == 0  # other names are untouched
    clash = judge("run", "-b", "llmbar", "--dry-run", "-o", str(tmp_path / "out"))
    assert clash.returncode == 2 and clash.stderr.count("\n") == 1
    assert "collides with built-in" in clash.stderr
    broken = judge("describe", "broken")
    assert broken.returncode == 4 and broken.stderr.count("\n") == 1, broken.stderr
    assert "Traceback" not in broken.stderr and "nc_missing_dep.py:1" in broken.stderr
