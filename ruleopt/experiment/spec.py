"""Experiment files (``experiments/*.yaml``): the schema, checked on load.

The file is read with the hardened composer (``rules/yamlsafe.py``) and checked node by
node, so every error names the file, the line and column of the offending key or value,
and what to write instead (as the rules loader does). Paths are relative to the
experiment file's directory; a capture or table path may be a glob (``*.scap``), one
workload per match. Schema::

    experiment: NAME                 # optional label
    description: TEXT                # optional
    rulesets:                        # each: "default", a rules file, or a list of them
      - default                      #   (loaded in order, like `ruleopt check A B`)
    workloads:
      - capture: PATH-OR-GLOB
      - table: PATH-OR-GLOB
      - generated: {events: N, seed: S, break_share: F, format: scap|npz}
                                     #   events, seed, break_share may be lists: a sweep
    strategies: [baseline, ...]      # default [baseline]
    engines: [replica, libsinsp]     # default both
    builds: [untraced, ...]          # default: each measurement's own builds
    repeats: R                       # default 1; each repeat is its own cell
    measurements:                    # name -> settings (or nothing)
      speed: {mode: first, repeat_inner: 3}
      rate: {rates: [1.0e5, 1.0e6], buffer: 8192, strategies: [baseline], engines: [replica]}

A measurement's own ``strategies``, ``engines``, ``builds`` and ``repeats`` replace the
top-level ones for it, and its ``workloads: [generated, capture, table]`` keeps only the
workloads of those kinds (a drop-rate replay of a 400-event capture says little); its other
keys are its settings (``measures.py`` says which each one takes).
"""

from __future__ import annotations

import glob as globmod
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ruleopt.commands import bounds
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.errors import RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.cell import BUILDS, ENGINES, MEASUREMENTS, SAMPLED
from ruleopt.fsutil import check_input_file, shown
from ruleopt.rules import yamlsafe

_CORE = "tag:yaml.org,2002:"
_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
TOP_KEYS = (
    "experiment",
    "description",
    "rulesets",
    "workloads",
    "strategies",
    "engines",
    "builds",
    "repeats",
    "measurements",
)
REQUIRED = ("rulesets", "workloads", "measurements")
# A workload's kind, and what a measurement's own ``workloads`` keeps (one list for both).
WORKLOAD_KINDS = ("generated", "capture", "table")
GENERATED_KEYS = ("events", "seed", "break_share", "format")
FORMATS = ("scap", "npz")
GRID_KEYS = ("strategies", "engines", "builds", "workloads", "repeats")
MAX_REPEATS = 1000


@dataclass(frozen=True)
class MeasurementSpec:
    name: str
    params: dict
    strategies: tuple[str, ...]
    engines: tuple[str, ...]
    builds: tuple[str, ...]
    line: int  # where it is declared, for errors about its grid
    workload_kinds: tuple[str, ...] = WORKLOAD_KINDS  # its own ``workloads``: kinds kept
    repeats: int | None = None  # its own ``repeats`` (None: the experiment's)


@dataclass(frozen=True)
class Spec:
    path: Path
    name: str
    description: str
    rulesets: tuple[tuple[str, ...], ...]
    workloads: tuple[dict, ...]
    repeats: int
    measurements: tuple[MeasurementSpec, ...]
    text: str = field(repr=False, default="")


class _Checker:
    def __init__(self, file: str, base: Path) -> None:
        self.file = file
        self.base = base

    def err(self, node: yaml.Node | None, message: str, hint: str | None = None) -> RuleoptError:
        if node is None:
            return RuleoptError(message, file=self.file, hint=hint)
        m = node.start_mark
        return RuleoptError(
            message, file=self.file, line=m.line + 1, column=m.column + 1, hint=hint
        )

    def mapping(self, node: yaml.Node, what: str, keys: tuple[str, ...]) -> dict[str, tuple]:
        """``key -> (key node, value node)``; unknown keys are errors at the key."""
        if not isinstance(node, yaml.MappingNode):
            raise self.err(node, f"{what} must be a mapping", hint=f"keys: {', '.join(keys)}")
        out: dict[str, tuple] = {}
        for k, v in node.value:
            if k.value not in keys:
                raise self.err(
                    k, f"unknown key '{k.value}' in {what}", hint=f"known keys: {', '.join(keys)}"
                )
            out[k.value] = (k, v)
        return out

    def scalar(self, node: yaml.Node, what: str) -> yaml.ScalarNode:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _CORE + "null":
            raise self.err(node, f"{what} must be a single value, not {_kind(node)}")
        return node

    def text(self, node: yaml.Node, what: str) -> str:
        n = self.scalar(node, what)
        if n.tag != _CORE + "str":
            raise self.err(node, f"{what} must be text, not {_kind(node)}")
        return n.value

    def integer(self, node: yaml.Node, what: str, lo: int, hi: int) -> int:
        n = self.scalar(node, what)
        if n.tag != _CORE + "int":
            raise self.err(node, f"{what} must be a whole number, not {_kind(node)}")
        value = int(yaml.constructor.SafeConstructor().construct_yaml_int(n))
        if not lo <= value <= hi:
            raise self.err(node, f"{what} must be between {lo:,} and {hi:,}, got {value:,}")
        return value

    def number(self, node: yaml.Node, what: str, lo: float, hi: float) -> float:
        n = self.scalar(node, what)
        if n.tag == _CORE + "str" and n.style is None and _YAML12_FLOAT.fullmatch(n.value):
            # YAML 1.1 (PyYAML's resolver) reads a plain 1e6 or 1.0e5 as text; YAML 1.2's
            # core schema, and every reader of these files, reads a number.
            value = float(n.value)
        elif n.tag not in (_CORE + "int", _CORE + "float"):
            raise self.err(node, f"{what} must be a number, not {_kind(node)}")
        else:
            ctor = yaml.constructor.SafeConstructor()
            value = float(
                ctor.construct_yaml_int(n)
                if n.tag == _CORE + "int"
                else ctor.construct_yaml_float(n)
            )
        if not lo <= value <= hi:  # NaN fails too
            raise self.err(node, f"{what} must be between {lo:g} and {hi:g}, got {value:g}")
        return value

    def sequence(self, node: yaml.Node, what: str, *, one_ok: bool = False) -> list[yaml.Node]:
        """A non-empty list (``one_ok``: a single scalar stands for a list of one)."""
        if one_ok and isinstance(node, yaml.ScalarNode) and node.tag != _CORE + "null":
            return [node]
        if not isinstance(node, yaml.SequenceNode):
            raise self.err(node, f"{what} must be a list, not {_kind(node)}")
        if not node.value:
            raise self.err(node, f"{what} is empty: the grid would have no cell")
        return list(node.value)

    def names(self, node: yaml.Node, what: str, known: tuple[str, ...] | list[str]) -> list[str]:
        out = []
        for n in self.sequence(node, what, one_ok=True):
            name = self.text(n, f"each of {what}")
            if name not in known:
                raise self.err(
                    n, f"unknown {_singular(what)} '{name}'", hint=f"one of {', '.join(known)}"
                )
            out.append(name)
        return list(dict.fromkeys(out))

    def builds(self, node: yaml.Node) -> list[str]:
        out = []
        for n in self.sequence(node, "builds", one_ok=True):
            name = self.text(n, "each of builds")
            if name not in BUILDS and not SAMPLED.match(name):
                raise self.err(
                    n,
                    f"unknown build '{name}'",
                    hint=f"one of {', '.join(BUILDS)}, or sampled:N (trace one event in N)",
                )
            out.append(name)
        return list(dict.fromkeys(out))

    def paths(self, node: yaml.Node, what: str) -> list[str]:
        """One existing file (or every match of a glob), resolved against the file's
        directory; a missing file or a glob matching nothing is an error at the value."""
        raw = self.text(node, what)
        full = raw if os.path.isabs(raw) else str(self.base / raw)
        if any(c in raw for c in "*?["):
            found = sorted(globmod.glob(full))
            if not found:
                raise self.err(node, f"no file matches {what} '{raw}'", hint="check the pattern")
        else:
            found = [full]
        out = []
        for p in found:
            try:
                check_input_file(p, what)
            except RuleoptError as exc:
                raise self.err(
                    node, f"{what} '{raw}': {exc.message} ({shown(p)})", hint=exc.hint
                ) from None
            out.append(os.path.realpath(p))
        return out


def _singular(what: str) -> str:
    return {"strategies": "strategy", "engines": "engine", "workloads": "workload kind"}.get(
        what, what
    )


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    tag = node.tag[len(_CORE) :] if node.tag.startswith(_CORE) else node.tag
    return {"null": "nothing", "str": f"the text '{node.value}'"}.get(
        tag, f"the {tag} {node.value}"
    )


def load_spec(path: str | os.PathLike) -> Spec:
    """Read and check an experiment file; every error is located in it."""
    file = shown(path)
    p = check_input_file(path, "experiment file", hint="pass an existing experiments/*.yaml")
    try:
        data = Path(p).read_bytes()
    except OSError as exc:
        raise RuleoptError(f"cannot read the experiment file: {exc.strerror}", file=file) from None
    text = yamlsafe.decode(data, file)
    try:
        docs = yamlsafe.compose_documents(text, file)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        raise RuleoptError(
            f"not valid YAML: {exc.problem or exc.context}",
            file=file,
            line=m.line + 1 if m else None,
            column=m.column + 1 if m else None,
            hint="check the indentation and quoting here",
        ) from None
    except yaml.YAMLError as exc:
        raise RuleoptError(f"not valid YAML: {exc}", file=file) from None
    docs = [d for d in docs if d is not None]
    c = _Checker(file, Path(p).resolve().parent)
    if len(docs) != 1:
        raise c.err(
            docs[1] if len(docs) > 1 else None,
            "an experiment file holds one YAML document" + ("" if docs else ": this one is empty"),
            hint="keys: " + ", ".join(TOP_KEYS),
        )
    top = c.mapping(docs[0], "the experiment", TOP_KEYS)
    for key in REQUIRED:
        if key not in top:
            raise c.err(
                docs[0],
                f"the experiment has no '{key}'",
                hint="an experiment needs rulesets, workloads and measurements "
                "(see experiments/quick.yaml)",
            )
    name = c.text(top["experiment"][1], "experiment") if "experiment" in top else Path(p).stem
    description = c.text(top["description"][1], "description") if "description" in top else ""
    rulesets = tuple(_ruleset(c, n) for n in c.sequence(top["rulesets"][1], "rulesets"))
    workloads = tuple(
        w for n in c.sequence(top["workloads"][1], "workloads") for w in _workloads(c, n)
    )
    repeats = c.integer(top["repeats"][1], "repeats", 1, MAX_REPEATS) if "repeats" in top else 1
    grid = {
        "strategies": (
            c.names(top["strategies"][1], "strategies", list(S.STRATEGIES))
            if "strategies" in top
            else ["baseline"]
        ),
        "engines": c.names(top["engines"][1], "engines", ENGINES)
        if "engines" in top
        else list(ENGINES),
        "builds": c.builds(top["builds"][1]) if "builds" in top else None,
    }
    ms_node = top["measurements"][1]
    if not isinstance(ms_node, yaml.MappingNode):
        raise c.err(ms_node, "measurements must be a mapping: name -> settings")
    if not ms_node.value:
        raise c.err(ms_node, "measurements is empty: the grid would have no cell")
    mspecs = tuple(_measurement(c, k, v, grid) for k, v in ms_node.value)
    return Spec(Path(p).resolve(), name, description, rulesets, workloads, repeats, mspecs, text)


def _ruleset(c: _Checker, node: yaml.Node) -> tuple[str, ...]:
    if isinstance(node, yaml.ScalarNode) and node.value == "default" and node.tag == _CORE + "str":
        return (str(DEFAULT_RULES.resolve()),)
    files = []
    for n in c.sequence(node, "a ruleset", one_ok=True):
        for p in c.paths(n, "rules file"):
            if not p.lower().endswith((".yaml", ".yml")):
                raise c.err(n, f"rules file '{n.value}' is not .yaml/.yml")
            files.append(p)
    return tuple(files)


def _workloads(c: _Checker, node: yaml.Node) -> list[dict]:
    top = c.mapping(node, "a workload", WORKLOAD_KINDS)
    if len(top) != 1:
        raise c.err(node, "a workload has one kind", hint=f"one of {', '.join(WORKLOAD_KINDS)}")
    kind, (_k, v) = next(iter(top.items()))
    if kind in ("capture", "table"):
        return [{"kind": kind, "path": p} for p in c.paths(v, kind)]
    g = c.mapping(v, "a generated workload", GENERATED_KEYS)
    if "events" not in g:
        raise c.err(v, "a generated workload needs 'events'", hint="e.g. {events: 5000, seed: 0}")
    events = [
        c.integer(n, "events", 1, bounds.MAX_EVENTS)
        for n in c.sequence(g["events"][1], "events", one_ok=True)
    ]
    seeds = (
        [
            c.integer(n, "seed", 0, bounds.MAX_SEED)
            for n in c.sequence(g["seed"][1], "seed", one_ok=True)
        ]
        if "seed" in g
        else [0]
    )
    shares = (
        [
            c.number(n, "break_share", 0.0, 1.0)
            for n in c.sequence(g["break_share"][1], "break_share", one_ok=True)
        ]
        if "break_share" in g
        else [0.01]
    )
    fmt = "scap"
    if "format" in g:
        fmt = c.text(g["format"][1], "format")
        if fmt not in FORMATS:
            raise c.err(g["format"][1], f"unknown format '{fmt}'", hint="scap or npz")
    return [
        {"kind": "generated", "events": n, "seed": s, "break_share": f, "format": fmt}
        for n in events
        for s in seeds
        for f in shares
    ]


def _measurement(c: _Checker, key: yaml.Node, value: yaml.Node, grid: dict) -> MeasurementSpec:
    name = key.value
    m = measures.get(name)
    if m is None:
        known = list(dict.fromkeys([*MEASUREMENTS, *measures.names()]))
        raise c.err(key, f"unknown measurement '{name}'", hint=f"one of {', '.join(known)}")
    if m.run is None:
        raise c.err(
            key,
            f"measurement '{name}' is {m.missing}",
            hint="available here: "
            + ", ".join(n for n in measures.names() if measures.MEASURES.get(n)),
        )
    allowed = tuple(m.params) + GRID_KEYS
    settings = (
        {}
        if isinstance(value, yaml.ScalarNode) and value.tag == _CORE + "null"
        else c.mapping(value, f"measurement '{name}'", allowed)
    )
    params: dict = {}
    for pname, (_k, v) in settings.items():
        if pname in GRID_KEYS:
            continue
        params[pname] = _param(c, v, pname, m.params[pname])
    strategies = (
        c.names(settings["strategies"][1], "strategies", list(S.STRATEGIES))
        if "strategies" in settings
        else grid["strategies"]
    )
    engines = (
        c.names(settings["engines"][1], "engines", ENGINES)
        if "engines" in settings
        else grid["engines"]
    )
    if "builds" in settings:
        builds = c.builds(settings["builds"][1])
    elif grid["builds"] is not None:
        builds = [b for b in grid["builds"] if not m.unsupported("replica", "baseline", b)]
        if not builds:
            builds = list(m.builds)
    else:
        builds = list(m.builds)
    for b in builds:
        why = m.allowed_builds is not None and m.unsupported("replica", "baseline", b)
        if why and "builds" in settings:
            raise c.err(settings["builds"][1], f"measurement '{name}': {why}")
    kinds = (
        c.names(settings["workloads"][1], "workloads", WORKLOAD_KINDS)
        if "workloads" in settings
        else WORKLOAD_KINDS
    )
    repeats = (
        c.integer(settings["repeats"][1], "repeats", 1, MAX_REPEATS)
        if "repeats" in settings
        else None
    )
    return MeasurementSpec(
        name,
        params,
        tuple(strategies),
        tuple(engines),
        tuple(builds),
        key.start_mark.line + 1,
        tuple(kinds),
        repeats,
    )


def _param(c: _Checker, node: yaml.Node, name: str, kind: str) -> object:
    what = f"setting '{name}'"
    if kind == "mode":
        mode = c.text(node, what)
        if mode not in real.MODES:
            raise c.err(node, f"unknown mode '{mode}'", hint=f"one of {', '.join(real.MODES)}")
        return mode
    if kind == "int":
        hi = bounds.MAX_BUFFER if name == "buffer" else bounds.MAX_REPEAT
        return c.integer(node, what, 1, hi)
    if kind == "number":
        return c.number(node, what, 0.0, bounds.MAX_RATE)
    if kind == "numbers":
        return [
            c.number(n, what, 0.001, bounds.MAX_RATE) for n in c.sequence(node, what, one_ok=True)
        ]
    return c.text(node, what)
