"""Event type names libsinsp 2022 gives an event code of its own.

``sinsp_filter_check`` fills its "all event types" set once, with every code from 2 to
``PPM_EVENT_MAX - 1`` except old versions and unused slots (``EF_OLD_VERSION``,
``EF_UNUSED``); codes 0 and 1 (``PPME_GENERIC_E/X``, the events of syscalls without a
code of their own, such as ``epoll_pwait``) are left out. Every event-type set the
filter compiler computes is a subset of it, so it decides:

- which ``evt.type`` names narrow a rule (a generic syscall name selects no code);
- when a set is "all" (``not`` keeps "all" as it is);
- which events an indexed rule can ever see (generic events reach only rules whose set
  is empty, which Falco files under every event).

The names below are those of that set as the harness prints them for a catch-all filter
(``evt.num >= 0``) with libs e5c53d64 (2022-03-16); ``tests/test_index.py`` checks the
two still agree.
"""

from __future__ import annotations

SINSP_2022_EVENT_NAMES: frozenset[str] = frozenset(
    """
accept access bind bpf brk chdir chmod chroot clone clone3 close connect container
copy_file_range cpu_hotplug creat drop dup epoll_wait eventfd execve execveat fchdir fchmod
fchmodat fcntl flock fork fstat fstat64 futex getcwd getdents getdents64 getegid geteuid
getgid getpeername getresgid getresuid getrlimit getsockname getsockopt getuid infra
inotify_init ioctl k8s kill link linkat listen llseek lseek lstat lstat64 mesos mkdir
mkdirat mmap mmap2 mount mprotect munmap nanosleep notification open openat openat2
page_fault pipe pluginevent poll ppoll pread preadv prlimit procexit procinfo ptrace pwrite
pwritev quotactl read readv recv recvfrom recvmmsg recvmsg rename renameat renameat2 rmdir
seccomp select semctl semget semop send sendfile sendmmsg sendmsg sendto setgid setns
setpgid setresgid setresuid setrlimit setsid setsockopt setuid shutdown signaldeliver
signalfd socket socketpair splice stat stat64 switch symlink symlinkat sysdigevent tgkill
timerfd_create tkill tracer umount unlink unlinkat unshare userfaultfd vfork write writev
""".split()
)
