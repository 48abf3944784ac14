"""The viewer's HTML pages, rendered on the server.

Every text that comes from a run (prompts, responses, raw replies, item ids, judge and
category names) is untrusted and goes through :func:`html.escape`; the pages carry no
script at all, and the server forbids scripts with a Content-Security-Policy, so a
response containing ``<script>`` shows as text and runs nothing. No asset comes from
the internet: the style sheet is inline.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from pydantic import JsonValue

from judge.errors import ConfigError
from judge.records import PRESET_FILES
from judge.view.data import PAGE_SIZE, ItemView, ListPage, ListRow, RunInfo
from judge.view.filters import ItemFilter, item_url
from judge.view.prompts import item_record, rendered_prompts

STYLE: Final = """
body{font-family:system-ui,sans-serif;margin:0;color:#222;font-size:14px}
header{background:#24364b;color:#fff;padding:8px 16px;display:flex;gap:14px;
  align-items:baseline;flex-wrap:wrap}
header a{color:#cfe3ff}header .here{color:#fff;font-weight:600;text-decoration:none}
main{padding:8px 16px 40px}
h1{font-size:20px;margin:10px 0}h2{font-size:16px;margin:14px 0 6px}
h3{font-size:14px;margin:12px 0 4px}
.muted{color:#666}.small{font-size:12px}
form.filters{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:end;background:#f4f6f8;
  padding:8px 10px;border:1px solid #dde3ea;border-radius:4px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#444}
form.filters label.check{flex-direction:row;align-items:center;gap:4px}
form.filters input[type=number]{width:70px}
.quick a{margin-right:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}th a{color:#222}
td.num{text-align:right;white-space:nowrap}
td.snippet{max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.v{display:inline-block;min-width:2.2em;text-align:center;border-radius:3px;padding:0 4px;
  font-weight:600}
.v-A{background:#dbeafe}.v-B{background:#fde7d8}.v-tie{background:#ececec}
.v-unparsed{background:#fff3bf}.v-error{background:#ffc9c9}
.off{outline:2px solid #d9480f}
.pager{margin:8px 0}
pre.text{white-space:pre-wrap;word-wrap:break-word;background:#fafafa;border:1px solid #e5e5e5;
  padding:8px;margin:4px 0;font-size:13px;max-height:520px;overflow:auto}
.cols{display:grid;gap:12px}
.card{border:1px solid #dde3ea;border-radius:4px;padding:6px 10px;background:#fff;min-width:0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:4px 0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
.msg-role{font-size:11px;text-transform:uppercase;color:#666;margin-top:6px}
.error{color:#a61e1e}
"""

_MISSING = "—"


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def badge(outcome: object) -> str:
    """A verdict or failure status as a coloured badge (escaped)."""
    if outcome is None:
        return f'<span class="muted">{_MISSING}</span>'
    text = str(outcome)
    css = text if text in ("A", "B", "tie", "unparsed", "error") else "other"
    return f'<span class="v v-{css}">{e(text)}</span>'


def page(title: str, runs: Sequence[RunInfo], focus: int, body: str) -> str:
    """A whole page: header with the open runs, then ``body``."""
    tabs = " ".join(
        f'<a class="{"here" if r.index == focus else ""}" '
        f'href="/?{e(ItemFilter(run=r.run_id).query())}"'
        f' title="{e(r.path)}">{e(r.judge)} <span class="small">({e(r.run_id)})</span></a>'
        for r in runs
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><strong>judge view</strong><span>runs:</span>{tabs}</header>"
        f"<main>{body}</main></body></html>\n"
    )


def error_page(runs: Sequence[RunInfo], message: str) -> str:
    """A page that says what was wrong with the request."""
    return page(
        "judge view: error",
        runs,
        -1,
        f'<h1>Cannot show this page</h1><p class="error">{e(message)}</p>'
        '<p><a href="/">back to the first run</a></p>',
    )


# -- the list ----------------------------------------------------------------------------


def _select(name: str, current: object, options: Iterable[tuple[str, str]]) -> str:
    opts = "".join(
        f'<option value="{e(value)}"{" selected" if str(current or "") == value else ""}>'
        f"{e(text)}</option>"
        for value, text in options
    )
    return f'<select name="{e(name)}">{opts}</select>'


def _filter_form(f: ItemFilter, run: RunInfo, categories: Sequence[str], n_runs: int) -> str:
    def check(name: str, text: str, on: bool) -> str:
        return (
            f'<label class="check"><input type="checkbox" name="{name}" value="1"'
            f"{' checked' if on else ''}>{e(text)}</label>"
        )

    datalist = "".join(f'<option value="{e(c)}">' for c in categories)
    parts = [
        f'<input type="hidden" name="run" value="{e(run.run_id)}">',
        f'<label>search<input type="search" name="q" value="{e(f.q)}" '
        'placeholder="id, prompt, responses, replies"></label>',
        check("disagree", "disagrees with humans", f.disagree),
        "<label>between orders"
        + _select(
            "position",
            f.position,
            [
                ("", "any"),
                ("flip", "flipped A\u2194B"),
                ("inconsistent", "changed (ties too)"),
                ("consistent", "kept"),
            ],
        )
        + "</label>",
        "<label>a judgment is"
        + _select(
            "status",
            f.status,
            [
                ("", "any"),
                ("failed", "unparsed or error"),
                ("unparsed", "unparsed"),
                ("error", "error"),
                ("ok", "ok"),
            ],
        )
        + "</label>",
        "<label>pair verdict"
        + _select(
            "verdict",
            f.verdict,
            [("", "any")] + [(v, v) for v in ("A", "B", "tie", "unparsed", "error")],
        )
        + "</label>",
        "<label>human label"
        + _select(
            "label",
            f.label,
            [("", "any"), ("A", "A"), ("B", "B"), ("tie", "tie"), ("none", "none")],
        )
        + "</label>",
        f'<label>category<input list="categories" name="category" value="{e(f.category or "")}">'
        f'<datalist id="categories">{datalist}</datalist></label>',
        f'<label>length gap from<input type="number" min="0" name="gap_min" '
        f'value="{e("" if f.gap_min is None else f.gap_min)}"></label>',
        f'<label>to<input type="number" min="0" name="gap_max" '
        f'value="{e("" if f.gap_max is None else f.gap_max)}"></label>',
    ]
    if n_runs > 1:
        parts.append(check("judges_disagree", "judges disagree", f.judges_disagree))
    parts += [
        "<label>sort"
        + _select(
            "sort",
            f.sort,
            [
                ("item", "item order"),
                ("gap", "length gap"),
                ("p_a", "P(A)"),
                ("category", "category"),
                ("verdict", "pair verdict"),
                ("label", "human label"),
                ("status", "pair status"),
            ],
        )
        + "</label>",
        check("desc", "descending", f.desc),
        '<button type="submit">apply</button>',
        f'<a href="/?{e(ItemFilter(run=run.run_id).query())}">clear</a>',
    ]
    return '<form class="filters" method="get" action="/">' + "".join(parts) + "</form>"


def _order_cell(verdict: str | None, status: str | None, score: float | None, kind: str) -> str:
    if status is None:
        return f'<span class="muted">{_MISSING}</span>'
    if status != "ok":
        return badge(status)
    if kind == "single" or (verdict is None and score is not None):
        return e(_num(score, 2))
    return badge(verdict)


def _row(r: ListRow, f: ItemFilter, runs: Sequence[RunInfo], focus: RunInfo) -> str:
    link = item_url("", focus.run_id, r.item_id, r.sample)
    back = f.query()
    if back:
        link += "&" + urlencode({"from": back})
    name = r.item_id + (f" #{r.sample}" if r.sample else "")
    off = r.label is not None and r.outcome != r.label
    probs = (
        f"{_num(r.p_a, 2)} / {_num(r.p_b, 2)} / {_num(r.p_tie, 2)}"
        if r.p_a is not None or r.p_b is not None
        else _MISSING
    )
    if r.kind == "single":
        lengths = _num(r.len_a)
        human = _num(r.human_score, 2)
    else:
        lengths = f"{_num(r.len_a)} / {_num(r.len_b)} <span class=muted>({_num(r.gap)})</span>"
        human = badge(r.label)
    cells = [
        f'<td class="item"><a href="{e(link)}">{e(name)}</a></td>',
        f'<td class="category">{e(r.category or "")}</td>',
        f'<td class="snippet" title="{e(r.snippet)}">{e(r.snippet)}</td>',
        f'<td class="num lengths">{lengths}</td>',
        f'<td class="label">{human}</td>',
        f'<td class="orig">{_order_cell(r.verdict_o, r.status_o, r.score_o, r.kind)}</td>',
        f'<td class="swap">{_order_cell(r.verdict_s, r.status_s, r.score_s, r.kind)}</td>',
        f'<td class="pair{" off" if off else ""}">{badge(r.outcome)}</td>',
        f'<td class="num probs">{probs}</td>',
    ]
    for other in runs:
        if other.index == focus.index:
            continue
        if other.index in r.others:
            outcome = r.others[other.index]
            css = " off" if outcome != r.outcome else ""
            cells.append(
                f'<td class="other{css}" data-run="{e(other.run_id)}">{badge(outcome)}</td>'
            )
        else:
            cells.append(f'<td class="other muted" data-run="{e(other.run_id)}">not judged</td>')
    return (
        f'<tr data-item="{e(r.item_id)}" data-sample="{r.sample}" data-outcome="{e(r.outcome)}">'
        + "".join(cells)
        + "</tr>"
    )


def _header(f: ItemFilter, key: str | None, text: str, title: str = "") -> str:
    attr = f' title="{e(title)}"' if title else ""
    if key is None:
        return f"<th{attr}>{e(text)}</th>"
    desc = not f.desc if f.sort == key else False
    arrow = (" \u25bc" if f.desc else " \u25b2") if f.sort == key else ""
    href = "/?" + f.query(sort=key, desc=desc, page=1)
    return f'<th{attr}><a href="{e(href)}">{e(text)}{arrow}</a></th>'


def list_page(
    runs: Sequence[RunInfo], f: ItemFilter, focus: int, result: ListPage, categories: Sequence[str]
) -> str:
    """The item list of run ``focus`` under filter ``f``."""
    run = runs[focus]
    counts = ", ".join(f"{n:,} {s}" for s, n in sorted(run.status_counts.items()))
    superseded = run.n_lines - run.n_judgments
    summary = (
        f"<p><strong>{e(run.judge)}</strong> on <strong>{e(run.benchmark)}</strong>; pair "
        f"verdicts under <code>{e(run.reconcile)}</code>. {run.n_items:,} items, "
        f"{run.n_judgments:,} judgments ({e(counts)})"
        + (f", {superseded:,} superseded lines" if superseded else "")
        + f'. <span class="muted small">{e(run.path)}</span></p>'
    )
    quick_links = [
        ("disagrees with humans", {"disagree": True}),
        ("flipped between orders", {"position": "flip"}),
        ("changed between orders", {"position": "inconsistent"}),
        ("unparsed or error", {"status": "failed"}),
    ]
    if len(runs) > 1:
        quick_links.append(("judges disagree", {"judges_disagree": True}))
    quick = (
        '<p class="quick">quick filters: '
        + "".join(
            f'<a href="/?{e(ItemFilter(run=run.run_id, **kw).query())}">{e(text)}</a>'  # type: ignore[arg-type]
            for text, kw in quick_links
        )
        + "</p>"
    )
    j = result.judgments
    count = (
        f'<p class="count" data-total="{result.total}"><strong>{result.total:,}</strong> '
        f"{'pair' if result.total == 1 else 'pairs'} match (their judgments: "
        f"{j['ok']:,} ok, {j['unparsed']:,} unparsed, {j['error']:,} error)</p>"
    )
    pager = _pager(f, result)
    heads = [
        _header(f, "item", "item"),
        _header(f, "category", "category"),
        _header(f, None, "prompt"),
        _header(f, "gap", "len A / B (gap)", "characters"),
        _header(f, "label", "human"),
        _header(f, None, "original", "verdict with A shown first"),
        _header(f, None, "swapped", "verdict with B shown first (canonical order)"),
        _header(f, "verdict", "pair", f"pair verdict under {run.reconcile}"),
        _header(f, "p_a", "P(A / B / tie)", "swap-averaged probabilities"),
    ]
    heads += [f'<th title="{e(o.run_id)}">{e(o.judge)}</th>' for o in runs if o.index != focus]
    rows = "".join(_row(r, f, runs, run) for r in result.rows)
    table = (
        f'<table class="items"><thead><tr>{"".join(heads)}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        if result.rows
        else "<p><em>No item matches.</em></p>"
    )
    body = (
        summary
        + _filter_form(f, run, categories, len(runs))
        + quick
        + count
        + pager
        + table
        + pager
    )
    return page(f"judge view: {run.run_id}", runs, focus, body)


def _pager(f: ItemFilter, result: ListPage) -> str:
    links = []
    if result.page > 1:
        links.append(
            f'<a rel="prev" href="/?{e(f.query(page=result.page - 1))}">\u2190 previous</a>'
        )
    links.append(
        f'<span class="muted">page {result.page:,} of {result.n_pages:,} '
        f"({PAGE_SIZE} per page)</span>"
    )
    if result.page < result.n_pages:
        links.append(f'<a rel="next" href="/?{e(f.query(page=result.page + 1))}">next \u2192</a>')
    return '<p class="pager">' + " ".join(links) + "</p>"


# -- one item ------------------------------------------------------------------------------


def _text_block(text: object, css: str = "text") -> str:
    return f'<pre class="{css}">{e(text)}</pre>'


def _prompt_section(prompt: JsonValue) -> str:
    if isinstance(prompt, list):
        parts = []
        for message in prompt:
            if isinstance(message, dict):
                parts.append(
                    f'<div class="msg-role">{e(message.get("role"))}</div>'
                    + _text_block(message.get("content"))
                )
        return "".join(parts)
    return _text_block(prompt)


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    return (
        '<dl class="facts">' + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"
    )


def _probabilities(j: Mapping[str, JsonValue]) -> str:
    shown = [(k, j.get(f"p_{k.lower()}")) for k in ("A", "B", "tie")]
    if all(v is None for _, v in shown):
        return _MISSING
    return ", ".join(f"P({k}) {_num(v if isinstance(v, float) else None)}" for k, v in shown)


def _judgment_card(
    j: Mapping[str, JsonValue], run: RunInfo, item: Any, prompts_enabled: bool
) -> str:
    swapped = bool(j.get("swapped"))
    title = "swapped order (B shown first)" if swapped else "original order (A shown first)"
    if j.get("sample"):
        title += f", sample {j.get('sample')}"
    status = str(j.get("status"))
    verdict = badge(j.get("verdict")) if status == "ok" else badge(status)
    facts = [
        ("verdict", verdict + ' <span class="muted small">(canonical: A = response A)</span>'),
        ("probabilities", e(_probabilities(j))),
    ]
    if j.get("score") is not None:
        facts.append(("score", e(_num(j.get("score")))))  # type: ignore[arg-type]
    if j.get("score_a") is not None:
        facts.append(("scores A / B", e(f"{_num(j.get('score_a'))} / {_num(j.get('score_b'))}")))  # type: ignore[arg-type]
    if j.get("error"):
        facts.append(("error", f'<span class="error">{e(j.get("error"))}</span>'))
    facts += [
        ("tokens in / out", e(f"{_num(j.get('tokens_in'))} / {_num(j.get('tokens_out'))}")),  # type: ignore[arg-type]
        ("cost", e(f"${float(j.get('cost') or 0):.6f}")),  # type: ignore[arg-type]
        ("latency", e(f"{float(j.get('latency_s') or 0):.3f} s")),  # type: ignore[arg-type]
        ("cache hit", "yes" if j.get("cache_hit") else "no"),
        ("truncated", "yes" if j.get("truncated") else "no"),
    ]
    attempts = int(j.get("attempts") or 1)  # type: ignore[arg-type]
    if attempts > 1:
        facts.append(("attempts", e(f"{attempts} lines for this key; the last one is shown")))
    members = j.get("members")
    if isinstance(members, list) and members:
        rows = "".join(
            f"<tr><td>{e(m.get('name'))}</td><td>{badge(m.get('verdict') or m.get('status'))}"
            f"</td></tr>"
            for m in members
            if isinstance(m, dict)
        )
        facts.append(("jury members", f"<table>{rows}</table>"))
    prompt_html = ""
    if prompts_enabled and item is not None:
        files = run.manifest.extra.get(PRESET_FILES)
        for rendered in rendered_prompts(
            run.manifest.judge_spec,
            item,
            j,
            seed=run.manifest.config.seed,
            files={str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {},
        ):
            messages = "".join(
                f'<div class="msg-role">{e(m.role)}</div>{_text_block(m.content)}'
                for m in rendered.messages
            )
            prompt_html += (
                f'<details class="prompt"><summary>judge prompt'
                f"{' (' + e(rendered.who) + ')' if rendered.who != run.judge else ''}"
                f'</summary><p class="muted small">{e(rendered.note)}</p>{messages}</details>'
                if rendered.messages
                else f'<p class="muted small prompt-note">{e(rendered.note)}</p>'
            )
    raw = j.get("raw")
    return (
        f'<div class="judgment" data-swapped="{int(swapped)}" data-status="{e(status)}">'
        f"<h3>{e(title)}</h3>{_facts(facts)}{prompt_html}"
        f"<h4>raw reply</h4>"
        + (_text_block(raw, "text raw") if raw is not None else f"<p class=muted>{_MISSING}</p>")
        + "</div>"
    )


def item_page(runs: Sequence[RunInfo], view: ItemView, back: str | None = None) -> str:
    """One item: prompt, both responses side by side, the votes, and every open run's
    judgments of it side by side. ``back``: the query string of the list it was opened
    from (validated again, so the link back can only be a list page)."""
    item = dict(view.item)
    run = runs[view.run]
    kind = str(item.get("kind") or "pair")
    try:
        record = item_record(item)
    except ValueError:
        record = None  # shown without the re-rendered prompts
    title = f"item {item.get('id')}"
    info = [
        ("benchmark", e(item.get("benchmark"))),
        ("category", e(item.get("category") or _MISSING)),
        ("run shown", e(run.run_id)),
    ]
    if item.get("metadata"):
        info.append(("metadata", f"<code>{e(json_text(item.get('metadata')))}</code>"))
    back_filter = ItemFilter(run=run.run_id)
    if back:
        with suppress(ConfigError):  # a hand-edited link: back to the run's whole list
            back_filter = ItemFilter.from_query(parse_qs(back, keep_blank_values=True))
    head = f'<p><a href="/?{e(back_filter.query())}">\u2190 item list</a></p>'
    body = [head, f"<h1>{e(title)}</h1>", _facts(info), "<h2>Prompt</h2>"]
    body.append(_prompt_section(item.get("prompt")))
    if item.get("reference"):
        body += ["<h2>Reference</h2>", _text_block(item.get("reference"))]
    if kind == "pair":
        cards = []
        for side in ("a", "b"):
            text = str(item.get(f"response_{side}") or "")
            model = item.get(f"model_{side}")
            cards.append(
                f'<div class="card response" data-side="{side.upper()}"><h2>Response {side.upper()}'
                f' <span class="muted small">{len(text):,} characters'
                f"{', ' + e(model) if model else ''}</span></h2>{_text_block(text)}</div>"
            )
        body.append(
            '<div class="cols" style="grid-template-columns:1fr 1fr">' + "".join(cards) + "</div>"
        )
        labels = item.get("labels")
        votes = [v for v in labels if isinstance(v, dict)] if isinstance(labels, list) else []
        body.append("<h2>Human votes</h2>")
        if votes:
            rows = "".join(
                f"<tr><td>{e(v.get('annotator'))}</td><td>{badge(v.get('verdict'))}</td></tr>"
                for v in votes
            )
            body.append(
                f'<table class="votes" style="width:auto"><thead><tr><th>annotator</th><th>vote'
                f"</th></tr></thead><tbody>{rows}</tbody></table>"
                f"<p>majority: {badge(view.label)}</p>"
            )
        else:
            body.append("<p class=muted>no labels</p>")
    else:
        text = str(item.get("response") or "")
        body.append(
            f"<h2>Response <span class='muted small'>{len(text):,} characters"
            f"{', ' + e(item.get('model')) if item.get('model') else ''}</span></h2>"
            + _text_block(text)
        )
        scores = item.get("scores")
        if isinstance(scores, list) and scores:
            rows = "".join(
                f"<tr><td>{e(s.get('annotator'))}</td><td>{e(s.get('aspect'))}</td>"
                f"<td>{e(s.get('score'))}</td></tr>"
                for s in scores
                if isinstance(s, dict)
            )
            body.append(
                "<h2>Human scores</h2><table class='votes' style='width:auto'><thead><tr>"
                f"<th>annotator</th><th>aspect</th><th>score</th></tr></thead><tbody>{rows}</tbody></table>"
            )
    # every open run that judged the item, side by side
    by_run: dict[int, list[Mapping[str, JsonValue]]] = {}
    for j in view.judgments:
        by_run.setdefault(int(j["run"]), []).append(j)  # type: ignore[arg-type]
    pair_rows: dict[int, list[Mapping[str, JsonValue]]] = {}
    for p in view.pairs:
        pair_rows.setdefault(int(p["run"]), []).append(p)  # type: ignore[arg-type]
    order = [view.run] + [r.index for r in runs if r.index != view.run and r.index in by_run]
    columns = []
    for index in order:
        other = runs[index]
        pairs_html = "".join(
            f"<p>pair verdict{' (sample ' + str(p.get('sample')) + ')' if p.get('sample') else ''}"
            f" under <code>{e(p.get('policy'))}</code>: {badge(p.get('outcome'))}"
            + (
                " <span class='muted small'>(the two orders differ)</span>"
                if p.get("consistent") is False
                else ""
            )
            + "</p>"
            for p in pair_rows.get(index, [])
        )
        judgments = "".join(
            _judgment_card(j, other, record, prompts_enabled=True) for j in by_run.get(index, [])
        )
        columns.append(
            f'<div class="card judge" data-run="{e(other.run_id)}"><h2>{e(other.judge)} '
            f'<span class="muted small">{e(other.run_id)}</span></h2>'
            + (pairs_html or "<p class=muted>not judged by this run</p>")
            + judgments
            + "</div>"
        )
    body.append("<h2>Judgments</h2>")
    body.append(
        f'<div class="cols" style="grid-template-columns:repeat({len(columns)},minmax(0,1fr))">'
        + "".join(columns)
        + "</div>"
    )
    return page(title, runs, view.run, "".join(body))


def json_text(value: JsonValue) -> str:
    """Compact JSON (for metadata display)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
