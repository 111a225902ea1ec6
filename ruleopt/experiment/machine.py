"""The machine a cell ran on, as pyperf records it (its metadata keys: cpu model, cpu
count and frequency, load average, hostname, platform, python), plus the TSC rate the
cycle figures are counted at. Collected in the process that runs the cell, so a cluster
run says which host each cell came from."""

from __future__ import annotations

import os
import platform
import socket

from ruleopt.engine.core import tsc_hz
from ruleopt.profile.model import cpu_model

# pyperf's keys that describe the machine and its state (not pyperf's own run).
_KEYS = (
    "hostname",
    "platform",
    "cpu_model_name",
    "cpu_count",
    "cpu_freq",
    "cpu_config",
    "load_avg_1min",
    "runnable_threads",
    "boot_time",
    "aslr",
    "python_implementation",
    "python_version",
    "python_executable",
)


def _pyperf() -> dict:
    try:
        # pyperf's collector is the documented source of these keys; it lives in a
        # private module, so any failure of it falls back to our own collection.
        from pyperf._collect_metadata import collect_metadata
    except ImportError:
        return {}
    try:
        meta = collect_metadata()
    except Exception:  # noqa: BLE001 - optional metadata: never fail a cell for it
        return {}
    return {k: meta[k] for k in _KEYS if k in meta}


def _own() -> dict:
    cpu = cpu_model()
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model_name": cpu,
        "cpu_count": os.cpu_count(),
        "load_avg_1min": load,
        "python_implementation": platform.python_implementation().lower(),
        "python_version": platform.python_version(),
    }


def metadata() -> dict:
    out = _own()
    out.update(_pyperf())
    try:
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        out["load_average"] = None
    out["tsc_hz"] = tsc_hz()
    out["pid"] = os.getpid()
    return out
