"""An experiment's grid expanded into cells.

Order: measurement, ruleset, workload, repeat, strategy, engine, build: the repeats of one
combination are spread over the run rather than back to back, and every strategy of a
repeat runs before the next repeat, so a noisy minute hits all strategies alike.

A combination that does not exist (a strategy the real engine does not have, a build a
measurement does not take) is skipped with a note saying why, once per reason; an
experiment left with no cell at all is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruleopt.errors import RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.cell import Cell
from ruleopt.experiment.inputs import cell_inputs
from ruleopt.experiment.spec import Spec


@dataclass(frozen=True)
class Grid:
    cells: tuple[Cell, ...]
    notes: tuple[str, ...]  # combinations skipped, and why


def expand(spec: Spec) -> Grid:
    cells: list[Cell] = []
    notes: dict[str, None] = {}
    for ms in spec.measurements:
        m = measures.get(ms.name)
        assert m is not None  # the spec checked the name
        for ruleset in spec.rulesets:
            for workload in spec.workloads:
                if workload["kind"] not in ms.workload_kinds:
                    notes[
                        f"{ms.name} skipped on {workload['kind']} workloads "
                        f"(its workloads: {', '.join(ms.workload_kinds)})"
                    ] = None
                    continue
                inputs = cell_inputs(ruleset, workload)
                for repeat in range(ms.repeats or spec.repeats):
                    for strategy in ms.strategies:
                        for engine in ms.engines:
                            for build in ms.builds:
                                why = m.unsupported(engine, strategy, build)
                                if why:
                                    notes[
                                        f"{ms.name} {engine}/{strategy} ({build}) skipped: {why}"
                                    ] = None
                                    continue
                                cells.append(
                                    Cell(
                                        ms.name,
                                        ruleset,
                                        workload,
                                        strategy,
                                        engine,
                                        build,
                                        repeat,
                                        dict(ms.params),
                                        inputs,
                                    )
                                )
    if not cells:
        raise RuleoptError(
            "the experiment's grid has no cell: every combination was skipped"
            + (f" ({next(iter(notes))})" if notes else ""),
            file=str(spec.path),
            hint="add a strategy, engine or build that the measurements run",
        )
    ids = [c.id() for c in cells]
    dup = len(ids) - len(set(ids))
    if dup:
        # The same cell twice (a workload listed twice, a glob overlapping a path): run once.
        seen: set[str] = set()
        unique = []
        for c, i in zip(cells, ids, strict=True):
            if i not in seen:
                seen.add(i)
                unique.append(c)
        notes[f"{dup} cell(s) listed twice (the same inputs and settings): each runs once"] = None
        cells = unique
    return Grid(tuple(cells), tuple(notes))
