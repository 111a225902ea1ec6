"""Rules-file bytes -> YAML node trees, hardened against hostile input.

PyYAML's own composer is recursive (a 50,000-deep ``[[[...]]]`` ends in RecursionError),
builds cyclic graphs from recursive aliases (``&a [*a]``), lets aliases multiply a small
file into billions of nodes ("billion laughs"), silently keeps the last of duplicate keys
and resolves any tag on construction (``!!timestamp 2020-99-99`` is a ValueError,
``!!python/object`` a constructor error). This module composes the same ``yaml.Node``
trees from PyYAML's event stream, iteratively, and refuses each of those with a
``RuleoptError`` located at the node (file:line:column):

- nesting deeper than ``MAX_DEPTH`` collections (real rules files nest about 6 deep);
- more than ``MAX_NODES`` nodes once aliases are expanded, and aliases to a node that
  is still open (cycles);
- explicit tags other than the core schema's ``!!str``/``!!int``/``!!float``/``!!bool``/
  ``!!null``/``!!seq``/``!!map``, and core tags whose value does not parse as that type;
- merge keys (``<<``), non-scalar mapping keys and duplicate keys.

Nothing is ever constructed into Python objects here, so no tag can run code.
"""

from __future__ import annotations

import yaml

from ruleopt.errors import RuleoptError

# libyaml's event parser when PyYAML has it (14x faster); the same events and marks
# (character offsets) as the pure-Python one.
_EVENT_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
MAX_NODES = 1_000_000

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null"))
_BOOL_VALUES = yaml.constructor.SafeConstructor.bool_values


def decode(data: bytes, file: str) -> str:
    """``data`` as UTF-8 text with universal newlines (as ``Path.read_text`` reads it, so
    positions count ``\r\n`` as one line break); a bad byte is reported with its line,
    column and byte offset."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line_start = data.rfind(b"\n", 0, pos) + 1
        line = data.count(b"\n", 0, pos) + 1
        # Column in characters, counting what precedes the bad byte on its line.
        column = len(data[line_start:pos].decode("utf-8", errors="replace")) + 1
        raise RuleoptError(
            f"rules file is not UTF-8 text: byte 0x{data[pos]:02x} at byte offset {pos} "
            f"({exc.reason})",
            file=file,
            line=line,
            column=column,
            hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
        ) from None


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def scalar_value(node: yaml.ScalarNode) -> str | bool | None:
    """A scalar as the loader needs it: null, a boolean, or its text (numbers, dates and
    versions stay text: Falco reads them as strings)."""
    if node.tag == _CORE + "null":
        return None
    if node.tag == _CORE + "bool":
        return _BOOL_VALUES[node.value.lower()]
    return node.value


def to_plain(node: yaml.Node) -> object:
    """A node as dicts, lists and ``scalar_value``s. Depth and size are bounded by the
    composer, so plain recursion is safe here."""
    if isinstance(node, yaml.ScalarNode):
        return scalar_value(node)
    if isinstance(node, yaml.SequenceNode):
        return [to_plain(v) for v in node.value]
    return {str(k.value): to_plain(v) for k, v in node.value}


class _Frame:
    __slots__ = ("node", "size", "key", "keys")

    def __init__(self, node: yaml.Node) -> None:
        self.node = node
        self.size = 1
        self.key: yaml.Node | None = None  # a mapping's key waiting for its value
        self.keys: dict[str, yaml.Node] = {}


class _Composer:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.loader = _EVENT_LOADER(text)

    def err(self, message: str, mark: yaml.Mark, hint: str | None = None) -> RuleoptError:
        return RuleoptError(
            message, file=self.file, line=mark.line + 1, column=mark.column + 1, hint=hint
        )

    def documents(self) -> list[yaml.Node | None]:
        ld = self.loader
        try:
            ld.get_event()  # StreamStart
            docs: list[yaml.Node | None] = []
            while not ld.check_event(yaml.StreamEndEvent):
                ld.get_event()  # DocumentStart
                docs.append(self.document())
                ld.get_event()  # DocumentEnd
            return docs
        finally:
            ld.dispose()

    def where(self, stack: list[_Frame]) -> str:
        """Which top-level item the innermost open node is in, for error messages."""
        if len(stack) < 2 or not isinstance(stack[0].node, yaml.SequenceNode):
            return ""
        item = stack[1].node
        index = len(stack[0].node.value) + 1
        if isinstance(item, yaml.MappingNode):
            pending = [(stack[1].key, None)] if stack[1].key is not None else []
            for k, v in item.value + pending:
                if k.value in ("rule", "macro", "list") and isinstance(v, yaml.ScalarNode):
                    return f" (in item {index}, {k.value} '{v.value}')"
                if k.value in ("required_plugin_versions", "required_engine_version"):
                    return f" (in item {index}, {k.value})"
        return f" (in item {index})"

    def tag(self, event: yaml.NodeEvent, kind: type) -> str:
        ld = self.loader
        explicit = event.tag
        value = event.value if kind is yaml.ScalarNode else None
        if explicit is None or explicit == "!":
            return ld.resolve(kind, value, event.implicit)
        want = {yaml.SequenceNode: _CORE + "seq", yaml.MappingNode: _CORE + "map"}.get(kind)
        if kind is yaml.ScalarNode and explicit in _SCALAR_TAGS:
            if explicit != _CORE + "str" and ld.resolve(kind, value, (True, False)) != explicit:
                raise self.err(
                    f"{value!r} is not a valid {short_tag(explicit)} value",
                    event.start_mark,
                    hint=f"fix the value or drop the {short_tag(explicit)} tag",
                )
            return explicit
        if explicit == want:
            return explicit
        raise self.err(
            f"YAML tag '{short_tag(explicit)}' is not supported in rules files",
            event.start_mark,
            hint="rules files use plain strings, numbers, booleans, lists and "
            "mappings; remove the tag",
        )

    def document(self) -> yaml.Node | None:
        ld = self.loader
        anchors: dict[str, yaml.Node] = {}
        sizes: dict[int, int] = {}
        open_ids: set[int] = set()
        stack: list[_Frame] = []
        total = 0
        root: yaml.Node | None = None
        if ld.check_event(yaml.DocumentEndEvent):
            return None
        while True:
            event = ld.get_event()
            node: yaml.Node
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise self.err(
                        f"undefined YAML alias '*{event.anchor}'",
                        event.start_mark,
                        hint=f"define `&{event.anchor}` before using it",
                    )
                node = anchors[event.anchor]
                if id(node) in open_ids:
                    raise self.err(
                        f"YAML alias '*{event.anchor}' refers to a node that "
                        "contains it (a recursive alias)" + self.where(stack),
                        event.start_mark,
                        hint="aliases cannot form cycles",
                    )
                size = sizes[id(node)]
                total += size
                if total > MAX_NODES:
                    raise self.err(
                        f"YAML aliases expand to more than {MAX_NODES:,} nodes" + self.where(stack),
                        event.start_mark,
                        hint="aliases that repeat aliases multiply the size at every "
                        "level; write the content out or use fewer aliases",
                    )
            elif isinstance(event, yaml.ScalarEvent):
                node = yaml.ScalarNode(
                    self.tag(event, yaml.ScalarNode),
                    event.value,
                    event.start_mark,
                    event.end_mark,
                    style=event.style or None,
                )
                size = 1
                total += 1
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise self.err(
                        f"YAML nested more than {MAX_DEPTH} levels deep" + self.where(stack),
                        event.start_mark,
                        hint="rules files nest a few levels (items, exceptions, values); "
                        "flatten this value",
                    )
                cls = (
                    yaml.SequenceNode
                    if isinstance(event, yaml.SequenceStartEvent)
                    else yaml.MappingNode
                )
                node = cls(
                    self.tag(event, cls),
                    [],
                    event.start_mark,
                    event.end_mark,
                    flow_style=event.flow_style,
                )
                total += 1
                if event.anchor is not None:
                    anchors[event.anchor] = node
                open_ids.add(id(node))
                stack.append(_Frame(node))
                continue
            else:  # SequenceEnd / MappingEnd
                frame = stack.pop()
                node = frame.node
                node.end_mark = event.end_mark
                open_ids.discard(id(node))
                size = frame.size
            if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
                anchors[event.anchor] = node
            sizes[id(node)] = size
            if not stack:
                root = node
                break
            self.attach(stack, node, size)
        if total > MAX_NODES:
            raise self.err(
                f"YAML document has more than {MAX_NODES:,} nodes",
                root.start_mark,
                hint="split the rules file",
            )
        return root

    def attach(self, stack: list[_Frame], node: yaml.Node, size: int) -> None:
        frame = stack[-1]
        frame.size += size
        parent = frame.node
        if isinstance(parent, yaml.SequenceNode):
            parent.value.append(node)
            return
        if frame.key is not None:
            parent.value.append((frame.key, node))
            frame.key = None
            return
        if not isinstance(node, yaml.ScalarNode):
            raise self.err(
                "mapping keys must be plain strings, not a "
                + ("list" if isinstance(node, yaml.SequenceNode) else "mapping")
                + self.where(stack),
                node.start_mark,
                hint="write `key: value` with a string key",
            )
        if node.tag == _CORE + "merge":
            raise self.err(
                "YAML merge keys (<<) are not supported in rules files" + self.where(stack),
                node.start_mark,
                hint="write the merged keys out in this mapping",
            )
        first = frame.keys.get(node.value)
        if first is not None:
            raise self.err(
                f"duplicate key '{node.value}' in this mapping (first at line "
                f"{first.start_mark.line + 1})" + self.where(stack),
                node.start_mark,
                hint="keep one of the two",
            )
        frame.keys[node.value] = node
        frame.key = node


def bad_character(text: str) -> tuple[int, int] | None:
    """(character offset, code point) of the first character YAML forbids, or None.

    libyaml reports a byte offset; PyYAML's own reader finds the character offset."""
    try:
        yaml.reader.Reader(text)
    except yaml.reader.ReaderError as exc:
        char = exc.character
        return exc.position, char if isinstance(char, int) else ord(char)
    return None


def compose_documents(text: str, file: str) -> list[yaml.Node | None]:
    """Every document of ``text`` as a node tree (``None`` for an empty document).

    Raises ``RuleoptError`` for the limits above and ``yaml.YAMLError`` for syntax errors
    (the caller locates those).
    """
    return _Composer(text, file).documents()
