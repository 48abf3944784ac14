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
    layout = "chat"                # or "user-only" or "raw" (how a local model receives it)
    fold = "\n\n"                  # user-only / raw: text between system and user message
    wrapper = "[INST] {prompt} [/INST]"  # raw only: the plain string around the prompt
    bos = true                     # start with the model's BOS token (unset: its default)
    [params]                       # default generation parameters
    max_tokens = 512

Chat roles are separate template files, never text markers inside one file. Templates
are Jinja2 rendered with ``StrictUndefined`` (a missing variable is an error), and the
variables they use must be declared. A preset is identified by the hash of its files.

The *layout* says how the rendered messages reach a local model, as its upstream
inference code sends them: ``chat`` (system and user roles through the model's chat
template), ``user-only`` (the system text folded into the single user turn, then the
chat template: Mistral-style templates reject a system role) or ``raw`` (one plain
string, never a chat template, inside ``wrapper`` where upstream wraps it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import entry_points
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import jinja2
import jinja2.meta
from pydantic import Field, JsonValue, ValidationError, model_validator

from judge.errors import (
    ConfigError,
    TemplateError,
    UnknownNameError,
    did_you_mean,
    validation_text,
)
from judge.hashing import sha256_json
from judge.records import Message, Record, Verdict

DEFAULT_CRITERION_SCALE: tuple[float, float] = (1, 5)
"""The score range of a criterion when a multi-criterion preset declares no ``scale``."""

Layout = Literal["chat", "user-only", "raw"]
"""How a preset's messages reach a local model (see the module docstring)."""


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
    scale: tuple[float, float] | None = None
    """Single-answer presets: the lowest and highest score the judge gives (reports put
    its scores on the item's scale before leniency and kappa)."""
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
    layout: Layout = "chat"
    """How the messages reach a local model: ``chat`` (system and user roles through
    the model's chat template), ``user-only`` (the system text folded into the user
    turn, then the chat template) or ``raw`` (one plain string, no chat template)."""
    fold: str = "\n\n"
    """``user-only`` and ``raw``: the text between the system and the user message."""
    wrapper: str | None = None
    """``raw`` only: the plain string around the prompt, ``{prompt}`` marking where it
    goes, where upstream wraps it (``[INST] {prompt} [/INST]``)."""
    bos: bool | None = None
    """Whether the model's tokens start with its BOS token, as upstream sends them:
    ``true`` exactly one (added unless a chat template wrote it), ``false`` none,
    unset the model's default."""
    criteria: tuple[str, ...] = ()
    """Named criteria scored in one call (single-answer presets): the judge asks for a JSON
    object ``{criterion: score}`` (a JSON schema where the backend takes one) and stores
    each score (``Judgment.criteria``); ``score`` is their mean."""
    root: str | None = None
    """Folder the template paths are relative to, for a preset loaded from a file
    (``-j ./my-judge.toml``) or a plugin; ``None``: the bundled ``prompts/``. Not part
    of the preset's hash (moving a file does not change the judge)."""
    file: str | None = None
    """The TOML file it was read from (absolute for a user's file), for a preset file or
    a plugin's; ``None`` for a bundled one. Not part of the hash, as ``root``."""

    @model_validator(mode="after")
    def _criteria_fields(self) -> Preset:
        if self.criteria and self.kind != "single":
            raise ValueError("criteria apply to single-answer presets (kind = 'single')")
        if len(set(self.criteria)) != len(self.criteria):
            raise ValueError("criteria must be distinct")
        if self.scale is not None and self.scale[0] >= self.scale[1]:
            raise ValueError("scale must be (lowest, highest) with lowest < highest")
        return self

    @model_validator(mode="after")
    def _layout_fields(self) -> Preset:
        if self.wrapper is not None:
            if self.layout != "raw":
                raise ValueError("wrapper applies to layout 'raw' only")
            if self.wrapper.count("{prompt}") != 1:
                raise ValueError("wrapper must contain '{prompt}' exactly once")
        return self


def prompts_root() -> Traversable:
    """The installed ``prompts/`` folder."""
    return files("judge_prompts")


PRESET_GROUP = "judge_harness.presets"
"""Entry-point group of plugin presets: the entry point's name is the preset name, its
value a package holding ``<name>.toml`` (``"my_pkg.judges"``) or a ``module:attr`` whose
value is the path of the TOML file."""


def is_preset_path(name: str) -> bool:
    """Whether a judge name names a preset file (``./my-judge.toml``) rather than a preset.

    >>> is_preset_path("./my-judge.toml"), is_preset_path("mt-bench-pair")
    (True, False)
    """
    return name.endswith(".toml")


def _bundled() -> dict[str, Traversable]:
    root = prompts_root()
    return {
        p.name[: -len(".toml")]: p
        for p in root.iterdir()
        if p.is_file() and p.name.endswith(".toml")
    }


@cache
def plugin_presets() -> dict[str, tuple[Path, str]]:
    """Presets from installed plugins: name -> (TOML path, ``entry point (<dist>)``)."""
    out: dict[str, tuple[Path, str]] = {}
    bundled = _bundled()
    for ep in entry_points(group=PRESET_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        where = f"entry point ({dist})"
        if ep.name in bundled or ep.name in out:
            raise ConfigError(
                f"preset {ep.name!r} from {where} collides with "
                f"{'a bundled preset' if ep.name in bundled else out[ep.name][1]}"
            )
        try:
            found = ep.load()
        except Exception as exc:  # a broken plugin: say which, never a traceback
            raise ConfigError(f"preset {ep.name!r} from {where}: cannot load: {exc}") from exc
        if isinstance(found, ModuleType):
            if found.__file__ is None:
                raise ConfigError(f"preset {ep.name!r} from {where}: not a regular package")
            path = Path(found.__file__).parent / f"{ep.name}.toml"
        else:
            path = Path(str(found))
        out[ep.name] = (path, where)
    return out


def list_presets() -> list[str]:
    """Names of every preset: the files in ``prompts/`` and the plugins' presets."""
    return sorted({*_bundled(), *plugin_presets()})


def _node(path: str, root: str | None) -> Traversable:
    node: Traversable = prompts_root() if root is None else Path(root)
    for part in path.split("/"):
        node = node / part
    return node


@cache
def _read(path: str, root: str | None = None) -> str:
    node = _node(path, root)
    if not node.is_file():
        where = "prompts" if root is None else root
        raise TemplateError(f"template file {where}/{path} does not exist")
    return node.read_text(encoding="utf-8")


@cache
def load_preset(name: str) -> Preset:
    """Load and validate a preset and check its templates.

    ``name`` is a bundled preset (``prompts/<name>.toml``), a plugin's preset, or the
    path of a TOML file in the same format (its templates beside it).
    """
    if is_preset_path(name):
        file = Path(name).expanduser()
        if not file.is_file():
            raise ConfigError(f"preset file {name} does not exist")
        shown, root, source = str(file), str(file.resolve().parent), str(file.resolve())
        preset_name = file.stem
        text = file.read_text(encoding="utf-8")
    elif name in (plugins := plugin_presets()):
        file, _ = plugins[name]
        if not file.is_file():
            raise ConfigError(f"preset {name!r}: plugin file {file} does not exist")
        shown, root, preset_name, source = str(file), str(file.parent), name, str(file)
        text = file.read_text(encoding="utf-8")
    else:
        names = list_presets()
        if name not in names:
            raise UnknownNameError(f"unknown preset {name!r}{did_you_mean(name, names)}")
        shown, root, preset_name, source = f"prompts/{name}.toml", None, name, None
        text = _read(f"{name}.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{shown}: {exc}") from exc
    if {"name", "root", "file"} & set(data):
        raise TemplateError(f"{shown}: 'name', 'root' and 'file' are not preset fields")
    try:
        preset = Preset(name=preset_name, root=root, file=source, **data)
    except ValidationError as exc:
        raise TemplateError(f"{shown}: {validation_text(exc)}") from exc
    try:
        templates = template_texts(preset)
    except TemplateError as exc:
        raise TemplateError(f"{shown}: {exc}") from exc
    for role, template in templates.items():
        file_name = preset.user if role == "user" else preset.system
        try:
            parsed = _ENV.parse(template)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{shown}: {file_name} line {exc.lineno}: {exc.message}") from exc
        used = jinja2.meta.find_undeclared_variables(parsed)
        undeclared = used - set(preset.variables)
        if undeclared:
            raise TemplateError(
                f"{shown}: {file_name} uses undeclared variables {sorted(undeclared)}"
            )
    return preset


def template_texts(preset: Preset) -> dict[str, str]:
    """Role -> template text of a preset."""
    out = {"user": _read(preset.user, preset.root)}
    if preset.system:
        out["system"] = _read(preset.system, preset.root)
    return out


# Fields added after presets were first hashed: left out of the hash at their default,
# so a preset that does not use them keeps its hash (and its runs stay resumable).
_LATER_FIELDS: dict[str, Any] = {
    "layout": "chat",
    "fold": "\n\n",
    "wrapper": None,
    "bos": None,
    "scale": None,
    "criteria": [],
}


def preset_hash(preset: Preset) -> str:
    """Content hash of a preset: its declaration and its template texts."""
    declared = preset.model_dump(mode="json")
    declared.pop("root")  # where the files lie is not what they say
    declared.pop("file")
    for field, default in _LATER_FIELDS.items():
        if declared.get(field) == default:
            declared.pop(field)
    payload = {"preset": declared, "templates": template_texts(preset)}
    return sha256_json(payload)


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
    autoescape=False,  # prompts are plain text, not HTML
)


@cache
def _compile(text: str) -> jinja2.Template:
    template = _ENV.from_string(text)
    # Jinja keeps a template's globals as a ChainMap over the environment's, and copies
    # them into every render's context: a flat dict (same names, ours never change)
    # made a render about 40% cheaper, the largest client cost of an HTTP judgment.
    template.globals = dict(template.globals)
    return template


def render(
    preset: Preset, variables: Mapping[str, Any], *, layout: Layout | None = None
) -> tuple[Message, ...]:
    """Render a preset's templates into chat messages; a missing variable raises.

    With a ``user-only`` or ``raw`` layout (the preset's, or ``layout``) the system
    text is folded into the one user message (:func:`fold_system`).

    >>> p = load_preset("smollm2")
    >>> msgs = render(p, {"instruction": "2+2?", "response_a": "4", "response_b": "5"})
    >>> msgs[-1].role, "2+2?" in msgs[-1].content
    ('user', True)
    >>> [m.role for m in render(p, {"instruction": "?", "response_a": "4", "response_b": "5"},
    ...                          layout="user-only")]
    ['user']
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
    if (layout or preset.layout) == "chat":
        return tuple(messages)
    return fold_system(messages, preset.fold)


def fold_system(messages: Sequence[Message], fold: str) -> tuple[Message, ...]:
    """Fold a leading system message into the user message after it, joined by ``fold``.

    >>> msgs = [Message(role="system", content="Be fair."), Message(role="user", content="Q")]
    >>> fold_system(msgs, "\\n")
    (Message(role='user', content='Be fair.\\nQ'),)
    """
    if len(messages) < 2 or messages[0].role != "system":
        return tuple(messages)
    system, user, *rest = messages
    folded = Message(role=user.role, content=system.content + fold + user.content)
    return (folded, *rest)


def check_preset_name(name: str) -> None:
    """Raise :class:`ConfigError` if ``name`` is not a loadable preset."""
    try:
        load_preset(name)
    except UnknownNameError:
        raise
    except TemplateError as exc:
        raise ConfigError(str(exc)) from exc
