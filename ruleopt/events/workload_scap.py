"""A generated EventTable written as a libscap savefile that libsinsp 2022 reads back.

Every row of the table becomes one event (the generator already lays its calls out as
enter/exit pairs). The fields libsinsp computes from its own state are produced the way
a host produces them, not stored as columns:

- ``proc.*``, ``user.name``, ``container.id``: each distinct process the rows describe is
  one process-list entry (comm, exe, args, uid, cgroups), its ancestors a chain of entries
  named after ``proc.aname`` (``proc.pname`` first, with ``proc.pcmdline``'s arguments);
  users come from the user-list block; a container id is a docker cgroup path, which
  libsinsp's container engine parses.
- ``fd.*``, ``evt.is_open_*``: an open/openat/creat exit carries the fd, path and flags,
  and libsinsp's parser adds the fd to the thread's table; an event that names an fd
  (EF_USES_FD) of a file or an IPv4 socket runs on a thread whose fd-list block holds it.
- ``evt.res``/``evt.rawres``, ``evt.arg.name``: the exit's result and ``name`` parameters;
  every other ``evt.arg.<name>``/``evt.arg[N]`` goes into the parameter of that name (or
  position), checked against how libsinsp prints it (``scap_args``).
- sockets: an fd-list entry with the tuple (``fd.sip``... ``fd.l4proto``), an accept exit's
  socket tuple; a container's mounts in its container-info JSON.

Rows of one process (and ancestry) share threads where libsinsp's parsers leave a
thread as a fresh copy would show the next row: the writer tracks each shared thread's fd
table, last enter and last fd as parsers.cpp changes them (``_Threads.pooled``); calls
that change the process itself (execve, clone, setuid, procexit, ...) end a shared
thread's life (``_Threads.consume``), so they never leak state into the events of other
rows. Cells the writer cannot yet produce faithfully are counted per
field with the reason (``ScapReport.unfaithful``) and, in ``ScapReport.mask``, marked
per row: nothing differs silently.
"""

import contextlib
import errno
import fnmatch
import functools
import gc
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import BinaryIO

import numpy as np

from ruleopt.events import scap_args, scapfile
from ruleopt.events.table import EventTable
from ruleopt.fsutil import atomic_write

# Process-describing fields: rows that agree on all of them (and on the ancestry) share
# one thread.
_PROC_KEYS = (
    "proc.name",
    "proc.pname",
    "proc.cmdline",
    "proc.exe",
    "user.name",
    "container.id",
    "proc.tty",
    "proc.vpid",
)
# Syscalls whose libsinsp parsers change the calling thread (or its fd table).
_OWN_THREAD = frozenset(
    {
        "execve",
        "execveat",
        "clone",
        "clone3",
        "fork",
        "vfork",
        "procexit",
        "setuid",
        "setgid",
        "setresuid",
        "setresgid",
        "chdir",
        "fchdir",
        "chroot",
        "setsid",
        "setpgid",
        "open",
        "openat",
        "openat2",
        "creat",
        "socket",
        "accept",
        "accept4",
        "connect",
        "bind",
        "dup",
        "dup2",
        "dup3",
        "close",
        "pipe",
        "pipe2",
        "eventfd",
        "signalfd",
        "timerfd_create",
        "inotify_init",
        "inotify_init1",
        "socketpair",
        "userfaultfd",
        "prctl",
        "capset",
    }
)
_OPENS = frozenset({"open", "openat", "openat2", "creat"})
# Of those, the syscalls whose parsers change nothing of the thread but fds: their rows
# share threads with rows of the same process (``_Threads.pooled``), the fds they name or
# create being set aside on that thread afterwards (``_Threads.touched``). The others
# (execve, clone, procexit, setuid, chdir, pipe, ...) still get a thread of their own.
_POOLED = frozenset(
    {*_OPENS, "close", "dup", "dup2", "dup3", "connect", "bind", "socket", "accept", "accept4"}
)
# Parameters whose value is an fd the call may create, replace or close.
_FD_PARAMS = ("fd", "oldfd", "newfd", "fd1", "fd2")
_CONTAINER_META = ("container.image.repository", "container.privileged")
# Socket fields libsinsp derives from an fd's tuple (absent on files).
_SOCK_KEYS = ("fd.sip", "fd.cip", "fd.sport", "fd.cport", "fd.l4proto", "fd.sockfamily")
# Fields this writer sets; everything else the ruleset reads is listed as not produced.
PRODUCED = frozenset(
    {
        "evt.num",
        "evt.type",
        "evt.dir",
        "proc.name",
        "proc.pname",
        "proc.cmdline",
        "proc.exe",
        "user.name",
        "container.id",
        "proc.tty",
        "proc.vpid",
        "fd.name",
        "fd.directory",
        "fd.filename",
        "fd.typechar",
        "fd.num",
        "evt.is_open_write",
        "evt.is_open_read",
        "evt.is_open_exec",
        "evt.rawres",
        "evt.res",
        "evt.arg.name",
        "proc.aname",
        "proc.pcmdline",
        *_CONTAINER_META,
        "fd.type",
        *_SOCK_KEYS,
        "user.uid",
        "proc.args",
    }
)
# A file's socket fields in libsinsp 2022: fd.l4proto prints <NA>, the rest absent.
_FILE_SOCK: dict[str, object] = {**dict.fromkeys(_SOCK_KEYS), "fd.l4proto": "<NA>"}
_FD_KEYS = ("fd.name", "fd.directory", "fd.filename", "fd.typechar", "fd.type", *_SOCK_KEYS)
_CONTAINER_ID = re.compile(r"[0-9a-f]{12}")
_HOST_UIDS = {"root": 0}
_INIT_TID = 1
# scap.h's scap_l4_proto (not the IPPROTO_* numbers): what an fd-list entry stores.
_SCAP_L4_TCP, _SCAP_L4_UDP = scapfile.SCAP_L4_TCP, scapfile.SCAP_L4_UDP
_PPM_AF_INET = 2
_EF_CREATES_FD, _EF_USES_FD = 1 << 0, 1 << 2
# An event whose fd fields libsinsp looks up (creates, destroys or uses an fd).
_EF_FD_FLAGS = _EF_CREATES_FD | 1 << 1 | _EF_USES_FD
# libsinsp 2022's MAX_FD_TABLE_SIZE (settings.h): a thread's table takes no more fds.
_MAX_FDS = 4096
_FIRST_TID = 1000
# The directory fd written for a relative path (unlinkat's name, renameat's paths, ...):
# libsinsp 2022 prints such a path joined to its directory fd's name, and an fd missing
# from its fd table it looks up on the reading host, in /proc/<pid>/fd/<dirfd> (built
# with HAS_CAPTURE, also when reading a file), so a real process there with that pid
# would change the path. No host has an fd -1: the path reads back as the row has it.
_DIRFD_NOWHERE = -1
_NS_PER_EVENT = 1000
_T0 = 1_700_000_000 * 10**9


@dataclass
class ScapReport:
    """What the capture holds and, per field, the cells it could not produce as intended."""

    events: int = 0
    threads: int = 0
    bytes: int = 0
    not_produced: dict[str, str] = field(default_factory=dict)  # field -> why, all rows
    unfaithful: dict[str, tuple[int, str]] = field(default_factory=dict)  # field -> (rows, why)
    mask: dict[str, np.ndarray] = field(default_factory=dict)  # field -> rows not faithful
    keys: frozenset[str] = frozenset()  # the table's fields
    # Per-table facts the writer needs on every row, found once instead of by a scan of
    # ``keys`` per row: the ``proc.aname[k]`` columns, as (key, k), in ``keys`` order, and
    # the cells that key the memo of _process (``_PROCESS_CELLS`` and those columns).
    aname_keys: tuple[tuple[str, int], ...] = field(init=False, repr=False)
    process_cells: tuple[str, ...] = field(init=False, repr=False)
    # _process's results by the row's process cells (a table has few processes).
    _processes: dict[tuple, tuple] = field(default_factory=dict, repr=False)
    # _event_args's and _container_fields's results by the cells they read.
    _event_args: dict[tuple, tuple] = field(default_factory=dict, repr=False)
    _containers: dict[tuple, tuple] = field(default_factory=dict, repr=False)
    _table_fds: dict[tuple, tuple] = field(default_factory=dict, repr=False)
    _fd_entries: dict[tuple, object] = field(default_factory=dict, repr=False)
    # Marks while writing: one byte per row per field (cheaper to set than a numpy cell),
    # and a reason; ``finish()`` turns them into ``mask`` and ``unfaithful``.
    _rows: dict[str, bytearray] = field(default_factory=dict, repr=False)
    _why: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.aname_keys = tuple(
            (k, int(k[len("proc.aname[") : -1])) for k in self.keys if k.startswith("proc.aname[")
        )
        self.process_cells = _PROCESS_CELLS + tuple(k for k, _ in self.aname_keys)

    def _miss(self, key: str, row: int, why: str) -> None:
        if self.keys and key not in self.keys:
            return  # a field the rules do not read cannot differ
        m = self._rows.get(key)
        if m is None:
            m = self._rows[key] = bytearray(self.events)
        if not m[row]:
            m[row] = 1
            self._why[key] = why  # the reason shown is that of the last row marked

    def replay(self, marks: tuple[tuple[str, str], ...], row: int) -> None:
        """``_miss`` for each (key, why) of a memo's marks, in order, in one call (the
        memos replay ~6 marks per row)."""
        keys, rows, whys = self.keys, self._rows, self._why
        for key, why in marks:
            if keys and key not in keys:
                continue
            m = rows.get(key)
            if m is None:
                m = rows[key] = bytearray(self.events)
            if not m[row]:
                m[row] = 1
                whys[key] = why

    def finish(self) -> None:
        """Publish the marks: ``mask`` (rows per field) and ``unfaithful`` (count, why)."""
        for key, m in self._rows.items():
            self.mask[key] = np.frombuffer(m, dtype=np.uint8).astype(bool)
            self.unfaithful[key] = (m.count(1), self._why[key])
        self._rows, self._why = {}, {}


@dataclass(eq=False)
class _Pooled:
    """A thread shared by rows of one process, tracked as libsinsp's parsers change it."""

    tid: int
    fds: dict[int, scapfile.FdEntry] = field(default_factory=dict)  # entries still as written
    fixed: set[int] = field(default_factory=set)  # fds touched since: not to be relied on
    # libsinsp's m_lastevent_type (the last enter: an exit of its call is paired with it)
    # and m_lastevent_fd (what fd fields fall back to), as threadinfo.cpp starts them.
    lasttype: int = -1
    lastfd: int | None = 0
    # Touched fds that hold an entry with no close under way (a creating call's).
    plain: set[int] = field(default_factory=set)

    def lacks(self, fd: int | None) -> bool:
        """True when libsinsp surely has no such fd in this thread's table."""
        return fd == -1 or (fd is not None and fd not in self.fds and fd not in self.fixed)


class _Threads:
    """The process list: one entry per distinct process, one per distinct ancestry."""

    def __init__(self) -> None:
        self.threads: list[scapfile.Thread] = [
            scapfile.Thread(_INIT_TID, _INIT_TID, 0, "systemd", "/sbin/init", ("--system",))
        ]
        self.by_key: dict[tuple, int] = {}
        self.parents: dict[tuple, int] = {}
        self.users: dict[str, int] = dict(_HOST_UIDS)
        self.fds: dict[int, list[scapfile.FdEntry]] = {}  # tid -> its fd table
        # Shared threads by process key (see _POOLED), and by tid.
        self.pools: dict[tuple, list[_Pooled]] = {}
        self.pooled_by_tid: dict[int, _Pooled] = {}
        # (process key, fd entry) -> the shared thread that last served it.
        self.holding: dict[tuple, _Pooled] = {}
        # The previous row, when it was an enter naming an fd: (row, type, key, fd, tid).
        self.last: tuple | None = None
        # container id -> (image repository, privileged, mounts as (source, destination))
        # of its last container-info event
        self.containers: dict[str, tuple[str, bool, tuple[tuple[str, str], ...]]] = {}

    def uid(self, name: str | None, want: object = None) -> int:
        """The user list's uid for ``name``: the row's ``user.uid`` when the name is
        new and that uid free, else a fresh one."""
        if name is None:
            return 0
        if name not in self.users:
            taken = set(self.users.values())
            if (
                isinstance(want, int)
                and not isinstance(want, bool)
                and 0 <= want < 2**32 - 1
                and want not in taken
            ):
                self.users[name] = want
            else:
                self.users[name] = max(2000 + len(self.users), max(taken, default=0) + 1)
        return self.users[name]

    def _next(self) -> int:
        return _FIRST_TID + len(self.threads)

    def ancestry(
        self, chain: tuple[str, ...], pcmdline: tuple[str, ...] | None, cgroups: tuple[str, ...]
    ) -> int:
        """The tid of the parent of a process whose ancestors (parent first) are
        ``chain``; 0 (no parent: libsinsp's walk ends there) for an empty chain."""
        if not chain:
            return 0
        key = (chain, pcmdline, cgroups)
        tid = self.parents.get(key)
        if tid is None:
            up = self.ancestry(chain[1:], None, cgroups)
            tid = self._next()
            self.threads.append(
                scapfile.Thread(
                    tid, tid, up, chain[0], f"/usr/bin/{chain[0]}", pcmdline or (), cgroups=cgroups
                )
            )
            self.parents[key] = tid
        return tid

    def thread(self, key: tuple, make: Callable[[int], scapfile.Thread], own: bool) -> int:
        if not own and key in self.by_key:
            return self.by_key[key]
        tid = self._next()
        self.threads.append(make(tid))
        if not own:
            self.by_key[key] = tid
        return tid

    def pooled(
        self,
        key: tuple,
        make: Callable[[int], scapfile.Thread],
        entry: scapfile.FdEntry | None,
        new_fds: frozenset[int],
        exit_code: int | None,
        sees_last_fd: bool,
        replaceable: frozenset[int] = frozenset(),
    ) -> int:
        """A thread of the process ``key`` whose state, as libsinsp's parsers have left
        it, shows this row what a fresh copy of the process would: ``entry`` (if any) in
        its fd table, the fds the row names or creates (``new_fds``) absent; for an exit
        (``exit_code``), no enter it would be paired with and, when the row's fd fields
        fall back to the thread's last fd (``sees_last_fd``), none there. The fds in
        ``replaceable`` (those the row creates) may also hold an entry no close is under
        way on: libsinsp's fd table replaces it (fdinfo.cpp, ``sinsp_fdtable::add``).
        A fresh thread when no thread of the process is so."""
        if entry is not None and exit_code is None and not new_fds:
            # Most such rows are reads and writes of an fd a thread already holds.
            held = self.holding.get((key, entry))
            if (
                held is not None
                and held.tid in self.pooled_by_tid
                and held.fds.get(entry.fd) == entry
            ):
                return held.tid
        pool = self.pools.setdefault(key, [])
        spare = None
        for t in reversed(pool):  # the newest first: the likeliest to hold recent fds
            if exit_code is not None and (
                exit_code == t.lasttype + 1 or (sees_last_fd and not t.lacks(t.lastfd))
            ):
                continue
            if not all(
                t.lacks(fd) or (fd in replaceable and (fd in t.plain or fd in t.fds))
                for fd in new_fds
            ):
                continue
            if len(t.fds) + len(t.fixed) >= _MAX_FDS and (new_fds or entry is not None):
                continue  # libsinsp would refuse a new fd on this thread
            if entry is None or t.fds.get(entry.fd) == entry:
                if entry is not None:
                    self.holding[key, entry] = t
                return self._take(t, None, exit_code is not None and sees_last_fd)
            if spare is None and t.lacks(entry.fd):
                spare = t
        if spare is None:
            spare = _Pooled(self._next())
            self.threads.append(make(spare.tid))
            pool.append(spare)
            self.pooled_by_tid[spare.tid] = spare
        if entry is not None:
            self.holding[key, entry] = spare
        return self._take(spare, entry, exit_code is not None and sees_last_fd)

    def consume(
        self,
        key: tuple,
        make: Callable[[int], scapfile.Thread],
        exit_code: int | None,
        sees_last_fd: bool,
    ) -> int:
        """A thread for a row that leaves it changed beyond what this writer tracks: the
        oldest shared thread of the process that shows the row what a fresh copy would
        (as in ``pooled``, for a row that names no fd), taken out of the pool; else a
        fresh thread."""
        pool = self.pools.get(key, [])
        for n, t in enumerate(pool):
            if exit_code is not None and (
                exit_code == t.lasttype + 1 or (sees_last_fd and not t.lacks(t.lastfd))
            ):
                continue
            del pool[n]
            del self.pooled_by_tid[t.tid]
            return t.tid
        return self.thread(key, make, own=True)

    def _take(self, t: _Pooled, entry: scapfile.FdEntry | None, looks_up_last: bool) -> int:
        if looks_up_last and t.lastfd is not None and t.lastfd != -1:
            # The row saw no fd there: a later row must not add one to the fd-list block.
            t.fixed.add(t.lastfd)
        if entry is not None and entry.fd not in t.fds:
            # Never touched on this thread: as good as in its fd-list block from the start.
            self.fds.setdefault(t.tid, []).append(entry)
            t.fds[entry.fd] = entry
        return t.tid

    def touched(
        self,
        tid: int,
        fds: frozenset[int],
        code: int,
        exit_: bool,
        last_fd: int | None,
        created: int | None = None,
    ) -> None:
        """After a row (event ``code``) on pooled thread ``tid``: ``fds`` are now in a
        state this writer does not model (created, closed, connected, ...), so no later
        row relies on them there; ``last_fd`` is libsinsp's ``m_lastevent_fd`` after it
        (None: unknown), and an enter is what a later exit of its call is paired with."""
        t = self.pooled_by_tid[tid]
        for fd in fds:
            t.fds.pop(fd, None)
            t.fixed.add(fd)
            t.plain.discard(fd)
        if created is not None:
            # A fresh entry (an open's, a socket's): a later creating call may replace it.
            t.plain.add(created)
        if not exit_:
            t.lasttype = code
        t.lastfd = last_fd


def _open_flags(ev: dict) -> int | None:
    text = ev.get("evt.arg.flags")
    if isinstance(text, str) and text:
        bits = 0
        for tok in text.split("|"):
            if tok not in scapfile.PPM_O_FLAGS:
                return None
            bits |= scapfile.PPM_O_FLAGS[tok]
        return bits
    w, r = ev.get("evt.is_open_write") is True, ev.get("evt.is_open_read") is True
    return scapfile.PPM_O_FLAGS["O_RDWR" if w and r else "O_WRONLY" if w else "O_RDONLY"]


def _sinsp_dirname(path: str) -> str:
    return posixpath.dirname(path) or "/"


# Event blocks gathered per write to the spool, and rows between two progress calls.
_CHUNK = 4096
_PROGRESS_EVERY = 1 << 14
# A spool this small stays in memory; a larger one (10^6 events: ~200 MB) goes to disk.
_SPOOL_IN_MEMORY = 64 << 20


# This module compiled as it is (cython_core/workload_scap_c.pyx includes this file):
# ``build`` runs there when it was compiled from this file's current text, the same
# code without the interpreter's per-row dispatch. ``COMPILED = False`` runs this one
# (the tests compare the two); the switches below are handed to the compiled copy.
COMPILED = True
_COMPILED_NAME = "ruleopt._ext.workload_scap_c"
_SWITCHES = ("MEMO", "_PROGRESS_EVERY", "_CHUNK")
if __name__ != _COMPILED_NAME:
    try:
        from ruleopt._ext import workload_scap_c as _compiled_copy
    except ImportError:  # not built (RULEOPT_WITHOUT_SINSP builds it; a bare checkout not)
        _compiled_copy = None


@functools.cache
def _compiled():
    """The compiled copy of this module, if it was compiled from this very source."""
    if __name__ == _COMPILED_NAME or _compiled_copy is None:
        return None
    with open(__file__, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return _compiled_copy if getattr(_compiled_copy, "SOURCE_DIGEST", None) == digest else None


def build(
    table: EventTable,
    fh: BinaryIO,
    *,
    progress: Callable[[int], None] | None = None,
    spool_dir: str | os.PathLike | None = None,
) -> ScapReport:
    """Write ``table`` as a capture into ``fh``; return what round-trips and what not.

    ``progress(rows)`` is called every few thousand rows; ``spool_dir`` is where the event
    blocks wait (an unlinked temp file) while the process list is being learned. The
    report is the compiled copy's ``ScapReport`` when that copy wrote it."""
    impl = _compiled() if COMPILED else None
    if impl is not None:
        for name in _SWITCHES:
            setattr(impl, name, globals()[name])
        return impl.build(table, fh, progress=progress, spool_dir=spool_dir)
    rep = ScapReport(events=table.n, keys=frozenset(table.keys))
    keys = set(table.keys) - {"evt.num"}
    for key in sorted(k for k in keys - PRODUCED if not _produced_by_name(k)):
        rep.not_produced[key] = "the capture writer does not set this field yet"
    threads = _Threads()
    # The process list precedes the events but is known only once every row is seen:
    # the event blocks are built first, into the spool, then copied after the header.
    with tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY, dir=spool_dir) as spool, _gc_paused():
        size = 0
        chunk: list[bytes] = []
        for i, ev in enumerate(table.events()):
            chunk.append(_event(ev, i, threads, rep))
            if len(chunk) == _CHUNK:
                size += spool.write(b"".join(chunk))
                chunk.clear()
                if progress is not None and not (i + 1) % _PROGRESS_EVERY:
                    progress(i + 1)
        size += spool.write(b"".join(chunk))
        buf = io.BytesIO()
        scapfile.write_header(buf, threads.users, {"root": 0}, threads.threads, threads.fds)
        head = buf.getvalue()
        fh.write(head)
        spool.seek(0)
        shutil.copyfileobj(spool, fh, 1 << 20)
    if progress is not None:
        progress(table.n)
    rep.threads = len(threads.threads)
    rep.bytes = len(head) + size
    rep.finish()
    return rep


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while writing: the rows make no cycles (reference
    counting frees them), but 10^6 of them would trigger full collections that walk the
    growing process list again and again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def write_capture(
    table: EventTable, path: str | os.PathLike, *, progress: bool = False
) -> ScapReport:
    """``build`` into ``path`` atomically: on any failure (Ctrl-C included) nothing is
    left behind and an existing file there is untouched. ``progress``: a progress bar
    on stderr (a 10^6-event capture takes tens of seconds)."""
    reports: list[ScapReport] = []
    spool_dir = os.path.dirname(os.path.abspath(path))  # where the capture must fit anyway
    with _write_bar(progress, table.n) as step:
        atomic_write(
            path, lambda fh: reports.append(build(table, fh, progress=step, spool_dir=spool_dir))
        )
    return reports[0]


@contextlib.contextmanager
def _write_bar(enabled: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    if not enabled:
        yield None
        return
    from rich import progress as rp

    with rp.Progress(
        rp.TextColumn("writing the capture"),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("write", total=total)
        yield lambda rows: bar.update(task, completed=rows)


def _event(ev: dict, i: int, threads: _Threads, rep: ScapReport) -> bytes:
    etype = str(ev.get("evt.type"))
    if "evt.dir" in rep.keys:
        exit_ = ev.get("evt.dir") == "<"
    else:
        # No rule reads the direction: write the half of the call that carries the row.
        exit_ = _carrying_half(ev, scapfile.event_codes(etype), rep, threads.users)
    cid_row = ev.get("container.id")
    # libsinsp 2022 does not return a container-info event that opens a capture (it is
    # consumed while the capture is set up), so row 0 cannot be one.
    if (
        etype == "container"
        and i > 0
        and isinstance(cid_row, str)
        and _CONTAINER_ID.fullmatch(cid_row)
    ):
        return _container_event(ev, i, cid_row, threads, rep)
    codes, code, info, values_default, kind_marks = _kind(etype, exit_)
    if kind_marks:
        rep.replay(kind_marks, i)
    if ev.get("evt.num") != i + 1:
        rep._miss("evt.num", i, "a capture numbers its events 1, 2, 3, ...")

    # ---- the process
    cid = ev.get("container.id")
    _container_fields_memo(ev, i, cid, threads, rep)
    tty = ev.get("proc.tty")
    is_execve_exit = exit_ and etype in ("execve", "execveat") and _result(ev) >= 0
    comm, args, cgroups, exe_s, uid, parent, key, make = _process_memo(
        ev, i, exit_ and etype in ("execve", "execveat"), is_execve_exit, threads, rep
    )

    # libsinsp looks an fd up on events flagged EF_USES_FD whose fd parameter is not the
    # result (a socket or accept exit's fd is a new one).
    uses_fd = bool(info.flags & _EF_USES_FD) and not (
        exit_ and info.params and info.params[0][0] == "fd"
    )
    pnames_here = info.pnames if uses_fd else frozenset()
    entry = None if exit_ and etype in _OPENS else _fd_entry_memo(ev, pnames_here, rep)
    last = threads.last
    inherited = None
    if (
        entry is None
        and exit_
        and last is not None
        and last[0] == i - 1
        and last[1] == etype
        and last[2] == key
    ):
        # The exit right after its enter, same process and fd: on the enter's thread
        # (its own, since the enter named an fd), libsinsp takes the exit's fd from the
        # enter, as on a host (dup's and connect's parsers included).
        e = last[3]
        if ev.get("fd.num") == e.fd and ev.get("fd.name") == (e.path or ev.get("fd.name")):
            inherited = e
    own = etype in _OWN_THREAD
    # A row goes on a shared thread of its process (chosen once its parameters are
    # known, below) when its syscall changes only fds there and it needs no pending
    # enter of its own but the one right before it (an exit that does not follow its
    # enter, and looks an fd up, would take the fd of whatever enter came last).
    pooled = inherited is not None or (
        (entry is not None or etype in _POOLED) and (not own or etype in _POOLED)
    )
    tid = -1
    if inherited is not None:
        assert last is not None
        tid = last[4]
        pooled = tid in threads.pooled_by_tid
    elif not pooled and own and entry is None:
        # A call that changes the process (execve, clone, procexit, setuid, ...) ends a
        # shared thread's life: it takes one no later row needs, or a fresh one.
        tid = threads.consume(
            key, make, code if exit_ else None, bool(exit_ and info.flags & _EF_FD_FLAGS)
        )
    elif not pooled:
        tid = threads.thread(key, make, own=own or entry is not None)
        if entry is not None:
            threads.fds[tid] = [entry]

    # ---- the parameters
    values: dict[str, object] = dict(values_default)
    pnames = info.pnames
    res = _result(ev)
    is_open_exit = exit_ and etype in _OPENS
    fdnum = ev.get("fd.num")
    if is_open_exit:
        path = ev.get("fd.name")
        flags = _open_flags(ev)
        if flags is None:
            rep._miss("evt.arg.flags", i, "a flag libscap 2022 does not know")
            flags = 1
        if "flags" not in pnames:  # creat: no flags parameter, so none for libsinsp
            flags = 0
        if isinstance(fdnum, int) and fdnum >= 0:
            res = fdnum
        # libsinsp's evt.is_open_exec: an exec bit of the mode, read only when the open
        # creates (O_CREAT, O_TMPFILE) or is a creat.
        creates = etype == "creat" or bool(flags & _CREATES)
        wants_exec = ev.get("evt.is_open_exec") is True
        if wants_exec and not creates and "flags" in pnames and "evt.arg.flags" not in rep.keys:
            # The rules do not read the flags: the open creates its file, as one that sets
            # an exec bit does (libsinsp reads the mode only then).
            flags |= scapfile.PPM_O_FLAGS["O_CREAT"]
            creates = True
        mode = _EXEC_MODE if wants_exec and creates else 0
        values.update(fd=res, dirfd=-100, name=path, flags=flags, mode=mode)
        if isinstance(path, str) and res >= 0:
            _check_fd(ev, i, path, flags, rep)
            if ev.get("fd.num") != res:
                rep._miss("fd.num", i, "an open exit's fd is its result (evt.rawres)")
        else:
            for k in _FD_CELLS:
                if ev.get(k) is not None:
                    rep._miss(k, i, "an open that fails or has no path creates no fd")
            if res >= 0 and ev.get("fd.num") != res:
                # Seen on libsinsp 2022: an open exit with no path still adds its fd.
                rep._miss("fd.num", i, "an open exit's fd is its result (evt.rawres)")
            elif res < 0:
                # fd.num is the thread's m_lastevent_fd (filterchecks.cpp), which a
                # failed open leaves as the events before it set it.
                rep._miss("fd.num", i, "a failed open's fd.num is the thread's last fd")
                if isinstance(path, str) and path:
                    # Seen on libsinsp 2022 (a relative path): the fd fields of a failed
                    # open come from its path parameter, resolved against the cwd.
                    for k in ("fd.name", "fd.directory", "fd.filename"):
                        if ev.get(k) is None:
                            rep._miss(k, i, "libsinsp derives it from a failed open's path")
        # libsinsp 2022 reads them from the flags parameter, whether the open failed or not.
        for k, bit in (("evt.is_open_write", 2), ("evt.is_open_read", 1)):
            if ev.get(k) != bool(flags & bit):
                rep._miss(k, i, "libsinsp derives it from the open's flags")
        if ev.get("evt.is_open_exec") is not bool(mode):
            rep._miss(
                "evt.is_open_exec",
                i,
                "libsinsp reads the mode's exec bits only of an open that creates "
                "(O_CREAT, O_TMPFILE) or a creat",
            )
    else:
        if isinstance(fdnum, int) and "fd" in pnames:
            values["fd"] = fdnum
        enter_pnames = scapfile.event_table()[codes[0]].pnames
        accepted = (
            _fd_entry(ev, {"fd"})
            if exit_ and etype in ("accept", "accept4") and "tuple" in pnames
            else None
        )
        if accepted is not None and accepted.tuple4 is not None:
            # An accepted socket is a TCP one to libsinsp, whatever the row says.
            accepted = accepted._replace(l4proto=_SCAP_L4_TCP)
            # libsinsp's accept parser adds the new socket (the result) from the tuple.
            values["tuple"] = _socktuple(accepted.tuple4)
            values["fd"] = accepted.fd
            res = accepted.fd
            _check_table_fd_memo(ev, i, accepted, rep)
        elif entry is not None or inherited is not None:
            _check_table_fd_memo(ev, i, entry or inherited, rep)
        elif (
            "fd" in pnames
            or "fd" in enter_pnames
            or etype in _OWN_THREAD
            or any(ev.get(k) is not None for k in _FD_CELLS)
        ):
            rep.replay(_NO_FD_MARKS, i)
        if (
            ev.get("evt.is_open_write") is not False
            and ev.get("evt.is_open_read") is not False
            and ev.get("evt.is_open_exec") is not False
        ):
            rep.replay(_NOT_OPEN_MARKS, i)  # (most rows: the marks in one call)
        else:
            for k in _OPEN_KEYS:
                if ev.get(k) is not False:
                    rep._miss(k, i, _NOT_OPEN)
    _results(ev, i, info, exit_, res, values, rep)
    if exit_ and "vpid" in pnames and "vtid" in pnames:
        # A clone's exit: libsinsp takes a thread whose vtid is not its tid to be in a pid
        # namespace and sets the thread's vpid from these (0 would erase proc.vpid).
        vpid = _row_vpid(ev)
        values.setdefault("vtid", tid if vpid is None else vpid)
        values.setdefault("vpid", tid if vpid is None else vpid)
    argname = ev.get("evt.arg.name")
    if is_open_exit:
        if argname != values.get("name"):
            rep._miss("evt.arg.name", i, "an open exit's name parameter is its path (fd.name)")
    elif "name" in pnames:
        if argname is None:
            rep._miss("evt.arg.name", i, "libsinsp reads this event's name parameter")
        else:
            values["name"] = argname
    elif argname is not None:
        rep._miss("evt.arg.name", i, "this event has no name parameter")
    if is_execve_exit:
        values.update(
            exe=exe_s,
            args=b"".join(a.encode() + b"\0" for a in args),
            tid=tid,
            pid=tid,
            ptid=parent,
            cwd="/",
            comm=comm,
            fdlimit=1024,
            cgroups=b"".join(c.encode() + b"\0" for c in cgroups),
            tty=tty if isinstance(tty, int) else 0,
            pgid=tid,
            loginuid=-1,
            uid=uid,
        )
    _event_args_memo(ev, i, code, values, threads, rep)
    if pooled:
        tid = _pool_thread(
            ev,
            etype,
            code,
            info,
            exit_,
            own,
            entry,
            inherited,
            tid,
            key,
            make,
            values,
            res,
            threads,
        )
    threads.last = (i, etype, key, entry, tid) if entry is not None and not exit_ else None
    return scapfile.event_block(code, _T0 + i * _NS_PER_EVENT, tid, values)


# What _process reads of a row: proc.aname (a list), the process, user and container
# cells, and (with the table's proc.aname[k] columns, ScapReport.process_cells) the
# ancestry's.
_PROCESS_CELLS = (
    "proc.name",
    "proc.cmdline",
    "container.id",
    "proc.exe",
    "proc.tty",
    "user.name",
    "user.uid",
    "proc.args",
    "proc.pname",
    "proc.pcmdline",
    "proc.vpid",
)


def _process_memo(
    ev: dict, i: int, execve_exit: bool, is_execve_exit: bool, threads: _Threads, rep: ScapReport
) -> tuple:
    """``_process``, once per distinct (process cells, execve flags): besides the marks,
    the state it reads is created on its first row and never changed after (a user's
    uid, an ancestry's entry), so later rows with the same cells get the same answer."""
    if not MEMO:
        return _process(ev, i, execve_exit, is_execve_exit, threads, rep)
    names = ev.get("proc.aname")  # a list: as a tuple
    cells = tuple(map(ev.get, rep.process_cells))
    memo_key = (
        execve_exit,
        is_execve_exit,
        tuple(names) if isinstance(names, list) else names,
        cells,
        tuple(map(type, cells)),
    )
    try:
        hit = rep._processes.get(memo_key)
    except TypeError:  # a cell that is not hashable: the plain call
        return _process(ev, i, execve_exit, is_execve_exit, threads, rep)
    if hit is None:
        marks = _Marks(rep)
        got = _process(ev, i, execve_exit, is_execve_exit, threads, marks)  # type: ignore[arg-type]
        if len(rep._processes) >= _MEMO_MAX:
            rep._processes.clear()  # bounded: a memo only saves work
        hit = rep._processes[memo_key] = (got, tuple(marks.marks))
    if hit[1]:
        rep.replay(hit[1], i)
    return hit[0]


def _row_vpid(ev: dict) -> int | None:
    """The row's pid in its own namespace (``proc.vpid``), if it is one a process can have."""
    vpid = ev.get("proc.vpid")
    if isinstance(vpid, int) and not isinstance(vpid, bool) and 0 < vpid < 1 << 31:
        return vpid
    return None


def _process(
    ev: dict, i: int, execve_exit: bool, is_execve_exit: bool, threads: _Threads, rep: ScapReport
) -> tuple:
    """The row's process as the process list holds it: (comm, args, cgroups, exe, uid,
    parent tid, the thread key, a maker of its thread entry); ``execve_exit``: the row is
    an execve exit, ``is_execve_exit``: a successful one (its tty is carried)."""
    name = ev.get("proc.name")
    comm = "" if name is None else str(name)
    cmdline = ev.get("proc.cmdline")
    args: tuple[str, ...] = ()
    if isinstance(cmdline, str):
        if cmdline == comm:
            args = ()
        elif cmdline.startswith(comm + " "):
            args = (cmdline[len(comm) + 1 :],)
        else:
            rep._miss("proc.cmdline", i, "libsinsp prints proc.name before the arguments")
            args = (cmdline,)
    cid = ev.get("container.id")
    cgroups: tuple[str, ...] = ()
    if isinstance(cid, str) and cid != "host":
        if _CONTAINER_ID.fullmatch(cid):
            cgroups = (f"cpuset=/docker/{cid}{'0' * 52}",)
        else:
            rep._miss("container.id", i, "libsinsp finds only 12-hex-digit docker ids")
    exe = ev.get("proc.exe")
    exe_s = str(exe) if isinstance(exe, str) else f"/usr/bin/{comm}"
    tty = ev.get("proc.tty")
    if isinstance(tty, int) and tty != 0 and not is_execve_exit:
        rep._miss(
            "proc.tty", i, "the 2022 process-list block has no tty; only an execve exit carries one"
        )
    uid = threads.uid(
        ev.get("user.name") if isinstance(ev.get("user.name"), str) else None, ev.get("user.uid")
    )
    if "user.uid" in rep.keys and ev.get("user.uid") != uid:
        rep._miss(
            "user.uid",
            i,
            "a user has one uid in the capture's user list (the one of its first row)",
        )
    if "proc.args" in rep.keys and ev.get("proc.args") != " ".join(args):
        rep._miss("proc.args", i, "libsinsp prints the arguments after proc.name in proc.cmdline")
    chain, pargs = _ancestry(ev, i, rep)
    if execve_exit and not chain and ev.get("proc.aname") is None:
        # (a failed one too: seen on libsinsp 2022)
        rep._miss(
            "proc.aname",
            i,
            "after an execve exit with no parent, libsinsp 2022 shows an empty ancestor list",
        )
    parent = threads.ancestry(chain, pargs, cgroups)
    # The pid in the process's own namespace (1: a container's first process): the
    # process-list entry's vpid, which libsinsp keeps (an execve exit carries none).
    vpid = _row_vpid(ev)
    if vpid is None and "proc.vpid" in rep.keys:
        rep._miss("proc.vpid", i, "libsinsp gives a process without a vpid its tid")
    # The thread's identity: the process fields and the ancestry entry it hangs from
    # (rows that agree on proc.pname but not on proc.aname[2...] need two threads).
    key = (*map(ev.get, _PROC_KEYS), parent)

    def make(tid: int) -> scapfile.Thread:
        return scapfile.Thread(
            tid, tid, parent, comm, exe_s, args, uid=uid, gid=uid, cgroups=cgroups, vpid=vpid
        )

    return comm, args, cgroups, exe_s, uid, parent, key, make


_FD_CELLS = (*_FD_KEYS, "fd.num")
_NOT_OPEN = "libsinsp 2022 gives false on every event but an open exit"
_OPEN_KEYS = ("evt.is_open_write", "evt.is_open_read", "evt.is_open_exec")
_NOT_OPEN_MARKS = tuple((k, _NOT_OPEN) for k in _OPEN_KEYS)
_CREATES = scapfile.PPM_O_FLAGS["O_CREAT"] | scapfile.PPM_O_FLAGS["O_TMPFILE"]
_EXEC_MODE = 0o755  # PPM_S_* bits are Linux's: rwxr-xr-x
# The marks of a row that names an fd the capture does not carry (one call for all).
_NO_FD_MARKS = tuple(
    (
        k,
        "no fd the capture carries here: only open exits and events "
        "naming a file or IPv4-socket fd (and their exits right after "
        "them) are written so far",
    )
    for k in _FD_CELLS
)


@functools.cache
def _kind(
    etype: str, exit_: bool
) -> tuple[
    tuple[int, int],
    int,
    scapfile.EventInfo,
    tuple[tuple[str, object], ...],
    tuple[tuple[str, str], ...],
]:
    """What a row of this type and direction is written as, found once per (type,
    direction) instead of per row: the (enter, exit) codes, the code and its info, the
    parameters every such row starts from, and the marks every such row gets."""
    marks: list[tuple[str, str]] = []
    codes = scapfile.event_codes(etype)
    if codes is not None and scapfile.event_table()[codes[0]].internal:
        # libsinsp's own events other than a container's info: written as generic events
        # until their payloads are built; such rows say so.
        codes = None
        why = (
            "libsinsp's internal events are written only as a container's info, for "
            "a docker container id, after the first event"
        )
    else:
        why = "no libscap 2022 event of this name"
    if codes is None:
        marks += [(key, why) for key in ("evt.type", "evt.dir")]
        codes = (scapfile.PPME_GENERIC_E, scapfile.PPME_GENERIC_E + 1)
    code = codes[1] if exit_ else codes[0]
    info = scapfile.event_table()[code]
    if exit_ and info.flags & scapfile._EF_UNUSED:
        marks.append(("evt.dir", "libscap 2022 has no exit event for this syscall"))
        code = codes[0]
        info = scapfile.event_table()[code]
    if code in (scapfile.PPME_GENERIC_E, scapfile.PPME_GENERIC_E + 1):
        generic: tuple[tuple[str, object], ...] = (
            ("ID", scapfile.syscall_codes().get(etype, 0)),
            ("nativeID", 0),
        )
    else:
        generic = ()
    # A relative path's directory fd, unless the row's syscall sets it (an open: AT_FDCWD).
    generic += tuple((name, _DIRFD_NOWHERE) for name in info.relpath_dirfds)
    return codes, code, info, generic, tuple(marks)


def _pool_thread(
    ev: dict,
    etype: str,
    code: int,
    info: scapfile.EventInfo,
    exit_: bool,
    own: bool,
    entry: scapfile.FdEntry | None,
    inherited: scapfile.FdEntry | None,
    tid: int,
    key: tuple,
    make: Callable[[int], scapfile.Thread],
    values: dict,
    res: int,
    threads: _Threads,
) -> int:
    """The shared thread of a ``_POOLED`` row (or of an exit right after its enter, on
    that enter's thread ``tid``), and that thread's state after the row, as libsinsp's
    parsers (parsers.cpp, 2022) will leave it: an enter sets the last event type and
    fd; an exit that creates an fd adds it and makes it the last fd."""
    creates = bool(info.flags & _EF_CREATES_FD) and exit_ and res >= 0
    if not own and not creates and inherited is not None and inherited.tuple4 is None:
        return tid  # a file's read/write exit after its enter: no state changes
    # The fds the row names, creates, replaces or closes.
    made = (
        {
            v
            for n in _FD_PARAMS
            if isinstance(v := values.get(n, 0 if n in info.pnames else None), int)
            and not isinstance(v, bool)
            and v >= 0
        }
        if own
        else set()
    )
    if creates:
        made.add(res)
    if entry is not None:
        made.discard(entry.fd)
    if inherited is None:
        # An open exit that adds its fd shows that fd; any other exit without one falls
        # back to the thread's last fd (filterchecks.cpp, extract_fd).
        opened = (
            creates
            and etype in _OPENS
            and isinstance(values.get("name"), str)
            and bool(values.get("name"))
        )
        tid = threads.pooled(
            key,
            make,
            entry,
            frozenset(made),
            code if exit_ else None,
            bool(info.flags & _EF_FD_FLAGS) and not opened,
            frozenset((res,)) if opened else frozenset(),
        )
    held = entry or inherited
    if held is not None and (own or (exit_ and held.tuple4 is not None)):
        # An own call changes its fd; a socket's exit (recvfrom's, sendto's, ...) may
        # update its tuple.
        made.add(held.fd)
    t = threads.pooled_by_tid[tid]
    if not exit_:
        first = info.params[0][0] if info.params else None
        last_fd = values.get(first, 0) if info.flags & _EF_USES_FD and first else -1
        last_fd = last_fd if isinstance(last_fd, int) and not isinstance(last_fd, bool) else None
    else:
        last_fd = res if creates else t.lastfd
    threads.touched(tid, frozenset(made), code, exit_, last_fd, res if creates else None)
    return tid


def _carrying_half(
    ev: dict, codes: tuple[int, int] | None, rep: ScapReport, users: dict[str, int]
) -> bool:
    """True for the exit (result, an open's fd, an execve's tty, most parameters); the
    enter when it carries more of the row's ``evt.arg`` values (ptrace's request)."""
    if codes is None:
        return True
    args = {k: ev[k] for k, _n in _arg_keys(rep.keys) if ev.get(k) is not None}
    return scap_args.carrying_exit(codes, args, users)


def _produced_by_name(key: str) -> bool:
    """Keys of a family the writer sets (each cell checked on its own row)."""
    return key.startswith(("proc.aname[", "container.mount.dest[", "evt.arg"))


@functools.cache
def _arg_keys(keys: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The table's ``evt.arg.<name>`` and ``evt.arg[N]`` keys, but ``evt.arg.name``
    (written on its own)."""
    return tuple(
        (k, k[len("evt.arg.") :])
        for k in sorted(keys)
        if k.startswith(("evt.arg.", "evt.arg[")) and k != "evt.arg.name"
    )


@functools.cache
def _arg_param(code: int, key: str) -> tuple[str | None, tuple | None]:
    """The parameter (name, (type, format, name table)) ``key`` reads on event ``code``."""
    name = scap_args.param_name(code, key)
    return name, scap_args.param(code, name) if name is not None else None


_ABSENT = object()
# Entries a per-row memo keeps before it starts over (10^6 rows would otherwise keep
# ~10^5 keys of cells each).
_MEMO_MAX = 1 << 15


@functools.cache
def _arg_plan(code: int, keys: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The table's ``evt.arg`` keys (as ``_arg_keys``) and the parameter names they read
    on event ``code``: what ``_event_args``'s outcome depends on besides the users."""
    arg_keys = tuple(k for k, _n in _arg_keys(keys))
    names = tuple(
        sorted(
            {
                n
                for k in arg_keys
                if (n := _arg_param(code, k)[0]) is not None and _arg_param(code, k)[1] is not None
            }
        )
    )
    return arg_keys, names


def _typed(cells: Iterator[object]) -> tuple:
    # With their types, so that cells equal but encoding differently (True and 1) key
    # apart (two C-level maps: this runs on every row).
    got = tuple(cells)
    return got, tuple(map(type, got))


def _event_args_memo(
    ev: dict, i: int, code: int, values: dict, threads: _Threads, rep: ScapReport
) -> None:
    """``_event_args``, once per distinct (event code, the row's ``evt.arg`` cells, the
    parameters already set that they read, the user list): it reads nothing else and
    changes only those parameters and the marks, which are replayed. The user list only
    grows (a name keeps its uid), so its length stands for its state."""
    if not MEMO:
        _event_args(ev, i, code, values, threads, rep)
        return
    arg_keys, names = _arg_plan(code, rep.keys)
    if not arg_keys:
        return
    cells = tuple(map(ev.get, arg_keys))
    given = tuple(map(values.get, names, repeat(_ABSENT, len(names))))
    memo_key = (
        code,
        len(threads.users),
        cells,
        tuple(map(type, cells)),
        given,
        tuple(map(type, given)),
    )
    try:
        hit = rep._event_args.get(memo_key)
    except TypeError:  # a cell that is not hashable (a list): the plain call
        _event_args(ev, i, code, values, threads, rep)
        return
    if hit is None:
        marks = _Marks(rep)
        before = {n: values[n] for n in names if n in values}
        _event_args(ev, i, code, values, threads, marks)  # type: ignore[arg-type]
        added = tuple((n, values[n]) for n in names if n in values and n not in before)
        if len(rep._event_args) >= _MEMO_MAX:
            rep._event_args.clear()  # bounded: a memo only saves work
        hit = rep._event_args[memo_key] = (added, tuple(marks.marks))
    else:
        values.update(hit[0])
    if hit[1]:
        rep.replay(hit[1], i)


def _event_args(
    ev: dict, i: int, code: int, values: dict, threads: _Threads, rep: ScapReport
) -> None:
    """Write the row's ``evt.arg.<name>`` into the parameter of that name (unless the
    writer already set it from other fields: an open's flags, an fd) and mark each cell
    libsinsp will print differently, or that the event has no parameter for."""
    for key, _n in _arg_keys(rep.keys):
        want = ev.get(key)
        name, p = _arg_param(code, key)
        if p is None:
            if want is not None:
                rep._miss(key, i, "this event has no such parameter in libscap 2022")
            continue
        ptype, fmt, table = p
        if name not in values:
            if want is None:
                # libsinsp prints the neutral value the writer fills in, not absent.
                rep._miss(key, i, "the event always carries this parameter")
                continue
            enc = scap_args.encode(ptype, fmt, table, want, threads.users)
            if enc is None:
                rep._miss(key, i, "a value libscap 2022 cannot carry in this parameter")
                continue
            values[name] = enc
        shown = scap_args.render(ptype, fmt, table, values[name], threads.users)
        if shown is None or shown != want:
            rep._miss(
                key,
                i,
                "libsinsp prints this parameter by its type (flags and "
                "modes by their name table, paths normalised)",
            )


def _container_fields_memo(
    ev: dict, i: int, cid: object, threads: _Threads, rep: ScapReport
) -> None:
    """``_container_fields``, once per distinct (container id, its last container-info,
    the row's container cells): it reads nothing else and changes only the marks."""
    if not MEMO:
        _container_fields(ev, i, cid, threads, rep)
        return
    state = threads.containers.get(cid) if isinstance(cid, str) else None
    memo_key = (
        type(cid),
        cid,
        state,
        _typed(map(ev.get, _CONTAINER_META + _mount_cells(rep.keys))),
    )
    try:
        marks = rep._containers.get(memo_key)
    except TypeError:  # a cell that is not hashable: the plain call
        _container_fields(ev, i, cid, threads, rep)
        return
    if marks is None:
        rec = _Marks(rep)
        _container_fields(ev, i, cid, threads, rec)  # type: ignore[arg-type]
        if len(rep._containers) >= _MEMO_MAX:
            rep._containers.clear()  # bounded: a memo only saves work
        marks = rep._containers[memo_key] = tuple(rec.marks)
    if marks:
        rep.replay(marks, i)


@functools.cache
def _mount_cells(keys: frozenset[str]) -> tuple[str, ...]:
    return tuple(k for k, _p in _mount_keys(keys))


def _container_fields(ev: dict, i: int, cid: object, threads: _Threads, rep: ScapReport) -> None:
    """container.image.repository / .privileged as libsinsp shows them: from the
    container's last container-info event; absent on the host; before any info, no
    repository and not privileged."""
    mounts: tuple[tuple[str, str], ...] = ()
    if not isinstance(cid, str) or cid == "host":
        want: tuple[str | None, bool | None] = (None, None)
    else:
        repo, priv, mounts = threads.containers.get(cid, (None, False, ()))
        want = (repo, priv)
    for key, value in zip(_CONTAINER_META, want, strict=True):
        if key in rep.keys and ev.get(key) != value:
            rep._miss(
                key,
                i,
                "libsinsp takes it from the container's last container-info "
                "event (evt.type = container rows)",
            )
    for key, pattern in _mount_keys(rep.keys):
        # libsinsp: the destination of the first mount whose source matches the glob.
        dest = next((d for src, d in mounts if fnmatch.fnmatchcase(src, pattern)), None)
        if ev.get(key) != dest:
            rep._miss(
                key,
                i,
                "libsinsp takes the container's mounts from its last "
                "container-info event (evt.type = container rows)",
            )


@functools.cache
def _mount_keys(keys: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The table's ``container.mount.dest[<source glob>]`` keys with their globs."""
    head = "container.mount.dest["
    return tuple(
        (k, k[len(head) : -1])
        for k in sorted(keys)
        if k.startswith(head) and not k[len(head) : -1].isdigit()
    )


def _glob_instance(pattern: str) -> str | None:
    """A path the glob matches (``/proc*`` -> ``/proc``), or None."""
    text = re.sub(r"\[[^]]*\]", "x", pattern).replace("*", "").replace("?", "x")
    return text if fnmatch.fnmatchcase(text, pattern) else None


def _container_event(ev: dict, i: int, cid: str, threads: _Threads, rep: ScapReport) -> bytes:
    """An ``evt.type = container`` row: the container-info event libsinsp reads from
    captures, carrying the row's image repository and privileged flag."""
    repo = ev.get("container.image.repository")
    repo = repo if isinstance(repo, str) and repo else "docker.io/library/generated"
    privileged = ev.get("container.privileged") is True
    mounts: list[tuple[str, str]] = []
    for key, pattern in _mount_keys(rep.keys):
        dest, src = ev.get(key), _glob_instance(pattern)
        if isinstance(dest, str) and src is not None and src not in (m[0] for m in mounts):
            mounts.append((src, dest))
    threads.containers[cid] = (repo, privileged, tuple(mounts))
    info = {
        "id": cid,
        "type": 0,
        "name": f"generated-{cid}",
        "image": f"{repo}:latest",
        "imageid": "",
        "imagerepo": repo,
        "imagetag": "latest",
        "imagedigest": "",
        "privileged": privileged,
        "Mounts": [
            {"Source": src, "Destination": dest, "Mode": "", "RW": True, "Propagation": "rprivate"}
            for src, dest in mounts
        ],
    }
    if ev.get("evt.dir") != ">":
        rep._miss("evt.dir", i, "a container-info event has no exit")
    if ev.get("evt.num") != i + 1:
        rep._miss("evt.num", i, "a capture numbers its events 1, 2, 3, ...")
    _container_fields(ev, i, cid, threads, rep)
    for key in rep.keys:
        # libsinsp runs the event on a thread of its own, named container:<id>.
        if (
            key.startswith(("proc.", "user.", "fd."))
            or key in ("evt.rawres", "evt.res", *_OPEN_KEYS)
            or (key.startswith("evt.arg"))
        ):
            rep._miss(
                key,
                i,
                "a container-info event runs on libsinsp's container:<id> "
                "thread, with no fd, result or arguments",
            )
    code = scapfile.event_codes("container")
    assert code is not None
    return scapfile.event_block(
        code[0], _T0 + i * _NS_PER_EVENT, _INIT_TID, {"json": json.dumps({"container": info})}
    )


def _args_of(cmdline: str, comm: str) -> tuple[str, ...] | None:
    """The argument list libsinsp prints as ``cmdline`` after ``comm``; None if none."""
    if cmdline == comm:
        return ()
    if cmdline.startswith(comm + " "):
        return (cmdline[len(comm) + 1 :],)
    return None


# The per-row memos (_process, _event_args, _container_fields, _check_table_fd, ...):
# tests turn them off to check that they give what the plain calls give, byte for byte.
MEMO = True


class _Marks:
    """Stands for the report while a helper runs once for a memo: keeps its marks, to be
    replayed on every row that has the same cells."""

    def __init__(self, rep: ScapReport) -> None:
        self.keys, self.aname_keys = rep.keys, rep.aname_keys
        self.marks: list[tuple[str, str]] = []

    def _miss(self, key: str, row: int, why: str) -> None:
        if self.keys and key not in self.keys:
            return  # as ScapReport._miss: a field the rules do not read cannot differ
        self.marks.append((key, why))


def _ancestry(ev: dict, i: int, rep: ScapReport) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The row's ancestors, parent first (one chain in a capture: proc.pname is
    proc.aname[1]), and the parent's arguments; cells that disagree are marked."""
    names = ev.get("proc.aname")
    if isinstance(names, list) and all(isinstance(x, str) for x in names):
        chain = tuple(names)
    else:
        pname = ev.get("proc.pname")
        chain = (pname,) if isinstance(pname, str) else ()
        k = 2
        while chain and isinstance(ev.get(f"proc.aname[{k}]"), str):
            chain += (ev[f"proc.aname[{k}]"],)
            k += 1
    pargs: tuple[str, ...] | None = None
    pcmd = ev.get("proc.pcmdline")
    if chain and isinstance(pcmd, str):
        pargs = _args_of(pcmd, chain[0])
        if pargs is None:
            rep._miss("proc.pcmdline", i, "libsinsp prints the parent's name before its arguments")
    want: dict[str, object] = {
        "proc.pname": chain[0] if chain else None,
        "proc.aname": list(chain) or None,
        "proc.pcmdline": (" ".join((chain[0], *pargs)) if pargs else chain[0]) if chain else None,
    }
    for key, k in rep.aname_keys:
        want[key] = chain[k - 1] if 1 <= k <= len(chain) else None
    for key, value in want.items():
        if (
            key in rep.keys
            and ev.get(key) != value
            and not (key == "proc.pcmdline" and pargs is None and chain)
        ):
            rep._miss(
                key, i, "a capture's ancestry is one chain of parents (proc.pname = proc.aname[1])"
            )
    return chain, pargs


def _result(ev: dict) -> int:
    """The exit's result: evt.rawres, else the errno evt.res names, else success."""
    raw = ev.get("evt.rawres")
    if isinstance(raw, int):
        return raw
    text = ev.get("evt.res")
    if isinstance(text, str) and text != "SUCCESS":
        return -getattr(errno, text, errno.EINVAL)
    return 0


def _results(
    ev: dict, i: int, info: scapfile.EventInfo, exit_: bool, res: int, values: dict, rep: ScapReport
) -> None:
    """Put the result in the exit's first parameter; mark what libsinsp will not echo."""
    first = info.params[0] if info.params else None
    carries = exit_ and first is not None and first[0] in ("res", "fd")
    if carries:
        assert first is not None
        res = int(values.setdefault(first[0], res))  # an exit's fd param is its result
        shown = "SUCCESS" if res >= 0 else errno.errorcode.get(-res)
        if res < 0 and first[1] == 15:  # a failed clone's pid: printed as a number
            shown = str(res)
        elif res < 0 and first[1] not in (11, 14):  # not an errno type: no errno name
            shown = None
        want = {"evt.rawres": res, "evt.res": shown}
    else:
        want = {"evt.rawres": None, "evt.res": None}
    for k, v in want.items():
        if ev.get(k) != v:
            rep._miss(
                k,
                i,
                "libsinsp reads the result from the exit's res parameter (none on enter events)",
            )


_SOCKET = re.compile(r"(\d+\.\d+\.\d+\.\d+):(\d+)->(\d+\.\d+\.\d+\.\d+):(\d+)")


# What _fd_entry reads of a row.
_FD_ENTRY_CELLS = (
    "fd.num",
    "fd.name",
    "fd.typechar",
    "fd.l4proto",
    "evt.arg.flags",
    "evt.is_open_write",
    "evt.is_open_read",
)


def _fd_entry_memo(ev: dict, pnames: frozenset[str], rep: ScapReport) -> scapfile.FdEntry | None:
    """``_fd_entry``, once per distinct (its cells, whether the event has an ``fd``
    parameter): it reads nothing else and changes nothing."""
    if not MEMO:
        return _fd_entry(ev, pnames)
    fd = ev.get("fd.num")
    if "fd" not in pnames or not isinstance(fd, int) or fd < 0:
        return None  # (as _fd_entry, before any work)
    cells = tuple(map(ev.get, _FD_ENTRY_CELLS))
    memo_key = (cells, tuple(map(type, cells)))
    try:
        hit = rep._fd_entries.get(memo_key, _ABSENT)
    except TypeError:  # a cell that is not hashable: the plain call
        return _fd_entry(ev, pnames)
    if hit is _ABSENT:
        if len(rep._fd_entries) >= _MEMO_MAX:
            rep._fd_entries.clear()  # bounded: a memo only saves work
        hit = rep._fd_entries[memo_key] = _fd_entry(ev, pnames)
    return hit


def _fd_entry(ev: dict, pnames: set[str]) -> scapfile.FdEntry | None:
    """The fd-table entry that makes libsinsp show this row's fd, if the event names an
    fd and the row's fd is a regular file or an IPv4 socket."""
    fd, name, kind = ev.get("fd.num"), ev.get("fd.name"), ev.get("fd.typechar")
    if "fd" not in pnames or not isinstance(fd, int) or fd < 0 or not isinstance(name, str):
        return None
    if kind == "f" and name.startswith("/"):
        flags = _open_flags(ev)
        return scapfile.FdEntry(fd, path=name, flags=flags if flags is not None else 1)
    m = _SOCKET.fullmatch(name)
    if kind in ("4", None) and m:
        sip, sport, dip, dport = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
        try:
            for ip in (sip, dip):
                scapfile._ipv4(ip)
        except ValueError:
            return None
        if sport > 0xFFFF or dport > 0xFFFF:
            return None
        udp = ev.get("fd.l4proto") == "udp"
        return scapfile.FdEntry(
            fd, tuple4=(sip, sport, dip, dport), l4proto=_SCAP_L4_UDP if udp else _SCAP_L4_TCP
        )
    return None


def _socktuple(t: tuple[str, int, str, int]) -> bytes:
    """A PT_SOCKTUPLE for IPv4: PPM_AF_INET, source ip and port, destination ip and port
    (ips in network order, ports in host order, as the driver writes them); an accepted
    socket's source is the client."""
    cip, cport, sip, sport = t
    return (
        struct.pack("<B", _PPM_AF_INET)
        + scapfile._ipv4(cip)
        + struct.pack("<H", cport)
        + scapfile._ipv4(sip)
        + struct.pack("<H", sport)
    )


def _check_table_fd_memo(ev: dict, i: int, e: scapfile.FdEntry, rep: ScapReport) -> None:
    """``_check_table_fd``, with the entry's side found once per entry: the row's fd
    cells against it in one comparison, cell by cell only when they differ (the
    cells are too varied for a memo of the whole check)."""
    if not MEMO:
        _check_table_fd(ev, i, e, rep)
        return
    if ev.get("evt.dir") == "<" and ev.get("evt.type") in ("dup", "dup2", "dup3", "connect"):
        _check_table_fd(ev, i, e, rep)  # the exits whose fd fields follow their result
        return
    hit = rep._table_fds.get(e)
    if hit is None:
        shown = _table_fd_shown(e)
        keys = tuple(k for k in shown if k in rep.keys)
        if len(rep._table_fds) >= _MEMO_MAX:
            rep._table_fds.clear()  # bounded: a memo only saves work
        hit = rep._table_fds[e] = (keys, tuple(shown[k] for k in keys))
    keys, want = hit
    got = tuple(map(ev.get, keys))
    if got != want:
        for k, v, g in zip(keys, want, got, strict=True):
            if g != v:
                rep._miss(k, i, "libsinsp shows the fd-table entry of the thread")


def _table_fd_shown(e: scapfile.FdEntry) -> dict[str, object]:
    """The fd fields libsinsp shows for fd-table entry ``e`` (before a dup or connect
    exit's result changes them)."""
    if e.path is not None:
        path = posixpath.normpath(e.path)
        want: dict[str, object] = {
            "fd.name": path,
            "fd.directory": _sinsp_dirname(path),
            "fd.filename": posixpath.basename(path),
            "fd.typechar": "f",
            "fd.type": "file",
            **_FILE_SOCK,
        }
    else:
        assert e.tuple4 is not None
        cip, cport, sip, sport = e.tuple4
        want = {
            "fd.name": f"{cip}:{cport}->{sip}:{sport}",
            "fd.directory": None,
            "fd.filename": None,
            "fd.typechar": "4",
            "fd.type": "ipv4",
            "fd.sip": sip,
            "fd.cip": cip,
            "fd.sport": sport,
            "fd.cport": cport,
            "fd.sockfamily": "ip",
            "fd.l4proto": {_SCAP_L4_UDP: "udp", _SCAP_L4_TCP: "tcp"}.get(e.l4proto, "<NA>"),
        }
    want["fd.num"] = e.fd
    return want


def _check_table_fd(ev: dict, i: int, e: scapfile.FdEntry, rep: ScapReport) -> None:
    """A row's fd from the thread's fd table, as libsinsp will show it."""
    want = _table_fd_shown(e)
    etype, exit_ = ev.get("evt.type"), ev.get("evt.dir") == "<"
    if exit_ and etype in ("dup", "dup2", "dup3"):
        want["fd.num"] = _result(ev)  # libsinsp: a dup exit's fd.num is the new fd
    if exit_ and etype == "connect" and _result(ev) < 0 and e.tuple4 is not None:
        # Observed on libsinsp 2022: after a connect exit that did not succeed, the
        # socket's fd.name reads NULL.
        want["fd.name"] = "NULL"
    for k, v in want.items():
        if k in rep.keys and ev.get(k) != v:
            rep._miss(k, i, "libsinsp shows the fd-table entry of the thread")


def _check_fd(ev: dict, i: int, path: str, flags: int, rep: ScapReport) -> None:
    """The open exit's fd as libsinsp will see it, against the generator's columns."""
    norm = posixpath.normpath(path) if path.startswith("/") else None
    if norm is None or norm != path or norm.startswith("//"):
        rep._miss("fd.name", i, "libsinsp normalises the path (against the cwd if relative)")
        norm = norm or "/" + path
    path = norm
    if flags & scapfile.PPM_O_FLAGS["O_DIRECTORY"]:  # libsinsp: the fd is a directory
        want: dict[str, str | None] = {
            "fd.directory": path,
            "fd.filename": None,
            "fd.typechar": "d",
            "fd.type": "directory",
        }
    else:
        want = {
            "fd.directory": _sinsp_dirname(path),
            "fd.filename": posixpath.basename(path),
            "fd.typechar": "f",
            "fd.type": "file",
        }
    want.update(_FILE_SOCK)
    for k, v in want.items():
        got = ev.get(k)
        if k in rep.keys and got != v:
            rep._miss(k, i, f"libsinsp derives it from the path and flags ({v!r})")
