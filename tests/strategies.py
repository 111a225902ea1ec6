"""Shared hypothesis strategies of the property tests: conditions over every operator
family (nesting, absent and multi-valued fields, transformers, val()), events for them,
event-type sets, and the rule and reference-match helpers that go with them.

One module, imported by every test that generates rules (``test_core``,
``test_strategies``, ``test_scaling``): tests do not import each other.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

from ruleopt.engine import reference
from ruleopt.engine.index import outside_all_types, sees
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import EvtTypeSet
from ruleopt.rules.model import Rule

EVT_TYPES = ["open", "openat", "execve", "connect", "close"]
WORDS = [
    "",
    "a",
    "ab",
    "bash",
    "Bash",
    "cat",
    "/etc",
    "/etc/passwd",
    "/etc/ab",
    "/tmp/a b",
    "sh",
    "aXb",
    "é",
    "/",
    "b",
    # Values libsinsp can hand us that are not valid text: a stray byte (0xff), a
    # truncated UTF-8 character, a NUL inside, base64 that decodes to bytes that
    # are not UTF-8 ("qw==" -> 0xab, "/w==" -> 0xff) or to text ("YQ==" -> "a").
    "\udcff",
    "a\udcc3",
    "a\x00b",
    "qw==",
    "/w==",
    "YQ==",
    "YWI=",
]
IPS = ["127.0.0.1", "10.0.0.1", "10.1.2.3", "::1", "192.168.0.7"]
NETS = ["10.0.0.0/8", "127.0.0.0/8", "192.168.0.0/16"]
NUMS = [
    "0",
    "1",
    "2",
    "3",
    "-1",
    "65536",
    "18446744073709551615",
    " 2",
    "-9223372036854775808",
    "9223372036854775807",
    "99999999999999999999",
]
REGEXES = ["a.*", "[ab]+", ".*/etc/.*", "", "b?a?", "\\C*", "a{2}"]
GLOBS = ["a*", "*b", "/etc/*", "?a*", "[ab]*", "*", "?", "a?", "[!a]*"]

# key -> (kind for value generation, operators to draw from)
STR_OPS = [
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "exists",
]
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
    "evt.buffer": (
        "bytes",
        [
            "=",
            "!=",
            "contains",
            "bcontains",
            "startswith",
            "bstartswith",
            "endswith",
            "in",
            "exists",
        ],
    ),
}
KEYS = ["evt.type", *FIELDS]


def field_of(key: str) -> ast.Field:
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
    lhs: ast.Operand = field_of(key)
    if kind in ("str", "bytes") and draw(_CHANCE[5]) == 0:
        lhs = ast.Transform(_pick(draw, ["tolower", "toupper", "basename", "b64"]), lhs)
        if draw(_CHANCE[3]) == 0:  # chains: b64(tolower(x)), ...
            lhs = ast.Transform(_pick(draw, ["tolower", "b64", "basename"]), lhs)
    if kind == "str" and op in ("=", "!=", "contains", "startswith") and draw(_CHANCE[6]) == 0:
        other = _pick(draw, ["proc.name", "fd.name", "proc.aname[2]"])
        return ast.Compare(lhs, op, ast.FieldValue(field_of(other)))
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
    inner: ast.Operand = field_of(key)
    if key != "proc.aname" and draw(st.booleans()):
        inner = ast.Transform(_pick(draw, ["b64", "basename", "toupper"]), inner)
    lhs = ast.Transform("len", inner)
    if op == "in":
        return ast.Compare(lhs, op, ast.ValueList((ast.Value("0"), ast.Value("2"))))
    return ast.Compare(lhs, op, ast.Value(_pick(draw, ["0", "1", "2", "3"])))


def usable(cmp: ast.Compare) -> bool:
    """Whether libsinsp (so the reference) accepts the constant at compile time."""
    try:
        reference.prepare(cmp)
        return True
    except RuleoptError:
        return False


def _or_false(cmp: ast.Compare) -> ast.Expr:
    # A comparison libsinsp would refuse becomes `false`: no filter, so no rejected
    # examples and nothing for the shrinker to search around.
    return cmp if usable(cmp) else ast.BoolConst(False)


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
    key: st.one_of(st.none(), strat)
    for key, strat in {
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
}


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
        id=rid,
        name=f"rule{rid}",
        condition=cond,
        output="",
        priority="WARNING",
        desc="",
        tags=(),
        source="syscall",
        enabled=enabled,
        evttypes=types,
        skip_if_unknown_filter=False,
        warn_evttypes=False,
        file=None,
        line=None,
        condition_text=ast.print_expr(cond),
    )


def reference_matches(rules, table: EventTable) -> list[list[int]]:
    """Per event, the ids of enabled rules whose evttypes and condition match, in order."""
    prepared = [(r, reference.prepare(r.condition)) for r in rules if r.enabled]
    out = []
    for i in range(table.n):
        ev = table.event(i)
        etype = ev.get("evt.type")
        out.append(
            [
                r.id
                for r, fn in prepared
                if etype is not None
                and sees(r.evttypes, etype, outside_all_types(table))
                and fn(ev)
            ]
        )
    return out
