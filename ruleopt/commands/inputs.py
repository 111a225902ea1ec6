"""Positional inputs shared by the commands that take ``[RULES...] [EVENTS]``."""

from __future__ import annotations

from ruleopt.errors import RuleoptError

RULES_SUFFIXES = (".yaml", ".yml")


def split_inputs(inputs: list[str]) -> tuple[list[str], str | None]:
    """Rules files (by suffix, in the order given) and the one events file, if any."""
    rules = [p for p in inputs if p.lower().endswith(RULES_SUFFIXES)]
    events = [p for p in inputs if not p.lower().endswith(RULES_SUFFIXES)]
    if len(events) > 1:
        raise RuleoptError(
            f"more than one events file (one event file at most): {', '.join(events)}",
            hint="rules files end in .yaml/.yml; give at most one events file "
                 "(.npz, .scap or .jsonl)")  # fmt: skip
    return rules, (events[0] if events else None)
