"""Rewrite rules over the one AST, each a small function with its equivalence argument.

Every rule maps an expression to one with the same truth value on every event under
libsinsp's semantics (``ruleopt.engine.values``: an absent field makes every comparison
false, ``!=`` included; multi-valued fields compare "any element"). None has to reason
about evaluation order: libsinsp 2022's filter checks have no side effects (``and``/``or``
only short-circuit), so ``and``/``or`` are commutative, associative and idempotent there.
The property tests (``tests/test_rewrite.py``) check each rule on generated conditions and
events, absent and multi-valued fields and ``not`` included.

What is deliberately *not* rewritten, because it is not an equivalence:
- ``a != x and a != y`` into ``not a in (x, y)``: on an absent ``a`` the left is false and
  the right true;
- ``not a = x`` into ``a != x`` (same reason);
- ``=``-chains on multi-valued or both-ends fields (``proc.aname``, ``fd.ip``, ``fd.net``,
  ``fd.port``), on ipnet/port/double/bool fields and under transformers: libsinsp 2022
  gives some of them a compare of their own, so ``in`` is not proven to be "any ``=``".
"""

from __future__ import annotations

from collections.abc import Callable

from ruleopt.errors import RuleoptError
from ruleopt.fields import resolve
from ruleopt.rules.ast import And, BoolConst, Compare, Expr, Field, Not, Or, Value, ValueList

# Field types whose `in` is exactly "any of the `=`" in libsinsp 2022 (one value per event,
# the generic flt_compare: CO_IN looks the value up in the same set CO_EQ compares with).
_IN_SAFE_TYPES = frozenset({"str", "int", "uint"})


def _rebuild(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """Apply ``fn`` bottom-up (children first)."""
    if isinstance(expr, Not):
        inner = _rebuild(expr.operand, fn)
        return fn(expr if inner is expr.operand else Not(inner))
    if isinstance(expr, (And, Or)):
        items = tuple(_rebuild(i, fn) for i in expr.items)
        same = all(a is b for a, b in zip(items, expr.items, strict=True))
        return fn(expr if same else type(expr)(items))
    return fn(expr)


def flatten(expr: Expr) -> Expr:
    """``a and (b and c)`` → ``a and b and c`` (likewise ``or``); ``and(a)`` → ``a``.

    Equivalence: associativity of a side-effect-free conjunction. The printer then needs
    no parentheses, and one level is one short-circuit loop in libsinsp."""

    def one(e: Expr) -> Expr:
        if isinstance(e, (And, Or)):
            if len(e.items) == 1:  # an and/or of one operand is that operand
                return e.items[0]
            kind = type(e)
            if any(isinstance(i, kind) for i in e.items):
                items: list[Expr] = []
                for i in e.items:
                    items.extend(i.items if isinstance(i, kind) else (i,))
                return kind(tuple(items))
        return e

    return _rebuild(expr, one)


def dedupe(expr: Expr) -> Expr:
    """``a and b and a`` → ``a and b`` (likewise ``or``): the first occurrence stays.

    Equivalence: idempotence (``a and a`` is ``a``) plus commutativity; equal ASTs are the
    same test on the same event."""

    def one(e: Expr) -> Expr:
        if isinstance(e, (And, Or)):
            # The AST is frozen dataclasses (hashable): one pass, not a scan per operand,
            # so an `or` of 20,000 terms dedupes in linear time.
            seen = list(dict.fromkeys(e.items))
            if len(seen) < len(e.items):
                return seen[0] if len(seen) == 1 else type(e)(tuple(seen))
        return e

    return _rebuild(expr, one)


def fold_constants(expr: Expr) -> Expr:
    """``x and true`` → ``x``, ``x and false`` → ``false``, ``x or true`` → ``true``,
    ``x or false`` → ``x``, ``not true`` → ``false``.

    Equivalence: the identities of Boolean algebra; a constant has no side effect, and
    dropping a non-constant operand (``x and false``) is safe because no filter check has
    one either. Callers that must print the result keep a ``BoolConst`` only where the
    whole condition folds (the printer has no literal for it)."""

    def one(e: Expr) -> Expr:
        if isinstance(e, Not) and isinstance(e.operand, BoolConst):
            return BoolConst(not e.operand.value)
        if isinstance(e, (And, Or)):
            absorbing = isinstance(e, Or)  # true absorbs or, false absorbs and
            kept: list[Expr] = []
            for i in e.items:
                if isinstance(i, BoolConst):
                    if i.value == absorbing:
                        return BoolConst(absorbing)
                    continue
                kept.append(i)
            if len(kept) < len(e.items):
                if not kept:
                    return BoolConst(not absorbing)
                return kept[0] if len(kept) == 1 else type(e)(tuple(kept))
        return e

    return _rebuild(expr, one)


def in_safe_field(cmp: Compare) -> bool:
    """Whether ``cmp`` is ``field = value`` / ``field in (...)`` on a field whose ``in``
    is exactly the union of its ``=`` (see ``_IN_SAFE_TYPES``)."""
    if cmp.op not in ("=", "in") or not isinstance(cmp.lhs, Field):
        return False
    if cmp.op == "=" and not isinstance(cmp.rhs, Value):
        return False
    if cmp.op == "in" and not isinstance(cmp.rhs, ValueList):
        return False
    try:
        info = resolve(cmp.lhs).info
    except RuleoptError:
        return False
    if info.multi or info.type not in _IN_SAFE_TYPES:
        return False
    values = (cmp.rhs,) if isinstance(cmp.rhs, Value) else cmp.rhs.items
    # An empty value: libsinsp 2022 reads `()` as `("")` and `= ""` has quoting corner
    # cases of its own; leave such chains alone.
    return bool(values) and all(not isinstance(v, Value) or v.text != "" for v in values)


def merge_in(expr: Expr) -> Expr:
    """``f = a or f = b or f in (c, L)`` → ``f in (a, b, c, L)`` for one field ``f`` of a
    type where ``in`` is the union of ``=`` (``in_safe_field``); list names stay.

    Equivalence: ``f in S`` is true exactly when ``f`` is present and its one value is in
    S; an absent ``f`` makes every operand false, and the merged ``in`` false too. The
    other operands of the ``or`` are kept, the merged test takes the place of the first
    one it replaces (``or`` is commutative)."""

    def one(e: Expr) -> Expr:
        if not isinstance(e, Or):
            return e
        groups: dict[Field, list[int]] = {}
        for k, i in enumerate(e.items):
            if isinstance(i, Compare) and in_safe_field(i):
                groups.setdefault(i.lhs, []).append(k)
        merged: dict[int, Expr] = {}
        dropped: set[int] = set()
        for lhs, ks in groups.items():
            if len(ks) < 2:
                continue
            values: dict = {}  # insertion-ordered and hashed: linear in the chain's length
            for k in ks:
                rhs = e.items[k].rhs
                values.update(dict.fromkeys((rhs,) if isinstance(rhs, Value) else rhs.items))
            merged[ks[0]] = Compare(lhs, "in", ValueList(tuple(values)))
            dropped.update(ks[1:])
        if not merged:
            return e
        items = tuple(merged.get(k, i) for k, i in enumerate(e.items) if k not in dropped)
        return items[0] if len(items) == 1 else Or(items)

    return _rebuild(expr, one)


def reorder(expr: Expr, key: Callable[[Expr, Expr, int], float]) -> Expr:
    """Each ``and``/``or``'s operands sorted by ``key(parent, operand, position)``
    (stable: ties keep the author's order).

    Equivalence: commutativity; libsinsp 2022's checks have no side effects, so only the
    cost changes, never the result (the event-type index is a union/intersection over the
    operands, also order-free)."""

    def one(e: Expr) -> Expr:
        if isinstance(e, (And, Or)) and len(e.items) > 1:
            order = sorted(range(len(e.items)), key=lambda k: (key(e, e.items[k], k), k))
            if order != list(range(len(e.items))):
                return type(e)(tuple(e.items[k] for k in order))
        return e

    return _rebuild(expr, one)


# The rules that need no figures, in the order ``optimize`` applies them; each is an
# equivalence, so any composition is one too.
STRUCTURAL: tuple[tuple[str, Callable[[Expr], Expr]], ...] = (
    ("flatten", flatten),
    ("fold", fold_constants),
    ("dedupe", dedupe),
    ("merge-in", merge_in),
)
