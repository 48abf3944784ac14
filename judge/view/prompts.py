"""The judge prompt behind a stored judgment, rendered again from the run's manifest.

Judgments store the request's content hash (``request_key``), not the prompt text, so
the viewer rebuilds each prompt judge from ``manifest.judge_spec`` (preset, template
variables, generation parameters) on a backend that refuses every request
(:class:`judge.backends.stored.StoredReplies`, built by :mod:`judge.factory`) and
renders the item in the judgment's order.
Hashing the rebuilt request the way the runner does tells whether it is byte for byte
the request that was sent: it differs when the preset's templates changed since the run
or when the judge trimmed the responses to fit its context window (``truncated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from judge.errors import JudgeError
from judge.records import Message, PairItem, Record, SingleItem

_PAIR_FIELDS = frozenset(PairItem.model_fields)
_SINGLE_FIELDS = frozenset(SingleItem.model_fields)


class RenderedPrompt(Record):
    """One judge's prompt for one item in one order."""

    who: str
    """The judge (or jury member) the prompt belongs to."""
    messages: tuple[Message, ...] = ()
    """The chat messages, as rendered now."""
    matches: bool | None = None
    """True: the rebuilt request hashes to the judgment's ``request_key`` (it is what was
    sent); False: it differs (see ``note``); None: not checked."""
    note: str = ""
    """Why there is no prompt, or why it may differ from what was sent."""


def item_record(fields: Mapping[str, Any]) -> PairItem | SingleItem:
    """An item record from the viewer's item row (extra columns are dropped)."""
    kind = fields.get("kind") or "pair"
    allowed = _PAIR_FIELDS if kind == "pair" else _SINGLE_FIELDS
    values = {k: v for k, v in fields.items() if k in allowed and v is not None}
    return PairItem.model_validate(values) if kind == "pair" else SingleItem.model_validate(values)


def _prompt_judge(spec: Mapping[str, Any], files: Mapping[str, str]) -> Any:
    from judge.factory import stored_prompt_judge

    return stored_prompt_judge(spec, files=files)


def _render_one(
    who: str,
    spec: Mapping[str, Any],
    item: PairItem | SingleItem,
    judgment: Mapping[str, JsonValue],
    seed: int,
    files: Mapping[str, str],
    *,
    member: bool = False,
) -> RenderedPrompt:
    """One prompt judge's prompt; a jury ``member``'s is shown without the hash check (the
    judgment's request key is the jury's, not the member's)."""
    from judge.judges import Task, request_key
    from judge.prompts import preset_hash

    try:
        judge = _prompt_judge(spec, files)
        task = Task(
            item=item,
            swapped=bool(judgment.get("swapped")),
            sample=int(judgment.get("sample") or 0),  # type: ignore[arg-type]
            seed=seed,
        )
        request = judge.request(task)
    except JudgeError as exc:
        return RenderedPrompt(who=who, note=f"the prompt cannot be rendered again: {exc}")
    notes = []
    if preset_hash(judge.preset) != spec.get("preset_hash"):
        notes.append(f"preset {judge.preset.name!r} has changed since the run")
    if judgment.get("truncated"):
        notes.append("the judge trimmed the responses to fit its context window; shown untrimmed")
    if member:
        notes.append("rendered again from the member's preset")
        return RenderedPrompt(who=who, messages=request.messages, note="; ".join(notes))
    matches = request_key(judge.backend, request, task.sample) == judgment.get("request_key")
    if matches:
        notes.append("identical to the request that was sent (same request hash)")
    elif not notes:
        notes.append("differs from the request that was sent (its hash does not match)")
    return RenderedPrompt(
        who=who, messages=request.messages, matches=matches, note="; ".join(notes)
    )


def rendered_prompts(
    judge_spec: Mapping[str, JsonValue],
    item: PairItem | SingleItem,
    judgment: Mapping[str, JsonValue],
    *,
    seed: int = 0,
    files: Mapping[str, str] | None = None,
) -> list[RenderedPrompt]:
    """The prompt(s) behind ``judgment``: one for a prompt judge, one per member of a jury
    of prompt judges, none (with a note) for imported verdicts and other judges.
    ``files``: the manifest's preset files (:data:`judge.records.PRESET_FILES`)."""
    files = files or {}
    kind = judge_spec.get("type")
    if kind == "prompt" and judge_spec.get("preset"):
        who = str(judge_spec.get("name"))
        return [_render_one(who, judge_spec, item, judgment, seed, files)]
    if kind == "jury":
        out = []
        members = judge_spec.get("members")
        for member in members if isinstance(members, list) else []:
            if not isinstance(member, dict):
                continue
            spec = member.get("judge")
            name = str(member.get("name"))
            if isinstance(spec, dict) and spec.get("type") == "prompt":
                # the jury's request key is not a member's: only the text is shown
                out.append(_render_one(name, spec, item, judgment, seed, files, member=True))
            else:
                out.append(RenderedPrompt(who=name, note="not a prompt judge"))
        return out
    who = str(judge_spec.get("name") or "judge")
    if judge_spec.get("imported_from"):
        source = judge_spec.get("source") or judge_spec.get("imported_from")
        return [RenderedPrompt(who=who, note=f"no prompt: verdicts imported from {source}")]
    return [RenderedPrompt(who=who, note=f"no prompt to show: judge type {kind or 'unknown'}")]
