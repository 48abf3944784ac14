"""judge-harness: LLM-as-a-judge evaluation that measures whether the judge can be trusted.

One import gives the library (``docs/library.md``)::

    import judge
    frame = judge.evaluate("sample", judge="smollm2", limit=3)   # in a notebook:
    frame = await judge.aevaluate("sample", judge="smollm2")      # (or evaluate: a thread)
    judge.agreement_table(judge.pair_frame(frame))

Every name in ``__all__`` is loaded on first use (module ``__getattr__``), so
``import judge`` imports no pandas, no backend and does nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> "module:attr", the one table of the public API (loaded lazily).
_PUBLIC: dict[str, str] = {
    # running judges
    "evaluate": "judge.api:evaluate",
    "aevaluate": "judge.api:aevaluate",
    "load_judge": "judge.api:load_judge",
    "load_benchmark": "judge.api:load_benchmark",
    "load_items": "judge.api:load_items",
    "to_items": "judge.api:to_items",
    "run_judging": "judge.run:run_judging",
    "arun_judging": "judge.run:arun_judging",
    "RunResult": "judge.run:RunResult",
    "compare_outputs": "judge.compare:compare_outputs",
    "import_verdicts": "judge.api:import_verdicts",
    "data_root": "judge.api:data_root",
    # records
    "PairItem": "judge.records:PairItem",
    "SingleItem": "judge.records:SingleItem",
    "HumanLabel": "judge.records:HumanLabel",
    "HumanScore": "judge.records:HumanScore",
    "Message": "judge.records:Message",
    "Judgment": "judge.records:Judgment",
    "RunConfig": "judge.records:RunConfig",
    "RunManifest": "judge.records:RunManifest",
    "JudgeError": "judge.errors:JudgeError",
    "ConfigError": "judge.errors:ConfigError",
    "DataError": "judge.errors:DataError",
    # frames
    "load_frame": "judge.analysis.frame:load_frame",
    "build_frame": "judge.analysis.frame:build_frame",
    "pair_frame": "judge.analysis.frame:pair_frame",
    "pair_frames": "judge.analysis.frame:pair_frames",
    "all_policies": "judge.analysis.frame:all_policies",
    "concat_frames": "judge.analysis.frame:concat_frames",
    "save_frame": "judge.analysis.frame:save_frame",
    "read_frame": "judge.analysis.frame:read_frame",
    "synthetic_frame": "judge.analysis.synthetic:synthetic_frame",
    "synthetic_probe_frames": "judge.analysis.synthetic:synthetic_probe_frames",
    # agreement with humans and between judges
    "agreement_score": "judge.analysis.agreement:agreement_score",
    "cohen_kappa": "judge.analysis.agreement:cohen_kappa",
    "krippendorff_alpha": "judge.analysis.agreement:krippendorff_alpha",
    "agreement_table": "judge.analysis.agreement:agreement_table",
    "confusion_table": "judge.analysis.agreement:confusion_table",
    "annotator_agreement": "judge.analysis.agreement:annotator_agreement",
    "leave_one_out_table": "judge.analysis.agreement:leave_one_out_table",
    "compare_judges": "judge.analysis.agreement:compare_judges",
    "judge_comparisons": "judge.analysis.agreement:judge_comparisons",
    # biases
    "first_position_table": "judge.analysis.bias:first_position_table",
    "position_table": "judge.analysis.bias:position_table",
    "position_by_gap": "judge.analysis.bias:position_by_gap",
    "policy_table": "judge.analysis.bias:policy_table",
    "policy_accuracy_wide": "judge.analysis.bias:policy_accuracy_wide",
    "prefer_longer_table": "judge.analysis.bias:prefer_longer_table",
    "human_prefer_longer": "judge.analysis.bias:human_prefer_longer",
    "length_regression": "judge.analysis.bias:length_regression",
    "bias_type_table": "judge.analysis.bias:bias_type_table",
    "probe_table": "judge.analysis.probes:probe_table",
    "load_probe_design": "judge.probes.run:load_probe_design",
    # the evaluator leaderboard and trust
    "leaderboard": "judge.analysis.leaderboard:leaderboard",
    "trust_table": "judge.analysis.trust:trust_table",
    "run_summary": "judge.analysis.summary:run_summary",
    # single answers, calibration, self-consistency
    "score_correlations": "judge.analysis.single:score_correlations",
    "leniency_table": "judge.analysis.single:leniency_table",
    "calibration_table": "judge.analysis.calibration:calibration_table",
    "reliability_table": "judge.analysis.calibration:reliability_table",
    "consistency_table": "judge.analysis.consistency:consistency_table",
    # comparing models: win rates, rankings, length- and style-controlled comparison
    "win_rates": "judge.analysis.ranking:win_rates",
    "bradley_terry": "judge.analysis.ranking:bradley_terry",
    "head_to_head": "judge.analysis.winrate:head_to_head",
    "win_rates_three_ways": "judge.analysis.controlled:win_rates_three_ways",
    "controlled_leaderboard": "judge.analysis.controlled:leaderboard",
    "style_controlled": "judge.analysis.controlled:style_controlled",
    "system_agreement": "judge.analysis.controlled:system_agreement",
    "system_level": "judge.analysis.controlled:system_level",
    "rank_ranges": "judge.analysis.controlled:rank_ranges",
    "self_preference": "judge.analysis.controlled:self_preference",
    "read_difficulty": "judge.analysis.controlled:read_difficulty",
    # reports
    "write_report": "judge.analysis.report:write_report",
    "build_report": "judge.analysis.report:build_report",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'judge' has no attribute {name!r}")
    from judge.registry import load_target

    value = load_target(target)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


# What type checkers and IDEs see; nothing is imported at run time. The names are
# re-exported through __all__, which ruff cannot read (it is built from _PUBLIC):
# ruff: noqa: F401
if TYPE_CHECKING:
    from judge.analysis.agreement import (
        agreement_score,
        agreement_table,
        annotator_agreement,
        cohen_kappa,
        compare_judges,
        confusion_table,
        judge_comparisons,
        krippendorff_alpha,
        leave_one_out_table,
    )
    from judge.analysis.bias import (
        bias_type_table,
        first_position_table,
        human_prefer_longer,
        length_regression,
        policy_accuracy_wide,
        policy_table,
        position_by_gap,
        position_table,
        prefer_longer_table,
    )
    from judge.analysis.calibration import calibration_table, reliability_table
    from judge.analysis.consistency import consistency_table
    from judge.analysis.controlled import leaderboard as controlled_leaderboard
    from judge.analysis.controlled import (
        rank_ranges,
        read_difficulty,
        self_preference,
        style_controlled,
        system_agreement,
        system_level,
        win_rates_three_ways,
    )
    from judge.analysis.frame import (
        all_policies,
        build_frame,
        concat_frames,
        load_frame,
        pair_frame,
        pair_frames,
        read_frame,
        save_frame,
    )
    from judge.analysis.leaderboard import leaderboard
    from judge.analysis.probes import probe_table
    from judge.analysis.ranking import bradley_terry, win_rates
    from judge.analysis.report import build_report, write_report
    from judge.analysis.single import leniency_table, score_correlations
    from judge.analysis.summary import run_summary
    from judge.analysis.synthetic import synthetic_frame, synthetic_probe_frames
    from judge.analysis.trust import trust_table
    from judge.analysis.winrate import head_to_head
    from judge.api import (
        aevaluate,
        data_root,
        evaluate,
        import_verdicts,
        load_benchmark,
        load_items,
        load_judge,
        to_items,
    )
    from judge.compare import compare_outputs
    from judge.errors import ConfigError, DataError, JudgeError
    from judge.probes.run import load_probe_design
    from judge.records import (
        HumanLabel,
        HumanScore,
        Judgment,
        Message,
        PairItem,
        RunConfig,
        RunManifest,
        SingleItem,
    )
    from judge.run import RunResult, arun_judging, run_judging
