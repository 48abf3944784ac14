"""``judge report``: run folders -> a Markdown report and a self-contained HTML page.

Everything here is I/O and presentation: the figures come from the pure functions of
:mod:`judge.analysis`, the plots from matplotlib's Agg canvas (no pyplot state), and
the HTML embeds every plot as a base64 PNG so the page is one file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, Final, Unpack

import numpy as np
import pandas as pd

from judge.analysis import agreement, bias, ranking, single, winrate
from judge.analysis._stats import Bootstrap, resampling
from judge.analysis.frame import (
    POLICIES,
    criterion_columns,
    expect_choice,
    load_frame,
    pair_frames,
    save_frame,
)
from judge.analysis.leaderboard import LEADERBOARD_DEFINITIONS, leaderboard
from judge.analysis.summary import member_counts
from judge.benchmark import PublishedFigure, match_published
from judge.data_paths import ENV_VAR as DATA_ENV
from judge.data_paths import find_data_file
from judge.view.filters import DEFAULT_VIEWER_URL, list_url

ALPACA_EVAL_REFERENCE: Final = (
    Path("alpaca_eval_evaluators_reference") / "evaluators_leaderboard.csv"
)
"""The AlpacaEval evaluator leaderboard, relative to the datasets folder."""

PUBLISHED: Final[dict[str, list[tuple[str, str]]]] = {
    "pandalm": [
        ("Cohen's kappa, annotator1 vs annotator2", "0.85 (PandaLM README)"),
        ("Cohen's kappa, annotator1 vs annotator3", "0.88 (PandaLM README)"),
        ("Cohen's kappa, annotator2 vs annotator3", "0.86 (PandaLM README)"),
        (
            "gpt-3.5-turbo vs 3-annotator majority",
            "accuracy 0.698, kappa 0.476 (recomputed "
            "from the committed verdicts, 'garbage' counted wrong)",
        ),
        ("PandaLM-7B vs 3-annotator majority", "accuracy 0.668, kappa 0.435 (recomputed)"),
        (
            "P(humans prefer the longer response)",
            "0.675 over 887 non-tie unequal-length pairs (recomputed)",
        ),
    ],
    "alpaca_eval": [
        ("humans, leave-one-out agreement", "65.66% (AlpacaEval evaluator leaderboard)"),
        ("humans, P(prefer longer)", "0.636"),
    ],
}
"""Published or recomputed reference figures shown beside a known benchmark's results."""


# -- formatting ------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 3) -> str:
    """A cell: counts (integers, or integer-typed columns) without decimals, other
    numbers with ``digits``, NaN as ``n/a``, a missing count (``pd.NA``) blank.

    >>> [_fmt(v) for v in (25, np.int64(1500), 0.5, float("nan"), pd.NA, None)]
    ['25', '1,500', '0.500', 'n/a', '', '']
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "n/a"
        number = float(value)
        if number.is_integer() and abs(number) >= 100:
            return f"{int(number):,}"
        return f"{number:.{digits}f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return str(value)


def _with_ci(table: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Fold ``x``, ``x_low``, ``x_high`` columns into one ``x [low, high]`` text column."""
    out = table.copy()
    for name in names:
        if name not in out:
            continue
        low, high = out.get(f"{name}_low"), out.get(f"{name}_high")
        texts = []
        for i in range(len(out)):
            text = _fmt(out[name].iloc[i])
            if low is not None and high is not None and not pd.isna(low.iloc[i]):
                text += f" [{_fmt(low.iloc[i])}, {_fmt(high.iloc[i])}]"
            texts.append(text)
        out[name] = texts
        out = out.drop(columns=[c for c in (f"{name}_low", f"{name}_high") if c in out])
    return out


def _display(table: pd.DataFrame, ci: Sequence[str] = (), drop: Sequence[str] = ()) -> pd.DataFrame:
    shown = _with_ci(table.drop(columns=[c for c in drop if c in table]), ci)
    return shown.map(_fmt) if len(shown) else shown


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (cells escaped for ``|``).

    >>> print(markdown_table(pd.DataFrame({"a": [1], "b": ["x|y"]})))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    if table.empty:
        return "_(no rows)_"

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])


# -- plots ------------------------------------------------------------------------------


def _figure(width: float = 7.0, height: float = 3.6) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _error_bars(values: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    v, lo, hi = (np.asarray(s, dtype=float) for s in (values, low, high))
    return np.asarray(np.nan_to_num(np.stack([v - lo, hi - v]), nan=0.0).clip(min=0))


def _short(label: str, width: int = 22) -> str:
    """A tick label: the last path segment of a name, cut to ``width``."""
    tail = label.rsplit("/", 1)[-1]
    return tail if len(tail) <= width else tail[: width - 1] + "…"


def plot_agreement(table: pd.DataFrame, humans: pd.DataFrame | None) -> bytes:
    """Accuracy and kappa per run with CIs, and the humans (leave-one-out) of each benchmark."""
    rows = [(f"{_short(str(r.judge))}", r) for r in table.itertuples()]
    if humans is not None:
        rows += [(f"humans ({_short(str(h.benchmark))})", h) for h in humans.itertuples()]
    fig = _figure(max(5.0, 1.1 * len(rows) + 2.5), 3.8)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(rows))
    for offset, name, color in ((-0.2, "accuracy", "#4C72B0"), (0.2, "kappa", "#DD8452")):
        values = pd.Series([getattr(r, name) for _, r in rows], dtype=float)
        low = pd.Series([getattr(r, f"{name}_low") for _, r in rows], dtype=float)
        high = pd.Series([getattr(r, f"{name}_high") for _, r in rows], dtype=float)
        bars = ax.bar(
            x + offset,
            values,
            width=0.38,
            color=color,
            label=name,
            yerr=_error_bars(values, low, high),
            capsize=3,
        )
        for i, (label, _) in enumerate(rows):
            if label.startswith("humans"):
                bars[i].set_hatch("//")
                bars[i].set_alpha(0.6)
    ax.set_xticks(x, [label for label, _ in rows], fontsize=8, rotation=20, ha="right")
    lowest = min([0.0, *(float(r.kappa) for _, r in rows if not math.isnan(float(r.kappa)))])
    ax.set_ylim(lowest, 1)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("vs human majority / gold")
    ax.set_title("Agreement with humans (bootstrap CI; hatched: humans, leave-one-out)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def plot_confusion(confusion: pd.DataFrame, run: str) -> bytes:
    """A heatmap of human label x judge verdict counts for one run."""
    table = confusion[confusion["run"] == run].pivot(
        index="label", columns="verdict", values="count"
    )
    judged = ["A", "tie", "B", "unparsed", "error"]
    if "inconsistent" in set(confusion["verdict"]):
        judged.append("inconsistent")
    table = table.reindex(index=["A", "tie", "B"], columns=judged).fillna(0)
    fig = _figure(4.8, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(table.to_numpy(dtype=float), cmap="Blues")
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(table.shape[0]), table.index)
    ax.set_xlabel("judge verdict")
    ax.set_ylabel("human label")
    ax.set_title(f"Confusion: {run}", fontsize=9)
    return _png(fig)


def plot_position_by_gap(table: pd.DataFrame, column: str) -> bytes:
    """Consistency and first-position rate per gap bin, one line per run."""
    fig = _figure()
    axes = fig.subplots(1, 2)
    for run, part in table.groupby("run", observed=True, sort=True):
        labels = part[column].astype(str)
        for ax, name in zip(axes, ("consistency", "p_prefer_first"), strict=True):
            ax.errorbar(
                labels,
                part[name].astype(float),
                yerr=_error_bars(part[name], part[f"{name}_low"], part[f"{name}_high"]),
                marker="o",
                capsize=3,
                label=_short(str(run), 40),
            )
    axes[0].set_title("Consistency across orders", fontsize=9)
    axes[1].set_title("P(picks the first shown)", fontsize=9)
    axes[1].axhline(0.5, color="grey", linestyle=":", linewidth=1)
    for ax in axes:
        ax.set_xlabel(column.replace("_", " "))
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    axes[0].legend(fontsize=7)
    return _png(fig)


def plot_length(table: pd.DataFrame, human_reference: float | None) -> bytes:
    """P(judge prefers longer) beside P(humans prefer longer) on the same pairs, per run."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(table))
    for offset, name, label, color in (
        (-0.2, "p_judge_longer", "judge", "#4C72B0"),
        (0.2, "p_human_longer", "human/gold label (same pairs)", "#55A868"),
    ):
        ax.bar(
            x + offset,
            table[name].astype(float),
            width=0.38,
            label=label,
            color=color,
            yerr=_error_bars(table[name], table[f"{name}_low"], table[f"{name}_high"]),
            capsize=3,
        )
    if human_reference is not None and not math.isnan(human_reference):
        ax.axhline(
            human_reference,
            color="black",
            linestyle="--",
            linewidth=1,
            label="human/gold label, whole benchmark",
        )
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(x, [_short(str(r)) for r in table["run"]], fontsize=8, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(prefers the longer response)")
    ax.set_title("Length preference (non-tie verdicts, unequal lengths)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def plot_categories(table: pd.DataFrame) -> bytes:
    """Accuracy per category and run, with CIs."""
    fig = _figure(7.0, 0.35 * table["category"].nunique() + 1.5)
    ax = fig.add_subplot(1, 1, 1)
    runs = list(table["run"].unique())
    categories = sorted(table["category"].astype(str).unique())
    height = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        part = (
            table[table["run"] == run]
            .set_index(table["category"].astype(str)[table["run"] == run])
            .reindex(categories)
        )
        y = np.arange(len(categories)) + i * height
        ax.barh(
            y,
            part["accuracy"].astype(float),
            height=height,
            label=_short(str(run), 40),
            xerr=_error_bars(part["accuracy"], part["accuracy_low"], part["accuracy_high"]),
            capsize=2,
        )
    ax.set_yticks(np.arange(len(categories)) + 0.4 - height / 2, categories, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy vs label")
    ax.legend(fontsize=7)
    return _png(fig)


def plot_scores(graded: pd.DataFrame) -> bytes:
    """Judge score against human score per item, one colour per run."""
    fig = _figure(5.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(0)
    for run, part in graded.groupby("run", observed=True):
        jitter = rng.uniform(-0.08, 0.08, len(part))
        ax.scatter(
            part["human_score"], part["judge_score"] + jitter, s=8, alpha=0.5, label=str(run)
        )
    ax.set_xlabel("human score")
    ax.set_ylabel("judge score (jittered)")
    ax.legend(fontsize=7)
    return _png(fig)


# -- the report ---------------------------------------------------------------------------


TABLE_WIDTH_PX: Final = 1000
"""Columns beyond this estimated width go behind a "more columns" toggle (no sideways
scrolling at a 1280 px window)."""
_CHAR_PX: Final = 7.4
_CELL_PAD_PX: Final = 16


def visible_columns(table: pd.DataFrame, budget_px: float = TABLE_WIDTH_PX) -> list[str]:
    """The columns shown by default: in order, while their estimated width fits ``budget_px``
    (the first column always). Width: the longest text in the column (13 px font).

    >>> t = pd.DataFrame({"run": ["r1"], "a": ["x" * 60], "b": ["y" * 80], "c": ["1"]})
    >>> visible_columns(t)
    ['run', 'a', 'c']
    """
    shown: list[str] = []
    used = 0.0
    for column in table.columns:
        longest = max([len(str(column)), *(len(str(v)) for v in table[column])])
        width = longest * _CHAR_PX + _CELL_PAD_PX
        if not shown or used + width <= budget_px:
            shown.append(str(column))
            used += width
    return shown


@dataclass(frozen=True)
class _FigureRef:
    """Where a figure goes in the HTML body (drawn when the HTML is made)."""

    name: str
    alt: str


@dataclass
class _Doc:
    """Sections accumulated as Markdown and HTML side by side."""

    title: str
    md: list[str] = field(default_factory=list)
    body: list[str | _FigureRef] = field(default_factory=list)
    renders: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    """Each figure's PNG renderer, run on first use (:attr:`figures`, :meth:`html`): the
    Markdown only names the files, so a report read as Markdown draws nothing."""
    viewer_url: str | None = None
    """Base URL of ``judge view``; counts of item sets link to it (None: no links)."""
    _ids: set[str] = field(default_factory=set)

    def anchor(self, text: str) -> str:
        """A unique HTML id for a heading."""
        base = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "section"
        name, n = base, 1
        while name in self._ids:
            n += 1
            name = f"{base}-{n}"
        self._ids.add(name)
        return name

    def heading(self, text: str, level: int = 2) -> None:
        self.md.append(f"{'#' * level} {text}\n")
        self.body.append(f'<h{level} id="{self.anchor(text)}">{html.escape(text)}</h{level}>')

    def raw(self, markdown: str, body: str) -> None:
        """Markdown and HTML written by the caller (already escaped)."""
        self.md.append(markdown + "\n")
        self.body.append(body)

    def para(self, text: str) -> None:
        self.md.append(text + "\n")
        self.body.append(f"<p>{html.escape(text)}</p>")

    def bullets(self, items: Iterable[str]) -> None:
        items = list(items)
        self.md.append("\n".join(f"- {i}" for i in items) + "\n")
        self.body.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")

    def table(
        self, table: pd.DataFrame, caption: str | None = None, *, links: str | None = None
    ) -> None:
        """A table; ``links`` (``runs``, ``judgments``, ``pairs``, ``position``) links its
        counts of item sets to the viewer (:func:`item_set_links`)."""
        urls = item_set_links(table, links, self.viewer_url) if links and self.viewer_url else {}
        if caption:
            self.md.append(f"*{caption}*\n")
        linked = table.astype(object)
        for (row, column), url in urls.items():
            linked.iloc[row, linked.columns.get_loc(column)] = f"[{table.iloc[row][column]}]({url})"
        self.md.append(markdown_table(linked) + "\n")
        if not len(table):
            self.body.append("<p><em>(no rows)</em></p>")
            return
        self.body.append(
            _html_table(table, caption, urls, visible_columns(table), self.anchor("columns"))
        )

    def figure(self, name: str, render: Callable[[], bytes], alt: str) -> None:
        """A figure, drawn by ``render`` (a ``plot_*`` function with its data bound)
        only when its PNG is needed."""
        self.renders[name] = cache(render)
        self.md.append(f"![{alt}](figures/{name}.png)\n")
        self.body.append(_FigureRef(name, alt))

    @property
    def figures(self) -> dict[str, bytes]:
        """Every figure's PNG, drawn now if not yet."""
        return {name: render() for name, render in self.renders.items()}

    def _body_html(self, part: str | _FigureRef) -> str:
        if isinstance(part, str):
            return part
        data = base64.b64encode(self.renders[part.name]()).decode("ascii")
        alt = html.escape(part.alt)
        return (
            f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{alt}</figcaption></figure>"
        )

    def markdown(self) -> str:
        return f"# {self.title}\n\n" + "\n".join(self.md)

    def html(self) -> str:
        style = (
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
            "padding:0 1em;color:#222}table{border-collapse:collapse;margin:0.6em 0 1.4em;"
            "font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}"
            "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
            "caption{text-align:left;font-style:italic;padding:2px 0}"
            ".scroll{overflow-x:auto}td{white-space:nowrap}img{max-width:100%}"
            "figure{margin:0.5em 0 1.5em}figcaption{font-size:12px;color:#555}"
            ".tbl{position:relative}.tbl .extra{display:none}"
            ".tbl input.more:checked~.scroll .extra{display:table-cell}"
            ".tbl label{font-size:12px;color:#36c;cursor:pointer}"
            ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));"
            "gap:12px;margin:0.5em 0 1.5em}.card{border:1px solid #ccc;border-left-width:6px;"
            "border-radius:4px;padding:8px 12px}.card h3{margin:0 0 4px;font-size:16px}"
            ".card .run{font-size:12px;color:#666;overflow-wrap:anywhere}"
            ".card ul{margin:6px 0 0;padding-left:18px;font-size:13px}"
            ".trust{border-left-color:#2f9e44}.caution{border-left-color:#f59f00}"
            ".distrust{border-left-color:#e03131}.verdict b{font-size:15px}"
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{style}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>\n"
            + "\n".join(self._body_html(part) for part in self.body)
            + "\n</body></html>\n"
        )


def _html_table(
    table: pd.DataFrame,
    caption: str | None,
    urls: dict[tuple[int, str], str],
    shown: Sequence[str],
    toggle_id: str,
) -> str:
    """A table whose columns beyond ``shown`` hide behind a CSS-only toggle."""
    extra = [str(c) for c in table.columns if str(c) not in shown]

    def cell(tag: str, text: str, column: str) -> str:
        css = ' class="extra"' if column in extra else ""
        return f"<{tag}{css}>{text}</{tag}>"

    head = "".join(cell("th", html.escape(str(c)), str(c)) for c in table.columns)
    rows = []
    for i in range(len(table)):
        cells = []
        for column in table.columns:
            value = table.iloc[i][column]
            text = html.escape(
                ""
                if value is None or (isinstance(value, float) and math.isnan(value))
                else str(value)
            )
            url = urls.get((i, str(column)))
            if url:
                text = f'<a href="{html.escape(url)}" title="these items in judge view">{text}</a>'
            cells.append(cell("td", text, str(column)))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    rendered = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    toggle = (
        f'<input type="checkbox" class="more" id="{toggle_id}" hidden>'
        f'<label for="{toggle_id}">+ {len(extra)} more column{"s" if len(extra) > 1 else ""}: '
        f"{html.escape(', '.join(extra))}</label>"
        if extra
        else ""
    )
    return f'<div class="tbl">{toggle}<div class="scroll">{rendered}</div></div>'


def _gap_range(label: str) -> dict[str, int]:
    """Viewer filters of a length-gap bin label.

    >>> _gap_range("25-99"), _gap_range("300+"), _gap_range("0")
    ({'gap_min': 25, 'gap_max': 99}, {'gap_min': 300}, {'gap_min': 0, 'gap_max': 0})
    """
    if label.endswith("+"):
        return {"gap_min": int(float(label[:-1]))}
    low, _, high = label.partition("-")
    return {"gap_min": int(float(low)), "gap_max": int(float(high or low))}


def item_set_links(
    table: pd.DataFrame, kind: str | None, viewer_url: str | None
) -> dict[tuple[int, str], str]:
    """Viewer URLs for the cells of ``table`` that count a set of items.

    - ``runs`` (the runs table): ``items`` -> the run; ``unparsed`` / ``error``
      (judgments) -> pairs with a judgment of that status (the viewer counts those
      judgments too);
    - ``judgments`` (tables of judgment counts): ``n_unparsed`` / ``n_error`` likewise;
    - ``pairs`` (agreement tables, per run or run and category): ``n_pairs`` -> the
      pairs; ``n_unparsed`` / ``n_error`` -> pairs whose outcome is that failure;
    - ``position`` (per run or run and length gap): ``n_pairs``, ``flips`` (A in one
      order, B in the other) and ``changed`` (any change between orders).

    Rows without a ``run`` get no links.
    """
    if not viewer_url or "run" not in table or kind is None:
        return {}
    columns = {
        "runs": {"items": {}, "unparsed": {"status": "unparsed"}, "error": {"status": "error"}},
        "pairs": {
            "n_pairs": {},
            "n_unparsed": {"verdict": "unparsed"},
            "n_error": {"verdict": "error"},
        },
        "judgments": {"n_unparsed": {"status": "unparsed"}, "n_error": {"status": "error"}},
        "position": {
            "n_pairs": {},
            "flips": {"position": "flip"},
            "changed": {"position": "inconsistent"},
        },
    }[kind]
    urls: dict[tuple[int, str], str] = {}
    for i in range(len(table)):
        row = table.iloc[i]
        base: dict[str, Any] = {"run": str(row["run"])}
        if "category" in table and isinstance(row["category"], str) and row["category"]:
            base["category"] = row["category"]
        if "length_gap" in table and not pd.isna(row["length_gap"]):
            base.update(_gap_range(str(row["length_gap"])))
        for column, extra in columns.items():
            if column in table and str(row[column]) not in ("", "0", "nan"):
                urls[(i, column)] = list_url(viewer_url, **base, **extra)
    return urls


def reference_path(datasets_dir: str | Path | None = None) -> Path | None:
    """Where the AlpacaEval evaluator table is: ``datasets_dir``, ``$JUDGE_HARNESS_DATA``,
    or ``../shared/datasets`` from the current folder or the repository; None if absent."""
    return find_data_file(ALPACA_EVAL_REFERENCE, datasets_dir)


def alpaca_eval_reference(path: str | Path) -> pd.DataFrame:
    """The AlpacaEval evaluator leaderboard, columns renamed to this project's names."""
    table = pd.read_csv(path)
    table = table.rename(
        columns={
            table.columns[0]: "evaluator",
            "Human agreement": "human_agreement_pct",
            "Proba. prefer longer": "p_prefer_longer",
            "Proba. prefer 1": "p_prefer_first",
            "Price [$/1000 examples]": "cost_per_1000",
            "Time [seconds/1000 examples]": "seconds_per_1000",
            "# parsed": "n_parsed",
        }
    )
    keep = [
        "evaluator",
        "human_agreement_pct",
        "p_prefer_longer",
        "p_prefer_first",
        "cost_per_1000",
        "seconds_per_1000",
        "n_parsed",
    ]
    return table[keep].sort_values("human_agreement_pct", ascending=False).reset_index(drop=True)


def write_report(
    run_dirs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    failures: agreement.Failures = "wrong",
    datasets_dir: str | Path | None = None,
    title: str = "judge-harness report",
    viewer_url: str | None = DEFAULT_VIEWER_URL,
    self_models: Mapping[str, Sequence[str]] | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> dict[str, Path]:
    """Analyse run folders and write ``report.md``, ``report.html``, ``figures/*.png`` and
    ``frame.parquet`` (the tidy frame) into ``out_dir``. Returns the written paths.

    Counts of item sets link to ``judge view`` at ``viewer_url`` (None: no links)."""
    n_resamples, confidence, seed = resampling(bootstrap)
    from judge.probes.run import load_probe_design

    frame = load_frame(run_dirs)
    if frame.empty:
        from judge.errors import DataError

        dirs = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
        raise DataError(
            f"no judgments to report in {', '.join(str(d) for d in dirs)} "
            "(judgments.jsonl is empty or missing); make them with `judge run` or "
            "`judge import`"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_report(
        frame,
        probes=load_probe_design(run_dirs),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        failures=failures,
        datasets_dir=datasets_dir,
        title=title,
        viewer_url=viewer_url,
        self_models=self_models,
    )
    figures_dir = out / "figures"
    figures_dir.mkdir(exist_ok=True)
    paths: dict[str, Path] = {}
    for name, png in doc.figures.items():
        path = figures_dir / f"{name}.png"
        path.write_bytes(png)
        paths[f"figure:{name}"] = path
    paths["markdown"] = out / "report.md"
    paths["markdown"].write_text(doc.markdown(), encoding="utf-8")
    paths["html"] = out / "report.html"
    paths["html"].write_text(doc.html(), encoding="utf-8")
    paths["frame"] = save_frame(frame, out / "frame.parquet")
    return paths


def build_report(
    frame: pd.DataFrame,
    *,
    failures: agreement.Failures = "wrong",
    datasets_dir: str | Path | None = None,
    title: str = "judge-harness report",
    probes: pd.DataFrame | None = None,
    viewer_url: str | None = DEFAULT_VIEWER_URL,
    self_models: Mapping[str, Sequence[str]] | None = None,
    **bootstrap: Unpack[Bootstrap],
) -> _Doc:
    """The report of a frame, in memory (see :func:`write_report`); ``probes`` is the
    probe design (:func:`judge.probes.run.load_probe_design`) where runs are probes;
    ``self_models`` maps a judge to its own model(s) among the compared ones
    (self-preference)."""
    n_resamples, confidence, seed = resampling(bootstrap)
    expect_choice(failures, ("wrong", "exclude"), "failures", "build_report")
    doc = _Doc(title, viewer_url=viewer_url)
    opts: dict[str, Any] = {"n_resamples": n_resamples, "confidence": confidence, "seed": seed}
    pct = f"{confidence:.0%}"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    pairs_all = pair_frames(frame, [None, *POLICIES])
    pairs = pairs_all[None]
    if len(pairs):
        probe_runs = set(map(str, probes["run"])) if probes is not None and len(probes) else set()
        _verdict_cards(doc, frame, pairs, failures, opts, probe_runs=probe_runs)
    doc.para(
        f"Generated {now}. Intervals are {pct} percentile bootstrap intervals over items "
        f"({n_resamples} resamples, seed {seed}). Unparsed and errored verdicts are "
        f"{'counted as wrong' if failures == 'wrong' else 'left out'} and counted beside "
        "every figure; they are never ties."
        + (
            f" Counts of items link to judge view at {doc.viewer_url} (start it with "
            "`judge view` on the same run folders)."
            if doc.viewer_url
            else ""
        )
    )
    _runs_section(doc, frame)
    if len(pairs):
        published = published_by_run(frame, datasets_dir)
        _pairs_sections(doc, frame, pairs, pairs_all, failures, opts, pct, published)
        _controlled_section(doc, pairs, opts, self_models or {})
    if len(pairs):
        _turns_section(doc, pairs, failures, opts)
    if (frame["kind"] == "single").any():
        _single_section(doc, frame, opts)
    if criterion_columns(frame):
        _criteria_section(doc, frame, opts)
    _reliability_sections(doc, frame, probes, opts, pct)
    _reference_section(doc, frame, datasets_dir)
    return doc


def _runs_section(doc: _Doc, frame: pd.DataFrame) -> None:
    doc.heading("Runs")
    rows = []
    for run, part in frame.groupby("run", observed=True, sort=True):
        status = part["status"].value_counts()
        rows.append(
            {
                "run": run,
                "judge": ", ".join(map(str, part["judge"].unique())),
                "benchmark": ", ".join(map(str, part["benchmark"].unique())),
                "items": part["item_id"].nunique(),
                "judgments": len(part),
                "ok": int(status.get("ok", 0)),
                "unparsed": int(status.get("unparsed", 0)),
                "error": int(status.get("error", 0)),
                "orders": ", ".join(sorted(map(str, part["order"].unique()))),
                "reconcile": ", ".join(map(str, part["reconcile"].unique())),
                "tokens in": int(part["tokens_in"].sum()),
                "tokens out": int(part["tokens_out"].sum()),
                # text, not numbers: the cells' 3 decimals would print 0.0007 as 0.001
                # and 0.341 s, rounded to 0.3, as 0.300
                "cost $": f"{float(part['billed'].sum()):.4f}",
                "saved $": f"{float((part['cost'] - part['billed']).sum()):.4f}",
                "backend s": f"{float(part['latency_s'].sum()):.1f}",
            }
        )
    doc.table(pd.DataFrame(rows).map(_fmt) if rows else pd.DataFrame(), links="runs")
    _members_section(doc, frame)


def _members_section(doc: _Doc, frame: pd.DataFrame) -> None:
    """Each jury member's ok / unparsed / error counts beside the jury's own."""
    rows = []
    for run, part in frame.groupby("run", observed=True, sort=True):
        members = member_counts(part)
        if not members:
            continue
        status = part["status"].value_counts()
        own = {s: int(status.get(s, 0)) for s in ("ok", "unparsed", "error")}
        rows.append({"run": run, "member": "(jury vote)", "judgments": len(part), **own})
        for name, counts in members.items():
            rows.append({"run": run, "member": name, "judgments": sum(counts.values()), **counts})
    if rows:
        doc.heading("Jury members", 3)
        doc.para(
            "Each member's replies on the jury's judgments: a member that is unparsed or "
            "an error does not vote, so the jury can be ok while members fail."
        )
        doc.table(pd.DataFrame(rows).map(_fmt))


def published_by_run(
    frame: pd.DataFrame, datasets_dir: str | Path | None = None
) -> dict[str, PublishedFigure]:
    """Run -> the figure its benchmark's authors published for that run's judge.

    Asks each benchmark plugin in ``frame`` for its :meth:`published_figures` (read
    from the dataset's files) and matches them to the runs' judge names.
    """
    from judge.errors import JudgeError
    from judge.factory import benchmark_class

    root = Path(datasets_dir) if datasets_dir is not None else None
    out: dict[str, PublishedFigure] = {}
    runs = frame.drop_duplicates("run")[["run", "judge", "benchmark"]]
    figures: dict[str, list[PublishedFigure]] = {}
    for name in runs["benchmark"].astype(str).unique():
        try:
            plugin = benchmark_class(name)
            figures[name] = list(plugin.published_figures(root))
        except (JudgeError, AttributeError):
            figures[name] = []  # an unknown plugin, or no dataset folder here
    for row in runs.itertuples(index=False):
        found = match_published(figures[str(row.benchmark)], str(row.judge))
        if found is not None:
            out[str(row.run)] = found
    return out


def _policies_section(
    doc: _Doc,
    frame: pd.DataFrame,
    pairs_all: dict[Any, pd.DataFrame],
    failures: agreement.Failures,
    opts: dict[str, Any],
    published: dict[str, PublishedFigure],
) -> None:
    doc.heading("Accuracy under every reconcile policy")
    doc.para(
        "The same judgments combined into one pair verdict by each policy, in percent of "
        "labelled pairs (failures "
        + ("counted wrong" if failures == "wrong" else "left out")
        + "). inconsistent_tie: the orders disagree -> tie; average_probabilities: "
        "mean of the two orders' probabilities; first_order: the original order only; "
        "net_vote (JudgeBench): A = +1, B = -1, tie or failure = 0 summed over the "
        "orders, the sign is the verdict; both_orders: right only when each order's "
        "verdict equals the label. A pair judged in one order only has that order's "
        "verdict under every policy. 'published' is the figure the benchmark's "
        "authors give for this judge, with the policy that computes it."
    )
    long = bias.policy_table(frame, pairs_by_policy=pairs_all, failures=failures, n_resamples=0)
    wide = bias.policy_accuracy_wide(long)
    shown = wide.copy()
    for policy in POLICIES:
        if policy in shown:
            shown[policy] = [_pct(v) for v in shown[policy]]
    shown["published"] = [
        f"{_pct(published[r].value)} ({published[r].policy})" if r in published else ""
        for r in wide["run"].astype(str)
    ]
    doc.table(shown.map(_fmt) if len(shown) else shown)
    table = bias.policy_table(frame, pairs_by_policy=pairs_all, failures=failures, **opts)
    doc.heading("Every policy, with intervals", 3)
    doc.table(_display(table, ci=agreement.FIGURES))


def _pct(value: Any) -> str:
    """A fraction as a percentage with two decimals (``n/a`` for NaN).

    >>> _pct(0.657142857), _pct(float("nan"))
    ('65.71', 'n/a')
    """
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return "n/a"
    return f"{100 * float(value):.2f}"


def _pairs_sections(
    doc: _Doc,
    frame: pd.DataFrame,
    pairs: pd.DataFrame,
    pairs_all: dict[Any, pd.DataFrame],
    failures: agreement.Failures,
    opts: dict[str, Any],
    pct: str,
    published: dict[str, PublishedFigure],
) -> None:
    """Every section over pair judgments, in report order; each heading has its own
    function below, so adding a section means adding one function and one call here."""
    labelled = bool(pairs["label"].notna().any())
    if labelled:
        _leaderboard_section(doc, frame, pairs, failures, opts)
        _policies_section(doc, frame, pairs_all, failures, opts, published)
        _agreement_section(doc, pairs, failures, opts, pct)
        _label_breakdown_sections(doc, pairs, failures, opts)
    _position_section(doc, frame, pairs, opts)
    _length_section(doc, frame, pairs, labelled, opts)
    _ranking_section(doc, pairs, opts)


def _leaderboard_section(
    doc: _Doc,
    frame: pd.DataFrame,
    pairs: pd.DataFrame,
    failures: agreement.Failures,
    opts: dict[str, Any],
) -> None:
    """The evaluator leaderboard (labelled pairs)."""
    doc.heading("Leaderboard")
    doc.para(
        "In the style of AlpacaEval's evaluator table; each column has one definition "
        "for judge rows and the humans row, failure rates, and $ and backend seconds "
        "per 1,000 judgments:"
    )
    doc.bullets(f"{k}: {v}" for k, v in LEADERBOARD_DEFINITIONS.items())
    board = leaderboard(frame, pairs=pairs, failures=failures, **opts)
    board = board.dropna(axis=1, how="all")
    doc.table(_display(board, ci=["accuracy", "kappa", "human_agreement"]))


def _agreement_section(
    doc: _Doc, pairs: pd.DataFrame, failures: agreement.Failures, opts: dict[str, Any], pct: str
) -> None:
    """Agreement with the human labels, and the human baseline computed the same way."""
    loo = agreement.leave_one_out_table(pairs, failures=failures, **opts)
    doc.heading("Agreement with humans")
    table = agreement.agreement_table(pairs, failures=failures, **opts)
    doc.para(
        "Each run under its configured reconcile policy. 'without tie' drops pairs "
        "where the label or the verdict is a tie (FastChat's convention); kappa_linear "
        "weighs B < tie < A; alpha is Krippendorff's (nominal) with every annotator "
        "plus the judge, alpha_humans the annotators alone."
    )
    doc.table(_display(table, ci=[*agreement.FIGURES, "alpha", "alpha_humans"]), links="pairs")
    humans = loo[loo["kind"] == "humans"] if len(loo) else None
    doc.figure(
        "agreement",
        partial(plot_agreement, table, humans),
        f"Accuracy and kappa against the human majority with {pct} CIs",
    )
    if len(loo):
        doc.heading("Human baseline, computed the same way", 3)
        doc.para(
            "Each annotator against the majority of the others; 'humans' is their "
            "mean; each judge row is the judge against the same leave-one-out "
            "references, averaged, so the two are directly comparable."
        )
        doc.table(_display(loo, ci=agreement.FIGURES))
        pairwise = agreement.annotator_agreement(pairs, **opts)
        doc.heading("Annotator pairs", 3)
        doc.table(_display(pairwise, ci=agreement.FIGURES))


def _label_breakdown_sections(
    doc: _Doc, pairs: pd.DataFrame, failures: agreement.Failures, opts: dict[str, Any]
) -> None:
    """Confusion matrices, judge against judge, and per-category agreement."""
    confusion = agreement.confusion_table(pairs)
    doc.heading("Confusion matrices", 3)
    for run in pairs["run"].unique():
        doc.figure(
            f"confusion_{_slug(str(run))}",
            partial(plot_confusion, confusion, run),
            f"Human label x judge verdict, {run}",
        )
        _confusion_links(doc, confusion, str(run))
    comparisons = agreement.judge_comparisons(pairs, failures=failures, **opts)
    if len(comparisons):
        doc.heading("Judge against judge", 3)
        doc.para(
            "Paired bootstrap of the accuracy difference and exact McNemar test on "
            "per-item correctness; kappa and agreement between the two judges' "
            "verdicts."
        )
        doc.table(_display(comparisons, ci=["difference"]))
    if pairs["category"].notna().any():
        categories = bias.bias_type_table(pairs, failures=failures, **opts)
        doc.heading("Per category", 3)
        doc.para("For EvalBiasBench the category is the bias type.")
        doc.table(
            _display(
                categories,
                ci=["accuracy", "kappa"],
                drop=[
                    "accuracy_without_tie",
                    "accuracy_without_tie_low",
                    "accuracy_without_tie_high",
                    "kappa_linear",
                    "kappa_linear_low",
                    "kappa_linear_high",
                    "alpha",
                    "alpha_low",
                    "alpha_high",
                    "alpha_humans",
                    "alpha_humans_low",
                    "alpha_humans_high",
                ],
            ),
            links="pairs",
        )
        if categories["category"].nunique() <= 30:
            doc.figure("categories", partial(plot_categories, categories), "Accuracy per category")


def _position_section(
    doc: _Doc, frame: pd.DataFrame, pairs: pd.DataFrame, opts: dict[str, Any]
) -> None:
    """Position bias overall and by length and quality gap."""
    doc.heading("Position bias")
    ordered, ordered_pairs = _without_position(doc, frame, pairs)
    if ordered_pairs.empty:
        return
    position = bias.position_table(ordered, pairs=ordered_pairs, **opts)
    doc.para(
        "Consistency: same canonical verdict in both orders (pairs with both orders ok). "
        "Flip rate: the verdict swaps between A and B outright. P(prefer first): ok "
        "non-tie judgments picking the response shown first (0.5 is unbiased)."
    )
    doc.table(
        _display(
            _with_order_counts(position, ordered_pairs),
            ci=["consistency", "flip_rate", "p_prefer_first", "kappa_orders"],
        ),
        links="position",
    )
    by_length = bias.position_by_gap(ordered, pairs=ordered_pairs, gap="length", **opts)
    if len(by_length):
        doc.heading("By length gap", 3)
        doc.table(
            _display(by_length, ci=["consistency", "flip_rate", "p_prefer_first", "kappa_orders"]),
            links="position",
        )
        doc.figure(
            "position_length_gap",
            partial(plot_position_by_gap, by_length, "length_gap"),
            "Position consistency and first-position rate by length gap (characters)",
        )
    by_quality = bias.position_by_gap(ordered, pairs=ordered_pairs, gap="quality", **opts)
    if len(by_quality):
        doc.heading("By quality gap", 3)
        doc.para(f"Quality gap measured by: {', '.join(by_quality['gap_measure'].unique())}.")
        doc.table(
            _display(by_quality, ci=["consistency", "flip_rate", "p_prefer_first", "kappa_orders"])
        )
        doc.figure(
            "position_quality_gap",
            partial(plot_position_by_gap, by_quality, "quality_gap"),
            "Position consistency and first-position rate by quality gap",
        )


def _length_section(
    doc: _Doc, frame: pd.DataFrame, pairs: pd.DataFrame, labelled: bool, opts: dict[str, Any]
) -> None:
    """Length bias: judge against the human labels on the same pairs."""
    doc.heading("Length bias")
    longer = bias.prefer_longer_table(frame, **opts)
    per_benchmark = []
    for name, part in pairs.groupby("benchmark", observed=True, sort=True):
        per_benchmark.append({"benchmark": name, **bias.human_prefer_longer(part, **opts)})
    human_longer = pd.DataFrame(per_benchmark)
    doc.para(
        "p_prefer_longer: every ok non-tie judgment of an unequal-length pair. "
        "p_judge_longer / p_human_longer / excess: the same judgments restricted to pairs "
        "whose human (or gold) label is not a tie either, so judge and labels are compared "
        "on the same pairs."
    )
    doc.table(
        _display(human_longer, ci=["p_prefer_longer"]),
        "P(the human/gold label is the longer response), distinct non-tie pairs of "
        "unequal length, per benchmark",
    )
    doc.table(
        _display(longer, ci=["p_prefer_longer", "p_judge_longer", "p_human_longer", "excess"]),
        links="judgments",
    )
    if len(longer) and labelled:
        reference = (
            float(human_longer["p_prefer_longer"].iloc[0]) if len(human_longer) == 1 else None
        )
        doc.figure(
            "length",
            partial(plot_length, longer, reference),
            "P(prefers the longer response): judge vs humans on the same pairs",
        )
        regression = bias.length_regression(frame)
        doc.heading("Disagreement against length advantage", 3)
        doc.para(
            "Logistic regression of (verdict differs from the human label) on the length "
            "advantage of the human-preferred response, per 100 characters; a negative "
            "coefficient means more disagreement when the better response is shorter. "
            "Wald standard error and p-value."
        )
        doc.table(_display(regression))


def _ranking_section(doc: _Doc, pairs: pd.DataFrame, opts: dict[str, Any]) -> None:
    """Bradley-Terry ranking and win rates of the compared models."""
    bt = ranking.bradley_terry(pairs, **opts)
    if len(bt):
        doc.heading("Ranking of the compared models")
        doc.para("Bradley-Terry strengths from the judge's pair verdicts (a tie is half a win).")
        doc.table(_display(bt, ci=["strength"]))
        wins = ranking.win_rates(pairs, **opts)
        doc.table(
            _display(wins[wins["opponent"] == "all"], ci=["win_rate"]),
            "Win rate against all opponents",
        )
        head = winrate.head_to_head(pairs)
        if len(head):
            doc.table(
                head.map(_fmt),
                "Model B against baseline A with AlpacaEval's definitions (win_rate: 100 x "
                "mean preference for B; discrete: ties half; avg_length: characters per "
                "instruction)",
            )


def _single_section(doc: _Doc, frame: pd.DataFrame, opts: dict[str, Any]) -> None:
    doc.heading("Single-answer grading")
    graded = single.graded_items(frame)
    aspects = ", ".join(sorted(map(str, frame["aspect"].dropna().unique()))) or "n/a"
    scales = ", ".join(sorted(map(str, graded["scale"].dropna().unique()))) or "n/a"
    doc.para(
        f"Judge scores against the human scores of aspect: {aspects}; scales: {scales}. "
        "Where the judge's and the item's scales are both known the judge's score is "
        "mapped linearly onto the item's scale (ends onto ends) before leniency and kappa; "
        "correlations do not change under that map. Unparsed and errored judgments have "
        "no score: they are left out of every figure here and counted in n_unparsed and "
        "n_error. n_units counts items (item level), prompts with at least three scored "
        "responses whose correlation is defined (prompt level, averaged over them), or "
        "systems (system level)."
    )
    levels: tuple[single.Level, ...] = ("item", "prompt", "system")
    tables = [single.score_correlations(frame, level=level, **opts) for level in levels]
    doc.table(_display(pd.concat(tables, ignore_index=True), ci=["pearson", "spearman", "kendall"]))
    doc.table(
        _display(single.leniency_table(frame, **opts), ci=["leniency"]),
        "Leniency: mean judge score minus mean human score, on the item's scale; "
        "kappa_linear on both rounded to that scale's integers",
    )
    graded = graded.dropna(subset=["judge_score", "human_score"])
    if len(graded):
        doc.figure(
            "scores", partial(plot_scores, graded), "Judge score against human score per item"
        )


def _criteria_section(doc: _Doc, frame: pd.DataFrame, opts: dict[str, Any]) -> None:
    """Each criterion of a multi-criterion judge (:mod:`judge.analysis.criteria`)."""
    from judge.analysis import criteria

    doc.heading("Criteria")
    doc.para(
        "Each criterion a multi-criterion judge scored in one call: the mean score over "
        "items; where the items carry human scores of an aspect with the criterion's "
        "name, the judge against them (scores as given): "
        "leniency (mean judge minus mean human), exact agreement of the two rounded to "
        "integers, item-level correlations. Unparsed and errored judgments have no "
        "criterion scores: counted in n_failed, left out of every figure."
    )
    table = criteria.criteria_table(frame, **opts).dropna(axis=1, how="all")
    doc.table(_display(table, ci=["mean"]))
    doc.table(criteria.criteria_distribution(frame), "How often each score was given")


def _turns_section(
    doc: _Doc, pairs: pd.DataFrame, failures: agreement.Failures, opts: dict[str, Any]
) -> None:
    """Agreement per conversation turn, where the runs judged more than one turn."""
    turns = pairs["turn"].dropna().unique()
    if len(turns) < 2 or not pairs["label"].notna().any():
        return
    doc.heading("Per turn")
    doc.para(
        "Multi-turn items (MT-Bench) by the turn the judgment is about (the frame's "
        "`turn` column); each run under its configured reconcile policy."
    )
    table = agreement.agreement_table(
        pairs[pairs["turn"].notna().to_numpy()], by=("run", "turn"), failures=failures, **opts
    )
    table["turn"] = table["turn"].astype(int)
    doc.table(_display(table, ci=agreement.FIGURES), links="pairs")


_NO_POSITION: Final = {
    "order_free": "position bias is 0 by construction. A reward model scores each response "
    "once, alone, so there is no order to swap and no position to prefer; these runs are "
    "left out of the tables below.",
    # position bias of these would be a plausible wrong figure: with the order unknown,
    # "picked the first shown" is really "picked response A"
    "order_unknown": "position bias cannot be measured: the source did not record which "
    "response the judge was shown first (AlpacaEval un-swaps its verdicts without saying), "
    "so no position figure is given for these runs.",
}
"""Frame flags of runs without a position figure, and the note that names them."""


def _without_position(
    doc: _Doc, frame: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The judgments and pairs with a presentation order to measure; a note naming the
    runs of each kind left out (:data:`_NO_POSITION`)."""
    for flag, why in _NO_POSITION.items():
        flagged = frame[flag].to_numpy(dtype=bool)
        if flagged.any():
            runs = ", ".join(sorted(map(str, frame.loc[flagged, "run"].unique())))
            doc.para(f"{runs}: {why}")
            frame, pairs = frame[~flagged], pairs[~pairs[flag].to_numpy(dtype=bool)]
    return frame, pairs


def _reference_section(doc: _Doc, frame: pd.DataFrame, datasets_dir: str | Path | None) -> None:
    doc.heading("Reference figures")
    benchmarks = {str(b) for b in frame["benchmark"].unique()}
    for name in sorted(benchmarks & set(PUBLISHED)):
        doc.heading(f"Published figures: {name}", 3)
        doc.bullets(f"{what}: {value}" for what, value in PUBLISHED[name])
    path = reference_path(datasets_dir)
    doc.heading("AlpacaEval evaluator leaderboard", 3)
    if path is None:
        doc.para(
            "Not shown: evaluators_leaderboard.csv was not found (pass datasets_dir or "
            f"set ${DATA_ENV} to the folder holding alpaca_eval_evaluators_reference/)."
        )
        return
    table = alpaca_eval_reference(path)
    doc.para(
        "AlpacaEval's evaluators measured on its 2.5K human cross-annotations (not this "
        "benchmark): human agreement in percent, humans leave-one-out. "
        + "; ".join(
            PUBLISHED["alpaca_eval"][i][0] + " " + PUBLISHED["alpaca_eval"][i][1] for i in range(2)
        )
        + ". Upstream lists one row's agreement as a fraction, not a percentage; it is "
        "shown as published."
    )
    doc.table(table.map(_fmt), f"Source: {path.name}")


def _with_order_counts(position: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The position table with the counts behind its rates: ``flips`` (A in one order, B in
    the other) and ``changed`` (any different verdict), per run, beside ``n_both_ok``."""
    if position.empty:  # every run order-free (reward models): nothing measured
        return position
    v_orig, v_swap = (
        pairs["verdict_original"].astype(object),
        pairs["verdict_swapped"].astype(object),
    )
    both = v_orig.notna() & v_swap.notna()
    flips = both & (((v_orig == "A") & (v_swap == "B")) | ((v_orig == "B") & (v_swap == "A")))
    counts = (
        pd.DataFrame(
            {"run": pairs["run"].astype(str), "flips": flips, "changed": both & (v_orig != v_swap)}
        )
        .groupby("run")[["flips", "changed"]]
        .sum()
        .astype(int)
        .reset_index()
    )
    out = position.assign(run=position["run"].astype(str)).merge(counts, on="run", how="left")
    at = list(out.columns).index("n_both_ok") + 1
    ordered = [*out.columns[:at], "flips", "changed"]
    return out[ordered + [c for c in out.columns if c not in ordered]]


def _confusion_links(doc: _Doc, confusion: pd.DataFrame, run: str) -> None:
    """The confusion counts of ``run`` as a table whose cells link to the viewer."""
    part = confusion[confusion["run"].astype(str) == run]
    columns = ["A", "tie", "B", "unparsed", "error"]
    counts = {(str(r.label), str(r.verdict)): int(r.count) for r in part.itertuples()}
    head = "".join(f"<th>{c}</th>" for c in columns)
    rows, md_rows = [], []
    for label in ("A", "tie", "B"):
        cells, md_cells = [], []
        for verdict in columns:
            n = counts.get((label, verdict), 0)
            if n and doc.viewer_url:
                url = list_url(doc.viewer_url, run=run, label=label, verdict=verdict)
                cells.append(f'<td><a href="{html.escape(url)}">{n:,}</a></td>')
                md_cells.append(f"[{n:,}]({url})")
            else:
                cells.append(f"<td>{n:,}</td>")
                md_cells.append(f"{n:,}")
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
        md_rows.append(f"| {label} | " + " | ".join(md_cells) + " |")
    caption = f"Human label (rows) x judge verdict (columns), {run}"
    doc.raw(
        f"*{caption}*\n\n| label | "
        + " | ".join(columns)
        + " |\n|---|"
        + "---|" * len(columns)
        + "\n"
        + "\n".join(md_rows)
        + "\n",
        f'<table class="confusion"><caption>{html.escape(caption)}</caption><thead><tr>'
        f"<th>label</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    )


def _ci_text(row: dict[str, Any], name: str, *, percent: bool = False, signed: bool = False) -> str:
    value = row.get(name)
    if value is None or pd.isna(value):
        return "n/a"

    def fmt(x: float) -> str:
        if percent:
            return f"{x:.1%}"
        return f"{x:+.3f}" if signed else f"{x:.3f}"

    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    text = fmt(float(value))
    if low is not None and high is not None and not pd.isna(low) and not pd.isna(high):
        text += f" [{fmt(float(low))}, {fmt(float(high))}]"
    return text


def _verdict_cards(
    doc: _Doc,
    frame: pd.DataFrame,
    pairs: pd.DataFrame,
    failures: agreement.Failures,
    opts: dict[str, Any],
    *,
    probe_runs: set[str] | frozenset[str] = frozenset(),
) -> None:
    """One card per judge: can it be trusted here, and the figures that decide it. A bias
    probe's perturbed runs get none: their figures are about the perturbation (the Bias
    probes section), and a card each would bury the unperturbed run's."""
    from judge.analysis.trust import trust_table

    if probe_runs:
        keep = ~frame["run"].astype(str).isin(probe_runs).to_numpy()
        frame, pairs = frame[keep], pairs[~pairs["run"].astype(str).isin(probe_runs).to_numpy()]
        if not len(pairs):
            return
    table = trust_table(frame, pairs=pairs, failures=failures, **opts)
    if table.empty:
        return
    doc.heading("Can the judges be trusted?")
    if probe_runs:
        doc.para(
            f"{len(probe_runs)} bias-probe run{'s' if len(probe_runs) != 1 else ''} "
            "(perturbed copies of a run here) get no card: the Bias probes section "
            "compares each with its unperturbed run."
        )
    order_free = frame.groupby("run", observed=True)["order_free"].all().to_dict()
    order_free = {str(k): bool(v) for k, v in order_free.items()}
    order_unknown = {str(row["run"]) for row in table.to_dict("records") if row["order_unknown"]}
    cards, md = [], []
    viewer = doc.viewer_url
    for row in table.to_dict("records"):
        run = str(row["run"])
        labels = "gold label" if row["baseline"] == "gold" else "human majority"
        figures: list[tuple[str, str, str | None]] = []
        if row["labelled"]:
            agree = (
                f"agreement with the {labels} {_ci_text(row, 'accuracy')}, "
                f"kappa {_ci_text(row, 'kappa')}"
            )
            if row["baseline"] == "humans":
                agree += (
                    f"; against each annotator's leave-one-out reference: judge kappa "
                    f"{_ci_text(row, 'judge_loo_kappa')}, humans {_ci_text(row, 'human_kappa')}"
                )
            figures.append((agree, "#agreement-with-humans", None))
        else:
            figures.append(("agreement: no human labels", "#runs", None))
        if order_free.get(run, False):
            figures.append(
                (
                    "position bias: 0 by construction (each response scored once, no order)",
                    "#position-bias",
                    None,
                )
            )
        elif run in order_unknown:
            figures.append(
                (
                    "position bias: not measured (the order shown was not recorded)",
                    "#position-bias",
                    None,
                )
            )
        elif pd.isna(row["consistency"]):
            figures.append(
                ("position consistency: not measured (one order)", "#position-bias", None)
            )
        else:
            figures.append(
                (
                    f"position consistency {_ci_text(row, 'consistency')} over "
                    f"{int(row['n_both_ok']):,} pairs",
                    "#position-bias",
                    list_url(viewer, run=run, position="inconsistent") if viewer else None,
                )
            )
        figures.append(
            (
                f"length excess over the {'labels' if row['baseline'] == 'gold' else 'humans'} "
                f"{_ci_text(row, 'excess', signed=True)} over {int(row['n_same']):,} judgments"
                if not pd.isna(row["excess"])
                else "length excess: not measured",
                "#length-bias",
                None,
            )
        )
        figures.append(
            (
                f"failures {_ci_text(row, 'failure_rate', percent=True)} "
                f"({int(row['n_failed']):,} of {int(row['n_judgments']):,} judgments)",
                "#runs",
                list_url(viewer, run=run, status="failed") if viewer and row["n_failed"] else None,
            )
        )
        items = "".join(
            f'<li>{html.escape(text)} <a href="{detail}">detail</a>'
            + (f' · <a href="{html.escape(url)}">see the items</a>' if url else "")
            + "</li>"
            for text, detail, url in figures
        )
        headline, colon, reasons = str(row["sentence"]).partition(":")
        headline, reasons = headline + colon, reasons
        cards.append(
            f'<div class="card {row["rating"]}" data-run="{html.escape(run)}">'
            f"<h3>{html.escape(str(row['judge']))}</h3>"
            f'<div class="run">{html.escape(run)} · {html.escape(str(row["benchmark"]))}</div>'
            f'<p class="verdict"><b>{html.escape(headline)}</b>{html.escape(reasons)}</p>'
            f"<ul>{items}</ul></div>"
        )
        md.append(
            f"**{row['judge']}** ({run}): {row['sentence']}\n\n"
            + "\n".join(
                f"- {text} ([detail]({detail}))" + (f" ([items]({url}))" if url else "")
                for text, detail, url in figures
            )
            + "\n"
        )
    doc.raw("\n".join(md), '<div class="cards">' + "".join(cards) + "</div>")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:60]


# -- bias probes, calibration, self-consistency -------------------------------------------


def plot_probe_shifts(table: pd.DataFrame) -> bytes:
    """Shift in P(prefers the targeted response) per probe, with its CI (a forest plot)."""
    fig = _figure(6.5, 0.45 * len(table) + 1.4)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(table))[::-1]
    shift = table["shift"].astype(float)
    ax.errorbar(
        shift,
        y,
        xerr=_error_bars(shift, table["shift_low"], table["shift_high"]),
        fmt="o",
        capsize=3,
        color="#C44E52",
    )
    ax.axvline(0, color="grey", linewidth=0.8)
    several = table["baseline_run"].nunique() > 1
    labels = [
        f"{p} ({_short(str(b))})" if several else str(p)
        for p, b in zip(table["probe"], table["baseline_run"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel("shift in P(judge prefers the targeted response)")
    ax.set_title("Bias probes: perturbed minus unperturbed (paired bootstrap CI)", fontsize=9)
    return _png(fig)


def plot_reliability(points: pd.DataFrame) -> bytes:
    """Reliability diagram: accuracy against mean confidence per bin, one panel per level."""
    levels = list(dict.fromkeys(points["level"]))
    fig = _figure(3.3 * len(levels) + 0.6, 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(levels)))
    for ax, level in zip(axes, levels, strict=True):
        part = points[points["level"] == level]
        for run, run_part in part.groupby("run", sort=True):
            ax.plot(
                run_part["confidence"],
                run_part["accuracy"],
                marker="o",
                label=_short(str(run), 40),
            )
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(level.replace("_", " "), fontsize=9)
        ax.set_xlabel("confidence (top verdict probability)")
    axes[0].set_ylabel("accuracy vs label")
    axes[0].legend(fontsize=7)
    return _png(fig)


def _reliability_sections(
    doc: _Doc, frame: pd.DataFrame, probes: pd.DataFrame | None, opts: dict[str, Any], pct: str
) -> None:
    """Bias probes, calibration and self-consistency (docs/probes.md)."""
    from judge.analysis import calibration, consistency
    from judge.analysis import probes as probe_analysis

    if probes is not None and len(probes):
        table = probe_analysis.probe_table(frame, probes, **opts)
        doc.heading("Bias probes")
        doc.para(
            "Each probe perturbs one side of every pair (the targeted side: the "
            "labelled-worse response unless stated) and judges again in the same orders. "
            "shift: P(judge prefers the targeted response) perturbed minus unperturbed, "
            f"over judgments paired by item, order and sample, with a {pct} paired "
            "bootstrap CI over items; p_value: exact sign test over items whose count of "
            "target-preferring verdicts changed; flip_to_target: share of paired judgments "
            "that moved to the target; accuracy before/after against the labels. Pairs "
            "where either judgment failed are counted, not used."
        )
        doc.table(
            _display(
                table,
                ci=list(probe_analysis.FIGURES),
                drop=["runs", "perturbation"],
            )
        )
        missing = table[table["baseline_run"].isna()]
        if len(missing):
            doc.para(
                "No unperturbed run of the same benchmark and judge was given for: "
                + ", ".join(map(str, missing["probe"]))
                + "."
            )
        shown = table.dropna(subset=["shift"])
        if len(shown):
            doc.figure(
                "probe_shifts",
                partial(plot_probe_shifts, shown),
                f"Shift in P(prefers the targeted response) per probe with {pct} CIs",
            )
        doc.table(
            table[["probe", "perturbation", "baseline_run", "runs"]].map(_fmt),
            "Probe runs and the unperturbed run each is compared with",
        )

    calib = calibration.calibration_table(frame, **opts)
    if len(calib):
        doc.heading("Calibration")
        doc.para(
            "Probability verdicts against the labels: multi-class Brier score (A, B, tie), "
            "and the expected calibration error of the top verdict's probability over 10 "
            "equal-width bins; per run and per level (each judgment, the original order "
            "only, the two orders' probabilities averaged)."
        )
        doc.table(_display(calib, ci=["ece", "brier", "confidence", "accuracy"]))
        doc.figure(
            "reliability",
            partial(plot_reliability, calibration.reliability_table(frame)),
            "Reliability diagram: accuracy against confidence per bin (diagonal: calibrated)",
        )

    consistent = consistency.consistency_table(frame, **opts)
    if len(consistent):
        doc.heading("Self-consistency")
        doc.para(
            "Runs with several samples per request: the share of units whose verdict is "
            "the same in every sample, and the mean verdict entropy in bits (0: always the "
            "same; log2(3) = 1.585 at most). A judgment unit is an item in one order; a "
            "pair unit combines the orders by the run's reconcile policy."
        )
        doc.table(_display(consistent, ci=["consistency", "entropy"]))


# --- Length- and style-controlled leaderboard (issue 11) ------------------------------

CONTROLLED_RESAMPLES: Final = 200
"""Bootstrap resamples of the controlled tables (each refits a GLM), at most."""


def _controlled_section(
    doc: _Doc,
    pairs: pd.DataFrame,
    opts: dict[str, Any],
    self_models: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Per judge: win rates three ways (discrete, weighted, LC) with CIs and rank ranges,
    the raw-vs-LC plot, and the plain vs style-controlled Bradley-Terry ranking."""
    from judge.analysis.controlled import leaderboard, style_controlled, system_level

    named = pairs[pairs["model_a"].notna() & pairs["model_b"].notna()]
    _self_preference(doc, named, opts, self_models or {})
    if (
        named.empty
        or len(set(named["model_a"].astype(str)) | set(named["model_b"].astype(str))) < 3
    ):
        return
    boot = {**opts, "n_resamples": min(int(opts["n_resamples"]), CONTROLLED_RESAMPLES)}
    table, baseline = leaderboard(named, **boot)
    if table.empty:
        return
    doc.heading("Length- and style-controlled leaderboard")
    against = f"against the baseline {baseline}" if baseline else "in a round robin"
    doc.para(
        f"Per judge, each model's win rate {against}, three ways: discrete (a win counts "
        "1, a tie 0.5), weighted (mean P(model wins) where the judge gave probabilities) "
        "and length-controlled (LC: AlpacaEval 2.0's per-model logistic GLM on "
        "tanh(standardised length difference), instruction difficulty and a constant, "
        "predicted with the length term at 0). Percentages with standard errors and "
        f"bootstrap intervals over prompts ({boot['n_resamples']} resamples). The LC rank "
        "is the range of ranks the LC intervals allow; 'never wins' marks a model with no "
        "pair won."
    )
    shown = table.drop(
        columns=[c for c in ("opponent", "glm_c", "difficulty_coef") if c in table]
    ).rename(columns={"length_coef": "GLM length coef", "constant": "GLM constant"})
    doc.table(_display(shown, ci=["discrete", "weighted", "lc"]))
    for judge, part in table.groupby("judge", sort=True):
        doc.figure(
            f"raw_vs_lc_{_slug(str(judge))}",
            partial(plot_raw_vs_lc, part, str(judge)),
            f"Raw and length-controlled win rate per model ({judge})",
        )
    models, coefs = style_controlled(named, by=("judge",), **boot)
    if len(models):
        doc.para(
            "Bradley-Terry strengths (log-odds, summing to zero) without and with Arena-Hard's "
            "style covariates (length difference over total length; header, list and bold "
            "density differences; each standardised), with bootstrap intervals and the rank "
            "ranges they allow. A model that never wins has a strength set only by the ridge."
        )
        doc.table(_display(models, ci=["strength", "controlled"]))
        doc.table(
            _display(coefs, ci=["coef"]),
            "Style coefficients (log-odds per standard deviation of the covariate)",
        )
    judges = sorted(map(str, named["judge"].unique()))
    levels = []
    if named["label"].notna().any():
        levels.append(system_level(named, **boot))
    if len(judges) > 1:
        levels.append(system_level(named, reference=judges[0], **boot))
    level = pd.concat(levels, ignore_index=True) if levels else pd.DataFrame()
    if len(level) and (level["n_models"] >= 3).any():
        doc.table(
            _display(level, ci=["spearman", "kendall"]),
            "System-level agreement: rank correlation of the per-model win rates (every "
            "opponent) with the reference's on the same pairs (humans: the majority label)",
        )


def plot_raw_vs_lc(table: pd.DataFrame, judge: str) -> bytes:
    """Weighted (raw) and length-controlled win rate per model, with bootstrap CIs."""
    table = table.sort_values("lc", ascending=True)
    fig = _figure(7.0, max(2.5, 0.35 * len(table) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(table))
    for offset, name, label, color in (
        (-0.18, "weighted", "raw (weighted)", "#4C72B0"),
        (0.18, "lc", "length-controlled", "#DD8452"),
    ):
        ax.errorbar(
            table[name],
            y + offset,
            xerr=_error_bars(table[name], table[f"{name}_low"], table[f"{name}_high"]),
            fmt="o",
            color=color,
            label=label,
            capsize=3,
            markersize=4,
        )
    ax.set_yticks(y, [_short(str(m), 30) for m in table["model"]], fontsize=8)
    ax.set_xlabel("win rate (%)")
    ax.set_title(f"Raw vs length-controlled win rate ({_short(judge, 40)})", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def _self_preference(
    doc: _Doc, named: pd.DataFrame, opts: dict[str, Any], self_models: Mapping[str, Sequence[str]]
) -> None:
    """Each declared judge's favouritism for its own models, against the humans and every
    other judge on the same pairs."""
    from judge.analysis.controlled import HUMANS, self_preference

    judges = sorted(map(str, named["judge"].unique()))
    tables = []
    for declared, models in sorted(self_models.items()):
        # a judge name also names its runs labelled "name (backend: model)" (judge_labels)
        for judge in [j for j in judges if declared in (j, j.split(" (", 1)[0])]:
            references = [HUMANS] if named["label"].notna().any() else []
            references += [j for j in judges if j != judge]
            for reference in references:
                table = self_preference(
                    named, judge=judge, models=list(models), reference=reference, **opts
                )
                tables.append(table.assign(judge=judge, reference=reference))
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if rows.empty or not (rows["n"] > 0).any():
        return
    doc.heading("Self-preference")
    doc.para(
        "Each declared judge's own model(s): win rate (every opponent, %) under the judge "
        "and under the reference on the same pairs; favouritism = the difference in "
        "percentage points, with a paired bootstrap interval over prompts."
    )
    columns = ["judge", "reference", "model", "n", "judge_win_rate", "reference_win_rate"]
    doc.table(
        _display(
            rows[[*columns, "favouritism", "favouritism_low", "favouritism_high"]],
            ci=["favouritism"],
        )
    )
