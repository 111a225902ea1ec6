"""Seeded synthetic workloads: a realistic background with a chosen share of rule breakers.

The background is built the way a host produces syscalls: a pool of *processes* (each
with its ancestry, command line, user and container), a pool of *files* and a pool of
*sockets* are drawn once from the seed; then every system call picks a syscall from the
event-type mix, a process, and a file or socket when the syscall has one, and yields an
enter (``>``) and an exit (``<``) event. Every column is a gather from a small pool by an
index array, so 10 million events are numpy work, never a Python loop per event. Values
agree with each other wherever rules look: ``fd.directory`` is the dirname of ``fd.name``,
``proc.pname`` is ``proc.aname[1]`` and the first ancestor of ``proc.aname``,
``evt.is_open_write`` is true exactly when the open's ``evt.arg.flags`` ask for write.

Then ``break_share`` of the events are overwritten, at evenly spread (jittered) rows,
with the fields of a *template* of one enabled rule (``ruleopt.events.solver``): an
assignment verified with the reference evaluator to make that rule match whatever the
other fields hold. Which rows break which rule is kept in ``table.meta["breaking"]``.

Every random draw comes from its own stream, derived from the seed and a fixed name, so a
column's background does not depend on which other columns the ruleset needs.
"""

from __future__ import annotations

import functools
import posixpath
import re
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ruleopt.engine.reference import evaluate
from ruleopt.errors import RuleoptError
from ruleopt.events import scap_args, scapfile
from ruleopt.events import solver as _solver
from ruleopt.events import unbreakable as _unbreakable
from ruleopt.events.table import (
    Column,
    EventTable,
    StringHeap,
    coerce_value,
    is_multi,
    storage_kind,
)
from ruleopt.fields import resolve
from ruleopt.rules.ast import Field, fields_of

DEFAULT_EVENTS = 200_000
DEFAULT_SEED = 0
DEFAULT_BREAK_SHARE = 0.01
# Fields a capture needs whatever the rules read: each row is one half of a call.
CAPTURE_FIELDS = ("evt.dir",)
TEMPLATES_PER_RULE = 3

# --------------------------------------------------------------------------- catalogs
# Syscall -> (weight, category). Weights are rough shares of a busy Linux host; the
# category says which pool (file, socket) the call's fd comes from and which arguments
# it carries.
SYSCALLS: dict[str, tuple[float, str]] = {
    "read": (16.0, "io"), "write": (11.0, "io"), "close": (9.0, "io"),
    "openat": (9.0, "open"), "open": (2.5, "open"), "creat": (0.05, "open"),
    "fstat": (4.0, "fileio"), "lseek": (1.5, "fileio"), "stat": (2.0, "path"),
    "lstat": (0.8, "path"), "access": (0.6, "path"), "readlink": (0.3, "path"),
    "mmap": (3.0, "none"), "munmap": (1.5, "none"), "brk": (0.8, "none"),
    "futex": (6.0, "none"), "epoll_wait": (4.0, "none"), "poll": (1.5, "none"),
    "select": (0.6, "none"), "nanosleep": (1.0, "none"), "getpid": (0.4, "none"),
    "recvfrom": (4.0, "net"), "sendto": (4.0, "net"), "recvmsg": (1.5, "net"),
    "sendmsg": (1.5, "net"), "connect": (0.8, "net"), "accept": (0.3, "net"),
    "accept4": (0.3, "net"), "bind": (0.1, "net"), "listen": (0.05, "net"),
    "socket": (0.6, "none"), "dup2": (0.2, "io"), "dup": (0.1, "io"),
    "execve": (0.5, "exec"), "clone": (0.6, "clone"), "fork": (0.05, "clone"),
    "vfork": (0.05, "clone"), "procexit": (0.5, "none"),
    "setuid": (0.05, "setuid"), "setgid": (0.05, "none"), "setns": (0.01, "none"),
    "unlink": (0.15, "path"), "unlinkat": (0.2, "unlinkat"), "rename": (0.08, "rename"),
    "renameat": (0.05, "rename"), "mkdir": (0.08, "path"), "mkdirat": (0.04, "path"),
    "rmdir": (0.04, "path"), "chmod": (0.04, "chmod"), "fchmod": (0.02, "chmod"),
    "fchmodat": (0.03, "chmod"), "symlink": (0.02, "link"), "symlinkat": (0.01, "link"),
    "link": (0.01, "link"), "linkat": (0.01, "link"), "ptrace": (0.002, "none"),
    "mount": (0.002, "none"), "chdir": (0.1, "path"), "prctl": (0.05, "none"),
}  # fmt: skip

# Program archetypes: name -> (weight, exe, argument variants, ancestor chains (parent
# first), user, container images it runs in (empty: host only)).
_SHELL_CHAINS = (
    ("bash", "sshd", "sshd", "systemd"),
    ("bash", "tmux: server", "systemd"),
    ("sh", "cron", "systemd"),
    ("bash", "sudo", "bash", "sshd", "sshd", "systemd"),
    ("sh", "python3", "bash", "sshd", "sshd", "systemd"),
    ("make", "bash", "sshd", "sshd", "systemd"),
)
_CT = ("containerd-shim", "containerd", "systemd")  # above every containerised process
ARCHETYPES: dict[str, tuple] = {
    "bash": (3, "/bin/bash", ("", "-l", "-c 'make test'"), (("sshd", "sshd", "systemd"),
             ("tmux: server", "systemd"), ("sudo", "bash", "sshd", "sshd", "systemd")),
             "login", ()),
    "sshd": (1, "/usr/sbin/sshd", ("-D", "-R"), (("sshd", "systemd"), ("systemd",)), "root", ()),
    "ls": (2, "/bin/ls", ("-la", "/tmp", "--color=auto"), _SHELL_CHAINS, "login", ()),
    "cat": (2, "/bin/cat", ("/etc/hosts", "README.md", "/proc/cpuinfo"), _SHELL_CHAINS,
            "login", ()),
    "grep": (1.5, "/bin/grep", ("-r TODO src", "-i error /var/log/syslog"), _SHELL_CHAINS,
             "login", ()),
    "vim": (1, "/usr/bin/vim", ("main.c", "notes.txt"), _SHELL_CHAINS[:2], "login", ()),
    "git": (1.5, "/usr/bin/git", ("status", "pull --rebase", "log -n 5"), _SHELL_CHAINS,
            "login", ()),
    "python3": (3, "/usr/bin/python3", ("app.py", "-m pytest", "manage.py runserver"),
                _SHELL_CHAINS, "login", ("python",)),
    "make": (0.8, "/usr/bin/make", ("all", "test"), _SHELL_CHAINS[:2], "login", ()),
    "gcc": (0.8, "/usr/bin/gcc", ("-O2 -c main.c", "-o app main.o"),
            (("make",) + _SHELL_CHAINS[0],), "login", ()),
    "curl": (0.6, "/usr/bin/curl", ("-s https://example.com", "-fsSL http://10.0.0.5/health"),
             _SHELL_CHAINS, "login", ()),
    "ps": (0.5, "/bin/ps", ("aux", "-ef"), _SHELL_CHAINS, "login", ()),
    "tar": (0.3, "/bin/tar", ("czf backup.tgz data", "xzf pkg.tgz"), _SHELL_CHAINS, "login", ()),
    "cron": (0.3, "/usr/sbin/cron", ("-f",), (("systemd",),), "root", ()),
    "systemd-journald": (2, "/lib/systemd/systemd-journald", ("",), (("systemd",),), "root", ()),
    "systemd-logind": (0.5, "/lib/systemd/systemd-logind", ("",), (("systemd",),), "root", ()),
    "rsyslogd": (1.5, "/usr/sbin/rsyslogd", ("-n -iNONE",), (("systemd",),), "syslog", ()),
    "dbus-daemon": (0.5, "/usr/bin/dbus-daemon", ("--system --nofork",), (("systemd",),),
                    "messagebus", ()),
    "chronyd": (0.3, "/usr/sbin/chronyd", ("-F 1",), (("systemd",),), "_chrony", ()),
    "dockerd": (2, "/usr/bin/dockerd", ("-H fd:// --containerd=/run/containerd/containerd.sock",),
                (("systemd",),), "root", ()),
    "containerd": (2, "/usr/bin/containerd", ("",), (("systemd",),), "root", ()),
    "containerd-shim": (1, "/usr/bin/containerd-shim-runc-v2", ("-namespace moby -id 4f1d",),
                        (("containerd", "systemd"),), "root", ()),
    "runc": (0.3, "/usr/bin/runc", ("init", "--root /run/containerd/runc state"),
             (("containerd-shim",) + _CT[1:],), "root", ()),
    "kubelet": (3, "/usr/bin/kubelet", ("--config=/var/lib/kubelet/config.yaml",),
                (("systemd",),), "root", ()),
    "nginx": (4, "/usr/sbin/nginx", ("-g daemon off;", "worker process"),
              (("nginx",) + _CT, _CT), "www-data", ("nginx",)),
    "node": (4, "/usr/local/bin/node", ("server.js", "dist/main.js"), (_CT, ("npm",) + _CT),
             "node", ("node", "frontend")),
    "java": (4, "/usr/bin/java", ("-Xmx2g -jar app.jar", "-cp /opt/app/lib/* Main"), (_CT,),
             "root", ("java",)),
    "postgres": (3, "/usr/lib/postgresql/13/bin/postgres", ("-D /var/lib/postgresql/data",),
                 (("postgres",) + _CT, _CT), "postgres", ("postgres",)),
    "redis-server": (2, "/usr/local/bin/redis-server", ("*:6379",), (_CT,), "redis", ("redis",)),
    "sh": (1, "/bin/sh", ("-c /docker-entrypoint.sh", "-c 'sleep 5'"),
           (("node",) + _CT, ("java",) + _CT, ("cron", "systemd")), "root", ("node", "java")),
    "apt-get": (0.1, "/usr/bin/apt-get", ("update", "install -y jq"), _SHELL_CHAINS[3:4],
                "root", ()),
    "snapd": (0.3, "/usr/lib/snapd/snapd", ("",), (("systemd",),), "root", ()),
    "node_exporter": (1, "/bin/node_exporter", ("--path.procfs=/host/proc",), (_CT,),
                      "nobody", ("prometheus",)),
}  # fmt: skip

# Command lines of processes that only appear as ancestors.
_ANCESTOR_ARGS: dict[str, str] = {
    "systemd": "--system --deserialize 34", "sshd": "-D", "bash": "", "sh": "-c make",
    "tmux: server": "", "cron": "-f", "sudo": "-i", "python3": "tools/run.py",
    "make": "test", "containerd-shim": "-namespace moby -id 4f1d", "containerd": "",
    "nginx": "-g daemon off;", "npm": "start", "node": "server.js", "java": "-jar app.jar",
    "postgres": "-D /var/lib/postgresql/data",
}

# user name -> (uid, loginuid); "login" in ARCHETYPES draws an interactive user.
USERS: dict[str, tuple[int, int]] = {
    "root": (0, -1), "www-data": (33, -1), "syslog": (104, -1), "messagebus": (103, -1),
    "_chrony": (111, -1), "postgres": (999, -1), "redis": (999, -1), "node": (1000, -1),
    "nobody": (65534, -1), "ubuntu": (1000, 1000), "alice": (1001, 1001),
    "bob": (1002, 1002),
}
_LOGIN_USERS = ("ubuntu", "alice", "bob", "root")

# image -> (repository, tags, k8s namespace or "")
IMAGES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "nginx": ("docker.io/library/nginx", ("1.21.6", "1.19"), "web"),
    "node": ("docker.io/library/node", ("16-alpine", "14"), "web"),
    "frontend": ("ghcr.io/acme/frontend", ("v2.3.1",), "web"),
    "java": ("docker.io/library/openjdk", ("11-jre",), "payments"),
    "postgres": ("docker.io/library/postgres", ("13.4",), "db"),
    "redis": ("docker.io/library/redis", ("6.2",), "db"),
    "python": ("docker.io/library/python", ("3.9-slim",), ""),
    "prometheus": ("quay.io/prometheus/node-exporter", ("v1.3.1",), "monitoring"),
}

# Directory -> (weight, file names, typechar, writable). Writes go only where programs
# really write, so the background rarely trips write-below-etc style rules by itself.
FILES: dict[str, tuple[float, tuple[str, ...], str, bool]] = {
    "/etc": (4, ("passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "ld.so.cache",
                 "localtime", "os-release", "host.conf", "gai.conf", "shadow", "sudoers",
                 "login.defs", "environment"), "f", False),
    "/etc/ssl/certs": (1, ("ca-certificates.crt", "ssl-cert-snakeoil.pem"), "f", False),
    "/lib/x86_64-linux-gnu": (6, ("libc.so.6", "libpthread.so.0", "libdl.so.2", "libm.so.6",
                                  "libz.so.1", "libtinfo.so.6", "libselinux.so.1"), "f", False),
    "/usr/lib/x86_64-linux-gnu": (5, ("libssl.so.1.1", "libcrypto.so.1.1", "libstdc++.so.6",
                                      "libsystemd.so.0", "libgcc_s.so.1"), "f", False),
    "/usr/bin": (1, ("python3", "git", "curl", "node", "env"), "f", False),
    "/usr/share/zoneinfo": (0.5, ("UTC", "Etc/UTC"), "f", False),
    "/proc": (6, ("stat", "meminfo", "cpuinfo", "loadavg", "uptime", "self/status",
                  "self/cgroup", "self/mountinfo", "1/cmdline", "412/stat"), "f", False),
    "/sys/fs/cgroup/memory": (2, ("memory.usage_in_bytes", "memory.limit_in_bytes",
                                  "memory.stat"), "f", False),
    "/dev": (2, ("null", "urandom", "tty", "pts/0"), "c", True),
    "/tmp": (3, ("tmp7f3k2a", "build.log", "pytest-cache", "sess_a81c", "npm-1234.lock"),
             "f", True),
    "/var/log": (3, ("syslog", "auth.log", "kern.log", "nginx/access.log", "nginx/error.log",
                     "journal/system.journal"), "f", True),
    "/var/lib/postgresql/data": (2, ("base/16384/2619", "pg_wal/000000010000000000000001",
                                     "postmaster.pid"), "f", True),
    "/var/lib/docker": (1, ("containers/4f1d/config.v2.json", "image/overlay2/repositories.json"),
                        "f", True),
    "/var/lib/kubelet": (1, ("config.yaml", "pods/3c1e/volumes"), "f", False),
    "/home/ubuntu": (2, (".bashrc", ".profile", "src/app/main.c", "src/app/README.md",
                         ".cache/pip/selfcheck.json"), "f", True),
    "/root": (0.3, (".bashrc", ".bash_history"), "f", True),
    "/run": (1, ("utmp", "systemd/journal/socket", "containerd/containerd.sock.ttrpc"),
             "f", True),
    "/usr/src/app": (2, ("server.js", "package.json", "node_modules/express/index.js",
                         "dist/main.js"), "f", False),
    "/opt/app": (1, ("app.jar", "lib/guava.jar", "config/application.yml"), "f", False),
}  # fmt: skip

# Open flags as libsinsp renders them -> (weight, read, write). Write flags are drawn
# only for files in writable directories.
READ_FLAGS: dict[str, tuple[float, bool, bool]] = {
    "O_RDONLY": (3, True, False), "O_RDONLY|O_CLOEXEC": (6, True, False),
    "O_RDONLY|O_NONBLOCK|O_CLOEXEC": (1, True, False),
    "O_RDONLY|O_DIRECTORY|O_CLOEXEC": (0.5, True, False),
}
WRITE_FLAGS: dict[str, tuple[float, bool, bool]] = {
    "O_WRONLY|O_CREAT|O_TRUNC": (3, False, True), "O_WRONLY|O_APPEND|O_CREAT": (3, False, True),
    "O_RDWR": (1, True, True), "O_RDWR|O_CREAT|O_CLOEXEC": (1, True, True),
}

# Servers the workload talks to: (ip, port, proto, hostname or "").
SERVERS: tuple[tuple[str, int, str, str], ...] = (
    ("10.0.0.10", 53, "udp", "kube-dns.kube-system.svc.cluster.local"),
    ("8.8.8.8", 53, "udp", "dns.google"),
    ("10.0.1.20", 5432, "tcp", "postgres.db.svc.cluster.local"),
    ("10.0.1.21", 6379, "tcp", "redis.db.svc.cluster.local"),
    ("10.0.2.5", 8080, "tcp", "api.payments.svc.cluster.local"),
    ("10.96.0.1", 443, "tcp", "kubernetes.default.svc.cluster.local"),
    ("93.184.216.34", 443, "tcp", "example.com"),
    ("140.82.121.4", 443, "tcp", "github.com"),
    ("151.101.1.69", 443, "tcp", ""),
    ("127.0.0.1", 9090, "tcp", "localhost"),
    ("172.17.0.3", 80, "tcp", ""),
    ("10.0.0.5", 22, "tcp", ""),
    ("169.254.169.254", 80, "tcp", ""),
)
_CLIENTS = ("10.0.3.14", "10.0.3.15", "172.17.0.2", "172.17.0.4", "127.0.0.1", "192.168.1.23")

_ERRORS = ("ENOENT", "EACCES", "EAGAIN", "EINPROGRESS")
_MODES = ("0644", "0755", "0600", "S_IRUSR|S_IWUSR", "S_IRWXU|S_IRGRP|S_IXGRP")


# --------------------------------------------------------------------------- helpers


# Syscall categories as small integer codes (per-event arrays stay one byte wide).
_CATS: tuple[str, ...] = ("none", "io", "open", "fileio", "path", "net", "exec", "clone",
                          "setuid", "unlinkat", "rename", "chmod", "link")  # fmt: skip
_CAT: dict[str, int] = {c: i for i, c in enumerate(_CATS)}
# Programs that use no IP sockets in this workload.
_OFFLINE = frozenset({"systemd-journald", "systemd-logind", "dbus-daemon", "cron", "ls", "cat",
                      "grep", "vim", "make", "gcc", "ps", "tar", "runc", "sh"})  # fmt: skip


def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent stream per purpose: same seed and name, same numbers, always."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


def _weights(ws: Sequence[float]) -> np.ndarray:
    w = np.asarray(ws, dtype=np.float64)
    return w / w.sum()


def _zipf(n: int, a: float = 1.1) -> np.ndarray:
    return _weights(1.0 / np.arange(1, n + 1) ** a)


@dataclass
class _Pool:
    """An entity pool: one Python value per entity per key (None = absent)."""

    size: int
    props: dict[str, list] = field(default_factory=dict)
    multi: dict[str, list[list]] = field(default_factory=dict)


def _build_processes(seed: int, size: int = 384) -> _Pool:
    rng = _rng(seed, "processes")
    names = list(ARCHETYPES)
    arch = rng.choice(len(names), size=size, p=_weights([ARCHETYPES[n][0] for n in names]))
    pool = _Pool(size)
    keys = ("proc.name", "proc.exe", "proc.args", "proc.cmdline", "proc.pname",
            "proc.pcmdline", "proc.pid", "proc.vpid", "proc.ppid", "proc.tty", "proc.duration",
            "user.name", "user.uid", "user.loginuid", "user.loginname", "group.name",
            "container.id", "container.name", "container.image.repository",
            "container.image.tag", "container.image", "container.privileged",
            "k8s.ns.name", "k8s.pod.name")  # fmt: skip
    props: dict[str, list] = {k: [None] * size for k in keys}
    chains: list[list] = []
    containers: dict[tuple[str, int], str] = {}
    for i in range(size):
        name = names[int(arch[i])]
        _w, exe, argvs, anc_choices, user, images = ARCHETYPES[name]
        args = argvs[int(rng.integers(len(argvs)))]
        chain = list(anc_choices[int(rng.integers(len(anc_choices)))])
        chains.append(chain)
        if user == "login":
            user = _LOGIN_USERS[int(rng.integers(len(_LOGIN_USERS)))]
        uid, loginuid = USERS.get(user, (1000, -1))
        if user in _LOGIN_USERS and "sshd" in chain:
            loginuid = uid  # an ssh session keeps the login user's id through sudo
        p = props
        p["proc.name"][i] = name
        p["proc.exe"][i] = exe
        p["proc.args"][i] = args
        p["proc.cmdline"][i] = f"{name} {args}".strip()
        p["proc.pname"][i] = chain[0] if chain else None
        if chain:
            pargs = _ANCESTOR_ARGS.get(chain[0], "")
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
        in_ct = bool(images) and _CT[0] in chain
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


def _build_files(seed: int) -> _Pool:
    rng = _rng(seed, "files")
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
    pool = _Pool(size)
    p: dict[str, list] = {k: [None] * size for k in (
        "fd.name", "fd.directory", "fd.filename", "fd.typechar", "fd.type", "writable")}
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


def _build_sockets(seed: int, size: int = 256) -> _Pool:
    rng = _rng(seed, "sockets")
    pool = _Pool(size)
    keys = ("fd.name", "fd.typechar", "fd.type", "fd.sip", "fd.sport", "fd.cip", "fd.cport",
            "fd.l4proto", "fd.sip.name", "fd.cip.name", "fd.sockfamily", "fd.snet", "fd.cnet",
            "fd.sproto", "fd.cproto")  # fmt: skip
    p: dict[str, list] = {k: [None] * size for k in keys}
    ips: list[list] = []
    ports: list[list] = []
    nets: list[list] = []
    srv_w = _zipf(len(SERVERS), 0.8)
    for i in range(size):
        if i % 16 == 15:
            # Unix sockets: docker/containerd API and journald, no IP fields.
            path = ("/var/run/docker.sock", "/run/containerd/containerd.sock",
                    "/run/systemd/journal/socket")[i % 3]  # fmt: skip
            p["fd.name"][i] = path
            p["fd.typechar"][i] = "u"
            p["fd.type"][i] = "unix"
            p["fd.sockfamily"][i] = "unix"
            ips.append([])
            ports.append([])
            nets.append([])
            continue
        sip, sport, proto, host = SERVERS[int(rng.choice(len(SERVERS), p=srv_w))]
        cip = "127.0.0.1" if sip == "127.0.0.1" else _CLIENTS[int(rng.integers(len(_CLIENTS)))]
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
    pool.multi.update({"fd.ip": ips, "fd.port": ports, "fd.net": nets})
    return pool


# --------------------------------------------------------------------------- columns


@dataclass
class _Spec:
    """A column to produce: canonical key, registry type, storage kind, list-valued."""

    key: str
    type: str
    kind: str
    multi: bool


def _to_storage(value: object, kind: str) -> object:
    """A Python value in the form the column stores (text for "str", int for "num")."""
    if value is None:
        return None
    if kind == "num":
        return int(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Columns:
    """Background columns, gathered from the pools by per-event index arrays."""

    def __init__(self, n: int, seed: int, mix: Mapping[str, float] | None,
                 heap: StringHeap) -> None:  # fmt: skip
        self.n = n
        self.seed = seed
        self.heap = heap
        self.procs = _build_processes(seed)
        self.files = _build_files(seed)
        self.socks = _build_sockets(seed)
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
                raise RuleoptError("the event mix has no positive weight",
                                   hint="give at least one event type a weight > 0")
        self.sc_names = list(table)
        self._sc_arr = np.array(self.sc_names, dtype=object)
        sc_cat = np.array([_CATS.index(table[s][1]) for s in self.sc_names], dtype=np.int8)
        sc = _rng(self.seed, "syscall").choice(
            len(self.sc_names), size=ncalls, p=_weights([table[s][0] for s in self.sc_names])
        ).astype(np.int16)
        cat = sc_cat[sc]
        pw = _zipf(self.procs.size, 1.05)
        proc = _rng(self.seed, "proc").choice(self.procs.size, size=ncalls, p=pw).astype(np.int32)
        fw = _weights(self.files.props["_weight"])
        fidx = _rng(self.seed, "file").choice(self.files.size, size=ncalls, p=fw).astype(np.int32)
        sidx = _rng(self.seed, "sock").choice(
            self.socks.size, size=ncalls, p=_zipf(self.socks.size, 0.9)
        ).astype(np.int32)
        # Programs that never touch the network (journald, ls, ...) only use unix sockets.
        unix = np.array([i for i, t in enumerate(self.socks.props["fd.typechar"]) if t == "u"],
                        dtype=np.int32)  # fmt: skip
        offline = np.array([nm in _OFFLINE for nm in self.procs.props["proc.name"]])
        sidx = np.where(offline[proc], unix[sidx % len(unix)], sidx)
        # Which pool each call's fd comes from: plain I/O is 70% files, 30% sockets.
        on_sock = _rng(self.seed, "iosock").random(ncalls) < 0.3
        is_io = cat == _CAT["io"]
        fchmod = self._sc_lut(["fchmod"])[sc]
        use_file = np.isin(cat, [_CAT["open"], _CAT["fileio"]]) | fchmod | (is_io & ~on_sock)
        use_sock = (cat == _CAT["net"]) | (is_io & on_sock)
        call_file = np.where(use_file, fidx, -1).astype(np.int32)
        call_sock = np.where(use_sock, sidx, -1).astype(np.int32)
        # Calls naming a path without an fd (stat, mkdir, rename...) draw from the files.
        path_cats = [_CAT[c] for c in ("path", "unlinkat", "rename", "chmod", "link")]
        call_path = np.where(np.isin(cat, path_cats) & ~fchmod, fidx, -1).astype(np.int32)
        # Open flags: write flags only where the file is writable; logs are only appended.
        writable = np.array([bool(w) for w in self.files.props["writable"]])
        is_log = np.array([d.startswith("/var/log") for d in self.files.props["fd.directory"]])
        is_open = cat == _CAT["open"]
        rf, wf = list(READ_FLAGS), list(WRITE_FLAGS)
        self.flag_names = rf + wf
        frng = _rng(self.seed, "flags")
        rsel = frng.choice(len(rf), size=ncalls, p=_weights([READ_FLAGS[f][0] for f in rf]))
        wsel = frng.choice(len(wf), size=ncalls, p=_weights([WRITE_FLAGS[f][0] for f in wf]))
        wsel = np.where(is_log[fidx], wf.index("O_WRONLY|O_APPEND|O_CREAT"), wsel)
        wants_write = frng.random(ncalls) < 0.45
        do_write = is_open & wants_write & writable[fidx]
        call_flag = np.where(is_open, np.where(do_write, len(rf) + wsel, rsel), -1)
        # Results: most calls succeed; a few fail with an errno.
        rrng = _rng(self.seed, "result")
        fail = rrng.random(ncalls) < 0.04
        call_err = np.where(fail, rrng.integers(0, len(_ERRORS), ncalls), -1).astype(np.int8)
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
        lut = np.zeros(len(_CATS), dtype=np.bool_)
        lut[[_CAT[c] for c in cats]] = True
        return lut[self.ev_cat]

    # ---------------------------------------------------------------- value encoding

    def _encode(self, values: Sequence, spec: _Spec) -> tuple[np.ndarray, np.ndarray]:
        """Pool values (Python) -> (stored array, present mask) of the pool's size."""
        present = np.array([v is not None for v in values], dtype=np.bool_)
        if spec.kind == "str":
            intern = self.heap.intern
            arr = np.array([-1 if v is None else intern(_to_storage(v, "str")) for v in values],
                           dtype=np.int32)  # fmt: skip
        else:
            arr = np.array([0 if v is None else _to_storage(v, "num") for v in values],
                           dtype=np.int64)  # fmt: skip
        return arr, present

    def _gather(self, values: Sequence, spec: _Spec, idx: np.ndarray,
                mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Column = pool[idx], absent where idx is -1 (or mask is False)."""
        arr, pres = self._encode(values, spec)
        # One absent sentinel appended: index -1 lands on it, no per-event branching.
        arr = np.append(arr, arr.dtype.type(-1 if spec.kind == "str" else 0))
        pres = np.append(pres, False)
        if mask is not None:
            idx = np.where(mask, idx, -1)
        return arr[idx], pres[idx]

    def _gather_multi(self, lists: Sequence[list], spec: _Spec,
                      idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
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

    # ---------------------------------------------------------------- producers

    def produce(self, spec: _Spec) -> Column | None:
        """The background column for ``spec``, or None when the generator has no model."""
        key = spec.key
        n = self.n
        procs, files, socks = self.procs, self.files, self.socks
        everywhere = np.ones(n, dtype=np.bool_)

        def col(values: np.ndarray, present: np.ndarray,
                offsets: np.ndarray | None = None) -> Column:  # fmt: skip
            return Column(key, spec.type, spec.kind, values, present, offsets)

        # -- event fields
        if key in ("evt.type", "syscall.type"):
            return col(*self._gather(self.sc_names, spec, self.ev_sc))
        if key == "evt.dir":
            return col(*self._gather([">", "<"], spec, self.is_exit.astype(np.int8)))
        if key == "evt.num":
            return col(np.arange(1, n + 1, dtype=np.int64), everywhere)
        if key in ("evt.rawtime", "evt.time.ns"):
            t0 = 1_650_000_000_000_000_000
            steps = _rng(self.seed, "time").integers(200, 20_000, n).astype(np.int64)
            return col(*self._numbers(spec, t0 + np.cumsum(steps), everywhere))
        if key in ("evt.rawres", "evt.res", "evt.failed"):
            exits = self.is_exit
            err = self.ev_err
            if key == "evt.failed":
                return col(*self._numbers(spec, (err >= 0).astype(np.int64), exits))
            if key == "evt.res":
                return col(*self._gather(["SUCCESS", *_ERRORS], spec, err + 1, exits))
            # rawres: the new fd for fd-returning calls, -errno on failure, else 0.
            errno = np.array([2, 13, 11, 115], dtype=np.int64)
            returns_fd = self.cat_mask("open") | self.sc_mask(
                ["accept", "accept4", "socket", "dup", "dup2"])
            vals = np.where(returns_fd, self.ev_fdnum, 0).astype(np.int64)
            vals = np.where(err >= 0, -errno[np.maximum(err, 0)], vals)
            return col(*self._numbers(spec, vals, exits))
        if key == "fd.num":
            has_fd = (self.ev_file >= 0) | (self.ev_sock >= 0)
            # A failed open has no fd: libsinsp reports -1 there.
            fdn = np.where(self.cat_mask("open") & (self.ev_err >= 0), -1, self.ev_fdnum)
            return col(*self._numbers(spec, fdn.astype(np.int64), has_fd))
        if key in ("evt.arg.flags", "evt.is_open_read", "evt.is_open_write",
                   "evt.is_open_exec"):  # fmt: skip
            if key == "evt.arg.flags":
                return col(*self._gather(self.flag_names, spec, self.ev_flag))
            table = {**READ_FLAGS, **WRITE_FLAGS}
            if key == "evt.is_open_exec":
                vals = [False] * len(self.flag_names)
            else:
                pos = 1 if key == "evt.is_open_read" else 2
                vals = [table[f][pos] for f in self.flag_names]
            return col(*self._gather(vals, spec, self.ev_flag))
        if key == "evt.arg.mode":
            mask = self.cat_mask("chmod", "open") | self.sc_mask(["mkdir", "mkdirat"])
            mi = self.per_event(
                _rng(self.seed, "mode").integers(0, len(_MODES), self.ncalls).astype(np.int8))
            return col(*self._gather(list(_MODES), spec, mi, mask))
        if key == "evt.arg.uid":
            return col(*self._gather(procs.props["user.name"], spec, self.ev_proc,
                                     self.cat_mask("setuid")))  # fmt: skip
        if key == "evt.arg.filename":
            # execve's filename is the new program; chmod's is its path.
            ev, ep = self._gather(procs.props["proc.exe"], spec, self.ev_proc,
                                  self.cat_mask("exec"))  # fmt: skip
            pv, pp = self._gather(files.props["fd.name"], spec, self.ev_path,
                                  self.cat_mask("chmod"))  # fmt: skip
            return col(np.where(ep, ev, pv), ep | pp)
        if key in ("evt.arg.path", "evt.arg.name", "evt.arg.oldpath", "evt.arg.newpath",
                   "evt.arg.target", "evt.arg.linkpath"):  # fmt: skip
            paths = files.props["fd.name"]
            if key == "evt.arg.path":
                return col(*self._gather(paths, spec, self.ev_path, self.cat_mask("path")))
            if key == "evt.arg.name":
                # open/openat exits name the opened path; unlinkat names its target.
                idx = np.where(self.cat_mask("open"), self.ev_file,
                               np.where(self.cat_mask("unlinkat"), self.ev_path, -1))  # fmt: skip
                return col(*self._gather(paths, spec, idx))
            want = "rename" if key in ("evt.arg.oldpath", "evt.arg.newpath") else "link"
            if key in ("evt.arg.newpath", "evt.arg.linkpath"):
                # The new name is the old one with a suffix (one string per pool file).
                suffix = ".new" if want == "rename" else ".lnk"
                paths = [v + suffix for v in paths]
            return col(*self._gather(paths, spec, self.ev_path, self.cat_mask(want)))

        # -- process, user, container fields
        if key in procs.props:
            return col(*self._gather(procs.props[key], spec, self.ev_proc))
        if key == "proc.aname":
            vals, offs, pres = self._gather_multi(procs.multi["proc.aname"], spec, self.ev_proc)
            return col(vals, pres, offs)
        if key.startswith("proc.aname[") and key.endswith("]"):
            k = int(key[len("proc.aname["):-1])
            if k == 0:
                vals = procs.props["proc.name"]
            else:
                vals = [c[k - 1] if len(c) >= k else None for c in procs.multi["proc.aname"]]
            return col(*self._gather(vals, spec, self.ev_proc))
        if key == "proc.exepath":
            return col(*self._gather(procs.props["proc.exe"], spec, self.ev_proc))

        # -- fd fields: from the file or the socket a call uses
        if key in ("fd.name", "fd.typechar", "fd.type"):
            fv, fp = self._gather(files.props[key], spec, self.ev_file)
            sv, sp = self._gather(socks.props[key], spec, self.ev_sock)
            return col(np.where(fp, fv, sv), fp | sp)
        if key in ("fd.directory", "fd.filename"):
            return col(*self._gather(files.props[key], spec, self.ev_file))
        alias = {"fd.rip": "fd.sip", "fd.lip": "fd.cip", "fd.rport": "fd.sport",
                 "fd.lport": "fd.cport", "fd.rip.name": "fd.sip.name",
                 "fd.lip.name": "fd.cip.name", "fd.rnet": "fd.snet", "fd.lnet": "fd.cnet",
                 "fd.rproto": "fd.sproto", "fd.lproto": "fd.cproto"}  # fmt: skip
        src = alias.get(key, key)
        if src in socks.props:
            # Outbound-heavy workload: the local end is the client, the remote the server.
            return col(*self._gather(socks.props[src], spec, self.ev_sock))
        if key in socks.multi:
            vals, offs, pres = self._gather_multi(socks.multi[key], spec, self.ev_sock)
            # Unix sockets have no IP endpoints: absent rather than an empty list.
            return col(vals, pres & (offs[1:] > offs[:-1]), offs)
        if key == "fd.connected":
            return col(*self._gather([True] * socks.size, spec, self.ev_sock))
        if key == "fd.name_changed":
            return col(*self._gather([False] * files.size, spec, self.ev_file))
        return None

    def _numbers(self, spec: _Spec, vals: np.ndarray,
                 mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """An integer per event as the column stores it (text only if the type says so)."""
        if spec.kind == "num":
            return np.where(mask, vals, 0).astype(np.int64), mask.copy()
        uniq, inv = np.unique(vals, return_inverse=True)
        ids = np.array([self.heap.intern(str(int(u))) for u in uniq], dtype=np.int32)
        return np.where(mask, ids[inv.reshape(-1)], -1).astype(np.int32), mask.copy()


# --------------------------------------------------------------------------- rule breakers


@dataclass
class GenerationReport:
    """What ``generate`` did, also saved in ``table.meta["generator"]``."""

    events: int
    seed: int
    break_share: float
    breaking: int = 0
    rules_with_templates: list[str] = field(default_factory=list)
    rules_without: dict[str, str] = field(default_factory=dict)  # name -> reason
    columns_absent: list[str] = field(default_factory=list)  # keys with no model at all
    unknown_fields: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def never_match(self) -> dict[str, str]:
        """Rules no event can break (a false or contradictory condition), with why."""
        return {k: v for k, v in self.rules_without.items() if _unbreakable.is_never_match(v)}

    def to_dict(self) -> dict:
        return {
            "events": self.events, "seed": self.seed, "break_share": self.break_share,
            "breaking": self.breaking, "rules_with_templates": self.rules_with_templates,
            "rules_without": self.rules_without, "never_match": self.never_match,
            "columns_absent": self.columns_absent,
            "unknown_fields": self.unknown_fields, "seconds": round(self.seconds, 3),
        }  # fmt: skip


def _needed_specs(rules, extra: Sequence[str] = ()) -> tuple[dict[str, _Spec], list[str]]:
    """Column specs for every field the enabled rules read (and ``extra``); names that
    do not resolve."""
    specs: dict[str, _Spec] = {}
    unknown: set[str] = set()
    wanted = [Field("evt.num"), Field("evt.type"), *(Field(x) for x in extra)]
    for rule in rules.enabled_rules():
        wanted.extend(sorted(fields_of(rule.condition), key=lambda f: (f.name, f.arg or "")))
    for f in wanted:
        try:
            rf = resolve(f)
        except RuleoptError:
            unknown.add(f.name if f.arg is None else f"{f.name}[{f.arg}]")
            continue
        if rf.key not in specs:
            specs[rf.key] = _Spec(rf.key, rf.info.type, storage_kind(rf.info), is_multi(rf))
    return specs, sorted(unknown)


def _spec_resolver(specs: Mapping[str, _Spec]) -> Callable[[Field], _solver.FieldSpec | None]:
    cache: dict[Field, _solver.FieldSpec | None] = {}

    def spec_of(f: Field) -> _solver.FieldSpec | None:
        if f not in cache:
            try:
                key = resolve(f).key
            except RuleoptError:
                cache[f] = None
                return None
            s = specs.get(key)
            # evt.num numbers the rows; a template cannot choose it.
            cache[f] = None if s is None else _solver.FieldSpec(
                s.key, s.type, s.kind, s.multi, settable=key != "evt.num")
        return cache[f]

    return spec_of


def _samples(columns: Mapping[str, Column], heap: StringHeap, limit: int = 40,
             rows: int = 20_000) -> dict[str, list]:  # fmt: skip
    """Realistic values per key, from the background, for the solver to try first."""
    out: dict[str, list] = {}
    for key, c in columns.items():
        if c.offsets is None:
            vals = c.values[:rows][c.present[:rows]]
        else:
            vals = c.values[: int(c.offsets[min(rows, len(c.offsets) - 1)])]
        uniq = np.unique(vals)[:limit]
        if c.kind == "str":
            out[key] = [heap.get(int(v)) for v in uniq]
        elif c.type == "bool":
            out[key] = [bool(v) for v in uniq]
        else:
            out[key] = [int(v) for v in uniq]
    return out


# Filler ancestors when a template fixes only some of proc.aname[k] (parent first).
_FILLER_CHAIN = ("bash", "sshd", "sshd", "systemd", "init", "init", "init", "init")


_DOCKER_ID = re.compile(r"[0-9a-f]{12}")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
_SOCKET_NAME = re.compile(r"(\d+\.\d+\.\d+\.\d+):(\d+)->(\d+\.\d+\.\d+\.\d+):(\d+)")
_SOCKET_KEYS = ("fd.sip", "fd.cip", "fd.sport", "fd.cport", "fd.ip", "fd.port", "fd.l4proto",
                "fd.snet", "fd.cnet", "fd.net")


def _carrying_dir(syscall: str, args: dict[str, object]) -> str | None:
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


def _completer(keys: set[str], capture: bool = False) -> Callable[[dict], list[dict]]:
    """Variants of a template whose related fields agree, as the background's do.

    The solver picks each field's value on its own, so ``fd.name`` and ``fd.directory``
    (or ``proc.pname`` and ``proc.aname[1]``) may disagree in a raw template. Each variant
    lets one side win and rewrites the other; the solver keeps the first variant the
    reference evaluator accepts, and the raw template only if none is.
    """

    def fd_variant(t: dict, name_wins: bool) -> None:
        name, d, fname = t.get("fd.name"), t.get("fd.directory"), t.get("fd.filename")
        if isinstance(name, str) and name.startswith("/") and (name_wins or not isinstance(d, str)):
            for k, v in (("fd.directory", posixpath.dirname(name)),
                         ("fd.filename", posixpath.basename(name))):  # fmt: skip
                if k in keys:
                    t[k] = v
        elif isinstance(d, str) or isinstance(fname, str):
            d = d if isinstance(d, str) else "/tmp"
            if not isinstance(fname, str):
                fname = posixpath.basename(name) if isinstance(name, str) else ""
                fname = fname or f"{_solver.SYNTH}.tmp"
            for k, v in (("fd.name", posixpath.join(d, fname)), ("fd.directory", d),
                         ("fd.filename", fname)):  # fmt: skip
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
                idx = int(k[len("proc.aname["):-1])
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
        if isinstance(flags, str) and t.get("evt.is_open_write") is True and not (
                "O_WRONLY" in flags or "O_RDWR" in flags):
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
            d = _carrying_dir(t["evt.type"], {k: v for k, v in t.items()
                                              if k.startswith("evt.arg") and v is not None})
            if d is not None:
                t["evt.dir"] = d

    def normal_path(t: dict) -> dict | None:
        # libsinsp normalises an opened path ("/etc/" is read back as "/etc"): a template
        # path ending in "/" is offered first as a file inside that directory, which a
        # capture can carry unchanged.
        # The same holds for a path parameter (``evt.arg.path startswith /bin/``).
        def dir_path(x: object) -> bool:
            return isinstance(x, str) and x.startswith("/") and x.endswith("/") and len(x) > 1

        paths = [k for k, x in t.items() if dir_path(x)
                 and (k == "fd.name" or (k.startswith("evt.arg.") and "[" not in k))]
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
        if not (t.get("fd.type") == "ipv4" or t.get("fd.typechar") == "4"
                or any(isinstance(t.get(k), (str, int, list)) for k in _SOCKET_KEYS)):
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
            sips = list(dict.fromkeys(ips("fd.sip", "fd.ip", "fd.snet", "fd.net")
                                      + ["192.0.2.10"]))[:4]
            cips = list(dict.fromkeys(ips("fd.cip", "fd.cnet") + ["10.0.0.5"]))[:2]
            sport = (ports("fd.sport", "fd.port") or [443])[0]
            cport = (ports("fd.cport") or [40_001])[0]
            tuples = [(c, cport, s_, sport) for s_ in sips for c in cips if c != s_]
        proto = t.get("fd.l4proto") if t.get("fd.l4proto") in ("tcp", "udp") else "tcp"
        out = []
        for cip, cport, sip, sport in tuples:
            v = dict(t)
            derived = {"fd.name": f"{cip}:{cport}->{sip}:{sport}", "fd.typechar": "4",
                       "fd.type": "ipv4", "fd.sockfamily": "ip", "fd.sip": sip, "fd.cip": cip,
                       "fd.sport": sport, "fd.cport": cport, "fd.l4proto": proto,
                       "fd.snet": sip, "fd.cnet": cip, "fd.ip": [cip, sip],
                       "fd.port": [cport, sport], "fd.net": [cip, sip], "fd.directory": None,
                       "fd.filename": None}  # fmt: skip
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
        for base in ([first] if first is not None else []):
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
        if _capture_misses(t):
            args = frozenset(scap_name for k in t if k.startswith("evt.arg.") and "[" not in k
                             and t[k] is not None for scap_name in [k[len("evt.arg."):]])
            for etype in _carrying_types(args):
                v = dict(t, **{"evt.type": etype})
                v.pop("evt.dir", None)
                out += [x for x in complete(v) if x not in out]
        return out + [x for x in complete(t) if x not in out]

    return complete_for_capture if capture else complete


@functools.cache
def _carrying_types(args: frozenset[str]) -> tuple[str, ...]:
    """Syscalls whose libscap 2022 enter or exit event has every parameter in ``args``."""
    if not args:
        return ()
    try:
        out: list[str] = []
        for e in scapfile.event_table():
            names = {n for n, _t in e.params}
            if args <= names and e.name not in out and not e.internal and (
                    scapfile.event_codes(e.name) or (-1, -1))[e.code % 2] == e.code:
                out.append(e.name)
        return tuple(out[:24])
    except (RuleoptError, OSError, AttributeError):
        return ()


def _break_rows(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct rows spread evenly over ``n``: one per stratum, jittered inside it."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    edges = (np.arange(k + 1, dtype=np.float64) * n / k).astype(np.int64)
    width = np.maximum(edges[1:] - edges[:-1], 1)
    jitter = (_rng(seed, "break-rows").random(k) * width).astype(np.int64)
    return np.minimum(edges[:-1] + jitter, n - 1)


def _apply_single(c: Column, rows: np.ndarray, value: object, heap: StringHeap) -> None:
    if value is None:
        c.present[rows] = False
        c.values[rows] = -1 if c.kind == "str" else 0
        return
    stored = _to_storage(value, c.kind)
    c.values[rows] = heap.intern(stored) if c.kind == "str" else stored
    c.present[rows] = True


def _apply_multi(c: Column, overrides: list[tuple[np.ndarray, object]], heap: StringHeap,
                 n: int) -> Column:  # fmt: skip
    """Rebuild a list-valued column with some rows' lists replaced (vectorized)."""
    old_len = np.diff(c.offsets)
    new_len = old_len.copy()
    present = c.present.copy()
    touched = np.zeros(n, dtype=np.bool_)
    encoded: list[tuple[np.ndarray, np.ndarray]] = []
    for rows, value in overrides:
        items = [] if value is None else [_to_storage(v, c.kind) for v in value]
        arr = np.array([heap.intern(x) for x in items] if c.kind == "str" else items,
                       dtype=c.values.dtype)  # fmt: skip
        new_len[rows] = len(arr)
        present[rows] = value is not None
        touched[rows] = True
        encoded.append((rows, arr))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(new_len, out=offsets[1:])
    values = np.empty(int(offsets[-1]), dtype=c.values.dtype)
    # Untouched rows keep their elements, shifted to their new offsets.
    keep_ev = np.repeat(~touched, old_len)
    ev_of = np.repeat(np.arange(n, dtype=np.int64), old_len)[keep_ev]
    starts = np.repeat(c.offsets[:-1], old_len)
    within = (np.arange(len(c.values), dtype=np.int64) - starts)[keep_ev]
    values[offsets[ev_of] + within] = c.values[keep_ev]
    for rows, arr in encoded:
        for j, x in enumerate(arr):
            values[offsets[rows] + j] = x
    return Column(c.key, c.type, c.kind, values, present, offsets)


def _empty_column(spec: _Spec, n: int) -> Column:
    dtype = np.int32 if spec.kind == "str" else np.int64
    fill = -1 if spec.kind == "str" else 0
    present = np.zeros(n, dtype=np.bool_)
    if spec.multi:
        return Column(spec.key, spec.type, spec.kind, np.zeros(0, dtype=dtype), present,
                      np.zeros(n + 1, dtype=np.int64))  # fmt: skip
    return Column(spec.key, spec.type, spec.kind, np.full(n, fill, dtype=dtype), present)


def rule_templates(rules, *, seed: int = 0, count: int = TEMPLATES_PER_RULE,
                   samples: Mapping[str, Sequence] | None = None, n: int = DEFAULT_EVENTS,
                   capture: bool = False,
                   ) -> tuple[dict[int, list[dict]], dict[str, str]]:  # fmt: skip
    """Verified templates per enabled rule id, and the reason for each rule without any.

    ``n`` is the table size: evt.num runs from 1 to n and templates cannot set it, so a
    literal on it is accepted only if it holds on every row (``evt.num >= 0``).
    """
    specs, _unknown = _needed_specs(rules, CAPTURE_FIELDS if capture else ())
    spec_of = _spec_resolver(specs)
    complete = _completer(set(specs), capture)
    out: dict[int, list[dict]] = {}
    missing: dict[str, str] = {}
    samples = {**(samples or {}), "evt.num": [1, max(1, n)]}
    check = None
    for rule in rules.enabled_rules():
        try:
            # For a capture, more candidates to rank by what libscap's events carry.
            res = _solver.build_templates(rule.condition, spec_of, evaluate, samples=samples,
                                          count=count * 2 if capture else count, seed=seed,
                                          complete=complete, base={"evt.num": 1})  # fmt: skip
        except (ValueError, TypeError, IndexError, OverflowError, RuleoptError) as exc:
            # The solver is best effort: a condition shape it cannot handle (val() on odd
            # types, constants past a field's range) costs that rule its breaking events,
            # reported, never the whole workload.
            missing[rule.name] = f"the solver cannot handle this condition ({exc})"
            continue
        kept = [t for t in res.templates if _storable(t)]
        if capture:
            # The templates a capture carries as they are first (rules take turns over
            # the breaking rows, so the first template is the one a rule surely gets).
            kept = sorted(kept, key=_capture_misses)[:count]
        if kept:
            out[rule.id] = kept
        elif (res.reason or "").startswith(("no satisfying", "condition is always")):
            # No event can break it: say which part of the condition rules it out.
            if check is None:
                check = _unbreakable.solver_check(spec_of, evaluate, samples, {"evt.num": 1})
            missing[rule.name] = _unbreakable.explain(
                rule.condition, check, getattr(rules, "macros", {}), rule.condition_text)
        else:
            missing[rule.name] = res.reason or "no template with values the fields can hold"
    return out, missing


def _capture_misses(t: dict) -> int:
    """How many of a template's ``evt.arg`` values its call's half cannot carry in a
    libscap 2022 capture (``evt.arg.path`` on a rename, which has oldpath/newpath)."""
    etype, args = t.get("evt.type"), {k: v for k, v in t.items()
                                      if k.startswith("evt.arg") and v is not None}
    if not args or not isinstance(etype, str):
        return 0
    try:
        codes = scapfile.event_codes(etype)
        if codes is None:
            return len(args)
        code = codes[0] if t.get("evt.dir") == ">" else codes[1]
        # The parameter must exist; how libsinsp prints it (flag order) is the writer's
        # to report, and rules mostly test it with contains/startswith.
        return sum(scap_args.param_name(code, k) is None
                   or scap_args.param(code, scap_args.param_name(code, k) or "") is None
                   for k in args)
    except (RuleoptError, OSError, AttributeError):
        return 0


def _storable(template: dict) -> bool:
    """Can every value of ``template`` be stored in its column (type and range)?"""
    for key, value in template.items():
        if value is None or isinstance(value, list):
            continue
        try:
            coerce_value(key, resolve(key).info.type, value)
        except (RuleoptError, ValueError):
            return False
    return True


def generate(
    rules,
    n: int,
    seed: int = DEFAULT_SEED,
    break_share: float = DEFAULT_BREAK_SHARE,
    mix: Mapping[str, float] | None = None,
    *,
    progress: bool = False,
    report: GenerationReport | None = None,
    capture: bool = False,
) -> EventTable:
    """A seeded synthetic workload of ``n`` events for ``rules`` (a loaded RuleSet).

    Same arguments, same arrays. ``break_share`` of the rows (rounded) are stamped with
    a verified template of an enabled rule, rules taking turns; ``table.meta`` records the
    rows (``breaking.rows``, 0-based) and the rule ids (``breaking.rule_ids``), and the
    rules no template could be built for (``generator.rules_without``). ``mix`` replaces
    the event-type weights (``{"openat": 5, "read": 20}``).
    """
    t0 = time.perf_counter()
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise RuleoptError(f"the number of events must be a positive integer, got {n!r}",
                           hint="e.g. -n 200000")  # fmt: skip
    if not 0.0 <= float(break_share) <= 1.0:
        raise RuleoptError(f"the breaking share must be between 0 and 1, got {break_share}",
                           hint="e.g. --break-share 0.01 for 1% of events")  # fmt: skip
    n = int(n)
    rep = report if report is not None else GenerationReport(n, seed, float(break_share))
    rep.events, rep.seed, rep.break_share = n, seed, float(break_share)
    specs, rep.unknown_fields = _needed_specs(rules, CAPTURE_FIELDS if capture else ())
    heap = StringHeap()
    world = _Columns(n, seed, mix, heap)

    with _progress(progress) as bar:
        task = bar.add_task("generating columns", total=len(specs) + 2)
        columns: dict[str, Column] = {}
        for key, spec in specs.items():
            c = world.produce(spec)
            if c is not None:
                columns[key] = c
            bar.advance(task)
        del world
        bar.update(task, description="building rule templates")
        templates, rep.rules_without = rule_templates(
            rules, seed=seed, samples=_samples(columns, heap), n=n, capture=capture
        )
        bar.advance(task)
        bar.update(task, description="stamping breaking events")
        by_id = {r.id: r for r in rules.enabled_rules()}
        rep.rules_with_templates = [by_id[i].name for i in sorted(templates)]
        # A capture needs some state set up before breaking events (see _setup_rows).
        setup: list[int] | None = [] if capture else None
        rows, rule_of = _stamp(columns, specs, templates, n, seed, break_share, heap, setup)
        rep.breaking = len(rows)
        bar.advance(task)

    absent = [k for k in specs if k not in columns]
    rep.columns_absent = absent
    rep.seconds = time.perf_counter() - t0
    ordered = [columns["evt.num"], columns["evt.type"]] + [
        c for k, c in columns.items() if k not in ("evt.num", "evt.type")
    ]
    meta = {
        "source": "ruleopt generate",
        "generator": rep.to_dict(),
        "absent_fields": absent,
        # setup_rows: background rows turned into the state a breaking row needs (a
        # container-info event, the enter of its call) in a capture.
        "breaking": {"rows": rows.tolist(), "rule_ids": rule_of.tolist(),
                     "setup_rows": setup or []},
    }
    return EventTable.from_columns(ordered, heap, meta)


def _stamp(columns: dict[str, Column], specs: Mapping[str, _Spec],
           templates: Mapping[int, list[dict]], n: int, seed: int, share: float,
           heap: StringHeap, setup_rows: list[int] | None = None,
           ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Overwrite the breaking rows with templates; returns (rows, rule id per row).
    With ``setup_rows`` (a capture), the rows stamped to set up the state a breaking row
    needs are stamped too and appended to it."""
    k = int(round(n * share)) if templates else 0
    rows = _break_rows(n, k, seed)
    ids = np.array(sorted(templates), dtype=np.int64)
    if k == 0:
        return rows, np.zeros(0, dtype=np.int64)
    # Rules take turns in a seeded order, so every rule with a template breaks about
    # k / len(rules) times, and each rule cycles through its templates.
    order = _rng(seed, "break-rules").permutation(len(ids))
    turn = np.arange(k, dtype=np.int64)
    rule_of = ids[order[turn % len(ids)]]
    tmpl_of = (turn // len(ids)).astype(np.int64)
    multi_over: dict[str, list[tuple[np.ndarray, object]]] = {}
    for rid in ids.tolist():
        tl = templates[rid]
        sel = rule_of == rid
        for t_i, tmpl in enumerate(tl):
            r = rows[sel & (tmpl_of % len(tl) == t_i)]
            if not len(r):
                continue
            for key, value in tmpl.items():
                if key not in columns:
                    columns[key] = _empty_column(specs[key], n)
                c = columns[key]
                if c.offsets is not None:
                    multi_over.setdefault(key, []).append((r, value))
                else:
                    _apply_single(c, r, value, heap)
    # State a capture needs before some breaking events (see _setup_rows), stamped
    # over the background rows just before them.
    taken = set(rows.tolist())
    pending = zip(rows.tolist(), rule_of.tolist(), tmpl_of.tolist(), strict=True)
    for r, t_rule, t_i in pending if setup_rows is not None else ():
        tl = templates[t_rule]
        setup = _setup_rows(tl[t_i % len(tl)], set(specs))
        first = r - len(setup)
        if not setup or first < 1 or any(x in taken for x in range(first, r)):
            continue
        for j, values in enumerate(setup):
            row = np.array([first + j], dtype=np.int64)
            taken.add(first + j)
            if values.pop(_COPY, False):
                # The enter of the breaking call: the same process and fd as its exit.
                for key, c in columns.items():
                    if key == "evt.num":
                        continue  # numbers the rows
                    if c.offsets is None and key not in values:
                        c.values[row] = c.values[r]
                        c.present[row] = c.present[r]
                    elif c.offsets is not None and key not in values:
                        multi_over.setdefault(key, []).append((row, _multi_at(c, r, heap)))
            for key, value in values.items():
                if key not in columns:
                    columns[key] = _empty_column(specs[key], n)
                if columns[key].offsets is not None:
                    multi_over.setdefault(key, []).append((row, value))
                else:
                    _apply_single(columns[key], row, value, heap)
    for key, over in multi_over.items():
        columns[key] = _apply_multi(columns[key], over, heap, n)
    if setup_rows is not None:
        setup_rows.extend(sorted(taken - set(rows.tolist())))
    return rows, rule_of


_CONTAINER_INFO = ("container.image.repository", "container.privileged")
_COPY = "\0copy"  # a setup row that starts as a copy of the breaking row


def _multi_at(c: Column, row: int, heap: StringHeap) -> list | None:
    """Row ``row``'s list in a multi-valued column (None if absent)."""
    if not c.present[row]:
        return None
    assert c.offsets is not None
    vals = c.values[int(c.offsets[row]): int(c.offsets[row + 1])]
    return [heap.get(int(v)) for v in vals] if c.kind == "str" else [int(v) for v in vals]


def _setup_rows(tmpl: dict, keys: set[str]) -> list[dict]:
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
    mounts = {k: v for k, v in tmpl.items()
              if k.startswith("container.mount.dest[") and isinstance(v, str)}
    if (isinstance(cid, str) and cid != "host" and tmpl.get("evt.type") != "container"
            and (isinstance(tmpl.get("container.image.repository"), str)
                 or tmpl.get("container.privileged") is True or mounts)):
        info = {"evt.type": "container", "evt.dir": ">", "container.id": cid, **mounts,
                **{k: tmpl[k] for k in _CONTAINER_INFO if k in tmpl}}
        out.append({k: v for k, v in info.items() if k in keys})
    if tmpl.get("evt.dir") == "<" and isinstance(tmpl.get("evt.type"), str) and any(
            k.startswith("fd.") and v is not None for k, v in tmpl.items()):
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
                out.append({_COPY: True, **{k: v for k, v in row.items() if k in keys}})
    return out


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, *a, **k) -> int:
        return 0

    def advance(self, *a, **k) -> None:
        return None

    def update(self, *a, **k) -> None:
        return None


def _progress(enabled: bool):
    if not enabled:
        return _NoBar()
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    transient=True)  # fmt: skip


def default_workload(rules) -> EventTable:
    """The bundled default: 200k events, seed 0, 1% breaking (used without an events file)."""
    return generate(rules, DEFAULT_EVENTS, DEFAULT_SEED, DEFAULT_BREAK_SHARE)
