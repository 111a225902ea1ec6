"""The report as one self-contained HTML page: inline CSS and inline SVG, no script, no
network. Readable on a phone (a viewport meta, plots that shrink to the width, tables that
scroll sideways) and in print (``@media print``: no scrolling, nothing split across pages).
"""

from __future__ import annotations

from html import escape

from ruleopt.report.figures import ENGINES, Table
from ruleopt.report.sections import Report, Section
from ruleopt.report.verdicts import HELD, NOT_HELD, Verdict

CSS = """
:root { color-scheme: light; --held: #1a7f37; --not: #b42318; --none: #6b7280; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; max-width: 64rem; padding: 0 1rem 3rem; color: #111; background: #fff; }
h1 { font-size: 1.6rem; margin: 1.2rem 0 .4rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
.meta, .note { color: #555; font-size: .9rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
table { border-collapse: collapse; font-size: .85rem; white-space: nowrap; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: right; }
th { background: #f3f4f6; }
td:first-child, th:first-child { text-align: left; }
figure.plot { margin: 1rem 0; }
figure.plot svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #555; }
ul.verdicts { padding-left: 1.1rem; }
.status { font-weight: 600; }
.held { color: var(--held); } .not-held { color: var(--not); } .not-measured { color: var(--none); }
nav ol { padding-left: 1.2rem; }
@media (max-width: 600px) { body { padding: 0 .6rem 2rem; font-size: 15px; } }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  .scroll { overflow: visible; }
  table { white-space: normal; font-size: 8pt; }
  figure.plot, table, .verdict { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def _cls(status: str) -> str:
    return {HELD: "held", NOT_HELD: "not-held"}.get(status, "not-measured")


def verdict_html(v: Verdict) -> str:
    parts = []
    for e in ENGINES:
        st = v.status(e)
        full, short = v.engine_text(e), v.summary(e)
        if short == full:
            parts.append(f'<span class="status {_cls(st)}">{escape(full)}</span>')
        else:  # many contexts: the count first, every context's figure one click away
            parts.append(
                f'<details class="status {_cls(st)}"><summary>{escape(short)}</summary>'
                f"{escape(full)}</details>"
            )
    return (
        f'<li class="verdict"><b>{escape(v.claim)}</b> <span class="note">'
        f"({escape(v.threshold)})</span>: "
        # A folded <details> is a block of its own: no comma between blocks.
        + ("".join(parts) if any(p.startswith("<details") for p in parts) else ", ".join(parts))
        + "</li>"
    )


def table_html(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    if not t.rows:
        body = f'<tr><td colspan="{len(t.columns)}">no cells</td></tr>'
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return (
        f"<h3>{escape(t.title)}</h3>"
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{note}"
    )


def section_html(s: Section) -> str:
    out = [
        f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>',
        f"<p><b>Question.</b> {escape(s.question)}</p>",
        f"<p><b>Method.</b> {escape(s.method)}</p>",
    ]
    if s.verdicts:
        out.append(
            '<p><b>Verdict.</b></p><ul class="verdicts">'
            + "".join(verdict_html(v) for v in s.verdicts)
            + "</ul>"
        )
    out += [f'<p class="note">{escape(n)}</p>' for n in s.notes]
    out += [table_html(t) for t in s.tables]
    for p in s.plots:
        out.append(
            f'<figure class="plot" id="plot-{escape(p.name)}" data-plot="{escape(p.name)}">'
            f"{p.svg}<figcaption>{escape(p.title)}</figcaption></figure>"
        )
    out.append("</section>")
    return "\n".join(out)


def _cells_html(r: Report) -> str:
    counts = ", ".join(f"{escape(k)} {v}" for k, v in r.counts.items())
    out = [f'<section id="cells"><h2>Cells</h2><p>{counts}</p>', table_html(r.cells)]
    if r.failed:
        out.append("<h3>Failed cells</h3><ul>")
        out += [f"<li><code>{escape(f['id'])}</code>: {escape(f['error'])}</li>" for f in r.failed]
        out.append("</ul>")
    if r.unreadable:
        out.append("<h3>Unreadable cell files</h3><ul>")
        out += [
            f"<li><code>{escape(u['file'])}</code>: {escape(u['reason'])}</li>"
            for u in r.unreadable
        ]
        out.append("</ul>")
    if r.machine:
        m = ", ".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in r.machine.items())
        out.append(f'<p class="meta">machine: {m}</p>')
    out.append("</section>")
    return "\n".join(out)


def render_html(r: Report) -> str:
    toc = "".join(f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in r.sections)
    verdicts = "".join(verdict_html(v) for v in r.verdicts)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(r.title)}</title><style>{CSS}</style></head><body><main>",
            f"<h1>{escape(r.title)}</h1>",
            f'<p class="meta">results: {escape(str(r.root))}; cells: '
            + ", ".join(f"{escape(k)} {v}" for k, v in r.counts.items())
            + "</p>",
            f'<section id="verdicts"><h2>Verdicts</h2><ul class="verdicts">{verdicts}</ul>'
            "</section>",
            f"<nav><h2>Sections</h2><ol>{toc}</ol></nav>",
            *[section_html(s) for s in r.sections],
            _cells_html(r),
            "</main></body></html>",
            "",
        ]
    )
