"""Differential tests against the real libsinsp: the index and every rule's matches."""

import json

import pytest
from conftest import READABLE_TRACES, REPO, RULESETS, TRACES, UNREADABLE

from ruleopt.cli import main
from ruleopt.engine.verify import unsupported_reason, verify_capture
from ruleopt.events import sinsp
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

PROBE = REPO / "rulesets" / "probe_rules.yaml"
RULESET_FILES = {
    "0.26.2": [RULESETS / "falco_rules-falco-0.26.2.yaml"],
    "main": [RULESETS / "falco_rules-main.yaml"],
    "1.0.0": [RULESETS / "falco_rules-1.0.0.yaml"],
    "main+incubating": [
        RULESETS / "falco_rules-main.yaml",
        RULESETS / "falco-incubating_rules-main.yaml",
    ],
    "probe": [PROBE],
    "seed": [REPO / "rulesets" / "seed_rules.yaml"],
}


@pytest.mark.parametrize("name", sorted(RULESET_FILES))
def test_index_equals_libsinsp_evttypes(name):
    """Our event-type sets equal what libsinsp 2022's compiled filters report."""
    rules = [
        r for r in load_rules(RULESET_FILES[name]).enabled_rules() if not unsupported_reason(r)
    ]
    probe = (10**6, "catch-all", "evt.num >= 0")
    doc = sinsp.run_harness(
        TRACES / "syscall.scap", [probe] + [(r.id, r.name, print_expr(r.condition)) for r in rules]
    )
    universe = set(doc["rules"][0]["evttypes"])
    assert len(universe) > 100
    checked = 0
    for rule, real in zip(rules, doc["rules"][1:], strict=True):
        if real["status"] != "ok":
            continue
        # An empty set is reported as "all" with no names: Falco files it everywhere.
        assert real["all_evttypes"] == rule.evttypes.is_empty, rule.name
        ours = {n for n in universe if rule.evttypes.matches(n)}
        assert set(real["evttypes"]) == ours, rule.name
        checked += 1
    # libsinsp 2022 rejects a few rules (see ../shared/rulesets/README.md); most it judges.
    assert checked > len(rules) * 3 // 4


@pytest.mark.parametrize("ruleset", ["0.26.2", "main", "probe"])
@pytest.mark.parametrize("trace", READABLE_TRACES, ids=lambda p: p.stem)
def test_verify_same_as_libsinsp(ruleset, trace):
    verdicts = verify_capture(load_rules(RULESET_FILES[ruleset]), trace)
    differ = [(v.rule, v.first_difference) for v in verdicts if v.status == "differ"]
    assert differ == []
    same = [v for v in verdicts if v.status == "same"]
    # ../shared/rulesets/README.md: libsinsp 2022 accepts 58 of 59 rules of 0.26.2 (57 of
    # them enabled) and 19 of 25 of main; every probe rule.
    assert len(same) == {"0.26.2": 57, "main": 19, "probe": 21}[ruleset]
    if ruleset == "probe":
        assert sum(len(v.ours) for v in verdicts) > 0


def test_probe_rules_match_real_events():
    """The probe ruleset makes the differential check meaningful: many matches."""
    verdicts = verify_capture(load_rules([PROBE]), TRACES / "curl_google.scap")
    matched = [v for v in verdicts if v.ours]
    assert len(matched) >= 12
    assert sum(len(v.ours) for v in verdicts) > 1000
    assert all(v.ours == v.libsinsp for v in verdicts)


def test_verify_cli_json(capsys):
    code = main(["verify", str(PROBE), "--trace", str(TRACES / "cat_write.scap"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["counts"]["differ"] == 0
    rule = next(r for r in doc["rules"] if r["rule"] == "probe eq")
    assert set(rule) >= {"rule", "ours", "libsinsp", "status"}
    assert rule["status"] == "same" and rule["ours"] == rule["libsinsp"] != []


def test_verify_reports_unsupported_fields(capsys):
    main(
        [
            "verify",
            str(RULESETS / "falco_rules-main.yaml"),
            "--trace",
            str(TRACES / "syscall.scap"),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    unsupported = [r for r in doc["rules"] if r["status"] == "unsupported"]
    assert unsupported
    assert any(
        "proc.pexe" in (r["reason"] or "") or "fd.nameraw" in (r["reason"] or "")
        for r in unsupported
    )


def test_verify_unreadable_capture_is_a_clear_error(capsys):
    code = main(["verify", str(PROBE), "--trace", str(TRACES / UNREADABLE)])
    err = capsys.readouterr().err
    assert code == 1
    assert UNREADABLE in err and "Traceback" not in err
