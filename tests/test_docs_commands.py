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

import click
import pytest
import typer

from judge.cli import app
from judge.errors import UnknownNameError
from judge.registry import benchmarks, importers, judges, perturbations

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`(judge [^`]+)`")


def shown_commands() -> Iterator[tuple[str, list[str]]]:
    """``(where, argv)`` of each ``judge`` command line in a fenced block, and of each
    inline code span that starts with ``judge``."""
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
                yield where, argv[1:]
        prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for span in INLINE.finditer(prose):
            where = f"{page.name}:{text[: span.start()].count(chr(10)) + 1}"
            yield where, shlex.split(span.group(1))[1:]


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
def _cli() -> click.Command:
    return typer.main.get_command(app)


def _parse(argv: list[str]) -> click.Context:
    """The innermost command's context, after parsing ``argv`` as the CLI would."""
    ctx = _cli().make_context("judge", list(argv))
    rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
    while isinstance(ctx.command, click.Group) and rest:
        name, command, args = ctx.command.resolve_command(ctx, rest)
        assert name is not None and command is not None
        ctx = command.make_context(name, args, parent=ctx)
        rest = list(getattr(ctx, "_protected_args", [])) + list(ctx.args)
    return ctx


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 150  # the check below has something to check


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_each_shown_command_parses_and_names_registered_plugins(
    where: str, argv: list[str]
) -> None:
    try:
        ctx = _parse(argv)
    except click.exceptions.Exit:
        return  # --help, --version
    except click.ClickException as exc:
        pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc.format_message()}")
    command = ctx.info_name
    for option, value in itertools.pairwise(argv):
        registry = NAMED.get((str(command), option))
        if registry is None or "<" in value or "/" in value or value.endswith(".toml"):
            continue  # a placeholder or a file
        try:
            registry.get(value)
        except UnknownNameError as exc:
            pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc}")
    if command == "import" and argv[1:] and "<" not in argv[1]:
        try:
            importers.get(argv[1])
        except UnknownNameError as exc:
            pytest.fail(f"{where}: judge {shlex.join(argv)}: {exc}")
