"""Flat matchers: each rule's compiled tree as straight-line code for the core's loop.

Proposal 1 of the study: the recursive ``filter::run -> check`` walk is replaced by a
program over one accumulator, evaluated by a loop in ``cython_core/core_impl.pxi``
(``_run_prog``). The comparison itself stays the one implementation (``_eval_cmp`` on the
compiled node), so a program differs from the recursive evaluator only in control flow:

- ``flat``: ``and``/``or`` become forward jumps (``JF``/``JT``) to the end of the node;
  jump threading then sends a jump that lands on another jump it would take straight to
  its final target (a false ``and`` inside an ``and`` leaves both at once).
- ``shared``: sub-expressions that several rules contain (macros inline to identical
  subtrees) are hash-consed: each distinct subtree gets a memo slot, its code is wrapped
  in ``LOAD``/``STORE`` and runs at most once per event; the slot's generation stamp
  says whether the stored value belongs to this event, so nothing is cleared per event.
- ``reorder``: the children of each ``and``/``or`` are emitted cheapest-decisive first,
  from each child's measured cycles and its measured truth on a sample of the workload
  (the rows that reach the rule). Falco conditions have no side effects and every
  comparison is total (absent fields compare false), so any order gives the same value.

Opcodes are ``plugin/ruleopt_abi.h``'s ``enum ruleopt_instr``, read through
``ruleopt._ext.abi`` (``Instr``): the interpreter is compiled from the same definition.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt._ext.abi import Instr
from ruleopt.errors import RuleoptError

from .compile import (
    F_A,
    F_ALL,
    F_B,
    F_CHILD,
    F_COL,
    F_KIND,
    F_NCHILD,
    F_OP,
    K_AND,
    K_CMP,
    K_NOT,
    K_OR,
    K_TRUE,
    OP_NUM_IN,
    OP_ROW_TRUTH,
    OP_STR_CONTAINS,
    OP_STR_ENDSWITH,
    OP_STR_IN,
    OP_STR_STARTSWITH,
    OP_STR_TRUTH,
    CompiledRuleset,
)

I_CMP, I_JF, I_JT, I_NOT = int(Instr.I_CMP), int(Instr.I_JF), int(Instr.I_JT), int(Instr.I_NOT)
I_CONST, I_RET = int(Instr.I_CONST), int(Instr.I_RET)
I_LOAD, I_STORE = int(Instr.I_LOAD), int(Instr.I_STORE)

# Leaves worth a memo slot: a LOAD/STORE pair costs about one string-id compare, so only
# comparisons that cost more (scans, set lookups, tables) are shared on their own.
_COSTLY_OPS = frozenset(
    {
        OP_STR_IN,
        OP_STR_TRUTH,
        OP_STR_CONTAINS,
        OP_STR_STARTSWITH,
        OP_STR_ENDSWITH,
        OP_NUM_IN,
        OP_ROW_TRUTH,
    }
)


@dataclass
class Program:
    """Code for every compiled rule: ``code`` int32 [n, 2] (opcode, argument), ``starts``
    the first instruction of each rule, ``n_slots`` memo slots used by LOAD/STORE."""

    code: np.ndarray
    starts: np.ndarray
    n_slots: int
    stats: dict[str, int] = field(default_factory=dict)
    # The child order it was emitted with (node -> children), when one was given.
    order: dict[int, list[int]] = field(default_factory=dict)


def _children(nodes: np.ndarray, i: int) -> range:
    c0 = int(nodes[i, F_CHILD])
    return range(c0, c0 + int(nodes[i, F_NCHILD]))


def subtree_keys(nodes: np.ndarray) -> np.ndarray:
    """Hash-consing: one id per distinct subtree (equal ids: equal node rows all the way
    down, so equal values on every event). Children follow their parent, so a reverse
    pass sees children first."""
    ids = np.zeros(len(nodes), dtype=np.int64)
    table: dict[tuple, int] = {}
    for i in range(len(nodes) - 1, -1, -1):
        row = nodes[i]
        kind = int(row[F_KIND])
        if kind == K_CMP:
            key: tuple = (
                kind,
                int(row[F_OP]),
                int(row[F_COL]),
                int(row[F_ALL]),
                int(row[F_A]),
                int(row[F_B]),
            )
        elif kind in (K_AND, K_OR, K_NOT):
            key = (kind, *(int(ids[j]) for j in _children(nodes, i)))
        else:
            key = (kind,)
        ids[i] = table.setdefault(key, len(table))
    return ids


def _shared_nodes(nodes: np.ndarray, roots: Sequence[int]) -> dict[int, int]:
    """node -> memo slot, for subtrees that occur more than once and are worth a slot.

    A subtree that occurs only inside one shared parent (as often as the parent) gains
    nothing from its own slot: the parent's memo already skips it."""
    keys = subtree_keys(nodes)
    count = np.bincount(keys, minlength=int(keys.max()) + 1 if len(keys) else 0)
    parent = np.full(len(nodes), -1, dtype=np.int64)
    for i in range(len(nodes)):
        if int(nodes[i, F_KIND]) in (K_AND, K_OR, K_NOT):
            parent[list(_children(nodes, i))] = i
    reachable = np.zeros(len(nodes), dtype=bool)
    stack = list(roots)
    while stack:
        i = stack.pop()
        if not reachable[i]:
            reachable[i] = True
            if int(nodes[i, F_KIND]) in (K_AND, K_OR, K_NOT):
                stack.extend(_children(nodes, i))

    def worth(i: int) -> bool:
        kind = int(nodes[i, F_KIND])
        if kind in (K_AND, K_OR, K_NOT):
            return True
        return kind == K_CMP and int(nodes[i, F_OP]) in _COSTLY_OPS

    slots: dict[int, int] = {}
    slot_of_key: dict[int, int] = {}
    for i in range(len(nodes)):
        k = int(keys[i])
        if not reachable[i] or count[k] < 2 or not worth(i):
            continue
        p = int(parent[i])
        if p >= 0 and count[int(keys[p])] == count[k] and worth(p):
            continue
        slots[i] = slot_of_key.setdefault(k, len(slot_of_key))
    return slots


class _Emitter:
    def __init__(
        self, nodes: np.ndarray, slots: Mapping[int, int], order: Mapping[int, Sequence[int]]
    ) -> None:
        self.nodes = nodes
        self.slots = slots
        self.order = order
        self.code: list[list[int]] = []

    def emit(self, i: int) -> None:
        slot = self.slots.get(i)
        if slot is None:
            self._body(i)
            return
        load = len(self.code)
        self.code.append([I_LOAD, -1])
        self._body(i)
        self.code.append([I_STORE, slot])
        self.code[load][1] = len(self.code)  # skip past the STORE with the memo's value

    def _body(self, i: int) -> None:
        nodes, code = self.nodes, self.code
        kind = int(nodes[i, F_KIND])
        if kind == K_CMP:
            code.append([I_CMP, i])
        elif kind == K_NOT:
            self.emit(int(nodes[i, F_CHILD]))
            code.append([I_NOT, 0])
        elif kind in (K_AND, K_OR):
            kids = list(self.order.get(i, _children(nodes, i)))
            if not kids:
                code.append([I_CONST, int(kind == K_AND)])
                return
            jump = I_JF if kind == K_AND else I_JT
            pending = []
            for j in kids[:-1]:
                self.emit(j)
                pending.append(len(code))
                code.append([jump, -1])
            self.emit(kids[-1])
            for at in pending:
                code[at][1] = len(code)
        else:
            code.append([I_CONST, int(kind == K_TRUE)])


def _thread_jumps(code: list[list[int]]) -> int:
    """Retarget each JF/JT past jumps its accumulator value decides (a JF lands on a
    JF: taken again; on a JT: falls through). Targets only move forward; a STORE is
    never skipped, so memo slots stay filled. Returns the number of retargeted jumps.

    Jumps are threaded last to first: a jump landing on a jump of its own kind takes
    that one's final target, already threaded, so each jump is resolved in a few steps
    and the pass is linear (following each chain afresh is quadratic on deep nesting)."""
    moved = 0
    for pc in range(len(code) - 1, -1, -1):
        ins = code[pc]
        if ins[0] not in (I_JF, I_JT):
            continue
        t = ins[1]
        while True:
            op = code[t][0]
            if op == ins[0]:
                t = code[t][1]  # same test, same accumulator: taken again (already final)
                break
            if op in (I_JF, I_JT):
                t += 1  # the opposite test on the same accumulator: falls through
            else:
                break
        if t != ins[1]:
            ins[1] = t
            moved += 1
    return moved


def compile_program(
    compiled: CompiledRuleset,
    *,
    share: bool = False,
    order: Mapping[int, Sequence[int]] | None = None,
    thread: bool = True,
) -> Program:
    """Code for every rule of ``compiled``; ``share`` adds memo slots for subtrees that
    several rules contain; ``order`` gives, per and/or node, the order to test its
    children in (a permutation of them; see ``measured_order``)."""
    nodes = np.asarray(compiled.nodes)
    roots = [int(r) for r in compiled.roots]
    order = dict(order or {})
    for i, kids in order.items():
        if sorted(kids) != list(_children(nodes, i)):
            raise RuleoptError(f"order for node {i} is not a permutation of its children")
    slots = _shared_nodes(nodes, roots) if share else {}
    em = _Emitter(nodes, slots, order)
    starts = []
    for r in roots:
        starts.append(len(em.code))
        em.emit(r)
        em.code.append([I_RET, 0])
    threaded = _thread_jumps(em.code) if thread else 0
    n_slots = max(slots.values(), default=-1) + 1
    code = np.asarray(em.code, dtype=np.int32).reshape(-1, 2)
    return Program(
        code=code,
        starts=np.asarray(starts, dtype=np.int32),
        n_slots=n_slots,
        stats={
            "instructions": len(code),
            "memo_slots": n_slots,
            "shared_subtrees": len(slots),
            "threaded_jumps": threaded,
        },
        order={i: list(kids) for i, kids in order.items()},
    )


def measured_order(
    compiled: CompiledRuleset,
    truth: np.ndarray,
    cycles: np.ndarray,
    rule_rows: Sequence[np.ndarray],
) -> dict[int, list[int]]:
    """Child order per and/or node from measurements on a sample.

    ``truth`` [node, sample row] and ``cycles`` [node] come from the core's probe;
    ``rule_rows[r]`` are the sample rows (indices into ``truth``'s columns) the index
    gives rule ``r``. Greedy, per node: among the children not placed yet, take the one
    with the least cycles per decided row (for ``and`` a false child decides, for ``or``
    a true one) over the rows still undecided, then keep only the rows it leaves
    undecided. Rows a node never sees keep the source order (ties break by position)."""
    nodes = np.asarray(compiled.nodes)
    truth = np.asarray(truth, dtype=bool)
    out: dict[int, list[int]] = {}
    for r, root in enumerate(compiled.roots.tolist()):
        rows = np.asarray(rule_rows[r], dtype=np.int64)
        stack = [(int(root), rows)]
        while stack:
            i, live = stack.pop()
            kind = int(nodes[i, F_KIND])
            if kind == K_NOT:
                stack.append((int(nodes[i, F_CHILD]), live))
            if kind not in (K_AND, K_OR):
                continue
            placed, lives = _greedy_order(
                list(_children(nodes, i)), kind == K_OR, truth, cycles, live
            )
            out[i] = placed
            stack.extend(zip(placed, lives, strict=True))
    return out


_CHUNK = 1 << 22  # truth cells counted per numpy call when scoring children at first


def _decided(truth: np.ndarray, kids: Sequence[int], want: bool, live: np.ndarray) -> np.ndarray:
    """Per child, how many of the ``live`` rows it decides (its value is ``want``)."""
    out = np.zeros(len(kids), dtype=np.int64)
    if not live.size or not kids:
        return out
    step = max(1, _CHUNK // live.size)
    ix = np.asarray(kids, dtype=np.int64)
    for a in range(0, len(ix), step):
        block = truth[ix[a : a + step]][:, live]
        out[a : a + step] = np.count_nonzero(block == want, axis=1)
    return out


def _greedy_order(
    kids: list[int], want: bool, truth: np.ndarray, cycles: np.ndarray, live: np.ndarray
) -> tuple[list[int], list[np.ndarray]]:
    """The greedy order of one node's children and the rows live before each.

    Greedy: repeatedly the child of least cycles per decided row over the rows still
    undecided (ties: source position). Rows only ever leave the live set, so a child's
    score can only grow: a heap of scores computed on older live sets holds lower bounds
    (lazy greedy), and a popped child whose fresh score still beats the heap's top is the
    exact greedy choice. A child deciding no live row stays at infinity for good: those
    keep source order once every finite one is placed. Linear in children when scores
    settle, instead of rescoring every child on every step (quadratic)."""
    scores = _decided(truth, kids, want, live)
    heap: list[tuple[float, int]] = []
    never: list[int] = []  # positions of children that decide no live row, in order
    for pos, d in enumerate(scores.tolist()):
        if d:
            heap.append((float(cycles[kids[pos]]) / d, pos))
        else:
            never.append(pos)
    heapq.heapify(heap)
    placed: list[int] = []
    lives: list[np.ndarray] = []
    # Children scored on the current live set (by position); cleared when it shrinks.
    fresh = {pos for _, pos in heap}
    while heap:
        score, pos = heapq.heappop(heap)
        if pos not in fresh:
            j = kids[pos]
            d = int(np.count_nonzero(truth[j, live] == want)) if live.size else 0
            if not d:
                bisect.insort(never, pos)
                continue
            score = float(cycles[j]) / d
            if heap and (score, pos) > heap[0]:
                fresh.add(pos)
                heapq.heappush(heap, (score, pos))
                continue
        j = kids[pos]
        placed.append(j)
        lives.append(live)
        rest = live[truth[j, live] != want] if live.size else live
        if rest.size != live.size:
            fresh.clear()
        live = rest
    for pos in never:
        placed.append(kids[pos])
        lives.append(live)
    return placed, lives
