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
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ruleopt.engine.reference import prepare
from ruleopt.errors import RuleoptError
from ruleopt.fields import KNOWN_SOURCES, check_source, resolve
from ruleopt.rules import yamlsafe
from ruleopt.rules.ast import (
    ALL_OPS,
    LIST_OPS,
    And,
    Compare,
    Expr,
    ListRef,
    MacroRef,
    Not,
    Or,
    Value,
    ValueList,
    fields_of,
)
from ruleopt.rules.evttypes import evttypes_of, uncoded_names
from ruleopt.rules.model import (
    PRIORITIES,
    SYSCALL_SOURCE,
    ListDef,
    MacroDef,
    Rule,
    RuleSet,
    Warning,
    priority_name,
)

RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = (
    "condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
    "warn_evttypes", "skip-if-unknown-filter",
)

_PARSER_WHERE = re.compile(r" at (?:line \d+, )?column \d+ of the condition")

TOO_MANY_EVTTYPES = (
    "Rule matches too many evt.type values. This has a significant performance penalty."
)


# --------------------------------------------------------------------------- positions


@dataclass
class _Seg:
    """A piece of a merged condition text and the YAML scalar it came from."""

    start: int  # offset of the piece in the merged text
    file: str
    node: yaml.Node
    exact: bool = True  # False for generated text (exceptions): point at the node only


@dataclass
class _Cond:
    text: str = ""
    segs: list[_Seg] = field(default_factory=list)

    def append(self, piece: str, file: str, node: yaml.Node, *, sep: str = " ",
               exact: bool = True) -> None:
        if self.segs or self.text:
            self.text += sep
        self.segs.append(_Seg(len(self.text), file, node, exact))
        self.text += piece


class _Sources:
    """File texts, to turn YAML marks plus offsets inside scalars into line:column."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def locate(self, seg: _Seg, value: str, offset: int) -> tuple[int, int]:
        """1-based file line/column of ``value[offset]``, ``value`` being ``seg.node``'s text.

        Non-blank characters are matched one to one between the value and its source,
        which holds for plain, folded and literal scalars (only blanks and line breaks
        differ); escapes in quoted scalars may shift the column by a character or two.
        """
        node = seg.node
        mark = node.start_mark
        text = self.texts.get(seg.file)
        if text is None or not seg.exact or not isinstance(node, yaml.ScalarNode):
            return mark.line + 1, mark.column + 1
        begin, end = mark.index, node.end_mark.index
        style = node.style
        if style in ("|", ">"):
            nl = text.find("\n", begin, end)
            begin = nl + 1 if nl >= 0 else begin
        elif style in ('"', "'"):
            begin += 1
        offset = max(0, min(offset, len(value)))
        # Count non-blank characters before the target; land on the next one.
        want = sum(1 for ch in value[:offset] if not ch.isspace())
        extra = 0
        if offset >= len(value) or value[offset].isspace():
            # Target is a blank or the end: find the previous non-blank and step right.
            prev = offset - 1
            while prev >= 0 and value[prev].isspace():
                prev -= 1
            if prev < 0:
                return mark.line + 1, mark.column + 1
            want -= 1
            extra = offset - prev
        seen = -1
        idx = begin
        while idx < end:
            if not text[idx].isspace():
                seen += 1
                if seen == want:
                    break
            idx += 1
        idx = min(idx + extra, len(text))
        line = text.count("\n", 0, idx) + 1
        column = idx - (text.rfind("\n", 0, idx) + 1) + 1
        return line, column


# --------------------------------------------------------------------------- collected infos


@dataclass
class _ListInfo:
    name: str
    items: list[str]
    file: str
    node: yaml.Node
    index: int
    visibility: int


@dataclass
class _MacroInfo:
    name: str
    cond: _Cond
    file: str
    node: yaml.Node
    index: int
    visibility: int


@dataclass
class _ExcInfo:
    name: str
    fields: str | list[str] | None
    comps: str | list[str] | None
    values: list[Any]
    file: str
    node: yaml.Node


@dataclass
class _RuleInfo:
    name: str
    cond: _Cond
    output: str
    desc: str
    priority: str
    tags: list[str]
    source: str
    enabled: bool
    warn_evttypes: bool
    skip_if_unknown_filter: bool
    exceptions: list[_ExcInfo]
    file: str
    node: yaml.Node
    index: int


class _SkipItem(Exception):
    """Raised after an error has been recorded, to move on to the next item."""


# --------------------------------------------------------------------------- YAML helpers


def _err(message: str, file: str | None, node: yaml.Node | yaml.Mark | None,
         hint: str | None = None) -> RuleoptError:
    mark = node.start_mark if isinstance(node, yaml.Node) else node
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return RuleoptError(message, file=file, line=line, column=column, hint=hint)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
        out[key] = (k, v)
    return out


def _to_python(node: yaml.Node) -> Any:
    # Never PyYAML's constructor: tags were checked by yamlsafe, values stay text.
    return yamlsafe.to_plain(node)


# --------------------------------------------------------------------------- exceptions


def _quote_item(text: str) -> str:
    # Falco's quote_item: only items with a space get quotes, and only if not quoted yet.
    if " " in text and not text.startswith(('"', "'")):
        return f'"{text}"'
    return text


def _paren_item(text: str) -> str:
    return text if text.startswith("(") else f"({text})"


def _exception_text(ex: _ExcInfo, rule: str) -> str:
    """The ``(...)`` Falco builds for one exception; ``""`` when it has no values."""
    where = f"rule '{rule}': exception '{ex.name}'"
    if isinstance(ex.fields, str):
        parts = []
        for val in ex.values:
            if isinstance(val, list):
                raise _err(f"{where}: expected values array to contain a list of strings",
                           ex.file, ex.node,
                           hint="with a single field, each value is one string")
            parts.append(_quote_item(val))
        return f"({ex.fields} {ex.comps} ({', '.join(parts)}))" if parts else ""
    assert isinstance(ex.fields, list) and isinstance(ex.comps, list)
    alts = []
    for values in ex.values:
        items = values if isinstance(values, list) else []
        if len(items) != len(ex.fields):
            raise _err(f"{where}: fields and values lists must have equal length",
                       ex.file, ex.node,
                       hint=f"each value needs {len(ex.fields)} entries, one per field")
        checks = []
        for fld, comp, val in zip(ex.fields, ex.comps, items, strict=True):
            if isinstance(val, list):
                rhs = "(" + ", ".join(_quote_item(v) for v in val) + ")"
            elif comp in LIST_OPS:
                rhs = _paren_item(val)
            else:
                rhs = _quote_item(val)
            checks.append(f"{fld} {comp} {rhs}")
        alts.append("(" + " and ".join(checks) + ")")
    return "(" + " or ".join(alts) + ")" if alts else ""


def _validate_exception(ex: _ExcInfo, rule: str) -> None:
    """Falco's ``validate_exception_info``: default comps, and shapes that must agree."""
    where = f"rule '{rule}': exception '{ex.name}'"
    if ex.fields is None:
        raise _err(f"{where}: exception must have a fields property", ex.file, ex.node,
                   hint="add `fields: [proc.name, ...]` or `fields: proc.name`")
    if isinstance(ex.fields, list):
        if ex.comps is None:
            ex.comps = ["="] * len(ex.fields)
        if not isinstance(ex.comps, list) or len(ex.comps) != len(ex.fields):
            raise _err(f"{where}: fields and comps lists must have equal length",
                       ex.file, ex.node, hint="give one comparison operator per field")
        for comp in ex.comps:
            if comp not in ALL_OPS:
                raise _err(f"{where}: '{comp}' is not a supported comparison operator",
                           ex.file, ex.node, hint="operators: " + ", ".join(ALL_OPS))
    else:
        if ex.comps is None:
            ex.comps = "in"
        if isinstance(ex.comps, list):
            raise _err(f"{where}: fields and comps must both be strings", ex.file, ex.node,
                       hint="with `fields: <one field>`, use `comps: in` (or pmatch)")
        if ex.comps not in ALL_OPS:
            raise _err(f"{where}: '{ex.comps}' is not a supported comparison operator",
                       ex.file, ex.node, hint="operators: " + ", ".join(ALL_OPS))
        if ex.comps not in LIST_OPS:
            raise _err(
                f"{where}: when fields is a single value, comps must be one of "
                f"({', '.join(LIST_OPS)})", ex.file, ex.node,
                hint="use the list form `fields: [f]` for other operators")


# --------------------------------------------------------------------------- the loader


class _Loader:
    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self.errors: list[RuleoptError] = []
        self.warnings: list[Warning] = []
        self.sources = _Sources()
        self.lists: dict[str, _ListInfo] = {}
        self.macros: dict[str, _MacroInfo] = {}
        self.rules: dict[str, _RuleInfo] = {}
        self.ordinal = 0
        self.engine_version: tuple[tuple[int, ...], str] | None = None
        self.plugin_versions: list[dict[str, Any]] = []

    # ---- error plumbing: raise in strict mode, record and skip otherwise

    def fail(self, err: RuleoptError) -> None:
        if self.strict:
            raise err
        self.errors.append(err)
        raise _SkipItem

    def warn(self, message: str, file: str | None, node: yaml.Node | None,
             rule: str | None = None) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.warnings.append(Warning(message, file, line, rule))

    # ---- reading

    def read_file(self, path: Path | str) -> None:
        file = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.fail_file(RuleoptError(f"cannot read rules file: {exc.strerror or exc}",
                                        file=file, hint="check the path"))
            return
        try:
            text = yamlsafe.decode(data, file)
            self.sources.texts[file] = text
            docs = yamlsafe.compose_documents(text, file)
        except RuleoptError as err:
            self.fail_file(err)
            return
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            self.fail_file(_err(f"invalid YAML: {problem}", file, mark,
                                hint="fix the YAML syntax (indentation, quotes, colons)"))
            return
        except yaml.reader.ReaderError as exc:
            # A character YAML does not allow (control characters, U+FFFE...).
            found = yamlsafe.bad_character(text)
            pos, char = found if found else (0, 0)
            line = text.count("\n", 0, pos) + 1
            column = pos - (text.rfind("\n", 0, pos) + 1) + 1
            self.fail_file(RuleoptError(
                f"invalid YAML: character U+{char:04X} is not allowed in YAML"
                if found else f"invalid YAML: {exc}",
                file=file, line=line if found else None, column=column if found else None,
                hint="remove the control character (tabs and line breaks are fine)"))
            return
        except yaml.YAMLError as exc:
            self.fail_file(RuleoptError(f"invalid YAML: {exc}", file=file))
            return
        for doc in docs:
            if doc is None or _is_null(doc):
                continue
            if not isinstance(doc, yaml.SequenceNode):
                self.fail_file(_err("rules content is not a YAML sequence of items", file, doc,
                                    hint="a rules file is a list: `- rule: ...`, "
                                         "`- macro: ...`, `- list: ...`"))
                return
            for item in doc.value:
                if _is_null(item):
                    continue
                try:
                    self.read_item(file, item)
                except _SkipItem:
                    continue

    def fail_file(self, err: RuleoptError) -> None:
        try:
            self.fail(err)
        except _SkipItem:
            pass

    def read_item(self, file: str, item: yaml.Node) -> None:
        if not isinstance(item, yaml.MappingNode):
            self.fail(_err("unexpected element type: each item must be a YAML mapping",
                           file, item,
                           hint="start items with `- rule:`, `- macro:` or `- list:`"))
        keys = _mapping(item)
        if "required_engine_version" in keys:
            self.read_engine_version(file, keys["required_engine_version"][1])
        elif "required_plugin_versions" in keys:
            self.read_plugin_versions(file, keys["required_plugin_versions"][1])
        elif "list" in keys:
            self.read_list(file, item, keys)
        elif "macro" in keys:
            self.read_macro(file, item, keys)
        elif "rule" in keys:
            self.read_rule(file, item, keys)
        else:
            # Falco only warns and skips; an unknown item is almost always a typo in a
            # hand-written file, so ruleopt refuses it.
            found = ", ".join(repr(k) for k in keys) or "nothing"
            self.fail(_err(f"unknown top-level item (keys: {found})", file, item,
                           hint="items are `rule`, `macro`, `list`, "
                                "`required_engine_version` or `required_plugin_versions`"))

    def scalar(self, file: str, keys: dict, key: str, item: yaml.Node, *,
               required: bool = True) -> str | None:
        if key not in keys:
            if required:
                self.fail(_err(f"item has no mapping for key '{key}'", file, item,
                               hint=f"add `{key}:`"))
            return None
        node = keys[key][1]
        if _is_null(node):
            self.fail(_err(f"mapping for key '{key}' is empty", file, node,
                           hint=f"give `{key}` a value"))
        if not isinstance(node, yaml.ScalarNode):
            self.fail(_err(f"value for key '{key}' is not a scalar value", file, node))
        if node.value == "" and required:
            self.fail(_err(f"value for key '{key}' must be non-empty", file, node))
        return node.value

    def boolean(self, file: str, keys: dict, key: str) -> bool | None:
        if key not in keys:
            return None
        node = keys[key][1]
        value = _to_python(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.fail(_err(f"value for key '{key}' must be true or false", file, node))
        return value

    def str_seq(self, file: str, keys: dict, key: str, item: yaml.Node, *,
                required: bool) -> list[str] | None:
        if key not in keys:
            if required:
                self.fail(_err(f"item has no mapping for key '{key}'", file, item,
                               hint=f"add `{key}: [...]`"))
            return None
        node = keys[key][1]
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_err(f"value for key '{key}' is not a sequence", file, node))
        out = []
        for v in node.value:
            if not isinstance(v, yaml.ScalarNode):
                self.fail(_err(f"sequence value in '{key}' is not scalar", file, v))
            out.append(v.value)
        return out

    def overrides(self, file: str, keys: dict, appendable: Sequence[str],
                  replaceable: Sequence[str]) -> tuple[set[str], set[str]]:
        if "override" not in keys:
            return set(), set()
        node = keys["override"][1]
        if not isinstance(node, yaml.MappingNode):
            self.fail(_err("'override' must be a mapping of key: append|replace", file, node))
        add, rep = set(), set()
        for k, v in node.value:
            key, op = k.value, getattr(v, "value", None)
            if op == "append":
                if key not in appendable:
                    self.fail(_err(f"key '{key}' cannot be appended to, use 'replace' instead",
                                   file, k))
                add.add(key)
            elif op == "replace":
                if key not in replaceable:
                    self.fail(_err(f"key '{key}' cannot be replaced", file, k))
                rep.add(key)
            else:
                allowed = [w for w, ok in (("append", key in appendable),
                                           ("replace", key in replaceable)) if ok]
                self.fail(_err(f"invalid override operation for key '{key}': '{op}'", file, v,
                               hint="allowed values: " + (", ".join(allowed) or "none")))
        return add, rep

    def next_ordinal(self) -> int:
        self.ordinal += 1
        return self.ordinal

    def read_engine_version(self, file: str, node: yaml.Node) -> None:
        if not isinstance(node, yaml.ScalarNode) or not node.value:
            self.fail(_err("required_engine_version must be a version", file, node))
        text = node.value
        if re.fullmatch(r"\d+", text):
            # Falco reads a bare integer N as engine version 0.N.0.
            key: tuple[int, ...] = (0, int(text), 0)
        elif re.fullmatch(r"\d+\.\d+\.\d+", text):
            key = tuple(int(p) for p in text.split("."))
        else:
            self.fail(_err(f"unable to parse engine version '{text}' as a semver string",
                           file, node, hint='expected "x.y.z" or an integer'))
        if self.engine_version is None or self.engine_version[0] < key:
            self.engine_version = (key, text)

    def read_plugin_versions(self, file: str, node: yaml.Node) -> None:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_err("value of required_plugin_versions must be a sequence", file, node))
        for entry in node.value:
            value = _to_python(entry)
            if not isinstance(value, dict) or "name" not in value or "version" not in value:
                self.fail(_err("plugin version must be a mapping with name and version",
                               file, entry))
            self.plugin_versions.append(value)

    def merge_mode(self, kind: str, name: str, file: str, item: yaml.Node, keys: dict,
                   appendable: Sequence[str], replaceable: Sequence[str],
                   ) -> tuple[bool, Any, Any]:  # fmt: skip
        """``(append, override-append keys, override-replace keys)`` of one item; the
        legacy ``append: true`` and ``override:`` cannot be combined."""
        append = bool(self.boolean(file, keys, "append"))
        add, rep = self.overrides(file, keys, appendable, replaceable)
        if append and (add or rep):
            self.fail(_err(f"{kind} '{name}': 'append' and 'override' cannot be used together",
                           file, item, hint="keep `override:` and drop `append: true`"))
        return append, add, rep

    def read_list(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "list", item)
        items = self.str_seq(file, keys, "items", item, required=True)
        append, add, _ = self.merge_mode("list", name, file, item, keys, ("items",), ("items",))
        append = append or "items" in add
        ordinal = self.next_ordinal()
        if append:
            prev = self.lists.get(name)
            if prev is None:
                self.fail(_err(f"list '{name}' has 'append' but no list by that name is "
                               "defined earlier", file, item,
                               hint="define the list first, or load its file first"))
            prev.items.extend(items)
            prev.visibility = ordinal
            return
        prev = self.lists.get(name)
        index = prev.index if prev else ordinal
        self.lists[name] = _ListInfo(name, items, file, item, index, ordinal)

    def read_macro(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "macro", item)
        cond_text = self.scalar(file, keys, "condition", item)
        append, add, _ = self.merge_mode("macro", name, file, item, keys,
                                           ("condition",), ("condition",))
        append = append or "condition" in add
        ordinal = self.next_ordinal()
        cond_node = keys["condition"][1]
        if append:
            prev = self.macros.get(name)
            if prev is None:
                self.fail(_err(f"macro '{name}' has 'append' but no macro by that name is "
                               "defined earlier", file, item,
                               hint="define the macro first, or load its file first"))
            prev.cond.append(cond_text, file, cond_node)
            prev.visibility = ordinal
            return
        cond = _Cond()
        cond.append(cond_text, file, cond_node)
        prev = self.macros.get(name)
        index = prev.index if prev else ordinal
        self.macros[name] = _MacroInfo(name, cond, file, item, index, ordinal)

    def read_exceptions(self, file: str, keys: dict, rule: str, *,
                        append: bool) -> list[_ExcInfo] | None:
        if "exceptions" not in keys:
            return None
        node = keys["exceptions"][1]
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_err(f"rule '{rule}': exceptions must be a sequence", file, node))
        out: list[_ExcInfo] = []
        for ex in node.value:
            if not isinstance(ex, yaml.MappingNode):
                self.fail(_err(f"rule '{rule}': rule exception must be a mapping", file, ex))
            ek = _mapping(ex)
            name = self.scalar(file, ek, "name", ex)
            if any(o.name == name for o in out):
                self.warn(f"multiple definitions of exception '{name}' in the same rule",
                          file, ex, rule)
            fields = self._exc_entry(file, ek, "fields", required=not append)
            comps = self._exc_entry(file, ek, "comps", required=False)
            values: list[Any] = []
            if "values" in ek:
                vnode = ek["values"][1]
                if not isinstance(vnode, yaml.SequenceNode):
                    self.fail(_err(f"rule '{rule}': exception '{name}': values must be a "
                                   "sequence", file, vnode))
                for v in vnode.value:
                    values.append(self._exc_value(file, v))
            elif append:
                self.warn("overriding/appending exception with no values", file, ex, rule)
            out.append(_ExcInfo(name, fields, comps, values, file, ex))
        return out

    def _exc_entry(self, file: str, keys: dict, key: str, *,
                   required: bool) -> str | list[str] | None:
        if key not in keys:
            return None
        node = keys[key][1]
        if isinstance(node, yaml.ScalarNode):
            if not node.value:
                self.fail(_err(f"value for '{key}' must be non-empty", file, node))
            return node.value
        if isinstance(node, yaml.SequenceNode):
            out = []
            for v in node.value:
                if not isinstance(v, yaml.ScalarNode):
                    self.fail(_err(f"items of '{key}' must be strings", file, v))
                out.append(v.value)
            return out
        self.fail(_err(f"'{key}' must be a string or a list of strings", file, node))
        return None

    def _exc_value(self, file: str, node: yaml.Node) -> str | list[Any]:
        """One entry of ``values``: a string (single-field form) or a list whose items
        are strings or, for list operators, lists of strings."""
        if isinstance(node, yaml.ScalarNode):
            return node.value
        if isinstance(node, yaml.SequenceNode):
            out: list[Any] = []
            for v in node.value:
                if isinstance(v, yaml.ScalarNode):
                    out.append(v.value)
                elif isinstance(v, yaml.SequenceNode) and all(
                        isinstance(x, yaml.ScalarNode) for x in v.value):
                    out.append([x.value for x in v.value])
                else:
                    self.fail(_err("exception value must be a string or a list of strings",
                                   file, v))
            return out
        self.fail(_err("exception value must be a string or a list", file, node))
        return ""

    def priority(self, file: str, keys: dict, item: yaml.Node) -> str:
        text = self.scalar(file, keys, "priority", item)
        name = priority_name(text)
        if name is None:
            self.fail(_err(f"invalid priority '{text}'", file, keys["priority"][1],
                           hint="one of: " + ", ".join(p.lower() for p in PRIORITIES)))
        return name or text  # fail() raised when name is None

    def read_rule(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "rule", item)
        append, add, rep = self.merge_mode("rule", name, file, item, keys,
                                           RULE_APPENDABLE, RULE_REPLACEABLE)
        if add or rep:
            self.override_rule(file, item, keys, name, add, rep)
        elif append:
            self.append_rule(file, item, keys, name, ("condition", "exceptions"))
        elif not any(k in keys for k in ("condition", "output", "desc", "priority")):
            # An item with only `enabled:` toggles an earlier rule.
            enabled = self.boolean(file, keys, "enabled")
            if enabled is None:
                self.fail(_err(f"rule '{name}': item has no mapping for key 'condition'",
                               file, item,
                               hint="a rule needs condition, output, desc and priority; "
                                    "an item with only `enabled:` toggles an earlier rule"))
            prev = self.rules.get(name)
            if prev is None:
                self.fail(_err(f"rule '{name}' has 'enabled' key but no rule by that name "
                               "is defined earlier", file, item,
                               hint="check the rule name, or load its file first"))
            prev.enabled = enabled
            self.next_ordinal()
        else:
            self.define_rule(file, item, keys, name)

    def define_rule(self, file: str, item: yaml.Node, keys: dict, name: str) -> None:
        cond_text = self.scalar(file, keys, "condition", item)
        output = self.scalar(file, keys, "output", item).strip()
        desc = self.scalar(file, keys, "desc", item)
        priority = self.priority(file, keys, item)
        source = self.scalar(file, keys, "source", item, required=False) or SYSCALL_SOURCE
        enabled = self.boolean(file, keys, "enabled")
        warn_evttypes = self.boolean(file, keys, "warn_evttypes")
        skip = self.boolean(file, keys, "skip-if-unknown-filter")
        tags = self.str_seq(file, keys, "tags", item, required=False) or []
        exceptions = self.read_exceptions(file, keys, name, append=False) or []
        prev = self.rules.get(name)
        if prev is not None and prev.source != source:
            self.fail(_err(f"rule '{name}' has been re-defined with a different source "
                           f"({prev.source} -> {source})", file, item))
        for ex in exceptions:
            _validate_or_fail(self, ex, name)
        cond = _Cond()
        cond.append(cond_text, file, keys["condition"][1])
        ordinal = self.next_ordinal()
        self.rules[name] = _RuleInfo(
            name, cond, output, desc, priority, list(dict.fromkeys(tags)), source,
            True if enabled is None else enabled,
            True if warn_evttypes is None else warn_evttypes,
            bool(skip), exceptions, file, item, prev.index if prev else ordinal,
        )

    def _prev_rule(self, file: str, item: yaml.Node, name: str, what: str) -> _RuleInfo:
        prev = self.rules.get(name)
        if prev is None:
            self.fail(_err(f"rule '{name}' has '{what}' but no rule by that name is defined "
                           "earlier", file, item,
                           hint="define the rule first, or load its file first"))
        return prev

    def append_rule(self, file: str, item: yaml.Node, keys: dict, name: str,
                    fields: Sequence[str]) -> None:
        prev = self._prev_rule(file, item, name, "append")
        if not any(k in keys for k in fields):
            self.fail(_err(f"rule '{name}': appended rule must have exceptions or condition "
                           "property", file, item))
        if "condition" in fields and "condition" in keys:
            text = self.scalar(file, keys, "condition", item)
            prev.cond.append(text, file, keys["condition"][1])
        if "output" in fields and "output" in keys:
            prev.output += " " + self.scalar(file, keys, "output", item)
        if "desc" in fields and "desc" in keys:
            prev.desc += " " + self.scalar(file, keys, "desc", item)
        if "tags" in fields and "tags" in keys:
            tags = self.str_seq(file, keys, "tags", item, required=True) or []
            prev.tags = list(dict.fromkeys(prev.tags + tags))
        if "exceptions" in fields and "exceptions" in keys:
            for ex in self.read_exceptions(file, keys, name, append=True) or []:
                old = next((o for o in prev.exceptions if o.name == ex.name), None)
                if old is None:
                    if not ex.values:
                        self.fail(_err(f"rule '{name}': exception '{ex.name}' must have values "
                                       "property with a list of values", file, ex.node))
                    _validate_or_fail(self, ex, name)
                    prev.exceptions.append(ex)
                    continue
                if ex.fields is not None or ex.comps is not None:
                    self.fail(_err(f"rule '{name}': exception '{ex.name}': can not append "
                                   "exception fields or comps to an existing exception, "
                                   "only values", file, ex.node))
                old.values.extend(ex.values)
        self.next_ordinal()

    def override_rule(self, file: str, item: yaml.Node, keys: dict, name: str,
                      add: set[str], rep: set[str]) -> None:
        defined = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if k in keys}
        for key in sorted(add | rep):
            if key not in defined:
                kind = "append" if key in add else "replace"
                self.fail(_err(f"rule '{name}': an {kind} override for '{key}' was specified "
                               f"but '{key}' is not defined", file, item,
                               hint=f"add `{key}:` to the item"))
        for key in sorted(defined - add - rep):
            self.fail(_err(f"rule '{name}': unexpected key '{key}': no corresponding entry "
                           "under 'override' is defined", file, keys[key][0],
                           hint=f"add `{key}: append` or `{key}: replace` under `override:`"))
        if add:
            self.append_rule(file, item, keys, name, tuple(add))
        if rep:
            prev = self._prev_rule(file, item, name, "override")
            if "condition" in rep:
                prev.cond = _Cond()
                prev.cond.append(self.scalar(file, keys, "condition", item), file,
                                 keys["condition"][1])
            if "output" in rep:
                prev.output = self.scalar(file, keys, "output", item)
            if "desc" in rep:
                prev.desc = self.scalar(file, keys, "desc", item)
            if "tags" in rep:
                prev.tags = list(dict.fromkeys(
                    self.str_seq(file, keys, "tags", item, required=True) or []))
            if "priority" in rep:
                prev.priority = self.priority(file, keys, item)
            if "exceptions" in rep:
                exceptions = self.read_exceptions(file, keys, name, append=False) or []
                for ex in exceptions:
                    _validate_or_fail(self, ex, name)
                prev.exceptions = exceptions
            if "enabled" in rep:
                prev.enabled = bool(self.boolean(file, keys, "enabled"))
            if "warn_evttypes" in rep:
                prev.warn_evttypes = bool(self.boolean(file, keys, "warn_evttypes"))
            if "skip-if-unknown-filter" in rep:
                prev.skip_if_unknown_filter = bool(
                    self.boolean(file, keys, "skip-if-unknown-filter"))
            self.next_ordinal()

    # ---- compiling

    def parse(self, cond: _Cond, kind: str, name: str) -> Expr:
        # Not a cycle: the parser imports lark (~40 ms), which every
        # command module would pay for at `ruleopt --help` (they import this loader).
        from ruleopt.rules.parser import ConditionSyntaxError, ParseNote, parse_condition

        notes: list[ParseNote] = []
        try:
            expr = parse_condition(cond.text, notes)
            for note in notes:
                # A rule's warning names the rule in its own field; a macro's in the text.
                rule = name if kind == "rule" else None
                self.warn_at(cond, note.cond_line, note.cond_column,
                             None if rule else f"{kind} '{name}'", note.message, rule)
            return expr
        except ConditionSyntaxError as exc:
            offset = _offset_of(cond.text, exc.cond_line, exc.cond_column)
            seg = _seg_at(cond, offset)
            piece_end = _seg_end(cond, seg)
            line, column = self.sources.locate(
                seg, cond.text[seg.start:piece_end], offset - seg.start)
            where = (f"condition column {exc.cond_column}" if exc.cond_line == 1
                     else f"condition line {exc.cond_line}, column {exc.cond_column}")
            # The parser names the position in its message; we name it once, up front.
            message = _PARSER_WHERE.sub("", exc.message)
            if not seg.exact:
                where += " (in the text generated from the rule's exceptions)"
            self.fail(RuleoptError(
                f"{kind} '{name}': {where}: {message}", file=seg.file, line=line,
                column=column, hint=getattr(exc, "hint", None) or "fix the condition syntax"))
        raise AssertionError("unreachable")

    def warn_at(self, cond: _Cond, cond_line: int, cond_column: int, who: str | None,
                message: str, rule: str | None) -> None:
        """A warning at a position inside a condition, located in the rules file."""
        offset = _offset_of(cond.text, cond_line, cond_column)
        seg = _seg_at(cond, offset)
        line, column = self.sources.locate(
            seg, cond.text[seg.start:_seg_end(cond, seg)], offset - seg.start)
        where = (f"condition column {cond_column}" if cond_line == 1
                 else f"condition line {cond_line}, column {cond_column}")
        prefix = f"{who}: " if who else ""
        self.warnings.append(Warning(f"{prefix}{where}: {message}", seg.file, line, rule,
                                     column))

    def locate_name(self, cond: _Cond, word: str) -> tuple[str, int, int]:
        """File position of the first use of ``word`` as an identifier in ``cond``."""
        m = re.search(rf"(?<![\w.\-]){re.escape(word)}(?![\w.\-])", cond.text)
        seg = _seg_at(cond, m.start() if m else 0)
        offset = (m.start() - seg.start) if m else 0
        line, column = self.sources.locate(seg, cond.text[seg.start:_seg_end(cond, seg)],
                                           offset)
        return seg.file, line, column

    def macro_order(self, macro_asts: dict[str, Expr], depth: dict[str, int]) -> list[str]:
        """Macros in dependency order (post-order, iteratively), filling ``depth`` with
        each macro's expanded depth. Cycles and macros deeper than
        ``MAX_CONDITION_DEPTH`` are reported once, at the macro that causes them, and
        dropped from ``macro_asts`` with every macro that uses them."""
        shape = {n: _ast_depths(a) for n, a in macro_asts.items()}
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
                    depth[done] = _expanded_depth(shape[done][0], refs[done], depth)
                    continue
                ref = step[0]
                if ref not in macro_asts:
                    continue  # undefined: reported when the user is expanded
                if state.get(ref) == 1:
                    cycle = path[path.index(ref):] + [ref]
                    bad.update(cycle[:-1])
                    info = self.macros[ref]
                    self._record(RuleoptError(
                        f"macro '{ref}': circular macro reference {' -> '.join(cycle)}",
                        file=info.file, line=info.node.start_mark.line + 1,
                        column=info.node.start_mark.column + 1,
                        hint="a macro cannot use itself, directly or through other macros"))
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
                self._record(RuleoptError(
                    f"macro '{name}': the condition nests {own:,} levels deep (more than "
                    f"{MAX_CONDITION_DEPTH:,})" if own > MAX_CONDITION_DEPTH else
                    f"macro '{name}': the condition nests {depth[name]:,} levels deep once "
                    f"macros are expanded (more than {MAX_CONDITION_DEPTH:,}), through "
                    f"{_chain(name, refs, depth)}", file=info.file,
                    line=info.node.start_mark.line + 1,
                    column=info.node.start_mark.column + 1,
                    hint="flatten the condition (fewer nested not/and/or levels)"
                    if own > MAX_CONDITION_DEPTH else
                    "a macro chain that long cannot be evaluated; shorten the chain "
                    "or combine the macros with `or`/`and` at one level"))
            else:
                out.append(name)
        for name in bad:
            macro_asts.pop(name, None)
        return out

    def _record(self, err: RuleoptError) -> None:
        """``fail`` for errors found outside any one item: raise or record, never skip."""
        try:
            self.fail(err)
        except _SkipItem:
            pass

    def compile(self) -> RuleSet:
        macro_asts: dict[str, Expr] = {}
        for m in self.macros.values():
            try:
                macro_asts[m.name] = self.guarded(self.parse, (m.cond, "macro", m.name),
                                                  "macro", m.name, m.file, m.node)
            except _SkipItem:
                continue
        # Falco resolves each macro against the macros defined before it (by first
        # definition), up to its own last definition or append.
        for m in self.macros.values():
            if m.name not in macro_asts:
                continue
            try:
                for ref in _macro_refs(macro_asts[m.name]):
                    other = self.macros.get(ref)
                    if other is None or other.index >= m.visibility:
                        file, line, col = self.locate_name(m.cond, ref)
                        later = other is not None
                        self.fail(RuleoptError(
                            f"macro '{m.name}': undefined macro '{ref}'"
                            + (" (it is defined later; macros can only use earlier macros)"
                               if later else ""),
                            file=file, line=line, column=col,
                            hint=(f"move macro '{ref}' above macro '{m.name}'" if later else
                                  f"define `- macro: {ref}` earlier, or check the spelling")))
            except _SkipItem:
                macro_asts.pop(m.name, None)
        expander = _Expander(self, macro_asts)
        # Dependencies first, so expanding one macro never recurses into another: a
        # chain of 12,000 macros is 12,000 steps, not 12,000 nested calls.
        for name in self.macro_order(macro_asts, expander.depth):
            try:
                expander.macro(name, ())
            except _SkipItem:
                macro_asts.pop(name, None)

        rules: list[Rule] = []
        for info in self.rules.values():
            try:
                rules.append(self.guarded(self.compile_rule, (info, expander, len(rules)),
                                          "rule", info.name, info.file, info.node))
            except _SkipItem:
                continue

        return RuleSet(
            rules=tuple(rules),
            macros={
                m.name: MacroDef(m.name, macro_asts[m.name], m.file, m.node.start_mark.line + 1,
                                 m.cond.text)
                for m in self.macros.values() if m.name in macro_asts
            },
            lists={
                li.name: ListDef(li.name, tuple(li.items), li.file, li.node.start_mark.line + 1)
                for li in self.lists.values()
            },
            required_engine_version=self.engine_version[1] if self.engine_version else None,
            required_plugin_versions=tuple(self.plugin_versions),
            warnings=tuple(self.warnings),
        )

    def validate_condition(self, expanded: Expr, info: _RuleInfo, cond: _Cond,
                           line: int) -> None:  # fmt: skip
        try:
            _check_sources(expanded, info.source)
            _check_constants(expanded)
        except RuleoptError as err:
            # Point at the first mention of the field the message names, if any.
            word = next((w for w in re.findall(r"'([^']+)'", err.message)
                         if w in cond.text), None)
            file, at_line, col = (self.locate_name(cond, word) if word
                                  else (info.file, line, None))
            self.fail(RuleoptError(f"rule '{info.name}': {err.message}", file=file,
                                   line=at_line, column=col,
                                   hint=err.hint or "fix the field or the value"))

    def guarded(self, step: Callable[..., Any], call: tuple, kind: str, name: str,
                file: str, node: yaml.Node) -> Any:
        """``step(*call)``, turning a RecursionError (a condition deeper than this
        Python's recursion limit allows, yet under ``MAX_CONDITION_DEPTH``) into an
        error located at the item."""
        try:
            return step(*call)
        except RecursionError:
            pass
        self.fail(RuleoptError(
            f"{kind} '{name}': the condition is nested too deeply to process "
            f"(Python's recursion limit is {sys.getrecursionlimit():,})", file=file,
            line=node.start_mark.line + 1, column=node.start_mark.column + 1,
            hint="flatten the condition (fewer nested not/and/or levels or macros)"))
        return None

    def compile_rule(self, info: _RuleInfo, expander: _Expander, rule_id: int) -> Rule:
        cond = _Cond(info.cond.text, list(info.cond.segs))
        exc_fields: list[str] = []
        for ex in info.exceptions:
            text = _exception_text_or_fail(self, ex, info.name)
            if text:
                cond.append("and not " + text, ex.file, ex.node, exact=False)
                fl = ex.fields if isinstance(ex.fields, list) else [ex.fields]
                exc_fields.extend(f for f in fl if f not in exc_fields)
        ast = self.parse(cond, "rule", info.name)
        for ref in _macro_refs(ast):
            if ref not in self.macros:
                file, line, col = self.locate_name(cond, ref)
                self.fail(RuleoptError(
                    f"rule '{info.name}': undefined macro '{ref}'", file=file, line=line,
                    column=col,
                    hint=f"define `- macro: {ref}` (in this or an earlier file), "
                         "or check the spelling"))
        own, refs = _ast_depths(ast)
        if any(r not in expander.macro_asts for r, _ in refs):
            raise _SkipItem  # a macro it uses failed, and that was reported
        depth = _expanded_depth(own, [(r, d) for r, d in refs if r in expander.depth],
                                expander.depth)
        if depth > MAX_CONDITION_DEPTH:
            self.fail(RuleoptError(
                f"rule '{info.name}': the condition nests {depth:,} levels deep once macros "
                f"are expanded (more than {MAX_CONDITION_DEPTH:,})", file=info.file,
                line=info.node.start_mark.line + 1, column=info.node.start_mark.column + 1,
                hint="flatten the condition or shorten the macro chain"))
        expanded = expander.expand(ast, (), cond, f"rule '{info.name}'")
        size = _tree_size(expanded)
        if size > MAX_CONDITION_NODES:
            self.fail(RuleoptError(
                f"rule '{info.name}': the condition expands to {size:,} nodes and list "
                f"values (more than {MAX_CONDITION_NODES:,})", file=info.file,
                line=info.node.start_mark.line + 1,
                hint="a macro used twice per level doubles the size at every level; "
                     "restructure the macros"))
        enabled = info.enabled
        line = info.node.start_mark.line + 1
        known_source = _source_known(info.source)
        if info.skip_if_unknown_filter and known_source:
            unknown = unknown_fields(expanded, info.source)
            if unknown:
                enabled = False
                self.warnings.append(Warning(
                    f"skipped: unknown filter field(s) {', '.join(unknown)} "
                    "(skip-if-unknown-filter is set)", info.file, line, info.name))
        if not known_source:
            # Falco would load it if the plugin were loaded; its fields are taken as
            # that plugin's, unchecked.
            self.warnings.append(Warning(
                f"source '{info.source}' is not a source ruleopt knows the fields of: the "
                "condition's syntax, macros and lists were checked, its fields were not "
                "validated", info.file, line, info.name))
        elif enabled or not info.skip_if_unknown_filter:
            self.validate_condition(expanded, info, cond, line)
        evttypes = evttypes_of(expanded)
        if info.source == SYSCALL_SOURCE and info.warn_evttypes:
            uncoded = uncoded_names(expanded)
            if uncoded and not evttypes.is_empty:  # (an empty set runs everywhere: below)
                self.warnings.append(Warning(
                    f"evt.type value(s) {', '.join(sorted(uncoded))} have no event code of "
                    "their own in libsinsp 2022 (generic syscalls, or unknown names it refuses): "
                    "they select no event type, so Falco's index never gives them to this rule.",
                    info.file, line, info.name))
            if evttypes.complement:
                self.warnings.append(Warning(
                    f"{TOO_MANY_EVTTYPES} It runs on {evttypes.describe()} event types.",
                    info.file, line, info.name))
            elif evttypes.is_empty:
                self.warnings.append(Warning(
                    "Rule's event types are empty for libsinsp 2022 (contradictory evt.type "
                    "tests, or only syscalls without an event code of their own, such as "
                    "epoll_pwait): Falco's index runs it on every event.",
                    info.file, line, info.name))
        return Rule(
            id=rule_id, name=info.name, condition=expanded, output=info.output,
            priority=info.priority, desc=info.desc, tags=tuple(info.tags), source=info.source,
            enabled=enabled, evttypes=evttypes,
            skip_if_unknown_filter=info.skip_if_unknown_filter,
            warn_evttypes=info.warn_evttypes, file=info.file, line=line,
            condition_text=info.cond.text, exception_fields=tuple(exc_fields),
        )


# Expanded conditions are DAGs (a macro used twice is one shared subtree), but every
# consumer walks them as trees; past this size, walking them takes minutes.
MAX_CONDITION_NODES = 200_000


def _tree_size(expr: Expr) -> int:
    """Node count of ``expr`` as a tree, plus the values of its value lists (every tree
    consumer walks those too), computed over the shared DAG in linear time and without
    recursion."""
    memo: dict[int, int] = {}
    todo: list[tuple[Expr, bool]] = [(expr, False)]
    while todo:
        e, kids_done = todo.pop()
        key = id(e)
        if key in memo:
            continue
        kids = _kids(e)
        if kids_done or not kids:
            own = len(e.rhs.items) if isinstance(e, Compare) and isinstance(
                e.rhs, ValueList) else 0
            memo[key] = 1 + own + sum(memo[id(k)] for k in kids)
            continue
        todo.append((e, True))
        todo.extend((k, False) for k in kids if id(k) not in memo)
    return memo[id(expr)]


def _kids(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, (And, Or)):
        return e.items
    if isinstance(e, Not):
        return (e.operand,)
    return ()


# Expanded conditions nest at most this deep: every consumer (printer, evaluator,
# compiler, evttype resolver) walks them recursively. Real rules nest a few dozen levels.
MAX_CONDITION_DEPTH = 1000


def _ast_depths(expr: Expr) -> tuple[int, list[tuple[str, int]]]:
    """Depth of ``expr``'s tree and every macro reference with the depth it sits at."""
    best, refs = 0, []
    todo: list[tuple[Expr, int]] = [(expr, 1)]
    while todo:
        e, d = todo.pop()
        best = max(best, d)
        if isinstance(e, MacroRef):
            refs.append((e.name, d))
        todo.extend((k, d + 1) for k in _kids(e))
    return best, refs


def _expanded_depth(own: int, refs: list[tuple[str, int]], depth: dict[str, int]) -> int:
    # A reference at depth d is replaced by a tree of depth depth[ref]: d - 1 + that.
    return max([own] + [d - 1 + depth.get(r, 1) for r, d in refs])


def _chain(name: str, refs: dict[str, list[tuple[str, int]]],
           depth: dict[str, int]) -> str:
    """The macro chain that makes ``name`` deep, deepest reference first, shortened."""
    chain = [name]
    while len(chain) <= MAX_CONDITION_DEPTH + 1:
        nxt = max(refs.get(chain[-1], ()), key=lambda rd: rd[1] - 1 + depth.get(rd[0], 1),
                  default=None)
        if nxt is None or nxt[0] not in depth or nxt[0] in chain:
            break
        chain.append(nxt[0])
    if len(chain) > 6:
        return " -> ".join(chain[:3]) + f" -> ... ({len(chain) - 5} more) -> " + \
            " -> ".join(chain[-2:])
    return " -> ".join(chain)


def _check_constants(expr: Expr) -> None:
    """What libsinsp's compiler rejects once a condition is expanded: unknown fields,
    bad field arguments, operators a field's type does not support, and constants that do
    not parse (``fd.sport > abc``). The reference evaluator's ``prepare`` does exactly this
    parsing, once, so it is the check."""
    prepare(expr)


def _source_known(source: str) -> bool:
    return source in KNOWN_SOURCES


def _check_sources(expr: Expr, source: str) -> None:
    """Every field of ``expr`` must be one events of ``source`` carry."""
    for fld in sorted(fields_of(expr), key=lambda f: (f.name, f.arg or "")):
        try:
            resolved = resolve(fld)
        except RuleoptError:
            continue  # unknown or malformed: _check_constants says so
        check_source(resolved, source)


def _validate_or_fail(loader: _Loader, ex: _ExcInfo, rule: str) -> None:
    try:
        _validate_exception(ex, rule)
    except RuleoptError as err:
        loader.fail(err)


def _exception_text_or_fail(loader: _Loader, ex: _ExcInfo, rule: str) -> str:
    try:
        return _exception_text(ex, rule)
    except RuleoptError as err:
        loader.fail(err)
        return ""


def _offset_of(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, column - 1)


def _seg_at(cond: _Cond, offset: int) -> _Seg:
    found = cond.segs[0]
    for seg in cond.segs:
        if seg.start <= offset:
            found = seg
    return found


def _seg_end(cond: _Cond, seg: _Seg) -> int:
    idx = cond.segs.index(seg)
    if idx + 1 < len(cond.segs):
        return cond.segs[idx + 1].start - 1  # minus the joining space
    return len(cond.text)


def _macro_refs(expr: Expr) -> list[str]:
    """Macro names ``expr`` uses, in order of first use (iteratively: any depth)."""
    seen: dict[str, None] = {}
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, MacroRef):
            seen.setdefault(node.name, None)
        todo.extend(reversed(_kids(node)))
    return list(seen)


def _unquote(text: str) -> str:
    """A list item as the condition parser would read it once substituted into the text:
    an item written with quotes is a quoted literal, anything else is taken verbatim."""
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        from ruleopt.rules.parser import unescape  # lark only when parsing: see parse()

        try:
            return unescape(text)
        except ValueError:
            return text[1:-1]
    return text


class _Expander:
    """Inlines macros and lists, memoised; detects cycles."""

    def __init__(self, loader: _Loader, macro_asts: dict[str, Expr]) -> None:
        self.loader = loader
        self.macro_asts = macro_asts
        self.macro_done: dict[str, Expr] = {}
        self.depth: dict[str, int] = {}  # expanded depth per macro (Loader.macro_order)
        self.list_done: dict[str, tuple[Value, ...]] = {}
        self.list_failed: set[str] = set()
        self.built_items = 0

    def macro(self, name: str, stack: tuple[str, ...]) -> Expr:
        if name in self.macro_done:
            return self.macro_done[name]
        info = self.loader.macros[name]
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            self.loader.fail(RuleoptError(
                f"macro '{name}': circular macro reference {cycle}", file=info.file,
                line=info.node.start_mark.line + 1, column=info.node.start_mark.column + 1,
                hint="a macro cannot use itself, directly or through other macros"))
        if name not in self.macro_asts:
            # Its definition failed already (collect mode); skip whoever uses it.
            raise _SkipItem
        out = self.expand(self.macro_asts[name], stack + (name,), info.cond,
                          f"macro '{name}'")
        self.macro_done[name] = out
        return out

    def expand(self, expr: Expr, stack: tuple[str, ...], cond: _Cond, who: str) -> Expr:
        if isinstance(expr, MacroRef):
            if expr.name not in self.loader.macros:
                file, line, col = self.loader.locate_name(cond, expr.name)
                self.loader.fail(RuleoptError(
                    f"{who}: undefined macro '{expr.name}'", file=file, line=line, column=col,
                    hint=f"define `- macro: {expr.name}` earlier, or check the spelling"))
            return self.macro(expr.name, stack)
        if isinstance(expr, Not):
            inner = self.expand(expr.operand, stack, cond, who)
            return expr if inner is expr.operand else Not(inner)
        if isinstance(expr, (And, Or)):
            items = tuple(self.expand(i, stack, cond, who) for i in expr.items)
            if all(a is b for a, b in zip(items, expr.items, strict=True)):
                return expr
            return type(expr)(items)
        if isinstance(expr, Compare) and isinstance(expr.rhs, ValueList):
            if any(isinstance(i, ListRef) for i in expr.rhs.items):
                values: list[Value] = []
                for item in expr.rhs.items:
                    if isinstance(item, ListRef):
                        values.extend(self.list_values(item.name, (), who))
                    else:
                        values.append(item)
                return Compare(expr.lhs, expr.op, ValueList(tuple(values)))
        return expr

    def list_values(self, name: str, stack: tuple[str, ...], who: str) -> tuple[Value, ...]:
        """A bare word in a value list: a list's items (recursively), or itself."""
        info = self.loader.lists.get(name)
        if info is None:
            return (Value(name),)
        if name not in self.list_done:
            self.expand_list(name)
        return self.list_done[name]

    def expand_list(self, root: str) -> None:
        """Expand ``root`` without recursion, in time linear in the lists and the items
        built: sizes first (an exponential list is refused before anything is built),
        then the items of ``root`` and of the lists named more than once (kept for
        reuse); a list named once is walked in place, so a 30,000-list chain builds one
        30,000-item tuple, not 30,000 of them."""
        lists = self.loader.lists
        sizes: dict[str, int] = {}
        uses: dict[str, int] = {}
        order: list[str] = []
        path, iters = [root], [iter(lists[root].items)]
        on_path = {root}
        while path:
            item = next(iters[-1], None)
            if item is None:
                done = path.pop()
                iters.pop()
                on_path.discard(done)
                sizes[done] = sum(self._size(i, sizes) for i in lists[done].items)
                order.append(done)
                if sizes[done] > MAX_LIST_ITEMS:
                    self._list_fail(done, f"list '{done}' expands to {sizes[done]:,} items "
                                    f"(more than {MAX_LIST_ITEMS:,})",
                                    "a list that names another list twice per level "
                                    "doubles at every level; list each item once")
                continue
            if item not in lists or item in self.list_done:
                continue
            if item in self.list_failed:
                raise _SkipItem
            uses[item] = uses.get(item, 0) + 1
            if item in sizes:
                continue
            if item in on_path:
                cycle = path[path.index(item):] + [item]
                self.list_failed.update(cycle[:-1])
                self._list_fail(item, f"list '{item}': circular list reference "
                                f"{' -> '.join(cycle)}",
                                "a list cannot contain itself, directly or through other "
                                "lists")
            path.append(item)
            iters.append(iter(lists[item].items))
            on_path.add(item)
        for name in order:  # dependencies first
            if name == root or uses.get(name, 0) > 1:
                self.built_items += sizes[name]
                if self.built_items > MAX_EXPANDED_ITEMS:
                    self._list_fail(name, f"list '{name}': expanding the lists builds more "
                                    f"than {MAX_EXPANDED_ITEMS:,} items in all",
                                    "many large lists that name each other; merge them")
                self.list_done[name] = self._flatten(name)

    def _size(self, item: str, sizes: dict[str, int]) -> int:
        if item not in self.loader.lists:
            return 1
        done = self.list_done.get(item)
        return len(done) if done is not None else sizes[item]

    def _flatten(self, name: str) -> tuple[Value, ...]:
        """``name``'s items, walking unexpanded lists in place (each is named once)."""
        lists = self.loader.lists
        out: list[Value] = []
        iters = [iter(lists[name].items)]
        while iters:
            item = next(iters[-1], None)
            if item is None:
                iters.pop()
            elif item not in lists:
                out.append(Value(_unquote(item)))
            elif item in self.list_done:
                out.extend(self.list_done[item])
            else:
                iters.append(iter(lists[item].items))
        return tuple(out)

    def _list_fail(self, name: str, message: str, hint: str) -> None:
        self.list_failed.add(name)
        li = self.loader.lists[name]
        self.loader.fail(RuleoptError(message, file=li.file, line=li.node.start_mark.line + 1,
                                      column=li.node.start_mark.column + 1, hint=hint))


# Items of one list once the lists it names are expanded; far past any real list.
MAX_LIST_ITEMS = 200_000
# Items built for all expanded lists of one load.
MAX_EXPANDED_ITEMS = 5_000_000


# --------------------------------------------------------------------------- fields hook


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


# --------------------------------------------------------------------------- public API


def load_rules(paths: Sequence[Path | str] | Path | str) -> RuleSet:
    """Load rules files in order and return the merged, expanded ``RuleSet``.

    Raises ``RuleoptError`` at the first error, located at file:line:column.
    """
    loader = _Loader(strict=True)
    with _no_gc():
        for path in _as_list(paths):
            loader.read_file(path)
        return loader.compile()


def load_rules_collect(
    paths: Sequence[Path | str] | Path | str,
) -> tuple[RuleSet, list[RuleoptError]]:
    """Like ``load_rules`` but keeps going: bad items and rules are dropped and every
    error is returned. A file that is not valid YAML contributes nothing."""
    loader = _Loader(strict=False)
    with _no_gc():
        for path in _as_list(paths):
            loader.read_file(path)
        ruleset = loader.compile()
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
