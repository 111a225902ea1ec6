"""The collector (Falco's ``rule_loader_collector``): lists, macros and rules as items
define, append to, override and enable them, in one running order across files, with
the error plumbing every loader stage shares (strict: raise; collecting: record the
error and skip the item)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ruleopt.errors import RuleoptError
from ruleopt.rules.load_positions import Cond, Sources, located
from ruleopt.rules.model import Warning


@dataclass
class ListInfo:
    name: str
    items: list[str]
    file: str
    node: yaml.Node
    index: int
    visibility: int


@dataclass
class MacroInfo:
    name: str
    cond: Cond
    file: str
    node: yaml.Node
    index: int
    visibility: int


@dataclass
class ExcInfo:
    name: str
    fields: str | list[str] | None
    comps: str | list[str] | None
    values: list[Any]
    file: str
    node: yaml.Node


@dataclass
class RuleInfo:
    name: str
    cond: Cond
    output: str
    desc: str
    priority: str
    tags: list[str]
    source: str
    enabled: bool
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    exceptions: list[ExcInfo]
    file: str
    node: yaml.Node
    index: int = 0  # load order of its first definition (Collector.put_rule)


class SkipItem(Exception):
    """Raised after an error has been recorded, to move on to the next item."""


class Collector:
    """What the items of every file define, in order, and the errors and warnings."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.errors: list[RuleoptError] = []
        self.warnings: list[Warning] = []
        self.sources = Sources()
        self.lists: dict[str, ListInfo] = {}
        self.macros: dict[str, MacroInfo] = {}
        self.rules: dict[str, RuleInfo] = {}
        self.ordinal = 0
        self.engine_version: tuple[tuple[int, ...], str] | None = None
        self.plugin_versions: list[dict[str, Any]] = []

    # ---- error plumbing: raise in strict mode, record and skip otherwise

    def fail(self, err: RuleoptError) -> None:
        if self.strict:
            raise err
        self.errors.append(err)
        raise SkipItem

    def warn(
        self, message: str, file: str | None, node: yaml.Node | None, rule: str | None = None
    ) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.warnings.append(Warning(message, file, line, rule))

    def record(self, err: RuleoptError) -> None:
        """``fail`` for errors found outside any one item: raise or record, never skip."""
        try:
            self.fail(err)
        except SkipItem:
            pass

    def next_ordinal(self) -> int:
        self.ordinal += 1
        return self.ordinal

    # ---- merging: define (in place, keeping the first position), append, enable

    def add_list(
        self, name: str, items: list[str], file: str, item: yaml.Node, *, append: bool
    ) -> None:
        ordinal = self.next_ordinal()
        prev = self.lists.get(name)
        if append:
            if prev is None:
                self.fail(
                    located(
                        f"list '{name}' has 'append' but no list by that name is defined earlier",
                        file,
                        item,
                        hint="define the list first, or load its file first",
                    )
                )
            prev.items.extend(items)
            prev.visibility = ordinal
            return
        index = prev.index if prev else ordinal
        self.lists[name] = ListInfo(name, items, file, item, index, ordinal)

    def add_macro(
        self,
        name: str,
        text: str,
        file: str,
        cond_node: yaml.Node,
        item: yaml.Node,
        *,
        append: bool,
    ) -> None:
        ordinal = self.next_ordinal()
        prev = self.macros.get(name)
        if append:
            if prev is None:
                self.fail(
                    located(
                        f"macro '{name}' has 'append' but no macro by that name is defined earlier",
                        file,
                        item,
                        hint="define the macro first, or load its file first",
                    )
                )
            prev.cond.append(text, file, cond_node)
            prev.visibility = ordinal
            return
        cond = Cond()
        cond.append(text, file, cond_node)
        index = prev.index if prev else ordinal
        self.macros[name] = MacroInfo(name, cond, file, item, index, ordinal)

    def enable_rule(self, name: str, enabled: bool, file: str, item: yaml.Node) -> None:
        """An item with only ``enabled:`` toggles an earlier rule."""
        prev = self.rules.get(name)
        if prev is None:
            self.fail(
                located(
                    f"rule '{name}' has 'enabled' key but no rule by that name is defined earlier",
                    file,
                    item,
                    hint="check the rule name, or load its file first",
                )
            )
        prev.enabled = enabled
        self.next_ordinal()

    def check_same_source(self, name: str, source: str, file: str, item: yaml.Node) -> None:
        prev = self.rules.get(name)
        if prev is not None and prev.source != source:
            self.fail(
                located(
                    f"rule '{name}' has been re-defined with a different source "
                    f"({prev.source} -> {source})",
                    file,
                    item,
                )
            )

    def put_rule(self, info: RuleInfo) -> None:
        """Define (or redefine, in place) a rule; ``info.index`` is set here."""
        ordinal = self.next_ordinal()
        prev = self.rules.get(info.name)
        info.index = prev.index if prev else ordinal
        self.rules[info.name] = info

    def prev_rule(self, file: str, item: yaml.Node, name: str, what: str) -> RuleInfo:
        prev = self.rules.get(name)
        if prev is None:
            self.fail(
                located(
                    f"rule '{name}' has '{what}' but no rule by that name is defined earlier",
                    file,
                    item,
                    hint="define the rule first, or load its file first",
                )
            )
        return prev
