"""Run folders queried in place with DuckDB, for the viewer.

:class:`ViewData` reads each run's ``items.jsonl`` and ``judgments.jsonl`` into an
in-memory DuckDB database once (DuckDB parses newline-delimited JSON in parallel: about
a second per million judgments) and answers every page with SQL, so the browser only
ever receives one page of rows:

- ``judgments``: the current judgment per ``(item_id, swapped, sample)`` of each run (the
  last line for each key, as :meth:`judge.store.RunStore.judgments` reads it);
- ``items``: each run's items, with the human majority label computed in SQL;
- ``pairs``: one row per ``(run, item, sample)``: both orders' statuses and verdicts
  side by side and the pair verdict under the run's reconcile policy, computed in SQL
  exactly as :func:`judge.analysis.frame.pair_frame` computes it (the tests compare
  the two on real runs).

Read-only: the database lives in memory and DuckDB's spill folder is a temporary folder
of our own (never the run folder, never the current folder); run files are only read.
A partial last line (a run killed mid-write, or still running) is left out, as the
store's reader does.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field, JsonValue

from judge.errors import ConfigError, DataError, MissingDependencyError
from judge.records import Record, RunManifest, judge_labels, judged_by
from judge.view.filters import ItemFilter

if TYPE_CHECKING:
    import duckdb

PAGE_SIZE: Final = 50
"""Rows per list page."""

_DEFAULT_LINE: Final = 16 * 2**20
"""The longest line read on the first try (DuckDB's default ``maximum_object_size``)."""
_SEARCHED: Final = ("id", "prompt_text", "response_a", "response_b", "response")
"""The item columns the text search looks in (besides the judgments' raw replies)."""
_SEARCHES_KEPT: Final = 8
"""Recent searches whose matches are kept (:meth:`ViewData._search`)."""
_LONGEST_LINE: Final = 2**30
"""The longest line read at all (an item with a very long conversation)."""

_JUDGMENT_COLUMNS: Final[dict[str, str]] = {
    "item_id": "VARCHAR",
    "judge": "VARCHAR",
    "judge_hash": "VARCHAR",
    "request_key": "VARCHAR",
    "swapped": "BOOLEAN",
    "sample": "BIGINT",
    "status": "VARCHAR",
    "verdict": "VARCHAR",
    "score": "DOUBLE",
    "scores": "DOUBLE[]",
    "probabilities": "STRUCT(A DOUBLE, B DOUBLE, tie DOUBLE)",
    "raw": "VARCHAR",
    "error": "VARCHAR",
    "tokens_in": "BIGINT",
    "tokens_out": "BIGINT",
    "cost": "DOUBLE",
    "latency_s": "DOUBLE",
    "cache_hit": "BOOLEAN",
    "truncated": "BOOLEAN",
    "members": "JSON",
    "created_at": "VARCHAR",
}
"""The fields of :class:`judge.records.Judgment`, as DuckDB reads them."""

_ITEM_COLUMNS: Final[dict[str, str]] = {
    "id": "VARCHAR",
    "benchmark": "VARCHAR",
    "kind": "VARCHAR",
    "prompt": "JSON",
    "reference": "VARCHAR",
    "category": "VARCHAR",
    "metadata": "JSON",
    "response_a": "VARCHAR",
    "response_b": "VARCHAR",
    "model_a": "VARCHAR",
    "model_b": "VARCHAR",
    "labels": "STRUCT(annotator VARCHAR, verdict VARCHAR)[]",
    "response": "VARCHAR",
    "model": "VARCHAR",
    "scores": "STRUCT(annotator VARCHAR, score DOUBLE, aspect VARCHAR)[]",
    "scale": "DOUBLE[]",
}
"""The fields of :class:`judge.records.PairItem` and :class:`~judge.records.SingleItem`."""

_PROMPT_TEXT: Final = """(CASE WHEN starts_with(prompt::VARCHAR, '"') THEN prompt ->> '$'
    ELSE list_filter(from_json(prompt, '[{"role": "VARCHAR", "content": "VARCHAR"}]'),
                     lambda m: m.role = 'user')[-1].content END)"""
"""SQL for :attr:`judge.records.PairItem.prompt_text`: the text, or the last user message.
(A JSON string starts with a quote: testing that instead of ``json_type`` parses each
prompt once, not twice; 0.1 s less per million judgments.)"""

_SORTS: Final[dict[str, str]] = {
    "item": "p.idx",
    "gap": "p.gap",
    "p_a": "p.p_a",
    "category": "p.category",
    "verdict": "p.outcome",
    "label": "p.label",
    "status": "p.pair_status",
}


class RunInfo(Record):
    """One open run, as the pages describe it."""

    index: int
    """Position among the runs the viewer was started on."""
    run_id: str
    """The manifest's run id (what report links name)."""
    path: str
    """The run folder."""
    judge: str
    """The judge's name (the manifest's configured judge), with backend and model where
    another open run of that name ran on another (:func:`judge.records.judge_labels`)."""
    benchmark: str
    """The benchmark's registry name."""
    reconcile: str
    """The reconcile policy the pair verdicts follow."""
    manifest: RunManifest
    """The run's manifest."""
    n_items: int = 0
    """Items in items.jsonl."""
    n_judgments: int = 0
    """Current judgments (the last line per key)."""
    n_lines: int = 0
    """Lines read from judgments.jsonl (superseded error lines included)."""
    status_counts: dict[str, int] = Field(default_factory=dict)
    """Current judgments per status."""
    n_pairs: int = 0
    """Rows of the pair table (item x sample)."""


class ListRow(Record):
    """One row of the item list: an item (and sample) under the focused run."""

    item_id: str
    sample: int
    kind: str
    category: str | None
    benchmark: str | None
    snippet: str
    """The start of the prompt text."""
    len_a: int | None
    len_b: int | None
    gap: int | None
    label: str | None
    """Human majority or gold label."""
    human_score: float | None
    verdict_o: str | None
    verdict_s: str | None
    status_o: str | None
    status_s: str | None
    outcome: str | None
    """Pair verdict, or the failure status when there is none."""
    p_a: float | None
    p_b: float | None
    p_tie: float | None
    score_o: float | None
    score_s: float | None
    others: dict[int, str | None] = Field(default_factory=dict)
    """Other runs' pair outcome on the same item and sample (run index -> outcome)."""


class ListPage(Record):
    """A page of the item list and the size of the whole filtered set."""

    rows: tuple[ListRow, ...]
    total: int
    """Pairs (item x sample) matching the filter."""
    judgments: dict[str, int]
    """Judgments of the matching pairs, per status."""
    page: int
    n_pages: int


class ItemView(Record):
    """Everything about one item under every open run that holds it."""

    run: int
    """Index of the run whose copy of the item is shown."""
    item: dict[str, JsonValue]
    """The item's fields as stored (prompt, responses, labels, metadata, ...)."""
    label: str | None
    """The human majority or gold label."""
    judgments: tuple[dict[str, JsonValue], ...]
    """Current judgments of the item, every open run, ordered by run, sample, order."""
    pairs: tuple[dict[str, JsonValue], ...]
    """Pair rows of the item per run and sample."""


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise MissingDependencyError("duckdb", "view") from exc
    return duckdb


def _literal(text: str) -> str:
    """A SQL string literal.

    >>> _literal("it's")
    "'it''s'"
    """
    return "'" + text.replace("'", "''") + "'"


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in columns.items()) + "}"


def _contains(column: str, text: str) -> tuple[str, str]:
    r"""SQL that is true where ``column`` contains ``text``, case-insensitive, and the
    pattern to bind to its ``?``. ``\`` escapes ``%`` and ``_`` only when ``text`` has
    one of ``%_\``: DuckDB's ILIKE with an ESCAPE clause took twice as long (0.9 s
    instead of 0.42 s over the 1.5 GB of text of bench/view_scale.py).

    >>> _contains("raw", "50%_off")
    ("raw ILIKE ? ESCAPE '\\'", '%50\\%\\_off%')
    >>> _contains("raw", "python function")
    ('raw ILIKE ?', '%python function%')
    """
    if not any(c in text for c in "%_\\"):
        return f"{column} ILIKE ?", f"%{text}%"
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{column} ILIKE ? ESCAPE '\\'", f"%{escaped}%"


class ViewData:
    """The open runs, queried with DuckDB. Thread-safe: each query uses its own cursor."""

    def __init__(self, run_dirs: Sequence[str | Path], *, load_texts: bool = True) -> None:
        """Open ``run_dirs``; ``load_texts=False`` reads the texts before returning instead of
        in the background."""
        from judge.store import RunStore

        if not run_dirs:
            raise ConfigError("judge view needs at least one run folder")
        engine = _duckdb()
        self._tmp = Path(tempfile.mkdtemp(prefix="judge-view-"))
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection = engine.connect(
            ":memory:",
            config={"temp_directory": str(self._tmp / "spill")},
        )
        # No progress bar drawn over the terminal that prints the viewer's address.
        self._con.execute("SET enable_progress_bar = false")
        self._sources: list[tuple[tuple[Path | None, Path], tuple[Path | None, Path]]] = []
        """Per run: (file to read, run file) of items and of judgments."""
        self._texts_ready = threading.Event()
        self._text_error: Exception | None = None
        self._text_cursor: duckdb.DuckDBPyConnection | None = None
        self._closing = False
        self._search_lock = threading.Lock()
        self._searches: dict[tuple[int, str], str] = {}
        """Tables of recent searches' matches by (run, text), the most recent last."""
        self._n_searches = 0
        try:
            self.runs: list[RunInfo] = []
            seen: dict[str, str] = {}
            stores = [RunStore(run_dir) for run_dir in run_dirs]
            manifests = [store.read_manifest() for store in stores]
            labels = judge_labels(manifests)
            for index, (run_dir, store, manifest) in enumerate(
                zip(run_dirs, stores, manifests, strict=True)
            ):
                if manifest.run_id in seen:
                    raise ConfigError(
                        f"the same run {manifest.run_id!r} is given twice "
                        f"({seen[manifest.run_id]} and {run_dir})"
                    )
                seen[manifest.run_id] = str(run_dir)
                self._load_run(index, store.items_path, store.judgments_path)
                self.runs.append(
                    RunInfo(
                        index=index,
                        run_id=manifest.run_id,
                        path=str(run_dir),
                        # the configured name, unless another run of it ran elsewhere
                        judge=labels[index]
                        if labels[index] != judged_by(manifest)[0]
                        else manifest.config.judge,
                        benchmark=manifest.config.benchmark,
                        reconcile=manifest.config.reconcile,
                        manifest=manifest,
                    )
                )
            self._create_views()
            self._build_pairs()
            self.runs = [self._counted(run) for run in self.runs]
        except BaseException:
            self.close()
            raise
        if load_texts:
            threading.Thread(target=self._load_texts, name="judge-view-texts", daemon=True).start()
        else:
            self._load_texts()

    # -- loading ---------------------------------------------------------------------

    def _source(self, path: Path) -> Path | None:
        """The file to read for ``path``: itself, a copy of its complete lines when the
        last line is cut off (a run killed mid-write, or still writing), or None if empty."""
        size = path.stat().st_size if path.exists() else 0
        if size == 0:
            return None
        with path.open("rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return path
        # Copied into our own temporary folder: the run's file is never touched.
        source = self._tmp / f"{len(list(self._tmp.iterdir()))}-{path.name}"
        data = path.read_bytes()
        source.write_bytes(data[: data.rfind(b"\n") + 1])
        return source

    @staticmethod
    def _read_json(source: Path | None, columns: dict[str, str], object_size: int) -> str:
        """A ``read_json`` call over ``source`` allowing lines of ``object_size`` bytes, or
        an empty table of the same columns."""
        if source is None:
            typed = ", ".join(f"NULL::{t} AS {name}" for name, t in columns.items())
            return f"(SELECT {typed} WHERE false)"
        return (
            f"read_json({_literal(str(source))}, format='newline_delimited', "
            f"columns={_struct(columns)}, maximum_object_size={object_size})"
        )

    def _read_into(
        self,
        cur: duckdb.DuckDBPyConnection,
        table: str,
        select: str,
        files: tuple[Path | None, Path],
        columns: dict[str, str],
    ) -> None:
        """Create ``table`` from ``select``, a query over ``lines``: the ``columns`` of the
        JSON lines of ``files`` (the file to read, the run's file that errors name).

        The first try reads with DuckDB's default ``maximum_object_size`` (16 MiB; lines of
        up to twice that pass), and only when DuckDB rejects a longer line is the file
        read again, with :data:`_LONGEST_LINE`. Why not that limit at once: DuckDB reads a
        file in buffers of about twice the limit, one buffer per thread, so a 1 GiB limit
        read a 1 GB file on one core (bench/view_scale.py: 4.5 s to read 1,000,000
        judgments and their items instead of 2.3 s on two cores)."""
        duckdb = _duckdb()
        source, path = files

        def create(object_size: int) -> str:
            lines = self._read_json(source, columns, object_size)
            return f"CREATE OR REPLACE TABLE {table} AS WITH lines AS (FROM {lines}) {select}"

        try:
            try:
                cur.execute(create(_DEFAULT_LINE))
            except duckdb.InvalidInputException as exc:
                if "maximum_object_size" not in str(exc):
                    raise
                cur.execute(create(_LONGEST_LINE))
        except duckdb.Error as exc:
            raise DataError(_first_line(exc), path=str(path)) from exc

    def _load_run(self, run: int, items_path: Path, judgments_path: Path) -> None:
        """The columns the list needs (verdicts, statuses, labels, lengths) of one run,
        as tables ``items_{run}`` and ``judgments_{run}``; the texts are read later
        (:meth:`_load_texts`)."""
        files = (
            (self._source(items_path), items_path),
            (self._source(judgments_path), judgments_path),
        )
        self._sources.append(files)
        item_columns = {
            k: _ITEM_COLUMNS[k]
            for k in (
                "id",
                "benchmark",
                "kind",
                "category",
                "prompt",
                "labels",
                "response_a",
                "response_b",
                "response",
                "scores",
            )
        }
        judgment_columns = {
            k: _JUDGMENT_COLUMNS[k]
            for k in ("item_id", "swapped", "sample", "status", "verdict", "score", "probabilities")
        }
        # rowid is the line order: a table created from a file scan keeps its order
        # (preserve_insertion_order, on by default), and the texts, read later, line up.
        # (row_number() OVER () would number the lines on one thread.)
        self._read_into(
            self._con,
            f"items_{run}",
            f"""
            SELECT * EXCLUDE (n_a, n_b, n_tie), {_MAJORITY} AS label FROM (
                SELECT id, benchmark, coalesce(kind, 'pair') AS kind, category,
                       left({_PROMPT_TEXT}, 240) AS snippet,
                       {_vote_counts_sql("labels")},
                       length(coalesce(response_a, response)) AS len_a,
                       length(response_b) AS len_b,
                       abs(length(response_a) - length(response_b)) AS gap,
                       list_avg(list_transform(
                           list_filter(scores,
                                       lambda s: coalesce(s.aspect, 'overall') = 'overall'),
                           lambda s: s.score)) AS human_score
                FROM lines)
            """,
            files[0],
            item_columns,
        )
        self._read_into(
            self._con,
            f"judgments_{run}",
            """
            SELECT item_id, coalesce(swapped, false) AS swapped,
                   coalesce(sample, 0) AS sample, status,
                   CASE WHEN status = 'ok' THEN verdict END AS verdict, score,
                   probabilities.A AS p_a, probabilities.B AS p_b,
                   CASE WHEN probabilities.A IS NULL AND probabilities.B IS NULL
                             AND probabilities.tie IS NULL THEN NULL
                        ELSE coalesce(probabilities.tie, 0) END AS p_tie,
                   1 AS attempts
            FROM lines
            """,
            files[1],
            judgment_columns,
        )

    def _keep_latest(self, run: int) -> str:
        """The SQL source of run ``run``'s current judgments: the last line per ``(item_id,
        swapped, sample)`` where a key has several (a resumed run retries its errors), as
        table ``latest_{run}``; the table as read when no key repeats."""
        as_read = f"(SELECT {run}::INTEGER AS run, rowid AS line, * FROM judgments_{run})"
        (repeats,) = _one(
            self._con,
            f"SELECT count(*) > count(DISTINCT (item_id, swapped, sample)) FROM judgments_{run}",
            [],
        )
        if not repeats:
            return as_read
        self._con.execute(
            f"""
            CREATE TABLE latest_{run} AS
            SELECT * EXCLUDE (n) REPLACE (n AS attempts) FROM (
                SELECT *, count(*) OVER (PARTITION BY item_id, swapped, sample) AS n
                FROM {as_read}
                QUALIFY row_number() OVER (
                    PARTITION BY item_id, swapped, sample ORDER BY line DESC) = 1)
            ORDER BY line;
            DROP TABLE judgments_{run};
            """
        )
        return f"latest_{run}"

    def _create_views(self) -> None:
        """Views ``items`` and ``judgments`` over every run's tables (columns ``run`` and
        ``idx`` or ``line``, the line number, added); no copy is made."""
        items = " UNION ALL ".join(
            f"SELECT {run.index}::INTEGER AS run, rowid AS idx, * FROM items_{run.index}"
            for run in self.runs
        )
        judgments = " UNION ALL BY NAME ".join(
            f"SELECT * FROM {self._keep_latest(run.index)}" for run in self.runs
        )
        self._con.execute(f"CREATE VIEW items AS {items}; CREATE VIEW judgments AS {judgments}")

    def _load_texts(self) -> None:
        """Read every run's texts (prompts, responses, raw replies, usage) into DuckDB, one
        table per run and file so that rowid is the line order. Runs in a background thread
        after opening; until it is done the item page and the search wait."""
        with self._lock:
            cur = self._text_cursor = self._con.cursor()
        try:
            with cur:
                for run, (items, judgments) in enumerate(self._sources):
                    if self._closing:
                        return
                    self._read_into(
                        cur,
                        f"item_texts_{run}",
                        f"SELECT *, {_PROMPT_TEXT} AS prompt_text FROM lines",
                        items,
                        _ITEM_COLUMNS,
                    )
                    if self._closing:
                        return
                    self._read_into(
                        cur, f"judgment_texts_{run}", "FROM lines", judgments, _JUDGMENT_COLUMNS
                    )
        except Exception as exc:
            self._text_error = exc
        finally:
            self._texts_ready.set()

    def texts_ready(self, wait: float = 0.0) -> bool:
        """Whether the texts are in memory (waiting up to ``wait`` seconds)."""
        return self._texts_ready.wait(wait) and self._text_error is None

    def _build_pairs(self) -> None:
        policies = " ".join(f"WHEN {run.index} THEN {_literal(run.reconcile)}" for run in self.runs)
        worst = (
            "CASE WHEN 'error' IN (status_o, status_s) THEN 'error' "
            "WHEN 'unparsed' IN (status_o, status_s) THEN 'unparsed' ELSE 'ok' END"
        )
        # net_vote (JudgeBench): each ok order votes A = +1, B = -1, tie = 0; a failure 0.
        vote_o, vote_s = (
            f"CASE WHEN status_{side} = 'ok' THEN CASE verdict_{side} WHEN 'A' THEN 1 "
            f"WHEN 'B' THEN -1 ELSE 0 END ELSE 0 END"
            for side in ("o", "s")
        )
        # Probabilities of one order for average_probabilities: the judge's own where it
        # gave P(A) and P(B) (a missing tie is 0), else all mass on its verdict.
        filled = {
            (side, choice): (
                f"CASE WHEN p_a_{side} IS NOT NULL AND p_b_{side} IS NOT NULL "
                f"THEN coalesce(p_{choice}_{side}, 0) "
                f"ELSE coalesce((verdict_{side} = {_literal(verdict)})::DOUBLE, 0) END"
            )
            for side in ("o", "s")
            for choice, verdict in (("a", "A"), ("b", "B"), ("tie", "tie"))
        }
        per_order = ", ".join(
            f"{side}.{column} AS {column}_{side}"
            for side in ("o", "s")
            for column in ("status", "verdict", "p_a", "p_b", "p_tie", "score")
        )
        self._con.execute(
            f"""
            CREATE TABLE pairs AS
            WITH g AS (
                SELECT run, item_id, sample, o.status IS NOT NULL AS has_o,
                       s.status IS NOT NULL AS has_s, {per_order}
                FROM (SELECT * FROM judgments WHERE NOT swapped) o
                FULL JOIN (SELECT * FROM judgments WHERE swapped) s
                USING (run, item_id, sample)
            ), f AS (
                SELECT g.*,
                       CASE run {policies} END AS policy,
                       has_o AND has_s AS both_orders,
                       ({filled["o", "a"]} + {filled["s", "a"]}) / 2 AS fa,
                       ({filled["o", "b"]} + {filled["s", "b"]}) / 2 AS fb,
                       ({filled["o", "tie"]} + {filled["s", "tie"]}) / 2 AS ft
                FROM g
            ), v AS (
                SELECT f.*,
                       CASE WHEN NOT both_orders OR policy = 'first_order'
                                THEN CASE WHEN has_o THEN status_o ELSE status_s END
                            WHEN policy = 'net_vote' AND 'ok' IN (status_o, status_s)
                                THEN 'ok'
                            WHEN policy = 'both_orders' AND status_o = 'ok'
                                 AND status_s = 'ok' AND verdict_o IS DISTINCT FROM verdict_s
                                THEN 'inconsistent'
                            ELSE {worst} END AS pair_status,
                       sign({vote_o} + {vote_s}) AS net,
                       greatest(fa, fb, ft) AS top
                FROM f
            ), w AS (
                SELECT v.*,
                       (abs(fa - top) <= 1e-8 + 1e-5 * abs(top))::INTEGER AS close_a,
                       (abs(fb - top) <= 1e-8 + 1e-5 * abs(top))::INTEGER AS close_b,
                       (abs(ft - top) <= 1e-8 + 1e-5 * abs(top))::INTEGER AS close_t
                FROM v
            ), x AS (
                SELECT w.*,
                       CASE WHEN pair_status <> 'ok' THEN NULL
                            WHEN NOT both_orders OR policy = 'first_order'
                                THEN CASE WHEN has_o THEN verdict_o ELSE verdict_s END
                            WHEN policy = 'net_vote'
                                THEN CASE net WHEN 1 THEN 'A' WHEN -1 THEN 'B' ELSE 'tie' END
                            WHEN policy = 'both_orders' THEN verdict_o
                            WHEN policy = 'inconsistent_tie'
                                THEN CASE WHEN verdict_o IS NOT DISTINCT FROM verdict_s
                                          THEN verdict_o ELSE 'tie' END
                            WHEN close_a + close_b + close_t > 1 THEN 'tie'
                            WHEN close_a = 1 THEN 'A'
                            WHEN close_b = 1 THEN 'B'
                            ELSE 'tie'
                       END AS pair_verdict
                FROM w
            )
            SELECT x.run, x.item_id, x.sample, i.idx, i.kind, i.benchmark, i.category,
                   i.len_a, i.len_b, i.gap, i.label, i.human_score,
                   x.policy, x.has_o, x.has_s, x.status_o, x.status_s,
                   x.verdict_o, x.verdict_s, x.pair_status, x.pair_verdict,
                   CASE WHEN x.pair_status = 'ok' THEN x.pair_verdict
                        ELSE x.pair_status END AS outcome,
                   CASE WHEN x.verdict_o IS NOT NULL AND x.verdict_s IS NOT NULL
                        THEN x.verdict_o = x.verdict_s END AS consistent,
                   coalesce(x.verdict_o = 'A' AND x.verdict_s = 'B'
                            OR x.verdict_o = 'B' AND x.verdict_s = 'A', false) AS flip,
                   CASE WHEN x.p_a_o IS NULL THEN x.p_a_s WHEN x.p_a_s IS NULL THEN x.p_a_o
                        ELSE (x.p_a_o + x.p_a_s) / 2 END AS p_a,
                   CASE WHEN x.p_b_o IS NULL THEN x.p_b_s WHEN x.p_b_s IS NULL THEN x.p_b_o
                        ELSE (x.p_b_o + x.p_b_s) / 2 END AS p_b,
                   CASE WHEN x.p_tie_o IS NULL THEN x.p_tie_s
                        WHEN x.p_tie_s IS NULL THEN x.p_tie_o
                        ELSE (x.p_tie_o + x.p_tie_s) / 2 END AS p_tie,
                   x.score_o, x.score_s
            FROM x JOIN items i ON i.run = x.run AND i.id = x.item_id
            """
        )

    def _counted(self, run: RunInfo) -> RunInfo:
        con = self._con
        (n_items,) = _one(con, "SELECT count(*) FROM items WHERE run = ?", [run.index])
        (n_pairs,) = _one(con, "SELECT count(*) FROM pairs WHERE run = ?", [run.index])
        statuses = con.execute(
            "SELECT status, count(*), sum(attempts) FROM judgments WHERE run = ? GROUP BY status",
            [run.index],
        ).fetchall()
        counts = {str(status): int(n) for status, n, _ in statuses}
        return run.model_copy(
            update={
                "n_items": int(n_items),
                "n_pairs": int(n_pairs),
                "n_judgments": sum(counts.values()),
                "n_lines": sum(int(lines) for _, _, lines in statuses),
                "status_counts": counts,
            }
        )

    def close(self) -> None:
        """Close the database and remove its temporary folder."""
        self._closing = True
        try:
            if self._text_cursor is not None and not self._texts_ready.is_set():
                self._text_cursor.interrupt()
                self._texts_ready.wait(30)
            self._con.close()
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- queries ---------------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            cursor = self._con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def run_index(self, run_id: str | None) -> int:
        """The index of the run ``run_id`` (the first run for ``None``)."""
        if run_id is None:
            return 0
        for run in self.runs:
            if run.run_id == run_id:
                return run.index
        open_ids = ", ".join(r.run_id for r in self.runs)
        raise ConfigError(
            f"run {run_id!r} is not open in this viewer (open: {open_ids}); start "
            "`judge view` on its folder"
        )

    def categories(self, run: int, limit: int = 500) -> list[str]:
        """The run's categories (at most ``limit``), most frequent first."""
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT category FROM pairs WHERE run = ? AND category IS NOT NULL "
                "GROUP BY category ORDER BY count(*) DESC, category LIMIT ?",
                [run, limit],
            ).fetchall()
        return [str(r[0]) for r in rows]

    def _where(self, f: ItemFilter, run: int) -> tuple[str, list[Any]]:
        clauses = ["p.run = ?"]
        params: list[Any] = [run]
        if f.disagree:
            clauses.append("p.label IS NOT NULL AND p.outcome IS DISTINCT FROM p.label")
        if f.position == "flip":
            clauses.append("p.flip")
        elif f.position == "inconsistent":
            clauses.append("p.consistent = false")
        elif f.position == "consistent":
            clauses.append("p.consistent")
        if f.status == "failed":
            clauses.append(
                "(p.status_o IN ('unparsed', 'error') OR p.status_s IN ('unparsed', 'error'))"
            )
        elif f.status is not None:
            clauses.append("(p.status_o = ? OR p.status_s = ?)")
            params += [f.status, f.status]
        if f.verdict is not None:
            clauses.append("p.outcome = ?")
            params.append(f.verdict)
        if f.label == "none":
            clauses.append("p.label IS NULL")
        elif f.label is not None:
            clauses.append("p.label = ?")
            params.append(f.label)
        if f.category is not None:
            clauses.append("p.category = ?")
            params.append(f.category)
        if f.gap_min is not None:
            clauses.append("p.gap >= ?")
            params.append(f.gap_min)
        if f.gap_max is not None:
            clauses.append("p.gap <= ?")
            params.append(f.gap_max)
        if f.judges_disagree:
            clauses.append(
                "EXISTS (SELECT 1 FROM pairs o WHERE o.run <> p.run AND o.item_id = p.item_id "
                "AND o.sample = p.sample AND o.outcome IS DISTINCT FROM p.outcome)"
            )
        if f.q:
            clauses.append(f"p.item_id IN (SELECT item_id FROM {self._search(run, f.q)})")
        return " AND ".join(clauses), params

    def list_items(self, f: ItemFilter) -> ListPage:
        """One page of the items matching ``f``, and how many match in all."""
        run = self.run_index(f.run)
        where, params = self._where(f, run)
        direction = "DESC" if f.desc else "ASC"
        order = f"{_SORTS[f.sort]} {direction} NULLS LAST, p.idx, p.sample"
        with self._cursor() as cur:
            total, *by_status = _one(
                cur,
                f"""SELECT count(*),
                    {
                    ", ".join(
                        f"coalesce(sum(coalesce((p.status_o = '{s}')::INTEGER, 0)"
                        f" + coalesce((p.status_s = '{s}')::INTEGER, 0)), 0)"
                        for s in ("ok", "unparsed", "error")
                    )
                }
                    FROM pairs p WHERE {where}""",
                params,
            )
            n_pages = max(1, -(-int(total) // PAGE_SIZE))
            page = min(f.page, n_pages)
            cursor = cur.execute(
                f"""
                SELECT p.item_id, p.sample, p.kind, p.category, p.benchmark,
                       i.snippet, p.len_a, p.len_b, p.gap, p.label,
                       p.human_score, p.verdict_o, p.verdict_s, p.status_o, p.status_s,
                       p.outcome, p.p_a, p.p_b, p.p_tie, p.score_o, p.score_s
                FROM (SELECT p.* FROM pairs p WHERE {where} ORDER BY {order}
                      LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}) p
                JOIN items i ON i.run = p.run AND i.id = p.item_id
                ORDER BY {order}
                """,
                params,
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
            others: dict[tuple[str, int], dict[int, str | None]] = {}
            if len(self.runs) > 1 and rows:
                keys = [r["item_id"] for r in rows]
                found = cur.execute(
                    "SELECT run, item_id, sample, outcome FROM pairs "
                    "WHERE run <> ? AND list_contains(?, item_id)",
                    [run, keys],
                ).fetchall()
                for other, item_id, sample, outcome in found:
                    others.setdefault((item_id, sample), {})[int(other)] = outcome
        return ListPage(
            rows=tuple(
                ListRow(
                    **{
                        k: (v if v is None or not isinstance(v, float) else float(v))
                        for k, v in r.items()
                    },
                    others=others.get((r["item_id"], r["sample"]), {}),
                )
                for r in rows
            ),
            total=int(total),
            judgments={
                s: int(n) for s, n in zip(("ok", "unparsed", "error"), by_status, strict=True)
            },
            page=page,
            n_pages=n_pages,
        )

    def _search(self, run: int, q: str) -> str:
        """A table of the ids of run ``run``'s items whose id, prompt, responses or current
        judgments' raw replies contain ``q`` (case-insensitive), once the texts are loaded
        (waiting for them if need be). The last :data:`_SEARCHES_KEPT` searches are kept:
        a list page counts and pages the same set, and the next page of a search is
        another query on the same set, so each search scans the texts once."""
        with self._search_lock:
            table = self._searches.pop((run, q), None)
            if table is None:
                self._wait_for_texts()
                table = f"search_{self._n_searches}"
                self._n_searches += 1
                matches = [_contains(column, q) for column in _SEARCHED]
                raw, pattern = _contains("t.raw", q)
                with self._cursor() as cur:
                    cur.execute(
                        f"""
                        CREATE TABLE {table} AS
                        SELECT id AS item_id FROM item_texts_{run}
                        WHERE {" OR ".join(sql for sql, _ in matches)}
                        UNION
                        SELECT t.item_id FROM judgment_texts_{run} t
                        SEMI JOIN judgments j ON j.run = {run} AND j.line = t.rowid
                        WHERE {raw}
                        """,
                        [p for _, p in matches] + [pattern],
                    )
                    while len(self._searches) >= _SEARCHES_KEPT:
                        oldest = next(iter(self._searches))
                        cur.execute(f"DROP TABLE {self._searches.pop(oldest)}")
            self._searches[run, q] = table  # the most recent last
        return table

    def _wait_for_texts(self) -> None:
        self._texts_ready.wait()
        if self._text_error is not None:
            raise DataError(f"cannot read the runs' texts: {_first_line(self._text_error)}")

    def item(self, run_id: str | None, item_id: str) -> ItemView:
        """The item ``item_id`` of run ``run_id``, with its judgments under every open run."""
        run = self.run_index(run_id)
        self._wait_for_texts()
        with self._cursor() as cur:
            core = _dicts(cur, "SELECT * FROM items WHERE run = ? AND id = ?", [run, item_id])
            if not core:
                raise ConfigError(f"item {item_id!r} is not in run {self.runs[run].run_id!r}")
            found = _dicts(cur, f"SELECT * FROM item_texts_{run} WHERE rowid = ?", [core[0]["idx"]])
            current = _dicts(
                cur,
                "SELECT * FROM judgments WHERE item_id = ? ORDER BY run, sample, swapped",
                [item_id],
            )
            judgments = []
            for other in sorted({int(j["run"]) for j in current}):
                lines = {int(j["line"]): j for j in current if j["run"] == other}
                texts = _dicts(
                    cur,
                    f"SELECT rowid AS line, * EXCLUDE (probabilities, scores), "
                    f"scores[1] AS score_a, scores[2] AS score_b "
                    f"FROM judgment_texts_{other} WHERE list_contains(?, rowid)",
                    [list(lines)],
                )
                judgments += [{**text, **lines[int(text["line"])]} for text in texts]
            pairs = _dicts(
                cur, "SELECT * FROM pairs WHERE item_id = ? ORDER BY run, sample", [item_id]
            )
        judgments.sort(key=lambda j: (j["run"], j["sample"], j["swapped"]))
        return ItemView(
            run=run,
            item=_json_ready(found[0]) if found else {},
            label=None if core[0]["label"] is None else str(core[0]["label"]),
            judgments=tuple(_json_ready(j) for j in judgments),
            pairs=tuple(_json_ready(p) for p in pairs),
        )


def _vote_counts_sql(labels: str) -> str:
    """SQL columns ``n_a``, ``n_b``, ``n_tie``: the votes of a list of labels per verdict."""
    return ", ".join(
        f"len(list_filter({labels}, lambda x: x.verdict = {_literal(v)})) AS {name}"
        for v, name in (("A", "n_a"), ("B", "n_b"), ("tie", "n_tie"))
    )


_MAJORITY: Final = """(CASE WHEN coalesce(greatest(n_a, n_b, n_tie), 0) = 0 THEN NULL
    WHEN (n_a = greatest(n_a, n_b, n_tie))::INTEGER + (n_b = greatest(n_a, n_b, n_tie))::INTEGER
         + (n_tie = greatest(n_a, n_b, n_tie))::INTEGER > 1 THEN NULL
    WHEN n_a > n_b AND n_a > n_tie THEN 'A' WHEN n_b > n_tie THEN 'B' ELSE 'tie' END)"""
"""SQL for :func:`judge.records.majority` over the vote counts: the unique most common
verdict, else NULL."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _one(cur: Any, sql: str, params: list[Any]) -> tuple[Any, ...]:
    row = cur.execute(sql, params).fetchone()
    assert row is not None  # aggregates always return a row
    return tuple(row)


def _dicts(cur: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = cur.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json_ready(row: dict[str, Any]) -> dict[str, JsonValue]:
    """DuckDB values as JSON values (JSON columns parsed, structs as dicts)."""
    import json

    out: dict[str, JsonValue] = {}
    for key, value in row.items():
        if key in ("prompt", "metadata", "members") and isinstance(value, str):
            value = json.loads(value)
        out[key] = _plain(value)
    return out


def _plain(value: Any) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)
