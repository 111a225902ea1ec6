"""The background call stream: per-event index arrays into the pools, and gathers.

A call picks a syscall from the event-type mix, a process, and a file or socket when the
syscall has one, and yields an enter (``>``) and an exit (``<``) event. Every column is
a gather from a small pool by an index array, so 10 million events are numpy work,
never a Python loop per event. ``ruleopt.events.producers`` says which gather makes
which field's column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ruleopt.errors import RuleoptError
from ruleopt.events.catalogs import (
    CATEGORIES,
    CATEGORY,
    ERRORS,
    OFFLINE,
    READ_FLAGS,
    SYSCALLS,
    WRITE_FLAGS,
)
from ruleopt.events.pools import build_files, build_processes, build_sockets, stream, weights, zipf
from ruleopt.events.table import StringHeap


@dataclass
class Spec:
    """A column to produce: canonical key, registry type, storage kind, list-valued."""

    key: str
    type: str
    kind: str
    multi: bool


def to_storage(value: object, kind: str) -> object:
    """A Python value in the form the column stores (text for "str", int for "num")."""
    if value is None:
        return None
    if kind == "num":
        return int(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Columns:
    """Background columns, gathered from the pools by per-event index arrays."""

    def __init__(
        self, n: int, seed: int, mix: Mapping[str, float] | None, heap: StringHeap
    ) -> None:
        self.n = n
        self.seed = seed
        self.heap = heap
        self.procs = build_processes(seed)
        self.files = build_files(seed)
        self.socks = build_sockets(seed)
        self._draw_calls(mix)

    # ---------------------------------------------------------------- the call stream

    def _draw_calls(self, mix: Mapping[str, float] | None) -> None:
        n = self.n
        ncalls = (n + 1) // 2
        table = dict(SYSCALLS)
        if mix is not None:
            table = {}
            for name, w in mix.items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                    raise RuleoptError(f"event mix weight for {name!r} must be a number >= 0")
                table[str(name)] = (float(w), SYSCALLS.get(name, (0.0, "none"))[1])
            if not table or sum(w for w, _ in table.values()) <= 0:
                raise RuleoptError(
                    "the event mix has no positive weight",
                    hint="give at least one event type a weight > 0",
                )
        self.sc_names = list(table)
        self._sc_arr = np.array(self.sc_names, dtype=object)
        sc_cat = np.array([CATEGORIES.index(table[s][1]) for s in self.sc_names], dtype=np.int8)
        sc = (
            stream(self.seed, "syscall")
            .choice(
                len(self.sc_names), size=ncalls, p=weights([table[s][0] for s in self.sc_names])
            )
            .astype(np.int16)
        )
        cat = sc_cat[sc]
        pw = zipf(self.procs.size, 1.05)
        proc = stream(self.seed, "proc").choice(self.procs.size, size=ncalls, p=pw).astype(np.int32)
        fw = weights(self.files.props["_weight"])
        fidx = stream(self.seed, "file").choice(self.files.size, size=ncalls, p=fw).astype(np.int32)
        sidx = (
            stream(self.seed, "sock")
            .choice(self.socks.size, size=ncalls, p=zipf(self.socks.size, 0.9))
            .astype(np.int32)
        )
        # Programs that never touch the network (journald, ls, ...) only use unix sockets.
        unix = np.array(
            [i for i, t in enumerate(self.socks.props["fd.typechar"]) if t == "u"], dtype=np.int32
        )
        offline = np.array([nm in OFFLINE for nm in self.procs.props["proc.name"]])
        sidx = np.where(offline[proc], unix[sidx % len(unix)], sidx)
        # Which pool each call's fd comes from: plain I/O is 70% files, 30% sockets.
        on_sock = stream(self.seed, "iosock").random(ncalls) < 0.3
        is_io = cat == CATEGORY["io"]
        fchmod = self._sc_lut(["fchmod"])[sc]
        use_file = (
            np.isin(cat, [CATEGORY["open"], CATEGORY["fileio"]]) | fchmod | (is_io & ~on_sock)
        )
        use_sock = (cat == CATEGORY["net"]) | (is_io & on_sock)
        call_file = np.where(use_file, fidx, -1).astype(np.int32)
        call_sock = np.where(use_sock, sidx, -1).astype(np.int32)
        # Calls naming a path without an fd (stat, mkdir, rename...) draw from the files.
        path_cats = [CATEGORY[c] for c in ("path", "unlinkat", "rename", "chmod", "link")]
        call_path = np.where(np.isin(cat, path_cats) & ~fchmod, fidx, -1).astype(np.int32)
        # Open flags: write flags only where the file is writable; logs are only appended.
        writable = np.array([bool(w) for w in self.files.props["writable"]])
        is_log = np.array([d.startswith("/var/log") for d in self.files.props["fd.directory"]])
        is_open = cat == CATEGORY["open"]
        rf, wf = list(READ_FLAGS), list(WRITE_FLAGS)
        self.flag_names = rf + wf
        frng = stream(self.seed, "flags")
        rsel = frng.choice(len(rf), size=ncalls, p=weights([READ_FLAGS[f][0] for f in rf]))
        wsel = frng.choice(len(wf), size=ncalls, p=weights([WRITE_FLAGS[f][0] for f in wf]))
        wsel = np.where(is_log[fidx], wf.index("O_WRONLY|O_APPEND|O_CREAT"), wsel)
        wants_write = frng.random(ncalls) < 0.45
        do_write = is_open & wants_write & writable[fidx]
        call_flag = np.where(is_open, np.where(do_write, len(rf) + wsel, rsel), -1)
        # Results: most calls succeed; a few fail with an errno.
        rrng = stream(self.seed, "result")
        fail = rrng.random(ncalls) < 0.04
        call_err = np.where(fail, rrng.integers(0, len(ERRORS), ncalls), -1).astype(np.int8)
        call_fdnum = rrng.integers(3, 256, ncalls).astype(np.int32)
        self.ncalls = ncalls
        # Per-event arrays, computed once: enter and exit events of a call share its draw.
        ev = self.per_event
        self.ev_sc = ev(sc)
        self.ev_cat = ev(cat)
        self.ev_proc = ev(proc)
        self.ev_file = ev(call_file)
        self.ev_sock = ev(call_sock)
        self.ev_path = ev(call_path)
        self.ev_flag = ev(call_flag.astype(np.int16))
        self.ev_err = ev(call_err)
        self.ev_fdnum = ev(call_fdnum)
        self.is_exit = np.zeros(n, dtype=np.bool_)
        self.is_exit[1::2] = True

    def per_event(self, call_arr: np.ndarray) -> np.ndarray:
        """Enter and exit events of one call share its draw."""
        return np.repeat(call_arr, 2)[: self.n]

    def _sc_lut(self, names: Sequence[str]) -> np.ndarray:
        """Boolean lookup table over syscall indexes: ``lut[ev_sc]`` is a per-event mask."""
        return np.array([s in names for s in self.sc_names], dtype=np.bool_)

    def sc_mask(self, names: Sequence[str]) -> np.ndarray:
        return self._sc_lut(names)[self.ev_sc]

    def cat_mask(self, *cats: str) -> np.ndarray:
        lut = np.zeros(len(CATEGORIES), dtype=np.bool_)
        lut[[CATEGORY[c] for c in cats]] = True
        return lut[self.ev_cat]

    # ---------------------------------------------------------------- value encoding

    def _encode(self, values: Sequence, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
        """Pool values (Python) -> (stored array, present mask) of the pool's size."""
        present = np.array([v is not None for v in values], dtype=np.bool_)
        if spec.kind == "str":
            intern = self.heap.intern
            arr = np.array(
                [-1 if v is None else intern(to_storage(v, "str")) for v in values], dtype=np.int32
            )
        else:
            arr = np.array(
                [0 if v is None else to_storage(v, "num") for v in values], dtype=np.int64
            )
        return arr, present

    def gather(
        self, values: Sequence, spec: Spec, idx: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Column = pool[idx], absent where idx is -1 (or mask is False)."""
        arr, pres = self._encode(values, spec)
        # One absent sentinel appended: index -1 lands on it, no per-event branching.
        arr = np.append(arr, arr.dtype.type(-1 if spec.kind == "str" else 0))
        pres = np.append(pres, False)
        if mask is not None:
            idx = np.where(mask, idx, -1)
        return arr[idx], pres[idx]

    def gather_multi(
        self, lists: Sequence[list], spec: Spec, idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A list-valued column: each event gets its entity's list (none when idx < 0)."""
        flat_py = [x for lst in lists for x in lst]
        flat, _ = self._encode(flat_py, spec)
        lens = np.array([len(lst) for lst in lists], dtype=np.int64)
        starts = np.zeros(len(lists), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        ev_len = np.where(ok, lens[safe], 0)
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(ev_len, out=offsets[1:])
        total = int(offsets[-1])
        # Element j of event i sits at offsets[i] + j and comes from flat[starts[idx] + j].
        shift = np.repeat(starts[safe] - offsets[:-1], ev_len)
        shift += np.arange(total, dtype=np.int64)
        values = flat[shift] if total else flat[:0]
        return values, offsets, ok

    def numbers(
        self, spec: Spec, vals: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """An integer per event as the column stores it (text only if the type says so)."""
        if spec.kind == "num":
            return np.where(mask, vals, 0).astype(np.int64), mask.copy()
        uniq, inv = np.unique(vals, return_inverse=True)
        ids = np.array([self.heap.intern(str(int(u))) for u in uniq], dtype=np.int32)
        return np.where(mask, ids[inv.reshape(-1)], -1).astype(np.int32), mask.copy()
