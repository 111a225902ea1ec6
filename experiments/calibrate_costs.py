"""Cycles per check of one operand in libsinsp 2022 (the static cost model's figures).

Usage: python3 experiments/calibrate_costs.py CAPTURE.scap (a generated 0.26.2 capture).
Each operand runs as `evt.type in (open, openat) and (OP or evt.num = 0)` (the `or` keeps
the check from failing early), next to the bare type test, in one harness run.
"""

import sys

from ruleopt.events.sinsp import run_harness

base = "evt.type in (open, openat)"
ops = [
    "evt.num >= 0",
    "evt.arg.flags contains O_TRUNC",
    "evt.rawarg.flags > 0",
    "fd.name contains bash_history",
    "fd.name startswith /etc",
    "fd.directory in (/var/log, /dev/log)",
    "fd.filename in (a, b, c)",
    "evt.is_open_write = true",
    "fd.typechar = f",
    "fd.num >= 0",
    "proc.name in (a, b, c, d, e, f)",
    "proc.name = a",
    "proc.aname = a",
    "proc.aname[2] = a",
    "proc.cmdline contains x",
    "proc.args contains x",
    "container.image.repository endswith x",
    "container.id = host",
    "user.name = root",
    "proc.pname = a",
    "evt.dir = <",
    "fd.sip = 1.2.3.4",
    "fd.net = 10.0.0.0/8",
    "fd.port = 80",
    "proc.pcmdline contains a",
    "evt.arg.name contains a",
    "fd.l4proto = udp",
    "evt.rawres >= 0",
]
rules = (
    [(0, "base", base)]
    + [(k + 1, o, f"{base} and ({o} or evt.num = 0)") for k, o in enumerate(ops)]
    + [(len(ops) + 1, "base2", base)]
)
doc = run_harness(sys.argv[1], rules, 3)
res = {}
for h in doc["rules"]:
    n = h["evaluations"]
    c = h["cycles_matched"]["sum"] + h["cycles_unmatched"]["sum"]
    res[h["name"]] = c / max(1, n)
b = (res["base"] + res["base2"]) / 2
for o in ops:
    print(f"{res[o] - b:7.0f} {o}")
print("base", res["base"], res["base2"])
