"""Index ``finer`` on the real engine: the replica's decision tree, handed to libsinsp.

The tree is ``ruleopt.engine.finer``'s, built on a *training* table (another seed or
capture than the one measured): per evt.type bucket, the field to branch on and, for each
rule that field constrains, its constraining top-level conjuncts. The tool
(``plugin/sinsp_finer.cpp``) gets, per node, the field name and each constrained rule's
conjunct as Falco condition text (``print_expr`` of the AST conjuncts the replica read the
constraint from), and the trained children keyed by the sorted ids of the constrained
rules that survive. It learns values as it meets them: a value is extracted with a
libsinsp filtercheck, looked up in the node's cache, and on first sight the conjuncts run
on that event to decide which rules stay (so a value training never saw is routed by
libsinsp's own answer, not by the tree's guess). Only a rule whose conjunct is false
leaves, so the rules checked are the evttype bucket's minus rules libsinsp itself says
cannot match: first match and all-matches results are unchanged by construction.

A conjunct qualifies exactly when the replica's ``finer.rule_constraints`` counts it: one
comparison on one single-valued field, no field on its right-hand side, of an operator in
``finer.CONSTRAINING_OPS``. It then reads that field alone, so its answer is a function of
the field's value (per libsinsp event type, which is how the tool instantiates the tree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ruleopt._ext import abi
from ruleopt.errors import RuleoptError
from ruleopt.events import sinsp
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.model import Rule

from .compile import F_CHILD, F_COL, F_KIND, F_NCHILD, F_OP, K_AND, K_CMP, compile_rules
from .finer import CONSTRAINING_OPS, LEVELS, StreamCost, finer_index, rule_constraints

# Fields no value cache may be keyed by, and the tree file's first record: defined once in
# plugin/ruleopt_abi.h (RULEOPT_FINER_*), which says why.
UNCACHEABLE_FIELDS = abi.FINER_UNCACHEABLE
FINER_FORMAT = abi.FINER_FORMAT
# The libsinsp side's costs in rule checks, for the tree's choice of splits: one field
# extracted by a filtercheck and looked up in a node's cache, and one conjunct evaluated on
# a value's first sight, each cost about one rule check on libsinsp 2022 (measured on the
# 0.26.2 rules, README "On the real engine": most rule checks a bucket makes reject at
# their first comparison, which is one extraction too). Priced lower, the tree grows deep
# chains of levels that each remove about one cheap check, and the run gets slower.
STREAM_COST = StreamCost(extract=1.0, miss=1.0)


@dataclass(frozen=True)
class FinerNode:
    """One inner node: the field, (rule id, conjunct text) per constrained rule, and the
    trained children as (sorted surviving constrained rule ids, node index)."""

    field: str
    conjuncts: tuple[tuple[int, str], ...]
    children: tuple[tuple[tuple[int, ...], int], ...]


@dataclass
class FinerTree:
    nodes: list[FinerNode]
    roots: dict[str, int]  # evt.type name -> node index
    trained_on: str  # what the tree was built from, as the report says it
    stats: dict = field(default_factory=dict)

    def records(self) -> list[bytes]:
        """The netstring records of the tree file (format in plugin/sinsp_finer.h)."""
        out = [FINER_FORMAT.encode(), str(len(self.nodes)).encode()]
        for n in self.nodes:
            out += [
                sinsp._to_bytes(n.field, "a discriminator field"),
                str(len(n.conjuncts)).encode(),
            ]
            for rid, text in n.conjuncts:
                out += [str(rid).encode(), sinsp._to_bytes(text, f"a conjunct of rule {rid}")]
            out.append(str(len(n.children)).encode())
            for key, child in n.children:
                out += [" ".join(map(str, key)).encode(), str(child).encode()]
        out.append(str(len(self.roots)).encode())
        for name, node in self.roots.items():
            out += [sinsp._to_bytes(name, "an event type"), str(node).encode()]
        return out


def _top_conjuncts(expr: ast.Expr, nodes, root: int) -> list[tuple[ast.Expr, int]]:
    """The top-level conjuncts of a condition with their compiled node (the compiler
    places an expression's items in source order, one node each: compile._Builder.place)."""
    out, stack = [], [(expr, root)]
    while stack:
        e, i = stack.pop()
        if int(nodes[i, F_KIND]) == K_AND:
            c0 = int(nodes[i, F_CHILD])
            if not isinstance(e, ast.And) or len(e.items) != int(nodes[i, F_NCHILD]):
                raise RuleoptError("internal: a compiled condition does not follow its AST")
            stack.extend((item, c0 + j) for j, item in enumerate(e.items))
        else:
            out.append((e, i))
    return out


def build_tree(
    rules: Sequence[Rule],
    train: EventTable,
    *,
    trained_on: str,
    levels: int = LEVELS,
    stream: StreamCost | None = STREAM_COST,
) -> FinerTree:
    """The finer tree of ``rules`` (load order) trained on ``train``; ``stream`` None
    prices splits as the replica does (rules checked alone)."""
    compiled = compile_rules(rules, train)
    _, _, dtree = finer_index(
        compiled, train, levels=levels, stream=stream, exclude=UNCACHEABLE_FIELDS
    )
    cons = rule_constraints(compiled, train, UNCACHEABLE_FIELDS)
    by_id = {r.id: r for r in rules}
    nodes_arr = compiled.nodes
    # Per compiled rule: column -> the AST conjuncts rule_constraints read it from.
    texts: list[dict[int, list[ast.Compare]]] = []
    for pos, root in enumerate(compiled.roots.tolist()):
        rule = by_id[int(compiled.rule_ids[pos])]
        per: dict[int, list[ast.Compare]] = {}
        for e, i in _top_conjuncts(rule.condition, nodes_arr, int(root)):
            if (
                int(nodes_arr[i, F_KIND]) != K_CMP
                or int(nodes_arr[i, F_OP]) not in CONSTRAINING_OPS
            ):
                continue
            col = int(nodes_arr[i, F_COL])
            if col in cons[pos] and isinstance(e, ast.Compare) and isinstance(e.lhs, ast.Field):
                per.setdefault(col, []).append(e)
        texts.append(per)

    nodes: list[FinerNode | None] = []
    n_conj = 0
    fields: set[str] = set()

    def emit(i: int, rules_here: list[int]) -> int | None:
        """Node index of dtree node i (rules_here: compiled positions), None for a leaf."""
        nonlocal n_conj
        col = int(dtree.col[i])
        if col < 0:
            return None
        fname = ast.print_operand(texts_field(rules_here, col))
        con = [r for r in rules_here if col in cons[r]]
        conj = []
        for r in con:
            mine = [e for e in texts[r].get(col, ()) if ast.print_operand(e.lhs) == fname]
            if mine:
                expr = mine[0] if len(mine) == 1 else ast.And(tuple(mine))
                conj.append((int(compiled.rule_ids[r]), ast.print_expr(expr)))
        me = len(nodes)
        nodes.append(None)
        n_conj += len(conj)
        fields.add(fname)
        lo, hi = int(dtree.koff[i]), int(dtree.koff[i + 1])
        keys = dtree.keys[lo:hi].tolist()
        kids = dtree.child[lo:hi].tolist()
        seen: dict[int, int] = {}
        for k, c in zip(keys, kids, strict=True):
            seen.setdefault(c, k)  # one representative value per child
        children = []
        groups = [(int(dtree.arg[i]), None)] + [(c, k) for c, k in seen.items()]
        for c, k in groups:
            members = [] if k is None else [r for r in con if k in cons[r][col]]
            kept = set(members)
            sub = emit(c, [r for r in rules_here if col not in cons[r] or r in kept])
            if sub is not None:
                children.append((tuple(sorted(int(compiled.rule_ids[r]) for r in members)), sub))
        nodes[me] = FinerNode(fname, tuple(conj), tuple(children))
        return me

    def texts_field(rules_here: list[int], col: int) -> ast.Field:
        for r in rules_here:
            if texts[r].get(col):
                return texts[r][col][0].lhs
        raise RuleoptError("internal: a finer split on a field no conjunct reads")

    roots: dict[str, int] = {}
    heap = train.strings
    for t in range(len(compiled.idx_offsets) - 1):
        rules_t = compiled.bucket(t).tolist()
        if rules_t and int(dtree.col[t]) >= 0:
            node = emit(t, rules_t)
            if node is not None:
                roots[heap.get(t)] = node
    final = [n for n in nodes if n is not None]
    if len(final) != len(nodes):
        raise RuleoptError("internal: an unfinished finer node")
    return FinerTree(
        final,
        roots,
        trained_on,
        {
            "tree_nodes": len(final),
            "roots": len(roots),
            "conjuncts": n_conj,
            "discriminators": sorted(fields),
            "training_events": train.n,
        },
    )
