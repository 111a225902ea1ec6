"""The ``speed`` measurement: ``ruleopt compare``'s machinery on one strategy and one engine.

The cell runs ``compare.compare`` itself (not a copy of it) with the baseline and the
cell's strategy on the cell's engine: the baseline is needed for the verdict
(``equivalent``: the strategy's alerts equal the stock engine's on every event and the
reference evaluator's), and its repeats interleave with the strategy's as in compare.
The figures are the strategy's row of compare's report.
"""

from __future__ import annotations

from ruleopt.commands import compare
from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.errors import RuleoptError
from ruleopt.experiment.cell import CellContext
from ruleopt.experiment.inputs import workload_path

PARAMS = {"mode": "mode", "repeat_inner": "int"}
BUILDS = ("untraced",)
ALLOWED_BUILDS = ("untraced",)  # compare measures the untraced core; traced: "overhead"
DEFAULT_REPEAT_INNER = 3


def supports(engine: str, strategy: str, build: str) -> str | None:
    """Why ``strategy`` has no speed cell on ``engine``, or None."""
    if engine == "libsinsp":
        return real.real_support(S.get_strategy(strategy))
    return None


def measure(ctx: CellContext) -> dict:
    cell = ctx.cell
    mode = cell.params.get("mode", "first")
    repeat = int(cell.params.get("repeat_inner", DEFAULT_REPEAT_INNER))
    names = [compare.BASELINE] + ([cell.strategy] if cell.strategy != compare.BASELINE else [])
    events = str(workload_path(ctx))
    doc = compare.compare(
        list(cell.ruleset),
        events,
        names,
        repeat,
        progress=False,
        engine=cell.engine,
        mode=mode,
        workdir=str(ctx.workdir),
        engine_chosen=True,
    )
    rows = [r for r in doc["strategies"] if r["strategy"] == cell.strategy]
    if len(rows) != 1:  # compare runs what exists on the engine; the grid asked for it
        raise RuleoptError(
            f"compare gave no {cell.engine} row for strategy {cell.strategy}",
            hint="the strategy may not exist on this engine in this build",
        )
    return figures_of(rows[0], doc)


def figures_of(row: dict, doc: dict) -> dict:
    """The contract's figures, spreads and series from one row of compare's report."""
    cpe = row["cycles_per_event"]
    out = row["output_cycles_per_alert"]
    figures: dict[str, float] = {
        "cycles_per_event": float(cpe["median"]),
        "rules_checked_per_event": float(row["rules_checked_per_event"]),
        "alerts": float(row["alerts"]),
        "events": float(doc["n_events"]),
        "equivalent": 1.0 if row["equivalent"] and doc["equivalent"] else 0.0,
    }
    spread: dict[str, float] = {"cycles_per_event": float(cpe["spread"])}
    # No alert, no output figure: absent rather than a NaN JSON cannot carry.
    if out["median"] is not None:
        figures["output_cycles_per_alert"] = float(out["median"])
        if out["spread"] is not None:
            spread["output_cycles_per_alert"] = float(out["spread"])
    if row["capacity_events_per_second"] is not None:
        figures["capacity_events_per_s"] = float(row["capacity_events_per_second"])
    nxt = row.get("next_cycles_per_event")
    if nxt is not None:
        figures["next_cycles_per_event"] = float(nxt["median"])
        spread["next_cycles_per_event"] = float(nxt["spread"])
    return {
        "figures": figures,
        "spread": spread,
        "series": {"per_round_cycles_per_event": [float(x) for x in cpe["repeats"]]},
        "notes": [n for n in [doc.get("capture")] if n],
        "alerts_digest": alerts_digest(row),
    }


def alerts_digest(row: dict) -> dict:
    """What the alerts were, in a form two runs can be compared by (the local and the
    Dask run must agree on it): the count and the verdicts."""
    return {
        "alerts": row["alerts"],
        "equal_to_baseline": row["equal_to_baseline"],
        "equal_to_reference": row["equal_to_reference"],
        "reference_mismatches": row["reference_mismatches"],
    }
