"""Reply parsers: judge reply text -> verdict (in *presented* order) or score, or None.

Each parser is a pure function ``(text) -> ParsedReply | None`` with doctests. ``None``
means the reply holds no verdict: the judgment becomes ``unparsed`` with its raw text,
never a tie or a loss. Parsers work in presented order ("A" = the response shown
first); the judge maps the result to canonical order.

Quoted verdicts. A judge may quote a candidate answer that itself contains a verdict
marker (an answer that ends in "[[B]]", say). Two rules keep such a quote from being
read as the judge's own verdict:

1. Formats whose verdict comes *after* the judge's explanation take the **last**
   marker (MT-Bench, Prometheus, Auto-J, Selene, AlpacaEval); Arena-Hard, like its
   upstream parser, refuses a reply with two different verdict labels. Formats whose
   verdict is the **first line** (PandaLM, JudgeLM, OffsetBias, ``letter``) read only
   that line, which a quote further down cannot reach.
2. Before parsing, the judge removes verbatim copies of the candidate responses (and
   of their longer lines) from the reply with :func:`remove_quoted`, so a quote at the
   very end of a reply cannot win either.

Each format's source is recorded in its preset (``prompts/*.toml``, ``source``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from typing import cast

from judge.records import Record, Verdict


class ParsedReply(Record):
    """What a parser read from a reply."""

    verdict: Verdict | None = None
    """Pairwise verdict, presented order."""
    score: float | None = None
    """Single-answer score."""
    scores: tuple[float, float] | None = None
    """Scores of the first and second shown response (JudgeLM-style), presented order."""
    reason: str | None = None
    """The judge's explanation, where the format separates it."""
    criteria: dict[str, float] | None = None
    """Named criterion -> score, for multi-criterion presets."""


Parser = Callable[[str], ParsedReply | None]

_ABC: dict[str, Verdict] = {"A": "A", "B": "B", "C": "tie"}

# -- quoted candidate answers -------------------------------------------------------------

QUOTE_PLACEHOLDER = "[quoted response]"


def remove_quoted(text: str, responses: Iterable[str], *, min_chars: int = 12) -> str:
    """Remove verbatim copies of candidate responses (and of their lines) from a reply.

    Every response, and every line of a response, that is at least ``min_chars``
    characters long once stripped is replaced by ``[quoted response]`` wherever it
    appears in ``text``, longest first. Shorter pieces are left alone: removing a
    one-word answer such as ``"B"`` would also remove the judge's own words.

    >>> reply = "Response 1 says: 'The answer is X. [[B]]'. It is wrong. [[A]]"
    >>> remove_quoted(reply, ["The answer is X. [[B]]", "Y"])
    "Response 1 says: '[quoted response]'. It is wrong. [[A]]"
    >>> remove_quoted("[[A]]", ["[[A]]"])  # too short to be told from the verdict itself
    '[[A]]'
    """
    pieces: set[str] = set()
    for response in responses:
        candidates = [response, *response.splitlines()]
        pieces.update(c.strip() for c in candidates if len(c.strip()) >= min_chars)
    for piece in sorted(pieces, key=len, reverse=True):
        if piece in text:
            text = text.replace(piece, QUOTE_PLACEHOLDER)
    return text


# -- parsers ------------------------------------------------------------------------------

_LETTER = re.compile(r"^[^A-Za-z0-9]*\(?([ABC])\)?(?![A-Za-z0-9])")


def letter(text: str) -> ParsedReply | None:
    """A reply that starts with the letter A, B or C (C = tie).

    >>> letter("A").verdict, letter(" B.").verdict, letter("C").verdict
    ('A', 'B', 'tie')
    >>> letter("Both are fine") is None
    True
    """
    match = _LETTER.match(text.strip())
    if not match:
        return None
    return ParsedReply(verdict=_ABC[match.group(1)])


_MT_PAIR = re.compile(r"\[\[([ABC])\]\]")


def mt_bench_pair(text: str) -> ParsedReply | None:
    """MT-Bench pairwise (FastChat ``pair-v2``): the last ``[[A]]``, ``[[B]]`` or ``[[C]]``.

    >>> mt_bench_pair("Assistant B is more accurate. [[B]]").verdict
    'B'
    >>> mt_bench_pair("A quotes '[[A]]' but overall they are equal. [[C]]").verdict
    'tie'
    >>> mt_bench_pair("I prefer A.") is None
    True
    """
    found = _MT_PAIR.findall(text)
    if not found:
        return None
    return ParsedReply(verdict=_ABC[found[-1]], reason=_before(text, "[[" + found[-1] + "]]"))


_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
_RATING_BACKUP = re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*\]")


def mt_bench_single(text: str) -> ParsedReply | None:
    """MT-Bench single-answer grading: the last ``[[rating]]`` on the 1-10 scale.

    FastChat falls back to a single-bracket ``[rating]``; so do we. A rating outside
    1-10 is no verdict.

    >>> mt_bench_single("Helpful and correct. Rating: [[8]]").score
    8.0
    >>> mt_bench_single("Rating: [7.5]").score
    7.5
    >>> mt_bench_single("Rating: [[11]]") is None, mt_bench_single("Good answer.") is None
    (True, True)
    """
    return _last_score(_RATING.findall(text) or _RATING_BACKUP.findall(text), 1, 10)


def auto_j_single(text: str) -> ParsedReply | None:
    """Auto-J single-response rating: the last ``Rating: [[N]]`` (1-10).

    >>> auto_j_single("The response is accurate but terse.\\n\\nRating: [[6]]").score
    6.0
    >>> auto_j_single("Rating: 6") is None
    True
    """
    return _last_score(re.findall(r"Rating:\s*\[\[\s*(\d+(?:\.\d+)?)\s*\]\]", text), 1, 10)


_AUTO_J = re.compile(r"final decision is\s*:?\s*\**\s*(response\s*1|response\s*2|tie)", re.I)


def auto_j_pair(text: str) -> ParsedReply | None:
    """Auto-J pairwise: the last "So, the final decision is Response 1 / Response 2 / Tie".

    >>> auto_j_pair("...2 misses the point.\\n\\nSo, the final decision is Response 1.").verdict
    'A'
    >>> auto_j_pair("So, the final decision is Tie").verdict
    'tie'
    >>> auto_j_pair("Response 1 is better.") is None
    True
    """
    found = _AUTO_J.findall(text)
    if not found:
        return None
    last = re.sub(r"\s+", "", found[-1].lower())
    verdict: Verdict = "A" if last == "response1" else "B" if last == "response2" else "tie"
    return ParsedReply(verdict=verdict, reason=text[: text.lower().rfind("final decision")].strip())


def pandalm(text: str) -> ParsedReply | None:
    """PandaLM: a first line ``1``, ``2`` or ``Tie``, then ``### Reason:``, ``### Reference:``.

    Upstream maps an unreadable first line to a tie; here it is no verdict.

    >>> r = pandalm("2\\n\\n### Reason: Response 2 is concise.\\n\\n### Reference: Hi.\\n")
    >>> r.verdict, r.reason
    ('B', 'Response 2 is concise.')
    >>> pandalm("Tie\\n\\n### Reason: Both fine.").verdict
    'tie'
    >>> pandalm("garbage") is None
    True
    """
    lines = text.strip().splitlines()
    if not lines:
        return None
    first = lines[0].strip().rstrip(".").strip().lower()
    verdict = _PANDALM.get(first)
    if verdict is None:
        return None
    reason = re.search(r"###\s*Reason:[ \t]*(.*?)\s*(?:###\s*Reference:|\Z)", text, re.S)
    return ParsedReply(
        verdict=verdict, reason=(reason.group(1).strip() or None) if reason else None
    )


_PANDALM: dict[str, Verdict] = {"1": "A", "2": "B", "tie": "tie"}

_NUMBER = r"[-+]?\d+(?:\.\d+)?"


def judgelm(text: str) -> ParsedReply | None:
    """JudgeLM: the first line holds two scores (1-10), "8 6" or "8, 6"; an explanation follows.

    The verdict is the higher score (equal scores: tie), as upstream with T = 0.

    >>> r = judgelm("8 6\\nAssistant 1 gave a more detailed answer.")
    >>> r.scores, r.verdict
    ((8.0, 6.0), 'A')
    >>> judgelm("7, 7\\nBoth equally good.").verdict
    'tie'
    >>> judgelm("Assistant 1 is better") is None
    True
    """
    lines = text.strip().splitlines()
    if not lines:
        return None
    parts = lines[0].replace(",", " ").split()
    if len(parts) != 2 or not all(re.fullmatch(_NUMBER, p) for p in parts):
        return None
    first, second = float(parts[0]), float(parts[1])
    verdict: Verdict = "A" if first > second else "B" if second > first else "tie"
    return ParsedReply(
        verdict=verdict, scores=(first, second), reason="\n".join(lines[1:]).strip() or None
    )


_PROM_ABS = re.compile(r"\[RESULT\]\s*:?\s*[\(\[]?\s*(\d+)(?:\s*/\s*5|\s*out\s*of\s*5)?", re.I)


def prometheus_absolute(text: str) -> ParsedReply | None:
    """Prometheus 2 absolute grading: "(feedback) [RESULT] N" with N in 1-5; the last one.

    >>> r = prometheus_absolute("Feedback: Clear and correct. [RESULT] 4")
    >>> r.score, r.reason
    (4.0, 'Feedback: Clear and correct.')
    >>> prometheus_absolute("The response ... [RESULT] (5)").score
    5.0
    >>> prometheus_absolute("[RESULT] 7") is None, prometheus_absolute("Score: good") is None
    (True, True)
    """
    found = list(_PROM_ABS.finditer(text))
    if not found:
        return None
    last = found[-1]
    score = int(last.group(1))
    if not 1 <= score <= 5:
        return None
    return ParsedReply(score=float(score), reason=text[: last.start()].strip() or None)


_PROM_REL = re.compile(r"\[RESULT\]\s*:?\s*[\(\[]?\s*(?:Response\s+)?([AB])\b", re.I)


def prometheus_relative(text: str) -> ParsedReply | None:
    """Prometheus 2 relative grading: "(feedback) [RESULT] A" or "B"; the last one.

    >>> prometheus_relative("Response B follows the rubric better. [RESULT] B").verdict
    'B'
    >>> prometheus_relative("... [RESULT] Response A").verdict
    'A'
    >>> prometheus_relative("A is better") is None
    True
    """
    found = list(_PROM_REL.finditer(text))
    if not found:
        return None
    last = found[-1]
    verdict: Verdict = "A" if last.group(1).upper() == "A" else "B"
    return ParsedReply(verdict=verdict, reason=text[: last.start()].strip() or None)


_SELENE = re.compile(r"\**\s*(?i:result)\**\s*:\s*\**\s*([AB]|\d+)\b")


def _selene_result(text: str) -> tuple[str, str] | None:
    found = list(_SELENE.finditer(text))
    if not found:
        return None
    last = found[-1]
    reasoning = re.search(r"\**\s*Reasoning\s*:?\s*\**\s*:?(.*)", text[: last.start()], re.S | re.I)
    reason = (reasoning.group(1) if reasoning else text[: last.start()]).strip()
    return last.group(1), reason


def selene_pair(text: str) -> ParsedReply | None:
    """Selene Mini pairwise: "**Reasoning:** ... **Result:** A" (or B); the last result.

    >>> r = selene_pair("**Reasoning:** B ignores the rubric.\\n\\n**Result:** A")
    >>> r.verdict, r.reason
    ('A', 'B ignores the rubric.')
    >>> selene_pair("**Result:** 4") is None
    True
    """
    found = _selene_result(text)
    if found is None or found[0].upper() not in ("A", "B"):
        return None
    verdict: Verdict = "A" if found[0].upper() == "A" else "B"
    return ParsedReply(verdict=verdict, reason=found[1] or None)


def selene_score(text: str) -> ParsedReply | None:
    """Selene Mini absolute scoring: "**Reasoning:** ... **Result:** N" with N in 1-5.

    >>> selene_score("**Reasoning:** Mostly helpful.\\n\\n**Result:** 4").score
    4.0
    >>> selene_score("**Result:** A") is None, selene_score("**Result:** 9") is None
    (True, True)
    """
    found = _selene_result(text)
    if found is None or not found[0].isdigit() or not 1 <= int(found[0]) <= 5:
        return None
    return ParsedReply(score=float(found[0]), reason=found[1] or None)


_OFFSETBIAS = re.compile(r"(?:^|\n)\s*Output\s*\(([ab])\)", re.I)


def offsetbias(text: str) -> ParsedReply | None:
    """OffsetBias: the reply is "Output (a)" or "Output (b)"; the first such line counts.

    >>> offsetbias("Output (b)").verdict, offsetbias("output (a)\\n").verdict
    ('B', 'A')
    >>> offsetbias("Both outputs are good.") is None
    True
    """
    found = _OFFSETBIAS.search(text)
    if not found:
        return None
    return ParsedReply(verdict="A" if found.group(1).lower() == "a" else "B")


_ARENA = re.compile(r"\[\[([AB<>=]+)\]\]")
_ARENA_LABELS: dict[str, Verdict] = {
    "A>>B": "A",
    "A>B": "A",
    "A=B": "tie",
    "B=A": "tie",
    "B>A": "B",
    "B>>A": "B",
}


def arena_hard(text: str) -> ParsedReply | None:
    """Arena-Hard: "My final verdict is ...: [[A>B]]" (``A>>B A>B A=B B>A B>>A``).

    Like upstream, a reply holding two different labels is no verdict. The strength of
    the label (``>>`` or ``>``) is kept in the raw reply, not in the verdict.

    >>> arena_hard("My final verdict is: Assistant B is significantly better: [[B>>A]]").verdict
    'B'
    >>> arena_hard("My final verdict is tie: [[A=B]]").verdict
    'tie'
    >>> arena_hard("[[A>B]] ... on reflection [[B>A]]") is None
    True
    """
    labels = set(_ARENA.findall(text))
    if len(labels) != 1:
        return None
    label = labels.pop()
    if label not in _ARENA_LABELS:
        return None
    return ParsedReply(verdict=_ARENA_LABELS[label])


_MM = re.compile(r"(?<![A-Za-z0-9])(?<![A-Za-z]')([mM])[\s\"'`*.]*\Z")


def alpaca_eval_mM(text: str) -> ParsedReply | None:
    """AlpacaEval 2 (``weighted_alpaca_eval_gpt4_turbo``): the reply ends with ``m`` or ``M``.

    ``m`` names the first shown output, ``M`` the second. The logprob version reads
    P(m) / (P(m) + P(M)) from one token instead (preset ``mode = "probs"``).

    >>> alpaca_eval_mM("m").verdict, alpaca_eval_mM("### Which is best, m or M?\\nM").verdict
    ('A', 'B')
    >>> alpaca_eval_mM("Model") is None
    True
    """
    found = _MM.search(text.strip())
    if not found:
        return None
    return ParsedReply(verdict="A" if found.group(1) == "m" else "B")


_RANK_ENTRY = re.compile(
    r"""['"]model['"]\s*:\s*['"](model_[12])['"]\s*,\s*['"]rank['"]\s*:\s*['"]?(\d+)""", re.I
)


def alpaca_eval_ranking(text: str) -> ParsedReply | None:
    """AlpacaEval 1 (``alpaca_eval_gpt4``): a Python list ranking ``model_1`` and ``model_2``.

    ``model_1`` is the first shown output; equal ranks are a tie (upstream's 1.5). The last
    complete ranking counts.

    >>> alpaca_eval_ranking("[{'model': 'model_2', 'rank': 1}, {'model': 'model_1', 'rank': 2}]")
    ParsedReply(verdict='B', score=None, scores=None, reason=None, criteria=None)
    >>> alpaca_eval_ranking("[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]")
    ParsedReply(verdict='A', score=None, scores=None, reason=None, criteria=None)
    >>> alpaca_eval_ranking("model_1 is better") is None
    True
    """
    ranks: dict[str, int] = {}
    for block in reversed(re.findall(r"\[[^\[\]]*\]", text)):
        try:
            value = ast.literal_eval(block)
        except (ValueError, SyntaxError):
            value = None
        entries: dict[str, int]
        if isinstance(value, list):
            entries = {
                str(e["model"]): e["rank"]
                for e in value
                if isinstance(e, dict) and isinstance(e.get("rank"), int) and "model" in e
            }
        else:
            entries = {m: int(r) for m, r in _RANK_ENTRY.findall(block)}
        if {"model_1", "model_2"} <= set(entries):
            ranks = {k: v for k, v in entries.items() if k in ("model_1", "model_2")}
            break
    if not ranks:
        return None
    first, second = ranks["model_1"], ranks["model_2"]
    return ParsedReply(verdict="A" if first < second else "B" if second < first else "tie")


def _last_score(found: list[str], low: float, high: float) -> ParsedReply | None:
    """The last score found, if it is on the scale ``low``-``high``; else no verdict.

    >>> _last_score(["3", "8"], 1, 10).score, _last_score(["11"], 1, 10), _last_score([], 1, 10)
    (8.0, None, None)
    """
    if not found:
        return None
    score = float(found[-1])
    return ParsedReply(score=score) if low <= score <= high else None


def _before(text: str, marker: str) -> str | None:
    head = text[: text.rfind(marker)].strip()
    return head or None


def criteria_json(text: str) -> ParsedReply | None:
    """Criterion scores from the first JSON object in a reply (numbers only); text lines
    ``Name: N`` when there is none.

    >>> criteria_json('{"fluency": 4, "accuracy": 2, "note": "ok"}').criteria
    {'fluency': 4.0, 'accuracy': 2.0}
    >>> criteria_json("Fluency: 5\\nAccuracy: 3/5").criteria
    {'fluency': 5.0, 'accuracy': 3.0}
    >>> criteria_json("no scores") is None
    True
    """
    import json

    start = text.find("{")
    while start != -1:
        try:
            found, _ = json.JSONDecoder().raw_decode(text[start:])
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(found, dict):
            scores = {
                str(k).strip().lower(): float(v)
                for k, v in found.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            return ParsedReply(criteria=scores) if scores else None
        break
    lines = re.findall(r"^\W*([A-Za-z][\w \-]*?)\W*[:=]\s*(\d+(?:\.\d+)?)", text, re.M)
    scores = {name.strip().lower(): float(value) for name, value in lines}
    return ParsedReply(criteria=scores) if scores else None


PARSERS: dict[str, Parser] = {
    "criteria_json": criteria_json,
    "letter": letter,
    "mt_bench_pair": mt_bench_pair,
    "mt_bench_single": mt_bench_single,
    "alpaca_eval_mM": alpaca_eval_mM,
    "alpaca_eval_ranking": alpaca_eval_ranking,
    "judgelm": judgelm,
    "pandalm": pandalm,
    "prometheus_absolute": prometheus_absolute,
    "prometheus_relative": prometheus_relative,
    "auto_j_pair": auto_j_pair,
    "auto_j_single": auto_j_single,
    "selene_pair": selene_pair,
    "selene_score": selene_score,
    "offsetbias": offsetbias,
    "arena_hard": arena_hard,
}


# -- upstream-compatible parsers ------------------------------------------------------------
#
# ``-J parse=upstream`` swaps a preset's parser for the rule its upstream repository
# applies, ties and fallbacks included, so a published figure can be reproduced. Each
# function cites the code it follows; the strict parsers above stay the default.


def mt_bench_pair_upstream(text: str) -> ParsedReply | None:
    """FastChat ``run_judge_pair`` (fastchat/llm_judge/common.py): ``[[A]]`` anywhere wins,
    else ``[[B]]``, else ``[[C]]`` (tie); none is FastChat's ``"error"``.

    >>> mt_bench_pair_upstream("B is better [[B]] ... though [[A]] was tempting").verdict
    'A'
    >>> mt_bench_pair_upstream("[[C]]").verdict, mt_bench_pair_upstream("no marker")
    ('tie', None)
    """
    for marker, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if marker in text:
            return ParsedReply(verdict=cast(Verdict, verdict))
    return None


_FASTCHAT_ONE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_FASTCHAT_ONE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


def mt_bench_single_upstream(text: str) -> ParsedReply | None:
    """FastChat ``run_judge_single``: the *first* ``[[N]]`` (else the first ``[N]``), any
    value; none is FastChat's rating -1 (an error).

    >>> mt_bench_single_upstream("Rating: [[3]] ... corrected Rating: [[8]]").score
    3.0
    >>> mt_bench_single_upstream("[[11]]").score, mt_bench_single_upstream("good")
    (11.0, None)
    """
    match = _FASTCHAT_ONE.search(text) or _FASTCHAT_ONE_BACKUP.search(text)
    if not match:
        return None
    return ParsedReply(score=float(ast.literal_eval(match.group(1))))


def judgelm_upstream(text: str) -> ParsedReply | None:
    """JudgeLM ``parse_score`` + ``translate_score_to_win_list`` (judgelm/llm_judge/common.py):
    the first line, commas as spaces, split on single spaces; anything but exactly two
    numbers scores ``[-1, -1]``, which is a tie. Upstream strips the reply first.

    >>> r = judgelm_upstream("8  6\\nAssistant 1 ...")
    >>> r.scores, r.verdict
    ((-1.0, -1.0), 'tie')
    >>> judgelm_upstream("8,6").scores, judgelm_upstream("8, 6").scores  # ", " is two spaces
    ((8.0, 6.0), (-1.0, -1.0))
    >>> judgelm_upstream("7 9").verdict
    'B'
    """
    parts = text.strip().split("\n")[0].replace(",", " ").split(" ")
    try:
        if len(parts) != 2:
            raise ValueError(parts)
        first, second = float(parts[0]), float(parts[1])
    except ValueError:
        first, second = -1.0, -1.0
    # T = 0.0: a difference above 0 wins (gen_model_judgement.py); NaN compares as a tie
    verdict: Verdict = "A" if first - second > 0 else "B" if second - first > 0 else "tie"
    return ParsedReply(verdict=verdict, scores=(first, second))


def pandalm_upstream(text: str) -> ParsedReply | None:
    """PandaLM ``parse_pandalm_response`` (pandalm/utils/pandalm_inference.py): the first
    line, exactly ``1`` or ``2``; ``tie`` in any case, and anything else, is a tie (0).

    >>> pandalm_upstream("2\\n\\n### Reason: ...").verdict, pandalm_upstream("garbage").verdict
    ('B', 'tie')
    >>> pandalm_upstream("1.").verdict, pandalm_upstream("").verdict
    ('tie', 'tie')
    """
    first = text.strip().split("\n")[0]
    verdict: Verdict = "A" if first == "1" else "B" if first == "2" else "tie"
    return ParsedReply(verdict=verdict)


# prometheus-eval libs/prometheus-eval/prometheus_eval/parser.py, written out as there
_PROM_ABS_UPSTREAM = re.compile(
    r"""
    (?:\[RESULT\]|\[SCORE\]|Score:?|score:?|Result:?|\[Result\]:?|score\s+of)
    \s*(?:\(|\[|\s)*(\d+)
    (?:(?:\)|\]|\s|$)|(?:/\s*5|\s*out\s*of\s*5))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_PROM_REL_UPSTREAM = re.compile(
    r"""
    (?:\[RESULT\]|\[RESULT:\s*|\[Response\s+|\[Result\](?:\s+Response)?|\[Result:\s*
       |(?:^|\n)Result:?\s*)
    \s*(A|B)(?:\]|\s|$)
    """,
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)


def prometheus_absolute_upstream(text: str) -> ParsedReply | None:
    """prometheus-eval ``_parse_output_absolute``: the *first* ``[RESULT] N`` (or
    ``Score: N``, ``score of N`` ...), N in 1-5; an out-of-range first match is no score.

    >>> prometheus_absolute_upstream("[RESULT] 2 on reflection [RESULT] 4").score
    2.0
    >>> prometheus_absolute_upstream("Not a score 1 reply ... [RESULT] 4").score
    1.0
    >>> prometheus_absolute_upstream("[RESULT] 7") is None
    True
    """
    match = _PROM_ABS_UPSTREAM.search(text)
    if not match or not 1 <= int(match.group(1)) <= 5:
        return None
    return ParsedReply(score=float(match.group(1)), reason=text[: match.start()].strip() or None)


def prometheus_relative_upstream(text: str) -> ParsedReply | None:
    """prometheus-eval ``_parse_output_relative``: the *first* ``[RESULT] A`` / ``B`` (also
    ``[Response A]``, ``Result: B`` at a line start ...).

    >>> prometheus_relative_upstream("[RESULT] A ... no, [RESULT] B").verdict
    'A'
    >>> prometheus_relative_upstream("A is better") is None
    True
    """
    match = _PROM_REL_UPSTREAM.search(text)
    if not match:
        return None
    verdict: Verdict = "A" if match.group(1).upper() == "A" else "B"
    return ParsedReply(verdict=verdict, reason=text[: match.start()].strip() or None)


def auto_j_pair_upstream(text: str) -> ParsedReply | None:
    """Auto-J ``extract_pariwise_result`` (codes/usage/example.py): after the last
    ``final decision is `` (with its space), ``response 1`` / ``response 2`` / ``tie``.

    >>> auto_j_pair_upstream("So, the final decision is Response 2.").verdict
    'B'
    >>> auto_j_pair_upstream("the final decision is: Response 1") is None
    True
    """
    cleaned = text.strip()
    pos = cleaned.rfind("final decision is ")
    if pos == -1:
        return None
    rest = cleaned[pos + len("final decision is ") :].strip().lower()
    for start, verdict in (("response 1", "A"), ("response 2", "B"), ("tie", "tie")):
        if rest.startswith(start):
            return ParsedReply(verdict=cast(Verdict, verdict))
    return None


def auto_j_single_upstream(text: str) -> ParsedReply | None:
    """Auto-J ``extract_single_rating``: the number in the last ``Rating: [[...]]``; a reply
    without one scores 0.0, as upstream does.

    >>> auto_j_single_upstream("Rating: [[6]]").score, auto_j_single_upstream("none").score
    (6.0, 0.0)
    """
    if "Rating: [[" not in text:
        return ParsedReply(score=0.0)
    pos = text.rfind("Rating: [[")
    end = text.find("]]", pos)
    try:
        return ParsedReply(score=float(text[pos + len("Rating: [[") : end].strip()))
    except ValueError:  # upstream raises here
        return None


_OFFSETBIAS_UPSTREAM: tuple[tuple[Verdict, re.Pattern[str]], ...] = (
    ("A", re.compile(r"(?:^|\n) ?Output \(a\)")),
    ("B", re.compile(r"(?:^|\n) ?Output \(b\)")),
)


def offsetbias_upstream(text: str) -> ParsedReply | None:
    """OffsetBias ``get_prediction`` (module.py, patterns of prompt/offsetbias.py): the
    ``Output (a)`` pattern is tried first, anywhere at a line start; then ``(b)``.

    >>> offsetbias_upstream("Output (b)\\nOutput (a)").verdict
    'A'
    >>> offsetbias_upstream("output (b)") is None
    True
    """
    cleaned = text.strip()  # VllmModule strips the generated text
    for verdict, pattern in _OFFSETBIAS_UPSTREAM:
        if pattern.search(cleaned):
            return ParsedReply(verdict=verdict)
    return None


UPSTREAM_PARSERS: dict[str, Parser] = {
    "mt_bench_pair": mt_bench_pair_upstream,
    "mt_bench_single": mt_bench_single_upstream,
    "judgelm": judgelm_upstream,
    "pandalm": pandalm_upstream,
    "prometheus_absolute": prometheus_absolute_upstream,
    "prometheus_relative": prometheus_relative_upstream,
    "auto_j_pair": auto_j_pair_upstream,
    "auto_j_single": auto_j_single_upstream,
    "offsetbias": offsetbias_upstream,
    # arena-hard-auto's rule (one distinct label, else none) is already the default
    "arena_hard": arena_hard,
}
"""Parser name -> the upstream repository's own rule, for ``-J parse=upstream``."""


def get_upstream_parser(name: str) -> Parser:
    """The upstream-compatible version of the parser called ``name``."""
    from judge.errors import ConfigError

    get_parser(name)  # an unknown name gets "did you mean"
    if name not in UPSTREAM_PARSERS:
        raise ConfigError(
            f"parser {name!r} has no upstream-compatible mode (its upstream rule is not "
            f"reproduced here); those that have: {', '.join(sorted(UPSTREAM_PARSERS))}"
        )
    return UPSTREAM_PARSERS[name]


PARSER_GROUP = "judge_harness.parsers"
"""Entry-point group of plugin parsers: name -> ``module:function`` taking the reply
text and returning a :class:`ParsedReply` or ``None``."""


def plugin_parsers() -> dict[str, str]:
    """Parsers from installed plugins: name -> ``module:attr``."""
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=PARSER_GROUP)}


def get_parser(name: str) -> Parser:
    """The parser called ``name``: a built-in one, or a plugin's (entry point)."""
    from judge.errors import ConfigError, UnknownNameError, did_you_mean

    if name in PARSERS:
        return PARSERS[name]
    plugins = plugin_parsers()
    if name in plugins:
        from judge.registry import load_target

        try:
            found = load_target(plugins[name])
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"parser {name!r} ({plugins[name]}): cannot load: {exc}") from exc
        if not callable(found):
            raise ConfigError(f"parser {name!r} ({plugins[name]}) is not callable")
        return found  # type: ignore[no-any-return]
    raise UnknownNameError(f"unknown parser {name!r}{did_you_mean(name, [*PARSERS, *plugins])}")
