"""Constant parsing and comparison: libsinsp 2022 semantics, shared by every evaluator.

The reference evaluator, the compiler and the Cython core must all agree with what
libsinsp does when it compares an extracted value with a rule's constant. The rules here
were read from libsinsp's source (``flt_compare``, ``string_to_rawval``,
``sinsp_numparser``, ``path_prefix_search``, ``sinsp_utils::glob_match``) and checked with
``sysdig -r capture.scap COND`` (libs 0.1.1dev+git20220316); the tests hold the evidence.

Event-side values, by field type: ``str`` -> str; ``int``/``uint``/``port``/``reltime``/
``abstime`` -> int; ``bool`` -> bool; ``ipaddr``/``ipnet`` -> address text or
``ipaddress`` object; ``bytebuf`` -> bytes. A multi-valued field
used without argument holds a list (see ``ruleopt.fields.MULTI_KINDS``).
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import re2

from ruleopt.errors import RuleoptError
from ruleopt.fields import FieldInfo
from ruleopt.rules.ast import ALL_OPS, LIST_OPS, TRANSFORMERS  # the grammar's, one definition

from .text import canonical, to_bytes

# ----------------------------------------------------------------- operator families

NUMERIC_TYPES = frozenset({"int", "uint", "port", "reltime", "abstime", "bool", "double"})
ORDER_OPS = frozenset({"<", "<=", ">", ">="})
# Operators each type accepts (libsinsp throws "'op' not supported for ..." otherwise).
_STRING_OPS = frozenset(ALL_OPS) - {"bcontains", "bstartswith"}  # the byte operators: bytebuf only
_NUMERIC_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
_BUFFER_OPS = frozenset(
    {
        "=",
        "==",
        "!=",
        "contains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "in",
        "intersects",
        "exists",
    }
)
_NET_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
_OPS_BY_TYPE: dict[str, frozenset[str]] = {
    "str": _STRING_OPS,
    "int": _NUMERIC_OPS,
    "uint": _NUMERIC_OPS,
    "port": _NUMERIC_OPS,
    "reltime": _NUMERIC_OPS,
    "abstime": _NUMERIC_OPS,
    "bool": _NUMERIC_OPS,
    "double": _NUMERIC_OPS,
    "ipaddr": _NUMERIC_OPS,
    "ipnet": _NET_OPS,
    "bytebuf": _BUFFER_OPS,
    # evt.rawarg whose argument type libsinsp cannot compare (fields._rawarg_info):
    # check_operator refuses every operator, saying why.
    "dynamic": frozenset(),
}

# What each transformer takes (modern libsinsp: string transformers take text fields,
# len also a list field's values); the result of len is a number.
_TEXT_TYPES = frozenset({"str", "bytebuf"})


# Fields whose libsinsp 2022 compare() takes its own path with an operator whitelist
# (filterchecks.cpp: compare_ip, compare_net, compare_port, compare_domain). The filter
# compiles, but any other operator (``exists`` included) throws on every socket event, so
# the rule never matches there; we refuse it up front, as for the throws of flt_compare.
_EQ_OPS = frozenset({"=", "==", "!=", "in"})
_SPECIAL_COMPARE_OPS: dict[str, tuple[frozenset[str], str]] = {
    **{f: (_EQ_OPS, "IP filter only supports '=' and '!=' operators") for f in ("fd.ip", "fd.net")},
    **{
        f: (_EQ_OPS | ORDER_OPS, "unsupported port comparison operator")
        for f in ("fd.port", "fd.proto")
    },
    **{
        f: (_EQ_OPS, "fd.*ip.name filter only supports '=' and '!=' operators")
        for f in ("fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name")
    },
}


def check_operator(op: str, info: FieldInfo) -> None:
    """Raise RuleoptError if libsinsp would refuse ``op`` on this field's type."""
    special = _SPECIAL_COMPARE_OPS.get(info.name) if info.libsinsp2022 else None
    if special and op not in special[0]:
        raise RuleoptError(
            f"operator '{op}' is not supported for field '{info.name}': libsinsp 2022 "
            f'compiles it, then throws "{special[1]}" on every socket event (the rule '
            "never matches there)",
            hint=f"use one of {', '.join(sorted(special[0]))}",
        )
    if info.raw_type:
        _check_rawarg_operator(op, info)
    if op not in _OPS_BY_TYPE[info.type]:
        raise RuleoptError(
            f"operator '{op}' is not supported for field '{info.raw_name or info.name}' "
            f"(type {info.type}"
            + (f", argument type {info.raw_type}" if info.raw_type else "")
            + ")",
            hint="libsinsp rejects this comparison; pick an operator for this field type",
        )


def _check_rawarg_operator(op: str, info: FieldInfo) -> None:
    """What libsinsp 2022 cannot do with evt.rawarg.NAME, refused before any event.

    Measured with the harness on cat_write.scap: ``in`` on a raw number or path crashes
    its compiler (SIGSEGV), ``pmatch`` on a path is "pmatch requires all charbuf
    arguments", and on a CHARBUF argument ``in (cat)`` matches where ``in (cat, x)``
    does not. No list operator on a raw argument has a meaning to model.
    """
    what = f"'{info.raw_name}' (evt.rawarg of type {info.raw_type})"
    if info.type == "dynamic":
        raise RuleoptError(
            f"libsinsp 2022 cannot compare {what}: it refuses the constant (wrong "
            "parameter type) or, for a socket address, never matches",
            hint="compare evt.arg.NAME, the argument as text, instead",
        )
    if op in LIST_OPS:
        raise RuleoptError(
            f"{what} cannot take operator '{op}' in libsinsp 2022: its compiler "
            "crashes on a raw number or path, and matches raw strings inconsistently",
            hint="write one '=' per value, joined with or",
        )


def transformed_info(func: str, info: FieldInfo, inner: Sequence[str] = ()) -> FieldInfo:
    """The field type after a transformer: ``len`` yields a number, the rest keep it.

    ``inner``: the transformers already applied (innermost first), for the message.
    Raises RuleoptError (as libsinsp's compiler does) for a transformer on a type it does
    not take: ``len(proc.pid)``, ``b64(fd.sip)``, ``tolower(len(proc.name))``,
    ``len(len(x))`` (the result of ``len`` is a number, which no transformer takes).
    """
    if func not in TRANSFORMERS:
        raise RuleoptError(
            f"unknown transformer '{func}'", hint=f"one of {', '.join(TRANSFORMERS)}"
        )
    takes = info.type in _TEXT_TYPES or (func == "len" and info.multi_kind == "list")
    if not takes:
        what = "a string field" if func != "len" else "a string, buffer or list field"
        operand = info.name
        for f in inner:
            operand = f"{f}({operand})"
        raise RuleoptError(
            f"transformer '{func}' needs {what}; '{operand}' is {info.type}",
            hint="transformers apply to text; compare numbers and addresses directly",
        )
    if func == "len":
        return replace(info, type="uint", sinsp_type="UINT64", multi=False, multi_kind="")
    return info


# ------------------------------------------------------------------- constant parsing

# sscanf("%d%c") accepts leading white space and a sign, then decimal digits, and must
# then hit the end of the string (a trailing character, even a space, is an error).
_NUM_RE = re.compile(r"^[ \t\n\v\f\r]*([+-]?)([0-9]+)$")
_U64 = (1 << 64) - 1
_I64_MAX = (1 << 63) - 1


def _bad_number(info: FieldInfo, text: str) -> RuleoptError:
    return RuleoptError(
        f"'{text}' is not a valid number for field '{info.name}' ({info.sinsp_type})",
        hint="libsinsp accepts decimal integers only (no hex, no fraction, no trailing text)",
    )


def _wrap(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def parse_integer(info: FieldInfo, text: str) -> int:
    """libsinsp's sinsp_numparser: sscanf into a 32/64-bit C integer, then a cast.

    glibc's strtol/strtoul saturate on overflow; ``%u`` accepts ``-1`` (→ max value);
    narrower fields (INT16, PORT...) keep the low bits, as the C cast does.
    Evidence: ``evt.cpu = 65536`` matches cpu 0, ``evt.num < 99999999999999999999`` is
    true for every event, ``fd.num = " 3"`` parses, ``fd.num = "3 "`` is an error.
    """
    m = _NUM_RE.match(text)
    if m is None:
        raise _bad_number(info, text)
    neg, mag = m.group(1) == "-", int(m.group(2))
    signed = info.type == "int"
    width = info.width or 64
    scan_bits = 64 if width == 64 else 32
    if signed:
        # strtol saturates to LONG_MIN/LONG_MAX, then %d stores the low 32 bits.
        v = max(-_I64_MAX - 1, min(_I64_MAX, -mag if neg else mag))
    else:
        # strtoul: overflow saturates to ULONG_MAX, a minus sign negates modulo 2^64.
        v = _U64 if mag > _U64 else ((-mag) & _U64 if neg else mag)
    v = _wrap(v, scan_bits, signed)
    return _wrap(v, width, signed)


def _parse_port(info: FieldInfo, text: str) -> int:
    # libsinsp: empty -> 0; digits only -> stoi (low 16 bits); else a service name
    # from /etc/services (getservbyname), e.g. "http" -> 80.
    if text == "":
        return 0
    if text.isascii() and text.isdigit():
        if int(text) > 0x7FFFFFFF:  # std::stoi throws out_of_range
            raise _bad_number(info, text)
        return int(text) & 0xFFFF
    try:
        return socket.getservbyname(text)
    except OSError:
        raise RuleoptError(
            f"unrecognized port or service '{text}' for field '{info.name}'",
            hint="use a number or a service name from /etc/services",
        ) from None


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """libsinsp: text with a '.' is IPv4 (strict dotted quad), anything else IPv6."""
    try:
        if "." in text:
            return ipaddress.IPv4Address(text)
        return ipaddress.IPv6Address(text)
    except ValueError:
        fam = "IPv4" if "." in text else "IPv6"
        raise RuleoptError(f"unrecognized {fam} address '{text}'") from None


def _parse_net(info: FieldInfo, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if "." in text:
        # libsinsp: needs a '/', an IPv4 address before it, a mask length <= 32 after it
        # (parsed like a number); host bits are ignored (ip & mask on both sides).
        if "/" not in text:
            raise RuleoptError(
                f"unrecognized IP network '{text}' for field '{info.name}'",
                hint="write a CIDR such as 10.0.0.0/8",
            )
        ip_text, mask_text = text.split("/", 1)
        ip = parse_ip(ip_text)
        bits = parse_integer(replace(info, type="uint", sinsp_type="UINT8"), mask_text)
        if bits > 32:
            raise RuleoptError(f"invalid netmask '{mask_text}' in '{text}'")
        return ipaddress.IPv4Network((int(ip), bits), strict=False)
    try:
        # IPv6 networks: libsinsp 2022 half-supports them; use the modern CIDR meaning.
        return ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        raise RuleoptError(f"unrecognized IPv6 network '{text}'") from None


def _parse_hex(info: FieldInfo, text: str) -> bytes:
    # bcontains/bstartswith take hex bytes ("48454c4c4f"), as in modern libsinsp.
    try:
        if len(text) % 2:
            raise ValueError
        return bytes.fromhex(text)
    except ValueError:
        raise RuleoptError(
            f"'{text}' is not a hex byte string for field '{info.name}'",
            hint="write bytes as pairs of hex digits, e.g. 7f454c46",
        ) from None


def parse_constant(info: FieldInfo, text: str, op: str = "=") -> Any:
    """Parse one constant of a comparison as libsinsp does at rule compile time.

    Raises RuleoptError naming the field and the value when libsinsp would reject it.
    """
    t = info.type
    if t == "str":
        # The one str for the constant's bytes, so str equality is byte equality.
        return canonical(text)
    if t == "bytebuf":
        if op in ("bcontains", "bstartswith"):
            return _parse_hex(info, text)
        return to_bytes(text)
    if t in ("int", "uint", "reltime", "abstime"):
        return parse_integer(info, text)
    if t == "port":
        return _parse_port(info, text)
    if t == "bool":
        # exactly "true" or "false": "1", "TRUE" are compile errors.
        if text == "true":
            return True
        if text == "false":
            return False
        raise RuleoptError(
            f"unrecognized boolean value '{text}' for field '{info.name}'",
            hint="write true or false",
        )
    if t == "ipaddr":
        return parse_ip(text)
    if t == "ipnet":
        return _parse_net(info, text)
    if t == "double":
        # libsinsp 2022 has no parser for DOUBLE constants ("wrong parameter type");
        # newer libsinsp reads a float, which is what we do.
        try:
            return float(text)
        except ValueError:
            raise _bad_number(info, text) from None
    raise AssertionError(f"unhandled field type {t}")


# Empty value lists: libsinsp 2022's parser reads `x in ()` as `x in ("")` (`fd.name in
# ()` matches exactly the events whose fd.name is empty; `fd.num in ()` is the compile
# error " is not a valid number"). We keep that for text fields; for other types, where
# 2022 refuses the rule, an empty list holds nothing (modern libsinsp), so such rules can
# still be evaluated.
EMPTY_LIST_IS_EMPTY_STRING = True


def parse_list(info: FieldInfo, texts: Sequence[str], op: str) -> tuple[Any, ...]:
    """Parse the items of ``in``/``intersects``/``pmatch`` lists."""
    if not texts and EMPTY_LIST_IS_EMPTY_STRING and info.type == "str":
        texts = ("",)
    if op == "pmatch":
        if info.type != "str":
            raise RuleoptError(f"pmatch requires a string field, '{info.name}' is {info.type}")
        return tuple(canonical(t) for t in texts)
    return tuple(parse_constant(info, t, op) for t in texts)


# --------------------------------------------------------------------- string helpers

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_lower(s: str) -> str:
    """C-locale tolower: only A-Z change (strcasestr, tolower transformer)."""
    return s.translate(_ASCII_LOWER)


def _load_fnmatch() -> Callable[[bytes, bytes, int], int] | None:
    """libc's fnmatch, run in the C locale.

    Falco and sysdig never call setlocale, so libsinsp's fnmatch sees bytes: ``?`` is one
    byte, ``é`` is two. Python runs with LC_CTYPE=C.UTF-8, where ``?`` would match the
    whole character; a thread-local ``uselocale`` switch around each call restores the C
    behaviour without touching the process locale.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
        fn = libc.fnmatch
        newlocale, uselocale = libc.newlocale, libc.uselocale
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
    fn.restype = ctypes.c_int
    newlocale.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
    newlocale.restype = ctypes.c_void_p
    uselocale.argtypes = (ctypes.c_void_p,)
    uselocale.restype = ctypes.c_void_p
    c_locale = newlocale(_LC_CTYPE_MASK | _LC_COLLATE_MASK, b"C", None)
    if not c_locale:
        return None

    def fnmatch_c(pattern: bytes, value: bytes, flags: int) -> int:
        previous = uselocale(c_locale)
        try:
            return fn(pattern, value, flags)
        finally:
            uselocale(previous)

    return fnmatch_c


_LC_CTYPE_MASK, _LC_COLLATE_MASK = 1 << 0, 1 << 3  # glibc's LC_*_MASK
_FNMATCH = _load_fnmatch()
FNM_CASEFOLD = 1 << 4  # glibc


def _translate_glob(pattern: str) -> str:
    """POSIX fnmatch(flags=0) as a regex: used only where libc has no fnmatch.

    ``*``/``?`` match any character including '/', ``[...]`` with ``!``/``^`` negation,
    a backslash escapes the next character; an unclosed ``[`` is a literal.
    """
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
                continue
            body = pattern[i:j]
            i = j + 1
            neg = body[:1] in ("!", "^")
            if neg:
                body = body[1:]
            body = body.replace("\\", "\\\\")
            out.append(f"[{'^' if neg else ''}{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, casefold: bool) -> re.Pattern[str]:
    return re.compile(_translate_glob(pattern), re.DOTALL | (re.IGNORECASE if casefold else 0))


def glob_match(pattern: str, value: str, casefold: bool = False) -> bool:
    """libsinsp glob/iglob: fnmatch(pattern, value, 0 or FNM_CASEFOLD).

    No FNM_PATHNAME (``*`` crosses '/': ``fd.name glob "*/libc*"`` matches
    /lib/x86_64-linux-gnu/libc.so.6), no FNM_PERIOD, no extglob.
    """
    if _FNMATCH is not None:
        # On the bytes (any value: surrogate-escaped ones included). fnmatch is a C
        # function: a NUL ends pattern and value there, as in libsinsp, whose strings
        # never hold one.
        flags = FNM_CASEFOLD if casefold else 0
        return _FNMATCH(to_bytes(pattern), to_bytes(value), flags) == 0
    return _glob_regex(pattern, casefold).fullmatch(value) is not None


def path_components(path: str) -> tuple[str, ...]:
    """Split as libsinsp's path_prefix_search does: on '/', dropping empty parts."""
    return tuple(p for p in path.split("/") if p)


def pmatch(value: str, prefixes: Iterable[tuple[str, ...]]) -> bool:
    """True if ``value`` is one of the paths or lies under one (whole components).

    Evidence (cat_write.scap): ``pmatch (/etc)``, ``(/etc/)``, ``(etc)`` and
    ``(//etc//ld.so.cache)`` all match /etc/ld.so.cache; ``(/et)`` matches nothing;
    ``(/)`` and ``("")`` match every fd.name, even the empty one.
    """
    comps = path_components(value)
    return any(comps[: len(p)] == p for p in prefixes)


# ------------------------------------------------------------------------ comparison


def _ip_bytes(v: Any) -> bytes | None:
    """The address bytes of an event value; None if it is not an address."""
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v.packed
    if isinstance(v, bytes):
        return v if len(v) in (4, 16) else None
    try:
        return _cached_ip(str(v)).packed
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def _cached_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _ip_eq(lhs: bytes, const: Any) -> bool:
    # flt_compare picks IPv4/IPv6 from the *event* value's length and reads that many
    # bytes of the constant: an IPv6 constant against an IPv4 event compares its first
    # 4 bytes (so ::1 never equals 127.0.0.1).
    c = const.packed
    return len(c) >= len(lhs) and c[: len(lhs)] == lhs


def _ip_order(b: bytes) -> int:
    # IPv4 `<`/`>` compare the address as a uint32 read in host (little-endian) order
    # from network-order bytes: faithful to libsinsp on x86, surprising by design.
    return int.from_bytes(b, "little")


def _net_contains(lhs: bytes, net: Any) -> bool:
    if len(lhs) != len(net.network_address.packed):
        return False
    return (int.from_bytes(lhs, "big") & int(net.netmask)) == int(net.network_address)


def _compare_one(op: str, t: str, lhs: Any, rhs: Any) -> bool:
    """One extracted value against a parsed constant (scalar) or tuple (list ops)."""
    if op == "==":
        op = "="
    if t == "ipaddr":
        lb = _ip_bytes(lhs)
        if lb is None:
            return False
        if op in ("in", "intersects"):
            return any(_ip_eq(lb, c) for c in rhs)
        if op == "=":
            return _ip_eq(lb, rhs)
        if op == "!=":
            return not _ip_eq(lb, rhs)
        if len(lb) != 4 or len(rhs.packed) != 4:
            # libsinsp throws for an IPv6 event value; the check counts as no match
            # (an IPv6 constant is refused at compile time, prepare_rhs).
            return False
        a, b = _ip_order(lb), _ip_order(rhs.packed)
        return _order(op, a, b)
    if t == "ipnet":
        lb = _ip_bytes(lhs)
        if lb is None:
            return False
        if op in ("in", "intersects"):
            return any(_net_contains(lb, c) for c in rhs)
        if op == "=":
            return _net_contains(lb, rhs)
        if op == "!=":
            return not _net_contains(lb, rhs)
        raise RuleoptError(f"operator '{op}' not supported for IP networks")
    if t == "bytebuf":
        lhs = lhs if isinstance(lhs, bytes) else to_bytes(str(lhs))
    elif t == "str":
        lhs = lhs if isinstance(lhs, str) else str(lhs)
        if op in _BYTE_STRING_OPS:
            # libsinsp compares C byte strings (strcmp, strstr, RE2 on bytes); code points
            # order differently once surrogate-escaped bytes are involved.
            lhs = to_bytes(lhs)
            if isinstance(rhs, str):
                rhs = to_bytes(rhs)
    if op == "=":
        return lhs == rhs
    if op == "!=":
        return lhs != rhs
    if op in ("in", "intersects"):
        return lhs in rhs
    if op in ORDER_OPS:
        # strings: strcmp; Python's code-point order equals UTF-8 byte order.
        return _order(op, lhs, rhs)
    if op == "contains" or op == "bcontains":
        return rhs in lhs
    if op == "icontains":
        # strcasestr in the C locale: ASCII case folding only.
        return (
            rhs.lower() in lhs.lower()
            if isinstance(lhs, bytes)
            else (ascii_lower(rhs) in ascii_lower(lhs))
        )
    if op == "startswith" or op == "bstartswith":
        return lhs.startswith(rhs)
    if op == "endswith":
        return lhs.endswith(rhs)
    if op == "glob":
        return glob_match(rhs, lhs)
    if op == "iglob":
        return glob_match(rhs, lhs, casefold=True)
    if op == "pmatch":
        return pmatch(lhs, rhs)
    if op == "regex":
        # modern libsinsp: RE2 full match of the whole value.
        return rhs.fullmatch(lhs if isinstance(lhs, bytes) else to_bytes(str(lhs))) is not None
    raise RuleoptError(f"unknown operator '{op}'")


# String operators decided on the bytes (equality and membership are the same on
# canonical str; glob and pmatch convert themselves).
_BYTE_STRING_OPS = frozenset(
    {"<", "<=", ">", ">=", "contains", "icontains", "startswith", "endswith", "regex"}
)


def _order(op: str, a: Any, b: Any) -> bool:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def prepare_rhs(info: FieldInfo, op: str, rhs: str | Sequence[str] | None) -> Any:
    """Parse the constant(s) of a comparison once: scalar, tuple for list operators,
    frozenset where only membership matters, component tuples for pmatch."""
    check_operator(op, info)
    if op == "exists":
        return None
    if op in LIST_OPS:
        items = [rhs] if isinstance(rhs, str) else list(rhs or ())
        parsed = parse_list(info, items, op)
        if op == "pmatch":
            return tuple(path_components(p) for p in parsed)
        if info.type in ("ipaddr", "ipnet"):
            return parsed
        return frozenset(parsed)
    if not isinstance(rhs, str):
        raise RuleoptError(f"operator '{op}' takes one value")
    if op == "regex":
        return compile_regex(info, rhs)
    const = parse_constant(info, rhs, op)
    if op in ORDER_OPS and info.type == "ipaddr" and len(const.packed) != 4:
        raise RuleoptError(
            f"operator '{op}' not supported for IPv6 address '{rhs}'",
            hint="order comparisons take IPv4 addresses only",
        )
    return const


# RE2's defaults (as libsinsp), but its parse errors are ours to report, not absl's log.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def compile_regex(info: FieldInfo, pattern: str) -> Any:
    """Modern libsinsp's ``regex``: an RE2 pattern (compiled once, on bytes).

    RE2 refuses what it cannot run in linear time or bounded memory (backreferences,
    repetition counts above 1000, huge programs): a rule compile error, as in libsinsp.
    """
    try:
        return re2.compile(to_bytes(pattern), _RE2_OPTIONS)
    except re2.error as e:
        why = (
            e.args[0].decode("utf-8", "replace")
            if e.args and isinstance(e.args[0], bytes)
            else str(e)
        )
        raise RuleoptError(
            f"invalid regex '{pattern}' for field '{info.name}': {why}",
            hint="regex takes RE2 syntax (no backreferences, repetition counts up to 1000)",
        ) from None


def compare(op: str, info: FieldInfo, lhs: Any, rhs: Any) -> bool:
    """Does the extracted value ``lhs`` satisfy ``op`` against the parsed constant(s)?

    ``rhs`` comes from :func:`prepare_rhs` (or ``parse_constant``/a tuple of them).
    ``lhs`` None means absent: false for every operator, ``!=`` included (libsinsp's
    compare() returns false when extraction fails; sysdig: ``fd.name != x`` matches only
    the 27 events of cat_write.scap that have an fd). A list ``lhs`` is a multi-valued
    field; see ``ruleopt.fields.MULTI_KINDS`` for how each kind combines.
    """
    if lhs is None:
        return False
    if isinstance(lhs, (list, tuple)):
        if not lhs:
            return False
        kind = info.multi_kind
        if op == "exists":
            return True
        if kind == "endpoints" and op == "!=":
            return all(_scalar(op, info, v, rhs) for v in lhs)
        if kind == "list" and op == "in":
            return all(_scalar(op, info, v, rhs) for v in lhs)
        return any(_scalar(op, info, v, rhs) for v in lhs)
    return _scalar(op, info, lhs, rhs)


def _scalar(op: str, info: FieldInfo, lhs: Any, rhs: Any) -> bool:
    if lhs is None:
        return False
    if op == "exists":
        return True
    t = info.type
    if t == "bool":
        lhs = bool(lhs)
    elif t == "double":
        # EventTables keep doubles as their repr text; C double comparisons (NaN is
        # unordered: only != holds).
        lhs = _as_float(lhs)
        if lhs is None:
            return False
    return _compare_one(op, t, lhs, rhs)


def _as_float(v: Any) -> float | None:
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------- transformers


def apply_transformer(func: str, value: Any) -> Any:
    """Apply a field transformer to an extracted value; None means "extraction failed".

    tolower/toupper: ASCII case mapping (C toupper/tolower). b64: base64 *decode*, a
    value that is not valid base64 makes the field absent. basename: text after the last
    '/'. len: length of the text/bytes (of the list for multi-valued fields).
    """
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if func == "len":
            return len(value)
        out = [apply_transformer(func, v) for v in value]
        return [v for v in out if v is not None]
    if not isinstance(value, (str, bytes)):
        # A number or an address: transformed_info refuses such rules at compile time;
        # an event value of the wrong type (a table built by hand) extracts nothing.
        return None
    if func == "tolower":
        return ascii_lower(value) if isinstance(value, str) else value.lower()
    if func == "toupper":
        return value.translate(_ASCII_UPPER) if isinstance(value, str) else value.upper()
    if func == "b64":
        raw = to_bytes(value) if isinstance(value, str) else value
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (ValueError, TypeError):
            return None
        # Decoded bytes need not be UTF-8: they ride as surrogate escapes.
        return decoded.decode("utf-8", "surrogateescape") if isinstance(value, str) else decoded
    if func == "basename":
        if isinstance(value, bytes):
            return value.rsplit(b"/", 1)[-1]
        return value.rsplit("/", 1)[-1]
    if func == "len":
        # strlen: bytes, not code points.
        return len(to_bytes(value)) if isinstance(value, str) else len(value)
    raise RuleoptError(f"unknown transformer '{func}'")
