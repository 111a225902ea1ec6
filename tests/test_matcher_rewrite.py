"""Matcher ``rewrite`` on both engines and no training on the test (``compare --train``).

- the composition of rewrites the matcher uses keeps the reference evaluator's result on
  every generated condition and event (order learned on other events), keeps the
  event-type set, and prints back to itself;
- every learning strategy, trained on one generated table and measured on another,
  gives the reference evaluator's matches;
- the learned parts (rewritten conditions, child order, the finer tree's plan) come from
  the training table alone: measured tables that differ give the same learned parts,
  equal to those learned on the training table itself;
- ``compare --engine both --strategies baseline,rewrite`` is equivalent on every shared
  capture and on a generated 0.26.2 capture, and says what it trained on;
- a bad ``--train`` is one located error.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import READABLE_TRACES, RULESETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import KEYS, events
from test_rewrite import CONDITIONS, EVENTS, _same_matches
from test_strategies import _want, rulesets

from ruleopt.cli import main
from ruleopt.engine import matcher_rewrite as MR
from ruleopt.engine import strategies as S
from ruleopt.events.generator import generate
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import evttypes_of
from ruleopt.rules.loader import load_rules
from ruleopt.rules.parser import parse_condition

RULES_0262 = RULESETS / "falco_rules-falco-0.26.2.yaml"
PROBE_RULES = Path(__file__).resolve().parents[1] / "rulesets" / "probe_rules.yaml"
LEARNING = [n for n, s in S.STRATEGIES.items() if S.learns(s)]


@settings(max_examples=150, deadline=None)
@given(cond=CONDITIONS, train=EVENTS, events=EVENTS)
def test_the_matchers_rewrite_keeps_every_match(cond, train, events) -> None:
    out = MR.rewrite_condition(cond, train)
    _same_matches(cond, out, events + train)
    assert evttypes_of(out) == evttypes_of(cond)
    if not any(isinstance(n, ast.BoolConst) for n in ast.walk(out)):
        assert parse_condition(ast.print_expr(out)) == out


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rules=rulesets(),
    train=st.lists(events(), min_size=1, max_size=12),
    recs=st.lists(events(), min_size=1, max_size=12),
)
def test_learning_strategies_held_out_equal_the_reference(rules, train, recs) -> None:
    table, train_t = EventTable.from_records(recs, KEYS), EventTable.from_records(train, KEYS)
    want_first, _all = _want(rules, table)
    compiled, kept = S.compile_for(rules, table)
    for name in LEARNING:
        p = S.prepare(name, compiled, table, kept, train=train_t)
        res = S.summarize(p, table, [S.measure_once(p, table)])
        assert set(res.matches) == want_first and len(res.matches) == len(want_first), name


@pytest.fixture(scope="module")
def workloads():
    rules = load_rules([str(RULES_0262)])
    train = generate(rules, 3000, seed=11, break_share=0.05)
    measured = [generate(rules, 3000, seed=s, break_share=0.05) for s in (12, 13)]
    return rules, train, measured


def _learned(p: S.Prepared) -> tuple:
    prog = p.compiled.program
    return (
        p.learned.get("conditions"),
        p.learned.get("finer_plan"),
        None if prog is None else prog.order,
    )


@pytest.mark.parametrize("name", ["rewrite", "reorder", "finer", "best", "best-program"])
def test_learned_parts_come_from_the_training_table_only(workloads, name, monkeypatch) -> None:
    rules, train, measured = workloads
    real_core = S.call_core

    def steady(*args, **kwargs):
        # reorder's cycles are timed, so they vary between runs of one table: the same
        # figure per node keeps the order a function of the training rows' truth alone.
        probe = real_core(*args, **kwargs)
        probe["cycles"] = np.ones_like(probe["cycles"])
        return probe

    monkeypatch.setattr(S, "call_core", steady)
    kept = S.syscall_rules(rules.enabled_rules())
    on_train = S.prepare(name, S.compile_for(kept, train)[0], train, kept)
    got = []
    for table in measured:
        compiled, _ = S.compile_for(kept, table)
        p = S.prepare(name, compiled, table, kept, train=train, trained_on="seed 11")
        assert p.trained_on == "seed 11"
        got.append(_learned(p))
    assert got[0] == got[1] == _learned(on_train)
    assert any(x for x in got[0])  # something was learned (and compared)


def test_the_finer_plan_routes_values_it_never_saw(workloads) -> None:
    """A tree whose fields were chosen on another table still sends every event to
    every rule that can match it (the measured table's own values decide the child)."""
    rules, train, measured = workloads
    kept = S.syscall_rules(rules.enabled_rules())
    table = measured[0]
    compiled, _ = S.compile_for(kept, table)
    want_first, _all = _want(kept, table)
    p = S.prepare("finer", compiled, table, kept, train=train)
    assert p.compiled.dtree.stats["discriminators"]
    res = S.summarize(p, table, [S.measure_once(p, table)])
    assert set(res.matches) == want_first and res.matches


def _compare(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(["compare", *argv, "--json", "--repeat", "1"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("capture", READABLE_TRACES, ids=lambda p: p.name)
def test_rewrite_on_both_engines_on_every_shared_capture(capture, capsys) -> None:
    for rules in (PROBE_RULES, RULES_0262):
        argv = [str(rules), str(capture), "--engine", "both", "--strategies", "baseline,rewrite"]
        code, doc = _compare(capsys, argv)
        assert code == 0 and doc["equivalent"] is True, rules
        rows = {(r["engine"], r["strategy"]): r for r in doc["strategies"]}
        both = ("replica", "libsinsp")
        assert set(rows) == {(e, s) for e in both for s in ("baseline", "rewrite")}
        assert all(r["equal_to_reference"] for r in rows.values())
        assert rows["libsinsp", "rewrite"]["alerts"] == rows["libsinsp", "baseline"]["alerts"]
        assert "held out" in rows["libsinsp", "rewrite"]["trained_on"]
        assert rows["libsinsp", "baseline"]["trained_on"] is None
        assert all(c["same_alerts"] for c in doc["cross_engine"]["strategies"])


def test_rewrite_on_a_generated_capture_trained_on_several_inputs(tmp_path, capsys) -> None:
    cap, train = tmp_path / "w.scap", tmp_path / "t.npz"
    for out, seed in ((cap, "5"), (train, "6")):
        argv = ["generate", "-r", str(RULES_0262), "-n", "1500", "--seed", seed]
        assert main([*argv, "--break-share", "0.05", "-o", str(out)]) == 0
    capsys.readouterr()
    labels = {}
    for spec in (None, "same", "seed:9", str(train)):
        argv = [str(RULES_0262), str(cap), "--engine", "both", "--strategies", "rewrite"]
        code, doc = _compare(capsys, argv + ([] if spec is None else ["--train", spec]))
        assert code == 0 and doc["equivalent"] is True, spec
        rw = [r for r in doc["strategies"] if r["strategy"] == "rewrite"]
        assert len(rw) == 2 and rw[0]["alerts"] == rw[1]["alerts"] > 0
        assert rw[0]["trained_on"] == rw[1]["trained_on"] == doc["trained_on"]
        labels[spec] = doc["trained_on"]
    assert labels["same"].startswith("same")
    assert "seed 9" in labels["seed:9"] and labels[str(train)] == str(train)
    assert labels[None].startswith("held out")


def test_bad_train_is_one_located_error(tmp_path, capsys) -> None:
    base = ["compare", str(RULES_0262), "--engine", "replica", "--train"]
    other = tmp_path / "other.npz"
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name = x\n"
        "  output: o\n  priority: INFO\n"
    )
    t = generate(load_rules([str(rules)]), 50, seed=1)
    t.save(other)
    text = tmp_path / "events.txt"
    text.write_text("x")
    for spec, want in (
        ("seed:x", "--train 'seed:x': the seed"),
        ("seed:-1", "'seed:-1'"),
        (str(tmp_path / "missing.npz"), "missing.npz: no such events file"),
        (str(tmp_path), "not a events file"),
        (str(text), "cannot tell what kind of event file"),
        ("", "--train names no training events"),
    ):
        assert main([*base, spec]) == 1, spec
        err = capsys.readouterr().err
        assert want in err and "Traceback" not in err, (spec, err)
    # A training table without the fields these rules read: the file is named.
    assert main([*base, str(other), "--repeat", "1"]) == 1
    err = capsys.readouterr().err
    assert "other.npz" in err and "lacks" in err and "Traceback" not in err
    assert main(["compare", str(RULES_0262), "--against", str(rules), "--train", "same"]) == 1
    assert "--train" in capsys.readouterr().err
    assert np.asarray(t.evt_num).size == 50
