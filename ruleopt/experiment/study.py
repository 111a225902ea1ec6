"""The study's own figures (``../shared/seed/``), the claims a report checks.

"Write below etc": ~300 clock cycles per unmatched check, ~34,000 per matched one; the
output (``falco_outputs::handle_event()``) almost double the rule checks; Falco starts
dropping events near 1M breaking events per second.
"""

from __future__ import annotations

STUDY_RULE = "Write below etc"
STUDY_UNMATCHED = 300  # cycles per unmatched check of STUDY_RULE
STUDY_MATCHED = 34_000  # cycles per matched check of STUDY_RULE
STUDY_OUTPUT_FACTOR = 2.0  # output ≈ this times the check
STUDY_DROP = 1e6  # breaking events/s at which drops start
