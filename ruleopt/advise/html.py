"""The advise report as one self-contained HTML page: inline CSS and SVG, no script, no
network; a narrow layout that reads on a phone."""

from __future__ import annotations

from html import escape
from typing import Any

TOP = 25
BAR_H = 18
WIDTH = 640
LABEL_W = 240

_CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:.8rem;
line-height:1.4;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .4rem;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
.wrap{overflow-x:auto}
svg{max-width:100%;height:auto}
code{font-size:.85rem;word-break:break-all}
.code{font-weight:bold;white-space:nowrap}
"""


def _fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def cost_chart(rules: list[dict[str, Any]]) -> str:
    """Horizontal bars of cycles per 1k events, matched and unmatched parts apart."""
    shown = [r for r in rules if r["status"] == "ok"][:TOP]
    most = max((r["cycles_per_1k"] for r in shown), default=0.0) or 1.0
    height = BAR_H * len(shown) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="cycles per 1k events, per rule">'
    ]
    span = WIDTH - LABEL_W - 70
    for k, r in enumerate(shown):
        y = k * BAR_H + 4
        matched = (r["cycles_per_matched"] or 0.0) * r["matches"]
        unmatched = (r["cycles_per_unmatched"] or 0.0) * (r["checks"] - r["matches"])
        whole = matched + unmatched or 1.0
        w = span * r["cycles_per_1k"] / most
        wm = w * matched / whole
        name = r["name"] if len(r["name"]) <= 34 else r["name"][:31] + "..."
        out.append(f'<text x="0" y="{y + 12}" font-size="11">{escape(name)}</text>')
        out.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{w - wm:.1f}" height="{BAR_H - 4}" '
            f'fill="#4a7ab7"><title>unmatched</title></rect>'
        )
        out.append(
            f'<rect x="{LABEL_W + w - wm:.1f}" y="{y}" width="{wm:.1f}" '
            f'height="{BAR_H - 4}" fill="#d9822b"><title>matched</title></rect>'
        )
        out.append(
            f'<text x="{LABEL_W + w + 4:.1f}" y="{y + 12}" font-size="10">'
            f"{_fmt(r['cycles_per_1k'])}</text>"
        )
    y = BAR_H * len(shown) + 20
    out.append(
        f'<rect x="{LABEL_W}" y="{y - 9}" width="10" height="10" fill="#4a7ab7"/>'
        f'<text x="{LABEL_W + 14}" y="{y}" font-size="10">unmatched checks</text>'
        f'<rect x="{LABEL_W + 120}" y="{y - 9}" width="10" height="10" fill="#d9822b"/>'
        f'<text x="{LABEL_W + 134}" y="{y}" font-size="10">matched checks</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _operands(rule: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(o['operand'][:200])}</code></td>"
        f"<td>{_pct(o['pass_rate'])}</td>"
        f"<td>{_fmt(o['cycles_per_check'])}</td></tr>"
        for o in rule["operands"]
    )
    best = rule.get("best_order")
    tail = (
        f"<p>Measured best order: {', '.join(map(str, best))} "
        f"(saves {_fmt(rule.get('best_order_saving'))} cycles per 1k events)</p>"
        if best
        else ""
    )
    return (
        f"<details><summary>{escape(rule['name'])}: {escape(rule['evttypes_note'])}</summary>"
        f"<div class=wrap><table><tr><th>operand</th><th>passes</th><th>cycles/check</th></tr>"
        f"{rows}</table></div>{tail}</details>"
    )


def _section(report: dict[str, Any]) -> str:
    ev = report["events"]
    rows = []
    for r in report["rules"]:
        rep = r.get("replica") or {}
        rows.append(
            "<tr><td>"
            + escape(r["name"])
            + "</td>"
            + "".join(
                f"<td>{v}</td>"
                for v in (
                    escape(r["status"]),
                    f"{100 * r['share_of_cycles']:.1f}%",
                    _fmt(r["checks_per_1k"], 1),
                    _fmt(r["matches_per_1k"], 2),
                    _fmt(r["cycles_per_unmatched"]),
                    _fmt(r["cycles_per_matched"]),
                    f"{100 * rep['share_of_cycles']:.1f}%" if rep else "-",
                    _fmt(rep.get("cycles_per_unmatched")) if rep else "-",
                    escape(
                        r["evttypes"] if len(r["evttypes"]) < 60 else r["evttypes"][:57] + "..."
                    ),
                )
            )
            + "</tr>"
        )
    finds = [
        f"<tr><td class=code>{escape(f['code'])}</td><td>{escape(f['rule'])}</td>"
        f"<td>{_fmt(f['saving'])}</td><td style='text-align:left'>"
        f"{escape(f['message'])}</td></tr>"
        for f in report["findings"]
    ]
    return f"""<section>
<p>Rules: {escape(", ".join(report["rules_files"]))}. Events: {escape(ev["source"])};
libsinsp 2022 ran on {escape(ev["real_engine"])} ({ev["real_engine_events"]:,} events
&times; {ev["repeat"]} pass(es){
        "; " + escape(ev["real_engine_note"]) if ev["real_engine_note"] else ""
    }); the replica on {ev["replica_events"]:,} table rows.</p>
<h2>Cycles per 1k events, per rule (libsinsp 2022)</h2>
<div class=wrap>{cost_chart(report["rules"])}</div>
<h2>Findings</h2>
<p>Saving: cycles per 1k events if applied, from the per-operand measurements.</p>
<div class=wrap><table><tr><th>code</th><th>rule</th><th>saving</th><th>finding</th></tr>
{"".join(finds) or "<tr><td colspan=4>none</td></tr>"}</table></div>
<h2>Rules</h2>
<div class=wrap><table><tr><th>rule</th><th>status</th><th>share</th><th>checks/1k</th>
<th>matches/1k</th><th>cyc/unmatched</th><th>cyc/matched</th><th>replica share</th>
<th>replica cyc/unmatched</th><th>event types</th></tr>
{"".join(rows)}</table></div>
<h2>Why: the top-level operands of the costliest rules</h2>
<p>Each operand measured as its own libsinsp filter behind the rule's event-type guard:
its pass rate and cycles per check (the guard's taken off), in evaluation order.</p>
{"".join(_operands(r) for r in report["rules"][:TOP] if r["operands"])}
</section>
"""


def render(reports: list[dict[str, Any]]) -> str:
    """One page for the reports of one or more events files (one section each)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ruleopt advise</title><style>{_CSS}</style></head><body>
<h1>ruleopt advise</h1>
{"".join(_section(r) for r in reports)}
</body></html>
"""
