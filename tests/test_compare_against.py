"""``ruleopt compare RULES_A --against RULES_B [EVENTS]``: two rulesets on the same events.

A file against itself and against its ``optimize``d version give no alert difference on
both engines (a shared capture, and a small generated table written as a capture); planted
changes are reported rule by rule (a narrowed condition differs at the right evt.num, a
removed rule vanishes, an added one appears) and exit 1; bad ``--against`` input is one
clear error.
"""

from __future__ import annotations

import json

import pytest
from conftest import RULESETS, TRACES

from ruleopt.cli import main
from ruleopt.commands import compare_against as CA
from ruleopt.events.generator import generate
from ruleopt.events.load import load_events
from ruleopt.rewrite import optimize as opt
from ruleopt.rules.loader import load_rules

TRACE = TRACES / "run_as_user_0_container.scap"
RULES = RULESETS / "falco_rules-falco-0.26.2.yaml"


def _run(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(["compare", *argv, "--json", "--repeat", "1", "--engine", "both"])
    return code, json.loads(capsys.readouterr().out)


def _check_shape(doc: dict) -> None:
    assert doc["engines"] == ["replica", "libsinsp"]
    for eng in doc["engines"]:
        cost = doc["engines_cost"][eng]
        c = cost["cycles_per_event"]
        assert c["a"]["median"] > 0 and c["b"]["median"] > 0
        rounds = [x / y for x, y in zip(c["a"]["repeats"], c["b"]["repeats"], strict=True)]
        assert c["ratio_a_over_b"]["median"] == pytest.approx(sorted(rounds)[len(rounds) // 2])
        assert isinstance(cost["noisy"], list)
        assert cost["per_rule"], eng
        checked = [r for r in cost["per_rule"] if r["a"] and r["a"]["checks"]]
        assert checked, f"{eng}: some rule is checked"
        assert all(r["a"]["cycles_per_check"] > 0 for r in checked)


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    original = load_rules([RULES])
    result = opt.optimize([RULES], [(load_events(TRACE, original), TRACE)])
    assert result.rewrites and not result.reverted
    path = tmp_path_factory.mktemp("opt") / "optimized.yaml"
    path.write_text(result.text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    table = generate(load_rules([RULES]), 3000, seed=7, break_share=0.01)
    path = tmp_path_factory.mktemp("ev") / "events.npz"
    table.save(path)
    return path


def test_a_file_against_itself_has_no_difference(capsys) -> None:
    code, doc = _run(capsys, [str(RULES), "--against", str(RULES), str(TRACE)])
    assert code == 0
    assert doc["alert_differences"] == 0 and doc["differences"] == []
    assert {r["status"] for r in doc["rules"]} == {"same"}
    assert all(r["engines_judged"] == ["reference", "libsinsp", "replica"] for r in doc["rules"])
    _check_shape(doc)
    # The same rules on the same events: the same per-rule checks and matches.
    for r in doc["engines_cost"]["libsinsp"]["per_rule"]:
        assert r["a"]["checks"] == r["b"]["checks"] and r["a"]["matches"] == r["b"]["matches"]


@pytest.mark.parametrize("where", ["capture", "generated"])
def test_a_file_against_its_optimized_version(where, optimized, small_table, capsys) -> None:
    events = TRACE if where == "capture" else small_table
    # The events file before --against this time: both places are accepted.
    code, doc = _run(capsys, [str(RULES), str(events), "--against", str(optimized)])
    assert code == 0, doc["differences"]
    assert doc["alert_differences"] == 0
    assert len(doc["rules"]) == len(load_rules([RULES]).enabled_rules()) - len(
        {s["rule"] for s in doc["skipped_rules"] if s["ruleset"] == "A"}
    )
    if where == "generated":
        assert doc["capture"] is not None  # the table was written as a capture
        matched = sum(r["a_matches"] for r in doc["rules"])
        assert matched > 0, "the 1% breaking workload makes rules match"
    _check_shape(doc)


RULE = "- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o %proc.name\n  priority: INFO\n"


def _rules(path, rules: list[tuple[str, str]]):
    path.write_text("".join(RULE.format(name=n, cond=c) for n, c in rules), encoding="utf-8")
    return path


def test_planted_changes_are_reported_rule_by_rule(tmp_path, capsys) -> None:
    a = _rules(
        tmp_path / "a.yaml",
        [
            ("shell", "evt.type = openat and proc.name = bash"),
            ("any open", "evt.type = openat"),
            ("cat open", "evt.type = openat and proc.name = cat"),
        ],
    )
    b = _rules(
        tmp_path / "b.yaml",
        [
            ("shell", "evt.type = openat and proc.name = bash and fd.name = /etc/passwd"),
            ("any open", "evt.type = openat"),
            ("sh open", "evt.type = openat and proc.name = sh"),
        ],
    )
    events = tmp_path / "e.jsonl"
    rows = [
        {"evt.num": 1, "evt.type": "openat", "proc.name": "bash", "fd.name": "/etc/passwd"},
        {"evt.num": 2, "evt.type": "openat", "proc.name": "cat", "fd.name": "/tmp/x"},
        {"evt.num": 3, "evt.type": "openat", "proc.name": "bash", "fd.name": "/tmp/y"},
        {"evt.num": 4, "evt.type": "openat", "proc.name": "sh", "fd.name": "/tmp/z"},
    ]
    events.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, doc = _run(capsys, [str(a), "--against", str(b), str(events)])
    assert code == 1
    by = {r["rule"]: r for r in doc["rules"]}
    assert [r["rule"] for r in doc["rules"]] == ["shell", "any open", "cat open", "sh open"]
    assert by["any open"]["status"] == "same"
    assert by["any open"]["engines_judged"] == ["reference", "libsinsp", "replica"]
    assert by["shell"]["status"] == "differ"
    assert by["shell"]["first_difference"] == 3
    assert (by["shell"]["a_matches"], by["shell"]["b_matches"]) == (2, 1)
    assert by["cat open"]["status"] == "vanish" and by["cat open"]["first_difference"] == 2
    assert by["sh open"]["status"] == "appear" and by["sh open"]["first_difference"] == 4
    assert doc["alert_differences"] == 3
    assert [d["rule"] for d in doc["differences"]] == ["shell", "cat open", "sh open"]

    # The replica's own judgement, rule by rule: every rule checked, not first-match.
    set_b = load_rules([b])
    got = CA.replica_matches(list(set_b.enabled_rules()), load_events(events, set_b))
    assert got == {"shell": [1], "any open": [1, 2, 3, 4], "sh open": [4]}

    # The terminal report says the same, and exits 1.
    code = main(["compare", str(a), "--against", str(b), str(events), "--repeat", "1"])
    out = capsys.readouterr().out
    assert code == 1
    for word in ("alert differences: 3", "differ", "vanish", "appear", "cycles per event"):
        assert word in out


def test_missing_file_after_against_is_one_error(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.yaml"
    code = main(["compare", str(RULES), "--against", str(missing), str(TRACE)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert str(missing) in captured.err and "Traceback" not in captured.err


def test_an_empty_events_path_after_against_is_an_error(capsys) -> None:
    # A fuzz case: '' after --against was dropped, and the run silently took the default
    # 200,000-event workload on both engines (over 20 s) instead of refusing the path.
    code = main(["compare", str(RULES), "--against", str(RULES), "", "--engine", "replica"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "'': the path is empty" in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("tail", [[], [str(TRACE)]], ids=["nothing", "events only"])
def test_against_with_no_rules_file_is_one_error(tail, capsys) -> None:
    code = main(
        ["compare", str(RULES), *tail, "--against"]
        if not tail
        else ["compare", str(RULES), "--against", *tail]
    )
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "--against names no rules file" in captured.err
    assert "Traceback" not in captured.err


def test_the_events_serve_both_rulesets(tmp_path) -> None:
    """The default workload is generated for A and B together: every field either reads,
    B's rules renumbered after A's (the generator keys its templates by rule id)."""
    from ruleopt.events.load import needed_keys

    a = load_rules([_rules(tmp_path / "a.yaml", [("x", "evt.type = openat and proc.name = a")])])
    b = load_rules([_rules(tmp_path / "b.yaml", [("y", "evt.type = execve and fd.name = /b")])])
    both = CA.merged(a, b)
    assert [r.id for r in both.rules] == [0, 1]
    assert {"proc.name", "fd.name"} <= set(needed_keys(both))
    table = generate(both, 400, seed=1, break_share=0.05)
    types = set(table.column("evt.type").values.tolist())
    assert len(types) >= 2
