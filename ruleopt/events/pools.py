"""Entity pools of the synthetic workload: processes, files and sockets drawn once per seed.

Every random draw comes from its own stream (``stream``), derived from the seed and a fixed
name, so a column's background does not depend on which other columns the ruleset needs.
"""

from __future__ import annotations

import posixpath
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt.events.catalogs import (
    ANCESTOR_ARGS,
    ARCHETYPES,
    CLIENTS,
    CONTAINER_CHAIN,
    FILES,
    IMAGES,
    LOGIN_USERS,
    SERVERS,
    USERS,
)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent stream per purpose: same seed and name, same numbers, always."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


def weights(ws: Sequence[float]) -> np.ndarray:
    w = np.asarray(ws, dtype=np.float64)
    return w / w.sum()


def zipf(n: int, a: float = 1.1) -> np.ndarray:
    return weights(1.0 / np.arange(1, n + 1) ** a)


# One value per process for each of these (None where it has none).
PROCESS_KEYS: tuple[str, ...] = (
    "proc.name",
    "proc.exe",
    "proc.args",
    "proc.cmdline",
    "proc.pname",
    "proc.pcmdline",
    "proc.pid",
    "proc.vpid",
    "proc.ppid",
    "proc.tty",
    "proc.duration",
    "user.name",
    "user.uid",
    "user.loginuid",
    "user.loginname",
    "group.name",
    "container.id",
    "container.name",
    "container.image.repository",
    "container.image.tag",
    "container.image",
    "container.privileged",
    "k8s.ns.name",
    "k8s.pod.name",
)
# One value per socket; SOCKET_LISTS are a list per socket (both ends).
SOCKET_KEYS: tuple[str, ...] = (
    "fd.name",
    "fd.typechar",
    "fd.type",
    "fd.sip",
    "fd.sport",
    "fd.cip",
    "fd.cport",
    "fd.l4proto",
    "fd.sip.name",
    "fd.cip.name",
    "fd.sockfamily",
    "fd.snet",
    "fd.cnet",
    "fd.sproto",
    "fd.cproto",
)
SOCKET_LISTS: tuple[str, ...] = ("fd.ip", "fd.port", "fd.net")


@dataclass
class Pool:
    """An entity pool: one Python value per entity per key (None = absent)."""

    size: int
    props: dict[str, list] = field(default_factory=dict)
    multi: dict[str, list[list]] = field(default_factory=dict)


def build_processes(seed: int, size: int = 384) -> Pool:
    """Processes drawn from the archetypes: ancestry (``proc.aname``, parent first),
    command line, user and, for containerised programs, a container of an image."""
    rng = stream(seed, "processes")
    names = list(ARCHETYPES)
    arch = rng.choice(len(names), size=size, p=weights([ARCHETYPES[n][0] for n in names]))
    pool = Pool(size)
    props: dict[str, list] = {k: [None] * size for k in PROCESS_KEYS}
    chains: list[list] = []
    containers: dict[tuple[str, int], str] = {}
    for i in range(size):
        name = names[int(arch[i])]
        _w, exe, argvs, anc_choices, user, images = ARCHETYPES[name]
        args = argvs[int(rng.integers(len(argvs)))]
        chain = list(anc_choices[int(rng.integers(len(anc_choices)))])
        chains.append(chain)
        if user == "login":
            user = LOGIN_USERS[int(rng.integers(len(LOGIN_USERS)))]
        uid, loginuid = USERS.get(user, (1000, -1))
        if user in LOGIN_USERS and "sshd" in chain:
            loginuid = uid  # an ssh session keeps the login user's id through sudo
        p = props
        p["proc.name"][i] = name
        p["proc.exe"][i] = exe
        p["proc.args"][i] = args
        p["proc.cmdline"][i] = f"{name} {args}".strip()
        p["proc.pname"][i] = chain[0] if chain else None
        if chain:
            pargs = ANCESTOR_ARGS.get(chain[0], "")
            p["proc.pcmdline"][i] = f"{chain[0]} {pargs}".strip()
        pid = int(rng.integers(300, 60000))
        p["proc.pid"][i] = pid
        p["proc.ppid"][i] = max(1, pid - int(rng.integers(1, 200)))
        p["proc.tty"][i] = 34816 + int(rng.integers(0, 4)) if "sshd" in chain else 0
        p["proc.duration"][i] = int(rng.integers(1_000_000, 3_600_000_000_000))
        p["user.name"][i] = user
        p["user.uid"][i] = uid
        p["user.loginuid"][i] = loginuid
        p["user.loginname"][i] = user if loginuid >= 0 else None
        p["group.name"][i] = user
        in_ct = bool(images) and CONTAINER_CHAIN[0] in chain
        if in_ct:
            image = images[int(rng.integers(len(images)))]
            repo, tags, ns = IMAGES[image]
            replica = int(rng.integers(0, 3))
            cid = containers.setdefault(
                (image, replica), f"{zlib.crc32(f'{seed}/{image}/{replica}'.encode()):08x}a1b2"
            )
            tag = tags[replica % len(tags)]
            p["container.id"][i] = cid
            p["container.name"][i] = f"{image}-{replica}"
            p["container.image.repository"][i] = repo
            p["container.image.tag"][i] = tag
            p["container.image"][i] = f"{repo}:{tag}"
            p["container.privileged"][i] = image == "prometheus"
            p["proc.vpid"][i] = 1 + int(rng.integers(0, 40))
            if ns:
                p["k8s.ns.name"][i] = ns
                p["k8s.pod.name"][i] = f"{image}-{replica}-{cid[:5]}"
        else:
            p["container.id"][i] = "host"
            p["container.name"][i] = "host"
            p["proc.vpid"][i] = pid
    pool.props = props
    pool.multi["proc.aname"] = chains
    return pool


def build_files(seed: int) -> Pool:
    """Every catalog file, plus a long tail of temp and /proc files; ``_weight`` is how
    often calls pick each (the directory's weight, falling with the file's rank)."""
    rng = stream(seed, "files")
    dirs = list(FILES)
    entries: list[tuple[str, str, bool, float]] = []
    for d in dirs:
        w, names, typechar, writable = FILES[d]
        for j, fname in enumerate(names):
            entries.append((posixpath.join(d, fname), typechar, writable, w / (j + 1)))
    # Short-lived temp files give /tmp and /proc the long tail real hosts have.
    for k in range(64):
        entries.append((f"/tmp/tmp{zlib.crc32(f'{seed}t{k}'.encode()):08x}", "f", True, 0.05))
        entries.append((f"/proc/{int(rng.integers(300, 60000))}/stat", "f", False, 0.05))
    size = len(entries)
    pool = Pool(size)
    p: dict[str, list] = {
        k: [None] * size
        for k in ("fd.name", "fd.directory", "fd.filename", "fd.typechar", "fd.type", "writable")
    }
    for i, (path, typechar, writable, _w) in enumerate(entries):
        # fd.directory / fd.filename are libsinsp's split of fd.name at the last slash.
        p["fd.name"][i] = path
        p["fd.directory"][i] = posixpath.dirname(path)
        p["fd.filename"][i] = posixpath.basename(path)
        p["fd.typechar"][i] = typechar
        p["fd.type"][i] = "file" if typechar == "f" else "char"
        p["writable"][i] = writable
    pool.props = p
    pool.props["_weight"] = [e[3] for e in entries]
    return pool


def build_sockets(seed: int, size: int = 256) -> Pool:
    """Client sockets to the catalog's servers (zipf-weighted), one in 16 a unix socket."""
    rng = stream(seed, "sockets")
    pool = Pool(size)
    p: dict[str, list] = {k: [None] * size for k in SOCKET_KEYS}
    ips: list[list] = []
    ports: list[list] = []
    nets: list[list] = []
    srv_w = zipf(len(SERVERS), 0.8)
    for i in range(size):
        if i % 16 == 15:
            # Unix sockets: docker/containerd API and journald, no IP fields.
            path = (
                "/var/run/docker.sock",
                "/run/containerd/containerd.sock",
                "/run/systemd/journal/socket",
            )[i % 3]
            p["fd.name"][i] = path
            p["fd.typechar"][i] = "u"
            p["fd.type"][i] = "unix"
            p["fd.sockfamily"][i] = "unix"
            ips.append([])
            ports.append([])
            nets.append([])
            continue
        sip, sport, proto, host = SERVERS[int(rng.choice(len(SERVERS), p=srv_w))]
        cip = "127.0.0.1" if sip == "127.0.0.1" else CLIENTS[int(rng.integers(len(CLIENTS)))]
        cport = int(rng.integers(32768, 61000))
        p["fd.name"][i] = f"{cip}:{cport}->{sip}:{sport}"
        p["fd.typechar"][i] = "4"
        p["fd.type"][i] = "ipv4"
        p["fd.sockfamily"][i] = "ip"
        p["fd.sip"][i] = sip
        p["fd.sport"][i] = sport
        p["fd.cip"][i] = cip
        p["fd.cport"][i] = cport
        p["fd.l4proto"][i] = proto
        p["fd.sproto"][i] = proto
        p["fd.cproto"][i] = proto
        p["fd.sip.name"][i] = host or None
        p["fd.cip.name"][i] = "localhost" if cip == "127.0.0.1" else None
        p["fd.snet"][i] = sip
        p["fd.cnet"][i] = cip
        ips.append([cip, sip])
        ports.append([cport, sport])
        nets.append([cip, sip])
    pool.props = p
    pool.multi.update(zip(SOCKET_LISTS, (ips, ports, nets), strict=True))
    return pool


# --------------------------------------------------------------------------- columns
