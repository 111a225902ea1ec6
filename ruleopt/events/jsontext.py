"""JSON text from untrusted files, parsed with bounds: nesting depth, number range.

Python's ``json`` raises a zoo of errors on hostile text (``RecursionError`` on deep
nesting, ``ValueError`` past the int-digit limit) and accepts what JSON forbids (``NaN``,
``Infinity``) or turns ``1e400`` into ``inf``. Here each of those is one ``JsonProblem``
with a message (and a column when known), for the caller to locate in its file.
"""

from __future__ import annotations

import json
import math
import re

# Events are objects of scalars or lists of scalars (depth 2); table headers are a little
# deeper. Far below the depth where the parser's recursion becomes a problem.
MAX_DEPTH = 64

# Strings are skipped whole (their brackets do not nest); every other bracket counts.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class JsonProblem(Exception):
    """Why a JSON text was refused; ``column`` is 1-based when known."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def nesting_depth(text: str) -> tuple[int, int]:
    """``(depth, column)``: the deepest bracket nesting outside strings, and where."""
    depth = best = where = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth > best:
                best, where = depth, m.start() + 1
        elif tok in "]}":
            depth -= 1
    return best, where


def _constant(name: str) -> float:
    raise JsonProblem(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise JsonProblem(f"the number {shown} is out of range for a 64-bit float")
    return value


def loads(text: str, max_depth: int = MAX_DEPTH) -> object:
    """``json.loads`` that raises only ``JsonProblem`` (for valid-UTF-8 ``text``)."""
    # Depth is at most the bracket count: the scan only runs on lines that could be deep.
    if text.count("[") + text.count("{") > max_depth:
        depth, column = nesting_depth(text)
        if depth > max_depth:
            raise JsonProblem(f"nested {depth} levels deep (at most {max_depth})", column)
    try:
        return json.loads(text, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise JsonProblem(exc.msg, exc.colno) from None
    except RecursionError:
        raise JsonProblem(f"nested too deeply (at most {max_depth} levels)") from None
    except ValueError as exc:
        # Python's limit on the digits of an int (4,300): no field holds such a number.
        if "digits" in str(exc):
            raise JsonProblem(
                "an integer with thousands of digits is out of range for "
                "every field (64 bits at most)"
            ) from None
        raise JsonProblem(str(exc)) from None
