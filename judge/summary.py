"""The short summary ``judge run`` prints after a run."""

from __future__ import annotations

from typing import Any

from judge.store import RunStore


def summarize(store: RunStore, *, reconcile: str = "inconsistent_tie") -> dict[str, Any]:
    """Headline figures of a stored run (see :func:`judge.analysis.summary.run_summary`)."""
    from judge.analysis.frame import (
        build_frame,
        judge_scale,
        order_free_judge,
        order_unknown_judge,
    )
    from judge.analysis.summary import run_summary

    manifest = store.read_manifest()
    frame = build_frame(
        store.items(),
        store.judgments(),
        run=manifest.run_id,
        judge_scale=judge_scale(manifest.judge_spec),
        order_free=order_free_judge(manifest.judge_spec),
        order_unknown=order_unknown_judge(manifest.judge_spec),
    )
    out = run_summary(frame, reconcile=reconcile)
    out["run"] = str(store.path)
    out["tokens_in"] = manifest.totals.tokens_in
    out["tokens_out"] = manifest.totals.tokens_out
    out["cost"] = manifest.totals.cost
    out["cost_saved"] = manifest.totals.cost_saved
    out["wall_s"] = manifest.totals.wall_s
    out["complete"] = manifest.complete
    return out


def format_summary(s: dict[str, Any]) -> str:
    """Render a summary as a few aligned lines."""

    def pct(x: Any) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def num(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    failed = s.get("n_pairs_failed") or 0
    pair_lines = [
        f"accuracy vs labels     {pct(s.get('accuracy'))} over {s.get('n_pairs_scored', 0)} pairs "
        f"({s.get('reconcile')}"
        + (f"; {failed} without a verdict, counted as wrong)" if failed else ")"),
        f"Cohen's kappa          {num(s.get('kappa'))}",
        *_policy_lines(s.get("accuracy_by_policy") or {}, pct),
        f"position consistency   {pct(s.get('position_consistency'))}",
        f"first-position rate    {pct(s.get('first_position_rate'))}",
        f"P(prefers longer)      {pct(s.get('p_prefer_longer'))}",
    ]
    single_lines = [
        f"vs human scores        {s.get('n_scored', 0)} items, aspect {s.get('aspect') or 'n/a'}, "
        f"scale {s.get('scale') or 'n/a'} (failures left out)",
        f"Spearman / Kendall     {num(s.get('spearman'))} / {num(s.get('kendall'))}",
        f"Pearson                {num(s.get('pearson'))}",
        f"leniency               {num(s.get('leniency'))} (judge - human, "
        + ("scores as given)" if "as given" in str(s.get("scale")) else "on the item's scale)"),
    ]
    # the items' kinds decide, not which figures exist: an all-unparsed single-answer run
    # has no correlation but is no pairwise run
    has_single = s.get("has_single", s.get("spearman") is not None or s.get("n_scored"))
    has_pairs = s.get("has_pairs", s.get("n_pairs_scored", 0) or not has_single)
    lines = [
        f"run                    {s['run']}"
        + ("" if s["complete"] else "  (incomplete: rerun to resume)"),
        f"judgments              {s['n_judgments']} ({s['n_ok']} ok, {s['n_unparsed']} unparsed, "
        f"{s['n_error']} error)",
    ]
    for member, c in (s.get("members") or {}).items():
        lines.append(
            f"  member {member:<15} {sum(c.values())} ({c['ok']} ok, {c['unparsed']} unparsed, "
            f"{c['error']} error)"
        )
    lines += [
        *(pair_lines if has_pairs else []),
        *(single_lines if has_single else []),
        f"tokens in / out        {s['tokens_in']} / {s['tokens_out']}",
        f"time                   {s['wall_s']:.1f} s"
        + (f", ${s['cost']:.4f} billed" if s.get("cost") or s.get("cost_saved") else "")
        + (
            f" (${s['cost_saved']:.4f} saved by the cache and shared requests)"
            if s.get("cost_saved")
            else ""
        ),
    ]
    return "\n".join(lines)


def _policy_lines(by_policy: dict[str, Any], pct: Any) -> list[str]:
    """One line per reconcile policy, so the run's own policy is never the only figure."""
    if not by_policy:
        return []
    return ["accuracy by policy"] + [
        f"  {policy:<22} {pct(value)}" for policy, value in by_policy.items()
    ]
