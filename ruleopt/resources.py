"""What this machine can give a run: memory available now, and refusing work that
needs more (before allocating, instead of a ``MemoryError`` after minutes)."""

from __future__ import annotations

import resource

from ruleopt.errors import RuleoptError


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    """What ``ulimit -v`` (RLIMIT_AS) leaves this process, or None when unlimited: an
    allocation past it fails however much memory the machine has free."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return soft


def available_memory() -> int | None:
    """Bytes a new allocation can get: the kernel's MemAvailable, capped by what the
    process's address-space limit leaves; None when neither is known."""
    known = [b for b in (_meminfo_available(), _address_space_left()) if b is not None]
    return min(known) if known else None


def _gib(n: float) -> str:
    return f"{n / (1 << 30):,.1f} GiB"


def check_memory(need: int, what: str, hint: str) -> None:
    """Refuse ``what`` when it needs more than the memory available now."""
    avail = available_memory()
    if avail is not None and need > avail:
        raise RuleoptError(
            f"{what} needs about {_gib(need)} of memory; {_gib(avail)} is available", hint=hint
        )
