"""Index ``finer`` on the real engine (``plugin/sinsp_finer.cpp``, ``ruleopt.engine.real_finer``):
the tree is trained on one workload and measured on another, values training never saw are
routed by libsinsp's own answer, and every alert equals stock libsinsp's (and the reference
evaluator's); a conjunct libsinsp rejects leaves its rule in, a malformed tree is one clear
error."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import READABLE_TRACES, RULESETS, TRACES

from ruleopt.cli import main
from ruleopt.engine import oracle, real
from ruleopt.engine import strategies as S
from ruleopt.engine.finer import StreamCost
from ruleopt.engine.real_finer import UNCACHEABLE_FIELDS, FinerNode, FinerTree, build_tree
from ruleopt.errors import RuleoptError
from ruleopt.events.load import load_events
from ruleopt.rules import ast
from ruleopt.rules.loader import load_rules
from ruleopt.rules.parser import parse_condition

RULES_0262 = RULESETS / "falco_rules-falco-0.26.2.yaml"
BASELINE = S.get_strategy("baseline")
FINER = S.get_strategy("finer")
# finer with proposal 3's output (the composition the real engine has of `best` today).
FINER_CACHED = S.Strategy("finer-cached", "finer", "recursive", "cached")


def _rules(path) -> list:
    kept, _ = real.engine_rules(S.syscall_rules(load_rules([str(path)]).enabled_rules()))
    return kept


def _generate(out, seed: int) -> None:
    argv = ["generate", "-r", str(RULES_0262), "-n", "1500", "--seed", str(seed)]
    assert main([*argv, "--break-share", "0.05", "-o", str(out)]) == 0


@pytest.fixture(scope="module")
def rules_0262():
    return _rules(RULES_0262)


@pytest.fixture(scope="module")
def workloads(tmp_path_factory):
    """(training capture, measured capture): the same generator, seeds 5 and 6."""
    d = tmp_path_factory.mktemp("finer")
    train, test = d / "train.scap", d / "test.scap"
    _generate(train, 5)
    _generate(test, 6)
    return train, test


@pytest.fixture(scope="module")
def tree_0262(rules_0262, workloads):
    train = load_events(workloads[0], rules_0262)
    return build_tree(rules_0262, train, trained_on="seed 5")


def _same_as_stock(run: real.RealRun) -> None:
    base = run.results[0]
    assert base.strategy.index == "evttype"
    for res in run.results[1:]:
        assert res.alert_keys() == base.alert_keys(), res.name
        assert res.rules_checked_per_event <= base.rules_checked_per_event
        assert res.finer is not None and res.finer["load_errors"] == []


def test_tree_nodes_read_one_field_each(tree_0262, rules_0262) -> None:
    ids = {r.id for r in rules_0262}
    assert tree_0262.nodes and tree_0262.roots
    for i, node in enumerate(tree_0262.nodes):
        assert node.conjuncts
        for rid, text in node.conjuncts:
            assert rid in ids
            # The cache is valid because each conjunct reads the node's field alone.
            assert {ast.print_operand(f) for f in ast.fields_of(parse_condition(text))} == {
                node.field
            }
        for key, child in node.children:
            assert child > i and list(key) == sorted(key)
            assert set(key) <= {rid for rid, _ in node.conjuncts}


def test_trained_on_another_seed_equals_stock_and_reference(
    tree_0262, rules_0262, workloads
) -> None:
    test = workloads[1]
    run = real.run_engine(
        test, rules_0262, [BASELINE, FINER, FINER_CACHED], repeat=1, warmup=0, tree=tree_0262
    )
    _same_as_stock(run)
    base, finer, cached = run.results
    assert len(base.alerts) > 10
    assert finer.alerts == cached.alerts  # byte-identical lines on either output path
    assert finer.rules_checked_per_event < 0.7 * base.rules_checked_per_event
    counts = finer.finer["passes"][0]
    assert 0 < counts["misses"] <= counts["extractions"]
    assert counts["conjunct_evals"] >= counts["misses"]
    assert run.finer_tree["trained_on"] == "seed 5"
    # Against the reference evaluator, every event of the measured capture.
    table = load_events(test, rules_0262)
    want = oracle.reference_first_match(rules_0262, table, np.arange(table.n))
    row_of = {int(n): r for r, n in enumerate(np.asarray(table.evt_num).tolist())}
    got = np.full(table.n, oracle.NO_MATCH, dtype=np.int64)
    for num, rid, _line in finer.alerts:
        got[row_of[num]] = rid
    assert np.array_equal(got, want)


def test_all_mode_equals_stock(tree_0262, rules_0262, workloads) -> None:
    run = real.run_engine(
        workloads[1],
        rules_0262,
        [BASELINE, FINER_CACHED],
        mode="all",
        repeat=1,
        warmup=0,
        tree=tree_0262,
    )
    _same_as_stock(run)


@pytest.mark.parametrize("capture", READABLE_TRACES, ids=lambda p: p.name)
def test_shared_captures_equal_stock(capture, tree_0262, rules_0262) -> None:
    # Trained on a generated workload, measured on a real capture: most values are new.
    run = real.run_engine(
        capture, rules_0262, [BASELINE, FINER_CACHED], repeat=1, warmup=0, tree=tree_0262
    )
    _same_as_stock(run)


OPEN_RULES = """
- rule: cat opens
  desc: d
  condition: evt.type = open and evt.dir = < and proc.name = cat
  output: "cat %fd.name"
  priority: WARNING
- rule: python opens
  desc: d
  condition: evt.type = open and evt.dir = < and proc.name = python
  output: "python %fd.name"
  priority: WARNING
- rule: any open
  desc: d
  condition: evt.type = open and evt.dir = < and fd.name startswith /
  output: "any %fd.name"
  priority: NOTICE
- rule: late reads
  desc: d
  condition: evt.type in (read, write) and evt.num > 700 and evt.dir = < and fd.num >= 0
  output: "late %evt.num"
  priority: NOTICE
"""


@pytest.fixture(scope="module")
def open_rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("open") / "rules.yaml"
    path.write_text(OPEN_RULES)
    return _rules(path)


def test_a_value_training_never_saw_is_routed_by_libsinsp(open_rules) -> None:
    # Training: python opens files, cat never runs; measured: cat opens files.
    train = load_events(TRACES / "open-multiple-files.scap", open_rules)
    names = train.column("proc.name")
    assert "cat" not in {train.strings.get(int(v)) for v in np.asarray(names.values)}
    # Splits priced as the replica prices them: this small capture would not pay for one.
    free = StreamCost(extract=0.0, miss=0.0)
    tree = build_tree(open_rules, train, trained_on="open-multiple-files", stream=free)
    assert "proc.name" in {n.field for n in tree.nodes}
    run = real.run_engine(
        TRACES / "cat_write.scap", open_rules, [BASELINE, FINER], repeat=1, warmup=0, tree=tree
    )
    _same_as_stock(run)
    cat = next(r.id for r in open_rules if r.name == "cat opens")
    assert any(rid == cat for _, rid, _ in run.results[1].alerts)
    # Without any trained child: every value is first seen, each routed by its conjuncts.
    by = {r.name: r.id for r in open_rules}
    bare = FinerTree(
        [FinerNode("proc.name", ((by["cat opens"], "proc.name = cat"),), ())],
        {"open": 0},
        "by hand",
    )
    run = real.run_engine(
        TRACES / "cat_write.scap", open_rules, [BASELINE, FINER], repeat=1, warmup=0, tree=bare
    )
    _same_as_stock(run)
    assert run.results[1].finer["passes"][0]["misses"] >= 2  # cat, and another name


def test_a_conjunct_libsinsp_rejects_leaves_its_rule_in(open_rules) -> None:
    by = {r.name: r.id for r in open_rules}
    conjuncts = (
        (by["cat opens"], "proc.name nosuchop cat"),
        (by["python opens"], "proc.name = python"),
    )
    tree = FinerTree(
        [
            FinerNode("proc.name", conjuncts, ()),
            FinerNode("no.such.field", ((by["any open"], "no.such.field = 1"),), ()),
        ],
        {"open": 0, "close": 1},
        "by hand",
    )
    run = real.run_engine(
        TRACES / "cat_write.scap", open_rules, [BASELINE, FINER], repeat=1, warmup=0, tree=tree
    )
    base, finer = run.results
    assert finer.alert_keys() == base.alert_keys() and base.alerts
    errors = finer.finer["load_errors"]
    assert len(errors) == 2
    assert f"rule {by['cat opens']}" in errors[0] and "rejected by libsinsp" in errors[0]
    assert "no.such.field" in errors[1]
    assert finer.finer["conjunct_filters"] == 1


def test_a_tree_naming_an_unknown_rule_is_one_clear_error(open_rules) -> None:
    tree = FinerTree([FinerNode("proc.name", ((99999, "proc.name = cat"),), ())], {"open": 0}, "x")
    with pytest.raises(RuleoptError, match="rule id 99999 is not in the rules list"):
        real.run_engine(
            TRACES / "cat_write.scap", open_rules, [FINER], repeat=1, warmup=0, tree=tree
        )


def test_without_training_input_the_run_says_it_trained_on_the_test(open_rules) -> None:
    capture = TRACES / "cat_write.scap"
    run = real.run_engine(capture, open_rules, [BASELINE, FINER], repeat=1, warmup=0)
    _same_as_stock(run)
    assert "trained on the test" in run.finer_tree["trained_on"]


def test_the_uncacheable_fields_are_known_fields() -> None:
    # One definition (ruleopt_abi.h), read by the tool and by the tree's choice; every
    # name in it is a field libsinsp 2022 knows, so a typo cannot leave a cache unsafe.
    from ruleopt import fields

    assert "fd.ip" in UNCACHEABLE_FIELDS and "proc.aname" in UNCACHEABLE_FIELDS
    for name in UNCACHEABLE_FIELDS:
        info = fields.get(name)
        assert info is not None and info.libsinsp2022, name


def test_the_tool_keys_no_cache_by_an_uncacheable_field(open_rules) -> None:
    # fd.sip.name: absent, libsinsp compares through a DNS lookup; proc.aname: every
    # ancestor. A tree naming them (not one build_tree makes) gets a leaf there.
    by = {r.name: r.id for r in open_rules}
    tree = FinerTree(
        [
            FinerNode("fd.sip.name", ((by["any open"], "fd.sip.name = x"),), ()),
            FinerNode("proc.aname", ((by["cat opens"], "proc.aname = bash"),), ()),
        ],
        {"open": 0, "close": 1},
        "by hand",
    )
    run = real.run_engine(
        TRACES / "cat_write.scap", open_rules, [BASELINE, FINER], repeat=1, warmup=0, tree=tree
    )
    base, finer = run.results
    assert finer.alert_keys() == base.alert_keys()
    errors = finer.finer["load_errors"]
    assert len(errors) == 2 and all("more than one extracted value" in e for e in errors)
    assert finer.finer["passes"][0]["extractions"] == 0
    train = load_events(TRACES / "cat_write.scap", open_rules)
    fields = {n.field for n in build_tree(open_rules, train, trained_on="x", stream=None).nodes}
    assert not fields & UNCACHEABLE_FIELDS


def test_a_node_of_mostly_new_values_runs_its_conjuncts_directly(open_rules, workloads) -> None:
    # evt.num is new on every event: after 64 lookups the node stops caching and runs
    # `evt.num > 700` on each event instead; the rule still alerts exactly where stock does.
    late = next(r.id for r in open_rules if r.name == "late reads")
    tree = FinerTree(
        [FinerNode("evt.num", ((late, "evt.num > 700"),), ())], {"read": 0, "write": 0}, "by hand"
    )
    run = real.run_engine(
        workloads[1], open_rules, [BASELINE, FINER], repeat=1, warmup=0, tree=tree
    )
    _same_as_stock(run)
    base, finer = run.results
    assert any(rid == late for _, rid, _ in base.alerts)
    counts = finer.finer["passes"][0]
    assert counts["direct_events"] > 0 and counts["misses"] >= 64
    assert finer.rules_checked_per_event < base.rules_checked_per_event
