"""``judge new-judge NAME``: a commented starter preset to edit into your own judge.

It writes ``NAME.toml`` and its two templates beside it; ``judge run -j ./NAME.toml``
then works like any bundled preset (see docs/own-judges.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from judge.errors import ConfigError

_PAIR_TOML = """\
# {name}: a pairwise judge (which of two responses is better).
# Use it with:  judge run -b sample -j {toml} -J backend=openai -J model=...
# Every field is documented in judge/prompts.py (class Preset) and docs/own-judges.md.
description = "My pairwise judge: explanation, then [[A]], [[B]] or [[C]] (tie)."
kind = "pair"                      # "pair" (two responses) or "single" (one, scored)
system = "{name}.system.jinja"     # template paths are relative to this file
user = "{name}.user.jinja"
# Every variable the templates use must be listed. Besides the built-ins
# (instruction, response_a, response_b, reference, input, metadata, item), any
# benchmark column with the same name fills a variable per item (e.g. a "rubric"
# column); -J var.NAME=... sets a run-wide value.
variables = ["instruction", "response_a", "response_b", "rubric"]
# required = ["rubric"]            # an item without these is an error naming the item
parser = "mt_bench_pair"           # reads [[A]] / [[B]] / [[C]]; others: docs/presets.md
# mode = "probs"                   # read the verdict from token probabilities instead:
# choices = {{ A = "A", B = "B", tie = "C" }}
# backend = "openai"               # default backend (-J backend=... overrides)
# layout = "chat"                  # local models: chat | user-only | raw

[params]                           # defaults for -J parameters
max_tokens = 512
temperature = 0.0
"var.rubric" = "Which response follows the instruction better and is more accurate?"
"""

_SINGLE_TOML = """\
# {name}: a single-answer judge (a score for one response).
# Use it with:  judge run -b mt_bench -j {toml} -J backend=openai -J model=...
# Every field is documented in judge/prompts.py (class Preset) and docs/own-judges.md.
description = "My single-answer judge: explanation, then Rating: [[N]] on 1-10."
kind = "single"
system = "{name}.system.jinja"     # template paths are relative to this file
user = "{name}.user.jinja"
# Every variable the templates use must be listed. Besides the built-ins
# (instruction, response, reference, input, metadata, item), any benchmark column
# with the same name fills a variable per item (e.g. a "rubric" column).
variables = ["instruction", "response", "rubric"]
# required = ["rubric"]            # an item without these is an error naming the item
parser = "mt_bench_single"         # reads [[N]]; others: docs/presets.md
# mode = "probs"                   # G-Eval style: expected score from token probabilities
# score_choices = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
# backend = "openai"

[params]
max_tokens = 512
temperature = 0.0
"var.rubric" = "Helpfulness, relevance, accuracy and level of detail."
"""

_SYSTEM = """\
You are a careful, impartial judge. Do not let the order or the length of the
responses, or the names of assistants, influence you.
"""

_PAIR_USER = """\
Judge which response answers the question better. Criteria: {{ rubric }}

[Question]
{{ instruction }}

[Response A]
{{ response_a }}

[Response B]
{{ response_b }}

Explain briefly, then give your verdict strictly as "[[A]]" if A is better,
"[[B]]" if B is better, or "[[C]]" for a tie.
"""

_SINGLE_USER = """\
Rate the response to the question on a scale of 1 to 10. Criteria: {{ rubric }}

[Question]
{{ instruction }}

[Response]
{{ response }}

Explain briefly, then give your rating strictly as "Rating: [[N]]", e.g. "Rating: [[5]]".
"""


def write_starter(
    name: str, folder: Path, *, kind: Literal["pair", "single"] = "pair", force: bool = False
) -> list[Path]:
    """Write ``NAME.toml`` and its templates into ``folder``; return the paths written.

    >>> import tempfile
    >>> from judge.prompts import load_preset
    >>> d = Path(tempfile.mkdtemp())
    >>> [p.name for p in write_starter("my-judge", d)]
    ['my-judge.toml', 'my-judge.system.jinja', 'my-judge.user.jinja']
    >>> load_preset(str(d / "my-judge.toml")).parser
    'mt_bench_pair'
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name.endswith(".toml"):
        raise ConfigError(
            f"judge name {name!r}: use letters, digits, '-', '_' or '.' (no .toml, no folder)"
        )
    if kind not in ("pair", "single"):
        raise ConfigError(f"--kind must be pair or single, not {kind!r}")
    toml = folder / f"{name}.toml"
    files = {
        toml: (_PAIR_TOML if kind == "pair" else _SINGLE_TOML).format(
            name=name, toml=f"./{toml.name}"
        ),
        folder / f"{name}.system.jinja": _SYSTEM,
        folder / f"{name}.user.jinja": _PAIR_USER if kind == "pair" else _SINGLE_USER,
    }
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]} exists; pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)
