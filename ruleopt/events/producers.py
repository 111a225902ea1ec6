"""Field producers: which gather of the background makes which field's column.

``PRODUCERS`` maps a canonical field key to a small function of the background
(``Columns``) and the column's ``Spec``; ``PREFIX_PRODUCERS`` covers indexed keys such as
``proc.aname[2]``. A field with no producer has no model in the generator: its column is
absent unless a template sets it. Values agree with each other wherever rules look:
``fd.directory`` is the dirname of ``fd.name``, ``proc.pname`` is ``proc.aname[1]``,
``evt.is_open_write`` is true exactly when the open's ``evt.arg.flags`` ask for write.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ruleopt.events.background import Columns, Spec
from ruleopt.events.catalogs import ERRORS, MODES, READ_FLAGS, WRITE_FLAGS
from ruleopt.events.pools import PROCESS_KEYS, SOCKET_KEYS, SOCKET_LISTS, stream
from ruleopt.events.table import Column

Producer = Callable[[Columns, Spec], Column]


def _col(
    spec: Spec, values: np.ndarray, present: np.ndarray, offsets: np.ndarray | None = None
) -> Column:
    return Column(spec.key, spec.type, spec.kind, values, present, offsets)


# ------------------------------------------------------------------------ event fields


def _evt_type(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather(w.sc_names, spec, w.ev_sc))


def _evt_dir(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather([">", "<"], spec, w.is_exit.astype(np.int8)))


def _evt_num(w: Columns, spec: Spec) -> Column:
    return _col(spec, np.arange(1, w.n + 1, dtype=np.int64), np.ones(w.n, dtype=np.bool_))


def _evt_time(w: Columns, spec: Spec) -> Column:
    t0 = 1_650_000_000_000_000_000
    steps = stream(w.seed, "time").integers(200, 20_000, w.n).astype(np.int64)
    return _col(spec, *w.numbers(spec, t0 + np.cumsum(steps), np.ones(w.n, dtype=np.bool_)))


def _evt_failed(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.numbers(spec, (w.ev_err >= 0).astype(np.int64), w.is_exit))


def _evt_res(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather(["SUCCESS", *ERRORS], spec, w.ev_err + 1, w.is_exit))


# The errno of each entry of ERRORS (ENOENT, EACCES, EAGAIN, EINPROGRESS).
_ERRNO = np.array([2, 13, 11, 115], dtype=np.int64)


def _evt_rawres(w: Columns, spec: Spec) -> Column:
    # The new fd for fd-returning calls, -errno on failure, else 0.
    err = w.ev_err
    returns_fd = w.cat_mask("open") | w.sc_mask(["accept", "accept4", "socket", "dup", "dup2"])
    vals = np.where(returns_fd, w.ev_fdnum, 0).astype(np.int64)
    vals = np.where(err >= 0, -_ERRNO[np.maximum(err, 0)], vals)
    return _col(spec, *w.numbers(spec, vals, w.is_exit))


def _fd_num(w: Columns, spec: Spec) -> Column:
    has_fd = (w.ev_file >= 0) | (w.ev_sock >= 0)
    # A failed open has no fd: libsinsp reports -1 there.
    fdn = np.where(w.cat_mask("open") & (w.ev_err >= 0), -1, w.ev_fdnum)
    return _col(spec, *w.numbers(spec, fdn.astype(np.int64), has_fd))


def _evt_arg_flags(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather(w.flag_names, spec, w.ev_flag))


def _open_flag(pos: int | None) -> Producer:
    """evt.is_open_read (pos 1) / _write (pos 2) from the open's flags; exec never."""

    def produce(w: Columns, spec: Spec) -> Column:
        table = {**READ_FLAGS, **WRITE_FLAGS}
        if pos is None:
            vals = [False] * len(w.flag_names)
        else:
            vals = [table[f][pos] for f in w.flag_names]
        return _col(spec, *w.gather(vals, spec, w.ev_flag))

    return produce


def _evt_arg_mode(w: Columns, spec: Spec) -> Column:
    mask = w.cat_mask("chmod", "open") | w.sc_mask(["mkdir", "mkdirat"])
    mi = w.per_event(stream(w.seed, "mode").integers(0, len(MODES), w.ncalls).astype(np.int8))
    return _col(spec, *w.gather(list(MODES), spec, mi, mask))


def _evt_arg_uid(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather(w.procs.props["user.name"], spec, w.ev_proc, w.cat_mask("setuid")))


def _evt_arg_filename(w: Columns, spec: Spec) -> Column:
    # execve's filename is the new program; chmod's is its path.
    ev, ep = w.gather(w.procs.props["proc.exe"], spec, w.ev_proc, w.cat_mask("exec"))
    pv, pp = w.gather(w.files.props["fd.name"], spec, w.ev_path, w.cat_mask("chmod"))
    return _col(spec, np.where(ep, ev, pv), ep | pp)


def _evt_arg_path(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather(w.files.props["fd.name"], spec, w.ev_path, w.cat_mask("path")))


def _evt_arg_name(w: Columns, spec: Spec) -> Column:
    # open/openat exits name the opened path; unlinkat names its target.
    idx = np.where(w.cat_mask("open"), w.ev_file, np.where(w.cat_mask("unlinkat"), w.ev_path, -1))
    return _col(spec, *w.gather(w.files.props["fd.name"], spec, idx))


def _path_pair(category: str, suffix: str) -> Producer:
    """A rename's or link's old name (no suffix) or new name (the old one + suffix)."""

    def produce(w: Columns, spec: Spec) -> Column:
        paths = w.files.props["fd.name"]
        if suffix:
            # The new name is the old one with a suffix (one string per pool file).
            paths = [v + suffix for v in paths]
        return _col(spec, *w.gather(paths, spec, w.ev_path, w.cat_mask(category)))

    return produce


# ------------------------------------------------------------ process, user, container


def _process(key: str) -> Producer:
    """A per-process value, gathered by each event's process."""

    def produce(w: Columns, spec: Spec) -> Column:
        return _col(spec, *w.gather(w.procs.props[key], spec, w.ev_proc))

    return produce


def _proc_aname(w: Columns, spec: Spec) -> Column:
    vals, offs, pres = w.gather_multi(w.procs.multi["proc.aname"], spec, w.ev_proc)
    return _col(spec, vals, pres, offs)


def _proc_aname_k(w: Columns, spec: Spec) -> Column | None:
    key = spec.key
    if not key.endswith("]"):
        return None
    k = int(key[len("proc.aname[") : -1])
    if k == 0:
        vals = w.procs.props["proc.name"]
    else:
        vals = [c[k - 1] if len(c) >= k else None for c in w.procs.multi["proc.aname"]]
    return _col(spec, *w.gather(vals, spec, w.ev_proc))


# -------------------------------------------------------- fd fields: a file or a socket


def _fd_either(key: str) -> Producer:
    """From the file or the socket the call uses, whichever it has."""

    def produce(w: Columns, spec: Spec) -> Column:
        fv, fp = w.gather(w.files.props[key], spec, w.ev_file)
        sv, sp = w.gather(w.socks.props[key], spec, w.ev_sock)
        return _col(spec, np.where(fp, fv, sv), fp | sp)

    return produce


def _file(key: str) -> Producer:
    def produce(w: Columns, spec: Spec) -> Column:
        return _col(spec, *w.gather(w.files.props[key], spec, w.ev_file))

    return produce


def _socket(key: str) -> Producer:
    def produce(w: Columns, spec: Spec) -> Column:
        return _col(spec, *w.gather(w.socks.props[key], spec, w.ev_sock))

    return produce


def _socket_list(key: str) -> Producer:
    def produce(w: Columns, spec: Spec) -> Column:
        vals, offs, pres = w.gather_multi(w.socks.multi[key], spec, w.ev_sock)
        # Unix sockets have no IP endpoints: absent rather than an empty list.
        return _col(spec, vals, pres & (offs[1:] > offs[:-1]), offs)

    return produce


def _fd_connected(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather([True] * w.socks.size, spec, w.ev_sock))


def _fd_name_changed(w: Columns, spec: Spec) -> Column:
    return _col(spec, *w.gather([False] * w.files.size, spec, w.ev_file))


# Outbound-heavy workload: the local end is the client, the remote the server.
_ENDPOINT_ALIASES = {
    "fd.rip": "fd.sip",
    "fd.lip": "fd.cip",
    "fd.rport": "fd.sport",
    "fd.lport": "fd.cport",
    "fd.rip.name": "fd.sip.name",
    "fd.lip.name": "fd.cip.name",
    "fd.rnet": "fd.snet",
    "fd.lnet": "fd.cnet",
    "fd.rproto": "fd.sproto",
    "fd.lproto": "fd.cproto",
}


def _table() -> dict[str, Producer]:
    # Pool-wide entries first, specific ones after: a specific producer (fd.name from a
    # file or a socket) replaces the plain gather of the same key.
    table: dict[str, Producer] = {}
    table.update({k: _process(k) for k in PROCESS_KEYS})
    table.update({k: _socket(k) for k in SOCKET_KEYS})
    table.update({alias: _socket(src) for alias, src in _ENDPOINT_ALIASES.items()})
    table.update({k: _socket_list(k) for k in SOCKET_LISTS})
    table.update(
        {
            "evt.type": _evt_type,
            "syscall.type": _evt_type,
            "evt.dir": _evt_dir,
            "evt.num": _evt_num,
            "evt.rawtime": _evt_time,
            "evt.rawres": _evt_rawres,
            "evt.res": _evt_res,
            "evt.failed": _evt_failed,
            "fd.num": _fd_num,
            "evt.arg.flags": _evt_arg_flags,
            "evt.is_open_read": _open_flag(1),
            "evt.is_open_write": _open_flag(2),
            "evt.is_open_exec": _open_flag(None),
            "evt.arg.mode": _evt_arg_mode,
            "evt.arg.uid": _evt_arg_uid,
            "evt.arg.filename": _evt_arg_filename,
            "evt.arg.path": _evt_arg_path,
            "evt.arg.name": _evt_arg_name,
            "evt.arg.oldpath": _path_pair("rename", ""),
            "evt.arg.newpath": _path_pair("rename", ".new"),
            "evt.arg.target": _path_pair("link", ""),
            "evt.arg.linkpath": _path_pair("link", ".lnk"),
            "proc.aname": _proc_aname,
            "proc.exepath": _process("proc.exe"),
            "fd.name": _fd_either("fd.name"),
            "fd.typechar": _fd_either("fd.typechar"),
            "fd.type": _fd_either("fd.type"),
            "fd.directory": _file("fd.directory"),
            "fd.filename": _file("fd.filename"),
            "fd.connected": _fd_connected,
            "fd.name_changed": _fd_name_changed,
        }
    )
    return table


PRODUCERS: dict[str, Producer] = _table()
# Indexed keys (``proc.aname[2]``) by the part before the index.
PREFIX_PRODUCERS: dict[str, Callable[[Columns, Spec], Column | None]] = {
    "proc.aname[": _proc_aname_k,
}


def produce(world: Columns, spec: Spec) -> Column | None:
    """The background column for ``spec``, or None when the generator has no model."""
    producer = PRODUCERS.get(spec.key)
    if producer is not None:
        return producer(world, spec)
    for prefix, indexed in PREFIX_PRODUCERS.items():
        if spec.key.startswith(prefix):
            return indexed(world, spec)
    return None
