"""Run a call on a thread whose stack fits conditions nested thousands of levels deep.

Conditions are trees, and every consumer (printer, evttype resolver, reference
evaluator, compiler, the dataclasses' own ``__hash__``/``__eq__``) walks them
recursively. Python's default limit of 1,000 frames, and the main thread's 8 MiB C
stack, stop near a few thousand levels; the loader bounds nesting at 1,000 levels, but
one level can cost several frames (a macro under ``not`` under a list...), and the
loader's own bound check must run before anything deeper can be refused. A worker thread
with a large stack (reserved address space: only the pages used are ever touched) and a
recursion limit sized to that stack keeps every walk clear of a crash, while anything
deeper still gets Python's ``RecursionError`` (reported by the CLI) rather than a signal.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

# Measured: a level of nesting costs well under 1 KiB of C stack in the deepest walks
# (hash, printer); 2.5 KiB per frame of budget leaves a wide margin.
STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 200_000
# After Ctrl-C or SIGTERM, how long the main thread waits for the worker to unwind (its
# finally blocks remove temporary files and kill child processes) before exiting anyway.
UNWIND_SECONDS = 20.0

# Signals reach only the main thread, while the work runs on the worker: callbacks that
# unblock the worker (kill the child process it waits on), registered with on_cancel().
_cancel_hooks: dict[int, Callable[[], object]] = {}
_hooks_lock = threading.Lock()


@contextlib.contextmanager
def on_cancel(hook: Callable[[], object]) -> Iterator[None]:
    """While the block runs, ``hook()`` is called if the command is interrupted.

    For work that blocks outside Python (waiting on a child process): the exception the
    main thread injects into the worker is only delivered once it runs Python again."""
    key = id(hook)
    with _hooks_lock:
        _cancel_hooks[key] = hook
    try:
        yield
    finally:
        with _hooks_lock:
            _cancel_hooks.pop(key, None)


def _cancel(worker: threading.Thread) -> None:
    """Make the worker unwind: run the cancel hooks, raise KeyboardInterrupt in it."""
    with _hooks_lock:
        hooks = list(_cancel_hooks.values())
    for hook in hooks:
        with contextlib.suppress(Exception):
            hook()
    if worker.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident), ctypes.py_object(KeyboardInterrupt)
        )
    worker.join(UNWIND_SECONDS)


def call_deep(fn: Callable[[], T]) -> T:
    """``fn()`` on a large-stack thread; its result, or its exception re-raised here.

    Falls back to calling ``fn`` directly where a thread of that stack size cannot be
    made (a small ``ulimit -v``). KeyboardInterrupt and SystemExit reach the caller (the
    main thread); the worker is then interrupted too and given UNWIND_SECONDS to run its
    cleanup; it is a daemon, so it never keeps the process alive after that."""
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
    except BaseException:
        # Ctrl-C (KeyboardInterrupt) or SIGTERM (SystemExit from the CLI's handler) landed
        # here: let the worker clean up before this exception ends the process.
        _cancel(worker)
        raise
    finally:
        sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
