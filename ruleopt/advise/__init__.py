"""``ruleopt advise``: per-rule figures on the real engine and the replica, and findings.

``operands`` splits a rule's condition into its top-level operands and writes the probe
rules that measure each one; ``measure`` runs the rules and the probes through libsinsp's
harness (and the rules through the replica) on the same events; ``validators`` holds one
small validator per finding code; ``run`` is one run on one events input (the capture
libsinsp reads, the measurement, the findings, the report), for the command and the
experiment's advise cells alike; ``html`` writes the self-contained report page.
"""
