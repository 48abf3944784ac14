"""Import verdicts made elsewhere as runs in our store.

An imported run is a normal run folder (``manifest.json``, ``items.jsonl``,
``judgments.jsonl``), so agreement, bias and position consistency are analysed
exactly as for a run we made. Nothing is re-judged: each decision becomes one
:class:`~judge.records.Judgment` with the source record kept in ``raw``. A reply
with no verdict (PandaLM's ``"garbage"``, an empty JudgeBench decision) is
``status="unparsed"``, never a tie.

An importer is a plugin (registry kind ``importers``, entry-point group
``judge_harness.importers``): a class with a ``name``, a strict nested ``Options``
model and ``read(request) -> list[ImportedRun]``; :func:`run_import` builds it and
writes what it read. The built-ins go through the same path:

- ``pandalm`` (:class:`PandaLMImporter`): the gpt-3.5-turbo or PandaLM-7B verdicts on
  PandaLM's 999-pair test set (one order: ``swapped=False``);
- ``judgebench`` (:class:`JudgeBenchImporter`): a ``*.decisions.csv`` of JudgeBench's
  committed judge outputs (both orders; the swapped-order decision is as emitted,
  so it is flipped to canonical order and stored with ``swapped=True``);
- ``table`` (:mod:`judge.table_import`): any judge's verdicts for any registered
  benchmark, from a table keyed by item id or from one verdict per line;
- ``alpaca_eval`` (:mod:`judge.alpaca_eval_import`): AlpacaEval ``annotations.json``.

The manifest of an imported run says so (``extra["import"]``: importer, source
files and their sha256, the options and value map used) and leaves ``git_commit``
and ``package_versions`` empty: the tool that made the verdicts is not known.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import JsonValue, ValidationError

from judge.benchmark import AnyItem, file_sha256, items_hash, load_items
from judge.errors import (
    ConfigError,
    DataError,
    JudgeError,
    StoreError,
    plugin_failure,
    validation_text,
)
from judge.formats import Where, int_field, json_records, read_delimited, require
from judge.hashing import sha256_json
from judge.records import (
    Judgment,
    PairItem,
    Record,
    RunConfig,
    RunManifest,
    Verdict,
    flip,
    utcnow,
)
from judge.store import JudgmentKey, RunStore, count_judgments, judgment_key

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


class ImporterOptions(Record):
    """Options every importer takes (subclasses add fields; unknown keys are errors)."""


@dataclass(frozen=True)
class ImportRequest:
    """What the user asked to import: the same for every importer."""

    sources: tuple[str, ...]
    """The positional arguments: source files (or, for ``pandalm``, which judge)."""
    benchmark: str | None = None
    """Registry name of the benchmark the verdicts are about (``table`` needs it)."""
    benchmark_args: dict[str, Any] = field(default_factory=dict)
    """Options of that benchmark (``-B key=value``)."""
    judge: str | None = None
    """Name for the imported judge (default: from the source file's name)."""
    data_root: Path | None = None
    """The datasets folder (default: ``../shared/datasets`` or ``$JUDGE_HARNESS_DATA``)."""
    lenient: bool = False
    """Skip (and count) rows whose item id is not in the benchmark instead of failing."""


@dataclass
class ImportedRun:
    """One run read by an importer, not yet written."""

    name: str
    """Default run folder name."""
    config: RunConfig
    judge_hash: str
    judge_spec: dict[str, JsonValue]
    items: Sequence[AnyItem]
    judgments: Sequence[Judgment]
    sources: Sequence[Path]
    """The files the verdicts were read from (hashed into the manifest)."""
    data_files: Sequence[Path] = ()
    """The benchmark's own data files (hashed as for any run)."""
    orders: int = 1
    """Judgments expected per item (1 or 2): ``complete`` means all are present."""
    details: dict[str, JsonValue] = field(default_factory=dict)
    """What the importer wants recorded: options, value map, skipped rows."""
    messages: list[str] = field(default_factory=list)
    """Lines to tell the user (skipped rows, figures)."""


class Importer(ABC):
    """Base class of importers: ``read`` turns sources into runs; nothing is written."""

    name: ClassVar[str]
    """Registry name (``judge import NAME``)."""
    description: ClassVar[str] = ""

    class Options(ImporterOptions):
        pass

    def __init__(self, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid options for importer {self.name!r}: "
                f"{validation_text(exc, model=self.Options)}"
            ) from exc

    @abstractmethod
    def read(self, request: ImportRequest) -> list[ImportedRun]:
        """Read the sources into runs; bad input raises :class:`DataError` naming file,
        line and field."""


def build_importer(name: str, options: dict[str, Any] | None = None) -> Importer:
    """The importer registered as ``name``, built with ``options`` (``-I key=value``)."""
    from judge.registry import importers

    factory = importers.get(name)
    importer = factory(**(options or {}))
    if not isinstance(importer, Importer):
        raise ConfigError(f"importer {name!r} did not build an Importer ({type(importer)!r})")
    return importer


def run_import(
    name: str,
    request: ImportRequest,
    *,
    options: dict[str, Any] | None = None,
    output: str | Path = "results",
    run_name: str | None = None,
    overwrite: bool = False,
    argv: Sequence[str] = (),
) -> list[tuple[RunStore, ImportedRun]]:
    """Build importer ``name``, read ``request`` and write each run it read.

    ``run_name`` names the folder when there is one run; with several it is a prefix
    (``<run_name>-<default name>``). Every run is read before any is written.
    """
    importer = build_importer(name, options)
    try:
        runs = importer.read(request)
    except JudgeError:
        raise
    except Exception as exc:  # an importer's (a plugin's) own bug: where, not a traceback
        raise plugin_failure(f"importer {name!r} failed while reading", exc) from exc
    if not runs:
        raise DataError(f"importer {name!r} found nothing to import in {list(request.sources)}")
    for run in runs:
        check_imported_run(run, importer=name)
    out = []
    for run in runs:
        folder = run.name if run_name is None else run_name
        if run_name is not None and len(runs) > 1:
            folder = f"{run_name}-{run.name}"
        store = write_imported_run(
            run, RunStore(Path(output) / folder), importer=name, overwrite=overwrite, argv=argv
        )
        out.append((store, run))
    return out


def check_imported_run(run: ImportedRun, *, importer: str) -> None:
    """Refuse a run the analysis could not read, before anything is written: no verdicts,
    a judgment of an item the run does not hold, one judgment twice, or more orders
    than declared (an importer plugin's bug, or a source that matched nothing)."""
    where = f"importer {importer!r}, run {run.name!r} (from {', '.join(map(str, run.sources))})"
    if not run.judgments:
        raise DataError(f"{where}: no verdicts were read; nothing to import")
    ids = {item.id for item in run.items}
    strays = sorted({j.item_id for j in run.judgments} - ids)
    if strays:
        raise DataError(
            f"{where}: {len(strays)} judged item id(s) are not among the run's "
            f"{len(ids)} items (e.g. {strays[0]!r})"
        )
    seen: set[JudgmentKey] = set()
    for j in run.judgments:
        key = judgment_key(j)
        if key in seen:
            order = "swapped" if j.swapped else "original"
            raise DataError(
                f"{where}: item {j.item_id!r} has two judgments in the {order} order "
                f"(sample {j.sample})"
            )
        seen.add(key)
    if run.orders == 1 and any(j.swapped for j in run.judgments):
        raise DataError(f"{where}: swapped-order judgments in a run that declares orders=1")


def write_imported_run(
    run: ImportedRun,
    store: RunStore,
    *,
    importer: str,
    overwrite: bool = False,
    argv: Sequence[str] = (),
) -> RunStore:
    """Write an imported run; its manifest records the import, not a tool it cannot know."""
    if store.exists() and not overwrite:
        raise StoreError(
            f"{store.path} already holds a run; pass --overwrite (overwrite=True) to replace it"
        )
    started = utcnow()
    store.write_items(run.items)
    store.rewrite_judgments(run.judgments)
    sources = {str(p): file_sha256(p) for p in run.sources}
    manifest = RunManifest(
        run_id=store.path.name,
        config=run.config,
        judge_hash=run.judge_hash,
        judge_spec=run.judge_spec,
        data_hash=items_hash(run.items),
        data_files={**{str(p): file_sha256(p) for p in run.data_files}, **sources},
        argv=tuple(argv),
        n_items=len(run.items),
        counts=count_judgments(run.judgments),
        started_at=started,
        finished_at=utcnow(),
        complete=len(run.judgments) == run.orders * len(run.items),
        # git_commit and package_versions stay empty: the verdicts were made elsewhere
        extra={
            "imported": True,
            "import": {"importer": importer, "sources": sources, **run.details},
        },
    )
    store.write_manifest(manifest)
    return store


def source_judge_hash(importer: str, judge: str, paths: Sequence[Path], **details: Any) -> str:
    """The judge hash of an import: the importer, judge name, source contents and options."""
    return sha256_json(
        {
            "imported": judge,
            "importer": importer,
            "sha256": [file_sha256(p) for p in paths],
            **details,
        }
    )[:16]


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
    run = read_pandalm(kind, data_root=data_root)
    store = RunStore(Path(output) / (run_name or run.name))
    return write_imported_run(run, store, importer="pandalm", overwrite=overwrite)


def read_pandalm(kind: str, *, data_root: str | Path | None = None) -> ImportedRun:
    """PandaLM's published verdicts of judge ``kind`` as an :class:`ImportedRun`."""
    from judge.data_paths import default_data_root
    from judge.factory import benchmark_named

    if kind not in PANDALM_FILES:
        raise ConfigError(f"unknown PandaLM judge {kind!r}; choose from {', '.join(PANDALM_FILES)}")
    root = Path(data_root) if data_root is not None else default_data_root()
    folder = root / "pandalm"
    bench = benchmark_named("pandalm", {"path": str(folder)})
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
    return ImportedRun(
        name=f"import-pandalm-{kind}",
        config=config,
        judge_hash=judge_hash,
        judge_spec=spec,
        items=items,
        judgments=judgments,
        sources=[path],
        data_files=bench.files(),
        orders=1,
        details={"judge": kind, "result_field": field},
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
    """Import one JudgeBench ``*.decisions.csv`` as a run (see :func:`read_judgebench`)."""
    run = read_judgebench(judge_file, data_root=data_root)
    store = RunStore(Path(output) / (run_name or run.name))
    return write_imported_run(run, store, importer="judgebench", overwrite=overwrite)


def read_judgebench(judge_file: str | Path, *, data_root: str | Path | None = None) -> ImportedRun:
    """One JudgeBench ``*.decisions.csv`` (a judge's committed decisions) as a run.

    Columns: ``pair_id, source, label, decision_original_order,
    decision_swapped_order_raw``. ``A>B``/``B>A``/``A=B`` become ``A``/``B``/``tie``;
    an empty decision is ``unparsed``. The swapped decision is flipped into canonical
    order and stored with ``swapped=True``; a file whose swapped column is empty
    throughout is single-order. Items come from the JudgeBench loader (``data_root``
    holds ``judgebench/``), in the file's order; the file's ``label`` must match.
    """
    from judge.data_paths import default_data_root
    from judge.factory import benchmark_named

    path = Path(judge_file)
    root = Path(data_root) if data_root is not None else default_data_root()
    bench = benchmark_named(
        "judgebench", {"path": str(root / "judgebench"), "response_model": "both"}
    )
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
    return ImportedRun(
        name=default_name,
        config=config,
        judge_hash=judge_hash,
        judge_spec=spec,
        items=items,
        judgments=judgments,
        sources=[path],
        data_files=[f for f in bench.files() if f.is_file()],
        orders=2 if two_orders else 1,
        details={"swapped_decisions": "presented order, flipped to canonical"},
    )


def _response_model(models: set[str]) -> str:
    names: dict[str, Callable[[str], bool]] = {
        "gpt-4o": lambda m: m.startswith("gpt-4o"),
        "claude": lambda m: m.startswith("claude"),
    }
    matched = {short for short, test in names.items() for m in models if test(m)}
    return matched.pop() if len(matched) == 1 else "both"


class PandaLMImporter(Importer):
    """``judge import pandalm gpt-3.5|pandalm-7b``: PandaLM's published verdicts."""

    name: ClassVar[str] = "pandalm"
    description: ClassVar[str] = "PandaLM's gpt-3.5-turbo / PandaLM-7B verdicts on its test set"

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        kinds = request.sources or ("gpt-3.5",)
        return [read_pandalm(kind, data_root=request.data_root) for kind in kinds]


class JudgeBenchImporter(Importer):
    """``judge import judgebench FILE...``: JudgeBench ``*.decisions.csv`` files."""

    name: ClassVar[str] = "judgebench"
    description: ClassVar[str] = "JudgeBench judges' committed decisions (*.decisions.csv)"

    def read(self, request: ImportRequest) -> list[ImportedRun]:
        if not request.sources:
            raise ConfigError("judgebench: give one or more *.decisions.csv files")
        return [read_judgebench(path, data_root=request.data_root) for path in request.sources]
