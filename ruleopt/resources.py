"""What this machine can give a run: memory available now, and refusing work that
needs more (before allocating, instead of a ``MemoryError`` after minutes)."""

from __future__ import annotations

from ruleopt.errors import RuleoptError


def available_memory() -> int | None:
    """Bytes the kernel says a new allocation can get (MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gib(n: float) -> str:
    return f"{n / (1 << 30):,.1f} GiB"


def check_memory(need: int, what: str, hint: str) -> None:
    """Refuse ``what`` when it needs more than the memory available now."""
    avail = available_memory()
    if avail is not None and need > avail:
        raise RuleoptError(
            f"{what} needs about {_gib(need)} of memory; {_gib(avail)} is available", hint=hint
        )
