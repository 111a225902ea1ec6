"""Build events that satisfy a rule condition ("templates"), for the synthetic workload.

A template is a ``{canonical key: value}`` mapping (``None`` = the field is absent, a list
for a multi-valued key) such that the rule's condition is true on *any* event that carries
those values, whatever its other fields hold. That property is what lets the generator
stamp a template over a random background event and still know the event breaks the rule.

How: the expanded condition is put in negation normal form (``not`` pushed down to the
comparisons with De Morgan), so it is monotone in its literals. A depth-first search picks
one child of every ``or`` and all children of every ``and``; the literals it collects are
grouped by field and each field gets one value satisfying all of its literals (or is left
absent when only negative literals constrain it and no value does). Because the formula
is monotone and every literal on the chosen path reads only fields the template fixes,
literals off the path can be anything.

The solver has no semantics of its own: it only *proposes* values (an instance of a glob,
a number past a bound, a sample from the background) and asks the reference evaluator
(``ruleopt.engine.values``' operators) whether a value satisfies a literal (``holds``).
Each template is finally checked with the reference evaluator on the whole condition and
dropped if it does not match.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ruleopt.engine.reference import Prepared, prepare
from ruleopt.engine.values import parse_constant
from ruleopt.errors import RuleoptError
from ruleopt.fields import resolve
from ruleopt.rules.ast import (
    And,
    BoolConst,
    Compare,
    Expr,
    Field,
    FieldValue,
    ListRef,
    Not,
    Or,
    Transform,
    Value,
    ValueList,
)

# Steps (literals and nodes visited) one search may take before it gives up; rules of the
# upstream files need a few thousand, and a pathological condition must not hang generation.
SEARCH_BUDGET = 200_000

# Marker text used when a value has to be invented; recognisable in generated data.
SYNTH = "ruleopt"


@dataclass(frozen=True)
class FieldSpec:
    """What the solver needs to know about one field key."""

    key: str
    type: str
    kind: str  # "str" or "num", as the EventTable stores it
    multi: bool = False  # read without index, the value is a list
    settable: bool = True  # False for keys the generator owns (evt.num)

    @property
    def is_bool(self) -> bool:
        return self.type.lower().removeprefix("pt_") == "bool"


@dataclass(frozen=True)
class Lit:
    """One comparison of the NNF, with its polarity."""

    spec: FieldSpec
    op: str
    values: tuple[str, ...]  # rhs texts (empty for exists / field rhs)
    positive: bool
    transform: tuple[str, ...] = ()  # transformer names, innermost first
    other: FieldSpec | None = None  # rhs ``val(field)``
    # The comparison itself: whether a value satisfies it is the reference evaluator's
    # answer (``holds``), never a copy of an operator here.
    cmp: Compare | None = None


@dataclass(frozen=True)
class _Or:
    items: tuple
    uid: int


@dataclass(frozen=True)
class _And:
    items: tuple


@dataclass(frozen=True)
class _Fail:
    """A literal the search cannot satisfy (unknown field, unsupported operator)."""

    why: str


@dataclass
class SolveResult:
    templates: list[dict[str, object]] = field(default_factory=list)
    reason: str | None = None  # why no template could be built


SpecOf = Callable[[Field], "FieldSpec | None"]
Evaluate = Callable[[Expr, Mapping[str, object]], bool]


# --------------------------------------------------------------------------- NNF


class _Normalizer:
    def __init__(self, spec_of: SpecOf) -> None:
        self.spec_of = spec_of
        self.uids = 0
        self.unknown: set[str] = set()

    def nnf(self, expr: Expr, neg: bool):
        if isinstance(expr, Not):
            return self.nnf(expr.operand, not neg)
        if isinstance(expr, BoolConst):
            return bool(expr.value) != neg
        if isinstance(expr, (And, Or)):
            items = tuple(self.nnf(x, neg) for x in expr.items)
            # De Morgan: a negated and is an or and vice versa.
            if isinstance(expr, And) != neg:
                return _And(items)
            self.uids += 1
            return _Or(items, self.uids)
        if isinstance(expr, Compare):
            return self.literal(expr, not neg)
        return _Fail(f"unexpanded node {type(expr).__name__}")

    def literal(self, cmp: Compare, positive: bool):
        transforms: list[str] = []
        lhs = cmp.lhs
        while isinstance(lhs, Transform):
            transforms.append(lhs.func)
            lhs = lhs.operand
        spec = self.spec_of(lhs)
        if spec is None:
            self.unknown.add(_field_text(lhs))
            # A negated comparison on a field we cannot produce holds on events without it.
            return True if not positive else _Fail(f"unknown field {_field_text(lhs)}")
        other = None
        values: tuple[str, ...] = ()
        if isinstance(cmp.rhs, FieldValue):
            op2 = cmp.rhs.operand
            if not isinstance(op2, Field) or self.spec_of(op2) is None:
                return True if not positive else _Fail("unsupported field comparison")
            other = self.spec_of(op2)
        elif isinstance(cmp.rhs, Value):
            values = (cmp.rhs.text,)
        elif isinstance(cmp.rhs, ValueList):
            if any(isinstance(i, ListRef) for i in cmp.rhs.items):
                return _Fail("unexpanded list reference")
            values = tuple(i.text for i in cmp.rhs.items)
        return Lit(spec, cmp.op, values, positive, tuple(reversed(transforms)), other, cmp)


def _field_text(f: Field) -> str:
    return f.name if f.arg is None else f"{f.name}[{f.arg}]"


# --------------------------------------------------------------------------- the oracle

# A number a literal names, read loosely: only to propose candidates (``_num_candidates``);
# whether a candidate satisfies the literal is ``holds``'s question.
_NUM_RE = re.compile(r"^[+-]?\d+$")


def _num(text: str, spec: FieldSpec) -> int | None:
    t = text.strip()
    if spec.is_bool:
        low = t.lower()
        if low in ("true", "false"):
            return int(low == "true")
    if _NUM_RE.match(t):
        return int(t)
    if t.lower().startswith("0x"):
        try:
            return int(t, 16)
        except ValueError:
            return None
    return None


@lru_cache(maxsize=65536)
def _oracle(cmp: Compare) -> tuple[Prepared, str, bool] | None:
    """The reference evaluator's closure for one comparison, the key of the field it
    reads, and whether that key holds a list (``proc.aname`` without index)."""
    base = cmp.lhs
    while isinstance(base, Transform):
        base = base.operand
    try:
        rf = resolve(base)
        return prepare(cmp), rf.key, rf.multi
    except RuleoptError:  # the loader refuses such a constant first; here: never holds
        return None


def _exists(lit: Lit) -> Compare | None:
    """``field exists`` on the field a literal reads (the multi-valued probes' base)."""
    if lit.cmp is None:
        return None
    base = lit.cmp.lhs
    while isinstance(base, Transform):
        base = base.operand
    return Compare(base, "exists", None)


def holds(lit: Lit, value: object) -> bool:
    """Whether ``value`` (None = absent, list for multi) satisfies the literal, as the
    reference evaluator (``ruleopt.engine.values``' semantics) decides it."""
    if lit.other is not None:
        return True  # cross-field literals are settled after the search, then verified
    oracle = _oracle(lit.cmp) if lit.cmp is not None else None
    if oracle is None:
        return False
    fn, key, multi = oracle
    if value is not None and multi and not isinstance(value, list):
        value = [value]  # one element of a multi-valued key, probed on its own
    ok = fn({} if value is None else {key: value})
    return ok if lit.positive else not ok


# --------------------------------------------------------------------------- values


def _glob_instance(pattern: str, star: str = SYNTH) -> str:
    """A string matching a glob: the first ``*`` becomes ``star``, the others the marker."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(star)
            star = SYNTH
        elif c == "?":
            out.append("x")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(c)
            else:
                body = pattern[i + 1 : end]
                if body.startswith(("!", "^")):
                    out.append("~" if "~" not in body else "#")
                else:
                    out.append(body[0])
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(pattern[i])
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _net_instance(text: str) -> str:
    if "/" in text:
        try:
            net = ipaddress.ip_network(text, strict=False)
            return str(net.network_address + 1) if net.num_addresses > 2 else str(net[0])
        except ValueError:
            return text
    return text


# Invented addresses come from the documentation ranges (RFC 5737): never a real peer.
_SYNTH_IPS = ("192.0.2.10", "198.51.100.20", "203.0.113.30")


def _str_candidates(
    pos: list[Lit], samples: Sequence[object], type_name: str = "str"
) -> Iterable[str]:
    eqs = [lt for lt in pos if lt.op in ("=", "==")]
    for lt in eqs:
        yield _net_instance(lt.values[0])
    for lt in pos:
        if lt.op in ("in", "intersects"):
            yield from (_net_instance(v) for v in lt.values)
        elif lt.op == "pmatch":
            for p in lt.values:
                yield p.rstrip("/") + f"/{SYNTH}"
                yield p
    prefixes = [lt.values[0] for lt in pos if lt.op == "startswith"]
    suffixes = [lt.values[0] for lt in pos if lt.op == "endswith"]
    contains = [lt.values[0] for lt in pos if lt.op == "contains"]
    contains += [lt.values[0].lower() for lt in pos if lt.op == "icontains"]
    globs = [lt.values[0] for lt in pos if lt.op in ("glob", "iglob")]
    pre = max(prefixes, key=len, default="")
    suf = max(suffixes, key=len, default="")
    mid = " ".join(contains)
    for g in globs:
        yield _glob_instance(g)
        if mid:
            # A `contains` alongside a glob goes where the glob's first `*` is.
            yield _glob_instance(g, SYNTH + mid.replace(" ", ""))
    if prefixes or suffixes or contains:
        yield pre + mid + suf
        yield pre + mid + SYNTH + suf
        yield pre + " " + mid + " " + suf
        if pre and suf:
            yield pre + suf
        if not pre and not suf and mid:
            yield f"{SYNTH} {mid}"
    # Realistic values first, then invented ones that avoid most negative constraints.
    for s in samples:
        if isinstance(s, str):
            yield s
    if type_name in ("ipaddr", "ipnet"):
        yield from _SYNTH_IPS
        return
    yield SYNTH
    yield f"{SYNTH}-{len(pos)}"
    yield "/" + SYNTH


def _num_candidates(
    pos: list[Lit], neg: list[Lit], spec: FieldSpec, samples: Sequence[object]
) -> Iterable[int]:
    lo, hi = None, None
    for lt in pos:
        nums = [n for n in (_num(v, spec) for v in lt.values) if n is not None]
        if lt.op in ("=", "==", "in", "intersects"):
            yield from nums
        elif nums and lt.op in (">", ">="):
            b = nums[0] + (1 if lt.op == ">" else 0)
            lo = b if lo is None else max(lo, b)
        elif nums and lt.op in ("<", "<="):
            b = nums[0] - (1 if lt.op == "<" else 0)
            hi = b if hi is None else min(hi, b)
    if lo is not None:
        yield lo
    if hi is not None:
        yield hi
    if lo is not None and hi is not None and lo <= hi:
        yield (lo + hi) // 2
    if spec.is_bool:
        yield from (1, 0)
        return
    for s in samples:
        if isinstance(s, (int, bool)):
            yield int(s)
    # Numbers just past every number a negative literal names dodge `not in (...)`.
    named = [n for lt in neg for n in (_num(v, spec) for v in lt.values) if n is not None]
    yield from (0, 1, 1000)
    if named:
        yield max(named) + 1
        yield min(named) - 1
    yield 123457


def _solve_scalar(lits: Sequence[Lit], samples: Sequence[object]) -> tuple[bool, object]:
    """One value (or None = absent) satisfying all literals of one key, if there is one."""
    spec = lits[0].spec
    pos = [lt for lt in lits if lt.positive and lt.op != "exists" and lt.other is None]
    neg = [lt for lt in lits if not lt.positive]
    must_exist = any(lt.positive for lt in lits)
    if spec.kind == "num":
        cands: Iterable[object] = _num_candidates(pos, neg, spec, samples)
        if spec.is_bool:
            cands = (bool(c) for c in cands)
    else:
        cands = _str_candidates(pos, samples, spec.type)
    for c in cands:
        if all(holds(lt, c) for lt in lits):
            return True, c
    if not must_exist and all(holds(lt, None) for lt in lits):
        return True, None
    return False, None


def solve_key(lits: Sequence[Lit], samples: Sequence[object] = ()) -> tuple[bool, object]:
    """Value for one key under all its literals: ``(found, value)``."""
    spec = lits[0].spec
    if not spec.multi:
        return _solve_scalar(lits, samples)
    # A multi-valued key (``proc.aname``) compares true when any element does, and a
    # negated comparison needs every element to fail it. So: one element per positive
    # literal, each chosen to also fail every negative literal.
    negs = [lt for lt in lits if not lt.positive]
    if any(lt.op == "exists" for lt in negs):
        ok = all(holds(lt, None) for lt in lits)
        return ok, None
    elems: list[object] = []
    for lt in lits:
        if lt.positive and lt.op != "exists" and lt.other is None:
            if any(holds(lt, [e]) for e in elems):
                continue
            single = FieldSpec(spec.key, spec.type, spec.kind, False, spec.settable)
            probe = [replace(lt, spec=single)]
            probe += [replace(n, spec=single) for n in negs]
            found, v = _solve_scalar(probe, samples)
            if not found or v is None:
                return False, None
            elems.append(v)
    if not elems:
        single = FieldSpec(spec.key, spec.type, spec.kind, False, spec.settable)
        probe = [Lit(single, "exists", (), True, cmp=_exists(lits[0]))]
        probe += [replace(n, spec=single) for n in negs]
        found, v = _solve_scalar(probe, samples)
        if not found:
            return False, None
        elems.append(v)
    value = list(elems)
    return all(holds(lt, value) for lt in lits), value


# --------------------------------------------------------------------------- search


class _Chain:
    """A key's literals as a persistent linked list, newest first.

    Every choice point of the search keeps its own assignment, so adding a literal must
    not copy the ones before it: a tuple grown by concatenation costs O(k) per literal,
    quadratic on a rule of 20,000 comparisons on one field."""

    __slots__ = ("lit", "prev", "length")

    def __init__(self, lit: Lit, prev: _Chain | None) -> None:
        self.lit = lit
        self.prev = prev
        self.length = 1 + (prev.length if prev is not None else 0)

    def items(self) -> tuple[Lit, ...]:
        """The literals in the order they were added."""
        out: list[Lit] = []
        node: _Chain | None = self
        while node is not None:
            out.append(node.lit)
            node = node.prev
        return tuple(reversed(out))


class _Search:
    def __init__(
        self, root, samples: Mapping[str, Sequence[object]], rng: random.Random | None, budget: int
    ) -> None:
        self.root = root
        self.samples = samples
        self.rng = rng
        self.budget = budget
        self.steps = 0
        self.failed: dict[str, int] = {}  # key -> dead ends caused, for the report
        self._orders: dict[int, tuple] = {}

    def _order(self, node: _Or) -> tuple:
        if self.rng is None:
            return node.items
        got = self._orders.get(node.uid)
        if got is None:
            items = list(node.items)
            self.rng.shuffle(items)
            got = self._orders[node.uid] = tuple(items)
        return got

    def _add(self, assign: dict, lit: Lit) -> dict | None:
        key = lit.spec.key
        if not lit.spec.settable:
            # A key the generator owns (evt.num) cannot be chosen: the literal must hold
            # for every value it may take, which the caller's samples stand for.
            if _holds_throughout(lit, self.samples.get(key, ())):
                return assign
            self.failed[key] = self.failed.get(key, 0) + 1
            return None
        chain, value = assign.get(key, (None, None))
        lits = _Chain(lit, chain)
        if lit.other is not None:
            new = dict(assign)
            new[key] = (lits, value)
            new["\0cross"] = _Chain(lit, assign.get("\0cross"))
            return new
        if not (lits.length > 1 and holds(lit, value)):
            # Only re-solve when the current value does not already satisfy the new
            # literal: a long `not (a or b or ...)` on one key stays linear.
            found, value = solve_key(lits.items(), self.samples.get(key, ()))
            if not found:
                self.failed[key] = self.failed.get(key, 0) + 1
                return None
        new = dict(assign)
        new[key] = (lits, value)
        return new

    def solutions(self):
        """Yield assignments ``{key: (lits, value)}`` in depth-first order."""
        stack: list[tuple] = [((self.root, None), {})]
        while stack:
            pending, assign = stack.pop()
            ok = True
            while pending is not None:
                self.steps += 1
                if self.steps > self.budget:
                    return
                node, pending = pending
                if node is True:
                    continue
                if node is False or isinstance(node, _Fail):
                    ok = False
                    break
                if isinstance(node, Lit):
                    nxt = self._add(assign, node)
                    if nxt is None:
                        ok = False
                        break
                    assign = nxt
                elif isinstance(node, _And):
                    for child in reversed(node.items):
                        pending = (child, pending)
                else:  # _Or: explore the first child now, keep the rest as choice points
                    items = self._order(node)
                    if not items:
                        ok = False
                        break
                    for child in reversed(items[1:]):
                        stack.append(((child, pending), assign))
                    pending = (items[0], pending)
            if ok:
                yield assign


def _finish(assign: dict, samples: Mapping[str, Sequence[object]]) -> dict[str, object] | None:
    """Turn a search assignment into a template, settling ``a = val(b)`` literals."""
    out = {k: kv[1] for k, kv in assign.items() if not k.startswith("\0")}
    cross = assign.get("\0cross")
    for lit in cross.items() if cross is not None else ():
        a, b = lit.spec.key, lit.other.key  # type: ignore[union-attr]
        if lit.positive and lit.op in ("=", "=="):
            if out.get(a) is not None:
                out[b] = out[a]
            elif out.get(b) is not None:
                out[a] = out[b]
            else:
                pool = [s for s in samples.get(a, ()) if s is not None] or [SYNTH]
                out[a] = out[b] = pool[0]
        elif not lit.positive and lit.op in ("=", "=="):
            if out.get(a) is not None and out.get(a) == out.get(b):
                return None
            if a not in out:
                out[a] = None
    return out


def _holds_throughout(lit: Lit, bounds: Sequence[object]) -> bool:
    """Whether a literal on an integer key holds for every value between the smallest and
    the largest of ``bounds`` (a key's whole range, e.g. evt.num from 1 to n)."""
    nums = [int(b) for b in bounds if isinstance(b, (int, bool))]
    if lit.transform or lit.cmp is None:
        return False  # a transformed value need not be monotone over the range
    if not nums or not all(holds(lit, v) for v in (min(nums), max(nums))):
        return False
    if lit.op in ("<", "<=", ">", ">=", "exists"):
        return True  # one-sided ranges: the end points decide
    # =, != and in name single values: they hold throughout only if none is in range,
    # each value read as libsinsp reads the constant (``values.parse_constant``).
    info = resolve(lit.cmp.lhs).info
    try:
        named = [parse_constant(info, v, lit.op) for v in lit.values]
    except RuleoptError:
        return False
    return all(isinstance(x, int) and not min(nums) <= x <= max(nums) for x in named)


def _verified(
    expr: Expr,
    tmpl: dict[str, object],
    complete: Callable[[dict[str, object]], object] | None,
    evaluate: Evaluate,
    base: Mapping[str, object],
) -> dict[str, object] | None:
    """The first completed variant the oracle accepts, else the bare template, else None."""
    variants = complete(dict(tmpl)) if complete else []
    if isinstance(variants, dict):
        variants = [variants]
    for cand in [*variants, tmpl]:
        mapping = dict(base)
        mapping.update((k, v) for k, v in cand.items() if v is not None)
        try:
            if evaluate(expr, mapping):
                return cand
        except Exception:  # noqa: BLE001 - the oracle rejecting a value is a miss, not a crash
            continue
    return None


def build_templates(
    expr: Expr,
    spec_of: SpecOf,
    evaluate: Evaluate,
    *,
    samples: Mapping[str, Sequence[object]] | None = None,
    count: int = 3,
    seed: int = 0,
    complete: Callable[[dict[str, object]], dict[str, object] | list[dict[str, object]]]
    | None = None,
    budget: int = SEARCH_BUDGET,
    base: Mapping[str, object] | None = None,
) -> SolveResult:
    """Up to ``count`` distinct templates for ``expr``, each verified with ``evaluate``.

    ``complete`` may return variants of a template with derived fields made consistent
    (``fd.directory`` from ``fd.name``); the first variant the oracle accepts is kept, the
    bare template only if completion breaks every variant. Attempt 0 takes ``or`` children
    in order; later attempts shuffle them (seeded) for variety. ``base`` holds values of
    keys the caller owns (``evt.num``), present in every event, for verification;
    ``samples`` lists values to try first per key, and for a key that is not settable,
    every value it may take.
    """
    samples = samples or {}
    norm = _Normalizer(spec_of)
    root = norm.nnf(expr, False)
    result = SolveResult()
    seen: set[tuple] = set()
    rejected = 0
    failed: dict[str, int] = {}
    for attempt in range(max(1, count) * 3):
        rng = None if attempt == 0 else random.Random(f"{seed}:{attempt}")
        search = _Search(root, samples, rng, budget)
        found = False
        exhaustive = True
        for assign in search.solutions():
            tmpl = _finish(assign, samples)
            chosen = (
                _verified(expr, tmpl, complete, evaluate, base or {}) if tmpl is not None else None
            )
            if chosen is None:
                rejected += 1
                if rejected > 50:
                    exhaustive = False
                    break
                continue  # try the next solution of the same search
            found = True
            sig = tuple(sorted((k, repr(v)) for k, v in chosen.items()))
            if sig not in seen:
                seen.add(sig)
                result.templates.append(chosen)
            break
        for k, v in search.failed.items():
            failed[k] = failed.get(k, 0) + v
        if len(result.templates) >= count:
            break
        if attempt == 0 and not found and exhaustive and search.steps <= budget:
            # The first search visited every choice point: shuffled orders of the same
            # search space cannot find anything either.
            break
    if not result.templates:
        if root is False:
            result.reason = "condition is always false"
        elif rejected:
            result.reason = f"{rejected} candidate events failed the reference evaluator" + (
                f" (fields: {', '.join(sorted(norm.unknown))})" if norm.unknown else ""
            )
        elif norm.unknown:
            result.reason = "needs fields the generator cannot produce: " + ", ".join(
                sorted(norm.unknown)
            )
        else:
            worst = sorted(failed, key=lambda k: (-failed[k], k))[:3]
            result.reason = "no satisfying assignment: contradictory constraints" + (
                f" on {', '.join(worst)}" if worst else ""
            )
    return result
