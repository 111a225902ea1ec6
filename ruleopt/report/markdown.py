"""The report as Markdown (``--format md``): the same sections, tables as pipe tables,
each plot a separate SVG file beside the ``.md``, linked by its relative name."""

from __future__ import annotations

from ruleopt.report.figures import Table
from ruleopt.report.sections import Report, Section


def _cell(text: str) -> str:
    # A pipe or a line break would end the table cell.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table_md(t: Table) -> list[str]:
    out = [f"### {t.title}", ""]
    out.append("| " + " | ".join(_cell(c) for c in t.columns) + " |")
    out.append("|" + "|".join(" --- " for _ in t.columns) + "|")
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    if not t.rows:
        out.append("| no cells |" + " |" * (len(t.columns) - 1))
    if t.note:
        out += ["", f"_{t.note}_"]
    return out + [""]


def plot_file(stem: str, plot_name: str) -> str:
    return f"{stem}.{plot_name}.svg"


def section_md(s: Section, stem: str) -> list[str]:
    out = [f"## {s.title}", "", f"**Question.** {s.question}", "", f"**Method.** {s.method}", ""]
    if s.verdicts:
        out += ["**Verdict.**", ""] + [f"- {v.sentence()}" for v in s.verdicts] + [""]
    out += [f"_{n}_" for n in s.notes] + ([""] if s.notes else [])
    for t in s.tables:
        out += table_md(t)
    for p in s.plots:
        out += [f"![{_cell(p.title)}]({plot_file(stem, p.name)})", ""]
    return out


def render_markdown(r: Report, stem: str) -> dict[str, str]:
    """File name -> text: ``{stem}.md`` and one ``{stem}.<plot>.svg`` per plot."""
    counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
    lines = [f"# {r.title}", "", f"results: `{r.root}`; cells: {counts}", "", "## Verdicts", ""]
    lines += [f"- {v.sentence()}" for v in r.verdicts] + [""]
    for s in r.sections:
        lines += section_md(s, stem)
    lines += ["## Cells", "", counts, ""] + table_md(r.cells)
    lines += [f"- failed `{f['id']}`: {f['error']}" for f in r.failed]
    lines += [f"- unreadable `{u['file']}`: {u['reason']}" for u in r.unreadable]
    files = {f"{stem}.md": "\n".join(lines) + "\n"}
    for s in r.sections:
        for p in s.plots:
            files[plot_file(stem, p.name)] = p.svg
    return files
