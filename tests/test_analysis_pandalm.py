"""The analysis layer on real data: PandaLM's annotators and its published judge verdicts,
JudgeBench decisions in both orders, and the report rendered in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from judge.analysis import agreement, bias
from judge.analysis.frame import POLICIES, load_frame, pair_frame
from judge.analysis.report import alpaca_eval_reference, write_report
from judge.importers import import_judgebench, import_pandalm

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"
JUDGEBENCH_HAIKU = (
    DATA
    / "judgebench"
    / "reference_judge_outputs"
    / "dataset=judgebench,response_model=claude-3-5-sonnet-20240620,judge_name=arena_hard,"
    "judge_model=claude-3-haiku-20240307.decisions.csv"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("runs")
    return {
        "gpt": import_pandalm("gpt-3.5", data_root=DATA, output=out).path,
        "pandalm": import_pandalm("pandalm-7b", data_root=DATA, output=out).path,
        "judgebench": import_judgebench(JUDGEBENCH_HAIKU, data_root=DATA, output=out).path,
    }


@pytest.fixture(scope="module")
def pandalm_pairs(runs: dict[str, Path]) -> pd.DataFrame:
    return pair_frame(load_frame([runs["gpt"], runs["pandalm"]]))


def test_annotator_kappas_reproduce_the_published_figures(pandalm_pairs: pd.DataFrame) -> None:
    table = agreement.annotator_agreement(pandalm_pairs, n_resamples=200)
    kappas = {(r.annotator_1, r.annotator_2): r.kappa for r in table.itertuples()}
    # README: 0.85 / 0.88 / 0.86; recomputed in PROVENANCE.md: 0.852 / 0.879 / 0.862
    assert kappas[("annotator1", "annotator2")] == pytest.approx(0.852, abs=5e-4)
    assert kappas[("annotator1", "annotator3")] == pytest.approx(0.879, abs=5e-4)
    assert kappas[("annotator2", "annotator3")] == pytest.approx(0.862, abs=5e-4)
    assert (table["n"] == 999).all()
    assert (table["kappa_low"] < table["kappa"]).all()
    assert (table["kappa"] < table["kappa_high"]).all()


def test_humans_prefer_the_longer_response(pandalm_pairs: pd.DataFrame) -> None:
    result = bias.human_prefer_longer(pandalm_pairs, n_resamples=300)
    assert result["n"] == 887
    assert result["p_prefer_longer"] == pytest.approx(0.675, abs=5e-4)
    assert result["p_prefer_longer_low"] < 0.675 < result["p_prefer_longer_high"]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        # garbage counted wrong: the PROVENANCE recomputation
        ("wrong", {"gpt-3.5": (999, 0.698, 0.476), "pandalm-7b": (999, 0.668, 0.435)}),
        # garbage left out (25 gpt-3.5 replies), counts stay beside
        ("exclude", {"gpt-3.5": (974, 0.716, 0.493), "pandalm-7b": (999, 0.668, 0.435)}),
    ],
)
def test_judges_against_the_majority(
    pandalm_pairs: pd.DataFrame, failures: str, expected: dict[str, tuple[int, float, float]]
) -> None:
    table = agreement.agreement_table(pandalm_pairs, failures=failures, n_resamples=300)  # type: ignore[arg-type]
    for run, (n, accuracy, kappa) in expected.items():
        row = table[table["run"].astype(str).str.endswith(run)].iloc[0]
        assert row["n"] == n
        assert row["accuracy"] == pytest.approx(accuracy, abs=5e-4)
        assert row["kappa"] == pytest.approx(kappa, abs=5e-4)
        assert row["n_unparsed"] == (25 if run == "gpt-3.5" else 0)
        assert row["accuracy_low"] < row["accuracy"] < row["accuracy_high"]


def test_human_baseline_beside_the_judges(pandalm_pairs: pd.DataFrame) -> None:
    loo = agreement.leave_one_out_table(pandalm_pairs, n_resamples=200)
    humans = loo[loo["kind"] == "humans"].iloc[0]
    judges = loo[loo["kind"] == "judge"]
    assert len(loo[loo["kind"] == "annotator"]) == 3 and len(judges) == 2
    # PandaLM was filtered for annotator agreement: humans far above both judges
    assert humans["kappa"] > 0.9 and (judges["kappa"] < 0.55).all()
    assert humans["kappa_low"] < humans["kappa"] < humans["kappa_high"]


def test_judge_against_judge(pandalm_pairs: pd.DataFrame) -> None:
    table = agreement.judge_comparisons(pandalm_pairs, n_resamples=300)
    row = table.iloc[0]
    assert row["n"] == 999
    assert abs(row["difference"]) == pytest.approx(0.698 - 0.668, abs=1e-3)
    assert 0 < row["p_mcnemar"] < 1 and row["a_only"] + row["b_only"] > 0


def test_position_bias_of_a_two_order_run(runs: dict[str, Path]) -> None:
    frame = load_frame(runs["judgebench"])
    table = bias.position_table(frame, n_resamples=200)
    row = table.iloc[0]
    assert row["n_both_orders"] == 270
    assert row["n_both_ok"] + row["n_failed_orders"] >= 257
    assert 0 < row["consistency"] < 1 and 0 <= row["flip_rate"] <= 1 - row["consistency"]
    assert row["p_prefer_first"] > 0.5  # claude-3-haiku leans towards the first response
    policies = bias.policy_table(frame, n_resamples=0)
    assert list(policies["policy"].astype(str)) == list(POLICIES)
    assert (policies["n"] == 270).all()


# -- the report ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    # The tests read point figures and check that intervals are there: 40 resamples do.
    # At 200 this fixture cost 38 s of CPU, 85% of it the length- and style-controlled
    # sections, which refit a GLM per resample (cProfile).
    return write_report(
        [runs["gpt"], runs["pandalm"], runs["judgebench"]], out, n_resamples=40, datasets_dir=DATA
    )


def test_report_files(report: dict[str, Path]) -> None:
    markdown = report["markdown"].read_text(encoding="utf-8")
    for heading in (
        "## Leaderboard",
        "## Agreement with humans",
        "## Position bias",
        "## Length bias",
        "### Human baseline, computed the same way",
        "### Published figures: pandalm",
        "### AlpacaEval evaluator leaderboard",
    ):
        assert heading in markdown
    assert "0.852 [" in markdown  # annotator kappa with its interval
    assert "0.698 [" in markdown and "0.476 [" in markdown
    assert "humans (leave-one-out)" in markdown
    for name, path in report.items():
        if name.startswith("figure:"):
            assert path.read_bytes().startswith(b"\x89PNG")
            assert f"figures/{path.name}" in markdown
    frame = pd.read_parquet(report["frame"])
    assert len(frame) == 999 + 999 + 540


def test_alpaca_eval_reference_table() -> None:
    table = alpaca_eval_reference(
        DATA / "alpaca_eval_evaluators_reference" / "evaluators_leaderboard.csv"
    )
    humans = table[table["evaluator"] == "humans"].iloc[0]
    assert humans["human_agreement_pct"] == pytest.approx(65.66, abs=0.01)
    assert humans["p_prefer_longer"] == pytest.approx(0.636, abs=1e-3)
    assert len(table) == 32


def test_report_renders_in_headless_chromium(
    report: dict[str, Path], tmp_path: Path, chromium: str
) -> None:
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = report["html"].resolve().as_uri()
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180, check=True
    ).stdout
    assert dom.count("<table") >= 10
    images = re.findall(
        r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]{1000,})"', dom
    )
    assert len(images) >= 6  # agreement, confusion x3, length gap, quality gap, length, ...
    assert "Agreement with humans" in dom and "annotator1" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,3000", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=180,
        check=True,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
