"""Compile expanded rule conditions to the flat arrays the Cython core walks.

A ``CompiledRuleset`` is bound to ONE ``EventTable``: string constants become that
table's string ids, and answers the C evaluator cannot compute cheaply are precomputed
over that table's values. Semantics come only from ``ruleopt.engine.values`` (via the
same helpers the reference evaluator uses), so the core agrees with the oracle by
construction:

- ``=``/``!=``/``in`` on plain strings compare string ids (a constant absent from the
  heap equals no event value); ``contains``/``startswith``/``endswith`` on plain strings
  run in C on UTF-8 bytes from a constant byte pool (substring of code points is
  substring of UTF-8 bytes, so this equals Python's ``in``/``startswith``).
- Numbers compare natively (``in``: a sorted int64 set) when the constant is an int64.
- Everything else (regex, glob, iglob, icontains, pmatch, string ordering, IP, bytes,
  dynamic fields, transformers on a string column) is a *truth table*: for each string id
  the column holds, ``values.compare`` decides once at compile time; numeric columns get
  the sorted set of their values that satisfy the comparison.
- A ``val(field)`` right side, or a transformer over a multi-valued or numeric column,
  depends on two values of the same row: it is decided per row by the reference
  evaluator at compile time (``OP_ROW_TRUTH``). Rare in Falco rules.

Node layout (``nodes`` int64 [n, NF]): one row per ``struct ruleopt_node`` of
``plugin/ruleopt_abi.h`` (kind, op, column, all-flag, a, b, first child, child count),
column ``F_x`` holding member ``x`` at the struct's offset; ``nodes.view(NODE_DTYPE)``
names them. The children of a node are contiguous and come after it, so the core's
recursion always terminates. Kinds, opcodes and layout come from the header through
``ruleopt._ext.abi``: there is no second copy to keep equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ruleopt._ext import abi as _abi
from ruleopt.engine.index import evttype_buckets
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.table import EventTable, has_wrapped_unsigned, python_number
from ruleopt.fields import FieldInfo
from ruleopt.rules import ast
from ruleopt.rules.model import Rule

from . import reference, values
from .text import to_bytes

if TYPE_CHECKING:  # both import this module: typing-only, not a runtime dependency
    from .finer import DecisionTree
    from .program import Program

# ---------------------------------------------------------------- codes (ruleopt_abi.h)

# Kinds, opcodes and the node layout are defined once, in plugin/ruleopt_abi.h; these
# names are bound to the values the extension was compiled with.
NODE_DTYPE: np.dtype = _abi.NODE_DTYPE
if any(NODE_DTYPE[name] != np.dtype(np.int64) for name in NODE_DTYPE.names) or (
    NODE_DTYPE.itemsize != 8 * len(NODE_DTYPE.names)
):  # pragma: no cover - only a header edit breaking the int64-matrix view gets here
    raise InternalError(
        "the compiled node struct is not all int64 members: the node matrix view breaks",
        hint="keep every member of ruleopt_node an int64_t (plugin/ruleopt_abi.h)",
    )
# Node arrays are int64 [n, NF] matrices; column F_x holds member x of the struct.
NF: int = NODE_DTYPE.itemsize // 8
_COLUMN = {name: NODE_DTYPE.fields[name][1] // 8 for name in NODE_DTYPE.names}
F_KIND, F_OP, F_COL, F_ALL = _COLUMN["kind"], _COLUMN["op"], _COLUMN["col"], _COLUMN["all"]
F_A, F_B, F_CHILD, F_NCHILD = _COLUMN["a"], _COLUMN["b"], _COLUMN["child"], _COLUMN["nchild"]

NodeKind = _abi.NodeKind
Op = _abi.Op
K_AND, K_OR, K_NOT = int(NodeKind.K_AND), int(NodeKind.K_OR), int(NodeKind.K_NOT)
K_CMP, K_TRUE, K_FALSE = int(NodeKind.K_CMP), int(NodeKind.K_TRUE), int(NodeKind.K_FALSE)
OP_EXISTS = int(Op.OP_EXISTS)
OP_STR_EQ, OP_STR_NE, OP_STR_IN = int(Op.OP_STR_EQ), int(Op.OP_STR_NE), int(Op.OP_STR_IN)
OP_STR_TRUTH, OP_STR_CONTAINS = int(Op.OP_STR_TRUTH), int(Op.OP_STR_CONTAINS)
OP_STR_STARTSWITH, OP_STR_ENDSWITH = int(Op.OP_STR_STARTSWITH), int(Op.OP_STR_ENDSWITH)
OP_NUM_EQ, OP_NUM_NE, OP_NUM_LT = int(Op.OP_NUM_EQ), int(Op.OP_NUM_NE), int(Op.OP_NUM_LT)
OP_NUM_LE, OP_NUM_GT, OP_NUM_GE = int(Op.OP_NUM_LE), int(Op.OP_NUM_GT), int(Op.OP_NUM_GE)
OP_NUM_IN, OP_ROW_TRUTH = int(Op.OP_NUM_IN), int(Op.OP_ROW_TRUTH)


def node_row(
    kind: int,
    op: int = 0,
    col: int = 0,
    all: int = 0,
    a: int = 0,
    b: int = 0,
    child: int = 0,
    nchild: int = 0,
) -> list[int]:
    """One node as an NF-long row, each member in its struct column (placed by name)."""
    row = [0] * NF
    row[F_KIND], row[F_OP], row[F_COL], row[F_ALL] = kind, op, col, all
    row[F_A], row[F_B], row[F_CHILD], row[F_NCHILD] = a, b, child, nchild
    return row


_NUM_NATIVE = {
    "=": OP_NUM_EQ,
    "!=": OP_NUM_NE,
    "<": OP_NUM_LT,
    "<=": OP_NUM_LE,
    ">": OP_NUM_GT,
    ">=": OP_NUM_GE,
}
_STR_BYTES = {
    "contains": OP_STR_CONTAINS,
    "startswith": OP_STR_STARTSWITH,
    "endswith": OP_STR_ENDSWITH,
}
_I64 = (-(1 << 63), (1 << 63) - 1)
# Above this many heap strings a per-node truth table (one byte per string) costs too
# much memory; the true ids go into a sorted set instead (same answer, O(log n) lookup).
MAX_TRUTH_TABLE = 1 << 20


@dataclass
class CompiledRuleset:
    """Flat arrays for one ruleset on one table (fields described in the module doc)."""

    nodes: np.ndarray
    roots: np.ndarray  # int32 [R]: root node of each compiled rule
    rule_ids: np.ndarray  # int32 [R]: Rule.id of each compiled rule
    rule_names: list[str]
    idx_offsets: np.ndarray  # int64 [heap_len + 1]: CSR over evt.type string ids
    idx_rules: np.ndarray  # int32: compiled rule positions, bucket by bucket, rule order
    columns: list[str]  # column keys, by column index
    num_pool: np.ndarray
    id_pool: np.ndarray
    byte_pool: np.ndarray
    truth_pool: np.ndarray
    row_pool: np.ndarray
    heap_len: int
    n_events: int
    stats: dict[str, int] = field(default_factory=dict)
    # Optional parts a strategy swaps in (ruleopt.engine.strategies): a flat program run
    # instead of the recursive evaluator (ruleopt.engine.program.Program), and a decision
    # tree from evt.type to bucket (ruleopt.engine.finer.DecisionTree; idx_offsets then
    # index bucket ids, not evt.type ids, and ``bucket`` no longer applies).
    program: Program | None = None
    dtree: DecisionTree | None = None

    @property
    def n_rules(self) -> int:
        return len(self.roots)

    def bucket(self, evt_type_id: int) -> np.ndarray:
        """Compiled rule positions indexed under one evt.type string id."""
        if not 0 <= evt_type_id < len(self.idx_offsets) - 1:
            return np.zeros(0, dtype=np.int32)
        lo, hi = self.idx_offsets[evt_type_id], self.idx_offsets[evt_type_id + 1]
        return self.idx_rules[lo:hi]


class _Builder:
    def __init__(self, table: EventTable) -> None:
        self.table = table
        self.heap_len = len(table.strings)
        self.rows: list[list[int]] = []
        self.columns: list[str] = []
        self.col_index: dict[str, int] = {}
        self.num_pool: list[int] = []
        self.id_pool: list[int] = []
        self.byte_pool = bytearray()
        self.truth_chunks: list[np.ndarray] = []
        self.truth_len = 0
        self.row_chunks: list[np.ndarray] = []
        self.row_len = 0
        # Identical comparisons (a macro inlined into many rules) share their constants.
        self.cache: dict[Any, tuple[int, int, int, int]] = {}
        self.distinct: dict[str, np.ndarray] = {}
        self.stats = {"native": 0, "truth": 0, "row_truth": 0, "absent_column": 0}

    # ------------------------------------------------------------ pools

    def col(self, key: str) -> int:
        if key not in self.col_index:
            self.col_index[key] = len(self.columns)
            self.columns.append(key)
        return self.col_index[key]

    def add_nums(self, nums: Iterable[int]) -> tuple[int, int]:
        items = sorted(set(nums))
        off = len(self.num_pool)
        self.num_pool.extend(items)
        return off, len(items)

    def add_ids(self, ids: Iterable[int]) -> tuple[int, int]:
        items = sorted(set(ids))
        off = len(self.id_pool)
        self.id_pool.extend(items)
        return off, len(items)

    def add_bytes(self, data: bytes) -> tuple[int, int]:
        off = len(self.byte_pool)
        self.byte_pool += data
        return off, len(data)

    def distinct_values(self, key: str) -> np.ndarray:
        """Every value the column holds (ids for strings), so truth tables cover them."""
        if key not in self.distinct:
            col = self.table.column(key)
            vals = col.values if col.offsets is not None else col.values[col.present]
            self.distinct[key] = np.unique(vals)
        return self.distinct[key]

    # ------------------------------------------------------------ comparisons

    def truth_for_strings(self, key: str, test) -> tuple[int, int, int]:
        """(op, a, b) of a per-string-id answer ``test(str) -> bool`` over the column."""
        heap = self.table.strings
        true_ids = [sid for sid in self.distinct_values(key).tolist() if test(heap.get(sid))]
        self.stats["truth"] += 1
        if self.heap_len > MAX_TRUTH_TABLE:
            return (OP_STR_IN, *self.add_ids(true_ids))
        tt = np.zeros(self.heap_len, dtype=np.uint8)
        tt[np.asarray(true_ids, dtype=np.int64)] = 1
        off = self.truth_len
        self.truth_chunks.append(tt)
        self.truth_len += self.heap_len
        return OP_STR_TRUTH, off, 0

    def truth_for_numbers(self, key: str, info: FieldInfo, test) -> tuple[int, int, int]:
        col = self.table.column(key)
        true_vals = [
            v for v in self.distinct_values(key).tolist() if test(python_number(col.type, v))
        ]
        self.stats["truth"] += 1
        return (OP_NUM_IN, *self.add_nums(true_vals))

    def row_truth(self, cmp: ast.Compare) -> tuple[int, int, int]:
        """Decide the comparison per row with the reference evaluator."""
        n = self.table.n
        tt = np.fromiter(
            (reference.evaluate(cmp, self.table.event(i)) for i in range(n)),
            dtype=np.uint8,
            count=n,
        )
        off = self.row_len
        self.row_chunks.append(tt)
        self.row_len += n
        self.stats["row_truth"] += 1
        return OP_ROW_TRUTH, off, 0

    def compare(self, cmp: ast.Compare) -> list[int]:
        """The node row of one comparison."""
        key = (cmp.lhs, cmp.op, cmp.rhs)
        if key not in self.cache:
            self.cache[key] = self._compare(cmp)
        kind, op, col, all_flag, a, b = self.cache[key]
        return node_row(kind, op, col, all_flag, a, b)

    def _compare(self, cmp: ast.Compare) -> tuple[int, int, int, int, int, int]:
        op = "=" if cmp.op == "==" else cmp.op
        key, info, funcs = reference.operand_info(cmp.lhs)
        rhs = cmp.rhs
        # Parse now, whatever the events: a bad constant fails at compile time, as in
        # libsinsp and the reference evaluator.
        if isinstance(rhs, ast.FieldValue):
            reference.check_field_pair(op, info, reference.operand_info(rhs.operand)[1])
            const = None
        elif rhs is None:
            if op != "exists":
                raise RuleoptError(f"operator '{op}' needs a value")
            const = values.prepare_rhs(info, op, None)
        elif isinstance(rhs, ast.Value):
            const = values.prepare_rhs(info, op, rhs.text)
        else:
            const = values.prepare_rhs(info, op, reference._value_texts(rhs))

        if isinstance(rhs, ast.FieldValue):
            op_code, a, b = self.row_truth(cmp)
            return K_CMP, op_code, self.col("evt.type"), 0, a, b
        if key not in self.table.columns:
            # The table never has this field: absent everywhere, so every operator
            # (exists included) is false.
            self.stats["absent_column"] += 1
            return K_FALSE, 0, 0, 0, 0, 0
        column = self.table.column(key)
        c = self.col(key)
        multi = column.offsets is not None
        if funcs:
            if multi or column.kind != "str":
                op_code, a, b = self.row_truth(cmp)
                return K_CMP, op_code, c, 0, a, b

            def transformed(s: str) -> bool:
                v = s
                for func in funcs:
                    v = values.apply_transformer(func, v)
                return v is not None and values.compare(op, info, v, const)

            op_code, a, b = self.truth_for_strings(key, transformed)
            return K_CMP, op_code, c, 0, a, b

        # How a multi-valued field combines its values (values.compare on a list).
        all_flag = int(
            multi
            and (
                (info.multi_kind == "endpoints" and op == "!=")
                or (info.multi_kind == "list" and op == "in")
            )
        )
        if op == "exists":
            self.stats["native"] += 1
            return K_CMP, OP_EXISTS, c, 0, 0, 0

        def scalar(v: Any) -> bool:
            # compare() on one value uses the type only, never the multi kind.
            return values.compare(op, info, v, const)

        if column.kind == "str":
            if info.type == "str":
                heap = self.table.strings
                if op in ("=", "!="):
                    self.stats["native"] += 1
                    code = OP_STR_EQ if op == "=" else OP_STR_NE
                    return K_CMP, code, c, all_flag, heap.lookup(const), 0
                if op in ("in", "intersects"):
                    ids = [heap.lookup(s) for s in const]
                    self.stats["native"] += 1
                    return K_CMP, OP_STR_IN, c, all_flag, *self.add_ids(i for i in ids if i >= 0)
                if op in _STR_BYTES:
                    self.stats["native"] += 1
                    data = to_bytes(const)
                    return K_CMP, _STR_BYTES[op], c, all_flag, *self.add_bytes(data)
            op_code, a, b = self.truth_for_strings(key, scalar)
            return K_CMP, op_code, c, all_flag, a, b

        # Numeric column.
        if info.type in ("int", "uint", "port", "reltime", "abstime", "bool"):
            # Native compares are signed int64: an unsigned column holding values >= 2**63
            # (stored by bit pattern) must be ordered through the truth path instead.
            ordered_ok = op in ("=", "!=") or not has_wrapped_unsigned(column)
            if op in _NUM_NATIVE and _fits(const) and ordered_ok:
                self.stats["native"] += 1
                return K_CMP, _NUM_NATIVE[op], c, all_flag, int(const), 0
            if op in ("in", "intersects") and all(_fits(x) for x in const):
                self.stats["native"] += 1
                return K_CMP, OP_NUM_IN, c, all_flag, *self.add_nums(int(x) for x in const)
        op_code, a, b = self.truth_for_numbers(key, info, scalar)
        return K_CMP, op_code, c, all_flag, a, b

    # ------------------------------------------------------------ tree

    def place(self, expr: ast.Expr, slot: int) -> None:
        if isinstance(expr, ast.Compare):
            self.rows[slot] = self.compare(expr)
            return
        if isinstance(expr, ast.BoolConst):
            self.rows[slot] = node_row(K_TRUE if expr.value else K_FALSE)
            return
        if isinstance(expr, ast.Not):
            items: Sequence[ast.Expr] = (expr.operand,)
            kind = K_NOT
        elif isinstance(expr, (ast.And, ast.Or)):
            items = expr.items
            kind = K_AND if isinstance(expr, ast.And) else K_OR
        elif isinstance(expr, ast.MacroRef):
            raise RuleoptError(
                f"unresolved macro '{expr.name}' in a condition",
                hint="compile expanded conditions only (lists and macros inlined)",
            )
        else:
            raise TypeError(f"not an expression node: {expr!r}")
        first = len(self.rows)
        # Children take contiguous slots after the parent, filled in source order.
        self.rows.extend([[0] * NF for _ in items])
        self.rows[slot] = node_row(kind, child=first, nchild=len(items))
        for j, item in enumerate(items):
            self.place(item, first + j)

    def add_rule(self, expr: ast.Expr) -> int:
        root = len(self.rows)
        self.rows.append([0] * NF)
        self.place(expr, root)
        return root


def _fits(x: Any) -> bool:
    return isinstance(x, (int, bool)) and _I64[0] <= int(x) <= _I64[1]


def compile_rules(
    rules: Iterable[Rule],
    table: EventTable,
    *,
    sources: Sequence[str] | None = ("syscall",),
) -> CompiledRuleset:
    """Compile the enabled rules (of ``sources``; None: any source) for ``table``.

    Disabled rules are not compiled, as Falco does not load them into its index. Raises
    RuleoptError for a condition libsinsp would refuse (bad constant or operator).
    """
    b = _Builder(table)
    b.col("evt.type")
    kept: list[Rule] = []
    roots: list[int] = []
    for rule in rules:
        if not rule.enabled or (sources is not None and rule.source not in sources):
            continue
        try:
            roots.append(b.add_rule(rule.condition))
        except RuleoptError as err:
            if err.file is None:
                err.file, err.line = rule.file, rule.line
            err.message = f"rule '{rule.name}': {err.message}"
            raise
        kept.append(rule)

    # The evttype index, as Falco builds it (ruleopt.engine.index, the one place for it):
    # for each event type, the rules filed under it, in rule (load) order.
    heap = table.strings
    buckets = evttype_buckets(kept, table)
    lengths = np.zeros(len(heap), dtype=np.int64)
    for tid, positions in buckets.items():
        lengths[tid] = len(positions)
    idx_offsets = np.zeros(len(heap) + 1, dtype=np.int64)
    np.cumsum(lengths, out=idx_offsets[1:])
    idx_rules = np.zeros(int(idx_offsets[-1]), dtype=np.int32)
    for tid, positions in buckets.items():
        idx_rules[idx_offsets[tid] : idx_offsets[tid + 1]] = positions

    def cat(chunks: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)

    b.stats["nodes"] = len(b.rows)
    return CompiledRuleset(
        nodes=np.asarray(b.rows, dtype=np.int64).reshape(-1, NF),
        roots=np.asarray(roots, dtype=np.int32),
        rule_ids=np.asarray([r.id for r in kept], dtype=np.int32),
        rule_names=[r.name for r in kept],
        idx_offsets=idx_offsets,
        idx_rules=idx_rules,
        columns=b.columns,
        num_pool=np.asarray(b.num_pool, dtype=np.int64),
        id_pool=np.asarray(b.id_pool, dtype=np.int32),
        byte_pool=np.frombuffer(bytes(b.byte_pool), dtype=np.uint8).copy(),
        truth_pool=cat(b.truth_chunks),
        row_pool=cat(b.row_chunks),
        heap_len=len(heap),
        n_events=table.n,
        stats=b.stats,
    )
