"""The compiler (Falco's ``rule_loader_compiler``): collected lists, macros and rules to
a ``RuleSet``. Conditions parsed (exceptions appended as `` and not (...)``), macro
visibility and cycles checked, macros and lists expanded (``load_expand``), fields
checked against the rule's source and constants against their types, event types
resolved and warned about as Falco does."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import yaml

from ruleopt.engine.reference import prepare
from ruleopt.errors import RuleoptError
from ruleopt.fields import KNOWN_SOURCES, check_source, resolve
from ruleopt.rules.ast import Expr, fields_of
from ruleopt.rules.evttypes import evttypes_of, uncoded_names
from ruleopt.rules.load_collector import Collector, ExcInfo, RuleInfo, SkipItem
from ruleopt.rules.load_exceptions import exception_text
from ruleopt.rules.load_expand import (
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    Expander,
    ast_depths,
    expanded_depth,
    macro_chain,
    macro_refs,
    tree_size,
)
from ruleopt.rules.load_positions import Cond, offset_of, seg_at, seg_end
from ruleopt.rules.model import SYSCALL_SOURCE, ListDef, MacroDef, Rule, RuleSet, Warning

_PARSER_WHERE = re.compile(r" at (?:line \d+, )?column \d+ of the condition")

TOO_MANY_EVTTYPES = (
    "Rule matches too many evt.type values. This has a significant performance penalty."
)


class Compiler:
    """Compiles what a ``Collector`` gathered; shares its state and error plumbing."""

    def __init__(self, collected: Collector) -> None:
        self.fail = collected.fail
        self.record = collected.record
        self.sources = collected.sources
        self.warnings = collected.warnings
        self.lists = collected.lists
        self.macros = collected.macros
        self.rules = collected.rules
        self.engine_version = collected.engine_version
        self.plugin_versions = collected.plugin_versions

    # ---- compiling

    def parse(self, cond: Cond, kind: str, name: str) -> Expr:
        # Not a cycle: the parser imports lark (~40 ms), which every
        # command module would pay for at `ruleopt --help` (they import this loader).
        from ruleopt.rules.parser import ConditionSyntaxError, ParseNote, parse_condition

        notes: list[ParseNote] = []
        try:
            expr = parse_condition(cond.text, notes)
            for note in notes:
                # A rule's warning names the rule in its own field; a macro's in the text.
                rule = name if kind == "rule" else None
                self.warn_at(
                    cond,
                    note.cond_line,
                    note.cond_column,
                    None if rule else f"{kind} '{name}'",
                    note.message,
                    rule,
                )
            return expr
        except ConditionSyntaxError as exc:
            offset = offset_of(cond.text, exc.cond_line, exc.cond_column)
            seg = seg_at(cond, offset)
            piece_end = seg_end(cond, seg)
            line, column = self.sources.locate(
                seg, cond.text[seg.start : piece_end], offset - seg.start
            )
            where = (
                f"condition column {exc.cond_column}"
                if exc.cond_line == 1
                else f"condition line {exc.cond_line}, column {exc.cond_column}"
            )
            # The parser names the position in its message; we name it once, up front.
            message = _PARSER_WHERE.sub("", exc.message)
            if not seg.exact:
                where += " (in the text generated from the rule's exceptions)"
            self.fail(
                RuleoptError(
                    f"{kind} '{name}': {where}: {message}",
                    file=seg.file,
                    line=line,
                    column=column,
                    hint=getattr(exc, "hint", None) or "fix the condition syntax",
                )
            )
        raise AssertionError("unreachable")

    def warn_at(
        self,
        cond: Cond,
        cond_line: int,
        cond_column: int,
        who: str | None,
        message: str,
        rule: str | None,
    ) -> None:
        """A warning at a position inside a condition, located in the rules file."""
        offset = offset_of(cond.text, cond_line, cond_column)
        seg = seg_at(cond, offset)
        line, column = self.sources.locate(
            seg, cond.text[seg.start : seg_end(cond, seg)], offset - seg.start
        )
        where = (
            f"condition column {cond_column}"
            if cond_line == 1
            else f"condition line {cond_line}, column {cond_column}"
        )
        prefix = f"{who}: " if who else ""
        self.warnings.append(Warning(f"{prefix}{where}: {message}", seg.file, line, rule, column))

    def locate_name(self, cond: Cond, word: str) -> tuple[str, int, int]:
        """File position of the first use of ``word`` as an identifier in ``cond``."""
        m = re.search(rf"(?<![\w.\-]){re.escape(word)}(?![\w.\-])", cond.text)
        seg = seg_at(cond, m.start() if m else 0)
        offset = (m.start() - seg.start) if m else 0
        line, column = self.sources.locate(seg, cond.text[seg.start : seg_end(cond, seg)], offset)
        return seg.file, line, column

    def macro_order(self, macro_asts: dict[str, Expr], depth: dict[str, int]) -> list[str]:
        """Macros in dependency order (post-order, iteratively), filling ``depth`` with
        each macro's expanded depth. Cycles and macros deeper than
        ``MAX_CONDITION_DEPTH`` are reported once, at the macro that causes them, and
        dropped from ``macro_asts`` with every macro that uses them."""
        shape = {n: ast_depths(a) for n, a in macro_asts.items()}
        refs = {n: r for n, (_, r) in shape.items()}
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        order: list[str] = []
        bad: set[str] = set()
        for root in macro_asts:
            if root in state:
                continue
            path, iters = [root], [iter(refs[root])]
            state[root] = 1
            while path:
                step = next(iters[-1], None)
                if step is None:
                    done = path.pop()
                    iters.pop()
                    state[done] = 2
                    order.append(done)
                    depth[done] = expanded_depth(shape[done][0], refs[done], depth)
                    continue
                ref = step[0]
                if ref not in macro_asts:
                    continue  # undefined: reported when the user is expanded
                if state.get(ref) == 1:
                    cycle = path[path.index(ref) :] + [ref]
                    bad.update(cycle[:-1])
                    info = self.macros[ref]
                    self.record(
                        RuleoptError(
                            f"macro '{ref}': circular macro reference {' -> '.join(cycle)}",
                            file=info.file,
                            line=info.node.start_mark.line + 1,
                            column=info.node.start_mark.column + 1,
                            hint="a macro cannot use itself, directly or through other macros",
                        )
                    )
                    continue
                if ref not in state:
                    state[ref] = 1
                    path.append(ref)
                    iters.append(iter(refs[ref]))
        out = []
        for name in order:
            used = [r for r, _ in refs[name] if r in macro_asts]
            if name in bad or any(r in bad for r in used):
                bad.add(name)
            elif depth[name] > MAX_CONDITION_DEPTH:
                bad.add(name)
                info = self.macros[name]
                own = shape[name][0]
                self.record(
                    RuleoptError(
                        f"macro '{name}': the condition nests {own:,} levels deep (more than "
                        f"{MAX_CONDITION_DEPTH:,})"
                        if own > MAX_CONDITION_DEPTH
                        else f"macro '{name}': the condition nests {depth[name]:,} levels "
                        f"deep once macros are expanded (more than "
                        f"{MAX_CONDITION_DEPTH:,}), through {macro_chain(name, refs, depth)}",
                        file=info.file,
                        line=info.node.start_mark.line + 1,
                        column=info.node.start_mark.column + 1,
                        hint="flatten the condition (fewer nested not/and/or levels)"
                        if own > MAX_CONDITION_DEPTH
                        else "a macro chain that long cannot be evaluated; shorten the chain "
                        "or combine the macros with `or`/`and` at one level",
                    )
                )
            else:
                out.append(name)
        for name in bad:
            macro_asts.pop(name, None)
        return out

    def compile(self) -> RuleSet:
        macro_asts: dict[str, Expr] = {}
        for m in self.macros.values():
            try:
                macro_asts[m.name] = self.guarded(
                    self.parse, (m.cond, "macro", m.name), "macro", m.name, m.file, m.node
                )
            except SkipItem:
                continue
        # Falco resolves each macro against the macros defined before it (by first
        # definition), up to its own last definition or append.
        for m in self.macros.values():
            if m.name not in macro_asts:
                continue
            try:
                for ref in macro_refs(macro_asts[m.name]):
                    other = self.macros.get(ref)
                    if other is None or other.index >= m.visibility:
                        file, line, col = self.locate_name(m.cond, ref)
                        later = other is not None
                        self.fail(
                            RuleoptError(
                                f"macro '{m.name}': undefined macro '{ref}'"
                                + (
                                    " (it is defined later; macros can only use earlier macros)"
                                    if later
                                    else ""
                                ),
                                file=file,
                                line=line,
                                column=col,
                                hint=(
                                    f"move macro '{ref}' above macro '{m.name}'"
                                    if later
                                    else f"define `- macro: {ref}` earlier, or check the spelling"
                                ),
                            )
                        )
            except SkipItem:
                macro_asts.pop(m.name, None)
        expander = Expander(self, macro_asts)
        # Dependencies first, so expanding one macro never recurses into another: a
        # chain of 12,000 macros is 12,000 steps, not 12,000 nested calls.
        for name in self.macro_order(macro_asts, expander.depth):
            try:
                expander.macro(name, ())
            except SkipItem:
                macro_asts.pop(name, None)

        rules: list[Rule] = []
        for info in self.rules.values():
            try:
                rules.append(
                    self.guarded(
                        self.compile_rule,
                        (info, expander, len(rules)),
                        "rule",
                        info.name,
                        info.file,
                        info.node,
                    )
                )
            except SkipItem:
                continue

        return RuleSet(
            rules=tuple(rules),
            macros={
                m.name: MacroDef(
                    m.name, macro_asts[m.name], m.file, m.node.start_mark.line + 1, m.cond.text
                )
                for m in self.macros.values()
                if m.name in macro_asts
            },
            lists={
                li.name: ListDef(li.name, tuple(li.items), li.file, li.node.start_mark.line + 1)
                for li in self.lists.values()
            },
            required_engine_version=self.engine_version[1] if self.engine_version else None,
            required_plugin_versions=tuple(self.plugin_versions),
            warnings=tuple(self.warnings),
        )

    def validate_condition(self, expanded: Expr, info: RuleInfo, cond: Cond, line: int) -> None:
        try:
            check_sources(expanded, info.source)
            check_constants(expanded)
        except RuleoptError as err:
            # Point at the first mention of the field the message names, if any.
            word = next((w for w in re.findall(r"'([^']+)'", err.message) if w in cond.text), None)
            file, at_line, col = self.locate_name(cond, word) if word else (info.file, line, None)
            self.fail(
                RuleoptError(
                    f"rule '{info.name}': {err.message}",
                    file=file,
                    line=at_line,
                    column=col,
                    hint=err.hint or "fix the field or the value",
                )
            )

    def guarded(
        self,
        step: Callable[..., Any],
        call: tuple,
        kind: str,
        name: str,
        file: str,
        node: yaml.Node,
    ) -> Any:
        """``step(*call)``, turning a RecursionError (a condition deeper than this
        Python's recursion limit allows, yet under ``MAX_CONDITION_DEPTH``) into an
        error located at the item."""
        try:
            return step(*call)
        except RecursionError:
            pass
        self.fail(
            RuleoptError(
                f"{kind} '{name}': the condition is nested too deeply to process "
                f"(Python's recursion limit is {sys.getrecursionlimit():,})",
                file=file,
                line=node.start_mark.line + 1,
                column=node.start_mark.column + 1,
                hint="flatten the condition (fewer nested not/and/or levels or macros)",
            )
        )
        return None

    def compile_rule(self, info: RuleInfo, expander: Expander, rule_id: int) -> Rule:
        cond = Cond(info.cond.text, list(info.cond.segs))
        exc_fields: list[str] = []
        for ex in info.exceptions:
            text = _exception_text_or_fail(self, ex, info.name)
            if text:
                cond.append("and not " + text, ex.file, ex.node, exact=False)
                fl = ex.fields if isinstance(ex.fields, list) else [ex.fields]
                exc_fields.extend(f for f in fl if f not in exc_fields)
        ast = self.parse(cond, "rule", info.name)
        for ref in macro_refs(ast):
            if ref not in self.macros:
                file, line, col = self.locate_name(cond, ref)
                self.fail(
                    RuleoptError(
                        f"rule '{info.name}': undefined macro '{ref}'",
                        file=file,
                        line=line,
                        column=col,
                        hint=f"define `- macro: {ref}` (in this or an earlier file), "
                        "or check the spelling",
                    )
                )
        own, refs = ast_depths(ast)
        if any(r not in expander.macro_asts for r, _ in refs):
            raise SkipItem  # a macro it uses failed, and that was reported
        depth = expanded_depth(
            own, [(r, d) for r, d in refs if r in expander.depth], expander.depth
        )
        if depth > MAX_CONDITION_DEPTH:
            self.fail(
                RuleoptError(
                    f"rule '{info.name}': the condition nests {depth:,} levels deep once macros "
                    f"are expanded (more than {MAX_CONDITION_DEPTH:,})",
                    file=info.file,
                    line=info.node.start_mark.line + 1,
                    column=info.node.start_mark.column + 1,
                    hint="flatten the condition or shorten the macro chain",
                )
            )
        expanded = expander.expand(ast, (), cond, f"rule '{info.name}'")
        size = tree_size(expanded)
        if size > MAX_CONDITION_NODES:
            self.fail(
                RuleoptError(
                    f"rule '{info.name}': the condition expands to {size:,} nodes and list "
                    f"values (more than {MAX_CONDITION_NODES:,})",
                    file=info.file,
                    line=info.node.start_mark.line + 1,
                    hint="a macro used twice per level doubles the size at every level; "
                    "restructure the macros",
                )
            )
        enabled = info.enabled
        line = info.node.start_mark.line + 1
        known_source = source_known(info.source)
        if info.skip_if_unknown_filter and known_source:
            unknown = unknown_fields(expanded, info.source)
            if unknown:
                enabled = False
                self.warnings.append(
                    Warning(
                        f"skipped: unknown filter field(s) {', '.join(unknown)} "
                        "(skip-if-unknown-filter is set)",
                        info.file,
                        line,
                        info.name,
                    )
                )
        if not known_source:
            # Falco would load it if the plugin were loaded; its fields are taken as
            # that plugin's, unchecked.
            self.warnings.append(
                Warning(
                    f"source '{info.source}' is not a source ruleopt knows the fields of: the "
                    "condition's syntax, macros and lists were checked, its fields were not "
                    "validated",
                    info.file,
                    line,
                    info.name,
                )
            )
        elif enabled or not info.skip_if_unknown_filter:
            self.validate_condition(expanded, info, cond, line)
        evttypes = evttypes_of(expanded)
        if info.source == SYSCALL_SOURCE and info.warn_evttypes:
            uncoded = uncoded_names(expanded)
            if uncoded and not evttypes.is_empty:  # (an empty set runs everywhere: below)
                self.warnings.append(
                    Warning(
                        f"evt.type value(s) {', '.join(sorted(uncoded))} have no event code of "
                        "their own in libsinsp 2022 (generic syscalls, or unknown names it "
                        "refuses): they select no event type, so Falco's index never gives "
                        "them to this rule.",
                        info.file,
                        line,
                        info.name,
                    )
                )
            if evttypes.complement:
                self.warnings.append(
                    Warning(
                        f"{TOO_MANY_EVTTYPES} It runs on {evttypes.describe()} event types.",
                        info.file,
                        line,
                        info.name,
                    )
                )
            elif evttypes.is_empty:
                self.warnings.append(
                    Warning(
                        "Rule's event types are empty for libsinsp 2022 (contradictory evt.type "
                        "tests, or only syscalls without an event code of their own, such as "
                        "epoll_pwait): Falco's index runs it on every event.",
                        info.file,
                        line,
                        info.name,
                    )
                )
        return Rule(
            id=rule_id,
            name=info.name,
            condition=expanded,
            output=info.output,
            priority=info.priority,
            desc=info.desc,
            tags=tuple(info.tags),
            source=info.source,
            enabled=enabled,
            evttypes=evttypes,
            skip_if_unknown_filter=info.skip_if_unknown_filter,
            warn_evttypes=info.warn_evttypes,
            file=info.file,
            line=line,
            condition_text=info.cond.text,
            exception_fields=tuple(exc_fields),
        )


def check_constants(expr: Expr) -> None:
    """What libsinsp's compiler rejects once a condition is expanded: unknown fields,
    bad field arguments, operators a field's type does not support, and constants that do
    not parse (``fd.sport > abc``). The reference evaluator's ``prepare`` does exactly this
    parsing, once, so it is the check."""
    prepare(expr)


def source_known(source: str) -> bool:
    return source in KNOWN_SOURCES


def check_sources(expr: Expr, source: str) -> None:
    """Every field of ``expr`` must be one events of ``source`` carry."""
    for fld in sorted(fields_of(expr), key=lambda f: (f.name, f.arg or "")):
        try:
            resolved = resolve(fld)
        except RuleoptError:
            continue  # unknown or malformed: check_constants says so
        check_source(resolved, source)


def _exception_text_or_fail(compiler: Compiler, ex: ExcInfo, rule: str) -> str:
    try:
        return exception_text(ex, rule)
    except RuleoptError as err:
        compiler.fail(err)
        return ""


def unknown_fields(expr: Expr, source: str = SYSCALL_SOURCE) -> list[str]:
    """Field names in ``expr`` that the field registry does not know for ``source``.

    Used only for ``skip-if-unknown-filter``. ``ruleopt.fields.resolve`` raises
    ``RuleoptError`` for unknown names (and bad arguments, which make libsinsp fail the
    same way).
    """
    out = []
    for fld in sorted(fields_of(expr), key=lambda f: (f.name, f.arg or "")):
        try:
            resolved = resolve(fld)
            if source not in resolved.info.sources:
                out.append(fld.name)
        except RuleoptError:
            out.append(fld.name)
    return sorted(set(out))
