"""Python front of the compiled core: pick a build, run it, return numpy results.

Three builds of one loop (``ruleopt._ext.core_untraced`` / ``core_rules`` /
``core_stacks``), as the study built Falco with mutually exclusive tracing macros. The
extension validates every array before it enters nogil code; this module adds the
Python-level checks (layout agreement with the compiler, ruleset/table binding) and
turns raw buffers into a ``CoreResult``.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ruleopt._ext import abi as _abi
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rules.model import Rule

from .compile import CompiledRuleset, compile_rules
from .sampling import check_sample

VARIANTS: dict[str, str] = {
    "untraced": "ruleopt._ext.core_untraced",
    "rules": "ruleopt._ext.core_rules",
    "stacks": "ruleopt._ext.core_stacks",
}
# Names and limits of the trace, from plugin/trace.h (through ruleopt._ext.abi).
STAGES: tuple[str, ...] = _abi.STAGES
BRANCHES: tuple[str, ...] = _abi.BRANCHES
RULE_BRANCHES: tuple[str, ...] = _abi.RULE_BRANCHES
MAX_RULES: int = _abi.MAX_RULES

_modules: dict[str, ModuleType] = {}


def core_module(variant: str) -> ModuleType:
    """The extension of one build; checks it was built from the compiler's ABI headers."""
    if variant not in VARIANTS:
        raise RuleoptError(
            f"unknown core variant '{variant}'", hint=f"one of {', '.join(VARIANTS)}"
        )
    if variant not in _modules:
        try:
            mod = importlib.import_module(VARIANTS[variant])
        except ImportError as exc:
            raise RuleoptError(
                f"the compiled core ({VARIANTS[variant]}) is not built: {exc}",
                hint="run: python setup.py build_ext --inplace",
            ) from None
        # One cheap check that this build and ruleopt._ext.abi (where the compiler reads
        # the layout) come from the same headers: a stale in-place build fails here.
        if getattr(mod, "ABI_DIGEST", None) != _abi.ABI_DIGEST:
            raise InternalError(
                f"{VARIANTS[variant]} was built from other ABI headers than "
                f"ruleopt._ext.abi ({getattr(mod, 'ABI_DIGEST', 'none')} != "
                f"{_abi.ABI_DIGEST})",
                hint="rebuild the extensions (python setup.py build_ext --inplace)",
            )
        _modules[variant] = mod
    return _modules[variant]


def call_core(
    variant: str, compiled: CompiledRuleset, table: EventTable, **options: object
) -> dict:
    """The extension's ``run`` (its raw result dict), with its failures as ruleopt's.

    Whatever the core refuses or raises is a fault of ruleopt (the arrays come from its
    compiler and strategies), reported as ``InternalError``; memory and Ctrl-C pass."""
    mod = core_module(variant)
    try:
        return mod.run(compiled, table, **options)
    except ValueError as exc:
        # The core's validation refused arrays ruleopt's compiler (or a strategy) built.
        raise InternalError(f"the compiled core refused its input: {exc}") from None
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # anything else from the core is our fault too
        raise InternalError(f"unexpected {type(exc).__name__} in the compiled core: {exc}") from exc


def tsc_hz() -> float:
    """TSC ticks per second, calibrated once (~50 ms) by the C library."""
    return float(core_module("untraced").tsc_hz())


@dataclass
class TraceCells:
    """A trace dump: ``count``/``sum`` [..., branches] and ``hist`` [..., branches, 64]
    (log2 buckets of cycles: bucket k holds [2^k, 2^(k+1)), bucket 0 also holds 0)."""

    count: np.ndarray
    sum: np.ndarray
    hist: np.ndarray

    @classmethod
    def from_dump(cls, dump: np.ndarray) -> TraceCells:
        return cls(dump[..., 0].copy(), dump[..., 1].copy(), dump[..., 2:].copy())

    def mean(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum / np.maximum(self.count, 1), np.nan)


@dataclass
class CoreResult:
    """What one ``run_core`` call measured.

    ``match_evt``/``match_rule``: the (evt.num, Rule.id) pairs in emission order.
    ``checks``/``matched``: per Rule.id (length ``max id + 1``; 0 for rules not compiled).
    ``cycles``: TSC cycles of each offline repeat (one entry for a rate replay).
    ``trace_rules``: [rule id, unmatched/matched] cells (rules build only), with
    ``trace_rules_mom`` their moments ([..., 3]: sum of squares, outliers' sum and sum of
    squares; plugin/trace.h); with ``sample`` N > 1 they hold only
    the checks of the ``sampled_events`` timed events (``checks``/``matched`` still count
    every check); ``trace_stages``: [stage, branch] cells (stacks build only).
    """

    variant: str
    match_evt: np.ndarray
    match_rule: np.ndarray
    checks: np.ndarray
    matched: np.ndarray
    per_event_checks: np.ndarray
    processed: np.ndarray
    cycles: np.ndarray
    tsc_hz: float
    n_events: int
    trace_rules: TraceCells | None = None
    trace_stages: TraceCells | None = None
    trace_rules_mom: np.ndarray | None = None
    sample: int = 1
    seed: int = 0
    sampled_events: int = 0
    timeouts: int = 0
    drops: int = 0
    sim_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def matches(self) -> set[tuple[int, int]]:
        return set(zip(self.match_evt.tolist(), self.match_rule.tolist(), strict=True))

    @property
    def rules_checked(self) -> int:
        return int(self.per_event_checks.sum())

    @property
    def cycles_mean(self) -> float:
        return float(self.cycles.mean())

    @property
    def cycles_spread(self) -> tuple[float, float, float]:
        """(min, max, standard deviation) of the per-repeat cycles."""
        c = self.cycles.astype(np.float64)
        return float(c.min()), float(c.max()), float(c.std())

    @property
    def events_per_second(self) -> float:
        secs = self.cycles_mean / self.tsc_hz
        return self.n_events / secs if secs > 0 else float("inf")


def run_core(
    rules_or_compiled: CompiledRuleset | Iterable[Rule],
    table: EventTable,
    variant: str = "untraced",
    *,
    repeat: int = 1,
    rate: float | None = None,
    buffer: int = 8192,
    empty_wait_s: float = 0.0,
    first_match: bool = True,
    sample: int = 1,
    seed: int | None = None,
) -> CoreResult:
    """Run the compiled core over ``table``.

    ``sample`` (rules build only): time the checks of each event with probability
    ``1/sample`` (``ruleopt.engine.sampling``); ``seed`` draws the gaps (None: a fresh one).

    ``first_match`` True is Falco's loop: a bucket's rules stop at the first match (one
    alert per event); False checks every rule and reports every match. Offline (``rate``
    None) the table is replayed ``repeat`` times as fast as possible. With ``rate``
    (events/s) event i arrives at i/rate simulated seconds into a ring of ``buffer``
    slots; a full ring drops arrivals, an empty one makes a SCAP_TIMEOUT iteration (the
    consumer then waits ``empty_wait_s``, or until the next arrival if 0).
    """
    if isinstance(rules_or_compiled, CompiledRuleset):
        compiled = rules_or_compiled
    else:
        compiled = compile_rules(rules_or_compiled, table)
    if repeat < 1:
        raise RuleoptError("repeat must be at least 1")
    if rate is not None:
        if not rate > 0:
            raise RuleoptError("rate must be a positive number of events per second")
        if buffer < 1:
            raise RuleoptError("buffer must hold at least one event")
    sample = check_sample(sample)
    if sample != 1 and variant != "rules":
        raise RuleoptError(
            f"sampled tracing times rule checks: it needs the rules build, not {variant!r}",
            hint="run the 'rules' variant with sample N",
        )
    if seed is None:
        seed = secrets.randbits(64)
    elif not 0 <= seed < 1 << 64:
        raise RuleoptError(f"seed must be a 64-bit non-negative integer, not {seed}")
    if compiled.n_rules and int(compiled.rule_ids.max()) >= MAX_RULES:
        raise RuleoptError(
            f"the core traces at most {MAX_RULES} rules (rule ids 0..{MAX_RULES - 1})"
        )
    raw = call_core(
        variant,
        compiled,
        table,
        repeat=repeat,
        rate=rate,
        buffer=buffer if rate else 0,
        empty_wait_s=empty_wait_s,
        first_match=first_match,
        sample=sample,
        seed=seed,
    )
    n_ids = int(compiled.rule_ids.max()) + 1 if compiled.n_rules else 0
    checks = np.zeros(n_ids, dtype=np.int64)
    matched = np.zeros(n_ids, dtype=np.int64)
    checks[compiled.rule_ids] = raw["checks"]
    matched[compiled.rule_ids] = raw["matched"]
    tr = raw["trace_rules"]
    ts = raw["trace_stages"]
    hz = float(raw["tsc_hz"])
    return CoreResult(
        variant=variant,
        match_evt=np.asarray(table.evt_num)[raw["match_evt"]],
        match_rule=raw["match_rule"].astype(np.int64),
        checks=checks,
        matched=matched,
        per_event_checks=raw["per_event_checks"],
        processed=raw["processed"],
        cycles=raw["cycles"],
        tsc_hz=hz,
        n_events=table.n,
        trace_rules=TraceCells.from_dump(tr[: max(n_ids, 1)]) if tr is not None else None,
        trace_stages=TraceCells.from_dump(ts) if ts is not None else None,
        trace_rules_mom=raw["trace_rules_mom"][: max(n_ids, 1)].copy() if tr is not None else None,
        sample=sample,
        seed=seed,
        sampled_events=int(raw["sampled_events"]),
        timeouts=int(raw.get("timeouts", 0)),
        drops=int(raw.get("drops", 0)),
        sim_seconds=raw.get("sim_cycles", 0) / hz if hz else 0.0,
        # event_cycles (rate replay only): each processed event's measured cycles, what
        # ruleopt.profile.rate.replay takes to give this replay's figures again.
        extra={"match_row": raw["match_evt"], "event_cycles": raw.get("event_cycles")},
    )
