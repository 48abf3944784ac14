"""Grouping and vote-counting helpers shared by the pair-frame analyses.

They sit below :mod:`judge.analysis.agreement`, :mod:`judge.analysis.bias`,
:mod:`judge.analysis.ranking` and :mod:`judge.analysis.single`, so those modules share
them without importing each other's private parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from judge.analysis.frame import HUMAN_PREFIX, human_columns, verdict_codes


def _code_counts(matrix: np.ndarray) -> np.ndarray:
    """Votes per row as counts over (B, tie, A), from codes (rows x voters, -1 missing).

    >>> _code_counts(np.array([[2, 2, -1], [0, 1, 2]])).tolist()
    [[0.0, 0.0, 2.0], [1.0, 1.0, 1.0]]
    """
    counts = np.zeros((len(matrix), 3))
    for voter in range(matrix.shape[1]):
        has = matrix[:, voter] >= 0
        counts[np.flatnonzero(has), matrix[has, voter]] += 1
    return counts


def _vote_counts(pairs: pd.DataFrame) -> np.ndarray:
    """Human votes per row as counts over (B, tie, A)."""
    return _code_counts(_human_matrix(pairs)[1])


def _groups(frame: pd.DataFrame, by: Sequence[str]) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    if not len(frame):
        return []
    out = []
    for key, group in frame.groupby(list(by), observed=True, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        out.append((dict(zip(by, values, strict=True)), group))
    return out


def _status_counts(group: pd.DataFrame) -> dict[str, int]:
    status = group["status"]
    counts = {
        "n_pairs": len(group),
        "n_ok": int((status == "ok").sum()),
        "n_unparsed": int((status == "unparsed").sum()),
        "n_error": int((status == "error").sum()),
    }
    inconsistent = int((status == "inconsistent").sum())
    if inconsistent:  # only pairs under both_orders have this status
        counts["n_inconsistent"] = inconsistent
    return counts


def _unique_items(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs.drop_duplicates(["benchmark", "item_id"]).reset_index(drop=True)


def _human_matrix(items: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Annotator names (with at least one vote) and their codes (items x annotators, -1 missing)."""
    names, columns = [], []
    for column in human_columns(items):
        codes = verdict_codes(items[column]).astype(np.int64)
        if (codes >= 0).any():
            names.append(column[len(HUMAN_PREFIX) :])
            columns.append(codes)
    matrix = np.stack(columns, axis=1) if columns else np.zeros((len(items), 0), dtype=np.int64)
    return names, matrix
