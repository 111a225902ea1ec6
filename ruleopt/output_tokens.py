"""The one tokenizer of Falco output formats, as libsinsp 2022's formatter reads them.

Both output paths (``ruleopt.output``: the Lua baseline and the cached formatters) render
from the token list this module produces, so they cannot disagree on what a token is.

The rules follow ``sinsp_evt_formatter::set_format`` (falcosecurity/libs e5c53d64, the
Debian libsinsp of 2022) and were checked with ``sysdig -r CAPTURE -p FORMAT``:

- every ``%`` starts a token; there is no escape: ``%%``, ``%(``, ``% `` or ``%z`` are
  invalid tokens, and a format ending in ``%`` is invalid (libsinsp refuses the format,
  so Falco refuses the rule);
- ``%`` may be followed by a decimal width (``%5evt.type``): the value is cut or padded
  with spaces to that many bytes; ``%0evt.type`` means no width; a sign is not a width;
- the field is the *longest* field name that prefixes the rest of the format, with no
  word boundary needed: ``%fd.namex`` is ``fd.name`` then the text ``x``, and
  ``%fd.name.`` keeps its full stop. The names are the registry's (``ruleopt.fields``):
  libsinsp 2022's, the newer ones rules of newer Falco print, Falco's ``container.info``;
  a name outside it is refused, as libsinsp refuses a name it does not know;
- an argument follows only where the field takes one: ``proc.aname[2]``/``proc.apid[2]``
  (an index up to the first ``]``), ``evt.arg[0]`` or ``evt.arg.NAME``,
  ``evt.rawarg.NAME``, ``container.mount[...]``-style keys; ``%evt.type[`` is
  ``evt.type`` then the text ``[``;
- filter-only fields (``fd.ip``, ``fd.port``, ...) cannot be printed;
- a leading ``*`` is special to libsinsp only at the start of the *whole* format, and
  Falco always puts its own ``*%evt.time: %priority `` in front of the rule's output, so
  in a rule's output ``*`` is plain text (and absent values print ``<NA>``).

Where libsinsp 2022 has no sensible meaning we refuse the format instead of copying an
accident: an index that is not a number or has no ``]`` (libsinsp then makes a token of
length 0 and prints the rest of the name as text), and ``%proc.aname`` not at the end of
the format (same). A bare ``proc.aname``/``proc.apid`` prints the process itself
(libsinsp walks ``argid = -1`` parents: none), that is index 0.

``evt.arg.NAME``: libsinsp takes the longest *event parameter name* after the dot; we do
not ship libsinsp's parameter table, so NAME is the longest run of letters, digits and
``_`` (the same whenever the text after the name does not continue the identifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ruleopt import fields
from ruleopt.errors import RuleoptError

# libsinsp 2022 parses these without an argument in outputs (checked with sysdig:
# ``%proc.env[HOME]`` prints the whole environment, then the text ``[HOME]``).
_NO_ARG_IN_OUTPUT = frozenset({"proc.env", "evt.abspath"})
_IDENT = re.compile(r"[A-Za-z0-9_]+")
_INDEX = re.compile(r"[0-9]+")
_WIDTH = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class FieldToken:
    """One ``%field`` token: ``text`` as written without ``%`` and width (the name Falco's
    JSON ``output_fields`` uses), ``key`` the event key its value is read from, ``width``
    the byte width (0: none), ``start``/``end`` its span in the format."""

    text: str
    key: str
    width: int
    start: int
    end: int


Piece = str | FieldToken


def _names() -> list[str]:
    # Every field of the registry, not only libsinsp 2022's: rules written for newer
    # Falco print newer fields (%proc.pexe, %thread.cap_effective) and Falco's own
    # %container.info placeholder; they render <NA> where the events lack them.
    return sorted(fields.FIELDS, key=len, reverse=True)


_BY_FIRST: dict[str, list[str]] = {}
for _n in _names():
    _BY_FIRST.setdefault(_n[0], []).append(_n)  # longest first within each bucket


def _longest_name(fmt: str, at: int) -> str | None:
    for name in _BY_FIRST.get(fmt[at : at + 1], ()):
        if fmt.startswith(name, at):
            return name
    return None


class FormatError(RuleoptError):
    """An output format libsinsp 2022 refuses; ``column`` is 1-based in the format."""


def _fail(fmt: str, pos: int, message: str, hint: str) -> FormatError:
    err = FormatError(f"invalid output format at column {pos + 1}: {message}", hint=hint)
    err.format_column = pos + 1  # type: ignore[attr-defined]
    return err


def _token_arg(fmt: str, name: str, at: int, pct: int) -> tuple[str | None, int]:
    """(argument or None, end of the token) for field ``name`` ending at ``at``."""
    info = fields.FIELDS[name]
    kind = "none" if name in _NO_ARG_IN_OUTPUT else info.arg_kind
    nxt = fmt[at : at + 1]
    if kind == "none":
        return None, at
    if kind == "dotted" and nxt == ".":
        m = _IDENT.match(fmt, at + 1)
        if m is None:
            raise _fail(
                fmt,
                pct,
                f"'%{name}.' needs an argument name",
                f"write e.g. %{name}.fd or %{name}[0]",
            )
        return m.group(0), m.end()
    if nxt == "[":
        close = fmt.find("]", at + 1)
        if close < 0:
            raise _fail(
                fmt, pct, f"'%{name}[' has no closing ']'", f"write %{name}[N], or %{name} alone"
            )
        arg = fmt[at + 1 : close]
        if kind in ("index", "index_or_none", "dotted") and not _INDEX.fullmatch(arg):
            raise _fail(
                fmt, pct, f"'%{name}[{arg}]' needs a number in brackets", f"write e.g. %{name}[1]"
            )
        return arg, close + 1
    if kind in ("index_or_none", "key_or_none"):
        if info.multi_kind == "ancestors" and at != len(fmt):
            # libsinsp 2022 accepts a bare ancestor field only as the format's last token;
            # anywhere else it makes an empty token and prints the name as text.
            raise _fail(
                fmt,
                pct,
                f"libsinsp 2022 prints '%{name}' only at the end of a format",
                f"write %{name}[0] (the process itself) or %{name}[1] (its parent)",
            )
        return None, at
    form = f"%{name}.NAME or %{name}[N]" if kind == "dotted" else f"%{name}[...]"
    raise _fail(fmt, pct, f"'%{name}' needs an argument", f"write {form}")


@lru_cache(maxsize=4096)
def tokenize(fmt: str) -> tuple[Piece, ...]:
    """The format as literal text and field tokens, in order; empty literals dropped.

    Raises ``FormatError`` (a RuleoptError) for a format libsinsp 2022 refuses."""
    pieces: list[Piece] = []
    lit_start = pos = 0
    n = len(fmt)
    while True:
        pct = fmt.find("%", pos)
        if pct < 0:
            break
        if pct > lit_start:
            pieces.append(fmt[lit_start:pct])
        at = pct + 1
        if at == n:
            raise _fail(
                fmt,
                pct,
                "a format cannot end with '%'",
                "remove the '%' (there is no escape for a literal '%')",
            )
        width = 0
        m = _WIDTH.match(fmt, at)
        if m is not None:
            width = int(m.group(0))
            at = m.end()
            if at == n:
                raise _fail(
                    fmt,
                    pct,
                    "a format cannot end with a width",
                    "put a field name after the width, e.g. %10proc.name",
                )
        name = _longest_name(fmt, at)
        if name is None:
            rest = fmt[at : at + 20] + ("..." if n > at + 20 else "")
            after = f"after the width '%{fmt[pct + 1 : at]}', " if at > pct + 1 else ""
            raise _fail(
                fmt,
                pct,
                f"{after}'{rest}' does not start with a field ruleopt "
                "knows (there is no escape for a literal '%')",
                "use a field of `sysdig -l`, or remove the '%'",
            )
        info = fields.FIELDS[name]
        if info.filter_only:
            raise _fail(
                fmt,
                pct,
                f"'{name}' is filter only and cannot be printed",
                "print another field, or drop it from the output",
            )
        arg, end = _token_arg(fmt, name, at + len(name), pct)
        try:
            key = _key(info, name, arg)
        except RuleoptError as err:  # e.g. an ancestor index past any process tree
            raise _fail(fmt, pct, err.message, err.hint or "fix the field") from None
        pieces.append(FieldToken(fmt[at:end], key, width, pct, end))
        lit_start = pos = end
    if lit_start < n:
        pieces.append(fmt[lit_start:])
    return tuple(pieces)


def _key(info: fields.FieldInfo, name: str, arg: str | None) -> str:
    if arg is None:
        if info.multi_kind == "ancestors":
            return f"{name}[0]"  # libsinsp prints the process itself for a bare ancestor
        return name
    if info.arg_kind == "dotted" and not _INDEX.fullmatch(arg):
        rf = fields.resolve(f"{name}.{arg}")  # %evt.arg.fd: brackets take numbers
        raw = rf.info.raw_type
        if raw and raw not in fields.RAWARG_PRINTABLE:
            raise RuleoptError(
                f"libsinsp 2022 cannot print '{rf.key}' (argument type {raw}): its "
                f'formatter throws "wrong event type" on every event that has it',
                hint=f"print evt.arg.{arg}, the argument as text",
            )
        return rf.key
    return fields.resolve(f"{name}[{arg}]").key  # the event key a condition would use


def apply_width(text: str, width: int) -> str:
    """libsinsp's ``resize(width, ' ')``: cut or pad to ``width`` bytes of UTF-8."""
    if not width:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) >= width:
        # libsinsp may cut inside a multi-byte character; a str cannot hold half of
        # one, so the broken tail becomes U+FFFD (the same on both output paths).
        return raw[:width].decode("utf-8", "replace")
    return text + " " * (width - len(raw))


def field_tokens(fmt: str) -> list[FieldToken]:
    """The field tokens of ``fmt`` in order."""
    return [p for p in tokenize(fmt) if isinstance(p, FieldToken)]
