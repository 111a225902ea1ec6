"""Paths every command takes, checked before any work (rules, events, captures, outputs).

The checks themselves live in ``ruleopt.fsutil``; this module says which check each kind of
command-line path gets, so every command refuses the same bad paths the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ruleopt.errors import RuleoptError
from ruleopt.fsutil import check_input_file, check_output_dir, check_output_file

RULES_SUFFIXES = (".yaml", ".yml")

_EVENTS_HINT = (
    "pass an existing .npz, .scap or .jsonl file, or none for the bundled default workload"
)


def split_inputs(inputs: list[str]) -> tuple[list[str], str | None]:
    """Rules files (by suffix, in the order given) and the one events file, if any."""
    rules = [p for p in inputs if p.lower().endswith(RULES_SUFFIXES)]
    events = [p for p in inputs if not p.lower().endswith(RULES_SUFFIXES)]
    if len(events) > 1:
        # Located at the first extra one; names are quoted so blank ones stay visible.
        raise RuleoptError(
            "more than one events file (one event file at most): "
            + ", ".join(repr(e) for e in events),
            file=repr(events[1]),
            hint="rules files end in .yaml/.yml; give at most one events file "
            "(.npz, .scap or .jsonl)",
        )
    return rules, (events[0] if events else None)


def check_rules_files(paths: Sequence[Path | str]) -> None:
    """Every rules file exists, is a regular file and can be read."""
    for path in paths:
        check_input_file(path, "rules file", hint="pass existing Falco rules YAML files")


def check_events_file(path: Path | str | None) -> None:
    """The events file (None: the bundled workload) can be read and its kind is known."""
    if path is None:
        return
    from ruleopt.events.load import input_kind

    check_input_file(path, "events file", hint=_EVENTS_HINT)
    input_kind(path)


def check_capture(path: Path | str) -> None:
    """A ``.scap`` capture given to ``--trace``: readable, and named as a capture."""
    check_input_file(path, "capture", hint="pass an existing .scap capture")


def check_output(path: Path | str, *, directory: bool, suffix: str | None = None) -> None:
    """The output can be created, without creating it: for a file, its directory exists
    and is writable; for a directory, it or its nearest existing ancestor is."""
    if directory:
        check_output_dir(path)
    else:
        check_output_file(path, suffix=suffix)
