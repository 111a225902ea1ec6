"""One advise run on one events input, as ``ruleopt advise`` and the experiment's advise
cells both do it: the capture libsinsp reads, the measurement, the findings, the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruleopt.advise.measure import measure
from ruleopt.advise.report import build_report
from ruleopt.advise.validators import run_validators
from ruleopt.events.load import input_kind
from ruleopt.events.table import EventTable
from ruleopt.events.workload_scap import write_capture
from ruleopt.rules.model import RuleSet

GENERATED_NOTE = (
    "a generated capture of the same events (libsinsp reads some cells otherwise: "
    "`ruleopt generate` lists them)"
)


def is_capture(events: str | Path | None) -> bool:
    """Whether libsinsp reads ``events`` as it is (else: as a generated capture)."""
    return events is not None and input_kind(events) == "capture"


def capture_for(table: EventTable, events: str | Path | None, workdir: Path) -> tuple[str, str]:
    """The capture libsinsp reads for ``table``'s events and how it came to be: a capture
    as it is; a table (or the bundled default workload) written into ``workdir`` as the
    generated capture of the same events."""
    if is_capture(events):
        return str(events), "the capture itself"
    capture = Path(workdir) / "events.scap"
    write_capture(table, capture)
    return str(capture), GENERATED_NOTE


def advise_report(
    ruleset: RuleSet,
    rule_files: list[str],
    table: EventTable,
    events: str | Path | None,
    source: str,
    capture: str,
    note: str,
    *,
    repeat: int,
    replica: bool = True,
    select: set[str] | None = None,
    ignore: set[str] | None = None,
) -> dict[str, Any]:
    """Measure ``capture`` (from :func:`capture_for`) and ``table``, run the validators and
    build the report (``ruleopt-advise/1``); ``source`` names the events in it."""
    m = measure(ruleset, capture, table, repeat=repeat, capture_note=note, replica=replica)
    if not is_capture(events):
        m.capture = f"generated capture of {source}"  # its temporary path means nothing
    return build_report(m, run_validators(m, select, ignore), rule_files, source)
