"""A libscap savefile writer (pure Python, ``struct``), for generated workloads.

The blocks are the ones libscap 2022 (``scap_savefile.h``, libs e5c53d64) reads: a
section header, machine info, a user list (``UL_BLOCK_TYPE_V2``), a process list
(``PL_BLOCK_TYPE_V9``) and event blocks (``EV_BLOCK_TYPE_V2``), each framed as
``block_type, total_length, body, padding to 4 bytes, total_length``. Events are laid out
as libscap's ``ppm_evt_hdr`` (ts, tid, len, type, nparams; packed), one ``uint16`` length
per parameter, then the parameters.

Which parameters an event has comes from libscap's own event table
(``scap_get_event_info_table()`` in the installed ``libscap.so``, read through ctypes):
the writer fills every declared parameter, with a typed neutral value unless the caller
gives one, so an event is right by construction for the library that reads it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from ruleopt.errors import RuleoptError

SHB_BLOCK_TYPE = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
MI_BLOCK_TYPE = 0x201
PL_BLOCK_TYPE_V9 = 0x215
UL_BLOCK_TYPE_V2 = 0x220
EV_BLOCK_TYPE_V2 = 0x216
EV_BLOCK_TYPE_V2_LARGE = 0x221
FDL_BLOCK_TYPE_V2 = 0x218
SCAP_FD_IPV4_SOCK = 3
# scap.h's scap_l4_proto (not the IPPROTO_* numbers): what an fd-list socket stores.
SCAP_L4_TCP = 2
SCAP_L4_UDP = 3
SCAP_FD_FILE_V2 = 16
EF_LARGE_PAYLOAD = 1 << 11
USERBLOCK_TYPE_USER = 0
USERBLOCK_TYPE_GROUP = 1

_PPM_EVENT_MAX = 336  # ppm_events_public.h, libs 2022
_PPM_MAX_EVENT_PARAMS = 32
_PPM_SC_MAX = 329
PPME_GENERIC_E = 0
EC_INTERNAL = 256
# Events libsinsp itself or its helpers emit, whose payload is libsinsp's own format.
_META_EVENTS = frozenset(
    {
        "container",
        "notification",
        "infra",
        "k8s",
        "mesos",
        "tracer",
        "drop",
        "sysdigevent",
        "cpu_hotplug",
        "pluginevent",
        "useradded",
        "userdeleted",
        "groupadded",
        "groupdeleted",
    }
)
_PPM_MAX_NAME_LEN = 32
_EF_UNUSED = 1 << 6
_EF_OLD_VERSION = 1 << 9

# ppm_param_type -> fixed size in bytes (the variable-length types are handled apart).
_FIXED: dict[int, int] = {
    1: 1,
    2: 2,
    3: 4,
    4: 8,
    5: 1,
    6: 2,
    7: 4,
    8: 8,
    11: 8,
    14: 8,
    15: 8,
    18: 2,
    19: 1,
    20: 8,
    21: 8,
    22: 2,
    23: 1,
    24: 1,
    25: 4,
    26: 4,
    28: 1,
    29: 2,
    30: 4,
    31: 4,
    32: 4,
    33: 8,
    34: 4,
    38: 16,
    42: 4,
}
_SIGNED = {1, 2, 3, 4, 11, 14, 15}
# libscap's ppm_param_type values (ppm_events_public.h) the writer and scap_args name.
PT_CHARBUF = 9
PT_BYTEBUF = 10
PT_FD = 14
PT_FDLIST = 16
PT_FSPATH = 17
PT_FSRELPATH = 43
_STRINGS = {PT_CHARBUF, PT_FSPATH, PT_FSRELPATH}  # NUL-terminated

# Open flags as libsinsp prints them -> libscap's PPM_O_* bits (ppm_events_public.h).
PPM_O_FLAGS: dict[str, int] = {
    "O_RDONLY": 1 << 0,
    "O_WRONLY": 1 << 1,
    "O_RDWR": 3,
    "O_CREAT": 1 << 2,
    "O_APPEND": 1 << 3,
    "O_DSYNC": 1 << 4,
    "O_EXCL": 1 << 5,
    "O_NONBLOCK": 1 << 6,
    "O_SYNC": 1 << 7,
    "O_TRUNC": 1 << 8,
    "O_DIRECT": 1 << 9,
    "O_DIRECTORY": 1 << 10,
    "O_LARGEFILE": 1 << 11,
    "O_CLOEXEC": 1 << 12,
    "O_TMPFILE": 1 << 13,
}


@dataclass(frozen=True)
class EventInfo:
    """One entry of libscap's event table: the event id, name and its parameters."""

    code: int
    name: str
    flags: int
    params: tuple[tuple[str, int], ...]  # (name, ppm_param_type)
    category: int = 0
    # The fd parameters that a PT_FSRELPATH parameter of this event is relative to
    # (libscap keeps the fd parameter's index in the path parameter's ``info``).
    relpath_dirfds: tuple[str, ...] = ()

    @functools.cached_property
    def pnames(self) -> frozenset[str]:
        """The names of its parameters (asked on every row by the capture writer)."""
        return frozenset(n for n, _t in self.params)

    @functools.cached_property
    def internal(self) -> bool:
        """libsinsp's own events (container info, notifications, ...), not syscalls."""
        return bool(self.category & EC_INTERNAL) or self.name in _META_EVENTS


class _ParamInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("name", ctypes.c_char * _PPM_MAX_NAME_LEN),
        ("type", ctypes.c_int),
        ("fmt", ctypes.c_int),
        ("info", ctypes.c_void_p),
        ("ninfo", ctypes.c_uint8),
    ]


class _EventInfo(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("name", ctypes.c_char * _PPM_MAX_NAME_LEN),
        ("category", ctypes.c_int),
        ("flags", ctypes.c_int),
        ("nparams", ctypes.c_uint32),
        ("params", _ParamInfo * _PPM_MAX_EVENT_PARAMS),
    ]


class _SyscallDesc(ctypes.Structure):  # scap.h's ppm_syscall_desc (not packed)
    _fields_ = [("category", ctypes.c_int), ("flags", ctypes.c_int), ("name", ctypes.c_char_p)]


@functools.lru_cache(maxsize=1)
def _libscap() -> ctypes.CDLL:
    name = ctypes.util.find_library("scap") or "libscap.so"
    try:
        return ctypes.CDLL(name)
    except OSError as exc:
        raise RuleoptError(
            f"cannot load libscap to read its event table: {exc}",
            hint="install libfalcosecurity0-dev (libscap 2022)",
        ) from None


@functools.lru_cache(maxsize=1)
def syscall_codes() -> dict[str, int]:
    """libscap's PPM_SC_* code per syscall name (what a generic event's ID carries)."""
    fn = _libscap().scap_get_syscall_info_table
    fn.restype = ctypes.POINTER(_SyscallDesc)
    table = fn()
    out: dict[str, int] = {}
    for code in range(1, _PPM_SC_MAX):
        raw = table[code].name
        if raw:
            out.setdefault(raw.decode(), code)
    return out


@functools.lru_cache(maxsize=1)
def event_table() -> tuple[EventInfo, ...]:
    """libscap's event table, read from the installed library (never guessed)."""
    fn = _libscap().scap_get_event_info_table
    fn.restype = ctypes.POINTER(_EventInfo)
    table = fn()
    out = []
    for code in range(_PPM_EVENT_MAX):
        e = table[code]
        params = tuple(
            (e.params[j].name.decode(), int(e.params[j].type))
            for j in range(min(e.nparams, _PPM_MAX_EVENT_PARAMS))
        )
        dirfds: list[str] = []
        for j, (_name, ptype) in enumerate(params):
            ref = e.params[j].info or 0
            if ptype == PT_FSRELPATH and ref < len(params) and params[ref][1] == PT_FD:
                if params[ref][0] not in dirfds:
                    dirfds.append(params[ref][0])
        out.append(
            EventInfo(code, e.name.decode(), int(e.flags), params, int(e.category), tuple(dirfds))
        )
    return tuple(out)


@functools.cache
def event_codes(syscall: str) -> tuple[int, int] | None:
    """The (enter, exit) event ids libsinsp 2022 reads for ``evt.type = syscall``: the
    newest version of the event (old versions and unused slots are skipped)."""
    best = None
    for e in event_table():
        if e.name == syscall and e.code % 2 == 0 and not e.flags & (_EF_UNUSED | _EF_OLD_VERSION):
            best = e.code
    if best is None:
        # No event of its own: libscap records it as a generic event whose ID parameter
        # names the syscall, and libsinsp's evt.type reads that name.
        return (PPME_GENERIC_E, PPME_GENERIC_E + 1) if syscall in syscall_codes() else None
    return (best, best + 1)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def block(block_type: int, body: bytes) -> bytes:
    """One savefile block: header, body padded to 4 bytes, trailing length."""
    total = 8 + len(body) + len(_pad(len(body))) + 4
    return struct.pack("<II", block_type, total) + body + _pad(len(body)) + struct.pack("<I", total)


def section_header() -> bytes:
    return block(SHB_BLOCK_TYPE, struct.pack("<IHHQ", SHB_MAGIC, 1, 2, 0xFFFFFFFFFFFFFFFF))


def machine_info(
    hostname: str = "ruleopt-generated",
    num_cpus: int = 1,
    memory: int = 8 << 30,
    max_pid: int = 4194304,
) -> bytes:
    host = hostname.encode()[:127].ljust(128, b"\0")
    return block(
        MI_BLOCK_TYPE, struct.pack("<IQQ128sQQQQ", num_cpus, memory, max_pid, host, 0, 0, 0, 0)
    )


def _s16(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise RuleoptError(
            "a string in the capture is longer than 65,535 bytes", hint="shorten the value"
        )
    return struct.pack("<H", len(data)) + data


def user_list(users: Mapping[str, int], groups: Mapping[str, int]) -> bytes:
    """``users``: name -> uid (gid = uid); ``groups``: name -> gid."""
    body = bytearray()
    for name, uid in users.items():
        entry = (
            struct.pack("<BII", USERBLOCK_TYPE_USER, uid, uid)
            + _s16(name.encode())
            + _s16(f"/home/{name}".encode())
            + _s16(b"/bin/sh")
        )
        body += struct.pack("<I", 4 + len(entry)) + entry
    for name, gid in groups.items():
        entry = struct.pack("<BI", USERBLOCK_TYPE_GROUP, gid) + _s16(name.encode())
        body += struct.pack("<I", 4 + len(entry)) + entry
    return block(UL_BLOCK_TYPE_V2, bytes(body))


class Thread(NamedTuple):
    """One process-list entry (``scap_threadinfo`` as PL_BLOCK_TYPE_V9 stores it).

    A NamedTuple, not a frozen dataclass: a capture has one per thread (10^5 and more),
    and a frozen dataclass's ``__init__`` sets each of its fields through
    ``object.__setattr__``, several times slower."""

    tid: int
    pid: int
    ptid: int
    comm: str
    exe: str
    args: tuple[str, ...]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    cgroups: tuple[str, ...] = ()
    loginuid: int = -1
    vpid: int | None = None

    def args_bytes(self) -> bytes:
        return b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in self.args)

    def cgroups_bytes(self) -> bytes:
        return b"".join(c.encode() + b"\0" for c in self.cgroups)


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


_PE_IDS = struct.Struct("<QQQQQ")
_PE_CREDS = struct.Struct("<QIIIIIIQQ")
_PE_VIDS = struct.Struct("<qq")
_PE_TAIL = struct.Struct("<iB")
_U32 = struct.Struct("<I")


@functools.lru_cache(maxsize=1 << 16)
def _pe_parts(
    comm: str,
    exe: str,
    args: tuple[str, ...],
    cwd: str,
    uid: int,
    gid: int,
    cgroups: tuple[str, ...],
    loginuid: int,
) -> tuple[bytes, bytes]:
    # An entry is ids, these bytes, the virtual ids, those bytes: many entries share
    # everything but the ids (a thread of its own per row of one process), so the rest
    # is encoded once.
    names = (
        _s16(_enc(comm))
        + _s16(_enc(exe))
        + _s16(_enc(exe))
        + _s16(b"".join(_enc(a) + b"\0" for a in args))
        + _s16(_enc(cwd))
        + _PE_CREDS.pack(1024, 0, uid, gid, 0, 0, 0, 0, 0)
        + b"\0\0"
    )  # env: empty
    tail = (
        _s16(b"".join(c.encode() + b"\0" for c in cgroups))
        + _s16(b"/")
        + _PE_TAIL.pack(loginuid, 0)
    )
    return names, tail


def process_entry(t: Thread) -> bytes:
    names, tail = _pe_parts(t.comm, t.exe, t.args, t.cwd, t.uid, t.gid, t.cgroups, t.loginuid)
    vtid, vpid = (t.tid, t.pid) if t.vpid is None else (t.vpid, t.vpid)
    size = 4 + 40 + len(names) + 16 + len(tail)
    return b"".join(
        (
            _U32.pack(size),
            _PE_IDS.pack(t.tid, t.pid, t.ptid, t.pid, t.pid),
            names,
            _PE_VIDS.pack(vtid, vpid),
            tail,
        )
    )


def process_list(threads: list[Thread]) -> bytes:
    return block(PL_BLOCK_TYPE_V9, b"".join(process_entry(t) for t in threads))


def encode_param(ptype: int, value: object) -> bytes:
    """One parameter's bytes; ``None`` gives the type's neutral value."""
    if ptype in _STRINGS:
        data = value if isinstance(value, bytes) else _enc("" if value is None else str(value))
        return data + b"\0"
    if ptype == PT_BYTEBUF:
        return value if isinstance(value, bytes) else b""
    if ptype == PT_FDLIST:
        return struct.pack("<H", 0)
    size = _FIXED.get(ptype)
    if size is None:  # sockaddr, socktuple, dyn, networks: empty means "not captured"
        return value if isinstance(value, bytes) else b""
    if ptype == 33:
        return struct.pack("<d", float(value or 0))
    if ptype == 38:
        return (value if isinstance(value, bytes) else b"").ljust(16, b"\0")[:16]
    number = int(value or 0)
    if ptype not in _SIGNED and number < 0:
        number &= (1 << (8 * size)) - 1
    return number.to_bytes(size, "little", signed=ptype in _SIGNED)


def event_block(code: int, ts: int, tid: int, values: Mapping[str, object]) -> bytes:
    """One event block for libscap event ``code``; ``values`` by parameter name.

    An event flagged EF_LARGE_PAYLOAD (container info, plugin events) has 32-bit
    parameter lengths and its own block type; reading it with 16-bit lengths is what
    makes libsinsp 2022 crash in its container-info parser.

    Bytes are exactly ``event_block_reference``'s; the speed (10^6 events per capture)
    comes from two things. Everything after the timestamp and thread id depends only on
    the code and the values, and few combinations repeat (a generated capture of 100k
    events has ~10k): that part is kept per combination (``_TAILS``). The rest is built
    from the per-code layout compiled once (``_layout``): parameters the caller does
    not give are the type's neutral bytes, precomputed, so only the given ones are
    encoded, and the block and event headers are one ``struct`` pack."""
    key: tuple | None = (code, *values.items())
    for v in values.values():
        # Only values whose equality means equal bytes: True == 1 and 0.0 == -0.0 would
        # share an entry but encode differently.
        if type(v) not in _KEYABLE:
            key = None
            break
    got = _TAILS.get(key) if key is not None else None
    if got is None:
        got = _tail(code, values)
        if key is not None:
            if len(_TAILS) >= _TAILS_MAX:
                _TAILS.clear()
            _TAILS[key] = got
    block_type, total, evt_len, nparams, tail = got
    return _EV_HEAD.pack(block_type, total, 0, ts, tid, evt_len, code, nparams) + tail


_KEYABLE = frozenset({int, str, bytes, type(None)})
_TAILS: dict[tuple, tuple[int, int, int, int, bytes]] = {}
_TAILS_MAX = 1 << 16


def _tail(code: int, values: Mapping[str, object]) -> tuple[int, int, int, int, bytes]:
    """An event block's header fields but ts and tid, and its bytes after the header."""
    lay = _layout(code)
    datas = list(lay.neutral)
    positions = lay.positions
    for name, value in values.items():
        where = positions.get(name)
        if where is not None:
            for j in where:
                datas[j] = lay.encoders[j](value)
    if lay.large:
        lens = lay.lens.pack(*map(len, datas))
    else:
        try:
            lens = lay.lens.pack(*map(len, datas))
        except struct.error:  # a length above 65,535: the reference's message
            raise RuleoptError(
                f"a parameter of a {lay.name} event is longer than 65,535 bytes",
                hint="shorten the value",
            ) from None
    body_len = 28 + len(lens) + sum(map(len, datas))  # cpuid (2) + ppm_evt_hdr (26)
    pad = -body_len % 4
    total = 12 + body_len + pad
    return (
        lay.block_type,
        total,
        body_len - 2,
        len(datas),
        b"".join((lens, *datas, _ZEROS[pad], _U32.pack(total))),
    )


_EV_HEAD = struct.Struct("<IIHQQIHI")  # block type, length, cpuid, ppm_evt_hdr
_ZEROS = (b"", b"\0", b"\0\0", b"\0\0\0")


@dataclass(frozen=True)
class _Layout:
    name: str
    block_type: int
    large: bool
    types: tuple[int, ...]
    neutral: tuple[bytes, ...]
    positions: dict[str, tuple[int, ...]]  # a name can appear twice: every place gets it
    lens: struct.Struct
    encoders: tuple[Callable[[object], bytes], ...]  # per parameter: encode_param's bytes


def _encoder(ptype: int) -> Callable[[object], bytes]:
    """``encode_param`` for one parameter type, specialised for the common types (the
    integers and strings of most events); the others call it."""
    size = _FIXED.get(ptype)
    if ptype in _STRINGS:

        def text(value: object) -> bytes:
            if isinstance(value, bytes):
                return value + b"\0"
            return _enc("" if value is None else str(value)) + b"\0"

        return text
    if size is not None and ptype not in (33, 38):
        signed = ptype in _SIGNED
        mask = (1 << (8 * size)) - 1

        def number(value: object) -> bytes:
            n = int(value or 0)  # type: ignore[call-overload]
            if n < 0 and not signed:
                n &= mask
            return n.to_bytes(size, "little", signed=signed)

        return number
    return functools.partial(encode_param, ptype)


@functools.cache
def _layout(code: int) -> _Layout:
    info = event_table()[code]
    large = bool(info.flags & EF_LARGE_PAYLOAD)
    positions: dict[str, tuple[int, ...]] = {}
    for j, (name, _t) in enumerate(info.params):
        positions[name] = positions.get(name, ()) + (j,)
    return _Layout(
        info.name,
        EV_BLOCK_TYPE_V2_LARGE if large else EV_BLOCK_TYPE_V2,
        large,
        tuple(t for _n, t in info.params),
        tuple(encode_param(t, None) for _n, t in info.params),
        positions,
        struct.Struct(f"<{len(info.params)}{'I' if large else 'H'}"),
        tuple(_encoder(t) for _n, t in info.params),
    )


def event_block_reference(code: int, ts: int, tid: int, values: Mapping[str, object]) -> bytes:
    """``event_block`` written plainly, parameter by parameter: the definition of its
    bytes, which the tests hold the fast one to."""
    info = event_table()[code]
    datas = [encode_param(ptype, values.get(name)) for name, ptype in info.params]
    large = bool(info.flags & EF_LARGE_PAYLOAD)
    if not large and any(len(d) > 0xFFFF for d in datas):
        raise RuleoptError(
            f"a parameter of a {info.name} event is longer than 65,535 bytes",
            hint="shorten the value",
        )
    lens = b"".join(struct.pack("<I" if large else "<H", len(d)) for d in datas)
    payload = lens + b"".join(datas)
    length = 26 + len(payload)
    evt = struct.pack("<QQIHI", ts, tid, length, code, len(datas)) + payload
    return block(EV_BLOCK_TYPE_V2_LARGE if large else EV_BLOCK_TYPE_V2, struct.pack("<H", 0) + evt)


class FdEntry(NamedTuple):
    """One fd-table entry: a regular file (``path``, ``flags`` as PPM_O_* bits) or an
    IPv4 socket (``tuple4`` = client ip, client port, server ip, server port). A
    NamedTuple for the speed of building one per row (see ``Thread``)."""

    fd: int
    path: str | None = None
    flags: int = 1
    tuple4: tuple[str, int, str, int] | None = None
    l4proto: int = SCAP_L4_TCP


def _ipv4(text: str) -> bytes:
    parts = [int(x) for x in text.split(".")]
    if len(parts) != 4 or any(not 0 <= x <= 255 for x in parts):
        raise ValueError(text)
    return bytes(parts)  # as the kernel stores it: network order, read as a raw uint32


@functools.lru_cache(maxsize=1 << 16)
def fd_entry(e: FdEntry) -> bytes:
    if e.tuple4 is not None:
        sip, sport, dip, dport = e.tuple4
        body = (
            struct.pack("<QQB", e.fd, 0, SCAP_FD_IPV4_SOCK)
            + _ipv4(sip)
            + _ipv4(dip)
            + struct.pack("<HHB", sport, dport, e.l4proto)
        )
    else:
        body = (
            struct.pack("<QQBI", e.fd, 0, SCAP_FD_FILE_V2, e.flags)
            + _s16(_enc(e.path or ""))
            + struct.pack("<I", 0)
        )
    return struct.pack("<I", 4 + len(body)) + body


def fd_list(tid: int, entries: list[FdEntry]) -> bytes:
    """An FDL_BLOCK_TYPE_V2 block: the fd table of thread ``tid``."""
    return block(FDL_BLOCK_TYPE_V2, struct.pack("<Q", tid) + b"".join(fd_entry(e) for e in entries))


def write_header(
    fh: BinaryIO,
    users: Mapping[str, int],
    groups: Mapping[str, int],
    threads: list[Thread],
    fds: Mapping[int, list[FdEntry]] | None = None,
) -> None:
    fh.write(section_header())
    fh.write(machine_info())
    fh.write(user_list(users, groups))
    fh.write(process_list(threads))
    for tid, entries in (fds or {}).items():
        fh.write(fd_list(tid, entries))
