"""The rules file written back with a real YAML emitter, node by node.

The input files are composed with the loader's hostile-input composer
(``ruleopt.rules.yamlsafe``); every item keeps its nodes (keys, order, scalar styles and
tags: a number stays a number, ``enabled: false`` a boolean) and only the ``condition``
of rewritten items is replaced. PyYAML's serializer picks a quoting for each scalar that
its resolver reads back as the same tag and text, so the loader reads the same values.
Several input files become one file with their items in load order, which Falco loads
as it loads the files one after the other. Each rewritten item is preceded by YAML
comments saying what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ruleopt.errors import RuleoptError
from ruleopt.rules.yamlsafe import compose_documents, decode

_STR = "tag:yaml.org,2002:str"
KINDS = ("rule", "macro", "list")
# What YAML reads as a line break: inside a comment it would end the comment.
_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")


def _comment(text: str) -> str:
    return "# " + _BREAKS.sub(" ", text) + "\n"


@dataclass
class Item:
    """One top-level item: its node, kind and name (None for other items), file."""

    node: yaml.Node
    kind: str | None
    name: str | None
    file: str
    append: bool = False


def _key(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def read_items(files: list[Path | str]) -> list[Item]:
    """Every top-level item of ``files``, in load order."""
    items: list[Item] = []
    for f in files:
        text = decode(Path(f).read_bytes(), str(f))
        for doc in compose_documents(text, str(f)):
            if doc is None:
                continue
            if not isinstance(doc, yaml.SequenceNode):
                raise RuleoptError(
                    "a rules file is a list of items", file=str(f), line=doc.start_mark.line + 1
                )
            for node in doc.value:
                kind = name = None
                append = False
                if isinstance(node, yaml.MappingNode):
                    for k in KINDS:
                        v = _key(node, k)
                        if isinstance(v, yaml.ScalarNode):
                            kind, name = k, v.value
                            break
                    a = _key(node, "append")
                    append = isinstance(a, yaml.ScalarNode) and a.value.lower() == "true"
                    # Falco 0.3x's `override:` also changes an item later on.
                    append = append or _key(node, "override") is not None
                items.append(Item(node, kind, name, str(f), append))
    return items


def condition_of(item: Item) -> str | None:
    v = _key(item.node, "condition") if isinstance(item.node, yaml.MappingNode) else None
    return v.value if isinstance(v, yaml.ScalarNode) else None


def with_condition(item: Item, text: str) -> yaml.MappingNode:
    """The item's node with its condition replaced (other nodes shared, not copied)."""
    node = item.node
    pairs = [
        (
            k,
            yaml.ScalarNode(_STR, text)
            if isinstance(k, yaml.ScalarNode) and k.value == "condition"
            else v,
        )
        for k, v in node.value
    ]
    return yaml.MappingNode(node.tag, pairs, flow_style=node.flow_style)


def render(nodes: list[yaml.Node], comments: list[list[str]], header: list[str]) -> str:
    """YAML text of one sequence of ``nodes``, ``comments[i]`` before item i."""
    seq = yaml.SequenceNode("tag:yaml.org,2002:seq", nodes, flow_style=False)
    text = yaml.serialize(seq, Dumper=yaml.SafeDumper, allow_unicode=True, width=100)
    # Items of a top-level block sequence start at column 0 with "- "; every other line
    # of an item is indented (mapping keys and scalar continuations alike).
    lines = text.splitlines(keepends=True)
    out = [_comment(h) for h in header]
    k = -1
    for line in lines:
        if line.startswith("- ") or line.rstrip("\n") == "-":
            k += 1
            if comments[k]:
                out.append("\n")
                out.extend(_comment(c) for c in comments[k])
        out.append(line)
    return "".join(out)
