"""The one AST of Falco filter conditions, and its printer.

Every node is a frozen dataclass, so ASTs hash, compare by value and can be shared
between rules (a macro expanded into twenty rules is one object twenty times).

Values on the right of an operator stay text, as in libsinsp: the *field's* type decides
later whether ``80`` is a number, so the AST must not guess.

``print_expr`` is the inverse of ``ruleopt.rules.parser.parse_condition``:
``parse_condition(print_expr(e)) == e`` for every well-formed ``e``. To make that hold,
the printer parenthesises every ``and``/``or`` nested inside another one (the parser
keeps ``a and (b and c)`` as two nodes) and every ``not`` nested in a ``not``, and quotes
every value that would not read back as the same bare word.

The text is also what libsinsp 2022's filter compiler (``sinsp_filter_compiler``, the
harness's judge) reads as the same condition: that compiler rejects ``and`` and ``or``
mixed at one level, and folds a run of ``not``s into one, so both are always
parenthesised. ``libsinsp2022_misread`` names the few ASTs whose text it would read
differently (values it cannot spell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Operators taking no value, one value, or a list of values (libsinsp's three shapes).
UNARY_OPS: tuple[str, ...] = ("exists",)
LIST_OPS: tuple[str, ...] = ("in", "intersects", "pmatch")
SCALAR_OPS: tuple[str, ...] = (
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
)
ALL_OPS: tuple[str, ...] = UNARY_OPS + LIST_OPS + SCALAR_OPS

TRANSFORMERS: tuple[str, ...] = ("tolower", "toupper", "b64", "basename", "len")


@dataclass(frozen=True)
class Field:
    """A field reference: ``proc.name``, ``proc.aname[2]`` (arg ``"2"``), ``evt.arg[0]``.

    ``evt.arg.flags`` is kept as the name ``evt.arg.flags`` with no ``arg``: how a dotted
    suffix splits into field and argument is the field registry's business, not syntax.
    """

    name: str
    arg: str | None = None


@dataclass(frozen=True)
class Transform:
    """A field transformer applied to an operand: ``tolower(proc.name)``."""

    func: str
    operand: Operand


Operand = Field | Transform


@dataclass(frozen=True)
class Value:
    """A literal, always text (``"80"``, ``"/etc/"``, ``"<"``)."""

    text: str


@dataclass(frozen=True)
class FieldValue:
    """A field used as a value on the right side: ``val(proc.pname)`` or a transformer."""

    operand: Operand


@dataclass(frozen=True)
class ListRef:
    """A bare name inside a value list that may name a Falco ``list`` (unresolved)."""

    name: str


@dataclass(frozen=True)
class ValueList:
    """``(a, "b c", shell_binaries)``: items are values, or list names before expansion."""

    items: tuple[Value | ListRef, ...]


Rhs = Value | FieldValue | ValueList | None


@dataclass(frozen=True)
class Compare:
    """``lhs op rhs``; ``rhs`` is ``None`` for ``exists``, a ``ValueList`` for list ops."""

    lhs: Operand
    op: str
    rhs: Rhs = None


@dataclass(frozen=True)
class MacroRef:
    """A bare identifier used as a condition: a macro name, before expansion."""

    name: str


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class BoolConst:
    """A constant truth value. Not in Falco's syntax; expansion produces it for an empty
    exception list and tests use it. Printed as an always-true/false comparison would be
    ambiguous, so it prints as a reserved macro name ``__true__``/``__false__``."""

    value: bool


Expr = Compare | MacroRef | Not | And | Or | BoolConst


# --------------------------------------------------------------------------- printer

# A bare value reads back as itself only if it has none of the characters the lexer
# stops at and is not a word the grammar reserves.
_BARE_OK = re.compile(r"""[^\s"'(),=\\]+""")
# A quoted list item shaped like an identifier must stay quoted, or it reads back as a
# list name (ListRef).
_LIST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A field argument printed bare must not hold what ends or quotes it.
_BARE_ARG = re.compile(r"""[^\[\]"'\s]+""")
_RESERVED = frozenset({"and", "or", "not"} | set(ALL_OPS))


def quote(text: str) -> str:
    """Quote ``text`` as a Falco string literal (double quotes, backslash escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def print_value(text: str) -> str:
    # fullmatch, not match with "$": "$" also matches before a final line break, which
    # would print "x\n" bare and read it back as "x".
    if _BARE_OK.fullmatch(text) and text not in _RESERVED and not text.startswith(("<", ">", "!")):
        return text
    return quote(text)


def print_operand(op: Operand) -> str:
    if isinstance(op, Field):
        if op.arg is None:
            return op.name
        arg = op.arg if _BARE_ARG.fullmatch(op.arg) else quote(op.arg)
        return f"{op.name}[{arg}]"
    return f"{op.func}({print_operand(op.operand)})"


def _print_rhs(rhs: Rhs) -> str:
    if rhs is None:
        return ""
    if isinstance(rhs, Value):
        return print_value(rhs.text)
    if isinstance(rhs, FieldValue):
        if isinstance(rhs.operand, Field):
            return f"val({print_operand(rhs.operand)})"
        return print_operand(rhs.operand)
    items = ", ".join(
        item.name
        if isinstance(item, ListRef)
        else quote(item.text)
        if _LIST_NAME.fullmatch(item.text)
        else print_value(item.text)
        for item in rhs.items
    )
    return f"({items})"


def print_expr(expr: Expr) -> str:
    """Render ``expr`` as Falco condition text that parses back to the same AST."""
    out: list[str] = []
    _emit(expr, out)
    return "".join(out)


def _emit(expr: Expr, out: list[str]) -> None:
    # Pieces are appended to one list and joined once: building each level's text from
    # its children's strings copies the inner text at every level, quadratic in depth.
    if isinstance(expr, Compare):
        lhs = print_operand(expr.lhs)
        out.append(
            f"{lhs} {expr.op}" if expr.rhs is None else f"{lhs} {expr.op} {_print_rhs(expr.rhs)}"
        )
    elif isinstance(expr, MacroRef):
        out.append(expr.name)
    elif isinstance(expr, BoolConst):
        out.append("__true__" if expr.value else "__false__")
    elif isinstance(expr, Not):
        inner = expr.operand
        out.append("not ")
        # A nested `not` needs parentheses too: libsinsp 2022 reads `not not a` as
        # `not a` (and so does our parser), `not (not a)` as `a`.
        if isinstance(inner, (And, Or, Not)):
            out.append("(")
            _emit(inner, out)
            out.append(")")
        else:
            _emit(inner, out)
    elif isinstance(expr, (And, Or)):
        word = " and " if isinstance(expr, And) else " or "
        for k, item in enumerate(expr.items):
            if k:
                out.append(word)
            # Nested and/or always get parentheses: the parser keeps them as separate nodes.
            if isinstance(item, (And, Or)):
                out.append("(")
                _emit(item, out)
                out.append(")")
            else:
                _emit(item, out)
    else:
        raise TypeError(f"not an expression node: {expr!r}")


def walk(expr: Expr):
    """Yield every expression node of ``expr``, parents before children (pre-order).

    An explicit stack, not nested ``yield from``: each item a nested generator yields
    passes through every enclosing generator, so the recursive form costs O(depth) per
    node, quadratic on a condition nested thousands of levels deep."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, (And, Or)):
            stack.extend(reversed(node.items))


def fields_of(expr: Expr) -> set[Field]:
    """Every field a condition reads, on either side of an operator."""
    out: set[Field] = set()

    def operand_fields(op: Operand) -> None:
        while isinstance(op, Transform):
            op = op.operand
        out.add(op)

    for node in walk(expr):
        if isinstance(node, Compare):
            operand_fields(node.lhs)
            if isinstance(node.rhs, FieldValue):
                operand_fields(node.rhs.operand)
    return out


# ------------------------------------------------- what libsinsp 2022 cannot read back

# libsinsp 2022's compiler ends a field name at a blank or one of these characters.
_FIELD_ARG_STOP = re.compile(r"""[\s()!=<>"']""")
# What the harness turns into a blank: it passes one condition per line of a TSV file.
_FLATTENED = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def libsinsp2022_misread(expr: Expr) -> str | None:
    """Why ``print_expr(expr)`` would mean something else to libsinsp 2022's filter
    compiler (as the harness hands it over), or None when it means the same.

    The structure always reads back (see the module doc); a few values cannot be
    spelt in that compiler's language: its quoted strings end at either quote character
    and have no escape for ``'`` but ``\\x27``, which our parser (modern libsinsp's
    escapes) rejects; it has no ``==``
    (``a == b`` reads as ``a = "="`` followed by ``b``). Constructs it lacks altogether
    (transformers, ``val()``, ``regex``, ...) need no entry: it rejects them. Its
    reading of ``()`` as ``("")`` is no entry either: ``values.py`` gives the AST that
    meaning (``EMPTY_LIST_IS_EMPTY_STRING``).
    """
    for node in walk(expr):
        if not isinstance(node, Compare):
            continue
        if node.op == "==":
            return "libsinsp 2022 has no '==' operator"
        operand: Operand = node.lhs
        while isinstance(operand, Transform):
            operand = operand.operand
        if operand.arg is not None and _FIELD_ARG_STOP.search(operand.arg):
            return f"libsinsp 2022 cannot read the field argument of {operand.name}[{operand.arg}]"
        rhs = node.rhs
        values: tuple[Value | ListRef, ...] = ()
        if isinstance(rhs, Value):
            values = (rhs,)
        elif isinstance(rhs, ValueList):
            values = rhs.items
        for v in values:
            if isinstance(v, Value):
                if "'" in v.text:
                    return f"libsinsp 2022 cannot spell the value {v.text!r} (a ' ends its strings)"
                if _FLATTENED.search(v.text):
                    return (
                        f"the value {v.text!r} holds a line break or tab, which the "
                        "harness cannot pass to libsinsp 2022"
                    )
    return None
