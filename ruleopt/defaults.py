"""Bundled defaults: the project's own ruleset and the default workload's settings."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The project's own seed-era ruleset ("Write below etc" and friends), the bundled default.
DEFAULT_RULES = REPO / "rulesets" / "seed_rules.yaml"
