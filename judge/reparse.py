"""``judge reparse``: re-read stored replies with a (changed) parser, sending nothing.

The judge is rebuilt from the run's manifest on a
:class:`~judge.backends.stored.StoredReplies` backend, which
refuses every request, so a re-parse cannot reach a model even by mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge.errors import ConfigError
from judge.factory import stored_judge
from judge.judges import Judge
from judge.jury import Jury
from judge.records import PRESET_FILES, Counts, Judgment, utcnow
from judge.store import RunStore, count_judgments


def offline_judge(
    manifest_judge: str,
    spec: dict[str, Any],
    overrides: dict[str, Any],
    files: dict[str, str] | None = None,
) -> Judge:
    """Rebuild a run's judge without its backend, for re-parsing (see
    :func:`judge.factory.stored_judge`)."""
    return stored_judge(manifest_judge, spec, overrides, files)


def reparse_run(
    run_dir: str | Path, *, parser: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[int, Counts]:
    """Re-parse every stored reply of a run; returns (changed count, new counts)."""
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    params = dict(overrides or {})
    if parser:
        params["parser"] = parser
    files = manifest.extra.get(PRESET_FILES)
    judge = offline_judge(
        manifest.config.judge,
        dict(manifest.judge_spec),
        params,
        {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else None,
    )
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
