"""The reader (Falco's ``rule_loader_reader``): rules YAML, composed by ``yamlsafe``, item
by item into the collector, every key checked and located."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ruleopt.errors import RuleoptError
from ruleopt.rules import yamlsafe
from ruleopt.rules.load_collector import Collector, ExcInfo, RuleInfo, SkipItem
from ruleopt.rules.load_exceptions import validate_exception
from ruleopt.rules.load_positions import Cond, located
from ruleopt.rules.model import PRIORITIES, SYSCALL_SOURCE, priority_name

RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = (
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
)


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
        out[key] = (k, v)
    return out


def to_python(node: yaml.Node) -> Any:
    # Never PyYAML's constructor: tags were checked by yamlsafe, values stay text.
    return yamlsafe.to_plain(node)


class Reader(Collector):
    """Reads files into the collector's state (``Collector``)."""

    # ---- reading

    def read_file(self, path: Path | str) -> None:
        file = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.fail_file(
                RuleoptError(
                    f"cannot read rules file: {exc.strerror or exc}",
                    file=file,
                    hint="check the path",
                )
            )
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
            self.fail_file(
                located(
                    f"invalid YAML: {problem}",
                    file,
                    mark,
                    hint="fix the YAML syntax (indentation, quotes, colons)",
                )
            )
            return
        except yaml.reader.ReaderError as exc:
            # A character YAML does not allow (control characters, U+FFFE...).
            found = yamlsafe.bad_character(text)
            pos, char = found if found else (0, 0)
            line = text.count("\n", 0, pos) + 1
            column = pos - (text.rfind("\n", 0, pos) + 1) + 1
            self.fail_file(
                RuleoptError(
                    f"invalid YAML: character U+{char:04X} is not allowed in YAML"
                    if found
                    else f"invalid YAML: {exc}",
                    file=file,
                    line=line if found else None,
                    column=column if found else None,
                    hint="remove the control character (tabs and line breaks are fine)",
                )
            )
            return
        except yaml.YAMLError as exc:
            self.fail_file(RuleoptError(f"invalid YAML: {exc}", file=file))
            return
        for doc in docs:
            if doc is None or is_null(doc):
                continue
            if not isinstance(doc, yaml.SequenceNode):
                self.fail_file(
                    located(
                        "rules content is not a YAML sequence of items",
                        file,
                        doc,
                        hint="a rules file is a list: `- rule: ...`, `- macro: ...`, `- list: ...`",
                    )
                )
                return
            for item in doc.value:
                if is_null(item):
                    continue
                try:
                    self.read_item(file, item)
                except SkipItem:
                    continue

    def fail_file(self, err: RuleoptError) -> None:
        try:
            self.fail(err)
        except SkipItem:
            pass

    def read_item(self, file: str, item: yaml.Node) -> None:
        if not isinstance(item, yaml.MappingNode):
            self.fail(
                located(
                    "unexpected element type: each item must be a YAML mapping",
                    file,
                    item,
                    hint="start items with `- rule:`, `- macro:` or `- list:`",
                )
            )
        keys = mapping(item)
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
            self.fail(
                located(
                    f"unknown top-level item (keys: {found})",
                    file,
                    item,
                    hint="items are `rule`, `macro`, `list`, "
                    "`required_engine_version` or `required_plugin_versions`",
                )
            )

    def scalar(
        self, file: str, keys: dict, key: str, item: yaml.Node, *, required: bool = True
    ) -> str | None:
        if key not in keys:
            if required:
                self.fail(
                    located(
                        f"item has no mapping for key '{key}'", file, item, hint=f"add `{key}:`"
                    )
                )
            return None
        node = keys[key][1]
        if is_null(node):
            self.fail(
                located(
                    f"mapping for key '{key}' is empty", file, node, hint=f"give `{key}` a value"
                )
            )
        if not isinstance(node, yaml.ScalarNode):
            self.fail(located(f"value for key '{key}' is not a scalar value", file, node))
        if node.value == "" and required:
            self.fail(located(f"value for key '{key}' must be non-empty", file, node))
        return node.value

    def boolean(self, file: str, keys: dict, key: str) -> bool | None:
        if key not in keys:
            return None
        node = keys[key][1]
        value = to_python(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.fail(located(f"value for key '{key}' must be true or false", file, node))
        return value

    def str_seq(
        self, file: str, keys: dict, key: str, item: yaml.Node, *, required: bool
    ) -> list[str] | None:
        if key not in keys:
            if required:
                self.fail(
                    located(
                        f"item has no mapping for key '{key}'",
                        file,
                        item,
                        hint=f"add `{key}: [...]`",
                    )
                )
            return None
        node = keys[key][1]
        if not isinstance(node, yaml.SequenceNode):
            self.fail(located(f"value for key '{key}' is not a sequence", file, node))
        out = []
        for v in node.value:
            if not isinstance(v, yaml.ScalarNode):
                self.fail(located(f"sequence value in '{key}' is not scalar", file, v))
            out.append(v.value)
        return out

    def overrides(
        self, file: str, keys: dict, appendable: Sequence[str], replaceable: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        if "override" not in keys:
            return set(), set()
        node = keys["override"][1]
        if not isinstance(node, yaml.MappingNode):
            self.fail(located("'override' must be a mapping of key: append|replace", file, node))
        add, rep = set(), set()
        for k, v in node.value:
            key, op = k.value, getattr(v, "value", None)
            if op == "append":
                if key not in appendable:
                    self.fail(
                        located(
                            f"key '{key}' cannot be appended to, use 'replace' instead", file, k
                        )
                    )
                add.add(key)
            elif op == "replace":
                if key not in replaceable:
                    self.fail(located(f"key '{key}' cannot be replaced", file, k))
                rep.add(key)
            else:
                allowed = [
                    w
                    for w, ok in (("append", key in appendable), ("replace", key in replaceable))
                    if ok
                ]
                self.fail(
                    located(
                        f"invalid override operation for key '{key}': '{op}'",
                        file,
                        v,
                        hint="allowed values: " + (", ".join(allowed) or "none"),
                    )
                )
        return add, rep

    def read_engine_version(self, file: str, node: yaml.Node) -> None:
        if not isinstance(node, yaml.ScalarNode) or not node.value:
            self.fail(located("required_engine_version must be a version", file, node))
        text = node.value
        if re.fullmatch(r"\d+", text):
            # Falco reads a bare integer N as engine version 0.N.0.
            key: tuple[int, ...] = (0, int(text), 0)
        elif re.fullmatch(r"\d+\.\d+\.\d+", text):
            key = tuple(int(p) for p in text.split("."))
        else:
            self.fail(
                located(
                    f"unable to parse engine version '{text}' as a semver string",
                    file,
                    node,
                    hint='expected "x.y.z" or an integer',
                )
            )
        if self.engine_version is None or self.engine_version[0] < key:
            self.engine_version = (key, text)

    def read_plugin_versions(self, file: str, node: yaml.Node) -> None:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(located("value of required_plugin_versions must be a sequence", file, node))
        for entry in node.value:
            value = to_python(entry)
            if not isinstance(value, dict) or "name" not in value or "version" not in value:
                self.fail(
                    located("plugin version must be a mapping with name and version", file, entry)
                )
            self.plugin_versions.append(value)

    def merge_mode(
        self,
        kind: str,
        name: str,
        file: str,
        item: yaml.Node,
        keys: dict,
        appendable: Sequence[str],
        replaceable: Sequence[str],
    ) -> tuple[bool, Any, Any]:
        """``(append, override-append keys, override-replace keys)`` of one item; the
        legacy ``append: true`` and ``override:`` cannot be combined."""
        append = bool(self.boolean(file, keys, "append"))
        add, rep = self.overrides(file, keys, appendable, replaceable)
        if append and (add or rep):
            self.fail(
                located(
                    f"{kind} '{name}': 'append' and 'override' cannot be used together",
                    file,
                    item,
                    hint="keep `override:` and drop `append: true`",
                )
            )
        return append, add, rep

    def read_list(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "list", item)
        items = self.str_seq(file, keys, "items", item, required=True)
        append, add, _ = self.merge_mode("list", name, file, item, keys, ("items",), ("items",))
        append = append or "items" in add
        self.add_list(name, items, file, item, append=append)

    def read_macro(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "macro", item)
        cond_text = self.scalar(file, keys, "condition", item)
        append, add, _ = self.merge_mode(
            "macro", name, file, item, keys, ("condition",), ("condition",)
        )
        append = append or "condition" in add
        self.add_macro(name, cond_text, file, keys["condition"][1], item, append=append)

    def read_exceptions(
        self, file: str, keys: dict, rule: str, *, append: bool
    ) -> list[ExcInfo] | None:
        if "exceptions" not in keys:
            return None
        node = keys["exceptions"][1]
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(located(f"rule '{rule}': exceptions must be a sequence", file, node))
        out: list[ExcInfo] = []
        for ex in node.value:
            if not isinstance(ex, yaml.MappingNode):
                self.fail(located(f"rule '{rule}': rule exception must be a mapping", file, ex))
            ek = mapping(ex)
            name = self.scalar(file, ek, "name", ex)
            if any(o.name == name for o in out):
                self.warn(
                    f"multiple definitions of exception '{name}' in the same rule", file, ex, rule
                )
            fields = self._exc_entry(file, ek, "fields", required=not append)
            comps = self._exc_entry(file, ek, "comps", required=False)
            values: list[Any] = []
            if "values" in ek:
                vnode = ek["values"][1]
                if not isinstance(vnode, yaml.SequenceNode):
                    self.fail(
                        located(
                            f"rule '{rule}': exception '{name}': values must be a sequence",
                            file,
                            vnode,
                        )
                    )
                for v in vnode.value:
                    values.append(self._exc_value(file, v))
            elif append:
                self.warn("overriding/appending exception with no values", file, ex, rule)
            out.append(ExcInfo(name, fields, comps, values, file, ex))
        return out

    def _exc_entry(
        self, file: str, keys: dict, key: str, *, required: bool
    ) -> str | list[str] | None:
        if key not in keys:
            return None
        node = keys[key][1]
        if isinstance(node, yaml.ScalarNode):
            if not node.value:
                self.fail(located(f"value for '{key}' must be non-empty", file, node))
            return node.value
        if isinstance(node, yaml.SequenceNode):
            out = []
            for v in node.value:
                if not isinstance(v, yaml.ScalarNode):
                    self.fail(located(f"items of '{key}' must be strings", file, v))
                out.append(v.value)
            return out
        self.fail(located(f"'{key}' must be a string or a list of strings", file, node))
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
                    isinstance(x, yaml.ScalarNode) for x in v.value
                ):
                    out.append([x.value for x in v.value])
                else:
                    self.fail(
                        located("exception value must be a string or a list of strings", file, v)
                    )
            return out
        self.fail(located("exception value must be a string or a list", file, node))
        return ""

    def priority(self, file: str, keys: dict, item: yaml.Node) -> str:
        text = self.scalar(file, keys, "priority", item)
        name = priority_name(text)
        if name is None:
            self.fail(
                located(
                    f"invalid priority '{text}'",
                    file,
                    keys["priority"][1],
                    hint="one of: " + ", ".join(p.lower() for p in PRIORITIES),
                )
            )
        return name or text  # fail() raised when name is None

    def read_rule(self, file: str, item: yaml.Node, keys: dict) -> None:
        name = self.scalar(file, keys, "rule", item)
        append, add, rep = self.merge_mode(
            "rule", name, file, item, keys, RULE_APPENDABLE, RULE_REPLACEABLE
        )
        if add or rep:
            self.override_rule(file, item, keys, name, add, rep)
        elif append:
            self.append_rule(file, item, keys, name, ("condition", "exceptions"))
        elif not any(k in keys for k in ("condition", "output", "desc", "priority")):
            # An item with only `enabled:` toggles an earlier rule.
            enabled = self.boolean(file, keys, "enabled")
            if enabled is None:
                self.fail(
                    located(
                        f"rule '{name}': item has no mapping for key 'condition'",
                        file,
                        item,
                        hint="a rule needs condition, output, desc and priority; "
                        "an item with only `enabled:` toggles an earlier rule",
                    )
                )
            self.enable_rule(name, enabled, file, item)
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
        self.check_same_source(name, source, file, item)
        for ex in exceptions:
            self.validate_or_fail(ex, name)
        cond = Cond()
        cond.append(cond_text, file, keys["condition"][1])
        self.put_rule(
            RuleInfo(
                name,
                cond,
                output,
                desc,
                priority,
                list(dict.fromkeys(tags)),
                source,
                True if enabled is None else enabled,
                True if warn_evttypes is None else warn_evttypes,
                bool(skip),
                exceptions,
                file,
                item,
            )
        )

    def validate_or_fail(self, ex: ExcInfo, rule: str) -> None:
        try:
            validate_exception(ex, rule)
        except RuleoptError as err:
            self.fail(err)

    def append_rule(
        self, file: str, item: yaml.Node, keys: dict, name: str, fields: Sequence[str]
    ) -> None:
        prev = self.prev_rule(file, item, name, "append")
        if not any(k in keys for k in fields):
            self.fail(
                located(
                    f"rule '{name}': appended rule must have exceptions or condition property",
                    file,
                    item,
                )
            )
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
                        self.fail(
                            located(
                                f"rule '{name}': exception '{ex.name}' must have values "
                                "property with a list of values",
                                file,
                                ex.node,
                            )
                        )
                    self.validate_or_fail(ex, name)
                    prev.exceptions.append(ex)
                    continue
                if ex.fields is not None or ex.comps is not None:
                    self.fail(
                        located(
                            f"rule '{name}': exception '{ex.name}': can not append "
                            "exception fields or comps to an existing exception, "
                            "only values",
                            file,
                            ex.node,
                        )
                    )
                old.values.extend(ex.values)
        self.next_ordinal()

    def override_rule(
        self, file: str, item: yaml.Node, keys: dict, name: str, add: set[str], rep: set[str]
    ) -> None:
        defined = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if k in keys}
        for key in sorted(add | rep):
            if key not in defined:
                kind = "append" if key in add else "replace"
                self.fail(
                    located(
                        f"rule '{name}': an {kind} override for '{key}' was specified "
                        f"but '{key}' is not defined",
                        file,
                        item,
                        hint=f"add `{key}:` to the item",
                    )
                )
        for key in sorted(defined - add - rep):
            self.fail(
                located(
                    f"rule '{name}': unexpected key '{key}': no corresponding entry "
                    "under 'override' is defined",
                    file,
                    keys[key][0],
                    hint=f"add `{key}: append` or `{key}: replace` under `override:`",
                )
            )
        if add:
            self.append_rule(file, item, keys, name, tuple(add))
        if rep:
            prev = self.prev_rule(file, item, name, "override")
            if "condition" in rep:
                prev.cond = Cond()
                prev.cond.append(
                    self.scalar(file, keys, "condition", item), file, keys["condition"][1]
                )
            if "output" in rep:
                prev.output = self.scalar(file, keys, "output", item)
            if "desc" in rep:
                prev.desc = self.scalar(file, keys, "desc", item)
            if "tags" in rep:
                prev.tags = list(
                    dict.fromkeys(self.str_seq(file, keys, "tags", item, required=True) or [])
                )
            if "priority" in rep:
                prev.priority = self.priority(file, keys, item)
            if "exceptions" in rep:
                exceptions = self.read_exceptions(file, keys, name, append=False) or []
                for ex in exceptions:
                    self.validate_or_fail(ex, name)
                prev.exceptions = exceptions
            if "enabled" in rep:
                prev.enabled = bool(self.boolean(file, keys, "enabled"))
            if "warn_evttypes" in rep:
                prev.warn_evttypes = bool(self.boolean(file, keys, "warn_evttypes"))
            if "skip-if-unknown-filter" in rep:
                prev.skip_if_unknown_filter = bool(
                    self.boolean(file, keys, "skip-if-unknown-filter")
                )
            self.next_ordinal()
