"""``--dask``: the cells on a real ``distributed.LocalCluster`` of two worker processes
give the local run's cells (same ids, figure names and alerts), and a worker killed mid
cell loses and duplicates nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from distributed import LocalCluster
from test_experiment_run import FAKE, REAL, _cells, _exp, _run, _runs, speed_view

from ruleopt.cli import main
from ruleopt.engine import real
from ruleopt.errors import RuleoptError
from ruleopt.experiment.grid import expand
from ruleopt.experiment.runner import run_experiment
from ruleopt.experiment.spec import load_spec


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        yield c


@pytest.mark.skipif(not real.available(), reason="ruleopt-sinsp not built")
def test_dask_run_equals_the_local_run(tmp_path: Path, cluster, capsys) -> None:
    exp = _exp(tmp_path, REAL)
    s_local = _run(exp, tmp_path / "local", workers=2)
    argv = ["experiment", str(exp), "-o", str(tmp_path / "dask")]
    assert main([*argv, "--dask", cluster.scheduler_address]) == 0
    assert "4 cells: 0 already done, 4 run, 0 failed" in capsys.readouterr().out
    assert not s_local.failed and s_local.ran == 4
    local, dask = _cells(tmp_path / "local"), _cells(tmp_path / "dask")
    assert speed_view(dask) == speed_view(local)
    # The workers wrote the cells (other processes than this one).
    assert {d["machine"]["pid"] for d in dask.values()}.isdisjoint({os.getpid()})


def test_a_killed_dask_worker_loses_and_duplicates_nothing(tmp_path: Path, cluster) -> None:
    exp = _exp(tmp_path, FAKE)
    spec = load_spec(exp)
    grid = expand(spec)
    cells = [
        type(c)(**{**c.__dict__, "params": {"kill": "first" if i == 2 else "never", "sleep": 0.2}})
        for i, c in enumerate(grid.cells)
    ]
    grid = type(grid)(tuple(cells), grid.notes)
    results = tmp_path / "res"
    s = run_experiment(spec, grid, results, dask=cluster.scheduler_address, progress=False)
    got = _cells(results)
    assert set(got) == {c.id() for c in cells}
    assert all(d["status"] == "ok" for d in got.values()) and not s.failed
    assert s.ran == len(cells)
    runs = _runs(results)
    assert runs.count(cells[2].id()) == 2  # killed once, rerun on a fresh worker once
    assert {d["machine"]["pid"] for d in got.values()}  # recorded where each ran


def test_workers_must_see_the_results_directory(tmp_path: Path, cluster, monkeypatch) -> None:
    """Workers that see other bytes at RESULTS/experiment.yaml than this side wrote (no
    shared storage) are refused before any cell runs."""
    from ruleopt.experiment import dask as D

    # This side's digest of the copy is changed; the workers hash the real file.
    monkeypatch.setattr(D, "file_hash", lambda _path: "sha256:" + "0" * 64)
    exp = _exp(tmp_path, FAKE)
    results = tmp_path / "res"
    spec = load_spec(exp)
    with pytest.raises(RuleoptError) as info:
        run_experiment(spec, expand(spec), results, dask=cluster.scheduler_address, progress=False)
    # Every worker there is refused (a worker killed by the test before may still be
    # restarting: the count is the cluster's at that moment).
    assert re.search(r"\b(\d+) of \1 Dask worker\(s\) do not see the results", info.value.message)
    assert "shared" in (info.value.hint or "") or "every worker" in (info.value.hint or "")
    assert not list((results / "cells").glob("*.json"))
