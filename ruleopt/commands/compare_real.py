"""The real engine's side of ``ruleopt compare``: its rows, the cross-engine verdict, and
the machine the figures come from.

Cross-engine equivalence is judged on (evt.num, rule): the replica formats alerts from
the table's columns (only the fields rules read are imported, the time is the event
number), libsinsp from its own state, so their lines are not expected to be equal byte
for byte. :func:`line_differences` says which fields' renderings differ, per field, by
reading each line back against its rule's format.
"""

from __future__ import annotations

import os
import platform
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ruleopt.engine.real import RealResult, falco_output
from ruleopt.errors import RuleoptError
from ruleopt.output import Formatter, rule_metas
from ruleopt.profile.model import cpu_model
from ruleopt.rules.model import Rule

ENGINES = ("libsinsp", "replica", "both")


def engines_of(engine: str) -> tuple[str, ...]:
    """The engines ``--engine`` names, in the order they run."""
    if engine not in ENGINES:
        raise RuleoptError(f"unknown engine '{engine}'", hint=f"one of {', '.join(ENGINES)}")
    return ("replica", "libsinsp") if engine == "both" else (engine,)


# A measurement whose half-range over repeats is more than this share of its median is
# flagged: the machine was busy, the figures are not to be trusted at face value.
NOISE_SHARE = 0.10


def machine() -> dict:
    """Where the figures were measured (for --json): a shared machine says so here."""
    cpu = cpu_model()
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": load,
    }


def spread_of(values: np.ndarray) -> float:
    return float((values.max() - values.min()) / 2) if len(values) else 0.0


def median_or_none(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def noisy(median: float | None, spread: float | None) -> bool:
    return bool(median and spread is not None and spread > NOISE_SHARE * median)


def real_row(res: RealResult, base: RealResult, ref: dict) -> dict:
    """One libsinsp row of the report, with the keys the replica's rows have."""
    cpe = res.cycles_per_event
    out = res.output_cycles_per_alert
    ratio = base.cycles_per_event / np.where(cpe > 0, cpe, np.nan)
    diff = first_difference(base.alert_keys(), res.alert_keys())
    out_med = median_or_none(out)
    per_event = float(np.median(cpe)) + (out_med or 0.0) * len(res.alerts) / max(res.n_events, 1)
    stages = {
        stage: {
            br: {
                "count": c["count"],
                "sum": c["sum"],
                "mean": c["sum"] / c["count"] if c["count"] else None,
            }
            for br, c in by_branch.items()
        }
        for stage, by_branch in res.stages.items()
    }
    per_alert = res.output_per_alert
    return {
        "engine": "libsinsp",
        "strategy": res.name,
        "index": res.strategy.index,
        "matcher": res.strategy.matcher,
        "output": res.strategy.output,
        "events_per_second": res.tsc_hz / float(np.median(cpe)) if np.median(cpe) > 0 else None,
        "capacity_events_per_second": res.tsc_hz / per_event if per_event > 0 else None,
        "cycles_per_event": {
            "median": float(np.median(cpe)),
            "spread": spread_of(cpe),
            "repeats": cpe.tolist(),
        },
        "next_cycles_per_event": {
            "median": float(np.median(res.next_cycles_per_event)),
            "spread": spread_of(res.next_cycles_per_event),
        },
        "rules_checked_per_event": res.rules_checked_per_event,
        "alerts": len(res.alerts),
        "output_cycles_per_alert": {
            "median": out_med,
            "spread": spread_of(out) if len(out) else None,
            "per_alert_mean": per_alert["sum"] / per_alert["count"] if per_alert["count"] else None,
            "per_alert_hist": per_alert["hist"],
            # The median alert of each repeat (median over repeats): a busy machine's
            # preempted alerts move the mean, not this.
            "median_alert": median_or_none(res.output_median_per_alert),
        },
        "speedup": {"median": float(np.nanmedian(ratio)), "spread": spread_of(ratio)},
        **verdict_fields(diff, ref),
        "stages": stages,
        "lua_alert_count": res.lua_alert_count,
        "finer": res.finer,  # index finer: its counters (misses, conjunct evaluations, ...)
    }


def _alert_doc(a: tuple | None) -> dict | None:
    return None if a is None else {"evt_num": a[0], "rule_id": a[1], "line": a[2]}


def verdict_fields(diff: tuple | None, ref: dict) -> dict:
    """A row's equivalence keys (``--json``), the same on either engine: ``diff`` is the
    first alert differing from the engine's baseline (None: none), ``ref`` the reference
    evaluator's check of the row (its mismatch count and first mismatch)."""
    return {
        "equivalent": diff is None and ref["mismatches"] == 0,
        "equal_to_baseline": diff is None,
        "equal_to_reference": ref["mismatches"] == 0,
        "reference_mismatches": ref["mismatches"],
        "first_reference_mismatch": ref["first_mismatch"],
        "first_difference": None
        if diff is None
        else {"baseline": _alert_doc(diff[0]), "strategy": _alert_doc(diff[1])},
    }


def first_difference(a: list, b: list) -> tuple | None:
    """None when equal; else the first differing pair (None where one side has none)."""
    if a == b:
        return None
    for x, y in zip(a, b, strict=False):
        if x != y:
            return x, y
    return (a[len(b)], None) if len(a) > len(b) else (None, b[len(a)])


def _line_parser(fmt: str) -> tuple[re.Pattern, tuple[str, ...]]:
    f = Formatter.parse(fmt)
    body = "(.*?)".join(re.escape(lit) for lit in f.literals)
    # "<time>: <Priority> <output>"
    return re.compile(r"(?s)([^ ]*): [^ ]+ " + body + r"\Z"), f.fields


def _fields_of(line: str, parser: tuple[re.Pattern, tuple[str, ...]]) -> dict[str, str] | None:
    m = parser[0].match(line)
    if m is None:
        return None
    values = {"evt.time": m.group(1)}
    for name, value in zip(parser[1], m.groups()[1:], strict=True):
        values.setdefault(name, value)
    return values


def line_differences(
    rules: Sequence[Rule],
    replica: Sequence[tuple[int, int, str]],
    real: Sequence[tuple[int, int, str]],
) -> dict:
    """Lines of the alerts both engines gave (same evt.num and rule), compared field by
    field: how many are equal, and per field how many alerts render it differently."""
    metas = rule_metas(rules)
    ours = {(num, rid): line for num, rid, line in replica}
    parsers: dict[int, tuple] = {}
    counts: Counter[str] = Counter()
    example: dict[str, dict] = {}
    equal = compared = unparsed = 0
    for num, rid, line in real:
        mine = ours.get((num, rid))
        if mine is None:
            continue
        compared += 1
        if mine == line:
            equal += 1
            continue
        if rid not in parsers:
            fmt = metas[rid].output
            parsers[rid] = (_line_parser(fmt), _line_parser(falco_output(fmt)))
        a = _fields_of(mine, parsers[rid][0])
        b = _fields_of(line, parsers[rid][1])
        if a is None or b is None:
            unparsed += 1
            continue
        for name in sorted(a.keys() | b.keys()):
            if a.get(name) != b.get(name):
                counts[name] += 1
                example.setdefault(
                    name,
                    {
                        "evt_num": num,
                        "rule_id": rid,
                        "replica": a.get(name),
                        "libsinsp": b.get(name),
                    },
                )
    return {
        "compared": compared,
        "equal": equal,
        "unparsed": unparsed,
        "fields": [
            {"field": k, "alerts": v, "example": example[k]} for k, v in counts.most_common()
        ],
    }
