"""The measurements an experiment can take, by name.

Each measurement is a module ``ruleopt.experiment.measure_<name>`` with a function
``measure(ctx: CellContext) -> dict`` returning the cell's result (``figures``, ``spread``,
optional ``series``; see the cell contract), and optionally:

- ``PARAMS``: setting name -> kind (``mode``, ``int``, ``number``, ``numbers``, ``str``),
  the settings an experiment file may give it (checked on load, with a located error);
- ``BUILDS``: the builds it runs by default, ``ALLOWED_BUILDS``: the ones it accepts;
- ``supports(engine, strategy, build) -> str | None``: why a combination does not exist
  (the grid skips it with that note) or None.

The modules are imported by name when present: a build without one lists the name as not
available (an experiment asking for it gets a located error saying so) instead of failing
to import. Tests register their own measurements with ``register``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ruleopt.experiment.cell import BUILDS, MEASUREMENTS, CellContext

MeasureFn = Callable[[CellContext], dict]
SupportFn = Callable[[str, str, str], "str | None"]

PARAM_KINDS = ("mode", "int", "number", "numbers", "str")

# What each measurement takes before its module says otherwise (a module's own PARAMS,
# BUILDS and ALLOWED_BUILDS win): so an experiment naming a measurement of a build that
# lacks its module is still checked, and the error says the module is missing.
_DEFAULT_PARAMS: dict[str, dict[str, str]] = {
    "speed": {"mode": "mode", "repeat_inner": "int"},
    "profile": {"mode": "mode", "repeat_inner": "int"},
    "rate": {"mode": "mode", "rates": "numbers", "buffer": "int"},
    "overhead": {"mode": "mode", "repeat_inner": "int"},
    "advise": {"repeat_inner": "int"},
}
_DEFAULT_BUILDS: dict[str, tuple[str, ...]] = {
    "speed": ("untraced",),
    "profile": ("rule-traced",),
    "rate": ("untraced",),
    "overhead": ("rule-traced",),
    "advise": ("rule-traced",),
}


@dataclass(frozen=True)
class Measure:
    name: str
    run: MeasureFn | None  # None: not available in this build
    params: dict[str, str]
    builds: tuple[str, ...]
    allowed_builds: tuple[str, ...] | None  # None: any build
    supports: SupportFn | None
    missing: str | None = None  # why it is not available

    def unsupported(self, engine: str, strategy: str, build: str) -> str | None:
        if (
            self.allowed_builds is not None
            and build not in self.allowed_builds
            and not (build.startswith("sampled:") and "sampled" in self.allowed_builds)
        ):
            return f"{self.name} runs the {', '.join(self.allowed_builds)} build(s) only"
        return self.supports(engine, strategy, build) if self.supports else None


_REGISTRY: dict[str, Measure] = {}
# The contract's view: name -> function, for the measurements this build has.
MEASURES: dict[str, MeasureFn] = {}


def register(
    name: str,
    run: MeasureFn,
    *,
    params: dict[str, str] | None = None,
    builds: tuple[str, ...] = ("untraced",),
    allowed_builds: tuple[str, ...] | None = None,
    supports: SupportFn | None = None,
) -> Measure:
    """Add (or replace) a measurement; the runner ships ``run`` to its workers."""
    for kind in (params or {}).values():
        if kind not in PARAM_KINDS:
            raise ValueError(f"measurement {name}: unknown setting kind {kind!r}")
    m = Measure(name, run, dict(params or {}), tuple(builds), allowed_builds, supports)
    _REGISTRY[name] = m
    MEASURES[name] = run
    return m


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)
    MEASURES.pop(name, None)


def get(name: str) -> Measure | None:
    """The measurement named ``name`` (available or not), None if no such name."""
    return _REGISTRY.get(name)


def names() -> list[str]:
    return list(_REGISTRY)


def _load(name: str) -> None:
    module_name = f"ruleopt.experiment.measure_{name}"
    try:
        mod = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module is there but its own import failed: a real fault
        _REGISTRY[name] = Measure(
            name,
            None,
            _DEFAULT_PARAMS[name],
            _DEFAULT_BUILDS[name],
            None,
            None,
            missing=f"not available in this build ({module_name} is missing)",
        )
        return
    register(
        name,
        mod.measure,
        params=getattr(mod, "PARAMS", _DEFAULT_PARAMS[name]),
        builds=tuple(getattr(mod, "BUILDS", _DEFAULT_BUILDS[name])),
        allowed_builds=getattr(mod, "ALLOWED_BUILDS", None),
        supports=getattr(mod, "supports", None),
    )


for _name in MEASUREMENTS:
    _load(_name)

assert all(b in BUILDS for bs in _DEFAULT_BUILDS.values() for b in bs)
