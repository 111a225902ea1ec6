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

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (
    FIELDS,
    KEYS,
    conditions,
    events,
    evttype_sets,
    field_of,
    make_rule,
    reference_matches,
)

from ruleopt._ext import abi
from ruleopt.engine import compile as comp
from ruleopt.engine import core as core_py
from ruleopt.engine.core import VARIANTS, core_module, run_core
from ruleopt.engine.index import outside_all_types, sees
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import EvtTypeSet

# ---------------------------------------------------------------- generators
# (shared with the other property tests: tests/strategies.py)


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
                    1
                    for i in range(table.n)
                    if (e := table.event(i).get("evt.type")) is not None
                    and sees(r.evttypes, e, outside_all_types(table))
                )
                assert got.checks[r.id] == n_check, (variant, r.name)


# ---------------------------------------------------------------- property test


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
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
    rules = [
        make_rule(0, exists, EvtTypeSet.all_but(())),
        make_rule(1, ne, EvtTypeSet.all_but(())),
        make_rule(2, ast.Not(gone), EvtTypeSet.all_but(())),
    ]
    r = run_core(rules, t, first_match=False)
    assert r.matches == {(1, 0), (1, 1), (1, 2), (2, 2)}


def test_multi_valued_fields_combine_as_values_py_says() -> None:
    """Any value satisfies, except endpoints with != and list kinds with in (every value);
    an empty list is absent."""
    recs = [
        {
            "evt.type": "open",
            "fd.ip": ["10.0.0.1", "127.0.0.1"],
            "ka.user.groups": ["a", "b"],
            "proc.aname": ["bash", "sh"],
        },
        {"evt.type": "open", "fd.ip": ["10.0.0.1"], "ka.user.groups": ["a"], "proc.aname": []},
    ]
    t = _table(recs)

    def cmp(key, op, *vals):
        rhs = ast.ValueList(tuple(map(ast.Value, vals))) if op == "in" else ast.Value(vals[0])
        return ast.Compare(field_of(key), op, rhs)

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
    for header in ("plugin/ruleopt_abi.h", "plugin/trace.h", "plugin/ring.h"):  # setup.py's
        digest.update((root / header).read_bytes())
    assert abi.ABI_DIGEST == digest.hexdigest()[:16]  # built from these very headers
    for variant in VARIANTS:
        mod = core_module(variant)
        assert mod.ABI_DIGEST == abi.ABI_DIGEST
        assert mod.NODE_DTYPE == abi.NODE_DTYPE
    assert abi.NODE_FIELDS == ("kind", "op", "col", "all", "a", "b", "child", "nchild")
    # The Python enums name every enumerator of the header (its N_* counts), 0..N-1.
    for enum, count in ((abi.NodeKind, abi.N_KINDS), (abi.Op, abi.N_OPS), (abi.Instr, abi.N_INSTR)):
        assert sorted(int(m) for m in enum) == list(range(count))
    assert comp.NF * 8 == abi.NODE_DTYPE.itemsize
    # A node row built by compile_rules, seen through the struct's dtype, by name.
    t = _table([{"evt.type": "open", "proc.name": "cat"}])
    cond = ast.And(
        (ast.Compare(ast.Field("proc.name"), "=", ast.Value("cat")), ast.Not(ast.BoolConst(False)))
    )
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
