"""Falco condition text → AST (``ruleopt.rules.ast``), via ``falco.lark``.

One cached LALR parser with a contextual lexer, and one Transformer run inline by the
parser (no parse tree is built). Syntax errors become ``ConditionSyntaxError`` with a
1-based line and column inside the condition text; the rules loader adds the file.

A run of ``not`` without parentheses between them (``not not a``) is one ``Not``, as
libsinsp 2022's compiler reads it; ``not (not a)`` is ``Not(Not(a))``. The parser reports
each such run as a ``ParseNote`` (``ruleopt check`` shows it as a located warning).

Where libsinsp's parser and this one differ, it is on purpose and small:
``"a\\\\"`` ends at its last quote (libsinsp's lexer would read on, since it
only looks at the previous raw character); blanks are any Unicode whitespace.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import (
    And,
    BoolConst,
    Compare,
    Expr,
    Field,
    FieldValue,
    ListRef,
    MacroRef,
    Not,
    Or,
    Transform,
    Value,
    ValueList,
)

__all__ = ["ConditionSyntaxError", "ParseNote", "parse_condition", "unescape"]

_GRAMMAR = Path(__file__).with_name("falco.lark")

# A bare list item with this shape may name a Falco list; anything else is a value.
# Same identifier shape as a macro name in the grammar (NAME without dots or argument).
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A field name: at least two dotted identifiers, then the optional [argument].
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\[(.*)\])?", re.S)

_BOOL_NAMES = {"__true__": True, "__false__": False}

_OPERATOR_HINT = "an operator such as =, in, contains"


class ConditionSyntaxError(RuleoptError):
    """A condition that does not parse. ``cond_line``/``cond_column`` are 1-based inside
    the condition text; ``line``/``column`` start equal to them and the loader may
    rebase them onto the rules file. ``token`` is the offending text ("" at the end)."""

    def __init__(
        self,
        message: str,
        *,
        cond_line: int,
        cond_column: int,
        token: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, line=cond_line, column=cond_column, hint=hint)
        self.cond_line = cond_line
        self.cond_column = cond_column
        self.token = token


@dataclass(frozen=True)
class ParseNote:
    """A spelling the parser accepts but whose meaning may surprise the author.

    ``cond_line``/``cond_column`` are 1-based inside the condition text, like
    ``ConditionSyntaxError``'s; the loader maps them onto the rules file."""

    message: str
    cond_line: int
    cond_column: int


# Where the Transformer (one shared instance, run inline by the parser) puts its notes
# for the parse in progress; None when the caller did not ask for them.
_NOTES: ContextVar[list[ParseNote] | None] = ContextVar("ruleopt_parse_notes", default=None)


def _where(line: int, column: int) -> str:
    # Most conditions are one line; naming line 1 every time would be noise.
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _error_at(tok: Token, message: str, hint: str | None = None) -> ConditionSyntaxError:
    line, column = tok.line or 1, tok.column or 1
    return ConditionSyntaxError(
        f"{message} at {_where(line, column)} of the condition",
        cond_line=line,
        cond_column=column,
        token=str(tok),
        hint=hint,
    )


# ------------------------------------------------------------------------ strings

# libsinsp's unescape_str (filter/escaping.cpp). "\ " decoding to a backslash is its
# compatibility quirk for an old Falco rule (`proc.args contains "\ "`), kept on purpose.
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", " ": "\\", "\\": "\\", "/": "/"}


def unescape(quoted: str) -> str:
    """Decode a quoted literal including its quotes, as libsinsp does.

    Raises ``ValueError`` naming the bad sequence; any escape not listed by libsinsp
    (``\\d``, ``\\x41``, a ``\\'`` inside double quotes) is an error there too.
    """
    delim, body = quoted[0], quoted[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]  # the lexer guarantees a character after every backslash
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in "\"'":
            if nxt != delim:
                other = "'" if delim == "'" else '"'
                raise ValueError(f"invalid \\{nxt} escape in a {other}-quoted string")
            out.append(nxt)
        else:
            raise ValueError(f"unsupported string escape sequence \\{nxt}")
        i += 2
    return "".join(out)


def _string(tok: Token) -> str:
    try:
        return unescape(str(tok))
    except ValueError as exc:
        raise _error_at(
            tok, str(exc), hint='write a literal backslash as "\\\\", or use a bare value'
        ) from None


# ------------------------------------------------------------------- tree → AST


class _ToAst(Transformer):
    """The one Transformer: lark rule callbacks → AST nodes (run inline by the parser)."""

    # --- boolean structure
    def or_expr(self, items: list[Expr]) -> Or:
        return Or(tuple(items))

    def and_expr(self, items: list[Expr]) -> And:
        return And(tuple(items))

    def negation(self, items: list) -> Not:
        # items: the run of NOT tokens, then the operand. libsinsp 2022 ORs one NOT bit
        # into the operand's boolean operator per `not`, so a run is a single negation.
        # (Falco's Lua loader and modern parser nest one negation per `not`: the two
        # engines disagree on this spelling, hence the note.)
        nots, operand = items[:-1], items[-1]
        notes = _NOTES.get()
        if len(nots) > 1 and notes is not None:
            first = nots[0]
            spelled = " ".join(["not"] * len(nots))
            notes.append(
                ParseNote(
                    f"'{spelled}' reads as a single 'not', as libsinsp 2022's filter compiler "
                    "reads it (Falco's own rule loaders read nested negations); write "
                    "'not (not ...)' for a double negation, or one 'not'",
                    first.line or 1,
                    first.column or 1,
                )
            )
        return Not(operand)

    def macro_ref(self, items: list[Token]) -> Expr:
        tok = items[0]
        name = str(tok)
        if name in _BOOL_NAMES:
            return BoolConst(_BOOL_NAMES[name])
        if not _IDENT.fullmatch(name):
            # A field with no operator: libsinsp reports the missing operator too.
            raise _error_at(
                Token("NAME", "", line=tok.end_line, column=tok.end_column),
                f"expected {_OPERATOR_HINT} after field '{name}'",
            )
        return MacroRef(name)

    # --- checks
    def unary_check(self, items: list) -> Compare:
        return Compare(items[0], str(items[1]))

    def scalar_check(self, items: list) -> Compare:
        return Compare(items[0], str(items[1]), items[2])

    def list_check(self, items: list) -> Compare:
        return Compare(items[0], str(items[1]), items[2])

    # --- operands
    def field(self, items: list[Token]) -> Field:
        tok = items[0]
        m = _FIELD.fullmatch(str(tok))
        if m is None:
            hint = "field names look like proc.name or fd.name; a macro takes no operator"
            raise _error_at(tok, f"'{tok}' is not a field name", hint=hint)
        name, arg = m.group(1), m.group(2)
        if arg is not None and arg[:1] in "\"'" and len(arg) >= 2:
            arg = _string(Token("STRING", arg, line=tok.line, column=tok.column))
        return Field(name, arg)

    def transform(self, items: list) -> Transform:
        return Transform(str(items[0])[:-1], items[1])  # drop the "(" lexed with the name

    # --- right-hand sides
    def quoted_value(self, items: list[Token]) -> Value:
        return Value(_string(items[0]))

    def bare_value(self, items: list[Token]) -> Value:
        return Value(str(items[0]))

    def val_ref(self, items: list) -> FieldValue:
        return FieldValue(self.field([items[1]]))

    def rhs_transform(self, items: list) -> FieldValue:
        return FieldValue(self.transform(items))

    def value_list(self, items: list) -> ValueList:
        # An empty list leaves lark's None placeholder for the optional part.
        return ValueList(tuple(item for item in items if item is not None))

    def bare_list_name(self, items: list[Token]) -> ValueList:
        # `in shell_binaries` means the same as `in (shell_binaries)` once lists expand.
        tok = items[0]
        if not _IDENT.fullmatch(str(tok)):
            raise _error_at(tok, f"expected a list in parentheses, not '{tok}'")
        return ValueList((ListRef(str(tok)),))

    def quoted_item(self, items: list[Token]) -> Value:
        return Value(_string(items[0]))

    def bare_item(self, items: list[Token]) -> Value | ListRef:
        text = str(items[0])
        return ListRef(text) if _IDENT.fullmatch(text) else Value(text)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        start="condition",
        parser="lalr",
        lexer="contextual",
        transformer=_ToAst(),
    )


# ----------------------------------------------------------------------- errors

# What a set of acceptable terminals means to a person writing a rule.
_OPS = {"UNARY_OP", "SCALAR_OP", "LIST_OP"}
_STARTS = {"NAME", "NOT", "_LPAR", "TRANSFORMER"}
_VALUES = {"STRING", "BARE", "VAL"}


def _describe_expected(expected: set[str]) -> str:
    if expected & _OPS:
        # After a bare name the parser cannot yet tell a macro from a field.
        return ("'and', 'or' or " if "_AND" in expected else "") + _OPERATOR_HINT
    if expected == {"$END"}:
        return "'and', 'or' or the end of the condition"
    if expected & {"_AND", "_OR"}:
        parts = ["'and'", "'or'"]
        if "_RPAR" in expected:
            parts.append("')'")
        text = ", ".join(parts[:-1]) + " or " + parts[-1]
        return text + (" or the end of the condition" if "$END" in expected else "")
    if expected & _STARTS and "VAL" not in expected and "STRING" not in expected:
        return "a field, a macro name, 'not' or '('"
    if "_LPAR" in expected and "NAME" in expected:
        return "a list in parentheses such as (a, b) or a list name"
    if expected & _VALUES:
        return "a value (a quoted string or a bare word)"
    if expected == {"_COMMA", "_RPAR"}:
        return "',' or ')'"
    if expected & {"_RPAR"}:
        return "')'"
    return ", ".join(sorted(expected))


def _end_position(text: str) -> tuple[int, int]:
    """Line and column just past the last non-blank character."""
    body = text.rstrip()
    line = body.count("\n") + 1
    column = len(body) - (body.rfind("\n") + 1) + 1
    return line, column


_WORD = re.compile(r"[A-Za-z0-9_]+|\S")


def _word_at(text: str, pos: int) -> str:
    m = _WORD.match(text, pos)
    return m.group(0) if m else ""


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")
_NAME_STARTS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _field_before(text: str, end: int) -> bool:
    """Whether ``text[:end]`` ends in a field name (a dotted name, ``[A-Za-z_]\\w*`` parts,
    with an optional ``[argument]``) and blanks.

    Scanned backwards from ``end``, in linear time: a regex search for such a name at
    the end retries from every start, quadratic in a long run of letters (a condition of
    one 200,000-letter word took minutes to report its syntax error). A name ends the run
    of name characters before ``end`` when its last part starts with a letter and the
    part before it holds one (where the name may start)."""
    head = text[:end].rstrip()
    if not head.endswith("]"):
        return _name_ends_at(head, len(head))
    # The argument holds no ']': it opens at a '[' after the ']' before the last one. The
    # runs of name characters before those '[' do not overlap: linear still.
    lo = head.rfind("]", 0, len(head) - 1) + 1
    return any(_name_ends_at(head, j) for j in range(lo, len(head) - 1) if head[j] == "[")


def _name_ends_at(text: str, j: int) -> bool:
    i = j
    while i > 0 and text[i - 1] in _NAME_CHARS:
        i -= 1
    parts = text[i:j].split(".")
    return (
        len(parts) >= 2
        and parts[-1][:1] in _NAME_STARTS
        and any(c in _NAME_STARTS for c in parts[-2])
    )


def _offset(text: str, line: int, column: int) -> int:
    """0-based index of a 1-based line and column."""
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    return start + column - 1


def _syntax_error(text: str, exc: UnexpectedInput) -> ConditionSyntaxError:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected)
        if tok.type == "$END":
            line, column = _end_position(text)
            return ConditionSyntaxError(
                f"unexpected end of the condition at {_where(line, column)}: "
                f"expected {_describe_expected(expected)}",
                cond_line=line,
                cond_column=column,
                hint="check for an unclosed '(' or a missing value"
                if "_RPAR" in expected
                else None,
            )
        line, column, word = tok.line, tok.column, str(tok)
    else:
        assert isinstance(exc, UnexpectedCharacters)
        expected = set(exc.allowed or ())
        line, column = exc.line, exc.column
        word = _word_at(text, exc.pos_in_stream)
        if word in "\"'":
            return ConditionSyntaxError(
                f"unclosed quote at {_where(line, column)} of the condition",
                cond_line=line,
                cond_column=column,
                token=word,
            )
    where = _where(line, column)
    # A word where an operator must go is an unknown operator: right after a field
    # (a dotted name, which cannot be a macro) or a transformer's ")". After a bare
    # name the parser also accepts 'and'/'or' (it may be a macro), so look back.
    after_operand = bool(expected & _OPS) and (
        "_AND" not in expected or _field_before(text, _offset(text, line, column))
    )
    if after_operand:
        return ConditionSyntaxError(
            f"unknown operator '{word}' at {where} of the condition: expected {_OPERATOR_HINT}",
            cond_line=line,
            cond_column=column,
            token=word,
            hint="operators are =, ==, !=, <, <=, >, >=, contains, icontains, bcontains, "
            "startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, "
            "pmatch, exists",
        )
    hint = None
    if word == ")" and "_RPAR" not in expected:
        hint = "this ')' closes no '('"
    return ConditionSyntaxError(
        f"unexpected token '{word}' at {where} of the condition: "
        f"expected {_describe_expected(expected)}",
        cond_line=line,
        cond_column=column,
        token=word,
        hint=hint,
    )


# -------------------------------------------------------------------------- API


def parse_condition(text: str, notes: list[ParseNote] | None = None) -> Expr:
    """Parse one Falco condition into the AST.

    ``a and b and c`` is one ``And`` of three; ``a and (b and c)`` keeps the inner
    ``And`` as its own node; ``not not a`` is ``Not(a)``. Raises ``ConditionSyntaxError``
    on any syntax error. If ``notes`` is given, ``ParseNote``s (spellings that parse but
    may not mean what they seem to) are appended to it.
    """
    if not text.strip():
        raise ConditionSyntaxError(
            "empty condition at column 1 of the condition",
            cond_line=1,
            cond_column=1,
            hint="write a condition such as 'proc.name = bash', or remove the key",
        )
    found: list[ParseNote] = []
    token = _NOTES.set(found)
    try:
        expr = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:  # a transformer callback raising is wrapped by some lark paths
        if isinstance(exc.orig_exc, ConditionSyntaxError):
            raise exc.orig_exc from None
        raise
    finally:
        _NOTES.reset(token)
    if notes is not None:
        notes.extend(found)
    return expr
