"""``ruleopt compare``'s verdict is judged by the reference evaluator, not only by the
strategies agreeing with each other: a run that every strategy gets wrong alike is
caught, and the report says which events the reference checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ruleopt.cli import main
from ruleopt.engine import oracle
from ruleopt.engine import strategies as S

RULES = """\
- rule: shell in etc
  desc: d
  condition: evt.type = open and fd.name startswith /etc and proc.name in (bash, sh)
  output: "%proc.name opened %fd.name"
  priority: WARNING
- rule: any cat
  desc: d
  condition: evt.type in (open, execve) and proc.name = cat
  output: "cat %evt.type"
  priority: NOTICE
"""


@pytest.fixture()
def workload(tmp_path):
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    events = tmp_path / "w.npz"
    assert (
        main(
            [
                "generate",
                "-r",
                str(rules),
                "-n",
                "3000",
                "--seed",
                "3",
                "--break-share",
                "0.2",
                "-o",
                str(events),
            ]
        )
        == 0
    )
    return str(rules), str(events)


def _compare(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(
        [
            "compare",
            *argv,
            "--json",
            "--repeat",
            "1",
            "--engine",
            "replica",
            "--strategies",
            "flat,reorder,finer,cached-output,best",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_all_agree_with_the_reference_on_every_event(workload, capsys) -> None:
    code, doc = _compare(capsys, list(workload))
    assert code == 0 and doc["equivalent"] is True
    ref = doc["reference_check"]
    assert ref["events"] == doc["n_events"] == 3000 and ref["sampled"] is False
    assert ref["description"] == "all 3,000 events"
    assert ref["reference_alerts"] == doc["strategies"][0]["alerts"] > 0
    for r in doc["strategies"]:
        assert r["equal_to_reference"] and r["reference_mismatches"] == 0


def test_a_run_every_strategy_gets_wrong_alike_is_caught(workload, capsys, monkeypatch) -> None:
    # Every strategy drops its first alert: they all still agree with each other (the old
    # verdict said "equivalent"), but not with the reference evaluator.
    real = S.summarize

    def drop_first(p, table, samples):
        res = real(p, table, samples)
        res.matches, res.match_rows, res.alerts = (
            res.matches[1:],
            res.match_rows[1:],
            res.alerts[1:],
        )
        return res

    monkeypatch.setattr(S, "summarize", drop_first)
    code, doc = _compare(capsys, list(workload))
    assert code == 1 and doc["equivalent"] is False
    first_row = None
    for r in doc["strategies"]:
        assert r["equal_to_baseline"] is True  # agreement among strategies alone
        assert r["equal_to_reference"] is False and r["reference_mismatches"] == 1
        m = r["first_reference_mismatch"]
        assert m["strategy_rule_id"] is None and m["reference_rule_id"] is not None
        first_row = first_row or m["evt_num"]
        assert m["evt_num"] == first_row


def test_the_table_names_the_check_and_a_broken_baseline(workload, capsys, monkeypatch) -> None:
    real = S.summarize

    def break_baseline(p, table, samples):
        res = real(p, table, samples)
        if p.strategy.name == "baseline":  # alert on a rule the reference does not match
            res.matches = [(num, 1 - rid) for num, rid in res.matches]
        return res

    monkeypatch.setattr(S, "summarize", break_baseline)
    code = main(
        ["compare", *workload, "--repeat", "1", "--strategies", "flat", "--engine", "replica"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "reference evaluator's on all 3,000 events" in out
    assert "baseline differs from the reference evaluator" in out
    assert "flat differs from the reference evaluator" not in out


def test_large_workloads_are_judged_on_a_stated_seeded_sample(
    workload, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(oracle, "REFERENCE_ROWS", 500)
    code, doc = _compare(capsys, list(workload))
    assert code == 0
    ref = doc["reference_check"]
    alerts = doc["strategies"][0]["alerts"]
    assert ref["sampled"] is True and ref["seed"] == oracle.REFERENCE_SEED
    assert ref["random_events"] == 500 and ref["baseline_alert_events"] == alerts
    assert ref["events"] == 500 + alerts and ref["node_budget"] is None
    assert ref["description"] == (
        f"{500 + alerts:,} events: a seeded sample (seed 0) of "
        f"500 events, plus every one of the {alerts:,} events "
        "the baseline alerted on"
    )


def test_a_node_budget_shrinks_the_sample_of_huge_conditions(workload, capsys, monkeypatch) -> None:
    monkeypatch.setattr(oracle, "REFERENCE_BUDGET", 2_000)
    code, doc = _compare(capsys, list(workload))
    assert code == 0
    ref = doc["reference_check"]
    assert ref["sampled"] and ref["node_budget"] == 2_000
    assert (
        0 < ref["events"] < doc["n_events"]
        and "at most 2,000 condition nodes" in ref["description"]
    )


def test_sample_holds_every_alert_row_and_mismatches_see_duplicates() -> None:
    s = oracle.reference_sample(10_000, [7, 9_999, 7], limit=100, seed=1)
    assert {7, 9_999} <= set(s.rows.tolist()) and np.all(np.diff(s.rows) > 0)
    assert s.alert_rows == s.baseline_alerts == 2 and len(s.rows) == 102
    assert oracle.reference_sample(50, [3]).rows.tolist() == list(range(50))
    # Costly rows: the budget bounds the judged rows' cost, alerts included (half of it).
    cost = np.full(10_000, 10)
    b = oracle.reference_sample(
        10_000, list(range(0, 10_000, 10)), row_cost=cost, budget=3_000, seed=2
    )
    assert int(cost[b.rows].sum()) <= 3_000 and b.budget == 3_000
    assert b.alert_rows == 150 and b.baseline_alerts == 1_000 and b.random_rows == 150
    assert "a seeded sample of 150 of the 1,000 events" in b.describe()
    assert (
        oracle.reference_sample(100, [], row_cost=np.full(100, 10), budget=1_000, seed=3).sampled
        is False
    )
    want = np.full(len(s.rows), oracle.NO_MATCH)
    k7 = int(np.searchsorted(s.rows, 7))
    want[k7] = 4
    assert oracle.mismatches(s, want, np.array([7]), np.array([4])) == []
    # Two alerts on one event, and an alert on a row outside the sample (ignored).
    outside = next(r for r in range(10_000) if r not in set(s.rows.tolist()))
    bad = oracle.mismatches(s, want, np.array([7, 7, outside]), np.array([4, 4, 2]))
    assert [(m.row, m.reference, m.strategy) for m in bad] == [(7, 4, 4)]
    bad = oracle.mismatches(s, want, np.array([9_999]), np.array([1]))
    assert [(m.row, m.reference, m.strategy) for m in bad] == [(7, 4, -1), (9_999, -1, 1)]
