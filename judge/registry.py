"""One small registry per plugin kind: backends, judges, benchmarks, perturbations, importers.

Built-ins are listed in one literal table of lazy ``"module:attr"`` strings;
third parties add entries through the entry-point group whose name is
``judge_harness.<kind>`` (the entry point's name is the registry name). Nothing
registers itself as an import side effect: entries are resolved on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from judge.errors import ConfigError, JudgeError, UnknownNameError, did_you_mean, plugin_failure

T = TypeVar("T")

__all__ = ["REGISTRIES", "Entry", "Registry", "did_you_mean", "load_target"]


@dataclass(frozen=True)
class Entry:
    """Where a registry name comes from."""

    name: str
    target: str
    """``module:attr`` or a description of the object."""
    source: str
    """``built-in``, ``entry point (<distribution>)`` or ``register()``."""
    problem: str = ""
    """Why the name cannot be used (two plugins claim it), else empty."""
    distribution: str = ""
    """The installed distribution an entry point comes from, else empty."""


def load_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute.

    >>> load_target("judge.records:flip")("A")
    'B'
    """
    module_name, _, attr_path = target.partition(":")
    if not attr_path:
        raise ConfigError(f"plugin target {target!r} is not of the form 'module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Name -> plugin, resolved lazily.

    >>> reg: Registry[Callable[..., str]] = Registry("example", builtins={})
    >>> reg.register("hello", lambda: "hi")
    >>> reg.get("hello")()
    'hi'
    >>> reg.get("helo")
    Traceback (most recent call last):
    ...
    judge.errors.UnknownNameError: unknown example 'helo'; did you mean 'hello'?
    """

    def __init__(
        self,
        kind: str,
        *,
        builtins: dict[str, str],
        group: str | None = None,
        discover: Callable[[], dict[str, tuple[T | str, str]]] | None = None,
        fallback: Callable[[str], T | None] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group if group is not None else f"judge_harness.{kind}s"
        self._builtins = dict(builtins)
        self._discover = discover
        self._fallback = fallback
        """Builds a plugin for a name no table lists (judges: a preset file's path)."""
        self._entries: dict[str, Entry] | None = None
        self._targets: dict[str, T | str] = {}
        self._loaded: dict[str, T] = {}

    def _scan(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, Entry] = {}
        for name, target in self._builtins.items():
            entries[name] = Entry(name, target, "built-in")
            self._targets[name] = target

        def claim(
            name: str, target: T | str, shown: str, source: str, clash: str, dist: str = ""
        ) -> None:
            # A second claim to a name spoils that name only: every other plugin, and
            # `judge list` (which shows the clash), keep working.
            if name in entries:
                first = entries[name]
                problem = f"{self.kind} {name!r} {clash} {first.source} {first.target}"
                entries[name] = Entry(name, first.target, first.source, problem)
                return
            entries[name] = Entry(name, shown, source, distribution=dist)
            self._targets[name] = target

        if self._discover is not None:
            for name, (found, source) in self._discover().items():
                shown = found if isinstance(found, str) else name
                claim(name, found, shown, source, f"from {source} is defined twice: also")
        for ep in entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            clash = f"from entry point of {dist} collides with"
            known = dist if ep.dist is not None else ""
            claim(ep.name, ep.value, ep.value, f"entry point ({dist})", clash, known)
        self._entries = entries
        return entries

    def register(self, name: str, obj: T, *, replace: bool = False) -> None:
        """Register ``obj`` under ``name`` at run time (tests, notebooks)."""
        entries = self._scan()
        if name in entries and not replace:
            raise ConfigError(
                f"{self.kind} {name!r} is already registered ({entries[name].source})"
            )
        entries[name] = Entry(name, getattr(obj, "__qualname__", repr(obj)), "register()")
        self._targets[name] = obj
        self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        """Remove a run-time registration."""
        self._scan().pop(name, None)
        self._targets.pop(name, None)
        self._loaded.pop(name, None)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._scan())

    def entries(self) -> list[Entry]:
        """Every entry with where it comes from, sorted by name."""
        return [self._scan()[n] for n in self.names()]

    def entry(self, name: str) -> Entry | None:
        """Where ``name`` comes from, or None for a name no table lists."""
        return self._scan().get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._scan()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        """The plugin called ``name``; an unknown name raises with close suggestions."""
        entries = self._scan()
        if name not in entries and self._fallback is not None:
            found = self._fallback(name)
            if found is not None:
                return found
        if name not in entries:
            hint = did_you_mean(name, entries)
            known = "" if hint else f"; known: {', '.join(sorted(entries)) or 'none'}"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint}{known}")
        entry = entries[name]
        if entry.problem:
            raise ConfigError(entry.problem)
        if name not in self._loaded:
            target = self._targets[name]
            self._loaded[name] = self._load(entry, target) if isinstance(target, str) else target
        return self._loaded[name]

    def _load(self, entry: Entry, target: str) -> Any:
        """Import a lazy target; a third party's that fails or is not a plugin is one line."""
        if entry.source == "built-in":
            return load_target(target)
        what = f"{self.kind} {entry.name!r} ({target}, {entry.source})"
        try:
            obj = load_target(target)
        except JudgeError:
            raise
        except Exception as exc:  # the plugin's own import error: where, not a traceback
            raise plugin_failure(f"{what} could not be loaded", exc) from exc
        if not callable(obj):
            raise ConfigError(f"{what} is {type(obj).__name__!r}, not a class or a function")
        declared = getattr(obj, "name", None) if isinstance(obj, type) else None
        if isinstance(declared, str) and declared != entry.name:
            raise ConfigError(
                f"{what} loads {obj.__qualname__}, whose name is {declared!r}: the entry "
                f"point's name and the class's `name` must be the same (runs record it)"
            )
        return obj


PRESET_JUDGE = "judge.factory:preset_judge"
"""What builds a preset's judge: a lazy target like the tables below, so the registry
never imports the factory that imports it."""


def preset_judge_factory(name: str) -> Callable[..., Any]:
    """A judge factory for the preset ``name`` (the judges registry's entry for it)."""

    def factory(**params: Any) -> Any:
        return load_target(PRESET_JUDGE)(name, **params)

    factory.__qualname__ = f"preset_judge({name!r})"
    return factory


def _discover_presets() -> dict[str, tuple[Any, str]]:
    from judge.prompts import list_presets, plugin_presets

    plugins = plugin_presets()
    return {
        name: (
            preset_judge_factory(name),
            f"preset ({plugins[name][1]})" if name in plugins else "preset (prompts/)",
        )
        for name in list_presets()
    }


def _preset_file(name: str) -> Any:
    """A judge factory for a preset file's path (``-j ./my-judge.toml``), else ``None``."""
    from judge.prompts import is_preset_path, load_preset

    if not is_preset_path(name):
        return None
    load_preset(name)  # a missing or bad file fails here, naming it
    return preset_judge_factory(name)


# The built-in tables. Each value is a lazy "module:attr" import path.
BACKENDS: dict[str, str] = {
    "llamacpp": "judge.backends.llamacpp:LlamaCppBackend",
    "openai": "judge.backends.openai:OpenAIBackend",
    "anthropic": "judge.backends.anthropic:AnthropicBackend",
    "transformers": "judge.backends.transformers:TransformersBackend",
    "vllm": "judge.backends.vllm:VllmBackend",
    "lmeval": "judge.backends.lmeval:LmEvalBackend",
}

# Presets in prompts/ (smollm2, mt-bench-pair, ...) are judges too: discovered, not listed here.
JUDGES: dict[str, str] = {
    "jury": "judge.factory:jury_judge",
    "reward": "judge.reward:reward_judge",
}

BENCHMARKS: dict[str, str] = {
    "sample": "judge_benchmarks.sample:SampleBenchmark",
    "pandalm": "judge_benchmarks.pandalm:PandaLMBenchmark",
    "llmbar": "judge_benchmarks.llmbar:LLMBarBenchmark",
    "judgebench": "judge_benchmarks.judgebench:JudgeBenchBenchmark",
    "evalbiasbench": "judge_benchmarks.evalbiasbench:EvalBiasBenchBenchmark",
    "topical_chat": "judge_benchmarks.topical_chat:TopicalChatBenchmark",
    "table": "judge_benchmarks.table:TableBenchmark",
    "hf": "judge_benchmarks.hf:HFDatasetBenchmark",
    "alpaca_eval": "judge_benchmarks.alpaca_eval:AlpacaEvalBenchmark",
    "mt_bench": "judge_benchmarks.mt_bench:MTBenchBenchmark",
    "lm_eval": "judge_benchmarks.lm_eval:LMEvalBenchmark",
    "probe": "judge.probes.benchmark:ProbeBenchmark",
}

# Text transforms for bias probes (judge probe; docs/probes.md).
PERTURBATIONS: dict[str, str] = {
    "bandwagon": "judge.probes.builtin:Bandwagon",
    "authority": "judge.probes.builtin:Authority",
    "verdict_injection": "judge.probes.builtin:VerdictInjection",
    "superficial_reflection": "judge.probes.builtin:SuperficialReflection",
    "verbosity_padding": "judge.probes.builtin:VerbosityPadding",
    "self_identification": "judge.probes.builtin:SelfIdentification",
    "refinement_claim": "judge.probes.builtin:RefinementClaim",
}

# `judge import NAME`: classes of judge.importers.Importer (a strict Options model + read()).
IMPORTERS: dict[str, str] = {
    "pandalm": "judge.importers:PandaLMImporter",
    "judgebench": "judge.importers:JudgeBenchImporter",
    "table": "judge.table_import:TableImporter",
    "alpaca_eval": "judge.alpaca_eval_import:AlpacaEvalImporter",
}

backends: Registry[Any] = Registry("backend", builtins=BACKENDS)
judges: Registry[Any] = Registry(
    "judge", builtins=JUDGES, discover=_discover_presets, fallback=_preset_file
)
benchmarks: Registry[Any] = Registry("benchmark", builtins=BENCHMARKS)
perturbations: Registry[Any] = Registry("perturbation", builtins=PERTURBATIONS)
importers: Registry[Any] = Registry("importer", builtins=IMPORTERS)

REGISTRIES: dict[str, Registry[Any]] = {
    "backends": backends,
    "judges": judges,
    "benchmarks": benchmarks,
    "perturbations": perturbations,
    "importers": importers,
}
