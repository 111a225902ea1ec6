"""Measurement ``rate``: the share of events dropped at each offered rate (the study's
question: at what rate does Falco start dropping?).

On the replica: the untraced core replays the workload in simulated time into a ring of
``params.buffer`` slots (``run_core(rate=..., buffer=...)``, as ``experiments/drop_rate.py``
does): a full ring drops the arriving event. Each rate is replayed ``params.repeat_inner``
times and the median drop count kept (a replay's cycles are measured, so one noisy pass
can spike). The replay covers matching only; the alerts' output cost is not in it.
The real engine's replay (``experiments/drop_rate.py``: its per-event costs through the
same ring model, ``ruleopt.profile.rate``) is not a cell yet: libsinsp cells say so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ruleopt.engine.core import run_core
from ruleopt.experiment.cell import CellContext
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
)

NAME = "rate"
PARAMS = {"mode": "mode", "rates": "numbers", "buffer": "int", "repeat_inner": "int"}
BUILDS = ("untraced",)
ALLOWED_BUILDS = ("untraced",)  # tracing adds cycles per iteration, so drops Falco lacks
NOT_ON_LIBSINSP = (
    "the real engine's rate replay is not a rate cell yet (experiments/drop_rate.py runs it); "
    "use engine replica"
)
DEFAULT_RATES = tuple(float(r) for r in np.geomspace(2e5, 5e7, 9))
DEFAULT_BUFFER = 8192
MAX_BUFFER = 2**31  # the CLI's --buffer bound
MAX_RATES = 200
RATE_RANGE = (1e-3, 1e15)  # the CLI's --rate bound (events/s)


def supports(engine: str, strategy: str, build: str) -> str | None:
    return f"rate is not on libsinsp yet: {NOT_ON_LIBSINSP}" if engine == "libsinsp" else None


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
    check_engine(ctx, ("replica",), NOT_ON_LIBSINSP)
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
    first = next((i for i, s in enumerate(shares) if s > 0), len(rates))
    first_drop_rate = rates[first - 1] if first else 0.0
    brk = breaking_share(offline.extra["match_row"], table.n)
    cpe = float(offline.cycles[0]) / table.n
    figures = {"lowest_dropping_rate": rates[first]} if first < len(rates) else {}
    return {
        "figures": {
            **figures,
            "first_drop_rate": first_drop_rate,
            "breaking_share": brk,
            "first_drop_breaking_rate": first_drop_rate * brk,
            "buffer": float(buffer),
            "events": float(table.n),
            "capacity_events_per_s": offline.tsc_hz / cpe if cpe > 0 else 0.0,
        },
        "spread": {},
        "series": {"rates": rates, "drop_share": shares, "drop_share_spread": spreads},
    }
