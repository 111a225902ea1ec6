"""The rewrite rules (``ruleopt.rewrite.rules``) preserve every match, and ``optimize``
keeps only what it proves.

Properties over the shared generated conditions and events (``tests/strategies.py``:
absent fields, ``!=``, multi-valued fields, transformers, ``not``), plus shapes the
generic trees rarely build: ``or`` chains of ``=`` on one field, repeated operands.
"""

from __future__ import annotations

import random

import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt.engine import reference
from ruleopt.rewrite import rules
from ruleopt.rewrite.expand import OwnExpander
from ruleopt.rules import ast
from ruleopt.rules.evttypes import evttypes_of
from ruleopt.rules.model import RuleSet
from ruleopt.rules.parser import parse_condition

_EQ_KEYS = [k for k, (_kind, ops) in S.FIELDS.items() if "=" in ops]


@st.composite
def eq_chains(draw) -> ast.Expr:
    """``f = a or f = b or f in (...) or other``: what ``merge_in`` merges, on every field
    kind (strings, numbers, multi-valued, ipnet, both-ends), under ``not`` sometimes."""
    key = draw(st.sampled_from(["evt.type", *_EQ_KEYS]))
    kind = S.FIELDS[key][0] if key in S.FIELDS else "evttype"
    texts = st.sampled_from(S.EVT_TYPES) if kind == "evttype" else S.scalar_text(kind, "=")
    items: list[ast.Expr] = []
    for _ in range(draw(st.integers(2, 4))):
        if draw(st.integers(0, 3)) == 0:
            vals = draw(st.lists(texts, min_size=1, max_size=3))
            cmp = ast.Compare(
                S.field_of(key), "in", ast.ValueList(tuple(ast.Value(v) for v in vals))
            )
        else:
            cmp = ast.Compare(S.field_of(key), "=", ast.Value(draw(texts)))
        items.append(cmp if S.usable(cmp) else ast.BoolConst(False))
    if draw(st.booleans()):
        items.append(draw(S.leaves))
    random.Random(draw(st.integers(0, 99))).shuffle(items)
    out: ast.Expr = ast.Or(tuple(items))
    return ast.Not(out) if draw(st.integers(0, 3)) == 0 else out


@st.composite
def with_repeats(draw) -> ast.Expr:
    """An and/or whose operands repeat, nested one level (what dedupe and flatten see)."""
    base = draw(st.lists(S.conditions, min_size=1, max_size=3))
    items = base + draw(st.lists(st.sampled_from(base), max_size=3))
    inner = (ast.And if draw(st.booleans()) else ast.Or)(tuple(items))
    kind = (
        type(inner) if draw(st.booleans()) else (ast.Or if isinstance(inner, ast.And) else ast.And)
    )
    return kind((inner, draw(S.conditions), inner))


CONDITIONS = st.one_of(S.conditions, eq_chains(), with_repeats())
EVENTS = st.lists(S.events(), min_size=1, max_size=8)


def _same_matches(a: ast.Expr, b: ast.Expr, events: list[dict]) -> None:
    for ev in events:
        assert reference.evaluate(a, ev) == reference.evaluate(b, ev), (
            f"{ast.print_expr(a)!r} and {ast.print_expr(b)!r} differ on {ev}"
        )


def _keyed(seed: int):
    rng = random.Random(seed)
    return lambda parent, operand, pos: rng.random()


@settings(max_examples=200, deadline=None)
@given(cond=CONDITIONS, events=EVENTS, seed=st.integers(0, 2**16))
def test_every_rewrite_keeps_the_match_set(cond, events, seed) -> None:
    out = cond
    for _name, fn in rules.STRUCTURAL:
        _same_matches(cond, fn(cond), events)
        out = fn(out)  # and their composition, in optimize's order
    _same_matches(cond, out, events)
    _same_matches(cond, rules.reorder(out, _keyed(seed)), events)


@settings(max_examples=200, deadline=None)
@given(cond=CONDITIONS, seed=st.integers(0, 2**16))
def test_rewrites_keep_the_event_type_index_and_print_back(cond, seed) -> None:
    """The index (libsinsp 2022's event-type algebra) is the same, so the same rules are
    checked on the same events; the printed result reads back as itself."""
    out = rules.reorder(rules.merge_in(rules.dedupe(rules.flatten(cond))), _keyed(seed))
    assert evttypes_of(out) == evttypes_of(cond)
    if not any(isinstance(n, ast.BoolConst) for n in ast.walk(out)):
        assert parse_condition(ast.print_expr(out)) == out


def test_merge_in_merges_only_where_in_is_the_union_of_equalities() -> None:
    merged = rules.merge_in(parse_condition("proc.name = a or fd.num = 1 or proc.name in (b, L)"))
    # The merged `a` stays a literal (quoted when printed), `b` and `L` list names.
    assert merged == parse_condition('proc.name in ("a", b, L) or fd.num = 1')
    # Multi-valued, both-ends, ipnet and transformed fields: left alone.
    for text in (
        "proc.aname = a or proc.aname = b",
        "fd.ip = 10.0.0.1 or fd.ip = 10.0.0.2",
        "fd.net = 10.0.0.0/8 or fd.net = 127.0.0.0/8",
        "tolower(proc.name) = a or tolower(proc.name) = b",
        'proc.name = "" or proc.name = a',
    ):
        assert rules.merge_in(parse_condition(text)) == parse_condition(text)


def test_not_equal_chains_are_not_turned_into_not_in() -> None:
    """`a != x and a != y` is false on an absent a, `not a in (x, y)` true: no rule may
    make one of the other (this is the counterexample, checked)."""
    cond = parse_condition("proc.name != a and proc.name != b")
    tempting = parse_condition('not proc.name in ("a", "b")')
    assert reference.evaluate(cond, {}) != reference.evaluate(tempting, {})
    for _name, fn in rules.STRUCTURAL:
        assert reference.evaluate(fn(cond), {}) is False


def test_fold_constants_identities() -> None:
    x = parse_condition("proc.name = a")
    t, f = ast.BoolConst(True), ast.BoolConst(False)
    assert rules.fold_constants(ast.And((x, t))) == x
    assert rules.fold_constants(ast.And((x, f))) == f
    assert rules.fold_constants(ast.Or((x, t))) == t
    assert rules.fold_constants(ast.Or((f, x))) == x
    assert rules.fold_constants(ast.Not(ast.And((t, t)))) == f


def test_constant_macros_are_falcos_own_only() -> None:
    from ruleopt.rules.model import MacroDef

    def macro(name: str, text: str) -> MacroDef:
        return MacroDef(name, parse_condition(text))

    rs = RuleSet(
        rules=(),
        macros={
            m.name: m
            for m in (
                macro("always_true", "(evt.num>=0)"),
                macro("never_true", "(evt.num=0)"),
                macro("hook", "(never_true)"),
                macro("other", "evt.num > 0"),
            )
        },
    )
    ex = OwnExpander(rs)
    assert ex.constant(ast.MacroRef("always_true")) is True
    assert ex.constant(ast.MacroRef("never_true")) is False
    assert ex.constant(ast.Not(ast.MacroRef("hook"))) is True
    assert ex.constant(ast.MacroRef("other")) is None
    # The argument, checked on the events libsinsp numbers (from 1).
    for num in (1, 2, 2**63):
        assert reference.evaluate(ex.expand(ast.MacroRef("never_true")), {"evt.num": num}) is False
        assert reference.evaluate(ex.expand(ast.MacroRef("always_true")), {"evt.num": num}) is True


@settings(max_examples=150, deadline=None)
@given(cond=CONDITIONS, train=EVENTS, events=EVENTS)
def test_measured_order_keeps_the_match_set(cond, train, events) -> None:
    """``optimize``'s measured ordering (every and/or, nested ones on the events reaching
    them) on figures from one set of events, checked on another."""
    from ruleopt.rewrite.optimize import _measured_order

    ordered, _note = _measured_order(cond, OwnExpander(RuleSet(rules=())), train)
    _same_matches(cond, ordered, events + train)
    assert evttypes_of(ordered) == evttypes_of(cond)
