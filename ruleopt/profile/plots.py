"""SVG plots of a profile, after the study's latency-distribution figures.

* ``rule_latency.svg``: per-check latency of the most expensive rules, unmatched and
  matched side by side (x: cycles, log2 buckets on a log axis; y: checks).
* ``rule_totals.svg``: total cycles spent checking each rule (top N).
* ``bar_compare``: a labelled bar chart with error bars, for ``compare``.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot global state) and saved with
text kept as text, so the SVGs are searchable and tests can read their titles.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never try to open a window

from matplotlib.figure import Figure  # noqa: E402 - after the backend is chosen

from ruleopt.fsutil import atomic_write  # noqa: E402
from ruleopt.profile.model import NBUCKETS, Hist, Profile  # noqa: E402

LATENCY_TOP = 6
TOTALS_TOP = 15
# Keep text as <text> (not glyph paths) and drop the timestamp so output is stable.
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "ruleopt"}


def _save(fig: Figure, path: Path) -> Path:
    with matplotlib.rc_context(_SVG_RC):
        atomic_write(path, lambda fh: fig.savefig(fh, format="svg", metadata={"Date": None}))
    return path


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _curve(h: Hist) -> tuple[list[float], list[int]]:
    """Points (bucket's lower bound in cycles, checks) of the non-empty span of ``h``.
    Bucket 0 (zero cycles) cannot sit on a log axis; it is drawn at 1 cycle."""
    used = [b for b in range(NBUCKETS) if h.buckets[b]]
    if not used:
        return [], []
    span = range(used[0], used[-1] + 1)
    return [float(max(1, Hist.bucket_bounds(b)[0])) for b in span], [h.buckets[b] for b in span]


def latency_plot(profile: Profile, path: Path | str, top: int = LATENCY_TOP) -> Path:
    rules = profile.top_rules(top)
    fig = Figure(figsize=(12, 5), layout="constrained")
    fig.suptitle(
        f"Rule check latency distribution, top {len(rules)} rules by total cycles "
        f"({profile.engine})"
    )
    for ax, matched in zip(fig.subplots(1, 2, sharey=False), (False, True), strict=True):
        kind = "matched" if matched else "unmatched"
        for r in rules:
            xs, ys = _curve(r.matched if matched else r.unmatched)
            if xs:
                ax.step(xs, ys, where="post", marker="o", markersize=3, label=_short(r.name))
        ax.set_xscale("log", base=2)
        ax.set_title(f"{kind} checks: cycles per check")
        ax.set_xlabel("cycles per check (log2 buckets)")
        ax.set_ylabel("checks")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, f"no {kind} checks", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, Path(path))


def totals_plot(profile: Profile, path: Path | str, top: int = TOTALS_TOP) -> Path:
    rules = profile.top_rules(top)
    fig = Figure(figsize=(10, 1.5 + 0.35 * max(1, len(rules))), layout="constrained")
    ax = fig.subplots()
    names = [_short(r.name) for r in rules][::-1]  # most expensive on top
    ax.barh(names, [r.matched.sum for r in rules][::-1], label="matched checks", color="tab:red")
    ax.barh(
        names,
        [r.unmatched.sum for r in rules][::-1],
        left=[r.matched.sum for r in rules][::-1],
        label="unmatched checks",
        color="tab:blue",
    )
    ax.set_title(f"Total cycles checking each rule, top {len(rules)} ({profile.engine})")
    ax.set_xlabel("cycles (all checks, all repeats)")
    if rules:
        ax.legend()
    return _save(fig, Path(path))


def bar_compare(
    names: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float] | None,
    title: str,
    path: Path | str,
    ylabel: str = "cycles",
) -> Path:
    """One bar per name with optional error bars; ``title`` should name the unit."""
    fig = Figure(figsize=(max(5, 1.2 * len(names)), 4.5), layout="constrained")
    ax = fig.subplots()
    ax.bar(
        [_short(n, 24) for n in names],
        values,
        yerr=list(errors) if errors is not None else None,
        capsize=4,
        color="tab:blue",
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=20)
    return _save(fig, Path(path))


def write_plots(profile: Profile, outdir: Path | str) -> list[Path]:
    outdir = Path(outdir)
    return [
        latency_plot(profile, outdir / "rule_latency.svg"),
        totals_plot(profile, outdir / "rule_totals.svg"),
    ]


def line_plot(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    path: Path | str,
    xlabel: str,
    ylabel: str,
    *,
    logx: bool = True,
    dashed: Sequence[str] = (),
) -> Path:
    """One line per named ``(xs, ys)`` series; ``title`` and the labels name the units.
    Series named in ``dashed`` are drawn dashed (e.g. a second engine on the same plot)."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, (xs, ys) in series.items():
        style = "--" if name in dashed else "-"
        ax.plot(list(xs), list(ys), style, marker="o", markersize=3, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(fig, Path(path))
