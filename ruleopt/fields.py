"""The one field registry: every filter field ruleopt knows, its type, its argument shape.

Everything that reads a field name goes through :func:`resolve`, so the parser, the
reference evaluator, the compiler and the event readers agree on what ``proc.aname[2]``
or ``evt.arg.flags`` *is* and which column of an event holds it.

Types are a small closed set, one per libsinsp behaviour that changes how ``=``, ``<`` or
``in`` compare (see ``ruleopt.engine.values``):

=========  ==========================================  ===================================
type       libsinsp types                              compares as
=========  ==========================================  ===================================
str        CHARBUF, FSPATH, FSRELPATH                  C strings (strcmp, strstr, fnmatch)
int        INT8/16/32/64, PID, FD, ERRNO               signed integer of ``width`` bits
uint       UINT8/16/32/64                              unsigned integer of ``width`` bits
bool       BOOL                                        constants ``true``/``false`` only
port       PORT                                        uint16; constant may be a service name
reltime    RELTIME                                     uint64 nanoseconds
abstime    ABSTIME                                     uint64 nanoseconds since the epoch
ipaddr     IPADDR                                      IPv4/IPv6 address (bytes)
ipnet      IPNET                                       address on the left, CIDR constant
bytebuf    BYTEBUF                                     raw bytes (memcmp, memmem)
double     DOUBLE                                      float (libsinsp 2022 cannot parse)
dynamic    DYNAMIC (evt.rawarg)                        typed per NAME (a type it cannot compare)
=========  ==========================================  ===================================

The table of libsinsp fields below lists names and types as ``sysdig -l -v`` (libs
0.1.1dev+git20220316) prints them; ``tests/test_fields.py`` checks the two still agree.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from functools import cache

from ruleopt import plugin_fields
from ruleopt.errors import RuleoptError
from ruleopt.rules import ast
from ruleopt.rules.sinsp_params import SINSP_2022_PARAM_TYPES

# Closed sets; anything else in the tables below is a bug caught at import.
FIELD_TYPES: frozenset[str] = frozenset(
    {
        "str",
        "int",
        "uint",
        "bool",
        "port",
        "reltime",
        "abstime",
        "ipaddr",
        "ipnet",
        "bytebuf",
        "double",
        "dynamic",
    }
)
# none: no argument. index: ``[N]`` required. index_or_none: ``[N]`` optional.
# key: ``[text]`` required. key_or_none: ``[text]`` optional.
# dotted: ``name.arg`` or ``name[arg]`` (``evt.arg.flags``, ``evt.arg[0]``), required.
ARG_KINDS: frozenset[str] = frozenset(
    {"none", "index", "index_or_none", "key", "key_or_none", "dotted"}
)
# How a multi-valued field compares (only when used without an argument):
#   ancestors: proc.aname/proc.apid -- one value per ancestor, parent first, the process
#              itself excluded; every operator (``!=`` too) is true if ANY value satisfies.
#   endpoints: fd.ip/fd.port/fd.net/fd.proto -- client and server end of a socket;
#              ``!=`` is true only if ALL values differ, every other operator if ANY does.
#   list:      k8s-audit fields yielding many values (ka.req.pod.containers.image);
#              ``in`` is true if ALL values are in the set, ``intersects`` if ANY is,
#              other operators if ANY value satisfies (modern libsinsp list fields).
MULTI_KINDS: frozenset[str] = frozenset({"ancestors", "endpoints", "list"})

# libsinsp type name -> (our type, width in bits; 0 when not an integer)
_SINSP_TYPES: dict[str, tuple[str, int]] = {
    "CHARBUF": ("str", 0),
    "FSPATH": ("str", 0),
    "FSRELPATH": ("str", 0),
    "INT8": ("int", 8),
    "INT16": ("int", 16),
    "INT32": ("int", 32),
    "INT64": ("int", 64),
    "UINT8": ("uint", 8),
    "UINT16": ("uint", 16),
    "UINT32": ("uint", 32),
    "UINT64": ("uint", 64),
    "BOOL": ("bool", 0),
    "PORT": ("port", 16),
    "RELTIME": ("reltime", 64),
    "ABSTIME": ("abstime", 64),
    "IPADDR": ("ipaddr", 0),
    "IPNET": ("ipnet", 0),
    "BYTEBUF": ("bytebuf", 0),
    "DOUBLE": ("double", 0),
    "DYNAMIC": ("dynamic", 0),
}


@dataclass(frozen=True)
class FieldInfo:
    """One filter field.

    ``sinsp_type`` is libsinsp's own type name (``UINT32``...): it fixes the integer width
    that constants are truncated to. ``syscall`` is False for k8s-audit (``ka.*``/
    ``jevt.*``) fields, which only JSON events carry. ``filter_only`` fields cannot be
    printed in outputs (fd.ip, fd.port...).
    """

    name: str
    type: str
    arg_kind: str = "none"
    multi: bool = False
    libsinsp2022: bool = True
    desc: str = ""
    sinsp_type: str = "CHARBUF"
    multi_kind: str = ""
    syscall: bool = True
    filter_only: bool = False
    # Event sources whose events carry the field (Falco validates a rule's fields
    # against its source's extractors).
    sources: tuple[str, ...] = ("syscall",)
    # evt.rawarg.NAME only: the field as written, and the ppm type (``PT_`` dropped)
    # libsinsp reads NAME as.
    raw_name: str = ""
    raw_type: str = ""

    @property
    def width(self) -> int:
        """Bits of an integer field (0 for non-integers)."""
        return _SINSP_TYPES[self.sinsp_type][1]


@dataclass(frozen=True)
class ResolvedField:
    """A field reference bound to the registry.

    ``key`` is the canonical column name of an event: ``proc.name``, ``proc.aname[2]``,
    ``proc.aname`` (the multi-valued ancestor list), ``evt.arg.flags``, ``evt.arg[0]``.
    """

    key: str
    info: FieldInfo
    arg: str | None = None

    @property
    def multi(self) -> bool:
        """True when the event holds a list of values for this key."""
        return self.info.multi and self.arg is None


# Short descriptions per field class, in our words; per-field notes below override.
_CLASS_DESC: dict[str, str] = {
    "evt": "event",
    "proc": "process",
    "thread": "thread",
    "user": "user",
    "group": "group",
    "container": "container",
    "fd": "file descriptor",
    "syslog": "syslog message",
    "fdlist": "poll fd list",
    "k8s": "Kubernetes metadata",
    "mesos": "Mesos metadata",
    "marathon": "Marathon metadata",
    "span": "tracer span",
    "evtin": "events inside span",
    "ka": "k8s audit event",
    "jevt": "JSON event",
    "syscall": "event",
}

_NOTES: dict[str, str] = {
    "proc.aname": "ancestor names; [N] picks one (0 = the process), none = any ancestor",
    "proc.apid": "ancestor pids; [N] picks one (0 = the process), none = any ancestor",
    "evt.arg": "an event argument, rendered as text: evt.arg.NAME or evt.arg[N]",
    "evt.rawarg": "an event argument with its raw type: evt.rawarg.NAME",
    "fd.ip": "either end's IP of a socket (filter only)",
    "fd.port": "either end's port of a socket (filter only)",
    "fd.net": "either end's IP of a socket, compared to a CIDR (filter only)",
    "fd.proto": "either end's protocol (filter only)",
    "container.info": "Falco output placeholder, not a libsinsp field",
}

# name TYPE [arg_kind] [multi=KIND]: libsinsp 2022 fields, as `sysdig -l -v` lists them.
_SINSP_2022_TABLE = """
evt.num UINT64
evt.time CHARBUF
evt.time.s CHARBUF
evt.time.iso8601 CHARBUF
evt.datetime CHARBUF
evt.datetime.s CHARBUF
evt.rawtime ABSTIME
evt.rawtime.s ABSTIME
evt.rawtime.ns ABSTIME
evt.reltime RELTIME
evt.reltime.s RELTIME
evt.reltime.ns RELTIME
evt.pluginname CHARBUF
evt.plugininfo CHARBUF
evt.latency RELTIME
evt.latency.s RELTIME
evt.latency.ns RELTIME
evt.latency.human CHARBUF
evt.deltatime RELTIME
evt.deltatime.s RELTIME
evt.deltatime.ns RELTIME
evt.dir CHARBUF
evt.type CHARBUF
evt.type.is UINT32 dotted
syscall.type CHARBUF
evt.category CHARBUF
evt.cpu INT16
evt.args CHARBUF
evt.arg CHARBUF dotted
evt.rawarg DYNAMIC dotted
evt.info CHARBUF
evt.buffer BYTEBUF
evt.buflen UINT64
evt.res CHARBUF
evt.rawres INT64
evt.failed BOOL
evt.is_io BOOL
evt.is_io_read BOOL
evt.is_io_write BOOL
evt.io_dir CHARBUF
evt.is_wait BOOL
evt.wait_latency RELTIME
evt.is_syslog BOOL
evt.count UINT32
evt.count.error UINT32
evt.count.error.file UINT32
evt.count.error.net UINT32
evt.count.error.memory UINT32
evt.count.error.other UINT32
evt.count.exit UINT32
evt.around UINT64 key
evt.abspath CHARBUF key_or_none
evt.is_open_read BOOL
evt.is_open_write BOOL
evt.is_open_exec BOOL
proc.pid INT64
proc.exe CHARBUF
proc.name CHARBUF
proc.args CHARBUF
proc.env CHARBUF key_or_none
proc.cmdline CHARBUF
proc.exeline CHARBUF
proc.cwd CHARBUF
proc.nthreads UINT32
proc.nchilds UINT32
proc.ppid INT64
proc.pname CHARBUF
proc.pcmdline CHARBUF
proc.apid INT64 index_or_none multi=ancestors
proc.aname CHARBUF index_or_none multi=ancestors
proc.loginshellid INT64
proc.duration RELTIME
proc.fdopencount UINT64
proc.fdlimit INT64
proc.fdusage DOUBLE
proc.vmsize UINT64
proc.vmrss UINT64
proc.vmswap UINT64
thread.pfmajor UINT64
thread.pfminor UINT64
thread.tid INT64
thread.ismain BOOL
thread.exectime RELTIME
thread.totexectime RELTIME
thread.cgroups CHARBUF
thread.cgroup CHARBUF
thread.vtid INT64
proc.vpid INT64
thread.cpu DOUBLE
thread.cpu.user DOUBLE
thread.cpu.system DOUBLE
thread.vmsize UINT64
thread.vmrss UINT64
proc.sid INT64
proc.sname CHARBUF
proc.tty INT32
proc.exepath CHARBUF
proc.vpgid INT64
proc.is_container_healthcheck BOOL
proc.is_container_liveness_probe BOOL
proc.is_container_readiness_probe BOOL
proc.is_exe_writable BOOL
user.uid UINT32
user.name CHARBUF
user.homedir CHARBUF
user.shell CHARBUF
user.loginuid INT32
user.loginname CHARBUF
group.gid UINT64
group.name CHARBUF
container.id CHARBUF
container.name CHARBUF
container.image CHARBUF
container.image.id CHARBUF
container.type CHARBUF
container.privileged BOOL
container.mounts CHARBUF
container.mount CHARBUF key
container.mount.source CHARBUF key
container.mount.dest CHARBUF key
container.mount.mode CHARBUF key
container.mount.rdwr CHARBUF key
container.mount.propagation CHARBUF key
container.image.repository CHARBUF
container.image.tag CHARBUF
container.image.digest CHARBUF
container.healthcheck CHARBUF
container.liveness_probe CHARBUF
container.readiness_probe CHARBUF
fd.num INT64
fd.type CHARBUF
fd.typechar CHARBUF
fd.name CHARBUF
fd.directory CHARBUF
fd.filename CHARBUF
fd.ip IPADDR multi=endpoints
fd.cip IPADDR
fd.sip IPADDR
fd.lip IPADDR
fd.rip IPADDR
fd.port PORT multi=endpoints
fd.cport PORT
fd.sport PORT
fd.lport PORT
fd.rport PORT
fd.l4proto CHARBUF
fd.sockfamily CHARBUF
fd.is_server BOOL
fd.uid CHARBUF
fd.containername CHARBUF
fd.containerdirectory CHARBUF
fd.proto PORT multi=endpoints
fd.cproto CHARBUF
fd.sproto CHARBUF
fd.lproto CHARBUF
fd.rproto CHARBUF
fd.net IPNET multi=endpoints
fd.cnet IPNET
fd.snet IPNET
fd.lnet IPNET
fd.rnet IPNET
fd.connected BOOL
fd.name_changed BOOL
fd.cip.name CHARBUF
fd.sip.name CHARBUF
fd.lip.name CHARBUF
fd.rip.name CHARBUF
fd.dev INT32
fd.dev.major INT32
fd.dev.minor INT32
syslog.facility.str CHARBUF
syslog.facility UINT32
syslog.severity.str CHARBUF
syslog.severity UINT32
syslog.message CHARBUF
fdlist.nums CHARBUF
fdlist.names CHARBUF
fdlist.cips CHARBUF
fdlist.sips CHARBUF
fdlist.cports CHARBUF
fdlist.sports CHARBUF
k8s.pod.name CHARBUF
k8s.pod.id CHARBUF
k8s.pod.label CHARBUF key
k8s.pod.labels CHARBUF
k8s.rc.name CHARBUF
k8s.rc.id CHARBUF
k8s.rc.label CHARBUF key
k8s.rc.labels CHARBUF
k8s.svc.name CHARBUF
k8s.svc.id CHARBUF
k8s.svc.label CHARBUF key
k8s.svc.labels CHARBUF
k8s.ns.name CHARBUF
k8s.ns.id CHARBUF
k8s.ns.label CHARBUF key
k8s.ns.labels CHARBUF
k8s.rs.name CHARBUF
k8s.rs.id CHARBUF
k8s.rs.label CHARBUF key
k8s.rs.labels CHARBUF
k8s.deployment.name CHARBUF
k8s.deployment.id CHARBUF
k8s.deployment.label CHARBUF key
k8s.deployment.labels CHARBUF
mesos.task.name CHARBUF
mesos.task.id CHARBUF
mesos.task.label CHARBUF key
mesos.task.labels CHARBUF
mesos.framework.name CHARBUF
mesos.framework.id CHARBUF
marathon.app.name CHARBUF
marathon.app.id CHARBUF
marathon.app.label CHARBUF key
marathon.app.labels CHARBUF
marathon.group.name CHARBUF
marathon.group.id CHARBUF
span.id INT64
span.time CHARBUF
span.ntags UINT32
span.nargs UINT32
span.tags CHARBUF
span.tag CHARBUF index
span.args CHARBUF
span.arg CHARBUF dotted
span.enterargs CHARBUF
span.enterarg CHARBUF dotted
span.duration RELTIME
span.duration.human CHARBUF
evtin.span.id INT64
evtin.span.ntags UINT32
evtin.span.nargs UINT32
evtin.span.tags CHARBUF
evtin.span.tag CHARBUF index
evtin.span.args CHARBUF
evtin.span.arg CHARBUF dotted
evtin.span.p.id INT64
evtin.span.p.ntags UINT32
evtin.span.p.nargs UINT32
evtin.span.p.tags CHARBUF
evtin.span.p.tag CHARBUF index
evtin.span.p.args CHARBUF
evtin.span.p.arg CHARBUF dotted
evtin.span.s.id INT64
evtin.span.s.ntags UINT32
evtin.span.s.nargs UINT32
evtin.span.s.tags CHARBUF
evtin.span.s.tag CHARBUF index
evtin.span.s.args CHARBUF
evtin.span.s.arg CHARBUF dotted
evtin.span.m.id INT64
evtin.span.m.ntags UINT32
evtin.span.m.nargs UINT32
evtin.span.m.tags CHARBUF
evtin.span.m.tag CHARBUF index
evtin.span.m.args CHARBUF
evtin.span.m.arg CHARBUF dotted
"""

# Fields newer libsinsp has and the 2022 one does not (rulesets use them); modern types.
_MODERN_TABLE = """
fd.nameraw CHARBUF
proc.pexe CHARBUF
proc.pexepath CHARBUF
proc.aexe CHARBUF index_or_none multi=ancestors
proc.aexepath CHARBUF index_or_none multi=ancestors
proc.acmdline CHARBUF index_or_none multi=ancestors
proc.is_exe_from_memfd BOOL
proc.is_exe_upper_layer BOOL
proc.is_sid_leader BOOL
proc.is_vpgid_leader BOOL
proc.exe_ino INT64
proc.exe_ino.ctime ABSTIME
proc.exe_ino.mtime ABSTIME
proc.exe_ino.ctime_duration_proc_start ABSTIME
proc.exe_ino.ctime_duration_pidns_start ABSTIME
proc.cmdnargs UINT64
proc.cmdlenargs UINT64
thread.cap_effective CHARBUF
thread.cap_permitted CHARBUF
thread.cap_inheritable CHARBUF
container.start_ts ABSTIME
container.info CHARBUF
"""

# k8s audit (JSON) fields of Falco's k8s_audit source: not syscall fields, compared as
# text. Fields of a pod's many containers/volumes/rules are lists unless indexed.
_K8S_AUDIT_TABLE = """
jevt.time CHARBUF
jevt.time.iso8601 CHARBUF
jevt.rawtime CHARBUF
jevt.value CHARBUF key
jevt.obj CHARBUF
ka.auditid CHARBUF
ka.stage CHARBUF
ka.auth.decision CHARBUF
ka.auth.reason CHARBUF
ka.user.name CHARBUF
ka.user.groups CHARBUF index_or_none multi=list
ka.impuser.name CHARBUF
ka.verb CHARBUF
ka.uri CHARBUF
ka.uri.param CHARBUF key
ka.target.name CHARBUF
ka.target.namespace CHARBUF
ka.target.resource CHARBUF
ka.target.subresource CHARBUF
ka.req.binding.subjects CHARBUF
ka.req.binding.role CHARBUF
ka.req.binding.subject.has_name CHARBUF key
ka.req.configmap.name CHARBUF
ka.req.configmap.obj CHARBUF
ka.req.container.image CHARBUF
ka.req.container.image.repository CHARBUF
ka.req.container.host_network CHARBUF
ka.req.container.privileged CHARBUF
ka.req.pod.containers.image CHARBUF index_or_none multi=list
ka.req.pod.containers.image.repository CHARBUF index_or_none multi=list
ka.req.pod.host_ipc CHARBUF
ka.req.pod.host_network CHARBUF
ka.req.pod.host_pid CHARBUF
ka.req.pod.containers.host_port CHARBUF index_or_none multi=list
ka.req.pod.containers.privileged CHARBUF index_or_none multi=list
ka.req.pod.containers.allow_privilege_escalation CHARBUF index_or_none multi=list
ka.req.pod.containers.read_only_fs CHARBUF index_or_none multi=list
ka.req.pod.run_as_user CHARBUF
ka.req.pod.containers.run_as_user CHARBUF index_or_none multi=list
ka.req.pod.containers.eff_run_as_user CHARBUF index_or_none multi=list
ka.req.pod.run_as_group CHARBUF
ka.req.pod.containers.run_as_group CHARBUF index_or_none multi=list
ka.req.pod.containers.eff_run_as_group CHARBUF index_or_none multi=list
ka.req.pod.containers.proc_mount CHARBUF index_or_none multi=list
ka.req.pod.containers.add_capabilities CHARBUF index_or_none multi=list
ka.req.pod.fs_group CHARBUF
ka.req.pod.supplemental_groups CHARBUF index_or_none multi=list
ka.req.pod.volumes.hostpath CHARBUF index_or_none multi=list
ka.req.pod.volumes.flexvolume_driver CHARBUF index_or_none multi=list
ka.req.pod.volumes.volume_type CHARBUF index_or_none multi=list
ka.req.role.rules CHARBUF
ka.req.role.rules.apiGroups CHARBUF index_or_none multi=list
ka.req.role.rules.nonResourceURLs CHARBUF index_or_none multi=list
ka.req.role.rules.verbs CHARBUF index_or_none multi=list
ka.req.role.rules.resources CHARBUF index_or_none multi=list
ka.req.service.type CHARBUF
ka.req.service.ports CHARBUF index_or_none multi=list
ka.req.volume.hostpath CHARBUF key
ka.resp.name CHARBUF
ka.response.code CHARBUF
ka.response.reason CHARBUF
ka.useragent CHARBUF
"""

# Filter-only fields (libsinsp refuses them in output formats).
_FILTER_ONLY = frozenset({"fd.ip", "fd.port", "fd.net", "fd.proto", "evt.around"})


def _desc(name: str) -> str:
    if name in _NOTES:
        return _NOTES[name]
    return f"{_CLASS_DESC.get(name.split('.', 1)[0], 'field')} field"


def _load(
    table: str, *, libsinsp2022: bool, syscall: bool, sources: tuple[str, ...] = ("syscall",)
) -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for line in table.strip().splitlines():
        parts = line.split()
        name, sinsp_type = parts[0], parts[1]
        arg_kind, multi_kind = "none", ""
        for extra in parts[2:]:
            if extra.startswith("multi="):
                multi_kind = extra[len("multi=") :]
            else:
                arg_kind = extra
        if sinsp_type not in _SINSP_TYPES or arg_kind not in ARG_KINDS:
            raise ValueError(f"bad registry line {line!r}")
        if multi_kind and multi_kind not in MULTI_KINDS:
            raise ValueError(f"bad multi kind in {line!r}")
        out[name] = FieldInfo(
            name=name,
            type=_SINSP_TYPES[sinsp_type][0],
            arg_kind=arg_kind,
            multi=bool(multi_kind),
            libsinsp2022=libsinsp2022,
            desc=_desc(name),
            sinsp_type=sinsp_type,
            multi_kind=multi_kind,
            syscall=syscall,
            filter_only=name in _FILTER_ONLY,
            sources=sources,
        )
    return out


def _build() -> dict[str, FieldInfo]:
    reg = _load(_SINSP_2022_TABLE, libsinsp2022=True, syscall=True)
    for table, kw in (
        (_MODERN_TABLE, {"libsinsp2022": False, "syscall": True}),
        (
            _K8S_AUDIT_TABLE,
            {"libsinsp2022": False, "syscall": False, "sources": (K8S_AUDIT_SOURCE,)},
        ),
    ):
        for name, info in _load(table, **kw).items():
            if name in reg:
                raise ValueError(f"field {name} registered twice")
            reg[name] = info
    plugin_tables = [(src, table) for src, table in plugin_fields.SOURCE_FIELDS.items()]
    plugin_tables += [(src, plugin_fields.JSON_FIELDS) for src in plugin_fields.SOURCE_FIELDS]
    for source, table in plugin_tables:
        for name, info in _load(
            table, libsinsp2022=False, syscall=False, sources=(source,)
        ).items():
            old = reg.get(name)
            if old is None:
                reg[name] = info
            elif old.syscall:
                raise ValueError(f"plugin field {name} is also a syscall field")
            elif source not in old.sources:
                # The same field from another source's plugin (json.*, jevt.*): the first
                # registration's shape, one more source.
                reg[name] = replace(old, sources=old.sources + (source,))
    for name in plugin_fields.GENERIC_EVENT_FIELDS:
        reg[name] = replace(
            reg[name], sources=reg[name].sources + tuple(plugin_fields.SOURCE_FIELDS)
        )
    return reg


K8S_AUDIT_SOURCE = "k8s_audit"
FIELDS: dict[str, FieldInfo] = _build()
# Every event source some registered field belongs to: the sources whose rules ruleopt
# validates field by field.
KNOWN_SOURCES: frozenset[str] = frozenset(s for i in FIELDS.values() for s in i.sources)

# Fields taking ``.arg`` after their name, longest first so ``evtin.span.p.arg`` wins
# over a shorter prefix.
_DOTTED = sorted((n for n, i in FIELDS.items() if i.arg_kind == "dotted"), key=len, reverse=True)
_INDEX_RE = re.compile(r"^-?[0-9]+$")
# Ancestor indexes (proc.aname[N]) past any real process tree; also bounds what the
# generator and the table build for one field.
MAX_INDEX = 1000


def get(name: str) -> FieldInfo | None:
    """The registry entry for a bare field name (no argument), or None."""
    return FIELDS.get(name)


def all_fields() -> list[FieldInfo]:
    return list(FIELDS.values())


def _unknown(name: str) -> RuleoptError:
    close = difflib.get_close_matches(name, list(FIELDS), n=3)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else "see `sysdig -l` or ruleopt.fields.FIELDS for the fields ruleopt knows"
    )
    return RuleoptError(f"unknown field '{name}'", hint=hint)


def _split_name(name: str, arg: str | None) -> tuple[FieldInfo, str | None, bool]:
    """Find the registry entry; returns (info, arg, arg_was_dotted)."""
    info = FIELDS.get(name)
    if info is not None:
        return info, arg, False
    if arg is None:
        for base in _DOTTED:
            if name.startswith(base + ".") and len(name) > len(base) + 1:
                return FIELDS[base], name[len(base) + 1 :], True
    raise _unknown(name)


@cache
def _resolve(name: str, arg: str | None) -> ResolvedField:
    info, arg, dotted = _split_name(name, arg)
    kind = info.arg_kind
    shown = f"{name}[{arg}]" if arg is not None and not dotted else name
    if arg is None:
        if kind in ("index", "key", "dotted"):
            form = "NAME.ARG or NAME[N]" if kind == "dotted" else "NAME[ARG]"
            raise RuleoptError(
                f"field '{name}' needs an argument",
                hint=f"write it as {form.replace('NAME', name)}",
            )
        return ResolvedField(key=name, info=info, arg=None)
    if kind == "none":
        raise RuleoptError(
            f"field '{info.name}' takes no argument, got '{shown}'",
            hint=f"write plain {info.name}",
        )
    if kind in ("index", "index_or_none") and not _INDEX_RE.match(arg):
        raise RuleoptError(
            f"field '{info.name}' needs a numeric index, got '{shown}'",
            hint=f"write e.g. {info.name}[1]",
        )
    if kind in ("index", "index_or_none") and not 0 <= int(arg) <= MAX_INDEX:
        raise RuleoptError(
            f"field '{info.name}' index out of range in '{shown}'",
            hint=f"use an index from 0 to {MAX_INDEX}",
        )
    if dotted:
        key = f"{info.name}.{arg}"
    elif kind == "dotted" and not _INDEX_RE.match(arg):
        # evt.arg[flags] reads the same argument as evt.arg.flags: one column for both.
        key = f"{info.name}.{arg}"
    else:
        key = f"{info.name}[{arg}]"
    if info.name in _EVENT_ARG_FIELDS and (dotted or not _INDEX_RE.match(arg)):
        _check_event_arg(info.name, arg)
    if info.name == "evt.rawarg":
        if not dotted:
            raise RuleoptError(
                f"field 'evt.rawarg' takes an argument name, got '{shown}'",
                hint="write evt.rawarg.NAME (libsinsp: evt.arg fields must be expressed "
                "explicitly), or evt.arg[N] for the N-th argument as text",
            )
        info = _rawarg_info(info, arg)
    return ResolvedField(key=key, info=info, arg=arg)


# The fields that name an event parameter (evt.arg.NAME, evt.rawarg.NAME).
_EVENT_ARG_FIELDS = frozenset({"evt.arg", "evt.rawarg"})

# evt.rawarg.NAME: the ppm types libsinsp 2022 can parse a constant as
# (value_parser.cpp's string_to_rawval) *and* compare (filter.cpp's flt_compare), as our
# libsinsp type names. Every other type of the table is refused up front: the PID, SIGTYPE,
# SYSCALLID, BYTEBUF, UID, GID, FDLIST, SIGSET, DYN... constants are the compile error
# "wrong parameter type N", and a SOCKADDR constant parses but no comparison ever holds.
_RAWARG_TYPES: dict[str, str] = {
    "INT8": "INT8",
    "INT16": "INT16",
    "INT32": "INT32",
    "INT64": "INT64",
    "FD": "INT64",
    "ERRNO": "INT64",
    "UINT8": "UINT8",
    "FLAGS8": "UINT8",
    "UINT16": "UINT16",
    "FLAGS16": "UINT16",
    "UINT32": "UINT32",
    "FLAGS32": "UINT32",
    "MODE": "UINT32",
    "UINT64": "UINT64",
    "RELTIME": "RELTIME",
    "ABSTIME": "ABSTIME",
    "CHARBUF": "CHARBUF",
    "FSPATH": "FSPATH",
    "FSRELPATH": "FSRELPATH",
}


# The argument types libsinsp 2022's formatter can print raw (filter.cpp's
# rawval_to_string); %evt.rawarg.NAME of any other (FD, FLAGS32, MODE, UID, SOCKTUPLE...)
# throws "wrong event type N" on every event that has the argument.
RAWARG_PRINTABLE: frozenset[str] = frozenset(
    "INT8 INT16 INT32 INT64 PID ERRNO L4PROTO UINT8 PORT UINT16 UINT32 UINT64 RELTIME "
    "ABSTIME CHARBUF FSPATH FSRELPATH BYTEBUF SOCKADDR SOCKFAMILY BOOL IPV4ADDR IPV6ADDR "
    "IPADDR DOUBLE".split()
)


def _check_event_arg(field: str, name: str) -> None:
    if name in SINSP_2022_PARAM_TYPES:
        return
    close = difflib.get_close_matches(name, SINSP_2022_PARAM_TYPES, n=3)
    raise RuleoptError(
        f"unknown event argument in '{field}.{name}': no event has a parameter '{name}'",
        hint=(f"did you mean {', '.join(close)}? " if close else "")
        + "the argument names are those of libscap's event table (sysdig -L lists them)",
    )


def _rawarg_info(info: FieldInfo, name: str) -> FieldInfo:
    """evt.rawarg.NAME typed as libsinsp 2022 types it: by NAME's first parameter."""
    raw = SINSP_2022_PARAM_TYPES[name]
    info = replace(info, raw_name=f"{info.name}.{name}", raw_type=raw)
    sinsp_type = _RAWARG_TYPES.get(raw)
    if sinsp_type is None:
        # Kept untyped: values.check_operator refuses every comparison on it, with why.
        return info
    return replace(info, type=_SINSP_TYPES[sinsp_type][0], sinsp_type=sinsp_type)


def resolve(field: ast.Field | str) -> ResolvedField:
    """Bind a field reference to the registry.

    Accepts an AST ``Field`` or text (``"proc.aname[2]"``, ``"evt.arg.flags"``). Raises
    ``RuleoptError`` for unknown names, missing or unexpected arguments.
    """
    if isinstance(field, str):
        m = re.match(r"^([^\[\]]+)(?:\[(.*)\])?$", field)
        if m is None:
            raise _unknown(field)
        return _resolve(m.group(1), m.group(2))
    return _resolve(field.name, field.arg)


def check_source(field: ResolvedField, source: str) -> None:
    """Raise ``RuleoptError`` if events of ``source`` do not carry ``field`` (Falco
    refuses a rule whose fields no extractor of its source provides)."""
    if source in field.info.sources:
        return
    owners = ", ".join(
        f"{s} (the {plugin_fields.PLUGIN_OF_SOURCE[s]} plugin)"
        if s in plugin_fields.PLUGIN_OF_SOURCE
        else s
        for s in field.info.sources
    )
    raise RuleoptError(
        f"field '{field.info.name}' is not a field of source '{source}'",
        hint=f"'{field.info.name}' is a field of {owners}: set the rule's `source:` "
        "to it, or use a field of this source",
    )
