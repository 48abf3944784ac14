"""``judge describe NAME``: a plugin's options with types, defaults and docs.

Every plugin kind keeps its options in a strict pydantic ``Options`` model (backends,
benchmarks, importers, perturbations); a preset judge takes the prompt judge's own
keys (:class:`PromptJudgeOptions`), its template variables and its backend's options;
the ``jury`` and ``reward`` judges have their own models. The docs are the models'
field docstrings. :func:`reference_markdown` renders every built-in as
``docs/reference.md`` (a test checks that the committed page is the generated one).
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from judge.errors import ConfigError, UnknownNameError
from judge.judges import Generation
from judge.records import Record

KINDS: dict[str, str] = {
    "backends": "backend",
    "judges": "judge",
    "benchmarks": "benchmark",
    "importers": "importer",
    "perturbations": "perturbation",
}
"""Registry name -> the singular used in headings."""

# Judges built by a factory function rather than a class: where their options model is.
JUDGE_OPTIONS: dict[str, str] = {
    "jury": "judge.jury:JuryOptions",
    "reward": "judge.reward:RewardOptions",
}


class PromptJudgeOptions(Generation):
    """The ``-J`` keys a preset judge takes itself; every other key goes to its backend
    (the generation parameters are :class:`~judge.judges.Generation`'s, which the judge
    validates)."""

    backend: str | None = None
    """The backend (``judge describe BACKEND`` lists its options; default: the preset's)."""
    mode: typing.Literal["generate", "probs"] | None = None
    """``generate`` parses the reply text; ``probs`` reads the verdict tokens'
    probabilities (local backends, OpenAI logprobs). Default: the preset's."""
    parser: str | None = None
    """The reply parser (default: the preset's)."""
    parse: typing.Literal["strict", "upstream"] = "strict"
    """``upstream`` reproduces the format's own parsing rule, ties included."""
    layout: typing.Literal["chat", "user-only", "raw"] | None = None
    """How messages reach a local model (default: the preset's)."""
    name: str | None = None
    """The judge's name in the run and its tables (default: the preset's)."""


@dataclass(frozen=True)
class OptionDoc:
    """One option: its key, type, default and doc."""

    name: str
    type: str
    default: str
    doc: str


@dataclass
class PluginDoc:
    """What ``judge describe`` prints for one plugin."""

    kind: str
    name: str
    source: str
    summary: str
    sections: list[tuple[str, list[OptionDoc]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def type_text(annotation: Any) -> str:
    """A type as a reader writes it.

    >>> type_text(int), type_text(str | None), type_text(typing.Literal["a", "b"])
    ('int', 'str | None', "'a' | 'b'")
    >>> type_text(dict[str, list[int]])
    'dict[str, list[int]]'
    """
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is typing.Annotated:
        return type_text(args[0])
    if annotation is type(None):
        return "None"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else type_text(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _attribute_docs(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the docstring under it, over the model's classes (subclass first)."""
    docs: dict[str, str] = {}
    for cls in model.__mro__:
        if cls in (BaseModel, Record, object) or not issubclass(cls, BaseModel):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):
            continue
        body = ast.parse(source).body[0]
        if not isinstance(body, ast.ClassDef):
            continue
        statements = body.body
        for stmt, after in itertools.pairwise(statements):
            target = stmt.target if isinstance(stmt, ast.AnnAssign) else None
            if (
                isinstance(target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs.setdefault(target.id, inspect.cleandoc(after.value.value))
    return docs


def _default_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return "None" if value is None else str(value)


def options_of(
    model: type[BaseModel], *, defaults: dict[str, Any] | None = None
) -> list[OptionDoc]:
    """Every option of a strict options model (``defaults`` override the model's).

    >>> [o.name for o in options_of(PromptJudgeOptions)][:3]
    ['max_tokens', 'temperature', 'stop']
    """
    docs = _attribute_docs(model)
    out = []
    for name, info in model.model_fields.items():
        if defaults and name in defaults:
            default = _default_text(defaults[name])
        elif info.default is not PydanticUndefined:
            default = _default_text(info.default)
        elif info.default_factory is not None:
            default = _default_text(info.default_factory())  # type: ignore[call-arg]
        else:
            default = "required"
        doc = " ".join((info.description or docs.get(name, "")).split())
        out.append(OptionDoc(name, type_text(info.annotation), default, doc))
    return out


def _summary(obj: Any) -> str:
    # the plugin's own docstring: a class without one would show its base class's text
    own = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    text = getattr(obj, "description", "") or inspect.cleandoc(own or "")
    return " ".join(str(text).split("\n\n")[0].split())


def _options_model(obj: Any) -> type[BaseModel] | None:
    model = getattr(obj, "Options", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe_class(kind: str, name: str, source: str, obj: Any) -> PluginDoc:
    doc = PluginDoc(KINDS[kind], name, source, _summary(obj))
    model = _options_model(obj)
    flag = {"backends": "-J", "benchmarks": "-B", "importers": "-I", "perturbations": "-P"}
    if model is not None:
        doc.sections.append((f"options ({flag[kind]} key=value)", options_of(model)))
    else:
        doc.notes.append("no Options model: " + _signature_note(obj))
    return doc


def _signature_note(obj: Any) -> str:
    try:
        return f"takes {inspect.signature(obj)}"
    except (TypeError, ValueError):
        return "its options are not declared"


def _describe_judge(name: str, source: str, obj: Any) -> PluginDoc:
    from judge.prompts import is_preset_path, list_presets, load_preset
    from judge.registry import backends, load_target

    if name in JUDGE_OPTIONS:
        model = load_target(JUDGE_OPTIONS[name])
        doc = PluginDoc("judge", name, source, _summary(model))
        doc.sections.append(("options (-J key=value)", options_of(model)))
        return doc
    if not (is_preset_path(name) or name in list_presets()):
        doc = PluginDoc("judge", name, source, _summary(obj))
        doc.notes.append(_signature_note(obj))
        return doc
    preset = load_preset(name)
    doc = PluginDoc("judge", name, source, " ".join(preset.description.split()))
    backend = str(preset.params.get("backend") or preset.backend or "llamacpp")
    own = {k: v for k, v in preset.params.items() if k in PromptJudgeOptions.model_fields}
    doc.notes.append(
        f"a preset: {preset.kind} items, parser {preset.parser!r}, mode {preset.mode!r}, "
        f"backend {backend!r}" + (f"; format from {preset.source}" if preset.source else "")
    )
    doc.sections.append(
        (
            "judge options (-J key=value; defaults from the preset)",
            options_of(
                PromptJudgeOptions,
                defaults={
                    "backend": backend,
                    "mode": preset.mode,
                    "parser": preset.parser,
                    "layout": preset.layout,
                    "name": preset.name,
                    **own,
                },
            ),
        )
    )
    filled = {"instruction", "item", "response", "response_a", "response_b", "reference"}
    filled |= {"metadata", "input", "answers", "answers_a", "answers_b", "questions"}
    own_vars = [v for v in preset.variables if v not in filled]
    if own_vars:
        doc.sections.append(
            (
                "template variables (-J var.NAME=value, or an item column of that name)",
                [
                    OptionDoc(
                        f"var.{v}",
                        "str",
                        "required" if v in preset.required else "''",
                        "",
                    )
                    for v in own_vars
                ],
            )
        )
    model = _options_model(backends.get(backend))
    if model is not None:
        rest = {k: v for k, v in preset.params.items() if k not in PromptJudgeOptions.model_fields}
        doc.sections.append(
            (
                f"backend options of {backend!r} (-J key=value; -J backend=NAME changes them)",
                options_of(model, defaults=rest),
            )
        )
    return doc


def describe(name: str, kind: str | None = None) -> list[PluginDoc]:
    """Every plugin called ``name`` (in one kind, or in every kind that has it)."""
    from judge.registry import REGISTRIES

    if kind is not None and kind not in REGISTRIES:
        raise ConfigError(f"unknown kind {kind!r}; choose from {', '.join(REGISTRIES)}")
    kinds = [kind] if kind else list(REGISTRIES)
    found: list[PluginDoc] = []
    for k in kinds:
        registry = REGISTRIES[k]
        entries = {e.name: e for e in registry.entries()}
        if name not in entries and not (k == "judges" and name.endswith(".toml")):
            continue
        obj = registry.get(name)
        source = entries[name].source if name in entries else "preset file"
        if k == "judges":
            found.append(_describe_judge(name, source, obj))
        else:
            found.append(_describe_class(k, name, source, obj))
    if not found:
        from judge.registry import did_you_mean

        known = {n for k in kinds for n in REGISTRIES[k].names()}
        where = f"{KINDS[kind]} " if kind else ""
        raise UnknownNameError(
            f"unknown {where}name {name!r}{did_you_mean(name, known)}; `judge list` shows them"
        )
    return found


def format_text(docs: Iterable[PluginDoc]) -> str:
    """The plain-text form ``judge describe`` prints."""
    lines: list[str] = []
    for doc in docs:
        lines.append(f"{doc.kind} {doc.name}  ({doc.source})")
        if doc.summary:
            lines.extend("  " + t for t in textwrap.wrap(doc.summary, 96))
        lines.extend("  " + n for n in doc.notes)
        for title, options in doc.sections:
            lines.append(f"  {title}:" + ("" if options else " none"))
            for o in options:
                lines.append(f"    {o.name}: {o.type} = {o.default}")
                if o.doc:
                    lines.extend("        " + t for t in textwrap.wrap(o.doc, 88))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(docs: Iterable[PluginDoc], *, level: int = 3) -> str:
    """Markdown: a heading per plugin, a table per options section."""
    out: list[str] = []
    for doc in docs:
        out.append(f"{'#' * level} `{doc.name}`\n")
        if doc.summary:
            out.append(doc.summary + "\n")
        for note in doc.notes:
            out.append(_cell(note) + "\n")
        for title, options in doc.sections:
            out.append(f"{title[0].upper()}{title[1:]}:" + (" none.\n" if not options else "\n"))
            if not options:
                continue
            out.append("| option | type | default | meaning |\n|---|---|---|---|")
            out.extend(
                f"| `{o.name}` | `{_cell(o.type)}` | `{_cell(o.default)}` | {_cell(o.doc)} |"
                for o in options
            )
            out.append("")
    return "\n".join(out)


def builtin_names(kind: str) -> list[str]:
    """The built-in plugins of a kind (bundled presets count as built-in judges)."""
    from judge.registry import REGISTRIES

    return [
        e.name for e in REGISTRIES[kind].entries() if e.source in ("built-in", "preset (prompts/)")
    ]


HEADER = """# Reference: every built-in plugin and its options

Generated by `judge describe --reference > docs/reference.md` from the plugins' strict
`Options` models; `tests/test_describe.py` checks that this page is what the command prints.
`judge describe NAME` prints the same for one plugin (third-party ones included);
`judge list` lists every name. Options are given as `-J key=value` (judges and their
backends), `-B key=value` (benchmarks), `-I key=value` (importers) and
`-P NAME.key=value` (perturbations of `judge probe`).
"""


def reference_markdown(describe_one: Callable[[str, str], list[PluginDoc]] = describe) -> str:
    """The reference page of every built-in plugin."""
    parts = [HEADER]
    for kind in KINDS:
        parts.append(f"## {kind.capitalize()}\n")
        for name in builtin_names(kind):
            parts.append(format_markdown(describe_one(name, kind)))
    return "\n".join(parts).rstrip() + "\n"
