"""The compiled core (three builds) against the reference evaluator.

Property test: generated conditions over every operator family, nesting, absent and
multi-valued fields, transformers and val(); generated events in an EventTable. Every
build must report exactly the reference's (event, rule) matches, in all-match mode and
in Falco's first-match mode, with the same per-rule check counts. Then the real rulesets
on every capture libsinsp reads, and the tracing / replay bookkeeping.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruleopt._ext import abi
from ruleopt.engine import compile as comp
from ruleopt.engine import core as core_py
from ruleopt.engine import reference
from ruleopt.engine.core import VARIANTS, core_module, run_core
from ruleopt.engine.index import outside_all_types, sees
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import EvtTypeSet
from ruleopt.rules.model import Rule

# ---------------------------------------------------------------- generators

EVT_TYPES = ["open", "openat", "execve", "connect", "close"]
WORDS = ["", "a", "ab", "bash", "Bash", "cat", "/etc", "/etc/passwd", "/etc/ab", "/tmp/a b",
         "sh", "aXb", "é", "/", "b",
         # Values libsinsp can hand us that are not valid text: a stray byte (0xff), a
         # truncated UTF-8 character, a NUL inside, base64 that decodes to bytes that
         # are not UTF-8 ("qw==" -> 0xab, "/w==" -> 0xff) or to text ("YQ==" -> "a").
         "\udcff", "a\udcc3", "a\x00b", "qw==", "/w==", "YQ==", "YWI="]  # fmt: skip
IPS = ["127.0.0.1", "10.0.0.1", "10.1.2.3", "::1", "192.168.0.7"]
NETS = ["10.0.0.0/8", "127.0.0.0/8", "192.168.0.0/16"]
NUMS = ["0", "1", "2", "3", "-1", "65536", "18446744073709551615", " 2",
        "-9223372036854775808", "9223372036854775807", "99999999999999999999"]
REGEXES = ["a.*", "[ab]+", ".*/etc/.*", "", "b?a?", "\\C*", "a{2}"]
GLOBS = ["a*", "*b", "/etc/*", "?a*", "[ab]*", "*", "?", "a?", "[!a]*"]

# key -> (kind for value generation, operators to draw from)
STR_OPS = ["=", "==", "!=", "<", ">=", "contains", "icontains", "startswith", "endswith",
           "glob", "iglob", "regex", "in", "intersects", "pmatch", "exists"]  # fmt: skip
NUM_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"]
FIELDS = {
    "proc.name": ("str", STR_OPS),
    "fd.name": ("str", STR_OPS),
    "proc.aname": ("str", STR_OPS),
    "proc.aname[2]": ("str", STR_OPS),
    "fd.num": ("int", NUM_OPS),
    "user.uid": ("uint", NUM_OPS),
    "fd.sport": ("port", NUM_OPS),
    "evt.is_open_write": ("bool", ["=", "!=", "in", "exists"]),
    "fd.sip": ("ip", ["=", "!=", "in", "exists"]),
    "fd.ip": ("ip", ["=", "!=", "in"]),
    "fd.net": ("net", ["=", "!=", "in"]),
    "ka.user.groups": ("str", ["in", "intersects", "=", "!=", "exists"]),
    "thread.cpu": ("double", NUM_OPS),
    "evt.buffer": ("bytes", ["=", "!=", "contains", "bcontains", "startswith", "bstartswith",
                             "endswith", "in", "exists"]),
}  # fmt: skip
KEYS = ["evt.type", *FIELDS]


def _field(key: str) -> ast.Field:
    if key.endswith("]"):
        name, arg = key[:-1].split("[")
        return ast.Field(name, arg)
    return ast.Field(key)


# Every strategy below is built once (module level or cached): building and validating
# fresh strategy objects on each draw cost five times the test itself, and shrinking
# runs the generators hundreds of times.


@functools.cache
def _pool(items: tuple) -> st.SearchStrategy:
    return st.sampled_from(items)


def _pick(draw, items) -> Any:
    return draw(_pool(tuple(items)))


_CHANCE = {n: st.integers(0, n) for n in (3, 5, 6)}


@functools.cache
def scalar_text(kind: str, op: str) -> st.SearchStrategy[str]:
    if kind == "net":
        # fd.net compares to networks; = with a plain address is a compile error.
        return _pool(tuple(NETS))
    if op == "regex":
        return _pool(tuple(REGEXES))
    if op in ("glob", "iglob"):
        return _pool(tuple(GLOBS))
    if kind == "str":
        return _pool(tuple(WORDS))
    if kind in ("int", "uint"):
        return _pool(tuple(NUMS))
    if kind == "port":
        return _pool(("0", "1", "2", "80", "http", "65537"))
    if kind == "bool":
        return _pool(("true", "false"))
    if kind == "double":
        return _pool(("1.5", "0", "-0", "1e400", "nan", "2"))
    if kind == "ip":
        return _pool(tuple(IPS))
    if op in ("bcontains", "bstartswith"):
        return _pool(("61", "6162", "", "2f65"))
    return _pool(tuple(WORDS))


@functools.cache
def _text_lists(kind: str, op: str) -> st.SearchStrategy[list[str]]:
    return st.lists(scalar_text(kind, op), min_size=0 if kind == "str" else 1, max_size=4)


@st.composite
def compares(draw) -> ast.Compare:
    key = _pick(draw, FIELDS)
    kind, ops = FIELDS[key]
    op = _pick(draw, ops)
    lhs: ast.Operand = _field(key)
    if kind in ("str", "bytes") and draw(_CHANCE[5]) == 0:
        lhs = ast.Transform(_pick(draw, ["tolower", "toupper", "basename", "b64"]), lhs)
        if draw(_CHANCE[3]) == 0:  # chains: b64(tolower(x)), ...
            lhs = ast.Transform(_pick(draw, ["tolower", "b64", "basename"]), lhs)
    if kind == "str" and op in ("=", "!=", "contains", "startswith") and draw(
        _CHANCE[6]
    ) == 0:
        other = _pick(draw, ["proc.name", "fd.name", "proc.aname[2]"])
        return ast.Compare(lhs, op, ast.FieldValue(_field(other)))
    if op == "exists":
        return ast.Compare(lhs, op, None)
    if op in ("in", "intersects", "pmatch"):
        items = draw(_text_lists(kind, op))
        return ast.Compare(lhs, op, ast.ValueList(tuple(ast.Value(t) for t in items)))
    return ast.Compare(lhs, op, ast.Value(draw(scalar_text(kind, op))))


@st.composite
def lengths(draw) -> ast.Compare:
    """len() over a multi-valued field and a string: transformers to numbers."""
    key = _pick(draw, ["proc.aname", "proc.name", "evt.buffer"])
    op = _pick(draw, ["=", ">", "<=", "in"])
    inner: ast.Operand = _field(key)
    if key != "proc.aname" and draw(st.booleans()):
        inner = ast.Transform(_pick(draw, ["b64", "basename", "toupper"]), inner)
    lhs = ast.Transform("len", inner)
    if op == "in":
        return ast.Compare(lhs, op, ast.ValueList((ast.Value("0"), ast.Value("2"))))
    return ast.Compare(lhs, op, ast.Value(_pick(draw, ["0", "1", "2", "3"])))


def _usable(cmp: ast.Compare) -> bool:
    """Whether libsinsp (so the reference) accepts the constant at compile time."""
    try:
        reference.prepare(cmp)
        return True
    except RuleoptError:
        return False


def _or_false(cmp: ast.Compare) -> ast.Expr:
    # A comparison libsinsp would refuse becomes `false`: no filter, so no rejected
    # examples and nothing for the shrinker to search around.
    return cmp if _usable(cmp) else ast.BoolConst(False)


leaves = st.one_of(
    compares().map(_or_false),
    lengths(),
    st.builds(ast.BoolConst, st.booleans()),
)
# Trees by hand rather than st.recursive: one small integer picks leaf / not / and / or
# (it shrinks to "leaf"), the depth is bounded, and no strategy is built per draw.
_NODE_KIND = st.integers(0, 5)  # 0-2 leaf, 3 not, 4 and, 5 or
_WIDTH = st.integers(1, 3)
_TREES: dict[int, st.SearchStrategy[ast.Expr]] = {}


@st.composite
def _tree(draw, depth: int) -> ast.Expr:
    kind = draw(_NODE_KIND) if depth else 0
    if kind <= 2:
        return draw(leaves)
    if kind == 3:
        return ast.Not(draw(_TREES[depth - 1]))
    items = tuple(draw(_TREES[depth - 1]) for _ in range(draw(_WIDTH)))
    return (ast.And if kind == 4 else ast.Or)(items)


for _depth in range(4):
    _TREES[_depth] = _tree(_depth)
conditions = _TREES[3]


_WORD = _pool(tuple(WORDS))
_IP = _pool(tuple(IPS))
# field -> strategy of its value or None (absent), built once.
_EVENT_FIELDS = {
    key: st.one_of(st.none(), strat) for key, strat in {
        "proc.name": _WORD,
        "fd.name": _WORD,
        "proc.aname": st.lists(_WORD, max_size=4),
        "proc.aname[2]": _WORD,
        "fd.num": _pool((-1, 0, 1, 2, 3, 1 << 40, -(1 << 63), (1 << 63) - 1)),
        "user.uid": _pool((0, 1, 2, 4294967295)),
        "fd.sport": _pool((0, 1, 80, 443)),
        "evt.is_open_write": st.booleans(),
        "fd.sip": _IP,
        "fd.ip": st.lists(_IP, max_size=2),
        "fd.net": st.lists(_IP, max_size=2),
        "ka.user.groups": st.lists(_WORD, max_size=3),
        "thread.cpu": _pool((0.0, 1.5, 2.0, -0.0, float("nan"), float("inf"), 1e308)),
        "evt.buffer": _WORD,
    }.items()
}  # fmt: skip


@st.composite
def events(draw) -> dict:
    rec: dict = {"evt.type": _pick(draw, EVT_TYPES)}
    for key, strat in _EVENT_FIELDS.items():
        rec[key] = draw(strat)
    return {k: v for k, v in rec.items() if v is not None}


evttype_sets = st.one_of(
    st.just(EvtTypeSet.all_but(())),
    st.sets(st.sampled_from(EVT_TYPES), max_size=3).map(EvtTypeSet.of),
    st.sets(st.sampled_from(EVT_TYPES), max_size=2).map(EvtTypeSet.all_but),
)


def make_rule(rid: int, cond: ast.Expr, types: EvtTypeSet, *, enabled: bool = True) -> Rule:
    return Rule(
        id=rid, name=f"rule{rid}", condition=cond, output="", priority="WARNING", desc="",
        tags=(), source="syscall", enabled=enabled, evttypes=types,
        skip_if_unknown_filter=False, warn_evttypes=False, file=None, line=None,
        condition_text=ast.print_expr(cond),
    )  # fmt: skip


def reference_matches(rules, table: EventTable) -> list[list[int]]:
    """Per event, the ids of enabled rules whose evttypes and condition match, in order."""
    prepared = [(r, reference.prepare(r.condition)) for r in rules if r.enabled]
    out = []
    for i in range(table.n):
        ev = table.event(i)
        etype = ev.get("evt.type")
        out.append([
            r.id for r, fn in prepared
            if etype is not None and sees(r.evttypes, etype, outside_all_types(table)) and fn(ev)
        ])  # fmt: skip
    return out


def check_against_reference(rules, table: EventTable, compiled=None) -> None:
    compiled = compiled or comp.compile_rules(rules, table)
    want = reference_matches(rules, table)
    evt_num = table.evt_num.tolist()
    want_all = {(evt_num[i], rid) for i, ids in enumerate(want) for rid in ids}
    want_first = {(evt_num[i], ids[0]) for i, ids in enumerate(want) if ids}
    for variant in VARIANTS:
        got = run_core(compiled, table, variant, first_match=False)
        assert got.matches == want_all, variant
        assert len(got.match_evt) == len(want_all)
        first = run_core(compiled, table, variant, first_match=True)
        assert first.matches == want_first, variant
        # Falco's loop: one alert per event at most.
        assert len(np.unique(first.match_evt)) == len(first.match_evt)
        for r in rules:
            if r.enabled and r.id < len(got.matched):
                n_match = sum(1 for ids in want if r.id in ids)
                assert got.matched[r.id] == n_match, (variant, r.name)
                # All-match mode checks a rule on exactly the events its evttypes allow.
                n_check = sum(
                    1 for i in range(table.n)
                    if (e := table.event(i).get("evt.type")) is not None
                    and sees(r.evttypes, e, outside_all_types(table))
                )  # fmt: skip
                assert got.checks[r.id] == n_check, (variant, r.name)


# ---------------------------------------------------------------- property test


@settings(
    max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)  # fmt: skip
@given(
    conds=st.lists(st.tuples(conditions, evttype_sets, st.booleans()), min_size=1, max_size=6),
    recs=st.lists(events(), min_size=1, max_size=16),
)
def test_core_equals_reference(conds, recs) -> None:
    rules = [make_rule(i, c, t, enabled=(i == 0 or e)) for i, (c, t, e) in enumerate(conds)]
    table = EventTable.from_records(recs, KEYS)
    check_against_reference(rules, table)


def test_property_test_covers_every_operator() -> None:
    """The generators above reach every operator of the AST (so the property test is
    not vacuous for any of them)."""
    used = {op for _, ops in FIELDS.items() for op in ops[1]} | {"=", ">", "<=", "in"}
    assert set(ast.ALL_OPS) <= used


# ---------------------------------------------------------------- fixed cases


def _table(recs):
    return EventTable.from_records(recs, KEYS)


def test_index_buckets_follow_rule_order_and_skip_disabled() -> None:
    t = _table([{"evt.type": "open"}, {"evt.type": "close"}])
    rules = [
        make_rule(0, ast.BoolConst(True), EvtTypeSet.of({"close"})),
        make_rule(1, ast.BoolConst(True), EvtTypeSet.all_but(())),
        make_rule(2, ast.BoolConst(True), EvtTypeSet.of({"open"}), enabled=False),
        make_rule(3, ast.BoolConst(True), EvtTypeSet.all_but({"close"})),
    ]
    c = comp.compile_rules(rules, t)
    assert c.rule_ids.tolist() == [0, 1, 3]
    open_id, close_id = t.strings.lookup("open"), t.strings.lookup("close")
    assert c.rule_ids[c.bucket(open_id)].tolist() == [1, 3]
    assert c.rule_ids[c.bucket(close_id)].tolist() == [0, 1]
    r = run_core(c, t, first_match=True)
    assert r.matches == {(1, 1), (2, 0)}
    assert r.checks.tolist() == [1, 1, 0, 0]  # each loop broke at its first rule
    r = run_core(c, t, first_match=False)
    assert r.checks.tolist() == [1, 2, 0, 1]
    assert r.per_event_checks.tolist() == [2, 2]


def test_absent_column_and_absent_values_fail_every_op_but_exists() -> None:
    t = _table([{"evt.type": "open", "proc.name": "cat"}, {"evt.type": "open"}])
    exists = ast.Compare(ast.Field("proc.name"), "exists")
    ne = ast.Compare(ast.Field("proc.name"), "!=", ast.Value("x"))
    gone = ast.Compare(ast.Field("proc.exe"), "exists")  # no such column in the table
    rules = [make_rule(0, exists, EvtTypeSet.all_but(())),
             make_rule(1, ne, EvtTypeSet.all_but(())),
             make_rule(2, ast.Not(gone), EvtTypeSet.all_but(()))]  # fmt: skip
    r = run_core(rules, t, first_match=False)
    assert r.matches == {(1, 0), (1, 1), (1, 2), (2, 2)}


def test_multi_valued_fields_combine_as_values_py_says() -> None:
    """Any value satisfies, except endpoints with != and list kinds with in (every value);
    an empty list is absent."""
    recs = [
        {"evt.type": "open", "fd.ip": ["10.0.0.1", "127.0.0.1"],
         "ka.user.groups": ["a", "b"], "proc.aname": ["bash", "sh"]},
        {"evt.type": "open", "fd.ip": ["10.0.0.1"], "ka.user.groups": ["a"], "proc.aname": []},
    ]  # fmt: skip
    t = _table(recs)

    def cmp(key, op, *vals):
        rhs = ast.ValueList(tuple(map(ast.Value, vals))) if op == "in" else ast.Value(vals[0])
        return ast.Compare(_field(key), op, rhs)

    cases = {
        0: cmp("fd.ip", "!=", "127.0.0.1"),  # all values must differ: only event 2
        1: cmp("ka.user.groups", "in", "a"),  # every value in the set: only event 2
        2: cmp("proc.aname", "=", "sh"),  # any value: event 1
        3: ast.Not(ast.Compare(ast.Field("proc.aname"), "exists")),  # [] is absent: event 2
    }
    rules = [make_rule(i, c, EvtTypeSet.all_but(())) for i, c in cases.items()]
    for variant in VARIANTS:
        r = run_core(rules, t, variant, first_match=False)
        assert r.matches == {(2, 0), (2, 1), (1, 2), (2, 3)}, variant
    check_against_reference(rules, t)


def test_traces_are_recorded_only_by_their_build() -> None:
    t = _table([{"evt.type": "open", "proc.name": "cat"}] * 5 + [{"evt.type": "close"}] * 3)
    cond = ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat"))
    rules = [make_rule(7, cond, EvtTypeSet.of({"open", "close"}))]
    assert core_module("untraced").mode() == 0
    assert core_module("rules").mode() == 1
    assert core_module("stacks").mode() == 2
    u = run_core(rules, t, "untraced", repeat=2)
    assert u.trace_rules is None and u.trace_stages is None
    assert len(u.cycles) == 2 and np.all(u.cycles > 0)
    r = run_core(rules, t, "rules", repeat=2)
    # Rule 7: 5 matched and 3 unmatched checks per repeat, accumulated over 2 repeats.
    assert r.trace_rules.count[7].tolist() == [6, 10]
    assert r.trace_rules.hist[7].sum(axis=-1).tolist() == [6, 10]
    assert r.trace_rules.count[:7].sum() == 0
    s = run_core(rules, t, "stacks", repeat=2)
    counts = s.trace_stages.count  # [stage, branch]
    assert counts[:, 0].tolist() == [0] * 5  # no timeouts offline
    assert counts[:, 1].tolist() == [6] * 5  # 3 close events x 2 repeats: unbroken
    assert counts[:, 2].tolist() == [10] * 5  # 5 open events x 2: broke on the match
    it = s.trace_stages.sum[4]
    parts = s.trace_stages.sum[:4].sum(axis=0)
    assert np.all(it >= parts)


def test_rate_replay_drops_and_timeouts() -> None:
    t = _table([{"evt.type": "open", "proc.name": "cat"}] * 200)
    cond = ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat"))
    rules = [make_rule(0, cond, EvtTypeSet.all_but(()))]
    # Absurdly fast arrivals into a 4-slot ring: nearly everything is dropped.
    fast = run_core(rules, t, "stacks", rate=1e15, buffer=4)
    assert fast.drops > 150
    assert fast.drops + int(fast.processed.sum()) == 200
    assert fast.matches == {(int(t.evt_num[i]), 0) for i in np.nonzero(fast.processed)[0]}
    # One event per simulated second: never a drop, a timeout before each later event.
    slow = run_core(rules, t, "stacks", rate=1.0, buffer=1)
    assert slow.drops == 0 and slow.processed.all()
    assert slow.timeouts == 199
    assert slow.trace_stages.count[4, 0] == 199  # iteration stage, SCAP_TIMEOUT branch
    assert slow.sim_seconds >= 199.0


def test_bad_input_is_refused_before_the_loop() -> None:
    t = _table([{"evt.type": "open", "proc.name": "cat"}])
    cond = ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat"))
    c = comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)
    mutations = {
        "child loops back": lambda c: c.nodes.__setitem__((0, comp.F_KIND), comp.K_NOT),
        "column out of range": lambda c: c.nodes.__setitem__((0, comp.F_COL), 99),
        "string op on a number": lambda c: c.columns.__setitem__(1, "evt.num"),
        "root out of range": lambda c: c.roots.__setitem__(0, 5),
        "bucket names a missing rule": lambda c: c.idx_rules.__setitem__(0, 3),
        "rule id too large": lambda c: c.rule_ids.__setitem__(0, 9000),
    }
    for what, mutate in mutations.items():
        bad = comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)
        mutate(bad)
        with pytest.raises(RuleoptError):
            run_core(bad, t)
            pytest.fail(what)
    other = _table([{"evt.type": "open", "proc.name": "dog"}, {"evt.type": "x"}])
    with pytest.raises(RuleoptError, match="another table"):
        run_core(c, other)


def test_bad_constant_is_a_compile_error() -> None:
    t = _table([{"evt.type": "open"}])
    cond = ast.Compare(ast.Field("fd.num"), "=", ast.Value("12x"))
    with pytest.raises(RuleoptError, match="rule 'rule0'"):
        comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)


def test_layout_python_sees_is_the_compiled_one() -> None:
    """Every build exports the node struct's layout and the digest of the headers it was
    compiled from; Python's node columns and codes are those of ruleopt._ext.abi."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for header in ("plugin/ruleopt_abi.h", "plugin/trace.h"):
        digest.update((root / header).read_bytes())
    assert abi.ABI_DIGEST == digest.hexdigest()[:16]  # built from these very headers
    for variant in VARIANTS:
        mod = core_module(variant)
        assert mod.ABI_DIGEST == abi.ABI_DIGEST
        assert mod.NODE_DTYPE == abi.NODE_DTYPE
    assert abi.NODE_FIELDS == ("kind", "op", "col", "all", "a", "b", "child", "nchild")
    # The Python enums name every enumerator of the header (its N_* counts), 0..N-1.
    for enum, count in ((abi.NodeKind, abi.N_KINDS), (abi.Op, abi.N_OPS),
                        (abi.Instr, abi.N_INSTR)):  # fmt: skip
        assert sorted(int(m) for m in enum) == list(range(count))
    assert comp.NF * 8 == abi.NODE_DTYPE.itemsize
    # A node row built by compile_rules, seen through the struct's dtype, by name.
    t = _table([{"evt.type": "open", "proc.name": "cat"}])
    cond = ast.And((ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat")),
                    ast.Not(ast.BoolConst(False))))  # fmt: skip
    c = comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)
    nodes = c.nodes.view(abi.NODE_DTYPE).reshape(-1)
    assert nodes[0]["kind"] == abi.NodeKind.K_AND
    assert (nodes[0]["child"], nodes[0]["nchild"]) == (1, 2)
    assert nodes[1]["kind"] == abi.NodeKind.K_CMP and nodes[1]["op"] == abi.Op.OP_STR_EQ
    assert nodes[1]["col"] == c.columns.index("proc.name")
    assert nodes[2]["kind"] == abi.NodeKind.K_NOT and nodes[3]["kind"] == abi.NodeKind.K_FALSE
    assert comp.F_CHILD == abi.NODE_DTYPE.fields["child"][1] // 8
    assert run_core(c, t).matches == {(int(t.evt_num[0]), 0)}


def test_arrays_the_core_refuses_are_an_internal_error() -> None:
    """Compiled arrays come from ruleopt, never from the user: the core refusing them is
    ruleopt's fault, reported as such (a limit of the user's ruleset is not)."""
    t = _table([{"evt.type": "open", "proc.name": "cat"}])
    cond = ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat"))
    bad = comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)
    bad.nodes[0, comp.F_COL] = 99
    with pytest.raises(InternalError, match="column 99 out of range") as info:
        run_core(bad, t)
    assert "report it" in info.value.hint
    big = comp.compile_rules([make_rule(0, cond, EvtTypeSet.all_but(()))], t)
    big.rule_ids[0] = core_py.MAX_RULES
    with pytest.raises(RuleoptError, match="at most 8192 rules") as limit:
        run_core(big, t)
    assert not isinstance(limit.value, InternalError)


# ---------------------------------------------------------------- real rules on captures

TRACES = Path(os.environ.get("RULEOPT_TRACES", "/work/shared/traces"))
RULESETS = Path(os.environ.get("RULEOPT_RULESETS", "/work/shared/rulesets"))
UNREADABLE = {"curl_google_comments.scap"}  # libsinsp cannot read it
CAPTURES = sorted(p.name for p in TRACES.glob("*.scap") if p.name not in UNREADABLE)
RULE_FILES = ["falco_rules-falco-0.26.2.yaml", "falco_rules-main.yaml"]


@functools.cache
def _ruleset(name: str):
    from ruleopt.rules.loader import load_rules

    return load_rules(RULESETS / name)


@pytest.mark.parametrize("rules_file", RULE_FILES)
@pytest.mark.parametrize("capture", CAPTURES)
def test_real_rules_on_captures(capture: str, rules_file: str) -> None:
    from ruleopt.events.load import load_events

    rules = _ruleset(rules_file)
    table = load_events(TRACES / capture, rules)
    syscall_rules = [r for r in rules.rules if r.source == "syscall"]
    check_against_reference(syscall_rules, table)


def test_captures_are_found() -> None:
    assert len(CAPTURES) >= 10, CAPTURES


def test_unsigned_64_bit_values_order_like_the_reference() -> None:
    """evt.num is unsigned 64-bit: values >= 2**63 sit in int64 storage by bit pattern, and
    ordered comparisons must still see them as large (regression: they compared signed)."""
    big = (1 << 63, (1 << 64) - 1, 5)
    recs = [{"evt.type": "open", "evt.num": n} for n in big]
    table = EventTable.from_records(recs, ["evt.type", "evt.num"])
    conds = [
        ast.Compare(ast.Field("evt.num"), ">", ast.Value(str((1 << 63) - 1))),
        ast.Compare(ast.Field("evt.num"), "<", ast.Value("100")),
        ast.Compare(ast.Field("evt.num"), ">=", ast.Value("0")),
    ]
    rules = [make_rule(i, c, EvtTypeSet.of({"open"})) for i, c in enumerate(conds)]
    check_against_reference(rules, table)
    got = run_core(comp.compile_rules(rules, table), table, first_match=False)
    assert got.matched[0] == 2 and got.matched[1] == 1 and got.matched[2] == 3
