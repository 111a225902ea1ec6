"""The loaded ruleset: lists, macros and rules after merging, appends and expansion.

Everything is frozen: a ``RuleSet`` is a value the engine, the profiler and the CLI can
share without copying or defensive checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruleopt.rules.ast import Expr
from ruleopt.rules.evttypes import EvtTypeSet, sees
from ruleopt.rules.sinsp_events import SINSP_2022_EVENT_NAMES

# Falco's priorities, most severe first, as it prints them (falco_common's names). The
# one definition: the loader checks a rule's priority with ``priority_name``, the output
# paths print it with the same function.
PRIORITIES: tuple[str, ...] = (
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
)
# falco_common::parse_priority accepts every name case-insensitively, plus "info".
_PRIORITY_SPELLINGS: dict[str, str] = {p.lower(): p for p in PRIORITIES} | {"info": "Informational"}


def priority_name(text: str) -> str | None:
    """Falco's printed name for a priority as a rules file spells it (``WARNING`` →
    ``Warning``, ``info`` → ``Informational``), or None for a name Falco refuses."""
    return _PRIORITY_SPELLINGS.get(text.strip().lower())


SYSCALL_SOURCE = "syscall"

# Keys of ``RuleSet.by_evttype()`` besides event type names: every other event type with a
# code of its own, and the generic events (syscalls without one).
OTHER_TYPES = "*"
GENERIC_TYPES = "(generic)"
# A syscall libsinsp 2022 gives no event code (it arrives as PPME_GENERIC_E/X): what every
# generic event is to the index.
GENERIC_PROBE = "epoll_pwait"


@dataclass(frozen=True)
class ListDef:
    """A Falco ``list`` after appends; ``items`` are the raw YAML strings."""

    name: str
    items: tuple[str, ...]
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class MacroDef:
    """A Falco ``macro`` after appends; ``condition`` is parsed but not expanded."""

    name: str
    condition: Expr
    file: str | None = None
    line: int | None = None
    condition_text: str = ""


@dataclass(frozen=True)
class Rule:
    """A rule ready to evaluate.

    ``condition`` is fully expanded: macros inlined, list names replaced by their items,
    exceptions added as ``and not (...)``. ``condition_text`` is the merged original text
    (after appends, before exceptions and expansion), as the author wrote it.
    """

    id: int
    name: str
    condition: Expr
    output: str
    priority: str
    desc: str
    tags: tuple[str, ...]
    source: str
    enabled: bool
    evttypes: EvtTypeSet
    skip_if_unknown_filter: bool
    warn_evttypes: bool
    file: str | None
    line: int | None
    condition_text: str
    exception_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the name the loader's users expect; never used as builtin here
    message: str
    file: str | None = None
    line: int | None = None
    rule: str | None = None
    column: int | None = None  # set when the warning is about a place inside a condition

    def __str__(self) -> str:
        loc = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        who = f"rule '{self.rule}': " if self.rule else ""
        return f"{loc}: {who}{self.message}" if loc else f"{who}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class RuleSet:
    """Rules in load order (ids ``0..n-1``, disabled ones included), macros and lists."""

    rules: tuple[Rule, ...]
    macros: dict[str, MacroDef] = field(default_factory=dict)
    lists: dict[str, ListDef] = field(default_factory=dict)
    required_engine_version: str | None = None
    required_plugin_versions: tuple[dict[str, Any], ...] = ()
    warnings: tuple[Warning, ...] = ()

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def by_evttype(
        self,
        evttypes: Iterator[str] | list[str] | None = None,
        *,
        enabled_only: bool = True,
        outside: frozenset[str] = frozenset(),
    ) -> dict[str, list[Rule]]:
        """Syscall rules per event type name, as Falco's index gives events to them
        (``ruleopt.rules.evttypes.sees``, the engine's index too; rules of other sources
        never meet a syscall event: see ``by_source``).

        Without ``evttypes`` the keys are the names the rules mention, then ``OTHER_TYPES``
        ("*": every other event type with a code of its own, where "all" and "all but ..."
        sets run) and ``GENERIC_TYPES`` (events of syscalls without a code of their own,
        such as ``epoll_pwait``: only rules with an empty set see them). Pass an event
        table's names (and its ``outside`` names) for the index of that table.
        """
        rules = self.syscall_rules(enabled_only=enabled_only)
        if evttypes is None:
            names: set[str] = set()
            for r in rules:
                names |= r.evttypes.names
            named = sorted(n for n in names if n in SINSP_2022_EVENT_NAMES)
            other = sorted(SINSP_2022_EVENT_NAMES - names)
            out = {key: [r for r in rules if sees(r.evttypes, key, outside)] for key in named}
            # Every other coded type is seen by the same rules (none names it): ask one.
            out[OTHER_TYPES] = (
                [r for r in rules if sees(r.evttypes, other[0], outside)] if other else []
            )
            out[GENERIC_TYPES] = [r for r in rules if sees(r.evttypes, GENERIC_PROBE, outside)]
            return out
        return {key: [r for r in rules if sees(r.evttypes, key, outside)] for key in evttypes}

    def all_evttype_rules(self, *, enabled_only: bool = True) -> tuple[Rule, ...]:
        """Syscall rules that run on every event type (the index cannot skip them); an
        empty set is filed under every event too (``ruleopt.engine.index``)."""
        return tuple(
            r
            for r in self.syscall_rules(enabled_only=enabled_only)
            if r.evttypes.is_all or r.evttypes.is_empty
        )

    def syscall_rules(self, *, enabled_only: bool = True) -> tuple[Rule, ...]:
        rules = self.enabled_rules() if enabled_only else self.rules
        return tuple(r for r in rules if r.source == SYSCALL_SOURCE)

    def by_source(self, *, enabled_only: bool = True) -> dict[str, list[Rule]]:
        """Rules per event source, syscall first, then by name."""
        rules = self.enabled_rules() if enabled_only else self.rules
        out: dict[str, list[Rule]] = {}
        for r in sorted(rules, key=lambda r: (r.source != SYSCALL_SOURCE, r.source)):
            out.setdefault(r.source, []).append(r)
        return out
