"""``judge render``: the exact prompt a judge's backend will send for one item.

A fine-tuned judge agrees with humans as published only when it sees its training
format, so the final string (after the preset's layout and the model's chat template)
and, for local models, the token ids are shown in both orders, to be diffed against
the upstream repository's own inference code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import JsonValue

from judge.backends.base import CompletionRequest
from judge.errors import ConfigError
from judge.judges import PromptJudge, Task
from judge.records import Message, PairItem, Record, RunConfig


class RenderedPrompt(Record):
    """One request as the backend will send it."""

    item_id: str
    """The item rendered."""
    swapped: bool
    """Whether the item's responses are shown in swapped order."""
    judge: str
    """The judge (preset) name."""
    backend: str
    """The backend's registry name."""
    layout: str
    """The prompt layout in use: ``chat``, ``user-only`` or ``raw``."""
    bos: bool | None
    """The layout's BOS policy (``None``: the model's default)."""
    messages: tuple[Message, ...]
    """The request's messages (what an HTTP backend sends)."""
    text: str | None = None
    """The exact prompt string a local backend gives its model; ``None`` for HTTP
    backends, which send ``messages`` and let the server format them."""
    token_ids: tuple[int, ...] | None = None
    """The token ids a local model receives, BOS included (with ``tokens=True``)."""
    bos_token_id: int | None = None
    """The model's BOS token id, where known (to read ``token_ids`` against)."""


def render_item(
    judge: str,
    benchmark: str,
    item_id: str,
    *,
    judge_args: dict[str, JsonValue] | None = None,
    benchmark_args: dict[str, JsonValue] | None = None,
    tokens: bool = False,
    orders: Sequence[bool] = (False, True),
) -> list[RenderedPrompt]:
    """Render item ``item_id`` of ``benchmark`` with ``judge``, as its backend sends it.

    Local backends (llama.cpp, transformers, vLLM, lm-eval) load their tokenizer (and
    model) to format the prompt; HTTP backends are never called.
    """
    from judge.benchmark import load_items
    from judge.factory import build_benchmark, build_judge
    from judge.registry import did_you_mean

    config = RunConfig(
        benchmark=benchmark,
        benchmark_args=benchmark_args or {},
        judge=judge,
        judge_args=judge_args or {},
    )
    built = build_judge(config)
    if not isinstance(built, PromptJudge):
        raise ConfigError(
            f"judge {judge!r} is not a preset judge; render one of its members instead"
        )
    items = {item.id: item for item in load_items(build_benchmark(config))}
    if item_id not in items:
        hint = did_you_mean(item_id, items)
        if not hint:
            first = ", ".join(repr(i) for i in list(items)[:3])
            hint = f"; its {len(items)} item ids look like {first}"
        raise ConfigError(f"benchmark {benchmark!r} has no item {item_id!r}{hint}")
    item = items[item_id]
    out = []
    for swapped in orders if isinstance(item, PairItem) else (False,):
        request = built.request(Task(item, swapped=swapped))
        out.append(_rendered(built, item_id, swapped, request, tokens=tokens))
    return out


def _rendered(
    judge: PromptJudge, item_id: str, swapped: bool, request: CompletionRequest, *, tokens: bool
) -> RenderedPrompt:
    backend: Any = judge.backend
    fields: dict[str, Any] = {}
    if callable(getattr(backend, "format_prompt", None)):
        fields["text"] = str(backend.format_prompt(request))
    if tokens and callable(getattr(backend, "prompt_token_ids", None)):
        fields["token_ids"] = tuple(backend.prompt_token_ids(request))
        fields["bos_token_id"] = _bos_id(backend)
    return RenderedPrompt(
        item_id=item_id,
        swapped=swapped,
        judge=judge.name,
        backend=backend.name,
        layout=judge.layout,
        bos=judge.preset.bos,
        messages=request.messages,
        **fields,
    )


def _bos_id(backend: Any) -> int | None:
    llm = getattr(backend, "_llm", None)  # llama.cpp: loaded by prompt_token_ids
    if llm is not None:
        return int(llm.token_bos())
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None:
        lm = getattr(backend, "lm", None)
        tokenizer = getattr(lm, "tokenizer", None)
    bos = getattr(tokenizer, "bos_token_id", None)
    return int(bos) if bos is not None else None


def format_rendered(rendered: Sequence[RenderedPrompt], *, as_json: bool = False) -> str:
    """Rendered prompts as text: each exact string between marker lines, or JSON lines.

    >>> r = RenderedPrompt(item_id="1", swapped=False, judge="pandalm", backend="llamacpp",
    ...                    layout="raw", bos=True, text="### Evaluation:\\n",
    ...                    messages=(Message(role="user", content="### Evaluation:\\n"),),
    ...                    token_ids=(1, 5), bos_token_id=1)
    >>> print(format_rendered([r]))
    === item 1, original order, judge pandalm, backend llamacpp, layout raw, bos true ===
    ----- prompt text (16 characters) -----
    ### Evaluation:
    <BLANKLINE>
    ----- end of prompt text -----
    token ids (2, starts with BOS 1): [1, 5]
    """
    if as_json:
        return "\n".join(
            json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in rendered
        )
    blocks = []
    for r in rendered:
        order = "swapped order" if r.swapped else "original order"
        bos = "default" if r.bos is None else str(r.bos).lower()
        lines = [
            f"=== item {r.item_id}, {order}, judge {r.judge}, backend {r.backend}, "
            f"layout {r.layout}, bos {bos} ==="
        ]
        if r.text is not None:
            lines += [
                f"----- prompt text ({len(r.text)} characters) -----",
                r.text,
                "----- end of prompt text -----",
            ]
        else:
            lines.append(
                "----- messages (an HTTP backend sends these; its server formats them) -----"
            )
            lines += [f"[{m.role}]\n{m.content}" for m in r.messages]
            lines.append("----- end of messages -----")
        if r.token_ids is not None:
            ids = list(r.token_ids)
            starts = (
                f", starts with BOS {r.bos_token_id}"
                if r.bos_token_id is not None and ids[:1] == [r.bos_token_id]
                else ", no BOS first"
            )
            lines.append(f"token ids ({len(ids)}{starts}): {ids}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
