"""What the synthetic workload draws from: syscalls, programs, users, images, files, servers.

Plain data, no code: the pools (``ruleopt.events.pools``) are built from these tables
with the seed, so changing a table changes every workload drawn from it.
"""

from __future__ import annotations

# Syscall -> (weight, category). Weights are rough shares of a busy Linux host; the
# category says which pool (file, socket) the call's fd comes from and which arguments
# it carries.
SYSCALLS: dict[str, tuple[float, str]] = {
    "read": (16.0, "io"),
    "write": (11.0, "io"),
    "close": (9.0, "io"),
    "openat": (9.0, "open"),
    "open": (2.5, "open"),
    "creat": (0.05, "open"),
    "fstat": (4.0, "fileio"),
    "lseek": (1.5, "fileio"),
    "stat": (2.0, "path"),
    "lstat": (0.8, "path"),
    "access": (0.6, "path"),
    "readlink": (0.3, "path"),
    "mmap": (3.0, "none"),
    "munmap": (1.5, "none"),
    "brk": (0.8, "none"),
    "futex": (6.0, "none"),
    "epoll_wait": (4.0, "none"),
    "poll": (1.5, "none"),
    "select": (0.6, "none"),
    "nanosleep": (1.0, "none"),
    "getpid": (0.4, "none"),
    "recvfrom": (4.0, "net"),
    "sendto": (4.0, "net"),
    "recvmsg": (1.5, "net"),
    "sendmsg": (1.5, "net"),
    "connect": (0.8, "net"),
    "accept": (0.3, "net"),
    "accept4": (0.3, "net"),
    "bind": (0.1, "net"),
    "listen": (0.05, "net"),
    "socket": (0.6, "none"),
    "dup2": (0.2, "io"),
    "dup": (0.1, "io"),
    "execve": (0.5, "exec"),
    "clone": (0.6, "clone"),
    "fork": (0.05, "clone"),
    "vfork": (0.05, "clone"),
    "procexit": (0.5, "none"),
    "setuid": (0.05, "setuid"),
    "setgid": (0.05, "none"),
    "setns": (0.01, "none"),
    "unlink": (0.15, "path"),
    "unlinkat": (0.2, "unlinkat"),
    "rename": (0.08, "rename"),
    "renameat": (0.05, "rename"),
    "mkdir": (0.08, "path"),
    "mkdirat": (0.04, "path"),
    "rmdir": (0.04, "path"),
    "chmod": (0.04, "chmod"),
    "fchmod": (0.02, "chmod"),
    "fchmodat": (0.03, "chmod"),
    "symlink": (0.02, "link"),
    "symlinkat": (0.01, "link"),
    "link": (0.01, "link"),
    "linkat": (0.01, "link"),
    "ptrace": (0.002, "none"),
    "mount": (0.002, "none"),
    "chdir": (0.1, "path"),
    "prctl": (0.05, "none"),
}

# Program archetypes: name -> (weight, exe, argument variants, ancestor chains (parent
# first), user, container images it runs in (empty: host only)).
SHELL_CHAINS = (
    ("bash", "sshd", "sshd", "systemd"),
    ("bash", "tmux: server", "systemd"),
    ("sh", "cron", "systemd"),
    ("bash", "sudo", "bash", "sshd", "sshd", "systemd"),
    ("sh", "python3", "bash", "sshd", "sshd", "systemd"),
    ("make", "bash", "sshd", "sshd", "systemd"),
)
# Above every containerised process (parent first).
CONTAINER_CHAIN = ("containerd-shim", "containerd", "systemd")
_CT = CONTAINER_CHAIN  # short, for the table below
ARCHETYPES: dict[str, tuple] = {
    "bash": (
        3,
        "/bin/bash",
        ("", "-l", "-c 'make test'"),
        (
            ("sshd", "sshd", "systemd"),
            ("tmux: server", "systemd"),
            ("sudo", "bash", "sshd", "sshd", "systemd"),
        ),
        "login",
        (),
    ),
    "sshd": (1, "/usr/sbin/sshd", ("-D", "-R"), (("sshd", "systemd"), ("systemd",)), "root", ()),
    "ls": (2, "/bin/ls", ("-la", "/tmp", "--color=auto"), SHELL_CHAINS, "login", ()),
    "cat": (2, "/bin/cat", ("/etc/hosts", "README.md", "/proc/cpuinfo"), SHELL_CHAINS, "login", ()),
    "grep": (
        1.5,
        "/bin/grep",
        ("-r TODO src", "-i error /var/log/syslog"),
        SHELL_CHAINS,
        "login",
        (),
    ),
    "vim": (1, "/usr/bin/vim", ("main.c", "notes.txt"), SHELL_CHAINS[:2], "login", ()),
    "git": (
        1.5,
        "/usr/bin/git",
        ("status", "pull --rebase", "log -n 5"),
        SHELL_CHAINS,
        "login",
        (),
    ),
    "python3": (
        3,
        "/usr/bin/python3",
        ("app.py", "-m pytest", "manage.py runserver"),
        SHELL_CHAINS,
        "login",
        ("python",),
    ),
    "make": (0.8, "/usr/bin/make", ("all", "test"), SHELL_CHAINS[:2], "login", ()),
    "gcc": (
        0.8,
        "/usr/bin/gcc",
        ("-O2 -c main.c", "-o app main.o"),
        (("make",) + SHELL_CHAINS[0],),
        "login",
        (),
    ),
    "curl": (
        0.6,
        "/usr/bin/curl",
        ("-s https://example.com", "-fsSL http://10.0.0.5/health"),
        SHELL_CHAINS,
        "login",
        (),
    ),
    "ps": (0.5, "/bin/ps", ("aux", "-ef"), SHELL_CHAINS, "login", ()),
    "tar": (0.3, "/bin/tar", ("czf backup.tgz data", "xzf pkg.tgz"), SHELL_CHAINS, "login", ()),
    "cron": (0.3, "/usr/sbin/cron", ("-f",), (("systemd",),), "root", ()),
    "systemd-journald": (2, "/lib/systemd/systemd-journald", ("",), (("systemd",),), "root", ()),
    "systemd-logind": (0.5, "/lib/systemd/systemd-logind", ("",), (("systemd",),), "root", ()),
    "rsyslogd": (1.5, "/usr/sbin/rsyslogd", ("-n -iNONE",), (("systemd",),), "syslog", ()),
    "dbus-daemon": (
        0.5,
        "/usr/bin/dbus-daemon",
        ("--system --nofork",),
        (("systemd",),),
        "messagebus",
        (),
    ),
    "chronyd": (0.3, "/usr/sbin/chronyd", ("-F 1",), (("systemd",),), "_chrony", ()),
    "dockerd": (
        2,
        "/usr/bin/dockerd",
        ("-H fd:// --containerd=/run/containerd/containerd.sock",),
        (("systemd",),),
        "root",
        (),
    ),
    "containerd": (2, "/usr/bin/containerd", ("",), (("systemd",),), "root", ()),
    "containerd-shim": (
        1,
        "/usr/bin/containerd-shim-runc-v2",
        ("-namespace moby -id 4f1d",),
        (("containerd", "systemd"),),
        "root",
        (),
    ),
    "runc": (
        0.3,
        "/usr/bin/runc",
        ("init", "--root /run/containerd/runc state"),
        (("containerd-shim",) + _CT[1:],),
        "root",
        (),
    ),
    "kubelet": (
        3,
        "/usr/bin/kubelet",
        ("--config=/var/lib/kubelet/config.yaml",),
        (("systemd",),),
        "root",
        (),
    ),
    "nginx": (
        4,
        "/usr/sbin/nginx",
        ("-g daemon off;", "worker process"),
        (("nginx",) + _CT, _CT),
        "www-data",
        ("nginx",),
    ),
    "node": (
        4,
        "/usr/local/bin/node",
        ("server.js", "dist/main.js"),
        (_CT, ("npm",) + _CT),
        "node",
        ("node", "frontend"),
    ),
    "java": (
        4,
        "/usr/bin/java",
        ("-Xmx2g -jar app.jar", "-cp /opt/app/lib/* Main"),
        (_CT,),
        "root",
        ("java",),
    ),
    "postgres": (
        3,
        "/usr/lib/postgresql/13/bin/postgres",
        ("-D /var/lib/postgresql/data",),
        (("postgres",) + _CT, _CT),
        "postgres",
        ("postgres",),
    ),
    "redis-server": (2, "/usr/local/bin/redis-server", ("*:6379",), (_CT,), "redis", ("redis",)),
    "sh": (
        1,
        "/bin/sh",
        ("-c /docker-entrypoint.sh", "-c 'sleep 5'"),
        (("node",) + _CT, ("java",) + _CT, ("cron", "systemd")),
        "root",
        ("node", "java"),
    ),
    "apt-get": (
        0.1,
        "/usr/bin/apt-get",
        ("update", "install -y jq"),
        SHELL_CHAINS[3:4],
        "root",
        (),
    ),
    "snapd": (0.3, "/usr/lib/snapd/snapd", ("",), (("systemd",),), "root", ()),
    "node_exporter": (
        1,
        "/bin/node_exporter",
        ("--path.procfs=/host/proc",),
        (_CT,),
        "nobody",
        ("prometheus",),
    ),
}

# Command lines of processes that only appear as ancestors.
ANCESTOR_ARGS: dict[str, str] = {
    "systemd": "--system --deserialize 34",
    "sshd": "-D",
    "bash": "",
    "sh": "-c make",
    "tmux: server": "",
    "cron": "-f",
    "sudo": "-i",
    "python3": "tools/run.py",
    "make": "test",
    "containerd-shim": "-namespace moby -id 4f1d",
    "containerd": "",
    "nginx": "-g daemon off;",
    "npm": "start",
    "node": "server.js",
    "java": "-jar app.jar",
    "postgres": "-D /var/lib/postgresql/data",
}

# user name -> (uid, loginuid); "login" in ARCHETYPES draws an interactive user.
USERS: dict[str, tuple[int, int]] = {
    "root": (0, -1),
    "www-data": (33, -1),
    "syslog": (104, -1),
    "messagebus": (103, -1),
    "_chrony": (111, -1),
    "postgres": (999, -1),
    "redis": (999, -1),
    "node": (1000, -1),
    "nobody": (65534, -1),
    "ubuntu": (1000, 1000),
    "alice": (1001, 1001),
    "bob": (1002, 1002),
}
LOGIN_USERS = ("ubuntu", "alice", "bob", "root")

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
    "/etc": (
        4,
        (
            "passwd",
            "group",
            "hosts",
            "resolv.conf",
            "nsswitch.conf",
            "ld.so.cache",
            "localtime",
            "os-release",
            "host.conf",
            "gai.conf",
            "shadow",
            "sudoers",
            "login.defs",
            "environment",
        ),
        "f",
        False,
    ),
    "/etc/ssl/certs": (1, ("ca-certificates.crt", "ssl-cert-snakeoil.pem"), "f", False),
    "/lib/x86_64-linux-gnu": (
        6,
        (
            "libc.so.6",
            "libpthread.so.0",
            "libdl.so.2",
            "libm.so.6",
            "libz.so.1",
            "libtinfo.so.6",
            "libselinux.so.1",
        ),
        "f",
        False,
    ),
    "/usr/lib/x86_64-linux-gnu": (
        5,
        ("libssl.so.1.1", "libcrypto.so.1.1", "libstdc++.so.6", "libsystemd.so.0", "libgcc_s.so.1"),
        "f",
        False,
    ),
    "/usr/bin": (1, ("python3", "git", "curl", "node", "env"), "f", False),
    "/usr/share/zoneinfo": (0.5, ("UTC", "Etc/UTC"), "f", False),
    "/proc": (
        6,
        (
            "stat",
            "meminfo",
            "cpuinfo",
            "loadavg",
            "uptime",
            "self/status",
            "self/cgroup",
            "self/mountinfo",
            "1/cmdline",
            "412/stat",
        ),
        "f",
        False,
    ),
    "/sys/fs/cgroup/memory": (
        2,
        ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat"),
        "f",
        False,
    ),
    "/dev": (2, ("null", "urandom", "tty", "pts/0"), "c", True),
    "/tmp": (
        3,
        ("tmp7f3k2a", "build.log", "pytest-cache", "sess_a81c", "npm-1234.lock"),
        "f",
        True,
    ),
    "/var/log": (
        3,
        (
            "syslog",
            "auth.log",
            "kern.log",
            "nginx/access.log",
            "nginx/error.log",
            "journal/system.journal",
        ),
        "f",
        True,
    ),
    "/var/lib/postgresql/data": (
        2,
        ("base/16384/2619", "pg_wal/000000010000000000000001", "postmaster.pid"),
        "f",
        True,
    ),
    "/var/lib/docker": (
        1,
        ("containers/4f1d/config.v2.json", "image/overlay2/repositories.json"),
        "f",
        True,
    ),
    "/var/lib/kubelet": (1, ("config.yaml", "pods/3c1e/volumes"), "f", False),
    "/home/ubuntu": (
        2,
        (".bashrc", ".profile", "src/app/main.c", "src/app/README.md", ".cache/pip/selfcheck.json"),
        "f",
        True,
    ),
    "/root": (0.3, (".bashrc", ".bash_history"), "f", True),
    "/run": (1, ("utmp", "systemd/journal/socket", "containerd/containerd.sock.ttrpc"), "f", True),
    "/usr/src/app": (
        2,
        ("server.js", "package.json", "node_modules/express/index.js", "dist/main.js"),
        "f",
        False,
    ),
    "/opt/app": (1, ("app.jar", "lib/guava.jar", "config/application.yml"), "f", False),
}

# Open flags as libsinsp renders them -> (weight, read, write). Write flags are drawn
# only for files in writable directories.
READ_FLAGS: dict[str, tuple[float, bool, bool]] = {
    "O_RDONLY": (3, True, False),
    "O_RDONLY|O_CLOEXEC": (6, True, False),
    "O_RDONLY|O_NONBLOCK|O_CLOEXEC": (1, True, False),
    "O_RDONLY|O_DIRECTORY|O_CLOEXEC": (0.5, True, False),
}
WRITE_FLAGS: dict[str, tuple[float, bool, bool]] = {
    "O_WRONLY|O_CREAT|O_TRUNC": (3, False, True),
    "O_WRONLY|O_APPEND|O_CREAT": (3, False, True),
    "O_RDWR": (1, True, True),
    "O_RDWR|O_CREAT|O_CLOEXEC": (1, True, True),
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
CLIENTS = ("10.0.3.14", "10.0.3.15", "172.17.0.2", "172.17.0.4", "127.0.0.1", "192.168.1.23")

ERRORS = ("ENOENT", "EACCES", "EAGAIN", "EINPROGRESS")
MODES = ("0644", "0755", "0600", "S_IRUSR|S_IWUSR", "S_IRWXU|S_IRGRP|S_IXGRP")


# Syscall categories as small integer codes (per-event arrays stay one byte wide).
CATEGORIES: tuple[str, ...] = (
    "none",
    "io",
    "open",
    "fileio",
    "path",
    "net",
    "exec",
    "clone",
    "setuid",
    "unlinkat",
    "rename",
    "chmod",
    "link",
)
CATEGORY: dict[str, int] = {c: i for i, c in enumerate(CATEGORIES)}
# Programs that use no IP sockets in this workload.
OFFLINE = frozenset(
    {
        "systemd-journald",
        "systemd-logind",
        "dbus-daemon",
        "cron",
        "ls",
        "cat",
        "grep",
        "vim",
        "make",
        "gcc",
        "ps",
        "tar",
        "runc",
        "sh",
    }
)
