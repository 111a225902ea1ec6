"""Run a call on a thread whose stack fits conditions nested thousands of levels deep.

Conditions are trees, and every consumer (printer, evttype resolver, reference
evaluator, compiler, the dataclasses' own ``__hash__``/``__eq__``) walks them
recursively. Python's default limit of 1,000 frames, and the main thread's 8 MiB C
stack, stop near a few thousand levels of ``and``/``or``; the loader accepts conditions
of up to 200,000 nodes, so a generated rule can be 20,000+ levels deep. A worker thread
with a large stack (reserved address space: only the pages used are ever touched) and a
recursion limit sized to that stack lets such a rule load, while a deeper one still gets
Python's ``RecursionError`` (reported by the CLI) rather than a crash.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Measured: a level of nesting costs well under 1 KiB of C stack in the deepest walks
# (hash, printer); 2.5 KiB per frame of budget leaves a wide margin.
STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 200_000


def call_deep(fn: Callable[[], T]) -> T:
    """``fn()`` on a large-stack thread; its result, or its exception re-raised here.

    Falls back to calling ``fn`` directly where a thread of that stack size cannot be
    made (a small ``ulimit -v``). KeyboardInterrupt reaches the caller, which is the main
    thread; the worker is a daemon, so it does not keep the process alive after that."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    old_limit = sys.getrecursionlimit()
    try:
        old_size = threading.stack_size(STACK_BYTES)
    except (ValueError, RuntimeError):
        return fn()
    try:
        worker = threading.Thread(target=target, name="ruleopt-deep", daemon=True)
        sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
        try:
            worker.start()
        except RuntimeError:
            sys.setrecursionlimit(old_limit)
            return fn()
    finally:
        threading.stack_size(old_size)
    try:
        while worker.is_alive():
            worker.join(0.2)  # a timed join lets Ctrl-C through to this thread
    finally:
        sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
