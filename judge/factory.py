"""Construction in one place: judges, backends and benchmarks.

Every other module that needs a plugin *built* asks this module; it is the only one
that turns a registry name and its options into an object (``-J`` / ``-B`` / ``-I``
parameters, a run config, a run manifest's judge spec). It sits above the registry
and the plugin base classes and below the runner, the CLI and the analysis: nothing it
imports imports it back. Core modules never import a backend module other than the
interface (:mod:`judge.backends.base`); a backend is reached by name through here
(``tests/test_import_graph.py`` asserts both).
"""

from __future__ import annotations

import importlib.metadata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.backends.base import Backend
from judge.backends.stored import StoredReplies
from judge.benchmark import Benchmark
from judge.errors import ConfigError, validation_text
from judge.judges import Judge, PromptJudge
from judge.jury import Jury, JuryMember, Vote
from judge.prompts import is_preset_path, list_presets, load_preset
from judge.records import RunConfig
from judge.registry import backends, benchmarks, did_you_mean, judges

GENERATION_KEYS = ("max_tokens", "temperature", "stop", "json_schema")
"""A prompt judge's generation parameters (``-J`` keys that shape the request)."""


# -- backends ---------------------------------------------------------------------------


def backend_class(name: str) -> Any:
    """The backend class registered as ``name`` (for its ``Options``), not built."""
    return backends.get(name)


def build_backend(name: str, options: Mapping[str, Any] | None = None) -> Backend:
    """The backend registered as ``name``, built with ``options`` (its strict ``Options``)."""
    backend = backend_class(name)(**dict(options or {}))
    if not isinstance(backend, Backend):
        raise ConfigError(
            f"backend {name!r} did not build a Backend (got {type(backend).__name__})"
        )
    return backend


# -- judges -----------------------------------------------------------------------------


def preset_judge(preset_name: str, **params: Any) -> PromptJudge:
    """Build a judge from ``prompts/<preset_name>.toml`` and ``-J`` parameters.

    ``backend=NAME`` picks the backend (default: the preset's); ``var.X=...`` sets a
    template variable; the judge's own keys are :attr:`PromptJudge.JUDGE_KEYS`; every
    other key is a backend option (validated by the backend's strict ``Options`` model).
    """
    cls = PromptJudge
    preset = load_preset(preset_name)
    merged: dict[str, Any] = {**preset.params, **params}
    backend_name = merged.pop("backend", None) or preset.backend or "llamacpp"
    judge_args = {k: merged.pop(k) for k in list(merged) if k in cls.JUDGE_KEYS}
    template_vars = {k[4:]: merged.pop(k) for k in list(merged) if k.startswith("var.")}
    backend_cls = backend_class(str(backend_name))
    options = getattr(backend_cls, "Options", None)
    fields = getattr(options, "model_fields", None)
    if fields is not None and getattr(options, "model_config", {}).get("extra") == "forbid":
        known = [*fields, *cls.JUDGE_KEYS, "backend"]
        for key in merged:
            if key not in fields:
                raise ConfigError(
                    f"unknown parameter -J {key}= for judge {preset_name!r} on backend "
                    f"{backend_name!r}{did_you_mean(key, known)}"
                )
    backend = build_backend(str(backend_name), merged)
    generation: dict[str, Any] = {k: judge_args.pop(k) for k in GENERATION_KEYS if k in judge_args}
    return cls(
        preset,
        backend,
        generation=generation,
        template_vars=template_vars,
        **judge_args,
    )


def judge_named(
    name: str, params: Mapping[str, Any] | None = None, *, what: str = "judge"
) -> Judge:
    """The judge registered as ``name`` (a preset, a preset file, ``jury``, ...), built with
    its ``-J`` parameters; ``what`` names it in the error (``jury member``)."""
    judge = judges.get(name)(**dict(params or {}))
    if not isinstance(judge, Judge):
        raise ConfigError(f"{what} {name!r} did not build a Judge (got {type(judge).__name__})")
    return judge


def build_judge(config: RunConfig) -> Judge:
    """The judge a config names, with its ``-J`` parameters."""
    return judge_named(config.judge, config.judge_args)


def preset_files(judge: Judge) -> dict[str, str]:
    """Preset name -> absolute TOML path for every preset file (or plugin preset) the
    judge, or each of its jury members, was built from; bundled presets are left out."""
    judges = [member for _, member in judge.members] if isinstance(judge, Jury) else [judge]
    out: dict[str, str] = {}
    for one in judges:
        if isinstance(one, PromptJudge) and one.preset.file is not None:
            out[one.preset.name] = str(Path(one.preset.file).resolve())
    return out


def judge_label(requested: str, judge: Judge) -> str:
    """What a judge is called in run ids and jury member names: a preset file's stem (the
    built judge's name: the same file however its path is spelt), else the name asked for."""
    return judge.name if is_preset_path(requested) else requested


def plugin_versions(config: RunConfig) -> dict[str, str]:
    """Versions of the third-party distributions whose benchmark, judge or backend plugin
    made the run (a run of a plugin is reproducible only with that plugin's version)."""
    used = [
        (benchmarks, config.benchmark),
        (judges, config.judge),
        (backends, str(config.judge_args.get("backend", ""))),
    ]
    out: dict[str, str] = {}
    for registry, name in used:
        entry = registry.entry(name) if name else None
        if entry is not None and entry.distribution:
            try:
                out[entry.distribution] = importlib.metadata.version(entry.distribution)
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


def stored_prompt_judge(
    spec: Mapping[str, Any],
    overrides: dict[str, Any] | None = None,
    *,
    preset_name: str | None = None,
    files: Mapping[str, str] | None = None,
) -> PromptJudge:
    """A prompt judge rebuilt from its manifest ``spec`` on :class:`StoredReplies` (a
    backend that refuses every request): for re-parsing and for showing prompts.

    ``files`` (the manifest's :data:`~judge.records.PRESET_FILES`) locates a preset file
    wherever the command runs; without it, or where the file moved, ``preset_name`` (the
    run's ``-j``) or the spec's preset name is loaded. Consumes ``mode`` from
    ``overrides`` and reads ``parser`` / ``parse`` from them.
    """
    overrides = overrides if overrides is not None else {}
    recorded = (files or {}).get(str(spec["preset"]))
    if recorded is not None and Path(recorded).is_file():
        preset_name = recorded
    preset = load_preset(preset_name or str(spec["preset"]))
    backend_spec = spec.get("backend")
    generation = {key: spec[key] for key in GENERATION_KEYS if spec.get(key) is not None}
    return PromptJudge(
        preset,
        StoredReplies(dict(backend_spec) if isinstance(backend_spec, dict) else {}),
        name=str(spec.get("name") or preset_name or preset.name),
        mode=overrides.pop("mode", spec.get("mode")),
        parser=overrides.get("parser") or spec.get("parser"),
        parse=overrides.get("parse", spec.get("parse", "strict")),
        generation=generation,
        template_vars=dict(spec.get("template_vars") or {}),
    )


def stored_judge(
    manifest_judge: str,
    spec: dict[str, Any],
    overrides: dict[str, Any],
    files: Mapping[str, str] | None = None,
) -> Judge:
    """Rebuild a run's judge from its manifest without its backend (re-parsing).

    Consumes the ``overrides`` it uses (``parser``, ``mode``; for a jury ``vote``, and
    ``parser`` for every member); the caller rejects what is left.
    """
    if spec.get("type") == "jury":
        return _stored_jury(spec, overrides, files)
    if manifest_judge in list_presets() or is_preset_path(manifest_judge):
        return stored_prompt_judge(spec, overrides, preset_name=manifest_judge, files=files)
    return judge_named(manifest_judge, overrides)


def _stored_jury(
    spec: dict[str, Any], overrides: dict[str, Any], files: Mapping[str, str] | None
) -> Judge:
    """A jury from its manifest spec: every member on stored replies, the vote as run
    (or ``vote`` from the overrides)."""
    members: list[tuple[str, Judge]] = []
    for entry in spec.get("members") or []:
        member_spec = entry.get("judge") if isinstance(entry, dict) else None
        if not isinstance(member_spec, dict) or member_spec.get("type") != "prompt":
            raise ConfigError(
                f"jury member {entry.get('name') if isinstance(entry, dict) else entry!r} "
                "is not a prompt judge; only prompt judges can be re-parsed"
            )
        member_overrides: dict[str, Any] = {
            k: overrides[k] for k in ("parser", "parse") if k in overrides
        }
        judge = stored_prompt_judge(
            member_spec, member_overrides, preset_name=str(member_spec["preset"]), files=files
        )
        members.append((str(entry.get("name") or judge.name), judge))
    overrides.pop("parser", None)
    overrides.pop("parse", None)
    vote = overrides.pop("vote", spec.get("vote", "majority"))
    return Jury(members, vote=vote, name=str(spec.get("name", "jury")))


def jury_judge(
    members: Sequence[str | dict[str, Any]] | None = None,
    *,
    vote: Vote = "majority",
    name: str = "jury",
) -> Jury:
    """The ``jury`` entry of the judges registry: a jury from ``-J`` parameters
    (``members`` is a JSON list of judge names or ``{"judge", "params", "name"}``)."""
    if not members or isinstance(members, str | dict):
        raise ConfigError(
            "a jury needs -J members='[...]': a JSON list of judge names or "
            '{"judge": NAME, "params": {...}} objects'
        )
    configs: list[JuryMember] = []
    for entry in members:
        try:
            configs.append(
                JuryMember(judge=entry) if isinstance(entry, str) else JuryMember(**entry)
            )
        except (ValidationError, TypeError) as exc:
            reason = validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
            raise ConfigError(f"invalid jury member {entry!r}: {reason}") from exc
    built: list[tuple[str, Judge]] = []
    seen: Counter[str] = Counter()
    for config in configs:
        judge = judge_named(config.judge, config.params, what="jury member")
        base = config.name or judge_label(config.judge, judge)
        seen[base] += 1
        member_name = base if seen[base] == 1 else f"{base}#{seen[base]}"
        built.append((member_name, judge))
    return Jury(built, vote=vote, name=name)


# -- benchmarks ------------------------------------------------------------------------


def benchmark_class(name: str) -> Any:
    """The benchmark class registered as ``name`` (for its ``Options`` or published
    figures), not built."""
    return benchmarks.get(name)


def benchmark_named(name: str, options: Mapping[str, Any] | None = None) -> Benchmark:
    """The benchmark loader registered as ``name``, built with its ``-B`` options."""
    bench = benchmark_class(name)(**dict(options or {}))
    if not isinstance(bench, Benchmark):
        raise ConfigError(f"benchmark {name!r} is not a Benchmark")
    return bench


def build_benchmark(config: RunConfig) -> Benchmark:
    """The benchmark loader a config names, with its ``-B`` options."""
    return benchmark_named(config.benchmark, config.benchmark_args)
