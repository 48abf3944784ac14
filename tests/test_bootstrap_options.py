"""The bootstrap keywords every interval-giving analysis function shares, checked once."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from judge.analysis import agreement, bias, controlled, leaderboard, ranking, single
from judge.analysis._stats import Bootstrap
from judge.analysis.frame import pair_frame
from judge.analysis.synthetic import synthetic_frame
from judge.errors import ConfigError


@pytest.fixture(scope="module")
def pairs() -> pd.DataFrame:
    return pair_frame(synthetic_frame(60, seed=1))


def test_every_interval_function_takes_the_one_bootstrap_record() -> None:
    modules = (agreement, bias, controlled, leaderboard, ranking, single)
    functions = [
        f
        for m in modules
        for name, f in vars(m).items()
        if inspect.isfunction(f) and f.__module__ == m.__name__ and not name.startswith("_")
    ]
    with_boot = [f for f in functions if "bootstrap" in inspect.signature(f).parameters]
    assert len(with_boot) >= 15
    for f in functions:  # nobody spells the options out on their own again
        params = inspect.signature(f).parameters
        assert "n_resamples" not in params, f.__qualname__
    assert set(Bootstrap.__annotations__) == {"n_resamples", "confidence", "seed"}


def test_same_keywords_same_figures(pairs: pd.DataFrame) -> None:
    a = agreement.agreement_table(pairs, n_resamples=50, seed=4, confidence=0.9)
    b = agreement.agreement_table(pairs, n_resamples=50, seed=4, confidence=0.9)
    pd.testing.assert_frame_equal(a, b)
    c = agreement.agreement_table(pairs, n_resamples=50, seed=5, confidence=0.9)
    assert (a["kappa_low"] != c["kappa_low"]).any()  # the seed is used
    none = agreement.agreement_table(pairs, n_resamples=0)
    assert none["kappa_low"].isna().all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_resample": 10}, "unknown bootstrap option 'n_resample'; did you mean 'n_resamples'?"),
        ({"confidence": 95}, "confidence must be between 0 and 1"),
        ({"n_resamples": -1}, "n_resamples must be a whole number >= 0"),
        ({"n_resamples": 2.5}, "n_resamples must be a whole number >= 0"),
        ({"seed": "x"}, "seed must be a whole number"),
    ],
)
def test_bad_bootstrap_keywords_are_config_errors(
    pairs: pd.DataFrame, options: dict[str, object], message: str
) -> None:
    for call in (
        lambda: agreement.agreement_table(pairs, **options),  # type: ignore[arg-type]
        lambda: bias.position_table(pairs, **options),  # type: ignore[arg-type]
        lambda: ranking.win_rates(pairs, **options),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match=message.replace("?", r"\?")):
            call()
