"""Event-type ("tag") sets: which events a rule can possibly match.

Falco's index runs a rule only on the event types its condition can be true for. We
keep those sets *symbolic* (names, or "all except names") rather than as numeric codes:
the event table of a given libsinsp version is not needed to reason about them, and a
complement stays exact when new event types appear.

``evttypes_of`` mirrors the modern resolver, ``ppm_event_codes`` in
falcosecurity/libs ``userspace/libsinsp/filter/ppm_codes.cpp`` (ported from Falco's
``filter_evttype_resolver``):

- ``and`` intersects, ``or`` unions;
- ``not`` is pushed to the leaves with De Morgan (``not (A and B)`` = ``not A or not B``);
- a leaf ``evt.type = x`` / ``== x`` / ``in (x, y)`` gives those names, inverted once if
  it is under an odd number of ``not``s and inverted once more for ``!=``;
- ``evt.type exists`` gives ALL, and NONE under a ``not``;
- every other leaf is *neutral*: ALL, negated or not (``not proc.name=cat`` can still be
  true on any event type).

Differences from libsinsp, on purpose: names without an event code of their own are
kept (``evt.type != epoll_pwait`` is "all but epoll_pwait" here); ``evt.type`` compared
to a field or through a transformer makes libsinsp throw, here it is neutral.
``BoolConst`` (not Falco syntax) is treated as a leaf whose set is ALL or NONE.

``evttypes_of`` (what ruleopt's index uses) is the 2022 algebra instead, over libsinsp's
own universe (``ruleopt.rules.sinsp_events``): a name libsinsp 2022 gives no event code
of its own selects nothing. That matters for generic syscall events such as
``epoll_pwait`` (they arrive as ``PPME_GENERIC_E/X``, outside the universe), so
``evt.type != epoll_pwait`` is "all", ``not (evt.type != epoll_pwait)`` stays "all" (the
complement of "all" is "all") and ``evt.type = epoll_pwait`` is empty, which Falco's
index files under every event, generic ones included (``ruleopt.engine.index``). Names
libsinsp knows neither as an event nor as a syscall make its compiler refuse the rule
("unknown event type"); they select nothing here.

``evttypes_of_lua`` mirrors the 0.26.2 Lua loader (``get_evttypes`` in
``userspace/engine/lua/rule_loader.lua``), which the study measured: it collects every
``evt.type`` name in a pre-order walk, ignoring and/or structure, and falls back to the
catch-all (ALL, with a warning) when there is none or when one comes after the first
``not`` or ``!=``. So ``evt.type=open and evt.type=close`` is {open, close} there and
NONE here, and ``not evt.type=open`` is ALL there and "all but open" here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ruleopt.rules.ast import (
    And,
    BoolConst,
    Compare,
    Expr,
    Field,
    ListRef,
    Not,
    Or,
    Value,
    ValueList,
    walk,
)
from ruleopt.rules.sinsp_events import SINSP_2022_EVENT_NAMES

EVTTYPE_FIELD = "evt.type"
_EVTTYPE_OPS = frozenset({"=", "==", "!=", "in"})


@dataclass(frozen=True)
class EvtTypeSet:
    """A set of event type names: ``names`` itself, or (``complement``) all but ``names``."""

    names: frozenset[str] = frozenset()
    complement: bool = False

    @classmethod
    def of(cls, names: Iterable[str]) -> EvtTypeSet:
        return cls(frozenset(names), False)

    @classmethod
    def all_but(cls, names: Iterable[str]) -> EvtTypeSet:
        return cls(frozenset(names), True)

    @property
    def is_all(self) -> bool:
        return self.complement and not self.names

    @property
    def is_empty(self) -> bool:
        return not self.complement and not self.names

    def matches(self, name: str) -> bool:
        return (name in self.names) != self.complement

    def __and__(self, other: EvtTypeSet) -> EvtTypeSet:
        a, b = self, other
        if not a.complement and not b.complement:
            return EvtTypeSet(a.names & b.names, False)
        if a.complement and b.complement:
            return EvtTypeSet(a.names | b.names, True)
        pos, neg = (a, b) if not a.complement else (b, a)
        return EvtTypeSet(pos.names - neg.names, False)

    def __or__(self, other: EvtTypeSet) -> EvtTypeSet:
        a, b = self, other
        if not a.complement and not b.complement:
            return EvtTypeSet(a.names | b.names, False)
        if a.complement and b.complement:
            return EvtTypeSet(a.names & b.names, True)
        pos, neg = (a, b) if not a.complement else (b, a)
        return EvtTypeSet(neg.names - pos.names, True)

    def __invert__(self) -> EvtTypeSet:
        return EvtTypeSet(self.names, not self.complement)

    def describe(self) -> str:
        """Short human text: ``open, openat``, ``all``, ``all but close``, ``none``."""
        listed = ", ".join(sorted(self.names))
        if self.complement:
            return f"all but {listed}" if self.names else "all"
        return listed or "none"

    def to_dict(self) -> dict:
        return {"names": sorted(self.names), "complement": self.complement}


ALL = EvtTypeSet(frozenset(), True)
NONE = EvtTypeSet(frozenset(), False)


def _is_evttype_field(lhs: object) -> bool:
    # Only the bare field counts: libsinsp requires an empty argument and no transformer.
    return isinstance(lhs, Field) and lhs.name == EVTTYPE_FIELD and lhs.arg is None


def _rhs_names(rhs: object) -> frozenset[str] | None:
    if isinstance(rhs, Value):
        return frozenset({rhs.text})
    if isinstance(rhs, ValueList):
        # A ListRef left here names no Falco list, so it is a bare event name.
        return frozenset(i.text if isinstance(i, Value) else i.name for i in rhs.items)
    if isinstance(rhs, ListRef):
        return frozenset({rhs.name})
    return None  # a field on the right: not resolvable, treat as neutral


def _resolve(expr: Expr, negated: bool) -> EvtTypeSet:
    if isinstance(expr, And):
        # Under a negation De Morgan turns the conjunction into a disjunction.
        return _combine(expr.items, negated, union=negated)
    if isinstance(expr, Or):
        return _combine(expr.items, negated, union=not negated)
    if isinstance(expr, Not):
        return _resolve(expr.operand, not negated)
    if isinstance(expr, BoolConst):
        value = expr.value != negated
        return ALL if value else NONE
    if isinstance(expr, Compare) and _is_evttype_field(expr.lhs):
        if expr.op == "exists":
            return NONE if negated else ALL
        if expr.op in _EVTTYPE_OPS:
            names = _rhs_names(expr.rhs)
            if names is not None:
                codes = EvtTypeSet(names, False)
                if negated:
                    codes = ~codes
                if expr.op == "!=":
                    codes = ~codes
                return codes
    # Neutral leaf (any other comparison, an unexpanded macro): negation leaves it alone.
    return ALL


def _combine(items: Iterable[Expr], negated: bool, *, union: bool) -> EvtTypeSet:
    acc = NONE if union else ALL
    for item in items:
        s = _resolve(item, negated)
        acc = (acc | s) if union else (acc & s)
    return acc


def evttypes_of_modern(expr: Expr) -> EvtTypeSet:
    """The event types ``expr`` can be true for, as today's libsinsp resolver computes
    them (negation pushed to the leaves; see module doc)."""
    return _resolve(expr, False)


def in_sinsp_universe(s: EvtTypeSet) -> EvtTypeSet:
    """``s`` restricted to the event types libsinsp 2022 gives a code of their own.

    The result names only such types, so ``is_all``/``is_empty`` mean what they mean to
    libsinsp: "all but epoll_pwait" is "all", {epoll_pwait} is empty."""
    names = s.names & SINSP_2022_EVENT_NAMES
    if names == SINSP_2022_EVENT_NAMES:  # every known type listed: "all" (or, inverted, none)
        return NONE if s.complement else ALL
    return EvtTypeSet(names, s.complement)


def evttypes_of(expr: Expr) -> EvtTypeSet:
    """The event types Falco's index files ``expr`` under, as the 2022 libsinsp that
    ruleopt measures against computes them (``sinsp_filter::evttypes()``).

    It works bottom-up on the boolean tree over libsinsp's universe of event types with
    a code of their own (see module doc): ``and`` intersects, ``or`` unions, and ``not``
    *complements its child's set* — except that the complement of "all" stays "all" (a
    condition that names no event type stays a catch-all). So
    ``not (evt.type = read and proc.name = x)`` is filed under "all but read": on a read
    event the rule is never checked, although its condition could be true there. The
    harness confirms this set for every rule of the shared rulesets (tests/test_verify.py)
    and for generated ``evt.type`` conditions (tests/test_index.py).
    """
    if isinstance(expr, And):
        acc = ALL
        for item in expr.items:
            acc = acc & evttypes_of(item)
        return in_sinsp_universe(acc)
    if isinstance(expr, Or):
        acc = NONE
        for item in expr.items:
            acc = acc | evttypes_of(item)
        return in_sinsp_universe(acc)
    if isinstance(expr, Not):
        inner = evttypes_of(expr.operand)
        return inner if inner.is_all else in_sinsp_universe(~inner)
    return in_sinsp_universe(_resolve(expr, False))


def sees(evttypes: EvtTypeSet, type_name: str, outside: frozenset[str] = frozenset()) -> bool:
    """Does Falco's index give an event of type ``type_name`` to a rule whose condition
    has ``evttypes`` (a set as ``evttypes_of`` computes it)? The one answer, used by the
    engine's index (``ruleopt.engine.index``) and by ``RuleSet.by_evttype`` (``check``):

    - an empty set is filed under every event, generic ones included (Falco 0.31 files a
      filter without types everywhere; libsinsp reports it as "all event types");
    - any other set sees only events of types in libsinsp 2022's universe of event types
      with a code of their own: an event of a type outside it (a syscall without a code,
      ``epoll_pwait``, arrives as ``PPME_GENERIC_E/X``) is never given to it, "all" and
      "all but ..." included. ``outside`` adds the type names a capture reports outside
      that universe (``EventTable.meta["outside_all_types"]``: its driver may send a
      coded syscall, ``mprotect``, as a generic event);
    - within the universe, the set decides.
    """
    if evttypes.is_empty:
        return True
    if type_name not in SINSP_2022_EVENT_NAMES or type_name in outside:
        return False
    return evttypes.matches(type_name)


def uncoded_names(expr: Expr) -> frozenset[str]:
    """``evt.type`` values in ``expr`` that libsinsp 2022 gives no event code of their own
    (generic syscalls such as ``dup2``, or names it refuses as unknown): they select no
    event type, so Falco's index never gives those syscalls to a rule naming them."""
    names: set[str] = set()
    for node in walk(expr):
        if isinstance(node, Compare) and _is_evttype_field(node.lhs) and node.op in _EVTTYPE_OPS:
            names |= _rhs_names(node.rhs) or frozenset()
    return frozenset(names - SINSP_2022_EVENT_NAMES)


def evttypes_of_lua(expr: Expr) -> EvtTypeSet:
    """The event types the 0.26.2 Lua loader indexed ``expr`` under (see module doc)."""
    names: set[str] = set()
    found_event = found_not = after_not = False
    for node in walk(expr):
        if isinstance(node, Not):
            found_not = True
        elif isinstance(node, Compare):
            if node.op == "!=":
                found_not = True
            if isinstance(node.lhs, Field) and node.lhs.name == EVTTYPE_FIELD:
                found_event = True
                after_not = after_not or found_not
                if node.op in ("in", "pmatch") and isinstance(node.rhs, ValueList):
                    names.update(i.text if isinstance(i, Value) else i.name for i in node.rhs.items)
                elif isinstance(node.rhs, Value):
                    names.add(node.rhs.text)
    if not found_event or after_not:
        return ALL
    return EvtTypeSet.of(names)
