"""The ``optimize`` pass: rewrite each rule's own condition with the proven rules, then
keep only what the checks prove.

1. Each rule (and macro) defined by one item, without appends or overrides, is parsed
   from its own text: macros and list names stay as the author wrote them.
2. Falco's constant macros (``always_true``, ``never_true``) under ``and``/``or`` fold
   away; then the structural rules (``rules.STRUCTURAL``); then, when events are given,
   every ``and``/``or`` has its operands ordered by cost per event decided, measured on
   the events the index sends the rule (a macro: the rules using it). Without events the
   author's order stays.
3. The rewritten file is loaded back with the loader: every rule must keep its name,
   order, priority, output, tags, source, enabled flag and event-type set (the index).
4. On every given event source both files are run and must give the same alerts rule by
   rule, under the reference evaluator and, on captures, under libsinsp 2022
   (``diff.diff_rulesets``). A rule whose alerts differ gets its original text back
   (and the check runs again); so does every macro if the difference persists.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.engine.matcher_rewrite import SAMPLE, rule_events
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.rewrite import cost, rules
from ruleopt.rewrite.diff import RuleDiff, diff_rulesets
from ruleopt.rewrite.expand import OwnExpander
from ruleopt.rewrite.yamlout import Item, condition_of, read_items, render, with_condition
from ruleopt.rules.ast import And, BoolConst, Expr, MacroRef, Not, Or, print_expr, walk
from ruleopt.rules.loader import load_rules
from ruleopt.rules.model import Rule, RuleSet
from ruleopt.rules.parser import parse_condition


@dataclass
class Rewrite:
    kind: str
    name: str
    before: str
    after: str
    changes: list[str] = field(default_factory=list)
    measured: str | None = None


@dataclass
class Result:
    text: str
    rewrites: list[Rewrite]
    reverted: list[str]
    diffs: list[tuple[str, list[RuleDiff]]]
    ruleset: RuleSet
    items: list[Item] = field(default_factory=list)
    plan: dict[int, Rewrite] = field(default_factory=dict)

    def with_notes(self, header: list[str], notes: dict[str, str]) -> str:
        """The same file with other comments: measured effects per rule name. Comments
        change nothing Falco or the loader reads."""
        for rw in self.plan.values():
            if rw.kind == "rule" and rw.name in notes:
                rw.measured = notes[rw.name]
        return build_text(self.items, self.plan, header)


def _fold_macros(expr: Expr, ex: OwnExpander) -> Expr:
    """Constant macros (and their negations) under and/or become BoolConst."""
    if isinstance(expr, (And, Or)):
        return type(expr)(tuple(_fold_macros(i, ex) for i in expr.items))
    if isinstance(expr, (MacroRef, Not)):
        value = ex.constant(expr)
        if value is not None:
            return BoolConst(value)
        if isinstance(expr, Not):
            return Not(_fold_macros(expr.operand, ex))
    return expr


def _structural(expr: Expr, ex: OwnExpander | None, changes: list[str]) -> Expr:
    if ex is not None:
        folded = _fold_macros(expr, ex)
        if folded != expr:
            changes.append("fold: constant macros (always_true/never_true) dropped from and/or")
            expr = folded
    for name, fn in rules.STRUCTURAL:
        new = fn(expr)
        if new != expr:
            changes.append(
                {
                    "flatten": "flatten: nested and/or of one kind merged",
                    "fold": "fold: constants folded",
                    "dedupe": "dedupe: repeated operands removed",
                    "merge-in": "merge-in: or of = on one field is one `in`",
                }[name]
            )
            expr = new
    return expr


def _measured_order(expr: Expr, ex: OwnExpander, events: list[dict]) -> tuple[Expr, str | None]:
    """Every and/or of ``expr`` (as written, macros kept) ordered by the greedy measured
    order (``cost.greedy_order``), each nested one on the events that reach it."""
    out, before, after = cost.order_tree(expr, events, ex.expand)
    if out == expr:
        return expr, None
    return out, (
        f"model cost per checked event {before:.2f} -> {after:.2f} on {len(events)} measured events"
    )


def _rule_samples(ruleset: RuleSet, table: EventTable | None) -> dict:
    """Per rule name, up to SAMPLE events its index would check it on."""
    if table is None or table.n == 0:
        return {}
    rules_ = list(ruleset.enabled_rules())
    per_rule = rule_events(rules_, table, SAMPLE)
    return {r.name: events for r, events in zip(rules_, per_rule, strict=True)}


def plan(ruleset: RuleSet, items: list[Item], table: EventTable | None) -> dict[int, Rewrite]:
    """Rewrites by item position (rules and macros defined once, never appended)."""
    counts: dict[tuple[str, str], int] = {}
    for it in items:
        if it.kind:
            counts[(it.kind, it.name)] = counts.get((it.kind, it.name), 0) + 1
    ex = OwnExpander(ruleset)
    samples = _rule_samples(ruleset, table)
    # A macro is measured on the events of the rules that use it (each such check may
    # evaluate it), up to SAMPLE of them.
    for it in items:
        if it.kind == "rule" and it.name in samples and condition_of(it) is not None:
            try:
                used = {
                    n.name
                    for n in walk(parse_condition(condition_of(it)))
                    if isinstance(n, MacroRef)
                }
            except Exception:  # noqa: BLE001 - see below
                continue
            for m in used:
                pool = samples.setdefault(("macro", m), [])
                pool.extend(samples[it.name][: max(0, SAMPLE - len(pool))])
    known = {r.name for r in ruleset.rules}
    out: dict[int, Rewrite] = {}
    for pos, it in enumerate(items):
        text = condition_of(it)
        if (
            it.kind not in ("rule", "macro")
            or it.append
            or text is None
            or counts[(it.kind, it.name)] != 1
        ):
            continue
        if it.kind == "rule" and it.name not in known:
            continue
        if it.kind == "macro" and it.name not in ruleset.macros:
            continue
        try:
            own = parse_condition(text)
        except Exception:  # noqa: BLE001 - the loader accepted the file; be conservative
            continue
        changes: list[str] = []
        # Macros keep their constant hooks (user_known_* are meant to be appended to).
        new = _structural(own, ex if it.kind == "rule" else None, changes)
        if isinstance(new, BoolConst):
            # No Falco spelling for a constant condition (and the index must not change):
            # keep the constant macros; ordering then puts the one that decides first.
            changes = []
            new = _structural(own, None, changes)
            if isinstance(new, BoolConst):
                continue
        # Without events the author's order stays: the static model alone is too coarse
        # to overrule it (measured on the shared rulesets, it made rules slower).
        ordered = new
        measured = None
        sample = samples.get(it.name if it.kind == "rule" else ("macro", it.name))
        if sample:
            ordered2, measured = _measured_order(ordered, ex, sample)
            ordered = ordered2
        if ordered != new:
            changes.append(
                "order: and/or operands by cost per event decided (cost model x pass "
                "rates measured on the events the index sends this item)"
            )
            new = ordered
        if new == own:
            continue
        out[pos] = Rewrite(it.kind, it.name, text, print_expr(new), changes, measured)
    return out


def _load_text(text: str) -> RuleSet:
    fd, tmp = tempfile.mkstemp(suffix=".yaml", prefix="ruleopt-optimize-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return load_rules(tmp)
    finally:
        os.unlink(tmp)


# What an optimized rule keeps exactly as it was: all but its condition's text.
KEPT_ATTRIBUTES = (
    "name",
    "priority",
    "output",
    "tags",
    "source",
    "enabled",
    "desc",
    "evttypes",
    "skip_if_unknown_filter",
    "exception_fields",
)


def _same_shape(a: Rule, b: Rule) -> str | None:
    for attr in KEPT_ATTRIBUTES:
        if getattr(a, attr) != getattr(b, attr):
            return attr
    return None


def build_text(items: list[Item], rewrites: dict[int, Rewrite], header: list[str]) -> str:
    nodes, comments = [], []
    for pos, it in enumerate(items):
        rw = rewrites.get(pos)
        if rw is None:
            nodes.append(it.node)
            comments.append([])
            continue
        nodes.append(with_condition(it, rw.after))
        c = [
            f"ruleopt optimize: {it.kind} rewritten ({len(rw.changes)} change(s), each a "
            "proven equivalence)"
        ]
        c += [f"  {ch}" for ch in rw.changes]
        if rw.measured:
            c.append(f"  measured: {rw.measured}")
        c.append(f"  was: {' '.join(rw.before.split())}")
        comments.append(c)
    return render(nodes, comments, header)


def optimize(
    files: Sequence[Path | str],
    sources: Sequence[tuple[EventTable, Path | None]],
    header: list[str] | None = None,
) -> Result:
    """The optimized text of ``files`` and what was checked. ``sources``: event tables,
    each with its capture when it came from one (then libsinsp judges too)."""
    ruleset = load_rules(list(files))
    items = read_items(list(files))
    rewrites = plan(ruleset, items, sources[0][0] if sources else None)
    reverted: list[str] = []
    head = header or []
    for _attempt in range(3):
        text = build_text(items, rewrites, head)
        new = _load_text(text)
        bad = _shape_problems(ruleset, new)
        diffs = [
            (str(cap) if cap else "events", diff_rulesets(ruleset, new, table, cap))
            for table, cap in sources
        ]
        bad |= {d.rule for _, ds in diffs for d in ds if d.status != "same"}
        if not bad:
            return Result(
                text, [rewrites[k] for k in sorted(rewrites)], reverted, diffs, new, items, rewrites
            )
        drop = [k for k, rw in rewrites.items() if rw.kind == "rule" and rw.name in bad]
        if not drop:  # a macro rewrite must be to blame: give every macro its text back
            drop = [k for k, rw in rewrites.items() if rw.kind == "macro"]
        if not drop:
            break
        for k in drop:
            reverted.append(f"{rewrites[k].kind} '{rewrites[k].name}'")
            del rewrites[k]
    raise RuleoptError(
        "optimize could not prove the rewritten file equivalent: " + ", ".join(sorted(bad)),
        hint="report this as a bug; no file was written",
    )


def _shape_problems(a: RuleSet, b: RuleSet) -> set[str]:
    if len(a.rules) != len(b.rules):
        return {r.name for r in a.rules} ^ {r.name for r in b.rules} or {"(rule count)"}
    return {ra.name for ra, rb in zip(a.rules, b.rules, strict=True) if _same_shape(ra, rb)}
