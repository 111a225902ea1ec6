"""Finer tagging (proposal 2): the event-type index refined by keys derived from the rules.

Within one event-type bucket, many rules can only match when some field has one of a
few values: a conjunct of the expanded condition such as ``evt.dir = <``,
``fd.typechar = f`` or ``proc.name in (...)``. Branching on that field's value sends an
event only to the rules that allow its value, plus the rules that do not constrain the
field. The constraints are read off the *compiled* conjuncts, so the allowed set of each
rule is exactly what the core would accept (string ids of this table; a constant the
table never holds allows nothing):

- ``OP_STR_EQ``/``OP_STR_IN``/``OP_NUM_EQ``/``OP_NUM_IN``: the constant(s);
- ``OP_STR_TRUTH``: the column's values whose precomputed answer is true.

Only single-valued columns discriminate (a multi-valued field has no one value to
branch on). An absent field fails each of these comparisons (``values.py``: only
``exists`` holds on an absent field), so an event without the field, or with a value no
rule names, gets only the unconstrained rules. Excluded rules are false on the event,
so the first rule that matches in a sub-bucket (kept in load order) is the first that
matches in the whole bucket: Falco's first-match result is unchanged.

Which field: the one that minimises the rules checked per event, counted over a seeded
sample of the workload's rows of that type; then the same again inside each sub-bucket
(``levels``, default 6). A bucket is split only when that lowers the count. Those choices
are the tree's *plan* (``DecisionTree.plan``: per event type, sub-bucket's rules and fields
already used, the field chosen or None); ``finer_index(..., plan=...)`` builds a tree
for another table with another table's plan (learned on a training workload): only the
allowed values are read from this table, and a sub-bucket the plan never saw is a leaf.

Besides equality and ``in``, any ordered or string test on a single-valued column
constrains a rule (its allowed values are the column's values in this table that pass
the test; an absent value passes none), so ``fd.sport >= 30000`` keeps a catch-all
network rule off every event without a port. Values admitting the same rules share one
subtree.

A streaming engine (the real one, ``ruleopt.engine.real_finer``) cannot know a value's
rules in advance: it extracts the field on every event that reaches the node and runs the
constrained rules' conjuncts on each value's first sight. ``StreamCost`` prices that in
rule checks (per event reaching a split, per first-seen value and distinct conjunct; or
per event and distinct conjunct where values are mostly new, as on ``evt.num``), so a split
is made only where it saves more rule checks than it costs. The replica's own tree (no
``stream``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt.events.table import EventTable

from .compile import (
    F_A,
    F_B,
    F_CHILD,
    F_COL,
    F_KIND,
    F_NCHILD,
    F_OP,
    K_AND,
    K_CMP,
    OP_NUM_EQ,
    OP_NUM_GE,
    OP_NUM_GT,
    OP_NUM_IN,
    OP_NUM_LE,
    OP_NUM_LT,
    OP_NUM_NE,
    OP_STR_CONTAINS,
    OP_STR_ENDSWITH,
    OP_STR_EQ,
    OP_STR_IN,
    OP_STR_NE,
    OP_STR_STARTSWITH,
    OP_STR_TRUTH,
    CompiledRuleset,
)

# Comparisons whose allowed values are found by testing each distinct value of the
# column in this table: an ordered numeric test or a string test on bytes. Each still
# fails on an absent field (values.py), so a rule needing one is filed only under the
# values that pass it; this is what lets `fd.sport >= 30000` skip events without a port.
_NUM_TESTS = {
    OP_NUM_NE: np.not_equal,
    OP_NUM_LT: np.less,
    OP_NUM_LE: np.less_equal,
    OP_NUM_GT: np.greater,
    OP_NUM_GE: np.greater_equal,
}
_BYTE_TESTS = {
    OP_STR_CONTAINS: lambda s, c: c in s,
    OP_STR_STARTSWITH: bytes.startswith,
    OP_STR_ENDSWITH: bytes.endswith,
}

# The comparison opcodes whose allowed values rule_constraints reads (the real engine's
# finer index, ruleopt.engine.real_finer, hands libsinsp exactly these conjuncts).
CONSTRAINING_OPS = frozenset(
    (OP_STR_EQ, OP_NUM_EQ, OP_STR_IN, OP_NUM_IN, OP_STR_TRUTH, OP_STR_NE, *_NUM_TESTS, *_BYTE_TESTS)
)


@dataclass(frozen=True)
class StreamCost:
    """What a split costs a streaming engine, in rule checks: ``extract`` per event that
    reaches the node, ``miss`` per distinct conjunct per distinct value (its first sight);
    or, for a field whose values are mostly new (the engine's direct mode), ``miss`` per
    distinct conjunct per event, whichever is less."""

    extract: float
    miss: float


SAMPLE_ROWS = 200_000
LEVELS = 6


@dataclass
class DecisionTree:
    """Nodes 0..T-1 are the roots for evt.type string id 0..T-1 (T = heap size).

    ``col[i]`` < 0: a leaf whose bucket is ``arg[i]``; else node i branches on column
    ``col[i]`` (index into ``CompiledRuleset.columns``): the value's position among
    ``keys[koff[i]:koff[i+1]]`` selects ``child``, an absent or other value ``arg[i]``."""

    col: np.ndarray
    arg: np.ndarray
    koff: np.ndarray
    keys: np.ndarray
    child: np.ndarray
    stats: dict[str, object] = field(default_factory=dict)
    # (event type, sub-bucket's rules, fields used above) -> the field chosen, or None.
    plan: dict[tuple, str | None] = field(default_factory=dict)


def rule_constraints(
    compiled: CompiledRuleset, table: EventTable, exclude: frozenset[str] = frozenset()
) -> list[dict[int, frozenset]]:
    """Per compiled rule: column index -> the values a top-level conjunct allows (no
    column named in ``exclude``)."""
    nodes = compiled.nodes
    single = [table.column(k).offsets is None and k not in exclude for k in compiled.columns]
    out: list[dict[int, frozenset]] = []
    distinct: dict[int, np.ndarray] = {}
    for root in compiled.roots.tolist():
        conj, stack = [], [int(root)]
        while stack:  # flatten nested ands: every conjunct must hold
            i = stack.pop()
            if int(nodes[i, F_KIND]) == K_AND:
                c0 = int(nodes[i, F_CHILD])
                stack.extend(range(c0, c0 + int(nodes[i, F_NCHILD])))
            else:
                conj.append(i)
        cons: dict[int, frozenset] = {}
        for i in conj:
            if int(nodes[i, F_KIND]) != K_CMP:
                continue
            op, col, a, b = (int(nodes[i, f]) for f in (F_OP, F_COL, F_A, F_B))
            if not single[col]:
                continue
            if op not in CONSTRAINING_OPS:
                continue
            if op in (OP_STR_EQ, OP_NUM_EQ):
                allowed = frozenset([a]) if (op == OP_NUM_EQ or a >= 0) else frozenset()
            elif op == OP_STR_IN:
                allowed = frozenset(compiled.id_pool[a : a + b].tolist())
            elif op == OP_NUM_IN:
                allowed = frozenset(compiled.num_pool[a : a + b].tolist())
            else:
                if col not in distinct:
                    c = table.column(compiled.columns[col])
                    distinct[col] = np.unique(c.values[c.present])
                vals = distinct[col]
                if op == OP_STR_TRUTH:
                    keep = compiled.truth_pool[a + vals] != 0
                elif op == OP_STR_NE:
                    keep = vals != a
                elif op in _NUM_TESTS:
                    keep = _NUM_TESTS[op](vals, a)
                else:
                    const = compiled.byte_pool[a : a + b].tobytes()
                    heap, test = table.strings, _BYTE_TESTS[op]
                    keep = np.fromiter(
                        (
                            test(heap.get(int(v)).encode("utf-8", "surrogateescape"), const)
                            for v in vals
                        ),
                        dtype=bool,
                        count=len(vals),
                    )
                allowed = frozenset(vals[keep].tolist())
            cons[col] = cons[col] & allowed if col in cons else allowed
        out.append(cons)
    return out


class _Builder:
    def __init__(
        self,
        compiled: CompiledRuleset,
        table: EventTable,
        cons: list[dict[int, frozenset]],
        rows: np.ndarray,
        levels: int,
        stream: StreamCost | None = None,
        plan: dict[tuple, str | None] | None = None,
    ) -> None:
        self.compiled, self.table, self.cons, self.levels = compiled, table, cons, levels
        self.stream = stream
        self.col: list[int] = []
        self.arg: list[int] = []
        self.keys: list[list[int]] = []
        self.child: list[list[int]] = []
        self.buckets: dict[tuple[int, ...], int] = {(): 0}
        self.values: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.rows = rows
        self.plan_in = plan
        self.plan: dict[tuple, str | None] = {}
        self.type_name = ""

    def column_values(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) of a column over the sample rows."""
        if col not in self.values:
            c = self.table.column(self.compiled.columns[col])
            self.values[col] = (
                np.asarray(c.values)[self.rows].astype(np.int64),
                np.asarray(c.present)[self.rows],
            )
        return self.values[col]

    def new_node(self) -> int:
        self.col.append(-1)
        self.arg.append(0)
        self.keys.append([])
        self.child.append([])
        return len(self.col) - 1

    def leaf(self, node: int, rules: Sequence[int]) -> None:
        self.col[node] = -1
        self.arg[node] = self.buckets.setdefault(tuple(rules), len(self.buckets))

    def choose(self, rules: Sequence[int], sel: np.ndarray, used: frozenset[int]) -> int | None:
        """The plan's column for this sub-bucket (given one), else ``best_split``'s;
        recorded in ``plan`` either way."""
        names = self.compiled.columns
        key = (self.type_name, tuple(rules), frozenset(names[c] for c in used))
        if self.plan_in is None:
            col = self.best_split(rules, sel, used)
        else:
            want = self.plan_in.get(key)
            cands = {c for r in rules for c in self.cons[r]} - used
            col = names.index(want) if want in names and names.index(want) in cands else None
        self.plan[key] = None if col is None else names[col]
        return col

    def best_split(self, rules: Sequence[int], sel: np.ndarray, used: frozenset[int]) -> int | None:
        """The column that minimises rules checked over the sample rows ``sel``."""
        n = int(sel.size)
        if n == 0 or len(rules) < 2:
            return None
        cands = {c for r in rules for c in self.cons[r]} - used
        best, best_cost = None, n * len(rules)
        for col in sorted(cands):
            vals, present = self.column_values(col)
            v = vals[sel][present[sel]]
            uniq, counts = np.unique(v, return_counts=True)
            cost = 0.0
            if self.stream is not None:
                # Rules repeating one conjunct (an expanded macro) run it once.
                groups = len({self.cons[r][col] for r in rules if col in self.cons[r]})
                distinct = len(uniq) + int(v.size < n)  # absent is a value of its own
                cached = self.stream.extract * n + self.stream.miss * distinct * groups
                # Mostly new values: the engine runs the conjuncts on every event instead.
                cost += min(cached, self.stream.miss * n * groups)
            for r in rules:
                allowed = self.cons[r].get(col)
                if allowed is None:
                    cost += n
                elif allowed:
                    cost += int(counts[np.isin(uniq, np.fromiter(allowed, np.int64))].sum())
            if cost < best_cost:
                best, best_cost = col, cost
        return best

    def build(
        self, node: int, rules: list[int], sel: np.ndarray, depth: int, used: frozenset[int]
    ) -> None:
        col = self.choose(rules, sel, used) if depth < self.levels else None
        if col is None:
            self.leaf(node, rules)
            return
        uncon = [r for r in rules if col not in self.cons[r]]
        con = [r for r in rules if col in self.cons[r]]
        allowed = [np.fromiter(self.cons[r][col], np.int64) for r in con]
        keys = np.unique(np.concatenate(allowed)) if allowed else np.zeros(0, np.int64)
        vals, present = self.column_values(col)
        self.col[node] = col
        default = self.new_node()
        self.arg[node] = default
        # Values that admit the same rules share one child: `fd.num >= 0` admits every
        # present value, and must cost one subtree, not one per distinct fd.num. Group
        # the keys by their row of the key x constrained-rule membership matrix.
        member = np.stack([np.isin(keys, a) for a in allowed], axis=1)
        packed = np.ascontiguousarray(np.packbits(member, axis=1))
        rows_as_bytes = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
        _, first, group = np.unique(rows_as_bytes, return_index=True, return_inverse=True)
        group = group.reshape(-1)
        kids = [self.new_node() for _ in first]
        self.keys[node] = keys.tolist()  # sorted: the core binary-searches them
        self.child[node] = [kids[g] for g in group.tolist()]
        pv = present[sel]
        v = vals[sel]
        known = np.isin(v, keys) & pv
        self.build(default, uncon, sel[~known], depth + 1, used | {col})
        pos = {r: j for j, r in enumerate(con)}
        for g, k0 in enumerate(first.tolist()):
            members = [r for r in rules if r not in pos or member[k0, pos[r]]]
            rows = sel[pv & np.isin(v, keys[group == g])]
            self.build(kids[g], members, rows, depth + 1, used | {col})


def finer_index(
    compiled: CompiledRuleset,
    table: EventTable,
    *,
    levels: int = LEVELS,
    sample: int = SAMPLE_ROWS,
    seed: int = 0,
    stream: StreamCost | None = None,
    exclude: frozenset[str] = frozenset(),
    plan: dict[tuple, str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, DecisionTree]:
    """(idx_offsets, idx_rules, tree) of the finer index: buckets as CSR over bucket ids
    (bucket 0 is empty), the tree from evt.type id to bucket. ``plan``: the fields
    another tree chose (its ``plan``) instead of choosing them on ``table``."""
    n_types = len(compiled.idx_offsets) - 1
    rng = np.random.default_rng(seed)
    rows = (
        np.arange(table.n)
        if table.n <= sample
        else np.sort(rng.choice(table.n, size=sample, replace=False))
    )
    cons = rule_constraints(compiled, table, exclude)
    b = _Builder(compiled, table, cons, rows, levels, stream, plan)
    for _ in range(n_types):
        b.new_node()
    etype = np.asarray(table.column("evt.type").values)[rows]
    etype_present = np.asarray(table.column("evt.type").present)[rows]
    order = np.argsort(etype, kind="stable")
    sorted_t = etype[order]
    for t in range(n_types):
        rules = compiled.bucket(t).tolist()
        if not rules:
            b.leaf(t, [])
            continue
        lo, hi = np.searchsorted(sorted_t, [t, t + 1])
        sel = order[lo:hi]
        sel = np.sort(sel[etype_present[sel]])
        b.type_name = table.strings.get(t)
        b.build(t, rules, sel, 0, frozenset())
    buckets = sorted(b.buckets.items(), key=lambda kv: kv[1])
    lengths = np.array([len(k) for k, _ in buckets], dtype=np.int64)
    idx_offsets = np.zeros(len(buckets) + 1, dtype=np.int64)
    np.cumsum(lengths, out=idx_offsets[1:])
    idx_rules = np.fromiter(
        (r for k, _ in buckets for r in k), dtype=np.int32, count=int(lengths.sum())
    )
    koff = np.zeros(len(b.col) + 1, dtype=np.int64)
    np.cumsum([len(k) for k in b.keys], out=koff[1:])
    split = sorted({b.col[i] for i in range(len(b.col)) if b.col[i] >= 0})
    tree = DecisionTree(
        col=np.asarray(b.col, dtype=np.int32),
        arg=np.asarray(b.arg, dtype=np.int32),
        koff=koff,
        keys=np.asarray([k for ks in b.keys for k in ks], dtype=np.int64),
        child=np.asarray([c for cs in b.child for c in cs], dtype=np.int32),
        stats={
            "buckets": len(buckets),
            "tree_nodes": len(b.col),
            "discriminators": [compiled.columns[c] for c in split],
        },
        plan=b.plan,
    )
    return idx_offsets, idx_rules, tree
