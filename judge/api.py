"""The library's front door: judge a benchmark, a list of items or a DataFrame, get the frame.

:func:`evaluate` (scripts) and :func:`aevaluate` (inside a running event loop: a
notebook) run a judge and return the tidy frame of
:func:`judge.analysis.frame.load_frame`, one row per judgment. With ``output=None``
(the default) nothing is kept on disk: the run is written to a temporary folder
that is removed once the frame is read. With ``output=FOLDER`` the run folder is
``FOLDER/<name>`` (``name`` is the caller's; default: the id ``judge run`` derives),
and calling again resumes it, as ``judge run`` does.

:func:`evaluate` also works inside a running event loop (Jupyter): it then runs
the judging on its own event loop in a worker thread and blocks until it is done;
``await aevaluate(...)`` keeps the notebook's loop free instead. Everything is
re-exported by ``import judge`` (``judge.evaluate``, ``judge.load_judge``, ...).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import ValidationError

from judge.aio import blocking
from judge.errors import ConfigError, validation_text
from judge.records import PairItem, RunConfig, SingleItem

if TYPE_CHECKING:
    import pandas as pd

    from judge.benchmark import Benchmark
    from judge.judges import Judge

AnyItem = PairItem | SingleItem
DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt")
"""A string ending so is a file, not a benchmark name: :func:`aevaluate` says to pass a Path."""
Data: TypeAlias = "str | Path | Sequence[AnyItem | Mapping[str, Any]] | pd.DataFrame"
"""What :func:`evaluate` judges: a benchmark name, a data file (a ``Path``, read by the
``table`` benchmark with ``benchmark_params`` as its options), items (records or dicts),
or a frame."""


def load_judge(judge: str | Path = "smollm2", **params: Any) -> Judge:
    """Build a judge: a preset or judge name (``judge list judges``) or a preset file.

    ``params`` are what ``-J key=value`` gives on the command line: ``backend=`` picks
    the backend, other keys go to the judge or to the backend's strict ``Options``
    (``judge describe BACKEND`` lists them), e.g.
    ``load_judge("smollm2", backend="openai", model="gpt-4o-mini", base_url=...)``.
    An unknown name or option raises :class:`~judge.errors.ConfigError`.
    """
    from judge.factory import build_judge

    return build_judge(_config(judge=str(judge), judge_args=params))


def load_benchmark(name: str, **options: Any) -> Benchmark:
    """Build a benchmark loader by name with its options (``-B key=value``)."""
    from judge.factory import build_benchmark

    return build_benchmark(_config(benchmark=name, benchmark_args=options))


def load_items(benchmark: str, *, limit: int | None = None, **options: Any) -> list[AnyItem]:
    """The items of a benchmark (every row is read and checked; ``limit`` keeps the first N)."""
    from judge.benchmark import load_items as load

    return load(load_benchmark(benchmark, **options), limit=limit)


def to_items(
    data: Sequence[AnyItem | Mapping[str, Any]] | pd.DataFrame,
    *,
    benchmark: str = "items",
    **mapping: Any,
) -> list[AnyItem]:
    """Items from records, dicts or a DataFrame.

    Dicts and frame rows are read like the ``table`` benchmark reads a file's rows:
    columns ``prompt``, ``response_a``, ``response_b`` (and ``label``, ``id``,
    ``model_a``, ...) make pairs; ``prompt`` and ``response`` (and ``score``) make
    single answers; ``mapping`` takes the table benchmark's options
    (``map={"prompt": "question"}``, ``labels={"win": "A"}``, ``kind=``, ...). Row
    numbers in errors count from 1. Items without an ``id`` are numbered.
    """
    import pandas as pd

    from judge.formats import Where
    from judge_benchmarks.mapping import MappingOptions, RowConverter, convert_rows

    if isinstance(data, pd.DataFrame):
        frame = data.astype(object).where(data.notna(), None)
        rows: list[Any] = frame.to_dict("records")
    else:
        rows = list(data)
    if all(isinstance(row, PairItem | SingleItem) for row in rows):
        return list(rows)
    try:
        options = MappingOptions(**mapping)
    except ValidationError as exc:
        raise ConfigError(f"invalid item mapping: {validation_text(exc)}") from exc
    source = Path(f"<{benchmark}>")
    where_rows: list[tuple[Where, Any]] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ConfigError(
                f"item {number}: expected a PairItem, a SingleItem or a dict, "
                f"got {type(row).__name__}"
            )
        where_rows.append((Where(source, number), {str(k): v for k, v in row.items()}))
    converter = RowConverter(options, benchmark)
    return list(convert_rows(where_rows, converter, lenient=options.lenient, skipped=[]))


async def aevaluate(
    data: Data = "sample",
    *,
    judge: str | Path | Judge = "smollm2",
    judge_params: Mapping[str, Any] | None = None,
    benchmark_params: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
    name: str | None = None,
    limit: int | None = None,
    orders: Literal["both", "original", "swapped"] = "both",
    reconcile: str = "inconsistent_tie",
    samples: int = 1,
    seed: int = 0,
    concurrency: int = 8,
    cache: str | Path | bool = True,
    progress: bool = False,
    extend: bool = False,
) -> pd.DataFrame:
    """Judge ``data`` and return the tidy frame (one row per judgment).

    ``data`` is a benchmark name (with ``benchmark_params``: its ``-B`` options), a
    list of items (:class:`~judge.records.PairItem`, :class:`~judge.records.SingleItem`
    or dicts) or a DataFrame (``benchmark_params`` then maps its columns, see
    :func:`to_items`). ``judge`` is a judge or preset name, a preset file, or a judge
    from :func:`load_judge`; ``judge_params`` are its ``-J`` parameters (``backend``,
    ``model``, ``temperature``, ...).

    ``output=None`` keeps nothing on disk; ``output=FOLDER`` writes (or resumes) the
    run folder ``FOLDER/name`` (``name`` is one folder name). A resumed run keeps its
    judgments: items given in memory that it does not hold yet are judged and added;
    rows added to a data file since the run began are refused unless ``extend=True``
    (``judge run --extend``); a changed or removed item, another judge configuration or
    other ``orders`` are refused (choose another ``name``). ``cache``: ``True`` reads and writes
    ``FOLDER/cache.sqlite`` when there is an output folder (none in memory), a path
    uses that cache file, ``False`` none.

    ``await aevaluate(...)`` inside a running event loop (a notebook); ``evaluate(...)``
    is the same call blocking, which inside a running loop runs in a worker thread
    (:func:`judge.aio.run_sync`).
    """
    from judge.analysis.frame import load_frame
    from judge.judges import Judge
    from judge.run import arun_judging

    built = judge if isinstance(judge, Judge) else None
    if name is not None and output is None:
        raise ConfigError(f"name={name!r} names a run folder: give output=FOLDER too")
    if isinstance(data, Mapping):
        raise ConfigError("data is one dict: pass a list of items, [item], or a DataFrame")
    if isinstance(data, str) and (Path(data).suffix.lower() in DATA_SUFFIXES or "/" in data):
        raise ConfigError(
            f"data {data!r} is a file: pass pathlib.Path({data!r}) to judge it "
            "(a string is a benchmark name)"
        )
    if isinstance(data, Path):  # a data file: the ``table`` benchmark reads it
        benchmark_params = {"path": str(data), **dict(benchmark_params or {})}
        data = "table"
    elif not isinstance(data, Iterable):  # a name, items and a DataFrame all are
        raise ConfigError(
            "data is a benchmark name, a data file (a pathlib.Path), a list of items or "
            f"dicts, or a DataFrame; got {type(data).__name__}"
        )
    items: list[AnyItem] | None = None
    benchmark = data if isinstance(data, str) else "items"
    if not isinstance(data, str):
        items = to_items(data, **dict(benchmark_params or {}))
        if not items:
            raise ConfigError("nothing to judge: the list (or DataFrame) of items is empty")
        kinds = {item.benchmark for item in items}
        benchmark = kinds.pop() if len(kinds) == 1 else "items"
    if built is not None and judge_params:
        raise ConfigError("judge_params apply to a judge name; this judge is built already")
    config = _config(
        benchmark=benchmark,
        benchmark_args=dict(benchmark_params or {}) if items is None else {},
        judge=built.name if built is not None else str(judge),
        judge_args=dict(judge_params or {}),
        limit=limit,
        orders=orders,
        reconcile=reconcile,
        samples=samples,
        seed=seed,
        concurrency=concurrency,
        use_cache=cache is not False and (output is not None or cache is not True),
    )
    cache_path = None if isinstance(cache, bool) else Path(cache)
    with tempfile.TemporaryDirectory(prefix="judge-run-") as scratch:
        folder = Path(output) if output is not None else Path(scratch)
        result = await arun_judging(
            config,
            output=folder,
            run_name=name,
            judge=built,
            items=items,
            cache_path=cache_path,
            progress=progress,
            extend=extend,
        )
        return load_frame(result.store.path)


def import_verdicts(
    importer: str,
    *sources: str | Path,
    output: str | Path = "results",
    name: str | None = None,
    benchmark: str | None = None,
    benchmark_params: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    judge_name: str | None = None,
    data_root: str | Path | None = None,
    lenient: bool = False,
    overwrite: bool = False,
) -> list[Path]:
    """``judge import``: verdicts made elsewhere as run folders; their paths.

    ``importer`` is ``table``, ``alpaca_eval``, ``judgebench``, ``pandalm`` or a plugin
    (``judge describe IMPORTER`` lists its ``options``); ``sources`` its files (for
    ``pandalm``: ``"gpt-3.5"`` or ``"pandalm-7b"``).
    """
    from judge.importers import ImportRequest, run_import

    request = ImportRequest(
        sources=tuple(str(s) for s in sources),
        benchmark=benchmark,
        benchmark_args=dict(benchmark_params or {}),
        judge=judge_name,
        data_root=Path(data_root) if data_root is not None else None,
        lenient=lenient,
    )
    written = run_import(
        importer,
        request,
        options=dict(options or {}),
        output=output,
        run_name=name,
        overwrite=overwrite,
    )
    return [store.path for store, _ in written]


def data_root() -> Path:
    """The shared datasets folder (``$JUDGE_HARNESS_DATA``, else ``../shared/datasets``)."""
    from judge.data_paths import default_data_root

    return default_data_root()


evaluate = blocking(aevaluate)


def _config(**fields: Any) -> RunConfig:
    try:
        return RunConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(validation_text(exc)) from exc
