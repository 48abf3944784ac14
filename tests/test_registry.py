"""Registries: built-ins, presets, run-time registration, "did you mean"."""

from __future__ import annotations

import pytest

from judge.errors import ConfigError, UnknownNameError
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
