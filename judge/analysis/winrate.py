"""Head-to-head win rates with AlpacaEval's definitions, over the pair frame.

A pair's *preference* is how much its judge prefers ``response_b`` (the model) over
``response_a`` (the baseline), in [0, 1]: P(B) + P(tie)/2 where the judgment has
probabilities (AlpacaEval's weighted annotators: ``preference - 1``; rounded to 12
decimals, so an even split is exactly 0.5), else 1 for a B verdict, 0.5 for a tie and 0
for A. Per group (by default per run, baseline and
model), :func:`head_to_head` gives AlpacaEval's leaderboard columns (its
``metrics/winrate.py`` ``get_winrate`` and ``metrics/helpers.py``):

- ``win_rate`` = 100 x mean preference; ``standard_error`` = 100 x its standard error
  of the mean (sample standard deviation, ddof 1, over sqrt(n));
- ``n_wins`` = #(preference > 0.5), ``n_wins_base`` = #(preference < 0.5),
  ``n_draws`` = #(preference = 0.5), ``n_total`` (pairs with a preference);
- ``discrete_win_rate`` = 100 x (n_wins + n_draws / 2) / n_total;
- ``avg_length`` = the model's characters per instruction, truncated to an integer as
  AlpacaEval's leaderboard shows it. AlpacaEval divides by its whole instruction set,
  where an instruction the model answered with an empty output was not annotated
  (length 0); here the instruction set is every prompt judged against the same
  baseline anywhere in the frame (import all models' annotations together to get
  AlpacaEval's figure; alone, a model's figure is over its own annotated pairs).

Pairs without a verdict (unparsed, error) have no preference: AlpacaEval drops them,
and so does this; ``n_failed`` counts them. The functions are pure and take any pair
frame, so a leaderboard over many models reuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from judge.analysis._pairs import _groups
from judge.analysis.frame import (
    CODE_A,
    CODE_B,
    CODE_TIE,
    expect_columns,
    expect_frame,
    verdict_codes,
)

NAN: Final = float("nan")
HEAD_TO_HEAD: Final[tuple[str, ...]] = (
    "win_rate",
    "standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "discrete_win_rate",
    "avg_length",
)
"""AlpacaEval's leaderboard columns, in its order (length-controlled ones excluded)."""


def preferences(pairs: pd.DataFrame) -> np.ndarray:
    """Preference for ``response_b`` per pair row, in [0, 1]; NaN without a verdict.

    >>> import pandas as pd
    >>> nan, even = float("nan"), 0.39233612455946276  # P(A) = P(B), from a real run
    >>> pairs = pd.DataFrame({
    ...     "status": ["ok", "ok", "ok", "unparsed", "ok"],
    ...     "verdict": ["B", "tie", "A", None, "tie"],
    ...     "p_a": [0.2, nan, nan, nan, even],
    ...     "p_b": [0.8, nan, nan, nan, even],
    ...     "p_tie": [0.0, nan, nan, nan, 0.2153277508810743]})
    >>> preferences(pairs).tolist()  # the last is 0.4999999999999999 unrounded: a loss
    [0.8, 0.5, 0.0, nan, 0.5]
    """
    codes = verdict_codes(pairs["verdict"])
    ok = (pairs["status"] == "ok").to_numpy() & (codes >= 0)
    one_hot = np.select([codes == CODE_B, codes == CODE_TIE, codes == CODE_A], [1.0, 0.5, 0.0], NAN)
    p_b = pairs["p_b"].to_numpy(dtype=np.float64)
    p_a = pairs["p_a"].to_numpy(dtype=np.float64)
    p_tie = np.nan_to_num(pairs["p_tie"].to_numpy(dtype=np.float64))
    has_probs = ~np.isnan(p_b) & ~np.isnan(p_a)
    with np.errstate(invalid="ignore"):
        # rounded far below any judge's precision, so an even split that float arithmetic
        # left at 0.49999999999999994 is a tie, not a loss, in the discrete win rate
        weighted = np.round(p_b + p_tie / 2, 12)
    out = np.where(has_probs, weighted, one_hot)
    return np.where(ok, out, NAN)


def head_to_head_figures(
    preference: np.ndarray, lengths: np.ndarray | None = None
) -> dict[str, Any]:
    """AlpacaEval's figures of one model against its baseline from per-pair preferences.

    NaN preferences (no verdict) are left out and counted in ``n_failed``.

    >>> f = head_to_head_figures(np.array([1.0, 0.5, 0.0, 0.9, np.nan]))
    >>> f["win_rate"], f["n_wins"], f["n_wins_base"], f["n_draws"], f["n_total"], f["n_failed"]
    (60.0, 2, 1, 1, 4, 1)
    >>> f["discrete_win_rate"], round(f["standard_error"], 4)
    (62.5, 22.7303)
    """
    preference = np.asarray(preference, dtype=np.float64)
    scored = preference[~np.isnan(preference)]
    n = len(scored)
    wins = int(np.sum(scored > 0.5))
    base = int(np.sum(scored < 0.5))
    draws = n - wins - base
    out: dict[str, Any] = {
        "win_rate": 100 * float(scored.mean()) if n else NAN,
        "standard_error": 100 * float(scored.std(ddof=1) / np.sqrt(n)) if n > 1 else NAN,
        "n_wins": wins,
        "n_wins_base": base,
        "n_draws": draws,
        "n_total": n,
        "discrete_win_rate": 100 * (wins + draws / 2) / n if n else NAN,
        "avg_length": (int(np.mean(lengths)) if lengths is not None and len(lengths) else None),
        "n_failed": int(np.sum(np.isnan(preference))),
    }
    return out


def head_to_head(
    pairs: pd.DataFrame, *, by: Sequence[str] = ("run", "model_a", "model_b")
) -> pd.DataFrame:
    """AlpacaEval's leaderboard figures per group of the pair frame (see the module doc).

    Columns: the group keys, ``judge``, :data:`HEAD_TO_HEAD`, ``n_failed``. By default
    one row per run and (baseline ``model_a``, model ``model_b``); sorted by win rate.
    """
    expect_frame(pairs, "pairs", "head_to_head")
    by = expect_columns(pairs, by, "head_to_head")
    rows = []
    prefs = preferences(pairs)
    frame = pairs.assign(_preference=prefs)
    # the instruction set of each baseline: every prompt judged against it in the frame
    instructions = (
        frame.groupby("model_a", observed=True)["prompt_key"].nunique()
        if len(frame)
        else pd.Series(dtype=np.int64)
    )
    for keys, group in _groups(frame, by):
        lengths = group["len_b"].to_numpy(dtype=np.float64)
        baselines = group["model_a"].dropna().unique()
        n_instructions = max(
            [len(group), *(int(instructions[b]) for b in baselines if b in instructions.index)]
        )
        lengths = np.concatenate([lengths, np.zeros(n_instructions - len(lengths))])
        figures = head_to_head_figures(group["_preference"].to_numpy(), lengths)
        judge = ", ".join(map(str, group["judge"].unique()))
        rows.append({**{k: str(v) for k, v in keys.items()}, "judge": judge, **figures})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=[*by, "judge", *HEAD_TO_HEAD, "n_failed"])
    return table.sort_values("win_rate", ascending=False, na_position="last").reset_index(drop=True)
