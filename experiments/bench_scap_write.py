"""How fast generated workloads are written as ``.scap`` captures, and that they are read.

For each size N: the seeded workload is generated (``generate``, timed), written as a
libscap capture (``write_capture``, timed in wall and CPU seconds), and read back with
the real libsinsp 2022 through ``sysdig -r FILE -p"*%evt.num"``: the bench checks that it
prints every event, numbered 1..N. Printed per size: generation and write times, events
per second of the write, bytes per event, the number of threads in the process list, and
the events sysdig read and sysdig's peak resident memory (``/usr/bin/time -v``).

Paths, each on the same table in one run, so the ratios are side by side:

- ``fast``: what ``ruleopt generate -o X.scap`` runs (the writer compiled by Cython,
  ``ruleopt._ext.workload_scap_c``, with its memos);
- ``python`` (``--python``): the same fast path, interpreted (``workload_scap.COMPILED =
  False``);
- ``plain`` (``--plain``): the interpreted writer's plain path (rows by ``event(i)``, the
  parameter-by-parameter encoder, no memo): the definition the tests hold the fast path
  to, byte for byte.

Every path's capture must have the same sha256 (printed; the bench stops if not). The
workload is the one ``generate -o X.scap`` writes (``capture=True``).

    python experiments/bench_scap_write.py                        # 100k and 1M events
    python experiments/bench_scap_write.py --sizes 100000,1000000 --python --plain
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ruleopt.events import scapfile, workload_scap  # noqa: E402
from ruleopt.events.generator import generate  # noqa: E402
from ruleopt.events.table import EventTable  # noqa: E402
from ruleopt.rules.loader import load_rules  # noqa: E402

RULES = (
    Path(__file__).resolve().parents[2] / "shared" / "rulesets" / "falco_rules-falco-0.26.2.yaml"
)


@contextlib.contextmanager
def plain_path() -> Iterator[None]:
    """The writer's plain path: what the fast one must equal byte for byte."""
    saved = (EventTable.events, scapfile.event_block, workload_scap.MEMO, workload_scap.COMPILED)
    EventTable.events = lambda t: (t.event(i) for i in range(t.n))  # type: ignore[method-assign]
    scapfile.event_block = scapfile.event_block_reference
    workload_scap.MEMO = False
    workload_scap.COMPILED = False
    try:
        yield
    finally:
        (
            EventTable.events,  # type: ignore[method-assign]
            scapfile.event_block,
            workload_scap.MEMO,
            workload_scap.COMPILED,
        ) = saved


@contextlib.contextmanager
def python_path() -> Iterator[None]:
    """The fast path, interpreted: what compiling the writer saves."""
    saved = workload_scap.COMPILED
    workload_scap.COMPILED = False
    try:
        yield
    finally:
        workload_scap.COMPILED = saved


def sysdig_count(path: Path) -> tuple[int, bool, float, int]:
    """Events sysdig prints, whether they are numbered 1..N in order, the seconds, and
    sysdig's peak resident memory in KiB (``/usr/bin/time -v``: libsinsp holds the
    capture's whole process list, so this grows with the thread count)."""
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("r") as tv:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", tv.name, "sysdig", "-r", str(path), "-p*%evt.num"],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        count, in_order = 0, True
        for line in proc.stdout:
            count += 1
            if in_order and line.strip() != str(count).encode():
                in_order = False
        if proc.wait() != 0:
            raise SystemExit(f"sysdig failed on {path} (exit {proc.returncode})")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv.read())
    return count, in_order, time.perf_counter() - t0, int(m.group(1)) if m else -1


def run(table, t_gen: float, out: Path, read: bool, label: str) -> str:
    """Write ``table`` to ``out``, print one line of figures, return the capture's digest."""
    n = table.n
    w0, c0 = time.perf_counter(), time.process_time()
    rep = workload_scap.write_capture(table, out)
    t_write, c_write = time.perf_counter() - w0, time.process_time() - c0
    digest = hashlib.sha256(out.read_bytes()).hexdigest()[:16]
    line = (
        f"{label:<6} {n:>9,} {t_gen:>7.2f} {t_write:>8.2f} {c_write:>8.2f} "
        f"{n / c_write:>13,.0f} {rep.bytes / n:>8.1f} {rep.threads:>9,} {digest}"
    )
    if read:
        count, in_order, t_read, rss = sysdig_count(out)
        ok = "all" if count == n and in_order else "MISSING"
        line += f"  sysdig {count:,} ({ok}, {t_read:.1f}s, peak RSS {rss / 1024:,.0f} MiB)"
    print(f"{line}  load {os.getloadavg()[0]:.1f}", flush=True)
    return digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="event counts, comma-separated")
    ap.add_argument("--rules", type=Path, default=RULES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--break-share", type=float, default=0.01)
    ap.add_argument("--plain", action="store_true", help="also the plain path, every size")
    ap.add_argument("--python", action="store_true", help="also the interpreted fast path")
    ap.add_argument("--no-read", action="store_true", help="skip the sysdig read-back")
    ap.add_argument("--keep", type=Path, help="write the captures here (default: a temp dir)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rules = load_rules([args.rules])
    compiled = workload_scap._compiled() is not None
    print(
        f"rules {args.rules.name}, seed {args.seed}, break share {args.break_share}, "
        f"compiled writer {'in use' if compiled else 'MISSING OR STALE (fast = python)'}"
    )
    print("path           N  gen s  write s    cpu s  events/cpu-s  B/event   threads sha256")
    paths = [("fast", contextlib.nullcontext)]
    if args.python:
        paths.append(("python", python_path))
    if args.plain:
        paths.append(("plain", plain_path))
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            t0 = time.perf_counter()
            # What `ruleopt generate -o X.scap` writes: the table shaped for a capture.
            table = generate(rules, n, args.seed, args.break_share, capture=True)
            t_gen = time.perf_counter() - t0
            digests = set()
            for label, path in paths:
                out = where / f"{label}-{n}.scap"
                with path():
                    digests.add(run(table, t_gen, out, label == "fast" and not args.no_read, label))
                if args.keep is None:
                    out.unlink()  # one capture on disk at a time
            if len(digests) != 1:
                raise SystemExit(f"the paths wrote different bytes at {n:,} events: {digests}")


if __name__ == "__main__":
    main()
