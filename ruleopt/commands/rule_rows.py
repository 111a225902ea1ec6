"""The per-rule rows of ``ruleopt profile`` and ``ruleopt harness``: one shape for both
engines' JSON summaries and tables, exact counts beside estimated cycles when tracing was
sampled (``--sample N``: each mean and total with its 95% interval, see
``ruleopt.engine.sampling``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ruleopt.profile.model import RuleProfile


def rule_row(r: RuleProfile) -> dict[str, Any]:
    """One rule of the tables and the JSON summary (``ruleopt harness`` shares it): exact
    counts, mean cycles per check, the total; with sampled tracing the means and the total
    are estimates from the timed checks, with their 95% intervals (``*_ci``)."""
    un, ma, whole = r.estimates()
    return {
        "name": r.name,
        "checks": r.checks,
        "matches": r.matches,
        "timed_checks": whole.timed,
        "mean_unmatched": un.mean,
        "mean_unmatched_ci": _ci(un.mean_low, un.mean_high),
        "mean_matched": ma.mean,
        "mean_matched_ci": _ci(ma.mean_low, ma.mean_high),
        "total_cycles": r.total_cycles,
        "total_cycles_ci": _ci(whole.total_low, whole.total_high),
    }


def _ci(lo: float | None, hi: float | None) -> list[float] | None:
    return None if lo is None or hi is None else [lo, hi]


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def fmt_est(x: float | None, ci: list[float] | None, sampled: bool) -> str:
    """A figure, with its interval's half-width when sampled (``123 ±4``)."""
    if x is None:
        return "-"
    if not sampled:
        return _fmt(x)
    return f"{_fmt(x)} ±{_fmt((ci[1] - ci[0]) / 2) if ci else '?'}"


def rules_table(title: str, rows: list[dict[str, Any]], sampled: bool) -> Table:
    """The top-rules table of ``profile`` and ``harness``; sampled tracing adds the timed
    checks and each estimate's 95% half-width."""
    table = Table(title=title)
    table.add_column("rule", no_wrap=True, overflow="ellipsis", max_width=40)
    cols = ["checks"] + (["timed"] if sampled else []) + ["matches", "unmatched", "matched"]
    for col in cols + ["total cycles"]:
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["name"],
            f"{r['checks']:,}",
            *([f"{r['timed_checks']:,}"] if sampled else []),
            f"{r['matches']:,}",
            fmt_est(r["mean_unmatched"], r["mean_unmatched_ci"], sampled),
            fmt_est(r["mean_matched"], r["mean_matched_ci"], sampled),
            fmt_est(r["total_cycles"], r["total_cycles_ci"], sampled),
        )
    return table


def sampling_caption(sampling: dict[str, Any] | None) -> str:
    """The line under a sampled table: the rate, what was timed, how intervals are made."""
    if not sampling or sampling.get("sample", 1) == 1:
        return ""
    return (
        f"sampled tracing: 1 in {sampling['sample']:,} events timed "
        f"({sampling.get('timed_events') or 0:,} events); counts exact, cycles estimated "
        f"(± {sampling.get('ci', '')})"
    )
