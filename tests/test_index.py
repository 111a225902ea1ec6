"""Falco's event-type index against libsinsp 2022: generic syscall events, unknown names.

A generic event (a syscall without an event code of its own, such as ``epoll_pwait``)
arrives as PPME_GENERIC_E/X, outside libsinsp's universe of event types: no ``evt.type``
name selects it, and only a rule whose set is empty (filed under every event) sees it.
"""

from __future__ import annotations

import re
from functools import cache
from types import SimpleNamespace

import pytest
from conftest import RULESETS, TRACES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruleopt.engine.index import evttype_buckets, outside_all_types, sees
from ruleopt.engine.verify import reference_matches
from ruleopt.events import sinsp
from ruleopt.events.capture import table_from_capture
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import ALL, NONE, EvtTypeSet, evttypes_of, uncoded_names
from ruleopt.rules.loader import load_rules
from ruleopt.rules.model import GENERIC_TYPES, OTHER_TYPES
from ruleopt.rules.parser import parse_condition
from ruleopt.rules.sinsp_events import SINSP_2022_EVENT_NAMES

CAPTURE = TRACES / "run_as_user_0_container.scap"
# In CAPTURE: epoll_pwait, rt_sigaction, wait4 and mprotect arrive as generic events
# (mprotect has an event code of its own in libsinsp 2022, but this capture's driver sent
# it as a generic one); init_module is generic and absent.
# "syscall" is PPME_GENERIC_E/X's own name, which libsinsp skips too.
GENERIC = ["epoll_pwait", "rt_sigaction", "wait4", "mprotect", "init_module", "syscall"]
# With their own code: present (switch, read, open, execve, close, futex), absent (connect).
OWN_CODE = ["switch", "read", "open", "execve", "close", "futex", "connect"]
UNKNOWN = ["nosuch"]  # libsinsp refuses to compile: "unknown event type nosuch"


def ev(text: str) -> EvtTypeSet:
    return evttypes_of(parse_condition(text))


def test_universe_is_libsinsp_all_event_types() -> None:
    """Our table of coded event types equals the set libsinsp 2022 files a catch-all under."""
    doc = sinsp.run_harness(TRACES / "syscall.scap", [(1, "catch-all", "evt.num >= 0")])
    rule = doc["rules"][0]
    assert rule["all_evttypes"] is False
    assert set(rule["evttypes"]) == SINSP_2022_EVENT_NAMES


def test_generic_names_select_no_event_type() -> None:
    # libsinsp 2022 (filterchecks.cpp, sinsp_filter_check_event::evttypes): a name is
    # looked up among codes 2.. only, so a generic syscall name selects nothing.
    assert ev("evt.type = epoll_pwait") == NONE
    assert ev("evt.type != epoll_pwait") == ALL
    # The complement of "all" stays "all" (gen_filter.cpp, inverse()).
    assert ev("not (evt.type != epoll_pwait)") == ALL
    assert ev("not evt.type = epoll_pwait") == ALL
    assert ev("evt.type in (epoll_pwait, open)") == EvtTypeSet.of({"open"})
    assert ev("not evt.type in (epoll_pwait, open)") == EvtTypeSet.all_but({"open"})
    assert ev("not (evt.type = epoll_pwait and evt.type = open)") == ALL
    assert ev("evt.type = syscall") == NONE  # PPME_GENERIC_E/X's own name, skipped too
    assert ev("evt.type != open") == EvtTypeSet.all_but({"open"})
    assert ev("not (not evt.type = open)") == EvtTypeSet.of({"open"})


def test_uncoded_names_are_warned(tmp_path) -> None:
    cond = "evt.type in (dup, dup2) and evt.type != epoll_pwait and proc.name = dup3"
    assert uncoded_names(_expanded(parse_condition(cond))) == {"dup2", "epoll_pwait"}
    path = tmp_path / "r.yaml"
    path.write_text(
        f"- rule: R\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
    )
    rs = load_rules([path])
    assert rs.rules[0].evttypes == EvtTypeSet.of({"dup"})
    assert [w.rule for w in rs.warnings] == ["R"]
    assert "dup2, epoll_pwait have no event code" in rs.warnings[0].message


def test_index_routes_generic_events_only_to_empty_sets() -> None:
    outside = frozenset({"epoll_pwait"})
    assert sees(NONE, "epoll_pwait", outside) and sees(NONE, "open", outside)
    assert not sees(ALL, "epoll_pwait", outside) and sees(ALL, "open", outside)
    assert not sees(EvtTypeSet.all_but({"open"}), "epoll_pwait", outside)
    assert not sees(EvtTypeSet.of({"epoll_pwait"}), "epoll_pwait", outside)


def test_generic_event_regressions_against_libsinsp() -> None:
    """The cases the printed-condition property found: same sets, same matches."""
    conds = [
        "not (evt.type != epoll_pwait)",
        "evt.type = epoll_pwait",
        "evt.type in (epoll_pwait, mprotect)",
        "not evt.type = open and evt.dir = <",
        "evt.type = open and evt.type = close",
    ]
    got = _judge(conds)
    assert [len(theirs[1]) for _, theirs in got] == [0, 60, 0, 728, 0]
    for cond, (ours, theirs) in zip(conds, got, strict=True):
        assert ours == theirs, cond


# ------------------------------------------------------------------- property test


@cache
def _table() -> EventTable:
    return table_from_capture(CAPTURE, ["evt.num", "evt.type", "evt.dir"])


def _expanded(e: ast.Expr) -> ast.Expr:
    # Bare names in a parsed list are ListRefs until the loader expands lists.
    if isinstance(e, ast.Not):
        return ast.Not(_expanded(e.operand))
    if isinstance(e, (ast.And, ast.Or)):
        return type(e)(tuple(map(_expanded, e.items)))
    if isinstance(e, ast.Compare) and isinstance(e.rhs, ast.ValueList):
        items = tuple(ast.Value(i.name) if isinstance(i, ast.ListRef) else i for i in e.rhs.items)
        return ast.Compare(e.lhs, e.op, ast.ValueList(items))
    return e


def _judge(conds: list[str]) -> list[tuple[tuple, tuple]]:
    """Per condition: ((our index set, our matches), (libsinsp's set, its matches))."""
    table = _table()
    exprs = [_expanded(parse_condition(c)) for c in conds]
    rules = [
        SimpleNamespace(id=i, condition=e, enabled=True, evttypes=evttypes_of(e))
        for i, e in enumerate(exprs)
    ]
    ours = reference_matches(rules, table)
    doc = sinsp.run_harness(CAPTURE, [(i, f"r{i}", c) for i, c in enumerate(conds)])
    out = []
    for r, h in zip(rules, doc["rules"], strict=True):
        assert h["status"] == "ok", (conds[r.id], h["error"])
        mine = (_index_names(r.evttypes), tuple(sorted(ours[r.id])))
        real = (
            "every event" if h["all_evttypes"] else frozenset(h["evttypes"]),
            tuple(sorted(h["matched_evtnums"])),
        )
        out.append((mine, real))
    return out


def _index_names(s: EvtTypeSet) -> frozenset[str] | str:
    # The harness lists codes' names, or says "all" for an empty set (every event).
    if s.is_empty:
        return "every event"
    return frozenset(n for n in SINSP_2022_EVENT_NAMES if s.matches(n))


def _leaf(names: list[str]) -> st.SearchStrategy[ast.Expr]:
    name = st.sampled_from(names)
    field = ast.Field("evt.type")
    return st.one_of(
        st.builds(lambda n: ast.Compare(field, "=", ast.Value(n)), name),
        st.builds(lambda n: ast.Compare(field, "!=", ast.Value(n)), name),
        st.lists(name, min_size=1, max_size=3, unique=True).map(
            lambda ns: ast.Compare(field, "in", ast.ValueList(tuple(map(ast.Value, ns))))
        ),
        # A neutral leaf (set "all"): `not (neutral and evt.type = x)` is "all but x".
        st.just(ast.Compare(ast.Field("evt.dir"), "=", ast.Value("<"))),
    )


def _tree(names: list[str]) -> st.SearchStrategy[ast.Expr]:
    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        return st.one_of(
            # Negating a `not` drops it: no `not not`, whose parse is not the index's
            # subject (and no filtering, which would slow generation).
            children.map(lambda e: e.operand if isinstance(e, ast.Not) else ast.Not(e)),
            st.lists(children, min_size=2, max_size=3).map(lambda xs: ast.And(tuple(xs))),
            st.lists(children, min_size=2, max_size=3).map(lambda xs: ast.Or(tuple(xs))),
        )

    return st.recursive(_leaf(names), extend, max_leaves=5)


KNOWN_POOL = GENERIC + OWN_CODE


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_tree(KNOWN_POOL), min_size=1, max_size=40))
def test_index_and_matches_equal_libsinsp(exprs: list[ast.Expr]) -> None:
    """Generated evt.type conditions (generic, coded names): the index set libsinsp
    computes and the events it matches equal ours; 30 conditions per harness run."""
    conds = [ast.print_expr(e) for e in exprs]
    for cond, (ours, theirs) in zip(conds, _judge(conds), strict=True):
        assert ours == theirs, cond


@settings(max_examples=10, deadline=None)
@given(st.lists(_tree(KNOWN_POOL + UNKNOWN), min_size=1, max_size=20))
def test_unknown_names_are_refused_by_libsinsp(exprs: list[ast.Expr]) -> None:
    """A name libsinsp knows neither as an event nor as a syscall makes it refuse the
    rule (verify reports it unsupported); every other condition compiles."""
    conds = [ast.print_expr(e) for e in exprs]
    doc = sinsp.run_harness(CAPTURE, [(i, f"r{i}", c) for i, c in enumerate(conds)])
    for cond, h in zip(conds, doc["rules"], strict=True):
        uses_unknown = any(re.search(rf"\b{name}\b", cond) for name in UNKNOWN)
        assert (h["status"] == "error") == uses_unknown, cond
        if uses_unknown:
            assert "unknown event type" in h["error"]


def test_outside_types_of_the_capture() -> None:
    # The premise of the pools above: which names arrive as generic events here.
    outside = outside_all_types(_table())
    assert {"epoll_pwait", "rt_sigaction", "wait4", "mprotect"} <= outside
    assert not outside & {"switch", "read", "open", "execve", "close", "futex"}


UPSTREAM = {
    "0.26.2": ["falco_rules-falco-0.26.2.yaml"],
    "1.0.0": ["falco_rules-1.0.0.yaml"],
    "main+incubating": ["falco_rules-main.yaml", "falco-incubating_rules-main.yaml"],
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_one_answer_for_which_rules_see_a_type(name: str) -> None:
    """``sees`` (the engine's index) and ``RuleSet.by_evttype`` (what ``check`` prints)
    give, for every event type, the rules libsinsp 2022's compiled filters file under it:
    its coded types by name, and generic events (here epoll_pwait, init_module and
    PPME_GENERIC_E's own name) only for a filter it reports as "all event types"."""
    rs = load_rules([RULESETS / f for f in UPSTREAM[name]])
    rules = list(rs.syscall_rules())
    doc = sinsp.run_harness(
        TRACES / "syscall.scap", [(r.id, r.name, ast.print_expr(r.condition)) for r in rules]
    )
    real = {r.name: h for r, h in zip(rules, doc["rules"], strict=True) if h["status"] == "ok"}
    assert len(real) > len(rules) * 3 // 4
    names = sorted(SINSP_2022_EVENT_NAMES) + ["epoll_pwait", "init_module", "syscall"]

    def libsinsp_sees(rule: str, type_name: str) -> bool:
        return real[rule]["all_evttypes"] or type_name in real[rule]["evttypes"]

    table = rs.by_evttype(names)
    for type_name in names:
        for r in rules:
            if r.name in real:
                assert sees(r.evttypes, type_name) == libsinsp_sees(r.name, type_name), (
                    r.name,
                    type_name,
                )
        assert [r.name for r in table[type_name] if r.name in real] == [
            r.name for r in rules if r.name in real and libsinsp_sees(r.name, type_name)
        ]
    # check's own rows: the named types, one for every other coded type, one for generics.
    rows = rs.by_evttype()
    assert rows[GENERIC_TYPES] == table["epoll_pwait"]
    unnamed = sorted(SINSP_2022_EVENT_NAMES - set(rows))
    assert unnamed and all(table[t] == rows[OTHER_TYPES] for t in unnamed)
    assert all(rows[t] == table[t] for t in rows if t not in (OTHER_TYPES, GENERIC_TYPES))


def test_by_evttype_rows_on_corner_sets(tmp_path) -> None:
    """The corner cases where check's table and the index once disagreed: an empty set
    sees generic events, a complement does not, and a name outside the universe is a
    generic event to every rule but the empty one."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "- rule: empty\n  desc: d\n  condition: evt.type = epoll_pwait\n  output: o\n"
        "  priority: INFO\n"
        "- rule: allbut\n  desc: d\n  condition: evt.type != open\n  output: o\n"
        "  priority: INFO\n"
        "- rule: exits\n  desc: d\n  condition: evt.type = procexit\n  output: o\n"
        "  priority: INFO\n"
    )
    rs = load_rules(path)
    rows = {k: [r.name for r in v] for k, v in rs.by_evttype().items()}
    assert rows == {
        "open": ["empty"],
        "procexit": ["empty", "allbut", "exits"],
        OTHER_TYPES: ["empty", "allbut"],
        GENERIC_TYPES: ["empty"],
    }
    # A capture whose driver sent procexit as a generic event (outside its all-types set).
    outside = frozenset({"procexit"})
    assert [r.name for r in rs.by_evttype(["procexit"], outside=outside)["procexit"]] == ["empty"]
    assert not sees(EvtTypeSet.of({"procexit"}), "procexit", outside)


def test_tables_without_capture_metadata_file_generic_names_the_same() -> None:
    """A JSONL or generated table carries no ``outside_all_types``: a name libsinsp 2022
    gives no code of its own is a generic event there too (only the empty set sees it)."""
    table = EventTable.from_records(
        [{"evt.type": "epoll_pwait"}, {"evt.type": "open"}], ["evt.type"]
    )
    assert not (table.meta or {}).get("outside_all_types")
    rules = [SimpleNamespace(evttypes=s) for s in (ALL, NONE, EvtTypeSet.of({"open"}))]
    by_name = {table.strings.get(t): ids for t, ids in evttype_buckets(rules, table).items()}
    assert by_name == {"epoll_pwait": [1], "open": [0, 1, 2]}
