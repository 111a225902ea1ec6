"""Falco rules YAML -> ``RuleSet``: merging, appends, overrides, exceptions, expansion.

The semantics follow modern Falco's loader (``userspace/engine/rule_loader_reader.cpp``,
``rule_loader_collector.cpp``, ``rule_loader_compiler.cpp``); where the 0.26.2 Lua
loader agreed (``append``, rule redefinition, enable-only items) nothing differs.

- Items are read in file order, files in the given order, with one running ordinal
  across them (Falco's ``m_cur_index``).
- Redefining a list, macro or rule replaces it *in place*: it keeps its first position.
- ``append: true`` extends a list's items, joins a macro's or rule's condition text with
  one space, and for rules also merges exceptions by name. ``override:`` per key does the
  same with ``append``, or replaces the key with ``replace``.
- Exceptions become condition text exactly as ``build_rule_exception_infos`` writes it
  (the same quoting, the same parentheses), appended as `` and not (...)`` per exception,
  and the whole text is parsed once.
- A macro may only use macros defined before its last definition/append (Falco's
  "visibility"); rules see every macro. Lists are resolved against their final items.
- Falco replaces list names in the condition *text*; here they are replaced in the AST,
  inside value lists only, which is the same for every upstream ruleset. Nested lists
  are expanded to any depth (Falco: one level, then by text-substitution order).
- A bare word in a value list that names no list is a value, as in Falco, so there is
  no "undefined list" error: only appends to an undefined list fail.

Hostile input is bounded before it costs time or memory: YAML through ``yamlsafe``
(depth, aliases, tags, keys), lists past ``MAX_LIST_ITEMS`` items, conditions past
``MAX_CONDITION_NODES`` nodes or ``MAX_CONDITION_DEPTH`` levels once expanded; lists and
macros are expanded without recursion, so long chains load.

Rules of every event source load the same way; fields are checked against the rule's
source (``ruleopt.fields``: syscall and Falco's official plugins), and a source ruleopt
does not know loads with a warning that its fields were not validated.

Every error is a ``RuleoptError`` located at file, line and column. Positions inside
conditions are mapped back to the file, through block scalars and appends.

The stages are Falco's, one module each: ``load_reader`` (YAML items, every key checked)
feeds ``load_collector`` (definitions, appends, overrides, enables, in order); then
``load_compiler`` parses the conditions (``load_exceptions`` builds the exceptions'
text), expands macros and lists as a pass over the AST (``load_expand``), checks fields
and constants, and builds the ``RuleSet``. ``load_positions`` locates everything. This
module is the public API.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.rules.load_compiler import TOO_MANY_EVTTYPES, Compiler, unknown_fields
from ruleopt.rules.load_expand import (
    MAX_CONDITION_DEPTH,
    MAX_CONDITION_NODES,
    MAX_EXPANDED_ITEMS,
    MAX_LIST_ITEMS,
)
from ruleopt.rules.load_reader import RULE_APPENDABLE, RULE_REPLACEABLE, Reader
from ruleopt.rules.model import RuleSet

__all__ = [
    "MAX_CONDITION_DEPTH",
    "MAX_CONDITION_NODES",
    "MAX_EXPANDED_ITEMS",
    "MAX_LIST_ITEMS",
    "RULE_APPENDABLE",
    "RULE_REPLACEABLE",
    "TOO_MANY_EVTTYPES",
    "load_rules",
    "load_rules_collect",
    "unknown_fields",
]


def load_rules(paths: Sequence[Path | str] | Path | str) -> RuleSet:
    """Load rules files in order and return the merged, expanded ``RuleSet``.

    Raises ``RuleoptError`` at the first error, located at file:line:column.
    """
    loader = Reader(strict=True)
    with _no_gc():
        for path in _as_list(paths):
            loader.read_file(path)
        return Compiler(loader).compile()


def load_rules_collect(
    paths: Sequence[Path | str] | Path | str,
) -> tuple[RuleSet, list[RuleoptError]]:
    """Like ``load_rules`` but keeps going: bad items and rules are dropped and every
    error is returned. A file that is not valid YAML contributes nothing."""
    loader = Reader(strict=False)
    with _no_gc():
        for path in _as_list(paths):
            loader.read_file(path)
        ruleset = Compiler(loader).compile()
    return ruleset, loader.errors


@contextmanager
def _no_gc() -> Iterator[None]:
    """Loading builds hundreds of thousands of nodes and no garbage cycles; the cyclic
    collector rescanning them all tripled the time of a 30,000-list file."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _as_list(paths: Sequence[Path | str] | Path | str) -> list[Path | str]:
    if isinstance(paths, (str, Path)):
        return [paths]
    return list(paths)
