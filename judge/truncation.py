"""Fitting a judge prompt into the model's context window.

Policy: when the rendered prompt plus the tokens to generate exceed the backend's
context window, the *responses* are trimmed from the middle (their head and tail are
kept, with a marker saying how many tokens were cut); the instruction, the reference
and the template text are never cut. The longest response is trimmed first, down to
the length of the next one, then both together, and so on ("water filling"), so a
short response is only touched when the long one alone cannot make room.

The judge records the trim by setting :attr:`CompletionRequest.max_prompt_tokens` to
the budget it trimmed to (it is ``None`` on requests that fit untouched); the judgment
then has ``truncated=True``. A prompt that cannot fit even with empty responses is sent
trimmed as far as possible, and the backend reports the error; the first such prompt of a
backend is logged as a warning (for a backend without a tokenizer, such as an API, the
prompt's size is estimated at four characters a token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from judge.backends.base import CompletionRequest, PromptLayout
from judge.prompts import Layout, render

if TYPE_CHECKING:
    from judge.backends.base import Backend
    from judge.prompts import Preset
    from judge.records import Message

TokenCounter = Callable[[str], int]

MARKER = "\n[... {n} tokens trimmed ...]\n"

log = logging.getLogger(__name__)


def trim_middle(text: str, keep_tokens: int, count: TokenCounter) -> str:
    """Keep about ``keep_tokens`` tokens of ``text``: its head and tail, a marker between.

    >>> words = lambda s: len(s.split())
    >>> trim_middle("one two three four five six seven eight", 4, words)
    'one two\\n[... 5 tokens trimmed ...]\\neight'
    >>> trim_middle("short text", 4, words)
    'short text'
    """
    total = count(text)
    if total <= keep_tokens:
        return text
    chars_per_token = len(text) / max(total, 1)
    half = max(0, int(keep_tokens * chars_per_token / 2))
    head = text[:half]
    tail = text[len(text) - half :] if half else ""
    # cut at whitespace where there is some nearby, so words are not split
    if half and " " in head:
        head = head[: head.rfind(" ")] if not text[half : half + 1].isspace() else head
    if half and " " in tail:
        tail = tail[tail.find(" ") + 1 :] if not text[-half - 1 : -half].isspace() else tail
    middle = text[len(head) : len(text) - len(tail)]
    return head.rstrip() + MARKER.format(n=count(middle)) + tail.lstrip()


def water_level(lengths: Sequence[int], excess: int) -> int:
    """The largest cap c with ``sum(max(0, L - c)) >= excess`` (0 if none).

    >>> water_level([100, 40], 30)   # the long one alone gives 30
    70
    >>> water_level([100, 40], 80)   # both go down to 30
    30
    >>> water_level([10, 5], 50)
    0
    """
    if excess <= 0:
        return max(lengths, default=0)
    low, high = 0, max(lengths, default=0)
    while low < high:  # binary search on the cap
        mid = (low + high + 1) // 2
        if sum(max(0, length - mid) for length in lengths) >= excess:
            low = mid
        else:
            high = mid - 1
    return low


def fit_responses(
    variables: Mapping[str, Any],
    fields: Sequence[str],
    *,
    prompt_tokens: Callable[[Mapping[str, Any]], int],
    count: TokenCounter,
    budget: int,
    attempts: int = 6,
) -> tuple[dict[str, Any], bool]:
    """Trim ``variables[field]`` for each field until ``prompt_tokens(variables) <= budget``.

    Returns the (possibly) trimmed variables and whether anything was trimmed.

    >>> words = lambda s: len(s.split())
    >>> render = lambda v: words(v["instruction"]) + words(v["a"]) + words(v["b"])
    >>> v = {"instruction": "pick one", "a": " ".join(["x"] * 50), "b": "short answer"}
    >>> out, trimmed = fit_responses(v, ["a", "b"], prompt_tokens=render, count=words, budget=30)
    >>> trimmed, render(out) <= 30, out["b"], out["instruction"]
    (True, True, 'short answer', 'pick one')
    >>> fit_responses(v, ["a", "b"], prompt_tokens=render, count=words, budget=100)[1]
    False
    """
    current = dict(variables)
    total = prompt_tokens(current)
    if total <= budget:
        return current, False
    lengths = [count(str(variables[f])) for f in fields]
    need = total - budget
    for _ in range(attempts):
        cap = water_level(lengths, need)
        current = dict(variables)
        for field, length in zip(fields, lengths, strict=True):
            if length > cap:
                current[field] = trim_middle(str(variables[field]), cap, count)
        total = prompt_tokens(current)
        if total <= budget or cap == 0:
            break
        need += total - budget  # markers and token boundaries cost a little: ask for more
    return current, True


def response_fields(kind: str) -> tuple[str, ...]:
    """The template variables holding candidate responses for a preset kind.

    >>> response_fields("pair"), response_fields("single")
    (('response_a', 'response_b'), ('response',))
    """
    return ("response_a", "response_b") if kind == "pair" else ("response",)


# Chat-template tokens per message, where the backend cannot format the prompt itself.
_PER_MESSAGE = 8
_PER_PROMPT = 16


def fit_to_window(
    preset: Preset,
    variables: Mapping[str, Any],
    backend: Backend,
    max_tokens: int,
    *,
    layout: Layout | None = None,
    prompt_layout: PromptLayout | None = None,
) -> tuple[tuple[Message, ...], int | None]:
    """Render ``preset`` with ``variables``, trimming responses to fit ``backend``'s window.

    ``layout`` overrides the preset's; ``prompt_layout`` is what the request will carry,
    so local backends count the prompt exactly as they will send it.
    Returns the messages and the prompt budget they were trimmed to, or ``None`` when
    nothing was trimmed (the prompt fits, or the backend's window or tokenizer is unknown).
    """
    messages = render(preset, variables, layout=layout)
    window = backend.context_window
    if window is None:
        return messages, None

    def prompt_tokens(values: Mapping[str, Any]) -> int:
        rendered = render(preset, values, layout=layout)
        return count_prompt_tokens(backend, rendered, prompt_layout) or 0

    first = count_prompt_tokens(backend, messages, prompt_layout)
    budget = window - max_tokens
    if first is None:  # no tokenizer: nothing to trim with, but say when it cannot fit
        estimate = sum(len(m.content) for m in messages) // 4
        if estimate > budget:
            _warn_over_window(backend, estimate, window, estimated=True)
        return messages, None
    if first <= budget or budget <= 0:
        if first > budget:
            _warn_over_window(backend, first, window)
        return messages, None

    def count(text: str) -> int:
        return backend.count_tokens(text) or 0

    fields = [f for f in response_fields(preset.kind) if isinstance(variables.get(f), str)]
    trimmed, changed = fit_responses(
        variables, fields, prompt_tokens=prompt_tokens, count=count, budget=budget
    )
    if not changed:
        return messages, None
    fitted = render(preset, trimmed, layout=layout)
    final = count_prompt_tokens(backend, fitted, prompt_layout) or 0
    if final > budget:
        _warn_over_window(backend, final, window)
    return fitted, budget


def _warn_over_window(
    backend: Backend, tokens: int, window: int, *, estimated: bool = False
) -> None:
    """Log the first prompt of ``backend`` that does not fit its window (the rest at debug)."""
    first = not getattr(backend, "_warned_over_window", False)
    backend._warned_over_window = True  # type: ignore[attr-defined]
    log.log(
        logging.WARNING if first else logging.DEBUG,
        "a prompt of %s%d tokens does not fit the %d-token context window of %s %r even with "
        "its responses trimmed; it is sent as it is and the backend will probably refuse it%s",
        "about " if estimated else "",
        tokens,
        window,
        backend.name,
        backend.model,
        " (set -J context_window=N if the model's window is larger)" if estimated else "",
    )


def count_prompt_tokens(
    backend: Backend, messages: Sequence[Message], layout: PromptLayout | None = None
) -> int | None:
    """Tokens of ``messages`` as the backend's model sees them, where it can count them.

    Backends with a ``prompt_token_ids(request)`` method (the local ones) are counted
    exactly on the token ids they send, BOS included; others by message contents plus
    a margin for the template. ``None`` when the backend has no tokenizer.
    """
    counter = getattr(backend, "prompt_token_ids", None)
    if callable(counter):
        return len(counter(CompletionRequest(messages=tuple(messages), layout=layout)))
    formatter = getattr(backend, "format_prompt", None)
    if callable(formatter):
        text = formatter(CompletionRequest(messages=tuple(messages), layout=layout))
        return backend.count_tokens(str(text))
    counts = [backend.count_tokens(m.content) for m in messages]
    if any(c is None for c in counts):
        return None
    return sum(c or 0 for c in counts) + _PER_MESSAGE * len(messages) + _PER_PROMPT
