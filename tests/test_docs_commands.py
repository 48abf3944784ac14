"""Every ``judge ...`` command shown in README.md and docs/ parses: the command exists, its
options exist and take the values shown, and the benchmark, judge and importer names it
uses are registered. Nothing runs; a newcomer copying a line must not meet a stale option.
"""

from __future__ import annotations

import functools
import itertools
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from judge.cli import app
from judge.errors import UnknownNameError
from judge.registry import benchmarks, importers, judges, perturbations

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`(judge [^`]+)`")


def shown_commands() -> Iterator[tuple[str, list[str], bool]]:
    """``(where, argv, whole)`` of each ``judge`` command line in a fenced block
    (``whole``: a command to copy and run) and of each inline code span that starts with
    ``judge`` (a mention such as ``judge report --out``: its options must exist)."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            first = text[: block.start()].count("\n") + 2
            lines = block.group(1).replace("\\\n", " ").splitlines()
            index = 0
            while index < len(lines):
                line = lines[index].strip().removeprefix("$ ")
                where = f"{page.name}:{first + index}"
                index += 1
                if not line.startswith("judge "):
                    continue
                while True:  # a quoted value may span lines (a JSON list)
                    try:
                        argv = shlex.split(line.split(" | ")[0], comments=True)
                        break
                    except ValueError:
                        line += "\n" + lines[index]
                        index += 1
                yield where, argv[1:], True
        prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for span in INLINE.finditer(prose):
            where = f"{page.name}:{text[: span.start()].count(chr(10)) + 1}"
            yield where, shlex.split(span.group(1))[1:], False


COMMANDS = list(shown_commands())
NAMED = {
    ("run", "-b"): benchmarks,
    ("run", "--benchmark"): benchmarks,
    ("run", "-j"): judges,
    ("run", "--judge"): judges,
    ("probe", "-b"): benchmarks,
    ("probe", "-j"): judges,
    ("probe", "-p"): perturbations,
    ("render", "-b"): benchmarks,
    ("render", "-j"): judges,
    ("import", "-b"): benchmarks,
}


@functools.cache
def _cli() -> Any:
    return typer.main.get_command(app)


def _parse(argv: list[str]) -> Any:
    """The innermost command's context, after parsing ``argv`` as the CLI would (typer's
    own vendored click: its classes and exceptions are not the ``click`` package's)."""
    ctx = _cli().make_context("judge", list(argv))
    rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
    while isinstance(ctx.command, TyperGroup) and rest:
        name, command, args = ctx.command.resolve_command(ctx, rest)
        assert name is not None and command is not None
        ctx = command.make_context(name, args, parent=ctx)
        rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
    return ctx


def test_the_docs_show_commands_and_a_bad_option_is_caught() -> None:
    assert len(COMMANDS) >= 150  # the check below has something to check
    assert _parse(["report", "results/x", "-o", "out"]).info_name == "report"
    with pytest.raises(Exception, match="No such option: --nope"):
        _parse(["run", "--nope"])
    with pytest.raises(AssertionError, match="no option --out-dir in `judge report`"):
        _options(["report", "--out-dir", "x"])


PLACEHOLDERS = {"mybench", "pipe_votes", "yes_no", "my-judge"}
"""Names the docs use for the reader's own plugins, which are not installed here."""


def _options(argv: list[str]) -> None:
    """Each ``-x`` / ``--xx`` of a mention is an option of the command it names."""
    command = _cli()
    words = [a for a in argv if not a.startswith("-")]
    while isinstance(command, TyperGroup) and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name.startswith("-") and name != "-" and name not in known:
            raise AssertionError(f"no option {name} in `judge {command.name}`")


@pytest.mark.parametrize(("where", "argv", "whole"), COMMANDS, ids=[w for w, _, _ in COMMANDS])
def test_each_shown_command_parses_and_names_registered_plugins(
    where: str, argv: list[str], whole: bool
) -> None:
    synopsis = any(a.startswith("[") or a.endswith("...") for a in argv)
    if argv and argv[0] not in _cli().commands:
        return  # prose that starts with the word "judge" (`judge 1-10 -> item 1-5`)
    if not whole or synopsis:  # a mention, or a usage line: its options must exist
        argv = [a.strip("[]") for a in argv]
        try:
            _options(argv)
        except AssertionError as exc:
            pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc}")
        return
    try:
        ctx = _parse(argv)
    except typer.Exit:
        return  # --help, --version
    except Exception as exc:  # typer's vendored click.UsageError and its kind
        if not hasattr(exc, "format_message"):
            raise
        pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc.format_message()}")
    command = ctx.info_name
    names = [(v, NAMED.get((str(command), o))) for o, v in itertools.pairwise(argv)]
    if command == "import" and len(argv) > 1:
        names.append((argv[1], importers))
    for value, registry in names:
        if registry is None or value in PLACEHOLDERS or value.isupper():
            continue  # a placeholder (BENCH), or the reader's own plugin
        if "/" in value or value.endswith(".toml"):
            continue  # a file
        try:
            registry.get(value)
        except UnknownNameError as exc:
            pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc}")
