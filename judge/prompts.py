"""Judge presets: a prompt template + a parser + default parameters, as files in ``prompts/``.

A preset is ``prompts/<name>.toml``::

    description = "..."
    kind = "pair"                  # or "single"
    system = "pairwise/x.system.jinja"   # optional
    user = "pairwise/x.user.jinja"
    variables = ["instruction", "response_a", "response_b"]
    parser = "mt_bench_pair"       # a name in judge.parsers.PARSERS
    mode = "generate"              # or "probs" (verdict-token probabilities)
    choices = { A = "A", B = "B", tie = "C" }   # verdict -> token, for mode "probs"
    backend = "llamacpp"           # default backend (optional)
    [params]                       # default generation parameters
    max_tokens = 512

Chat roles are separate template files, never text markers inside one file. Templates
are Jinja2 rendered with ``StrictUndefined`` (a missing variable is an error), and the
variables they use must be declared. A preset is identified by the hash of its files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

import jinja2
import jinja2.meta
from pydantic import Field, JsonValue, ValidationError

from judge.errors import ConfigError, TemplateError, UnknownNameError
from judge.hashing import sha256_json
from judge.records import Message, Record, Verdict


class Preset(Record):
    """A judge preset loaded from ``prompts/``."""

    name: str
    description: str = ""
    kind: Literal["pair", "single"] = "pair"
    system: str | None = None
    """Path (under ``prompts/``) of the system-message template."""
    user: str
    """Path (under ``prompts/``) of the user-message template."""
    variables: tuple[str, ...] = ()
    """Variables the templates may use; any other is an error."""
    parser: str
    """Name in :data:`judge.parsers.PARSERS`."""
    mode: Literal["generate", "probs"] = "generate"
    choices: dict[Verdict, str] | None = None
    """Verdict -> the token the judge answers with, for probability verdicts."""
    score_choices: tuple[str, ...] | None = None
    """Score tokens (e.g. ``"1".."5"``) for probability-weighted single scores."""
    backend: str | None = None
    """Default backend name."""
    params: dict[str, JsonValue] = Field(default_factory=dict)
    """Default generation / backend parameters."""
    source: str = ""
    """Where the format comes from (paper, repository), for the reader."""
    trained_on: str | None = None
    """The model this format was trained for, if it is a fine-tuned judge's format."""
    strip: bool = True
    """Strip whitespace around each rendered message. Off for formats whose prompt ends
    in whitespace the model was trained on (PandaLM's ``### Evaluation:\\n``); the
    template file's single final newline is never part of the text."""
    required: tuple[str, ...] = ()
    """Variables that must be present and non-empty (``reference`` for reference-guided
    formats); rendering an item without one is a :class:`TemplateError`."""


def prompts_root() -> Traversable:
    """The installed ``prompts/`` folder."""
    return files("prompts")


def list_presets() -> list[str]:
    """Names of every preset file in ``prompts/``."""
    root = prompts_root()
    return sorted(
        p.name[: -len(".toml")] for p in root.iterdir() if p.is_file() and p.name.endswith(".toml")
    )


@cache
def _read(path: str) -> str:
    node = prompts_root()
    for part in path.split("/"):
        node = node / part
    if not node.is_file():
        raise TemplateError(f"template file prompts/{path} does not exist")
    return node.read_text(encoding="utf-8")


@cache
def load_preset(name: str) -> Preset:
    """Load and validate ``prompts/<name>.toml`` and check its templates."""
    names = list_presets()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(f"unknown preset {name!r}{hint}")
    text = _read(f"{name}.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"prompts/{name}.toml: {exc}") from exc
    try:
        preset = Preset(name=name, **data)
    except ValidationError as exc:
        raise TemplateError(f"prompts/{name}.toml: {exc}") from exc
    for template in template_texts(preset).values():
        used = jinja2.meta.find_undeclared_variables(_ENV.parse(template))
        undeclared = used - set(preset.variables)
        if undeclared:
            raise TemplateError(
                f"prompts/{name}.toml: templates use undeclared variables {sorted(undeclared)}"
            )
    return preset


def template_texts(preset: Preset) -> dict[str, str]:
    """Role -> template text of a preset."""
    out = {"user": _read(preset.user)}
    if preset.system:
        out["system"] = _read(preset.system)
    return out


def preset_hash(preset: Preset) -> str:
    """Content hash of a preset: its declaration and its template texts."""
    payload = {"preset": preset.model_dump(mode="json"), "templates": template_texts(preset)}
    return sha256_json(payload)


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
    autoescape=False,  # prompts are plain text, not HTML
)


@cache
def _compile(text: str) -> jinja2.Template:
    return _ENV.from_string(text)


def render(preset: Preset, variables: Mapping[str, Any]) -> tuple[Message, ...]:
    """Render a preset's templates into chat messages; a missing variable raises.

    >>> p = load_preset("smollm2")
    >>> msgs = render(p, {"instruction": "2+2?", "response_a": "4", "response_b": "5"})
    >>> msgs[-1].role, "2+2?" in msgs[-1].content
    ('user', True)
    """
    missing = [v for v in preset.required if variables.get(v) in (None, "")]
    if missing:
        raise TemplateError(f"preset {preset.name!r} needs {', '.join(missing)}; the item has none")
    messages = []
    for role, text in sorted(template_texts(preset).items(), key=lambda kv: kv[0] != "system"):
        try:
            content = _compile(text).render(**variables)
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"preset {preset.name!r}, {role} template: {exc.message}") from exc
        content = content.strip() if preset.strip else content
        messages.append(Message(role=role, content=content))
    return tuple(messages)


def check_preset_name(name: str) -> None:
    """Raise :class:`ConfigError` if ``name`` is not a loadable preset."""
    try:
        load_preset(name)
    except UnknownNameError:
        raise
    except TemplateError as exc:
        raise ConfigError(str(exc)) from exc
