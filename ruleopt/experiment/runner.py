"""Running an experiment's cells into ``RESULTS/``: locally in processes, or on a Dask
cluster (``dask.py``); both call ``run_cell`` for each cell, which writes the cell's JSON.

- Resume: a cell whose ``cells/<id>.json`` exists with status ``ok`` is never rerun (its
  id hashes its inputs, so a changed input is a new id); a failed or unreadable one is.
  Cell files of ids no longer in the grid are moved to ``stale/`` (kept, not read).
- Atomic: each cell's JSON is written to a temp name and renamed (``fsutil``), so an
  interrupted run leaves complete cells and no partial file.
- Local processes: ``ProcessPoolExecutor`` (spawned, not forked: the parent has threads).
  A worker that dies (a signal, the OOM killer) breaks the pool; the cells it was running
  are then rerun alone, each in a fresh one-process pool, so a cell that kills its worker
  is found and, after ``MAX_CRASHES`` tries, recorded as failed, and no other cell is
  blamed, lost or run twice.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ruleopt.console import console as new_console
from ruleopt.errors import RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.cell import Cell
from ruleopt.experiment.execute import (
    CELLS,
    EXPERIMENT_COPY,
    INPUTS,
    OnDone,
    cell_path,
    crashed_doc,
    finished,
    run_cell,
)
from ruleopt.experiment.grid import Grid
from ruleopt.experiment.inputs import file_hash
from ruleopt.experiment.parquet import write_parquet
from ruleopt.experiment.spec import Spec
from ruleopt.fsutil import check_output_dir, shown, write_text

STALE = "stale"
PARQUET = "results.parquet"
POLL_S = 0.2
MAX_CRASHES = 3  # as Dask's default allowed-failures: a cell may kill its worker this often


@dataclass
class RunSummary:
    results: Path
    cells: int
    reused: int
    ran: int = 0
    failed: list[dict] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    stale: int = 0
    parquet: Path | None = None
    elapsed_s: float = 0.0


def prepare_results(spec: Spec, results: Path) -> None:
    """Create ``results/`` (its parents too) with ``cells/`` and ``inputs/``, and keep a
    copy of the experiment as run."""
    check_output_dir(results)
    for d in (results, results / CELLS, results / INPUTS):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RuleoptError(
                f"cannot create the results directory: {exc.strerror}", file=shown(d)
            ) from None
    write_text(results / EXPERIMENT_COPY, spec.text)


def remove_temp_files(cells: Path) -> None:
    """Temp files of cells whose process was killed outright (SIGKILL) mid-write: never
    read (not ``*.json``), removed so the directory holds whole cells only. One run per
    results directory at a time: another run's temp files would go too."""
    for p in cells.glob(".*.tmp"):
        p.unlink(missing_ok=True)


def move_stale(results: Path, ids: set[str]) -> int:
    """Move cell files whose id is not in the grid (an input or setting changed) aside."""
    moved = 0
    for p in sorted((results / CELLS).glob("*.json")):
        if p.stem not in ids:
            (results / STALE).mkdir(exist_ok=True)
            os.replace(p, results / STALE / p.name)
            moved += 1
    return moved


def run_experiment(
    spec: Spec,
    grid: Grid,
    results: str | os.PathLike,
    *,
    workers: int | None = None,
    dask: str | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run every cell of ``grid`` not finished yet in ``results``; then the Parquet table."""
    results = Path(results).absolute()
    t0 = time.perf_counter()
    client = None
    if dask:
        from ruleopt.experiment.dask import connect

        # Before anything is created: an unreachable scheduler leaves no results dir.
        client = connect(dask)
    try:
        return _run(spec, grid, results, t0, workers, client, progress)
    finally:
        if client is not None:
            client.close()


def _run(
    spec: Spec,
    grid: Grid,
    results: Path,
    t0: float,
    workers: int | None,
    client: object | None,  # a distributed.Client with --dask
    progress: bool,
) -> RunSummary:
    prepare_results(spec, results)
    exp_hash = file_hash(spec.path)
    remove_temp_files(results / CELLS)
    stale = move_stale(results, {c.id() for c in grid.cells})
    todo = [c for c in grid.cells if finished(results, c) is None]
    for c in todo:
        # A failed (or unreadable) earlier try of a cell about to rerun: its file must not
        # pass for this run's result if the worker dies.
        cell_path(results, c.id()).unlink(missing_ok=True)
    summary = RunSummary(results, len(grid.cells), len(grid.cells) - len(todo), notes=grid.notes)
    summary.stale = stale
    fns = {}
    for c in todo:
        fn = measures.MEASURES.get(c.measurement)
        if fn is None:
            raise RuleoptError(f"measurement '{c.measurement}' is not available in this build")
        fns[c.measurement] = fn

    def done(doc: dict) -> None:
        summary.ran += 1
        if doc.get("status") != "ok":
            summary.failed.append(doc)

    if todo:
        with _bar(progress, len(todo)) as tick:

            def on_done(doc: dict) -> None:
                done(doc)
                tick(doc)

            if client is not None:
                from ruleopt.experiment.dask import run_on_dask

                run_on_dask(client, todo, results, fns, exp_hash, on_done)
            else:
                run_local(todo, results, fns, exp_hash, on_done, workers or os.cpu_count() or 1)
    summary.parquet = write_parquet(
        results / PARQUET, [cell_path(results, c.id()) for c in grid.cells]
    )
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def run_local(
    todo: list[Cell],
    results: Path,
    fns: dict[str, measures.MeasureFn],
    exp_hash: str,
    on_done: OnDone,
    workers: int,
) -> None:
    """Every cell of ``todo`` in ``workers`` spawned processes, at most ``workers`` in
    flight (so a broken pool names the few cells that were running)."""
    suspects = _pool_pass(todo, results, fns, exp_hash, on_done, workers)
    # Each cell that was running when a worker died, alone: is it the one that kills?
    for cell in suspects:
        crashes = 1
        while True:
            left = _pool_pass([cell], results, fns, exp_hash, on_done, 1)
            if not left:
                break
            crashes += 1
            if crashes >= MAX_CRASHES:
                on_done(
                    crashed_doc(
                        cell,
                        results,
                        exp_hash,
                        f"the worker process died running this cell ({crashes} times)",
                    )
                )
                break


def _pool_pass(
    cells: Iterable[Cell],
    results: Path,
    fns: dict[str, measures.MeasureFn],
    exp_hash: str,
    on_done: OnDone,
    workers: int,
) -> list[Cell]:
    """Run ``cells`` in one pool; returns the cells that were running when it broke
    (the rest of the queue is run in a fresh pool)."""
    queue = list(cells)
    suspects: list[Cell] = []
    ctx = multiprocessing.get_context("spawn")
    while queue:
        broken = False
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_worker_init
        ) as pool:
            running: dict = {}
            try:
                while queue or running:
                    while queue and len(running) < workers:
                        c = queue.pop(0)
                        f = pool.submit(
                            _run_in_worker,
                            c.to_dict(),
                            str(results),
                            fns[c.measurement],
                            exp_hash,
                        )
                        running[f] = c
                    # With a timeout: an interrupt reaches this thread only between waits.
                    finished_, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for f in finished_:
                        c = running.pop(f)
                        try:
                            doc = f.result()
                        except BrokenProcessPool:
                            broken = True
                            suspects.append(c)
                            continue
                        on_done(doc)
                    if broken:
                        # The pool is gone: the cells still running die with it.
                        suspects.extend(running.values())
                        running.clear()
                        break
            except BaseException:
                # Interrupted: stop the cells running now (their JSON is written
                # atomically or not at all) and drop the queue; finished cells stay.
                _stop_workers(list(getattr(pool, "_processes", {}).values()))
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        if not broken:
            break
    left = []
    for c in {c.id(): c for c in suspects}.values():
        try:
            # Its JSON was written before the pool broke: it did finish.
            doc = json.loads(cell_path(results, c.id()).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            left.append(c)
            continue
        on_done(doc)
    return left


# After an interrupt, how long a worker gets to unwind its cell (remove its temp file)
# before it is killed: the pool's shutdown waits for every worker, and must not hang.
STOP_GRACE_S = 10.0


def _stop_workers(procs: list) -> None:
    """SIGTERM each worker (its cell unwinds, then it exits: ``_run_in_worker``), and
    SIGKILL the ones still alive after STOP_GRACE_S."""
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)


def _run_in_worker(cell: dict, results: str, fn: measures.MeasureFn, exp_hash: str) -> dict:
    """``run_cell`` in a pool worker. A SIGTERM unwinds the cell (``_worker_init``); the
    worker then exits at once: the pool would otherwise hand it the next queued cell and
    run it to the end, keeping an interrupted run alive for as long."""
    try:
        return run_cell(cell, results, fn, exp_hash)
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 1)


def _worker_init() -> None:
    """In each worker process: SIGTERM unwinds like an exception (as in the CLI), so a
    cell being written removes its temp file; Ctrl-C already does."""

    def _term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _term)


class _bar:
    """A progress bar with ETA on stderr (or nothing when not on a terminal)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total

    def __enter__(self) -> Callable[[dict], None]:
        if not self.enabled:
            return lambda _doc: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=new_console(stderr=True),
            transient=True,
        )
        self.progress.__enter__()
        task = self.progress.add_task("cells", total=self.total)

        def tick(doc: dict) -> None:
            key = doc.get("key", {})
            mark = "ok" if doc.get("status") == "ok" else "FAILED"
            self.progress.update(
                task,
                advance=1,
                description=f"{key.get('measurement')} {key.get('engine')}/"
                f"{key.get('strategy')} {mark}",
            )

        return tick

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.__exit__(*exc)
