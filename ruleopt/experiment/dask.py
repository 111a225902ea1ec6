"""``--dask tcp://host:port``: the cells as tasks on an existing Dask distributed cluster.

Each cell is one task calling the same ``run_cell`` as a local run, so the figures are
computed the same way and the JSON is written by the worker that ran the cell. What the
workers need:

- ruleopt installed (the same version), with the Falco libraries for libsinsp cells;
- the results directory, the rules files and the captures at the same paths as here:
  shared storage (NFS, a cluster file system). Generated workloads are written into
  ``RESULTS/inputs/`` by the first worker that needs one. Checked before any cell runs:
  every worker must see this run's ``RESULTS/experiment.yaml`` with the same bytes.

A worker that dies mid-cell loses nothing: the scheduler gives its task to another
worker (up to its ``allowed-failures``, 3 by default); the cell's JSON is written once,
atomically, by whichever try finishes, under the cell's id. A task that kills every
worker it lands on ends as ``KilledWorker``, recorded as that cell's error.
"""

from __future__ import annotations

import os
from pathlib import Path

from distributed import Client, as_completed
from distributed.scheduler import KilledWorker

from ruleopt.errors import RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.cell import Cell
from ruleopt.experiment.execute import EXPERIMENT_COPY, OnDone, crashed_doc, run_cell
from ruleopt.experiment.inputs import file_hash

CONNECT_TIMEOUT_S = 15


def _sees(path: str, digest: str) -> str | None:
    """On a worker: None if it sees ``path`` with ``digest``, else why not."""
    try:
        got = file_hash(path)
    except RuleoptError as exc:
        return f"{exc.message} ({path})"
    return None if got == digest else f"{path} has other bytes there"


def connect(address: str) -> Client:
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise RuleoptError(
            f"cannot reach the Dask scheduler at {address}: {exc}",
            hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
            "and pass its address, e.g. --dask tcp://10.0.0.1:8786",
        ) from None


def check_workers(client: Client, results: Path) -> int:
    """Every worker sees this run's results directory (shared storage); returns how
    many workers there are."""
    copy = str(results / EXPERIMENT_COPY)
    digest = file_hash(copy)
    try:
        seen = client.run(_sees, copy, digest)
    except Exception as exc:  # a worker without ruleopt fails to unpickle _sees
        raise RuleoptError(
            f"the Dask workers cannot run ruleopt: {type(exc).__name__}: {exc}",
            hint="install the same ruleopt on every worker (pip install ruleopt)",
        ) from None
    if not seen:
        raise RuleoptError(
            "the Dask cluster has no worker", hint="start workers with `dask worker ADDRESS`"
        )
    bad = {w: why for w, why in seen.items() if why}
    if bad:
        worker, why = next(iter(bad.items()))
        raise RuleoptError(
            f"{len(bad)} of {len(seen)} Dask worker(s) do not see the results directory "
            f"(worker {worker}: {why})",
            file=str(results),
            hint="-o must be on storage every worker mounts at the same path (NFS, ...), "
            "and so must the rules files and captures",
        )
    return len(seen)


def run_on_dask(
    client: Client,
    todo: list[Cell],
    results: Path,
    fns: dict[str, measures.MeasureFn],
    exp_hash: str,
    on_done: OnDone,
) -> None:
    check_workers(client, results)
    futures = {}
    for c in todo:
        fut = client.submit(
            run_cell,
            c.to_dict(),
            os.fspath(results),
            fns[c.measurement],
            exp_hash,
            key=f"ruleopt-cell-{c.id()}",
            pure=False,
        )
        futures[fut] = c
    try:
        for fut in as_completed(futures):
            cell = futures[fut]
            try:
                doc = fut.result()
            except KilledWorker as exc:
                doc = crashed_doc(
                    cell, results, exp_hash, f"every Dask worker that ran it died ({exc})"
                )
            except Exception as exc:  # the task itself failed on its worker
                doc = crashed_doc(
                    cell,
                    results,
                    exp_hash,
                    f"the task failed on its Dask worker: {type(exc).__name__}: {exc}",
                )
            on_done(doc)
    finally:
        client.cancel(list(futures))
