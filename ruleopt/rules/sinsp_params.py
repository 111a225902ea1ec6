"""The event parameters libsinsp 2022 knows by name, for ``evt.arg.NAME`` and ``evt.rawarg.NAME``.

libsinsp binds ``NAME`` with ``sinsp_utils::find_longest_matching_evt_param``: it walks
libscap's event table in event-code order and keeps the first parameter whose name is the
longest prefix of ``NAME``. Falco's filter compiler then asks for the whole field name to
be consumed, so ``NAME`` must be exactly a parameter's name: anything else is "unknown
event argument" (or "nonexistent field" for a longer word).

``evt.rawarg.NAME`` takes that *first* parameter's type, once, at compile time: the
constant is parsed as that type (``string_to_rawval``) and every event's ``NAME``
parameter is read as that type, whatever the event declares. So the type is the
name's, not the event's; below is each name with the ppm type of its first occurrence
(``PT_`` dropped). ``plugin ID`` is left out: a field name cannot hold a space.

Facts read from libscap e5c53d64's ``scap_get_event_info_table()``;
``tests/test_fields.py`` checks they still agree with the installed library.
"""

from __future__ import annotations

SINSP_2022_PARAM_TYPES: dict[str, str] = dict(
    item.split(":")
    for item in """
ID:SYSCALLID action:UINT32 addr:SOCKADDR args:BYTEBUF argument:UINT64 backlog:UINT32
cgroups:BYTEBUF clockid:UINT8 cmd:FLAGS8 comm:CHARBUF core:UINT8 cpu:UINT32
cpu_sys:UINT64 cpu_usr:UINT64 cur:INT64 cwd:CHARBUF data:BYTEBUF desc:CHARBUF
description:CHARBUF dev:UINT32 dir:FSPATH dirfd:FD domain:FLAGS32 dpid:PID
dqb_bhardlimit:UINT64 dqb_bsoftlimit:UINT64 dqb_btime:RELTIME dqb_curspace:UINT64
dqb_ihardlimit:UINT64 dqb_isoftlimit:UINT64 dqb_itime:RELTIME dqi_bgrace:RELTIME
dqi_flags:FLAGS8 dqi_igrace:RELTIME egid:GID env:BYTEBUF error:FLAGS32 euid:UID
event_data:UINT64 event_type:UINT32 exe:CHARBUF fd:FD fd1:FD fd2:FD fd_in:FD fd_out:FD
fdin:FD fdlimit:UINT64 fdout:FD fds:FDLIST filename:FSPATH flags:FLAGS32 gid:UINT32
how:FLAGS8 id:UINT32 image:CHARBUF in_fd:FD initval:UINT64 ino:UINT64 interval:RELTIME
ip:UINT64 json:CHARBUF key:INT32 len:UINT64 length:UINT64 level:FLAGS8 linkdirfd:FD
linkpath:FSPATH loginuid:INT32 mask:UINT32 max:INT64 maxevents:ERRNO mode:UINT32
name:FSPATH nativeID:UINT16 newcur:INT64 newdir:FD newdirfd:FD newmax:INT64
newpath:FSPATH next:PID nsems:INT32 nsops:UINT32 nstype:FLAGS32 offin:UINT64
offout:UINT64 offset:UINT64 oldcur:INT64 olddir:FD olddirfd:FD oldmax:INT64
oldpath:FSPATH op:FLAGS16 operation:FLAGS32 optlen:UINT32 optname:FLAGS8 out_fd:FD
path:FSPATH pathname:FSRELPATH peer:UINT64 pgft_maj:UINT64 pgft_min:UINT64 pgid:PID
pgoffset:UINT64 pid:PID pos:UINT64 prot:FLAGS32 proto:UINT32 ptid:PID queuelen:UINT32
queuemax:UINT32 queuepct:UINT8 quota_fmt:FLAGS8 quota_fmt_out:FLAGS8
quotafilepath:CHARBUF ratio:UINT32 request:UINT64 res:ERRNO res_or_fd:DYN
resolve:FLAGS32 resource:FLAGS8 ret:ERRNO rgid:GID ruid:UID scope:CHARBUF
sem_flg_0:FLAGS16 sem_flg_1:FLAGS16 sem_num_0:UINT16 sem_num_1:UINT16 sem_op_0:INT16
sem_op_1:INT16 semflg:FLAGS32 semid:INT32 semnum:INT32 sgid:GID sig:SIGTYPE
sigmask:SIGSET size:UINT32 source:UINT64 special:CHARBUF spid:PID status:ERRNO suid:UID
tags:CHARBUFARRAY target:CHARBUF tid:PID timeout:INT64 tty:INT32 tuple:SOCKTUPLE
type:UINT32 uid:UINT32 val:DYN vm_rss:UINT32 vm_size:UINT32 vm_swap:UINT32 vpid:PID
vtid:PID whence:FLAGS8
""".split()
)
