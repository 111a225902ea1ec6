"""Where things are in rules files: the pieces a merged condition text is made of (one
per YAML scalar, through appends and generated exception text) and the file line:column
of a place inside one, so every loader error and warning is located."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ruleopt.errors import RuleoptError


def located(
    message: str, file: str | None, node: yaml.Node | yaml.Mark | None, hint: str | None = None
) -> RuleoptError:
    """A RuleoptError at a YAML node's (or mark's) file:line:column."""
    mark = node.start_mark if isinstance(node, yaml.Node) else node
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return RuleoptError(message, file=file, line=line, column=column, hint=hint)


@dataclass
class Seg:
    """A piece of a merged condition text and the YAML scalar it came from."""

    start: int  # offset of the piece in the merged text
    file: str
    node: yaml.Node
    exact: bool = True  # False for generated text (exceptions): point at the node only


@dataclass
class Cond:
    text: str = ""
    segs: list[Seg] = field(default_factory=list)

    def append(
        self, piece: str, file: str, node: yaml.Node, *, sep: str = " ", exact: bool = True
    ) -> None:
        if self.segs or self.text:
            self.text += sep
        self.segs.append(Seg(len(self.text), file, node, exact))
        self.text += piece


class Sources:
    """File texts, to turn YAML marks plus offsets inside scalars into line:column."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def locate(self, seg: Seg, value: str, offset: int) -> tuple[int, int]:
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


def offset_of(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, column - 1)


def seg_at(cond: Cond, offset: int) -> Seg:
    found = cond.segs[0]
    for seg in cond.segs:
        if seg.start <= offset:
            found = seg
    return found


def seg_end(cond: Cond, seg: Seg) -> int:
    idx = cond.segs.index(seg)
    if idx + 1 < len(cond.segs):
        return cond.segs[idx + 1].start - 1  # minus the joining space
    return len(cond.text)
