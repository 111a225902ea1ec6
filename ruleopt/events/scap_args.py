"""``evt.arg.<name>`` as libsinsp 2022 shows it, and the parameter bytes that make it so.

libsinsp prints a parameter through its type (``sinsp_evt::get_param_as_str``): a flags
or mode parameter through the name table libscap's event table attaches to it, a path
through the thread's cwd, a number in decimal. ``evt.arg.X`` is the resolved text when
there is one, else the raw text. This module turns a generated text into the value to
write (``encode``) and computes what libsinsp will print for it (``render``), so the
writer can mark every cell that would not read back as generated.
"""

from __future__ import annotations

import ctypes
import functools
import posixpath

from ruleopt.events import scapfile

PT_CHARBUF, PT_FSPATH, PT_FSRELPATH = scapfile.PT_CHARBUF, scapfile.PT_FSPATH, scapfile.PT_FSRELPATH
_STRINGS = (PT_CHARBUF, PT_FSPATH, PT_FSRELPATH)
_FLAGS = (28, 29, 30, 42)  # PT_FLAGS8/16/32, PT_MODE
_INTS = (1, 2, 3, 4, 5, 6, 7, 8, 14, 15)  # PT_INT*, PT_UINT*, PT_FD, PT_PID
_PF_DEC = (0, 1)  # PF_NA, PF_DEC: printed in decimal
PT_UID, PT_GID = 31, 32


class _NameValue(ctypes.Structure):  # ppm_events_public.h: struct ppm_name_value
    _fields_ = [("name", ctypes.c_char_p), ("value", ctypes.c_uint32)]


@functools.cache
def param(code: int, name: str) -> tuple[int, int, tuple[tuple[str, int], ...]] | None:
    """(type, print format, name table) of parameter ``name`` of event ``code``."""
    fn = scapfile._libscap().scap_get_event_info_table
    fn.restype = ctypes.POINTER(scapfile._EventInfo)
    e = fn()[code]
    for j in range(min(e.nparams, scapfile._PPM_MAX_EVENT_PARAMS)):
        p = e.params[j]
        if p.name.decode() != name:
            continue
        table: list[tuple[str, int]] = []
        if p.info and int(p.type) in _FLAGS:
            arr = ctypes.cast(p.info, ctypes.POINTER(_NameValue))
            k = 0
            while arr[k].name is not None and k < 256:
                table.append((arr[k].name.decode(), int(arr[k].value)))
                k += 1
        return int(p.type), int(p.fmt), tuple(table)
    return None


def render_flags(table: tuple[tuple[str, int], ...], val: int) -> str:
    """libsinsp 2022's walk of a name table (PT_FLAGS*, PT_MODE), quirks included: the
    walk stops at the entry equal to the whole value, after printing every earlier
    entry whose bits it holds."""
    out: list[str] = []
    initial, left = val, val
    k = 0
    while k < len(table) and table[k][1] != initial:
        name, v = table[k]
        if (v == 0 and initial == 0) or (v != 0 and left & v == v and left != 0):
            out.append(name)
            left &= ~v
        k += 1
    if k < len(table):
        out.append(table[k][0])
    return "|".join(out) if out else str(val)


def encode(
    ptype: int, fmt: int, table: tuple[tuple[str, int], ...], text: object, users: dict[str, int]
) -> object | None:
    """The parameter value to write for the generated ``text``; None if there is none."""
    if ptype in _STRINGS:
        return text if isinstance(text, str) else None
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if not isinstance(text, str):
        return None
    if text.lstrip("-").isdigit():
        # A mode written with a leading 0 is octal, as chmod(1) and libsinsp's %#o read it.
        return int(text, 8 if ptype == 42 and text.startswith("0") else 10)
    if ptype in _FLAGS:
        names = dict(table)
        bits = 0
        for tok in text.split("|"):
            if tok not in names:
                return None
            bits |= names[tok]
        return bits
    if ptype in (PT_UID, PT_GID) and text in users:
        return users[text]
    return None


def render(
    ptype: int,
    fmt: int,
    table: tuple[tuple[str, int], ...],
    value: object,
    users: dict[str, int],
    cwd: str = "/",
) -> str | None:
    """What ``evt.arg.X`` gives for ``value`` written as this parameter; None when this
    module does not know (the cell is then marked)."""
    if ptype in _STRINGS:
        if not isinstance(value, str) or not value:
            return value if isinstance(value, str) else None
        if ptype == PT_CHARBUF:
            return value
        # libsinsp resolves a relative path against the thread's cwd and sanitises it
        # (concatenate_paths); an absolute one it prints as written.
        if value.startswith("/"):
            return value
        norm = posixpath.normpath(posixpath.join(cwd, value))
        return "/" + norm.lstrip("/") if norm.startswith("//") else norm
    if not isinstance(value, int):
        return None
    if ptype in _FLAGS:
        return render_flags(table, value & 0xFFFFFFFF)
    if ptype in _INTS and fmt in _PF_DEC:
        return str(value)
    if ptype == PT_UID:
        names = {v: k for k, v in users.items()}
        return names.get(value, "<NA>")
    return None


def param_name(code: int, key: str) -> str | None:
    """The parameter an ``evt.arg.<name>`` or ``evt.arg[N]`` key reads on event ``code``."""
    if key.startswith("evt.arg.") and "[" not in key:
        return key[len("evt.arg.") :]
    if key.startswith("evt.arg[") and key.endswith("]") and key[8:-1].isdigit():
        params = scapfile.event_table()[code].params
        n = int(key[8:-1])
        return params[n][0] if n < len(params) else None
    return None


def carries(code: int, key: str, value: object, users: dict[str, int]) -> bool:
    """Does event ``code`` have the parameter ``key`` reads, printed back as ``value``?"""
    name = param_name(code, key)
    p = param(code, name) if name is not None else None
    if p is None:
        return False
    enc = encode(p[0], p[1], p[2], value, users)
    return enc is not None and render(p[0], p[1], p[2], enc, users) == value


def carrying_exit(codes: tuple[int, int], args: dict[str, object], users: dict[str, int]) -> bool:
    """True if the exit of a call carries at least as many of the row's ``evt.arg``
    values (key -> text) as its enter: then the exit, which also has the result (an
    open's fd, an execve's tty), is the half to write."""
    table = scapfile.event_table()
    if table[codes[1]].flags & scapfile._EF_UNUSED:
        return False
    on_exit = sum(carries(codes[1], k, v, users) for k, v in args.items())
    on_enter = sum(carries(codes[0], k, v, users) for k, v in args.items())
    return on_exit >= on_enter
