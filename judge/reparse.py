"""``judge reparse``: re-read stored replies with a (changed) parser, sending nothing.

The judge is rebuilt from the run's manifest on a :class:`StoredReplies` backend, which
refuses every request, so a re-parse cannot reach a model even by mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import JsonValue

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.errors import BackendError, ConfigError, FatalBackendError
from judge.judges import Judge, PromptJudge
from judge.jury import Jury
from judge.prompts import is_preset_path, list_presets, load_preset
from judge.records import Counts, Judgment, utcnow
from judge.store import RunStore, count_judgments


class StoredReplies(Backend):
    """A backend that only stands in for the one a run used; it never completes."""

    name: ClassVar[str] = "stored-replies"

    def __init__(self, spec: dict[str, JsonValue]) -> None:
        super().__init__()
        self._spec = spec

    def spec(self) -> dict[str, JsonValue]:
        return self._spec

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        raise FatalBackendError("re-parsing never sends a request")


def offline_judge(manifest_judge: str, spec: dict[str, Any], overrides: dict[str, Any]) -> Judge:
    """Rebuild a run's judge without its backend, for re-parsing.

    Consumes the ``overrides`` it uses (``parser``, ``mode``; for a jury ``vote``, and
    ``parser`` for every member); the caller rejects what is left.
    """
    if spec.get("type") == "jury":
        return _offline_jury(spec, overrides)
    if manifest_judge in list_presets() or is_preset_path(manifest_judge):
        return _offline_prompt_judge(manifest_judge, spec, overrides)
    from judge.registry import judges

    factory = judges.get(manifest_judge)
    return factory(**overrides)  # type: ignore[no-any-return]


def _offline_prompt_judge(
    preset_name: str, spec: dict[str, Any], overrides: dict[str, Any]
) -> PromptJudge:
    preset = load_preset(preset_name)
    backend_spec = spec.get("backend") if isinstance(spec.get("backend"), dict) else {}
    return PromptJudge(
        preset,
        StoredReplies(backend_spec or {}),
        name=spec.get("name", preset_name),
        mode=overrides.pop("mode", spec.get("mode")),
        parser=overrides.get("parser") or spec.get("parser"),
        parse=overrides.get("parse", spec.get("parse", "strict")),
    )


def _offline_jury(spec: dict[str, Any], overrides: dict[str, Any]) -> Jury:
    """A jury from its manifest spec: every member on stored replies, the vote as run
    (or ``vote`` from the overrides)."""
    members: list[tuple[str, Judge]] = []
    for entry in spec.get("members") or []:
        member_spec = entry.get("judge") if isinstance(entry, dict) else None
        if not isinstance(member_spec, dict) or member_spec.get("type") != "prompt":
            raise ConfigError(
                f"jury member {entry.get('name') if isinstance(entry, dict) else entry!r} "
                "is not a prompt judge; only prompt judges can be re-parsed"
            )
        member_overrides: dict[str, Any] = {
            k: overrides[k] for k in ("parser", "parse") if k in overrides
        }
        judge = _offline_prompt_judge(str(member_spec["preset"]), member_spec, member_overrides)
        members.append((str(entry.get("name") or judge.name), judge))
    overrides.pop("parser", None)
    overrides.pop("parse", None)
    vote = overrides.pop("vote", spec.get("vote", "majority"))
    return Jury(members, vote=vote, name=str(spec.get("name", "jury")))


def reparse_run(
    run_dir: str | Path, *, parser: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[int, Counts]:
    """Re-parse every stored reply of a run; returns (changed count, new counts)."""
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    params = dict(overrides or {})
    if parser:
        params["parser"] = parser
    judge = offline_judge(manifest.config.judge, dict(manifest.judge_spec), params)
    params.pop("parser", None)
    params.pop("parse", None)
    if params:
        raise ConfigError(f"reparse does not take parameters {sorted(params)}")
    items = {item.id: item for item in store.items()}
    before = store.all_judgments()
    after: list[Judgment] = []
    changed = 0
    for judgment in before:
        item = items.get(judgment.item_id)
        new = judge.reinterpret(judgment, item) if item is not None else judgment
        fields = ("status", "verdict", "score", "scores", "probabilities")
        if any(getattr(new, f) != getattr(judgment, f) for f in fields):
            changed += 1
        after.append(new)
    backup = store.path / f"judgments.before-reparse-{utcnow():%Y%m%dT%H%M%S}.jsonl"
    backup.write_bytes(store.judgments_path.read_bytes())
    store.rewrite_judgments(after)
    counts = count_judgments(store.judgments())
    extra = dict(manifest.extra)
    record: dict[str, Any] = {
        "parser": getattr(judge, "parser_name", None),
        "parse": getattr(judge, "parse", None),
        "at": utcnow().isoformat(),
        "changed": changed,
    }
    if isinstance(judge, Jury):
        record["parser"] = parser
        record["vote"] = judge.vote
    extra.setdefault("reparsed", []).append(record)
    store.write_manifest(manifest.model_copy(update={"counts": counts, "extra": extra}))
    return changed, counts
