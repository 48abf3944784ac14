"""Runs and benchmark labels as one tidy frame: one row per judgment.

:func:`load_frame` reads run folders; :func:`build_frame` does the same from records
already in memory. Every row carries the judgment (order, sample, status, canonical
verdict, verdict as presented, probabilities, scores, usage) beside the item's facts
(benchmark, category, response lengths, which is longer, models) and its human labels:
the majority or gold ``label``, one ``human:<annotator>`` column per annotator, and
``human_score`` for single-answer items.

:func:`pair_frame` combines the two presentation orders of a pair into one pair
verdict under a declared reconcile policy. Unparsed and errored judgments never
become ties: they keep their status, and every table counts them beside its figures.

Verdict columns are ordered categoricals ``B < tie < A``, so ``.cat.codes`` gives the
ordinal codes 0, 1, 2 (and -1 for missing) that the metrics work on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from judge.columns import CRITERION_PREFIX as CRITERION_PREFIX
from judge.columns import MARKDOWN_COLUMNS as MARKDOWN_COLUMNS
from judge.columns import MEMBER_PREFIX as MEMBER_PREFIX
from judge.columns import USAGE_COLUMNS, ItemColumns, item_columns, judgment_columns
from judge.columns import markdown_counts as markdown_counts
from judge.columns import member_statuses as member_statuses
from judge.errors import ConfigError, DataError, did_you_mean
from judge.records import (
    ORDER_UNKNOWN_KEY,
    Judgment,
    PairItem,
    SingleItem,
    judge_labels,
    judged_by,
)

Policy = Literal[
    "inconsistent_tie", "average_probabilities", "first_order", "net_vote", "both_orders"
]
POLICIES: Final[tuple[Policy, ...]] = (
    "inconsistent_tie",
    "average_probabilities",
    "first_order",
    "net_vote",
    "both_orders",
)
"""The reconcile policies, as in :class:`judge.records.RunConfig`."""

VERDICT_ORDER: Final[tuple[str, str, str]] = ("B", "tie", "A")
"""Verdicts in ordinal order (``B < tie < A``): code 0, 1, 2."""
STATUSES: Final[tuple[str, str, str, str]] = ("ok", "unparsed", "error", "inconsistent")
"""Judgment statuses, and ``inconsistent``: a pair whose two orders disagree under the
``both_orders`` policy (no agreed verdict; never a judgment's status)."""
FAILURE_STATUSES: Final[tuple[str, str]] = ("unparsed", "error")
ORDERS: Final[tuple[str, str]] = ("original", "swapped")
SHOWN: Final[tuple[str, str, str]] = ("first", "second", "tie")
HUMAN_PREFIX: Final = "human:"
"""Prefix of the per-annotator label columns (``human:annotator1``, ``human:gold``)."""
HUMAN_CRITERION_PREFIX: Final = "human_criterion_"
"""Prefix of the mean human score on an aspect named like a judge criterion."""
CODE_B: Final = 0
CODE_TIE: Final = 1
CODE_A: Final = 2
CODE_MISSING: Final = -1
STATUS_INCONSISTENT: Final = 3
"""Status code of a pair with no agreed verdict under ``both_orders``."""

VERDICT_DTYPE: Final = pd.CategoricalDtype(list(VERDICT_ORDER), ordered=True)
STATUS_DTYPE: Final = pd.CategoricalDtype(list(STATUSES))
ORDER_DTYPE: Final = pd.CategoricalDtype(list(ORDERS))
SHOWN_DTYPE: Final = pd.CategoricalDtype(list(SHOWN))
LONGER_DTYPE: Final = pd.CategoricalDtype(["B", "A"], ordered=True)
KIND_DTYPE: Final = pd.CategoricalDtype(["pair", "single"])
POLICY_DTYPE: Final = pd.CategoricalDtype(list(POLICIES))

ITEM_COLUMNS: Final[tuple[str, ...]] = (
    "benchmark",
    "category",
    "kind",
    "prompt_key",
    "len_a",
    "len_b",
    "longer",
    "model_a",
    "model_b",
    "model",
    "label",
    "n_annotators",
    "human_score",
    "aspect",
    "scale_low",
    "scale_high",
    "turn",
    *MARKDOWN_COLUMNS,
)
"""Item facts copied onto every judgment row (plus the ``human:*`` columns)."""

SCORE_COLUMNS: Final[tuple[str, ...]] = ("p_a", "p_b", "p_tie", "score", "score_a", "score_b")
"""A judgment's probabilities and scores (floats, NaN where absent)."""
NUMERIC_COLUMNS: Final[tuple[str, ...]] = (*SCORE_COLUMNS, *USAGE_COLUMNS)
"""Judgment columns copied onto the frame as they are read (:mod:`judge.columns`)."""

JUDGMENT_COLUMNS: Final[tuple[str, ...]] = (
    "run",
    "judge",
    "reconcile",
    "item_id",
    "order",
    "swapped",
    "sample",
    "status",
    "verdict",
    "verdict_shown",
    *NUMERIC_COLUMNS,
    "judge_scale_low",
    "judge_scale_high",
    "order_free",
    "order_unknown",
)

_CATEGORICAL = (
    "run",
    "judge",
    "item_id",
    "benchmark",
    "category",
    "prompt_key",
    "model_a",
    "model_b",
    "model",
    "aspect",
)


def human_columns(frame: pd.DataFrame) -> list[str]:
    """The per-annotator label columns of a frame, in column order.

    >>> human_columns(pd.DataFrame(columns=["label", "human:a1", "human:a2"]))
    ['human:a1', 'human:a2']
    """
    return [c for c in frame.columns if str(c).startswith(HUMAN_PREFIX)]


def criterion_columns(frame: pd.DataFrame) -> list[str]:
    """A multi-criterion judge's score columns (``criterion_<name>``), in column order.

    >>> criterion_columns(pd.DataFrame(columns=["score", "criterion_fluency"]))
    ['criterion_fluency']
    """
    return [c for c in frame.columns if str(c).startswith(CRITERION_PREFIX)]


def human_criterion_columns(frame: pd.DataFrame) -> list[str]:
    """The mean human score per criterion (``human_criterion_<name>``), where the items
    carry human scores of an aspect named like one of the judge's criteria.

    >>> human_criterion_columns(pd.DataFrame(columns=["criterion_a", "human_criterion_a"]))
    ['human_criterion_a']
    """
    return [c for c in frame.columns if str(c).startswith(HUMAN_CRITERION_PREFIX)]


def member_columns(frame: pd.DataFrame) -> list[str]:
    """A jury run's per-member status columns, in column order.

    >>> member_columns(pd.DataFrame(columns=["status", "member:a", "member:b"]))
    ['member:a', 'member:b']
    """
    return [c for c in frame.columns if str(c).startswith(MEMBER_PREFIX)]


def majority_codes(counts: np.ndarray) -> np.ndarray:
    """:func:`judge.records.majority` over rows of vote counts (one column per verdict
    code): the unique most common code per row, else :data:`CODE_MISSING`.

    >>> majority_codes(np.array([[1, 0, 1], [0, 0, 2], [0, 0, 0]])).tolist()
    [-1, 2, -1]
    """
    top = counts.max(axis=1) if len(counts) else np.zeros(0)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    return np.where(unique & (top > 0), counts.argmax(axis=1), CODE_MISSING)


def verdict_codes(values: pd.Series) -> np.ndarray:
    """Ordinal codes of a verdict column: B=0, tie=1, A=2, missing=-1.

    >>> verdict_codes(pd.Series(["A", None, "tie", "B"], dtype=VERDICT_DTYPE)).tolist()
    [2, -1, 1, 0]
    """
    if not isinstance(values.dtype, pd.CategoricalDtype) or list(values.dtype.categories) != list(
        VERDICT_ORDER
    ):
        values = values.astype(VERDICT_DTYPE)
    return np.asarray(values.cat.codes, dtype=np.int8)


def rows_of_kind(frame: pd.DataFrame, kind: Literal["pair", "single"]) -> pd.DataFrame:
    """The judgments of pair items, or of single-answer items.

    >>> rows_of_kind(pd.DataFrame({"kind": ["pair", "single", "pair"]}), "pair").index.tolist()
    [0, 2]
    """
    return frame[(frame["kind"] == kind).to_numpy()]


FrameKind = Literal["judgments", "pairs"]


def expect_frame(frame: pd.DataFrame, kind: FrameKind, function: str) -> None:
    """Raise :class:`~judge.errors.ConfigError` when ``function`` got the other frame.

    The judgment frame (:func:`load_frame`: one row per order, column ``order``) and
    the pair frame (:func:`pair_frame`: the orders combined, column ``n_orders``) look
    alike; given the wrong one an analysis would count orders as pairs (or find no
    orders) and return a plausible wrong figure. A frame with neither column (a hand-made
    one) is let through.

    >>> expect_frame(pd.DataFrame(columns=["order"]), "pairs", "agreement_table")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judge.errors.ConfigError: agreement_table takes the pair frame (pair_frame(frame): ...
    >>> expect_frame(None, "pairs", "kappa")  # type: ignore[arg-type]
    Traceback (most recent call last):
    judge.errors.ConfigError: kappa takes the pair frame (a pandas DataFrame), not NoneType
    """
    if not isinstance(frame, pd.DataFrame):
        what = "the pair frame" if kind == "pairs" else "the judgment frame"
        raise ConfigError(
            f"{function} takes {what} (a pandas DataFrame), not {type(frame).__name__}"
        )
    columns = frame.columns
    if kind == "pairs" and "order" in columns and "n_orders" not in columns:
        raise ConfigError(
            f"{function} takes the pair frame (pair_frame(frame): the two orders "
            "combined, one row per pair), not the judgment frame (one row per order)"
        )
    if kind == "judgments" and "n_orders" in columns and "order" not in columns:
        raise ConfigError(
            f"{function} takes the judgment frame (load_frame: one row per judgment, "
            "the orders apart), not the pair frame (pair_frame: one row per pair)"
        )


def expect_columns(
    frame: pd.DataFrame, names: Sequence[str] | str, function: str, *, argument: str = "by"
) -> list[str]:
    """The column names an analysis was given (``by=``: one name or several), as a list,
    after checking that ``frame`` has each; else a :class:`~judge.errors.ConfigError`
    naming the missing one and listing the columns ``frame`` has (a pandas ``KeyError``
    named the column only, and a lone string was taken letter by letter).

    >>> expect_columns(pd.DataFrame(columns=["run", "judge"]), "run", "agreement_table")
    ['run']
    >>> expect_columns(pd.DataFrame(columns=["run", "judge"]), ("rnu",), "agreement_table")
    Traceback (most recent call last):
    ...
    judge.errors.ConfigError: agreement_table: by= names 'rnu', a column this frame does not have; did you mean 'run'? (its columns: run, judge)
    """  # noqa: E501
    wanted = [names] if isinstance(names, str) else list(names)
    have = [str(c) for c in frame.columns]
    for name in wanted:
        if name not in frame.columns:
            raise ConfigError(
                f"{function}: {argument}= names {name!r}, a column this frame does not have"
                f"{did_you_mean(str(name), have)} (its columns: {', '.join(have)})"
            )
    return wanted


def expect_choice(value: object, choices: Sequence[object], argument: str, function: str) -> None:
    """Raise :class:`~judge.errors.ConfigError` unless ``value`` is one of ``choices``: an
    unknown option is an error, never a silent fallback to some default branch.

    >>> expect_choice("quality", ("length", "quality"), "gap", "position_by_gap")
    >>> expect_choice("bad", ("length", "quality"), "gap", "position_by_gap")
    Traceback (most recent call last):
    ...
    judge.errors.ConfigError: position_by_gap: gap must be one of 'length', 'quality', not 'bad'
    """
    # the type first: an array or a frame compared with `==` has no single truth value
    if not any(isinstance(value, type(c)) and value == c for c in choices):
        raise ConfigError(
            f"{function}: {argument} must be one of {', '.join(map(repr, choices))}, not {value!r}"
        )


_ITEM_CATEGORICAL: Final = (
    "benchmark",
    "category",
    "prompt_key",
    "model_a",
    "model_b",
    "model",
    "aspect",
)


def _item_table(items: Sequence[PairItem | SingleItem]) -> pd.DataFrame:
    """One row per item (``item_id`` and the :data:`ITEM_COLUMNS`, then ``human:*``)."""
    return _item_table_of(item_columns(items))


def _item_table_of(columns: ItemColumns) -> pd.DataFrame:
    """:func:`_item_table` from :func:`judge.columns.item_columns` or
    :func:`judge.columns.read_items`, computed on whole columns."""
    items, labels, scores = columns.items, columns.labels, columns.scores
    n = len(items)
    pair = (items["kind"] == "pair").to_numpy()
    len_a = items["len_a"].to_numpy(dtype=np.float64)
    len_b = items["len_b"].to_numpy(dtype=np.float64)
    longer = np.where(len_a > len_b, 1, np.where(len_b > len_a, 0, -1)).astype(np.int8)
    longer[~pair] = -1
    # the majority label: the unique most common vote, else none (records.majority)
    rows = labels["row"].to_numpy(dtype=np.int64)
    votes = verdict_codes(pd.Series(labels["verdict"].to_numpy(dtype=object)))
    counts = np.zeros((n, 3))
    np.add.at(counts, (rows, votes), 1)
    label = majority_codes(counts).astype(np.int8)
    annotators = np.zeros(n, dtype=np.int64)
    for long in (labels, scores):
        distinct = long.drop_duplicates(["row", "annotator"])["row"].to_numpy(dtype=np.int64)
        annotators += np.bincount(distinct, minlength=n)[:n]
    # the mean score on the item's own aspect (SingleItem.human_score)
    aspect = items["aspect"].to_numpy(dtype=object)
    score_rows = scores["row"].to_numpy(dtype=np.int64)
    own = scores[(scores["aspect"].to_numpy(dtype=object) == aspect[score_rows])]
    score_rows = own["row"].to_numpy(dtype=np.int64)
    total = np.bincount(score_rows, weights=own["score"].to_numpy(dtype=float), minlength=n)
    number = np.bincount(score_rows, minlength=n)
    human_score = np.full(n, np.nan)
    scored = number[:n] > 0
    human_score[scored] = total[:n][scored] / number[:n][scored]
    table = pd.DataFrame(
        {
            "item_id": items["item_id"].to_numpy(dtype=object),
            "benchmark": items["benchmark"].to_numpy(dtype=object),
            "category": items["category"].to_numpy(dtype=object),
            "kind": items["kind"].to_numpy(dtype=object),
            "prompt_key": [
                hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
                for text in items["prompt_text"].tolist()
            ],
            "len_a": len_a,
            "len_b": len_b,
            "longer": pd.Categorical.from_codes(longer, dtype=LONGER_DTYPE),
            "model_a": items["model_a"].to_numpy(dtype=object),
            "model_b": items["model_b"].to_numpy(dtype=object),
            "model": items["model"].to_numpy(dtype=object),
            "label": pd.Categorical.from_codes(label, dtype=VERDICT_DTYPE),
            "n_annotators": annotators,
            "human_score": human_score,
            "aspect": aspect,
            "scale_low": items["scale_low"].to_numpy(dtype=np.float64),
            "scale_high": items["scale_high"].to_numpy(dtype=np.float64),
            "turn": items["turn"].to_numpy(dtype=np.float64)
            if "turn" in items
            else np.full(n, np.nan),
            **{
                name: items[name].to_numpy(dtype=np.float64)
                if name in items
                else np.full(n, np.nan)
                for name in MARKDOWN_COLUMNS
            },
        }
    )
    # one column per annotator (first-seen order), holding that annotator's last vote
    last = labels.drop_duplicates(["row", "annotator"], keep="last")
    for annotator in pd.unique(labels["annotator"]):
        mine = last[(last["annotator"] == annotator).to_numpy()]
        codes = np.full(n, CODE_MISSING, dtype=np.int8)
        codes[mine["row"].to_numpy(dtype=np.int64)] = verdict_codes(
            pd.Series(mine["verdict"].to_numpy(dtype=object))
        )
        table[HUMAN_PREFIX + str(annotator)] = pd.Categorical.from_codes(codes, dtype=VERDICT_DTYPE)
    # the mean human score per aspect: compared with a multi-criterion judge's
    # criterion of the same name (dropped in _assemble where the judge has no such criterion)
    for aspect_name in pd.unique(scores["aspect"]):
        mine = scores[(scores["aspect"] == aspect_name).to_numpy()]
        rows_of = mine["row"].to_numpy(dtype=np.int64)
        total = np.bincount(rows_of, weights=mine["score"].to_numpy(dtype=float), minlength=n)
        number = np.bincount(rows_of, minlength=n)[:n]
        mean = np.full(n, np.nan)
        mean[number > 0] = total[:n][number > 0] / number[number > 0]
        table[HUMAN_CRITERION_PREFIX + str(aspect_name)] = mean
    if table["item_id"].duplicated().any():
        dup = table.loc[table["item_id"].duplicated(), "item_id"].iloc[0]
        raise DataError(f"duplicate item id {dup!r} in the run's items")
    # categorical here, so spreading the facts over the judgments copies codes only
    for column in _ITEM_CATEGORICAL:
        table[column] = table[column].astype("category")
    return table


def build_frame(
    items: Sequence[PairItem | SingleItem],
    judgments: Sequence[Judgment],
    *,
    run: str,
    reconcile: Policy = "inconsistent_tie",
    judge_scale: tuple[float, float] | None = None,
    order_free: bool = False,
    order_unknown: bool = False,
) -> pd.DataFrame:
    """The tidy frame of one run from its items and (current) judgments.

    ``judge_scale`` is the lowest and highest score the judge gives (its preset's
    ``scale``; ``judge_spec["scale"]`` in the manifest), kept in ``judge_scale_low`` /
    ``judge_scale_high`` so single-answer figures can put both on the item's scale.
    ``order_free`` marks a judge that scores each response alone (a reward model,
    :func:`order_free_judge`): its verdict cannot depend on the presentation order.
    ``order_unknown`` marks judgments whose presentation order was not recorded (an
    AlpacaEval import, :func:`order_unknown_judge`): their ``verdict_shown`` is missing
    and no position-bias figure counts them.

    Raises :class:`~judge.errors.DataError` if a judgment names an item the run
    does not hold.
    """
    return _assemble(
        _item_table(items),
        judgment_columns(judgments),
        run=run,
        reconcile=reconcile,
        judge_scale=judge_scale,
        order_free=order_free,
        order_unknown=order_unknown,
    )


def _assemble(
    item_table: pd.DataFrame,
    columns: pd.DataFrame,
    *,
    run: str,
    reconcile: Policy,
    judge_scale: tuple[float, float] | None,
    order_free: bool = False,
    order_unknown: bool = False,
) -> pd.DataFrame:
    """The tidy frame from the item table and :func:`judge.columns.judgment_columns`
    (or :func:`judge.columns.read_judgments`: the same columns)."""
    n = len(columns)
    swapped = columns["swapped"].to_numpy(dtype=bool)
    status = pd.Categorical(columns["status"], dtype=STATUS_DTYPE)
    verdict = pd.Categorical(columns["verdict"], dtype=VERDICT_DTYPE)
    codes = np.where(np.asarray(status.codes) == STATUSES.index("ok"), verdict.codes, -1)
    verdict = pd.Categorical.from_codes(codes.astype(np.int8), dtype=VERDICT_DTYPE)
    item_ids = pd.Categorical(columns["item_id"])  # a no-op where it is one already
    data: dict[str, Any] = {
        "run": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[run] if n else []),
        "judge": pd.Categorical(columns["judge"]),
        "reconcile": pd.Categorical.from_codes(
            np.full(n, POLICIES.index(reconcile), dtype=np.int8), dtype=POLICY_DTYPE
        ),
        "item_id": item_ids,
        "order": pd.Categorical.from_codes(swapped.astype(np.int8), dtype=ORDER_DTYPE),
        "swapped": swapped,
        "sample": columns["sample"].to_numpy(dtype=np.int64),
        "status": status,
        "verdict": verdict,
        # the order shown is unknown: so is which side was first
        "verdict_shown": shown_verdicts(
            np.full(n, CODE_MISSING) if order_unknown else codes, swapped
        ),
        **{name: columns[name].to_numpy() for name in NUMERIC_COLUMNS},
        "judge_scale_low": np.full(n, judge_scale[0] if judge_scale else np.nan),
        "judge_scale_high": np.full(n, judge_scale[1] if judge_scale else np.nan),
        "order_free": np.full(n, order_free),
        "order_unknown": np.full(n, order_unknown),
    }
    for name in columns.columns:
        if str(name).startswith(MEMBER_PREFIX):
            data[name] = pd.Categorical(columns[name], dtype=STATUS_DTYPE)
    for name in columns.columns:
        if str(name).startswith(CRITERION_PREFIX):
            data[name] = columns[name].to_numpy(dtype=float)
    frame = pd.DataFrame(data)
    id_codes = np.asarray(item_ids.codes, dtype=np.int64)
    position = pd.Index(item_table["item_id"]).get_indexer(item_ids.categories)[id_codes]
    if (position < 0).any():
        missing = sorted({str(item_ids[i]) for i in np.flatnonzero(position < 0)})
        raise DataError(
            f"run {run!r}: {len(missing)} judged item id(s) not among the run's items, "
            f"e.g. {missing[:3]}"
        )
    unused = [
        c
        for c in human_criterion_columns(item_table)
        if CRITERION_PREFIX + c.removeprefix(HUMAN_CRITERION_PREFIX) not in frame
    ]
    item_rows = item_table.drop(columns=["item_id", *unused]).iloc[position].reset_index(drop=True)
    for column in _ITEM_CATEGORICAL:  # only the values of the judged items, as ever
        item_rows[column] = item_rows[column].cat.remove_unused_categories()
    frame = pd.concat([frame, item_rows], axis=1)
    return _finish(frame)


def shown_verdicts(codes: np.ndarray, swapped: np.ndarray) -> pd.Categorical:
    """Canonical verdict codes -> the verdict in presented order (first/second/tie).

    >>> swapped = np.array([False, True, True, False, False])
    >>> list(shown_verdicts(np.array([2, 2, 0, 1, -1]), swapped))
    ['first', 'second', 'first', 'tie', nan]
    """
    # A shown first <=> (A and not swapped) or (B and swapped)
    shown = np.where(
        codes == CODE_TIE,
        2,
        np.where((codes == CODE_A) != swapped, 0, 1),
    ).astype(np.int8)
    shown[codes == CODE_MISSING] = -1
    return pd.Categorical.from_codes(shown, dtype=SHOWN_DTYPE)


_OPTIONAL: Final[dict[str, Any]] = {
    "aspect": None,
    "scale_low": np.nan,
    "scale_high": np.nan,
    "judge_scale_low": np.nan,
    "judge_scale_high": np.nan,
    "turn": np.nan,
    "order_free": False,
    "order_unknown": False,
    **dict.fromkeys(MARKDOWN_COLUMNS, np.nan),
}
"""Columns a frame built elsewhere (synthetic, an older Parquet file) may lack: unknown."""


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Column order and dtypes shared by every frame."""
    missing = {c: v for c, v in _OPTIONAL.items() if c not in frame}
    if missing:
        frame = frame.assign(**missing)
    for column in _CATEGORICAL:
        if column in frame and not isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype("category")
    fixed = {
        "reconcile": POLICY_DTYPE,
        "order": ORDER_DTYPE,
        "status": STATUS_DTYPE,
        "verdict": VERDICT_DTYPE,
        "verdict_shown": SHOWN_DTYPE,
        "label": VERDICT_DTYPE,
        "longer": LONGER_DTYPE,
        "kind": KIND_DTYPE,
    }
    for column, dtype in fixed.items():
        frame[column] = frame[column].astype(dtype)
    for column in human_columns(frame):
        frame[column] = frame[column].astype(VERDICT_DTYPE)
    for column in member_columns(frame):
        frame[column] = frame[column].astype(STATUS_DTYPE)
    if "billed" not in frame:  # frames saved before the column existed; synthetic frames
        frame["billed"] = np.where(frame["cache_hit"].astype(bool), 0.0, frame["cost"])
    for column in (
        *SCORE_COLUMNS,
        "len_a",
        "len_b",
        "human_score",
        "cost",
        "billed",
        "latency_s",
        "scale_low",
        "scale_high",
        "judge_scale_low",
        "judge_scale_high",
        "turn",
        *MARKDOWN_COLUMNS,
    ):
        frame[column] = frame[column].astype(np.float64)
    frame["order_free"] = frame["order_free"].astype(bool)
    frame["order_unknown"] = frame["order_unknown"].astype(bool)
    frame["n_annotators"] = frame["n_annotators"].astype(np.int64)
    ordered = [*JUDGMENT_COLUMNS, *ITEM_COLUMNS]
    criteria = criterion_columns(frame) + human_criterion_columns(frame)
    for column in criteria:
        frame[column] = frame[column].astype(np.float64)
    extra = human_columns(frame) + member_columns(frame) + criteria
    return frame[ordered + extra]


def concat_frames(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack frames of several runs, keeping categorical columns categorical."""
    frames = list(frames)
    if not frames:
        return empty_frame()
    runs = [r for f in frames for r in f["run"].unique()]
    if len(runs) != len(set(runs)):
        twice = sorted(r for r in runs if runs.count(r) > 1)[0]
        raise ConfigError(f"the same run is given twice: {twice!r}")
    stacked = pd.concat(frames, ignore_index=True)
    return _finish(stacked)


def empty_frame() -> pd.DataFrame:
    """A frame with every column and no rows."""
    return build_frame([], [], run="")


def load_frame(run_dirs: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read run folders (``manifest.json``, ``items.jsonl``, ``judgments.jsonl``) into one frame.

    The run column is the manifest's ``run_id``; the judge column the judge's name,
    with backend and model added where another run has the same name
    (:func:`judge.records.judge_labels`). The current judgment per
    ``(item, order, sample)`` is used (superseded error lines are dropped). Every line
    is validated (:meth:`judge.store.RunStore.judgment_columns`: column-wise, with the
    same errors as the per-line reader), and the frame is the one :func:`build_frame`
    makes from the same run's records.
    """
    from judge.store import RunStore

    if isinstance(run_dirs, str | Path):
        run_dirs = [run_dirs]
    stores = [RunStore(run_dir) for run_dir in run_dirs]
    manifests = [store.read_manifest() for store in stores]
    frames = []
    for store, manifest, label in zip(stores, manifests, judge_labels(manifests), strict=True):
        frame = _assemble(
            _item_table_of(store.item_columns()),
            store.judgment_columns(),
            run=manifest.run_id,
            reconcile=manifest.config.reconcile,
            judge_scale=judge_scale(manifest.judge_spec),
            order_free=order_free_judge(manifest.judge_spec),
            order_unknown=order_unknown_judge(manifest.judge_spec),
        )
        if label != judged_by(manifest)[0]:  # the same judge name as another run's
            frame["judge"] = pd.Categorical.from_codes(
                np.zeros(len(frame), dtype=np.int8), categories=[label] if len(frame) else []
            )
        frames.append(frame)
    return concat_frames(frames)


def order_free_judge(spec: Mapping[str, Any]) -> bool:
    """Whether a manifest's ``judge_spec`` is a judge that scores each response alone (a
    reward model): both presentation orders give the same judgment by construction.

    >>> order_free_judge({"type": "reward"}), order_free_judge({"type": "prompt"})
    (True, False)
    """
    return spec.get("type") in ORDER_FREE_TYPES


ORDER_FREE_TYPES: Final[tuple[str, ...]] = ("reward", "reward_http")
"""``judge_spec["type"]`` of the judges that score each response once (no order)."""


def order_unknown_judge(spec: Mapping[str, Any]) -> bool:
    """Whether a manifest's ``judge_spec`` says the presentation order of the run's
    judgments was not recorded (:data:`judge.records.ORDER_UNKNOWN_KEY`): ``swapped`` is
    then a guess, and position bias cannot be measured.

    >>> order_unknown_judge({"order_unknown": True}), order_unknown_judge({"type": "prompt"})
    (True, False)
    """
    return spec.get(ORDER_UNKNOWN_KEY) is True


def judge_scale(spec: Mapping[str, Any]) -> tuple[float, float] | None:
    """The judge's declared score scale from a manifest's ``judge_spec`` (``scale``).

    >>> judge_scale({"scale": [1, 10]}), judge_scale({})
    ((1.0, 10.0), None)
    """
    value = spec.get("scale")
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and value[0] < value[1]
    ):
        return (float(value[0]), float(value[1]))
    return None


def save_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet (categoricals preserved)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a frame written by :func:`save_frame`."""
    return _finish(pd.read_parquet(path))


# -- pairs ---------------------------------------------------------------------------

PAIR_ITEM_COLUMNS: Final[tuple[str, ...]] = (
    "run",
    "judge",
    "item_id",
    "sample",
    "order_free",
    "order_unknown",
    *(
        c
        for c in ITEM_COLUMNS
        if c not in ("kind", "model", "human_score", "aspect", "scale_low", "scale_high")
    ),
)
"""The columns of a pair frame row that every judgment of the pair shares: the run and
sample, and the item facts a pair has (not the single-answer ``model`` and ``human_score``)."""


def pair_frame(frame: pd.DataFrame, policy: Policy | None = None) -> pd.DataFrame:
    """One row per ``(run, item, sample)`` of the pair judgments, the two orders combined.

    ``policy`` (``None``: each run's configured ``reconcile``):

    - ``inconsistent_tie``: both orders ok and agreeing -> that verdict; disagreeing -> tie;
    - ``average_probabilities``: the mean of the two orders' canonical probabilities
      (a verdict without probabilities counts as probability 1 on that verdict), then the
      most probable verdict; a shared maximum (P(A) = P(B), or one side level with the
      tie) -> tie;
    - ``first_order``: the original order's verdict only;
    - ``net_vote`` (JudgeBench's metric): each order votes A = +1, B = -1, tie = 0 and a
      failed order 0; the sign of the sum is the verdict (0 -> tie). A pair with one
      failed order keeps the other's vote (status ok); both failed -> the failure;
    - ``both_orders`` (the strictest, PandaLM-style "agreement in both orders"): both
      orders ok and agreeing -> that verdict; disagreeing -> status ``inconsistent``
      with no verdict, so it never matches a label (a tie label included) and counts
      as wrong under either ``failures`` setting.

    A pair judged in one order only (single-order runs, imported verdicts, an
    unfinished run) takes that order's judgment under every policy; ``n_orders`` says
    how many orders stand behind each row. When a policy needs both orders and one of
    them failed, the pair's ``status`` is that failure (``error`` before ``unparsed``),
    never a tie. Output columns: the item facts, ``policy``, ``status``, ``verdict``,
    ``n_orders``, the per-order ``verdict_original`` / ``verdict_swapped`` /
    ``status_original`` / ``status_swapped``, ``consistent`` (1.0/0.0, NaN unless both
    orders are ok), swap-averaged ``p_a`` / ``p_b`` / ``p_tie``, and the ``human:*`` columns.
    """
    return _pair_frames(frame, [policy], "pair_frame")[policy]


def pair_frames(
    frame: pd.DataFrame, policies: Sequence[Policy | None] = POLICIES
) -> dict[Policy | None, pd.DataFrame]:
    """:func:`pair_frame` under several policies, combining the orders only once."""
    return _pair_frames(frame, policies, "pair_frames")


def _pair_frames(
    frame: pd.DataFrame, policies: Sequence[Policy | None], function: str
) -> dict[Policy | None, pd.DataFrame]:
    expect_frame(frame, "judgments", function)
    for policy in policies:
        if policy is not None and policy not in POLICIES:
            raise ConfigError(
                f"unknown reconcile policy {policy!r}; choose from {', '.join(POLICIES)}"
            )
    pairs = rows_of_kind(frame, "pair")
    for column in ("run", "item_id"):
        if not isinstance(pairs[column].dtype, pd.CategoricalDtype):
            pairs = pairs.assign(**{column: pairs[column].astype("category")})
    n_rows = len(pairs)
    run_codes = np.asarray(pairs["run"].cat.codes, dtype=np.int64)
    item_codes = np.asarray(pairs["item_id"].cat.codes, dtype=np.int64)
    samples = pairs["sample"].to_numpy(dtype=np.int64)
    n_items = int(item_codes.max()) + 1 if n_rows else 1
    n_samples = int(samples.max()) + 1 if n_rows else 1
    key = (run_codes * n_items + item_codes) * n_samples + samples
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    n = len(first)

    swapped = pairs["swapped"].to_numpy(dtype=bool)
    vcodes = verdict_codes(pairs["verdict"])
    scodes = np.asarray(pairs["status"].cat.codes, dtype=np.int8)
    probs = pairs[["p_b", "p_tie", "p_a"]].to_numpy(dtype=np.float64)  # ordinal order
    scores = pairs[["score_a", "score_b"]].to_numpy(dtype=np.float64)
    # rows without probabilities: one-hot on the verdict (used by average_probabilities)
    onehot = np.zeros((n_rows, 3))
    ok_rows = vcodes >= 0
    onehot[np.flatnonzero(ok_rows), vcodes[ok_rows]] = 1.0
    has_probs = ~np.isnan(probs[:, [0, 2]]).any(axis=1)
    probs_filled = np.where(has_probs[:, None], np.nan_to_num(probs), onehot)

    rows_of = {False: np.flatnonzero(~swapped), True: np.flatnonzero(swapped)}
    targets = {order: inverse[rows] for order, rows in rows_of.items()}

    def scatter(values: np.ndarray, order: bool, fill: Any) -> np.ndarray:
        out = np.full((n, *values.shape[1:]), fill, dtype=values.dtype)
        out[targets[order]] = values[rows_of[order]]
        return out

    orig, swap = False, True
    v_orig, v_swap = scatter(vcodes, orig, -1), scatter(vcodes, swap, -1)
    s_orig, s_swap = scatter(scodes, orig, -1), scatter(scodes, swap, -1)
    has_orig, has_swap = s_orig >= 0, s_swap >= 0
    both = has_orig & has_swap
    both_ok = (s_orig == 0) & (s_swap == 0)

    # the single order available, where only one is
    v_single = np.where(has_orig, v_orig, v_swap)
    s_single = np.where(has_orig, s_orig, s_swap)
    # worst status of two: error (2) before unparsed (1) before ok (0)
    s_both = np.maximum(s_orig, s_swap)
    v_tie = np.where(v_orig == v_swap, v_orig, CODE_TIE)
    v_avg = (
        _argmax_verdict(
            np.nan_to_num(
                (scatter(probs_filled, orig, np.nan) + scatter(probs_filled, swap, np.nan)) / 2
            )
        )
        if any(p in (None, "average_probabilities") for p in policies)
        else v_tie
    )

    p_raw = _mean_of_two(scatter(probs, orig, np.nan), scatter(probs, swap, np.nan))
    score_mean = _mean_of_two(scatter(scores, orig, np.nan), scatter(scores, swap, np.nan))
    base = pairs.iloc[first][[*PAIR_ITEM_COLUMNS, *human_columns(pairs)]].reset_index(drop=True)
    per_order = {
        "n_orders": has_orig.astype(np.int8) + has_swap.astype(np.int8),
        "verdict_original": pd.Categorical.from_codes(v_orig, dtype=VERDICT_DTYPE),
        "verdict_swapped": pd.Categorical.from_codes(v_swap, dtype=VERDICT_DTYPE),
        "status_original": pd.Categorical.from_codes(s_orig, dtype=STATUS_DTYPE),
        "status_swapped": pd.Categorical.from_codes(s_swap, dtype=STATUS_DTYPE),
        "consistent": np.where(both_ok, (v_orig == v_swap).astype(np.float64), np.nan),
        "p_b": p_raw[:, 0],
        "p_tie": p_raw[:, 1],
        "p_a": p_raw[:, 2],
        "score_a": score_mean[:, 0],
        "score_b": score_mean[:, 1],
    }
    configured = np.asarray(pairs["reconcile"].astype(POLICY_DTYPE).cat.codes)[first]

    # net vote: A = +1, B = -1, tie or failure = 0 (codes B=0, tie=1, A=2 -> code - 1)
    vote_orig = np.where(s_orig == 0, v_orig.astype(np.int64) - 1, 0)
    vote_swap = np.where(s_swap == 0, v_swap.astype(np.int64) - 1, 0)
    v_net = (np.sign(vote_orig + vote_swap) + 1).astype(np.int8)
    # net vote status: ok when either order is ok; else the worse failure
    s_net = np.where((s_orig == 0) | (s_swap == 0), 0, s_both)
    s_strict = np.where(both_ok & (v_orig != v_swap), STATUS_INCONSISTENT, s_both)

    tie_code, average_code, first_code, net_code, strict_code = range(len(POLICIES))
    out: dict[Policy | None, pd.DataFrame] = {}
    for policy in policies:
        code = configured if policy is None else np.full(n, POLICIES.index(policy))
        one_order = ~both | (code == first_code)
        status = np.select(
            [one_order, code == net_code, code == strict_code], [s_single, s_net, s_strict], s_both
        )
        verdict = np.select(
            [one_order, code == tie_code, code == average_code, code == net_code],
            [v_single, v_tie, v_avg, v_net],
            v_tie,  # both_orders: where its status is ok, the two orders agree
        )
        verdict = np.where(status == 0, verdict, CODE_MISSING)
        columns = {
            "policy": pd.Categorical.from_codes(code.astype(np.int8), dtype=POLICY_DTYPE),
            "status": pd.Categorical.from_codes(status.astype(np.int8), dtype=STATUS_DTYPE),
            "verdict": pd.Categorical.from_codes(verdict.astype(np.int8), dtype=VERDICT_DTYPE),
            **per_order,
        }
        out[policy] = base.assign(**columns)
    return out


def _mean_of_two(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Elementwise mean ignoring NaN (NaN where both are NaN).

    >>> _mean_of_two(np.array([1.0, np.nan, np.nan]), np.array([3.0, 2.0, np.nan])).tolist()
    [2.0, 2.0, nan]
    """
    stacked = np.stack([first, second])
    counted = (~np.isnan(stacked)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted > 0, np.nansum(stacked, axis=0) / counted, np.nan)


def _argmax_verdict(p: np.ndarray) -> np.ndarray:
    """Most probable verdict code per row of ``p`` (columns B, tie, A); a shared maximum
    (P(A) = P(B), or a side level with the tie) -> tie, so neither side is favoured.

    >>> _argmax_verdict(np.array([[0.2, 0.1, 0.7], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])).tolist()
    [2, 1, 1]
    """
    code = np.argmax(p, axis=1).astype(np.int8)
    top = p.max(axis=1, keepdims=True)
    shared = np.isclose(p, top).sum(axis=1) > 1
    code[shared] = CODE_TIE
    return np.asarray(code, dtype=np.int8)


def all_policies(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`pair_frame` under every policy, stacked (the ``policy`` column tells them apart)."""
    return pd.concat(list(pair_frames(frame, POLICIES).values()), ignore_index=True)
