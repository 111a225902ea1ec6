"""Measurement ``rate``: the share of events dropped at each offered rate (the study's
question: at what rate does Falco start dropping?).

On the replica: the untraced core replays the workload in simulated time into a ring of
``params.buffer`` slots (``run_core(rate=..., buffer=...)``, as ``experiments/drop_rate.py``
does): a full ring drops the arriving event. Each rate is replayed ``params.repeat_inner``
times and the median drop count kept (a replay's cycles are measured, so one noisy pass
can spike). The replay covers matching only; the alerts' output cost is not in it.

On libsinsp: one measured pass of ``ruleopt-sinsp engine --event-costs`` (after a warm-up
process) gives each event's cycles (``next()``, index, rule checks, output), and their sum
is replayed through the same ring model (``ruleopt.profile.rate``, ``plugin/ring.h``): the
real engine's curve includes ``next()`` and the alerts' output, as Falco pays them. The
workload must be a capture (generated workloads are written as one by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.engine.core import run_core
from ruleopt.engine.event_costs import per_event
from ruleopt.events.load import load_events
from ruleopt.experiment.cell import CellContext
from ruleopt.experiment.inputs import rules_of, workload_path
from ruleopt.experiment.measure_common import (
    MAX_INNER,
    breaking_share,
    cell_error,
    check_engine,
    first_match,
    param_int,
    progress,
    replica_setup,
    spread_of,
    training_for,
)
from ruleopt.profile import rate as R

NAME = "rate"
PARAMS = {"mode": "mode", "rates": "numbers", "buffer": "int", "repeat_inner": "int"}
BUILDS = ("untraced",)
ALLOWED_BUILDS = ("untraced",)  # tracing adds cycles per iteration, so drops Falco lacks
DEFAULT_RATES = tuple(float(r) for r in np.geomspace(2e5, 5e7, 9))
DEFAULT_BUFFER = 8192
MAX_BUFFER = 2**31  # the CLI's --buffer bound
MAX_RATES = 200
RATE_RANGE = (1e-3, 1e15)  # the CLI's --rate bound (events/s)


def supports(engine: str, strategy: str, build: str) -> str | None:
    if engine == "libsinsp":
        return real.real_support(S.get_strategy(strategy))
    return None


def rates_of(ctx: CellContext) -> list[float]:
    rates = ctx.cell.params.get("rates", list(DEFAULT_RATES))
    ok = isinstance(rates, list) and 0 < len(rates) <= MAX_RATES
    ok = ok and all(
        isinstance(r, int | float)
        and not isinstance(r, bool)
        and RATE_RANGE[0] <= r <= RATE_RANGE[1]
        for r in rates
    )
    if not ok:
        raise cell_error(
            ctx,
            f"params.rates must be a list of 1 to {MAX_RATES} rates from "
            f"{RATE_RANGE[0]:g} to {RATE_RANGE[1]:g} events/s, not {rates!r}",
        )
    return sorted(float(r) for r in rates)


def measure(ctx: CellContext) -> dict[str, Any]:
    check_engine(ctx, ("replica", "libsinsp"), "")
    if ctx.cell.build != "untraced":
        raise cell_error(
            ctx,
            f"rate replays run the untraced build (tracing adds cycles and so drops "
            f"Falco would not have), not {ctx.cell.build!r}",
            hint="set build: untraced",
        )
    rates = rates_of(ctx)
    buffer = param_int(ctx, "buffer", DEFAULT_BUFFER, 1, MAX_BUFFER)
    inner = param_int(ctx, "repeat_inner", 3, 1, MAX_INNER)
    fm = first_match(ctx)
    if ctx.cell.engine == "libsinsp":
        return _on_libsinsp(ctx, rates, buffer, fm)
    setup = replica_setup(ctx)
    p, table = setup.prepared, setup.table
    offline = run_core(p.compiled, table, "untraced", first_match=fm)  # warm-up, matches
    shares, spreads = [], []
    for i, rate in enumerate(rates):
        drops = [
            run_core(p.compiled, table, "untraced", rate=rate, buffer=buffer, first_match=fm).drops
            for _ in range(inner)
        ]
        shares.append(float(np.median(drops)) / table.n)
        spreads.append(spread_of(drops) / table.n)
        progress(ctx, (i + 1) / len(rates))
    # The highest offered rate below the first that drops anything (0: even the lowest).
    brk = breaking_share(offline.extra["match_row"], table.n)
    cpe = float(offline.cycles[0]) / table.n
    return {
        "figures": {
            **_curve_figures(rates, shares, brk),
            "buffer": float(buffer),
            "events": float(table.n),
            "capacity_events_per_s": offline.tsc_hz / cpe if cpe > 0 else 0.0,
        },
        "spread": {},
        "series": {"rates": rates, "drop_share": shares, "drop_share_spread": spreads},
        "trained_on": setup.trained_on,
    }


def _curve_figures(rates: list[float], shares: list[float], brk: float) -> dict[str, float]:
    first = next((i for i, s in enumerate(shares) if s > 0), len(rates))
    first_drop_rate = rates[first - 1] if first else 0.0
    out = {"lowest_dropping_rate": rates[first]} if first < len(rates) else {}
    return {
        **out,
        "first_drop_rate": first_drop_rate,
        "breaking_share": brk,
        "first_drop_breaking_rate": first_drop_rate * brk,
    }


def _on_libsinsp(ctx: CellContext, rates: list[float], buffer: int, fm: bool) -> dict[str, Any]:
    rules = rules_of(ctx)
    path = workload_path(ctx)
    if path.suffix != ".scap":
        raise cell_error(
            ctx,
            f"a libsinsp rate cell reads a capture, not {path.name}",
            hint="give a capture, or a generated workload with format: scap",
        )
    strategy = S.get_strategy(ctx.cell.strategy)
    # The events are read only when the strategy learns (training_for needs them then).
    trained = training_for(ctx, rules, load_events(path, rules)) if S.learns(strategy) else None
    run = real.run_engine(
        path,
        rules,
        [strategy],
        mode="first" if fm else "all",
        repeat=1,
        warmup=1,
        event_costs=True,
        train=trained.table if trained else None,
        trained_on=trained.label if trained else None,
    )
    res = run.results[0]
    costs = per_event(res.event_costs)  # next(), index, rule checks and output
    shares = R.drop_curve(costs, rates, run.tsc_hz, buffer=buffer)
    progress(ctx, 1.0)
    n = int(costs.shape[0])
    brk = len({a[0] for a in res.alerts}) / n if n else 0.0
    mean = float(costs.mean()) if n else 0.0
    return {
        "figures": {
            **_curve_figures(rates, shares, brk),
            "buffer": float(buffer),
            "events": float(n),
            "capacity_events_per_s": run.tsc_hz / mean if mean > 0 else 0.0,
        },
        "spread": {},
        "series": {"rates": rates, "drop_share": shares},
        "trained_on": trained.label if trained else None,
    }
