"""The real-libsinsp offline report: harness document → Profile, and `ruleopt harness`."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import RULESETS, TRACES

from ruleopt.cli import main
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.profile.harness_report import profile_from_harness
from ruleopt.profile.model import ALL, Hist, Profile
from ruleopt.rules.loader import load_rules

CAPTURE = TRACES / "cat_write.scap"
RULES = RULESETS / "falco_rules-falco-0.26.2.yaml"
FOLDED_LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* \d+$")


def _doc() -> dict:
    """A minimal document in run_harness's shape: one good rule, one libsinsp rejected."""
    return {
        "capture": "x.scap",
        "repeat": 2,
        "events": 3,
        "events_total": 6,
        "tsc_hz": 3_000_000_000,
        "rdtsc_overhead": 20,
        "next_cycles": Hist.of([500, 700, 900]).to_dict(),
        "event_types": [{"type": 2, "name": "open", "dir": ">", "count": 3}],
        "rules": [
            {
                "id": 4,
                "name": "Write below etc",
                "status": "ok",
                "error": None,
                "all_evttypes": False,
                "evttypes": ["open"],
                "evaluations": 3,
                "matches": 1,
                "matches_all_passes": 1,
                "cycles_matched": Hist.of([34_000]).to_dict(),
                "cycles_unmatched": Hist.of([300, 300]).to_dict(),
            },
            {
                "id": 7,
                "name": "Broken",
                "status": "error",
                "error": "bad field",
                "all_evttypes": True,
                "evttypes": [],
                "evaluations": 0,
                "matches": 0,
                "cycles_matched": Hist().to_dict(),
                "cycles_unmatched": Hist().to_dict(),
            },
        ],
    }


def test_profile_from_harness_keeps_only_measured_stages():
    p = profile_from_harness(_doc())
    assert p.engine == "libsinsp-2022"
    assert list(p.stages) == ["next_event"]  # the rest is absent, not zero
    assert list(p.stages["next_event"].branches) == [ALL]
    assert p.stages["next_event"].branches[ALL].mean == 700
    assert any("not measured" in n for n in p.notes)
    [r] = p.rules
    assert (r.id, r.checks, r.matches, r.matched.mean, r.unmatched.mean) == (4, 3, 1, 34_000, 300)
    assert r.evttypes == ["open"]
    assert p.settings["rejected_rules"] == [{"id": 7, "name": "Broken", "error": "bad field"}]
    assert (p.events, p.repeat, p.tsc_hz) == (3, 2, 3e9)
    assert Profile.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_profile_from_harness_rejects_malformed_documents():
    doc = _doc()
    del doc["next_cycles"]
    with pytest.raises(RuleoptError, match="malformed harness document"):
        profile_from_harness(doc)


def test_harness_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "report"
    rc = main(
        ["harness", str(RULES), "--trace", str(CAPTURE), "--repeat", "2", "-o", str(out), "--json"]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out)
    names = {"profile.json", "stacks.dot", "stacks.folded", "rule_latency.svg", "rule_totals.svg"}
    assert {p.name for p in out.iterdir()} == names

    judged = [r for r in load_rules(RULES).enabled_rules() if not unsupported_reason(r)]
    profile = Profile.from_dict(json.loads((out / "profile.json").read_text()))
    assert profile.engine == "libsinsp-2022" and profile.repeat == 2
    # Every judged rule is either profiled or listed as rejected by libsinsp.
    profiled = {r.name for r in profile.rules}
    rejected = {r["name"] for r in profile.settings["rejected_rules"]}
    assert profiled | rejected == {r.name for r in judged}
    assert not profiled & rejected
    assert sum(r.checks for r in profile.rules) > 0
    assert all(r.checks == r.matched.count + r.unmatched.count for r in profile.rules)
    # 85 non-internal events in cat_write.scap, each seen twice.
    assert profile.events == 85 and profile.settings["events_total"] == 170

    assert summary["rules"] == len(profile.rules)
    assert summary["cycles_per_check_unmatched"] > 0
    assert summary["cycles_per_next"] > 0
    assert summary["study"]["cycles_per_check_matched"] == 34_000
    top = summary["top_rules"]
    assert top and [t["total_cycles"] for t in top] == sorted(
        (t["total_cycles"] for t in top), reverse=True
    )

    svg = subprocess.run(["dot", "-Tsvg", str(out / "stacks.dot")], capture_output=True, text=True)
    assert svg.returncode == 0, svg.stderr
    assert "next_event" in svg.stdout and "main loop" in svg.stdout
    lines = (out / "stacks.folded").read_text().splitlines()
    assert all(FOLDED_LINE.match(line) for line in lines)
    assert "main;iteration;next_event" in {line.rsplit(" ", 1)[0] for line in lines}


def test_harness_command_prints_tables(tmp_path, capsys):
    rc = main(
        ["harness", str(RULES), "--trace", str(CAPTURE), "-o", str(tmp_path / "o"), "--no-plots"]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert "top" in text and "per next()" in text and "~34,000" in text
    assert not (tmp_path / "o" / "rule_latency.svg").exists()


def test_harness_command_errors_are_located(tmp_path, capsys):
    rc = main(
        [
            "harness",
            str(RULES),
            "--trace",
            str(tmp_path / "missing.scap"),
            "-o",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 1
    assert "missing.scap: no such capture" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exc:  # argparse's usage error
        main(
            [
                "harness",
                str(RULES),
                "--trace",
                str(CAPTURE),
                "--repeat",
                "0",
                "-o",
                str(tmp_path / "o"),
            ]
        )
    assert exc.value.code == 2 and "--repeat" in capsys.readouterr().err
