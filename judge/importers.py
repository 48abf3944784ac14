"""Import verdicts that other projects published, as runs in our store.

An imported run is a normal run folder (``manifest.json``, ``items.jsonl``,
``judgments.jsonl``), so agreement, bias and position consistency are analysed
exactly as for a run we made. Nothing is re-judged: each published decision becomes
one :class:`~judge.records.Judgment` with the source record kept in ``raw``.
A reply with no verdict (PandaLM's ``"garbage"``, an empty JudgeBench decision) is
``status="unparsed"``, never a tie.

- :func:`import_pandalm`: the gpt-3.5-turbo or PandaLM-7B verdicts on PandaLM's
  999-pair test set (one order: ``swapped=False``).
- :func:`import_judgebench`: a ``*.decisions.csv`` of JudgeBench's committed judge
  outputs (both orders where present: the swapped-order decision is as emitted, so it
  is flipped to canonical order and stored with ``swapped=True``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import JsonValue

from judge.benchmark import file_sha256, items_hash, load_items
from judge.errors import ConfigError, DataError, StoreError
from judge.formats import Where, int_field, json_records, read_delimited, require
from judge.hashing import sha256_json
from judge.records import (
    Judgment,
    PairItem,
    RunConfig,
    RunManifest,
    Verdict,
    flip,
    utcnow,
)
from judge.store import RunStore, count_judgments

PandaLMJudge = Literal["gpt-3.5", "pandalm-7b"]

PANDALM_FILES: dict[str, tuple[str, str, str]] = {
    # kind: (file, result field, judge name)
    "gpt-3.5": ("gpt-3.5-turbo-testset-v1.json", "gpt_result", "gpt-3.5-turbo"),
    "pandalm-7b": ("pandalm-7b-testset-v1.json", "pandalm_result", "PandaLM-7B"),
}
PANDALM_VERDICTS: dict[object, Verdict] = {
    "1": "A",
    "2": "B",
    "Tie": "tie",
    "0": "tie",
    1: "A",
    2: "B",
    0: "tie",
}
JUDGEBENCH_VERDICTS: dict[str, Verdict] = {
    "A>B": "A",
    "A>>B": "A",
    "B>A": "B",
    "B>>A": "B",
    "A=B": "tie",
}


def pandalm_verdict(value: object) -> Verdict | None:
    """A PandaLM judge file's result as a canonical verdict; ``None`` when it has none.

    >>> [pandalm_verdict(v) for v in ("1", "2", "Tie", "garbage", 0)]
    ['A', 'B', 'tie', None, 'tie']
    """
    if isinstance(value, bool):
        return None
    return PANDALM_VERDICTS.get(value)


def judgebench_verdict(decision: str, *, swapped: bool) -> Verdict | None:
    """A JudgeBench decision in canonical order; ``None`` when the judge gave none.

    A swapped-order decision is as the judge emitted it (about the responses in the
    order it saw them), so it is flipped.

    >>> judgebench_verdict("A>B", swapped=False), judgebench_verdict("A>B", swapped=True)
    ('A', 'B')
    >>> judgebench_verdict("A=B", swapped=True), judgebench_verdict("", swapped=False)
    ('tie', None)
    """
    verdict = JUDGEBENCH_VERDICTS.get(decision.strip())
    if verdict is None:
        return None
    return flip(verdict) if swapped else verdict


def _judgment(
    *,
    item_id: str,
    judge: str,
    judge_hash: str,
    swapped: bool,
    verdict: Verdict | None,
    raw: str,
    missing: str,
) -> Judgment:
    key = sha256_json({"judge_hash": judge_hash, "item": item_id, "swapped": swapped})
    return Judgment(
        item_id=item_id,
        judge=judge,
        judge_hash=judge_hash,
        request_key=key,
        swapped=swapped,
        status="ok" if verdict is not None else "unparsed",
        verdict=verdict,
        raw=raw,
        error=None if verdict is not None else missing,
    )


def _write_run(
    *,
    store: RunStore,
    overwrite: bool,
    config: RunConfig,
    judge_hash: str,
    judge_spec: dict[str, JsonValue],
    items: Sequence[PairItem],
    judgments: Sequence[Judgment],
    files: Sequence[Path],
    orders: int,
) -> RunStore:
    if store.exists() and not overwrite:
        raise StoreError(f"{store.path} already holds a run; pass overwrite=True to replace it")
    started = utcnow()
    store.write_items(items)
    store.rewrite_judgments(judgments)
    manifest = RunManifest(
        run_id=store.path.name,
        config=config,
        judge_hash=judge_hash,
        judge_spec=judge_spec,
        data_hash=items_hash(items),
        data_files={str(p): file_sha256(p) for p in files},
        n_items=len(items),
        counts=count_judgments(judgments),
        started_at=started,
        finished_at=utcnow(),
        complete=len(judgments) == orders * len(items),
        extra={"imported": True},
    )
    store.write_manifest(manifest)
    return store


def import_pandalm(
    kind: PandaLMJudge = "gpt-3.5",
    *,
    data_root: str | Path | None = None,
    output: str | Path = "results",
    run_name: str | None = None,
    overwrite: bool = False,
) -> RunStore:
    """Import PandaLM's published gpt-3.5-turbo or PandaLM-7B verdicts as a run.

    ``data_root`` is the folder holding ``pandalm/`` (default: the shared datasets);
    the run is written to ``output/<run_name>`` (default name ``import-pandalm-<kind>``).
    Each of the 999 items gets one judgment in the original order; ``raw`` is the
    judge record as published (result, reason, reference) as JSON.
    """
    from benchmarks._paths import default_data_root
    from benchmarks.pandalm import PandaLMBenchmark

    if kind not in PANDALM_FILES:
        raise ConfigError(f"unknown PandaLM judge {kind!r}; choose from {', '.join(PANDALM_FILES)}")
    root = Path(data_root) if data_root is not None else default_data_root()
    folder = root / "pandalm"
    bench = PandaLMBenchmark(path=str(folder))
    items = [i for i in load_items(bench) if isinstance(i, PairItem)]
    by_idx = {str(i.metadata["idx"]): i for i in items}
    file_name, field, judge_name = PANDALM_FILES[kind]
    path = folder / file_name
    judge = f"pandalm/{judge_name}"
    judge_hash = sha256_json({"imported": judge, "sha256": file_sha256(path)})[:16]

    judgments: list[Judgment] = []
    seen: set[str] = set()
    for line, _, _, row in json_records(path):
        where = Where(path, line)
        if not isinstance(row, dict):
            raise where.error(f"expected a JSON object, got {type(row).__name__}")
        idx = str(int_field(row, "idx", where))
        if idx not in by_idx:
            raise where.error(f"idx {idx} is not in the test set", "idx")
        if idx in seen:
            raise where.error(f"duplicate idx {idx}", "idx")
        seen.add(idx)
        result = require(row, field, where)
        if not isinstance(result, str | int) or isinstance(result, bool):
            raise where.error(f"expected a string or integer, got {type(result).__name__}", field)
        judgments.append(
            _judgment(
                item_id=by_idx[idx].id,
                judge=judge,
                judge_hash=judge_hash,
                swapped=False,
                verdict=pandalm_verdict(result),
                raw=json.dumps({k: v for k, v in row.items() if k != "idx"}, ensure_ascii=False),
                missing=f"the judge's reply held no verdict ({field}={result!r})",
            )
        )
    config = RunConfig(
        benchmark="pandalm",
        benchmark_args={"path": str(folder)},
        judge=judge,
        orders="original",
    )
    spec: dict[str, JsonValue] = {
        "name": judge,
        "imported_from": str(path),
        "source": "WeOpenML/PandaLM data/" + file_name,
        "result_field": field,
    }
    return _write_run(
        store=RunStore(Path(output) / (run_name or f"import-pandalm-{kind}")),
        overwrite=overwrite,
        config=config,
        judge_hash=judge_hash,
        judge_spec=spec,
        items=items,
        judgments=judgments,
        files=[*bench.files(), path],
        orders=1,
    )


def judgebench_file_fields(path: Path) -> dict[str, str]:
    """The ``key=value`` parts of a JudgeBench output file name.

    >>> judgebench_file_fields(Path("dataset=judgebench,judge_name=arena_hard,"
    ...                             "judge_model=o1-mini.decisions.csv"))
    {'dataset': 'judgebench', 'judge_name': 'arena_hard', 'judge_model': 'o1-mini'}
    """
    name = path.name
    for suffix in (".decisions.csv", ".csv", ".jsonl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parts = [p.partition("=") for p in name.split(",")]
    return {k: v for k, sep, v in parts if sep}


def import_judgebench(
    judge_file: str | Path,
    *,
    data_root: str | Path | None = None,
    output: str | Path = "results",
    run_name: str | None = None,
    overwrite: bool = False,
) -> RunStore:
    """Import one JudgeBench ``*.decisions.csv`` (a judge's committed decisions) as a run.

    Columns: ``pair_id, source, label, decision_original_order,
    decision_swapped_order_raw``. ``A>B``/``B>A``/``A=B`` become ``A``/``B``/``tie``;
    an empty decision is ``unparsed``. The swapped decision is flipped into canonical
    order and stored with ``swapped=True``; a file whose swapped column is empty
    throughout is single-order. Items come from the JudgeBench loader (``data_root``
    holds ``judgebench/``), in the file's order; the file's ``label`` must match.
    """
    from benchmarks._paths import default_data_root
    from benchmarks.judgebench import JudgeBenchBenchmark

    path = Path(judge_file)
    root = Path(data_root) if data_root is not None else default_data_root()
    bench = JudgeBenchBenchmark(path=str(root / "judgebench"), response_model="both")
    known = {i.id: i for i in load_items(bench) if isinstance(i, PairItem)}
    fields = judgebench_file_fields(path)
    judge_label = "/".join(v for k, v in fields.items() if k in ("judge_name", "judge_model"))
    judge = f"judgebench/{judge_label or path.stem}"
    judge_hash = sha256_json({"imported": judge, "sha256": file_sha256(path)})[:16]

    rows = list(read_delimited(path))
    for column in ("pair_id", "label", "decision_original_order", "decision_swapped_order_raw"):
        if rows and column not in rows[0][1]:
            raise DataError("missing column", path=str(path), line=1, field=column)
    two_orders = any(row["decision_swapped_order_raw"].strip() for _, row in rows)

    items: list[PairItem] = []
    judgments: list[Judgment] = []
    models: set[str] = set()
    seen: set[str] = set()
    for line, row in rows:
        where = Where(path, line)
        item = known.get(row["pair_id"])
        if item is None:
            raise where.error(f"pair {row['pair_id']!r} is not in JudgeBench", "pair_id")
        if item.id in seen:
            raise where.error(f"duplicate pair {item.id!r}", "pair_id")
        seen.add(item.id)
        gold = {"A>B": "A", "B>A": "B"}.get(row["label"])
        if gold != item.label:
            raise where.error(f"label {row['label']!r} disagrees with the dataset", "label")
        items.append(item)
        models.add(item.model_a or "")
        orders: list[tuple[bool, str]] = [(False, "decision_original_order")]
        if two_orders:
            orders.append((True, "decision_swapped_order_raw"))
        for swapped, column in orders:
            decision = row[column]
            judgments.append(
                _judgment(
                    item_id=item.id,
                    judge=judge,
                    judge_hash=judge_hash,
                    swapped=swapped,
                    verdict=judgebench_verdict(decision, swapped=swapped),
                    raw=decision,
                    missing=f"no decision ({column}={decision!r})",
                )
            )
    if not items:
        raise DataError("no decisions in the file", path=str(path))
    response_model = _response_model(models)
    config = RunConfig(
        benchmark="judgebench",
        benchmark_args={"path": str(root / "judgebench"), "response_model": response_model},
        judge=judge,
        orders="both" if two_orders else "original",
    )
    spec: dict[str, JsonValue] = {"name": judge, "imported_from": str(path), **fields}
    default_name = "import-judgebench-" + (judge_label or path.stem).replace("/", "-")
    return _write_run(
        store=RunStore(Path(output) / (run_name or default_name)),
        overwrite=overwrite,
        config=config,
        judge_hash=judge_hash,
        judge_spec=spec,
        items=items,
        judgments=judgments,
        files=[*(f for f in bench.files() if f.is_file()), path],
        orders=2 if two_orders else 1,
    )


def _response_model(models: set[str]) -> str:
    names: dict[str, Callable[[str], bool]] = {
        "gpt-4o": lambda m: m.startswith("gpt-4o"),
        "claude": lambda m: m.startswith("claude"),
    }
    matched = {short for short, test in names.items() for m in models if test(m)}
    return matched.pop() if len(matched) == 1 else "both"
