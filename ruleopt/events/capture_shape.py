"""Capture-specific shaping: what a libscap 2022 event carries, and the state before it.

In a ``.scap`` capture each row is the enter or the exit of a call, and libsinsp reads
some fields from state other events set up (a container's metadata, an exit's fd from
its enter). These helpers ask libscap's event table (``ruleopt.events.scapfile``) which
half of a call carries a template and which rows must precede it.
"""

from __future__ import annotations

import functools

from ruleopt.errors import RuleoptError
from ruleopt.events import scap_args, scapfile


def carrying_dir(syscall: str, args: dict[str, object]) -> str | None:
    """The half of a call ("<" or ">") whose libscap 2022 event carries the template:
    the exit (result, an open's fd, an execve's tty) unless the template's ``evt.arg``
    values live on the enter; None without libscap's event table (an ``.npz`` does not
    care)."""
    try:
        codes = scapfile.event_codes(syscall)
        if codes is None:
            return None
        return "<" if scap_args.carrying_exit(codes, args, {"root": 0}) else ">"
    except (RuleoptError, OSError, AttributeError):
        return None


@functools.cache
def carrying_types(args: frozenset[str]) -> tuple[str, ...]:
    """Syscalls whose libscap 2022 enter or exit event has every parameter in ``args``."""
    if not args:
        return ()
    try:
        out: list[str] = []
        for e in scapfile.event_table():
            names = {n for n, _t in e.params}
            if (
                args <= names
                and e.name not in out
                and not e.internal
                and (scapfile.event_codes(e.name) or (-1, -1))[e.code % 2] == e.code
            ):
                out.append(e.name)
        return tuple(out[:24])
    except (RuleoptError, OSError, AttributeError):
        return ()


def capture_misses(t: dict) -> int:
    """How many of a template's ``evt.arg`` values its call's half cannot carry in a
    libscap 2022 capture (``evt.arg.path`` on a rename, which has oldpath/newpath)."""
    etype, args = (
        t.get("evt.type"),
        {k: v for k, v in t.items() if k.startswith("evt.arg") and v is not None},
    )
    if not args or not isinstance(etype, str):
        return 0
    try:
        codes = scapfile.event_codes(etype)
        if codes is None:
            return len(args)
        code = codes[0] if t.get("evt.dir") == ">" else codes[1]
        # The parameter must exist; how libsinsp prints it (flag order) is the writer's
        # to report, and rules mostly test it with contains/startswith.
        return sum(
            scap_args.param_name(code, k) is None
            or scap_args.param(code, scap_args.param_name(code, k) or "") is None
            for k in args
        )
    except (RuleoptError, OSError, AttributeError):
        return 0


_CONTAINER_INFO = ("container.image.repository", "container.privileged")
COPY = "\0copy"  # a setup row that starts as a copy of the breaking row


def setup_rows(tmpl: dict, keys: set[str]) -> list[dict]:
    """Rows to stamp just before a breaking event so that a capture carries the state
    its template assumes, as a host would have produced it:

    - a container-info event (``evt.type = container``) for a template in a container
      with an image repository, privileges or mounts, which libsinsp takes from the
      container's last such event;
    - the enter of an exit whose libscap event names no fd (dup, connect, ...): libsinsp
      takes the exit's fd from its enter.
    Only keys the table has are set; the rest of each row stays background."""
    out: list[dict] = []
    cid = tmpl.get("container.id")
    mounts = {
        k: v
        for k, v in tmpl.items()
        if k.startswith("container.mount.dest[") and isinstance(v, str)
    }
    if (
        isinstance(cid, str)
        and cid != "host"
        and tmpl.get("evt.type") != "container"
        and (
            isinstance(tmpl.get("container.image.repository"), str)
            or tmpl.get("container.privileged") is True
            or mounts
        )
    ):
        info = {
            "evt.type": "container",
            "evt.dir": ">",
            "container.id": cid,
            **mounts,
            **{k: tmpl[k] for k in _CONTAINER_INFO if k in tmpl},
        }
        out.append({k: v for k, v in info.items() if k in keys})
    if (
        tmpl.get("evt.dir") == "<"
        and isinstance(tmpl.get("evt.type"), str)
        and any(k.startswith("fd.") and v is not None for k, v in tmpl.items())
    ):
        try:
            codes = scapfile.event_codes(tmpl["evt.type"])
            table = scapfile.event_table() if codes is not None else None
        except (RuleoptError, OSError, AttributeError):
            table = None
        if codes is not None and table is not None:
            enter = {n for n, _t in table[codes[0]].params}
            exit_ = {n for n, _t in table[codes[1]].params}
            if "fd" in enter and "fd" not in exit_:
                row = {k: v for k, v in tmpl.items() if not k.startswith("evt.arg")}
                row.update({"evt.dir": ">", "evt.rawres": None, "evt.res": None})
                out.append({COPY: True, **{k: v for k, v in row.items() if k in keys}})
    return out
