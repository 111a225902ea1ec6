"""Bundled defaults: the project's own ruleset and the default workload's settings."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# An installed wheel carries the rulesets inside the package (setup.py's build_py step);
# a source checkout (editable install included) has them in rulesets/ beside it.
RULESETS = Path(__file__).resolve().parent / "rulesets"
if not RULESETS.is_dir():
    RULESETS = REPO / "rulesets"
# The project's own seed-era ruleset ("Write below etc" and friends), the bundled default.
DEFAULT_RULES = RULESETS / "seed_rules.yaml"
