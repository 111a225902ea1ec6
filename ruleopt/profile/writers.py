"""The study's three outputs for a ``Profile``: custom JSON, graphviz call graph, flamegraph.

* ``profile.json``: ``Profile.to_dict()`` (stack structure, stages, rules, summary).
* ``stacks.dot``: one node per stage under a ``main`` root; an edge parent→child per
  branch, labelled with the branch's occurrence count and mean cycles, as in the
  study's flowchart. The most expensive rules hang off ``rule_checks``.
* ``stacks.folded``: ``frame;frame;... count`` lines (FlameGraph's input) with SELF
  cycles as the count: a frame's cycles minus its measured children's.

Every file is written atomically; ``write_profile_dir`` stages all files first so a
failure leaves the output directory as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ruleopt.fsutil import staged_dir, write_text
from ruleopt.profile.model import (
    ALL,
    BRANCH_KEYS,
    ROOT,
    STAGE_PARENT,
    STAGES,
    Profile,
    stage_path,
)

DOT_TOP_RULES = 8

_BRANCH_COLOR = {
    "SCAP_TIMEOUT": "gray40",
    "RULES_UNBROKEN": "darkgreen",
    "RULES_BROKEN": "red3",
    ALL: "black",
}


def write_json(profile: Profile, path: Path | str) -> None:
    write_text(path, json.dumps(profile.to_dict(), indent=1) + "\n")


# ------------------------------------------------------------------------------ .dot


def _dot_str(text: str) -> str:
    """A graphviz double-quoted string; ``\\n`` in ``text`` stays a label line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _branch_label(key: str) -> str:
    return "all branches" if key == ALL else key


def dot_text(profile: Profile) -> str:
    """The call graph of ``profile`` in graphviz's dot language."""
    lines = [
        "digraph stacks {",
        "  rankdir=TB;",
        '  graph [fontname="Helvetica"];',
        '  node [shape=box, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        f"  labelloc=t; label={_dot_str(f'{profile.engine}: cycles per stage and branch')};",
        f"  {ROOT} [label={_dot_str('main loop')}, shape=doubleoctagon];",
    ]
    # Draw measured stages and their ancestors; an unmeasured ancestor is dashed so the
    # graph keeps the study's shape without pretending the harness timed it.
    drawn = set()
    wanted = list(profile.stages)
    if profile.rules:
        wanted.append("rule_checks")
    for stage in wanted:
        drawn.update(stage_path(stage))
    for stage in STAGES:
        if stage not in drawn:
            continue
        measured = stage in profile.stages
        style = "" if measured else ", style=dashed"
        label = stage if measured else f"{stage}\n(not measured)"
        lines.append(f"  {stage} [label={_dot_str(label)}{style}];")
    for stage in STAGES:
        if stage not in drawn:
            continue
        parent = STAGE_PARENT[stage] or ROOT
        sp = profile.stages.get(stage)
        if sp is None:
            if stage == "rule_checks" and profile.rules:
                checks = profile.checks_hist(True).merge(profile.checks_hist(False))
                label = (
                    f"{_branch_label(ALL)}\n{checks.count} checks\n"
                    f"mean {checks.mean:.0f} cycles per check"
                )
                lines.append(f"  {parent} -> {stage} [label={_dot_str(label)}, style=dashed];")
            else:
                lines.append(f"  {parent} -> {stage} [style=dashed];")
            continue
        for key in BRANCH_KEYS:
            h = sp.branches.get(key)
            if h is None:
                continue
            label = f"{_branch_label(key)}\n{h.count}x\nmean {h.mean:.0f} cycles"
            lines.append(
                f"  {parent} -> {stage} [label={_dot_str(label)}, "
                f"color={_BRANCH_COLOR[key]}, fontcolor={_BRANCH_COLOR[key]}];"
            )
    for i, r in enumerate(profile.top_rules(DOT_TOP_RULES)):
        label = (
            f"rule: {r.name}\nunmatched {r.unmatched.count}x mean "
            f"{r.unmatched.mean:.0f} cycles\nmatched {r.matched.count}x mean "
            f"{r.matched.mean:.0f} cycles"
        )
        lines.append(f"  rule_{i} [label={_dot_str(label)}, shape=note];")
        lines.append(
            f"  rule_checks -> rule_{i} [label={_dot_str(f'{r.checks} checks')}, style=dotted];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_dot(profile: Profile, path: Path | str) -> None:
    write_text(path, dot_text(profile))


# --------------------------------------------------------------------------- .folded


def frame_name(text: str) -> str:
    """A flamegraph frame: no ``;`` (the separator), no line breaks, never empty."""
    clean = " ".join(text.replace(";", ",").split())
    return clean or "?"


def folded_stacks(profile: Profile) -> dict[tuple[str, ...], int]:
    """SELF cycles per stack.

    A stage measured per branch appears as ``main;<BRANCH>;<stage path below
    iteration>`` (the branch frame stands for that branch's iterations); a stage measured
    without branches as ``main;iteration;<path>``. A stage's self count is its cycles
    minus those of its children measured under the same branch key, clamped at zero
    (stage metrics from separate runs need not nest exactly).

    Rule frames ``rule:<name>`` sit under ``main;iteration;rule_checks``: a rule's
    unmatched checks happen in both RULES_UNBROKEN and RULES_BROKEN iterations, so a
    rule cannot be placed under one branch. Their cycles are taken out of the
    branch-less ``rule_checks`` self count only.
    """
    out: dict[tuple[str, ...], int] = {}
    rule_cycles: dict[str, int] = {}
    for r in profile.rules:  # summed: two names may sanitise to the same frame
        name = frame_name(f"rule:{r.name}")
        rule_cycles[name] = rule_cycles.get(name, 0) + r.total_cycles
    for stage in STAGES:
        sp = profile.stages.get(stage)
        if sp is None:
            continue
        below = stage_path(stage)[1:]  # "iteration" is replaced by the branch frame
        for key, h in sp.branches.items():
            head = (ROOT, "iteration" if key == ALL else key)
            children = sum(
                c.branches[key].sum
                for c in profile.stages.values()
                if STAGE_PARENT[c.name] == stage and key in c.branches
            )
            if stage == "rule_checks" and key == ALL:
                children += sum(rule_cycles.values())
            stack = head + tuple(below)
            out[stack] = out.get(stack, 0) + max(0, h.sum - children)
    base = (ROOT,) + tuple(stage_path("rule_checks"))
    for name, cycles in rule_cycles.items():
        stack = base + (name,)
        out[stack] = out.get(stack, 0) + cycles
    return out


def folded_text(profile: Profile) -> str:
    return "".join(
        f"{';'.join(stack)} {count}\n"
        for stack, count in folded_stacks(profile).items()
        if count > 0
    )


def write_folded(profile: Profile, path: Path | str) -> None:
    write_text(path, folded_text(profile))


# ---------------------------------------------------------------------------- all of it


def write_profile_dir(profile: Profile, outdir: Path | str, plots: bool = True) -> list[Path]:
    """Write ``profile.json``, ``stacks.dot``, ``stacks.folded`` (and the plots) to
    ``outdir``, creating it. Everything is rendered in a staging directory first and
    only then moved in, so on failure ``outdir`` holds nothing new (and is removed, with
    any parent, if this call created it)."""
    writers: list[tuple[str, Callable[[Profile, Path], None]]] = [
        ("profile.json", write_json),
        ("stacks.dot", write_dot),
        ("stacks.folded", write_folded),
    ]
    names = []
    with staged_dir(outdir) as (staging, _moved):
        for name, write in writers:
            write(profile, staging / name)
            names.append(name)
        if plots:
            from ruleopt.profile.plots import write_plots  # matplotlib only when asked

            names += [p.name for p in write_plots(profile, staging)]
    return [Path(outdir) / name for name in names]
