"""The report's plots as SVG text, in the style of ``ruleopt.profile.plots`` (matplotlib
``Figure``s, no pyplot state, text kept as text), each with a title, axis labels and units.

Every plot gets its own ``svg.hashsalt``, so the ids matplotlib derives (clip paths) differ
between plots that sit inline on one page.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: never try to open a window

from matplotlib.figure import Figure  # noqa: E402 - after the backend is chosen

from ruleopt.profile.plots import _SVG_RC, _short  # noqa: E402 - the profile plots' style
from ruleopt.report.figures import Fig  # noqa: E402

ENGINE_COLORS = {"replica": "tab:blue", "libsinsp": "tab:orange"}
KIND_COLORS = {"unmatched": "tab:blue", "matched": "tab:red"}
# Wider figures would shrink their text below legibility on a phone, where a plot is
# scaled down to the screen's width.
MAX_WIDTH_IN = 8.0
CHARS_PER_INCH = 8  # of a title at matplotlib's default title size


def _title(text: str, width_in: float) -> str:
    """A title that fits its figure: wrapped to the figure's width."""
    return "\n".join(textwrap.wrap(text, max(30, int(width_in * CHARS_PER_INCH))))


def _errors(figs: Sequence[Fig], log: bool) -> list[list[float]]:
    """Error bars as (below, above): never below zero (nor to zero on a log axis)."""
    floor = 0.99 if log else 1.0
    spread = [abs(f.spread) for f in figs]
    return [[min(e, abs(f.median) * floor) for e, f in zip(spread, figs, strict=True)], spread]


def svg_text(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog: it goes inline)."""
    buf = io.BytesIO()
    with matplotlib.rc_context({**_SVG_RC, "svg.hashsalt": f"ruleopt-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue().decode("utf-8")
    return text[text.index("<svg") :]


def grouped_bars(
    name: str,
    title: str,
    ylabel: str,
    categories: Sequence[str],
    groups: Mapping[str, Sequence[Fig | None]],
    *,
    logy: bool = False,
) -> str:
    """One bar per (category, group) with the spread as error bars; a missing figure
    leaves its slot empty (not a zero bar)."""
    w_in = min(MAX_WIDTH_IN, max(6.0, 0.45 * len(categories) * max(1, len(groups)) + 2))
    fig = Figure(figsize=(w_in, 4.2))
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    width = 0.8 / max(1, len(groups))
    for g, (label, figs) in enumerate(groups.items()):
        xs = [i + (g - (len(groups) - 1) / 2) * width for i, f in enumerate(figs) if f]
        got = [f for f in figs if f]
        ax.bar(
            xs,
            [f.median for f in got],
            width,
            yerr=_errors(got, logy),
            capsize=3,
            label=label,
            color=ENGINE_COLORS.get(label),
        )
    ax.set_xticks(range(len(categories)), [_short(c, 18) for c in categories])
    ax.tick_params(axis="x", labelrotation=25)
    # A log axis needs a positive bar (an engine whose alerts cost nothing to print, or
    # that printed none, has only zeros): linear then, not an axis matplotlib cannot draw.
    if logy and any(f.median > 0 for figs in groups.values() for f in figs if f):
        ax.set_yscale("log")
    ax.set_title(_title(title, w_in))
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return svg_text(fig, name)


def latency_plot(
    name: str,
    title: str,
    panels: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
) -> str:
    """One panel per engine, stacked (a phone's screen is narrow): checks per log2 bucket of
    cycles, matched and unmatched (the study's latency distributions).
    ``panels[engine][kind]`` is ``[[lo, hi, count], ...]``."""
    w_in = 7.0
    fig = Figure(figsize=(w_in, 0.6 + 3.2 * max(1, len(panels))))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, (engine, kinds) in zip(axes, panels.items(), strict=False):
        positive = False
        for kind, hist in kinds.items():
            if not hist:
                continue
            xs = [max(1.0, float(lo)) for lo, _hi, _n in hist]
            ys = [float(n) for _lo, _hi, n in hist]
            positive = positive or any(y > 0 for y in ys)
            ax.step(
                xs,
                ys,
                where="post",
                marker="o",
                markersize=3,
                label=kind,
                color=KIND_COLORS.get(kind),
            )
        ax.set_xscale("log", base=2)
        # Log counts: matched checks are a few per thousand unmatched ones (an engine
        # without checks keeps a linear, empty panel: a log axis needs a positive count).
        if positive:
            ax.set_yscale("log")
        ax.set_title(engine)
        ax.set_xlabel("cycles per check (log2 buckets)")
        ax.set_ylabel("checks (log scale)" if positive else "checks")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # an engine without checks has no lines
            ax.legend()
    fig.suptitle(_title(title, w_in))
    return svg_text(fig, name)


def drop_curves(
    name: str, title: str, series: Mapping[str, tuple[Sequence[float], Sequence[float]]]
) -> str:
    """One line per (strategy, engine): share of events dropped by offered rate."""
    fig = Figure(figsize=(7.0, 4.2))
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    for label, (rates, shares) in series.items():
        ax.plot(list(rates), [100.0 * s for s in shares], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_title(_title(title, 7.0))
    ax.set_xlabel("offered rate (events/s)")
    ax.set_ylabel("events dropped (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return svg_text(fig, name)
