"""``compare --profile DIR``: a profile per engine and strategy, the study's three outputs.

For every strategy compare measured, ``DIR/<engine>-<strategy>/`` gets ``profile.json``,
``stacks.dot`` (graphviz) and ``stacks.folded`` (flamegraph input), written by
``ruleopt.profile.writers``:

* ``libsinsp-<strategy>``: the real engine's stage x branch cells (``next()``, index,
  rule checks, output, the iteration; RULES_UNBROKEN / RULES_BROKEN), from the passes
  compare measured (``ruleopt.profile.real_report``);
* ``replica-<strategy>``: one rules-traced pass (per-rule cells) and one stacks-traced
  pass (stage x branch cells) of the strategy's core, as ``ruleopt profile`` measures
  (``ruleopt.profile.core_report``); the replica formats alerts in Python after the
  core, so its ``output`` stage is the core's emission of (event, rule) pairs.

Everything is written all or nothing: on any failure ``DIR`` holds nothing new.
"""

from __future__ import annotations

import os
from pathlib import Path

from ruleopt.engine import strategies as S
from ruleopt.engine.core import run_core
from ruleopt.engine.real import RealRun
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.fsutil import check_output_dir, shown, staged_dir
from ruleopt.profile.core_report import profile_from_core
from ruleopt.profile.model import Profile
from ruleopt.profile.real_report import profile_from_real
from ruleopt.profile.writers import write_profile_dir
from ruleopt.rules.model import Rule


def check_profile_dir(path: str | Path) -> None:
    """Refuse, before any measuring, a ``--profile DIR`` that cannot be written or
    already holds something (a second run goes to a new or empty directory)."""
    check_output_dir(path)
    p = Path(path)
    if p.is_dir() and any(p.iterdir()):
        raise RuleoptError(
            "the --profile directory is not empty",
            file=shown(p),
            hint="choose a new or empty --profile DIR",
        )


def replica_profiles(
    rules: list[Rule], table: EventTable, names: list[str], *, first_match: bool
) -> dict[str, Profile]:
    """Per strategy: one rules-traced and one stacks-traced pass, merged."""
    compiled, kept = S.compile_for(rules, table)
    out = {}
    for name in names:
        p = S.prepare(name, compiled, table, kept)
        passes = [
            run_core(p.compiled, table, build, first_match=first_match)
            for build in ("rules", "stacks")
        ]
        s = p.strategy
        out[f"replica-{name}"] = profile_from_core(
            passes,
            p.compiled,
            table,
            variant=name,
            settings={
                "strategy": {"index": s.index, "matcher": s.matcher, "output": s.output},
                "mode": "first" if first_match else "all",
            },
            rules=kept,
        )
    return out


def real_profiles(run: RealRun) -> dict[str, Profile]:
    return {
        f"libsinsp-{res.name}": profile_from_real(res, mode=run.mode, capture=run.capture)
        for res in run.results
    }


def write_profiles(outdir: str | Path, profiles: dict[str, Profile]) -> list[Path]:
    """``outdir/<key>/{profile.json,stacks.dot,stacks.folded}`` for every profile."""
    written: list[Path] = []
    with staged_dir(outdir) as (staging, _moved):
        for key, prof in profiles.items():
            if os.sep in key or key.startswith("."):
                raise RuleoptError(f"not a profile directory name: {key!r}")
            written += [
                Path(outdir) / key / f.name
                for f in write_profile_dir(prof, staging / key, plots=False)
            ]
    return written


def write_compare_profiles(
    outdir: str | Path,
    rules: list[Rule],
    table: EventTable,
    replica_names: list[str],
    real_run: RealRun | None,
    *,
    mode: str,
) -> list[str]:
    """What compare writes for ``--profile DIR``: the replica's strategies in
    ``replica_names`` (traced passes measured here) and every strategy of ``real_run``."""
    profiles = replica_profiles(rules, table, replica_names, first_match=mode == "first")
    if real_run is not None:
        profiles.update(real_profiles(real_run))
    return [str(p) for p in write_profiles(outdir, profiles)]
