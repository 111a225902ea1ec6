"""Template completion: variants of a solver template whose related fields agree.

The solver picks each field's value on its own; the completer rewrites the fields that
follow from others (``fd.directory`` from ``fd.name``, ``proc.pname`` from
``proc.aname``, a socket's fields from its tuple) the way the background and libsinsp
derive them, so a breaking event looks like one a host produces.
"""

from __future__ import annotations

import posixpath
import re
import zlib
from collections.abc import Callable

from ruleopt.events import solver as _solver
from ruleopt.events.capture_shape import capture_misses, carrying_dir, carrying_types

# Filler ancestors when a template fixes only some of proc.aname[k] (parent first).
_FILLER_CHAIN = ("bash", "sshd", "sshd", "systemd", "init", "init", "init", "init")


_DOCKER_ID = re.compile(r"[0-9a-f]{12}")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_SOCKET_NAME = re.compile(r"(\d+\.\d+\.\d+\.\d+):(\d+)->(\d+\.\d+\.\d+\.\d+):(\d+)")
_SOCKET_KEYS = (
    "fd.sip",
    "fd.cip",
    "fd.sport",
    "fd.cport",
    "fd.ip",
    "fd.port",
    "fd.l4proto",
    "fd.snet",
    "fd.cnet",
    "fd.net",
)


def completer(keys: set[str], capture: bool = False) -> Callable[[dict], list[dict]]:
    """Variants of a template whose related fields agree, as the background's do.

    The solver picks each field's value on its own, so ``fd.name`` and ``fd.directory``
    (or ``proc.pname`` and ``proc.aname[1]``) may disagree in a raw template. Each variant
    lets one side win and rewrites the other; the solver keeps the first variant the
    reference evaluator accepts, and the raw template only if none is.
    """

    def fd_variant(t: dict, name_wins: bool) -> None:
        name, d, fname = t.get("fd.name"), t.get("fd.directory"), t.get("fd.filename")
        if isinstance(name, str) and name.startswith("/") and (name_wins or not isinstance(d, str)):
            for k, v in (
                ("fd.directory", posixpath.dirname(name)),
                ("fd.filename", posixpath.basename(name)),
            ):
                if k in keys:
                    t[k] = v
        elif isinstance(d, str) or isinstance(fname, str):
            d = d if isinstance(d, str) else "/tmp"
            if not isinstance(fname, str):
                fname = posixpath.basename(name) if isinstance(name, str) else ""
                fname = fname or f"{_solver.SYNTH}.tmp"
            for k, v in (
                ("fd.name", posixpath.join(d, fname)),
                ("fd.directory", d),
                ("fd.filename", fname),
            ):
                if k in keys:
                    t[k] = v
        else:
            return
        if isinstance(t.get("fd.name"), str) and t["fd.name"].startswith("/"):
            for k, v in (("fd.typechar", "f"), ("fd.type", "file")):
                if k in keys and k not in t:
                    t[k] = v

    def ancestry_variant(t: dict, pname_wins: bool) -> None:
        # proc.pname = proc.aname[1]; the list holds aname[1..] in order.
        fixed: dict[int, str] = {}
        for k, v in t.items():
            if k.startswith("proc.aname[") and isinstance(v, str):
                idx = int(k[len("proc.aname[") : -1])
                if idx >= 1:
                    fixed[idx] = v
        if isinstance(t.get("proc.pname"), str) and (pname_wins or 1 not in fixed):
            fixed[1] = t["proc.pname"]
        extra = [x for x in (t.get("proc.aname") or []) if x not in fixed.values()]
        if "proc.pname" in t and t["proc.pname"] is None and not fixed and not extra:
            # No parent (`not proc.pname exists`): no ancestor at all, as libsinsp walks it.
            for k in ("proc.aname", *(f"proc.aname[{j}]" for j in range(1, 10))):
                if k in keys and k not in t:
                    t[k] = None
            return
        if not fixed and not extra:
            return
        depth = max([*fixed, 0]) + len(extra)
        chain, ex = [], iter(extra)
        for k in range(1, depth + 1):
            filler = _FILLER_CHAIN[k - 1] if k <= len(_FILLER_CHAIN) else "init"
            chain.append(fixed[k] if k in fixed else next(ex, filler))
        chain.extend(ex)
        if "proc.pname" in keys:
            t["proc.pname"] = chain[0]
        if "proc.aname" in keys and not ("proc.aname" in t and t["proc.aname"] is None):
            t["proc.aname"] = list(chain)
        for k in range(1, 10):
            key = f"proc.aname[{k}]"
            if key in keys and not (key in t and t[key] is None):
                t[key] = chain[k - 1] if k <= len(chain) else None

    def others(t: dict) -> None:
        def put(k: str, v: object) -> None:
            if k in keys and k not in t:
                t[k] = v

        if isinstance(t.get("proc.name"), str):
            args = t.get("proc.args") if isinstance(t.get("proc.args"), str) else ""
            put("proc.cmdline", f"{t['proc.name']} {args}".strip())
        flags = t.get("evt.arg.flags")
        if (
            isinstance(flags, str)
            and t.get("evt.is_open_write") is True
            and not ("O_WRONLY" in flags or "O_RDWR" in flags)
        ):
            # `evt.arg.flags contains O_TRUNC` alone: an open for write says so in flags.
            flags = t["evt.arg.flags"] = "O_WRONLY|" + flags
        if isinstance(flags, str):
            put("evt.is_open_write", "O_WRONLY" in flags or "O_RDWR" in flags)
            put("evt.is_open_read", "O_RDONLY" in flags or "O_RDWR" in flags)
        elif t.get("evt.is_open_write") is True:
            put("evt.arg.flags", "O_WRONLY|O_CREAT|O_TRUNC")
        elif t.get("evt.is_open_read") is True:
            put("evt.arg.flags", "O_RDONLY")
        uid = t.get("user.uid")
        if isinstance(uid, int) and not isinstance(uid, bool) and "user.name" not in t:
            # A uid names a user in the user list, as on a host.
            put("user.name", "root" if uid == 0 else f"{_solver.SYNTH}{uid}")
        cid = t.get("container.id")
        if isinstance(cid, str) and cid != "host" and not _DOCKER_ID.fullmatch(cid):
            # A container is a 12-hex-digit docker id on a host (and in a capture); one
            # per template, so its metadata (image, privileged, mounts) is its own.
            sig = repr(sorted((k, repr(v)) for k, v in t.items()))
            t["container.id"] = f"{zlib.crc32(sig.encode()):08x}c0de"
        if "evt.dir" in keys and "evt.dir" not in t and isinstance(t.get("evt.type"), str):
            d = carrying_dir(
                t["evt.type"],
                {k: v for k, v in t.items() if k.startswith("evt.arg") and v is not None},
            )
            if d is not None:
                t["evt.dir"] = d

    def normal_path(t: dict) -> dict | None:
        # libsinsp normalises an opened path ("/etc/" is read back as "/etc"): a template
        # path ending in "/" is offered first as a file inside that directory, which a
        # capture can carry unchanged.
        # The same holds for a path parameter (``evt.arg.path startswith /bin/``).
        def dir_path(x: object) -> bool:
            return isinstance(x, str) and x.startswith("/") and x.endswith("/") and len(x) > 1

        paths = [
            k
            for k, x in t.items()
            if dir_path(x) and (k == "fd.name" or (k.startswith("evt.arg.") and "[" not in k))
        ]
        if not paths:
            return None
        v = dict(t)
        for k in paths:
            v[k] = t[k] + f"{_solver.SYNTH}.tmp"
        if "fd.name" in paths:
            fd_variant(v, True)
        return v

    def socket_variants(t: dict) -> list[dict]:
        # An IPv4 socket's fields all follow from its tuple, as libsinsp derives them
        # (fd.name "cip:cport->sip:sport", fd.ip/fd.net both ends): one variant per
        # candidate tuple, built from the template's own socket values, every derived
        # field rewritten to agree with it; the oracle keeps the first that still breaks.
        if not (
            t.get("fd.type") == "ipv4"
            or t.get("fd.typechar") == "4"
            or any(isinstance(t.get(k), (str, int, list)) for k in _SOCKET_KEYS)
        ):
            return [t]
        if t.get("fd.type") not in (None, "ipv4") or t.get("fd.typechar") not in (None, "4"):
            return [t]
        m = _SOCKET_NAME.fullmatch(t["fd.name"]) if isinstance(t.get("fd.name"), str) else None

        def ips(*names: str) -> list[str]:
            out: list[str] = []
            for k in names:
                vals = t.get(k) if isinstance(t.get(k), list) else [t.get(k)]
                out += [x for x in vals if isinstance(x, str) and _IPV4.fullmatch(x)]
            return out

        def ports(*names: str) -> list[int]:
            out: list[int] = []
            for k in names:
                vals = t.get(k) if isinstance(t.get(k), list) else [t.get(k)]
                out += [x for x in vals if isinstance(x, int) and 0 < x < 65536]
            return out

        if m:
            tuples = [(m.group(1), int(m.group(2)), m.group(3), int(m.group(4)))]
        else:
            sips = list(
                dict.fromkeys(ips("fd.sip", "fd.ip", "fd.snet", "fd.net") + ["192.0.2.10"])
            )[:4]
            cips = list(dict.fromkeys(ips("fd.cip", "fd.cnet") + ["10.0.0.5"]))[:2]
            sport = (ports("fd.sport", "fd.port") or [443])[0]
            cport = (ports("fd.cport") or [40_001])[0]
            tuples = [(c, cport, s_, sport) for s_ in sips for c in cips if c != s_]
        proto = t.get("fd.l4proto") if t.get("fd.l4proto") in ("tcp", "udp") else "tcp"
        out = []
        for cip, cport, sip, sport in tuples:
            v = dict(t)
            derived = {
                "fd.name": f"{cip}:{cport}->{sip}:{sport}",
                "fd.typechar": "4",
                "fd.type": "ipv4",
                "fd.sockfamily": "ip",
                "fd.sip": sip,
                "fd.cip": cip,
                "fd.sport": sport,
                "fd.cport": cport,
                "fd.l4proto": proto,
                "fd.snet": sip,
                "fd.cnet": cip,
                "fd.ip": [cip, sip],
                "fd.port": [cport, sport],
                "fd.net": [cip, sip],
                "fd.directory": None,
                "fd.filename": None,
            }
            for k, x in derived.items():
                if k in keys:
                    v[k] = x
            if "fd.num" in keys and not isinstance(v.get("fd.num"), int):
                raw = v.get("evt.rawres")
                # An accept's result is the new socket's fd.
                accept = v.get("evt.type") in ("accept", "accept4") and v.get("evt.dir") != ">"
                v["fd.num"] = raw if accept and isinstance(raw, int) and raw >= 0 else 7
            out.append(v)
        return out + [t]

    def complete(t: dict) -> list[dict]:
        out: list[dict] = []
        first = normal_path(t)
        for base in [first] if first is not None else []:
            for pname_wins in (True, False):
                v = dict(base)
                ancestry_variant(v, pname_wins)
                others(v)
                if v not in out:
                    out.append(v)
        for name_wins in (False, True):
            for pname_wins in (True, False):
                base = dict(t)
                fd_variant(base, name_wins)
                for v in socket_variants(base):
                    ancestry_variant(v, pname_wins)
                    others(v)
                    if v not in out:
                        out.append(v)
        return out

    def complete_for_capture(t: dict) -> list[dict]:
        # A template whose evt.arg values its call's libscap event does not carry
        # (evt.arg.path on a rename) is offered first as a call that carries them
        # (unlink, rmdir...); the oracle keeps it only if the rule still matches.
        out: list[dict] = []
        if capture_misses(t):
            args = frozenset(
                scap_name
                for k in t
                if k.startswith("evt.arg.") and "[" not in k and t[k] is not None
                for scap_name in [k[len("evt.arg.") :]]
            )
            for etype in carrying_types(args):
                v = dict(t, **{"evt.type": etype})
                v.pop("evt.dir", None)
                out += [x for x in complete(v) if x not in out]
        out += [x for x in complete(t) if x not in out]
        return [succeeded(v) for v in out]

    def succeeded(v: dict) -> dict:
        # libsinsp takes a process's new state (its tty, exe, args) from an execve exit only
        # when the call succeeded: a breaking execve exit whose template leaves the result
        # open succeeds, instead of taking a background row's failure.
        if (
            v.get("evt.type") in ("execve", "execveat")
            and v.get("evt.dir") == "<"
            and "evt.rawres" not in v
            and "evt.res" not in v
        ):
            v = dict(v)
            if "evt.rawres" in keys:
                v["evt.rawres"] = 0
            if "evt.res" in keys:
                v["evt.res"] = "SUCCESS"
        return v

    return complete_for_capture if capture else complete
