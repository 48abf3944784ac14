"""AlpacaEval annotations imported as runs give AlpacaEval's own leaderboard figures.

The expected figures are read from the leaderboard CSV in the shared datasets, never
copied here (see alpaca_eval_annotations/PROVENANCE.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from judge.alpaca_eval_import import AlpacaEvalImporter
from judge.analysis.frame import load_frame, pair_frame
from judge.analysis.winrate import HEAD_TO_HEAD, head_to_head
from judge.errors import DataError
from judge.importers import ImportRequest

DATA = Path(__file__).parents[1].parent / "shared" / "datasets" / "alpaca_eval_annotations"
FILES = sorted(DATA.glob("results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json"))
LEADERBOARD = DATA / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"


@pytest.fixture(scope="module")
def imported(alpaca_eval_runs: list[Path]) -> pd.DataFrame:
    pairs = pair_frame(load_frame(alpaca_eval_runs))
    return head_to_head(pairs, by=("model_b",)).set_index("model_b")


def test_all_eleven_models_match_the_leaderboard_csv(imported: pd.DataFrame) -> None:
    assert len(FILES) == 11
    published = pd.read_csv(LEADERBOARD, index_col=0)
    assert set(imported.index) == {f.parts[-3] for f in FILES}
    for model, ours in imported.iterrows():
        row = published.loc[model]
        for figure in HEAD_TO_HEAD:
            assert ours[figure] == pytest.approx(row[figure], abs=1e-4), (model, figure)


def test_preference_is_kept_as_a_probability(tmp_path: Path) -> None:
    (claude,) = [f for f in FILES if f.parts[-3] == "claude-2"]
    runs = AlpacaEvalImporter().read(ImportRequest(sources=(str(claude),)))
    first = json.loads(claude.read_text())[0]
    judgment = runs[0].judgments[0]
    p = float(first["preference"])
    assert judgment.probabilities == {"A": pytest.approx(2 - p), "B": pytest.approx(p - 1)}
    assert judgment.verdict == "A" and not judgment.swapped
    item = runs[0].items[0]
    assert (item.response_a, item.response_b) == (first["output_1"], first["output_2"])
    assert (item.model_a, item.model_b) == ("gpt4_1106_preview", "claude-2")
    assert runs[0].messages and runs[0].messages[0].startswith("claude-2 vs gpt4_1106_preview")
    # the run's benchmark options load the same pairs (to judge them with another judge)
    from judge.benchmark import load_items
    from judge.registry import benchmarks

    config = runs[0].config
    again = load_items(benchmarks.get(config.benchmark)(**config.benchmark_args))
    assert again == list(runs[0].items)


def test_bad_and_missing_preferences(tmp_path: Path) -> None:
    base = {
        "instruction": "Say hi",
        "output_1": "hi",
        "generator_1": "base",
        "output_2": "hello",
        "generator_2": "m",
        "annotator": "x",
    }
    path = tmp_path / "annotations.json"
    rows = [
        {**base, "preference": "1.75"},
        {**base, "instruction": "Say bye", "preference": None},
        {**base, "instruction": "Draw", "preference": 0},
    ]
    path.write_text(json.dumps(rows, indent=1))
    run = AlpacaEvalImporter().read(ImportRequest(sources=(str(path),)))[0]
    assert [j.status for j in run.judgments] == ["ok", "unparsed", "ok"]
    assert [j.verdict for j in run.judgments] == ["B", None, "tie"]
    assert "win_rate 62.5000" in run.messages[0] and "n_draws 1" in run.messages[0]

    path.write_text(json.dumps([{**base, "preference": 3}], indent=1))
    with pytest.raises(DataError, match="not a preference") as err:
        AlpacaEvalImporter().read(ImportRequest(sources=(str(path),)))
    assert err.value.line == 2 and err.value.field == "preference"
    path.write_text(json.dumps([base, {**base, "preference": "x"}], indent=1))
    with pytest.raises(DataError, match="missing field") as err:
        AlpacaEvalImporter().read(ImportRequest(sources=(str(path),)))
    assert err.value.field == "preference"
