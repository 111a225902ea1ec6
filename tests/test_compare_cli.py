"""``ruleopt compare``: equivalence on every readable capture and the default workload,
and a deliberately broken strategy is caught and its first differing alert named."""

from __future__ import annotations

import json

import pytest
from conftest import READABLE_TRACES, RULESETS

from ruleopt.cli import main
from ruleopt.commands.inputs import split_inputs
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import strategies as S
from ruleopt.errors import RuleoptError
from ruleopt.events.generator import generate
from ruleopt.rules.loader import load_rules

RULE_FILES = ["falco_rules-falco-0.26.2.yaml", "falco_rules-main.yaml"]


def _json(capsys, argv: list[str]) -> tuple[int, dict]:
    code = main(["compare", *argv, "--json", "--repeat", "1", "--engine", "replica"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("rules_file", RULE_FILES)
@pytest.mark.parametrize("capture", READABLE_TRACES, ids=lambda p: p.name)
def test_equivalent_on_captures(capture, rules_file, capsys) -> None:
    code, doc = _json(capsys, [str(RULESETS / rules_file), str(capture)])
    assert code == 0, [r["first_difference"] for r in doc["strategies"]]
    assert doc["equivalent"] is True
    names = [r["strategy"] for r in doc["strategies"]]
    assert names == list(S.DEFAULT_STRATEGIES)
    alerts = {r["alerts"] for r in doc["strategies"]}
    assert len(alerts) == 1  # same alerts everywhere
    base = doc["strategies"][0]
    finer = next(r for r in doc["strategies"] if r["strategy"] == "finer")
    assert finer["rules_checked_per_event"] <= base["rules_checked_per_event"]


def test_default_workload_table_and_plots(tmp_path, capsys) -> None:
    code = main(
        [
            "compare",
            "--repeat",
            "1",
            "--strategies",
            "flat,finer,best",
            "--engine",
            "replica",
            "-o",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for word in ("baseline", "flat", "finer", "best", "speedup", "yes"):
        assert word in out
    assert "NO" not in out
    svg = (tmp_path / "compare_cycles.svg").read_text()
    assert "Cycles per event by strategy" in svg
    assert (tmp_path / "compare_output.svg").exists()


def test_capacity_accounts_for_output(capsys) -> None:
    code, doc = _json(capsys, ["--strategies", "cached-output"])
    assert code == 0
    base, cached = doc["strategies"]
    for r in (base, cached):
        out = r["output_cycles_per_alert"]["median"]
        hz = r["events_per_second"] * r["cycles_per_event"]["median"]
        per_event = r["cycles_per_event"]["median"] + out * r["alerts"] / doc["n_events"]
        assert r["capacity_events_per_second"] < r["events_per_second"]
        assert abs(r["capacity_events_per_second"] * per_event / hz - 1) < 1e-6


@pytest.fixture
def small_events(tmp_path):
    rules = load_rules([DEFAULT_RULES])
    table = generate(rules, 4000, seed=3, break_share=0.02)
    path = tmp_path / "events.npz"
    table.save(path)
    return rules, table, path


def test_broken_strategy_fails_and_names_first_differing_alert(
    small_events, monkeypatch, capsys
) -> None:
    rules, table, path = small_events

    def empty_index(compiled, table, learned=None):
        # Test-only: every bucket empty, so no rule is ever checked.
        import dataclasses

        import numpy as np

        return dataclasses.replace(
            compiled,
            idx_rules=np.zeros(0, dtype=np.int32),
            idx_offsets=np.zeros_like(compiled.idx_offsets),
        )

    monkeypatch.setitem(S.INDEXES, "empty", empty_index)
    monkeypatch.setitem(S.STRATEGIES, "broken", S.Strategy("broken", "empty", "flat", "cached"))
    base = S.run_strategy("baseline", rules, table, repeat=1)
    first = base.alert_keys()[0]
    assert first  # the workload does break rules

    code, doc = _json(capsys, [str(path), "--strategies", "finer,broken"])
    assert code == 1 and doc["equivalent"] is False
    rows = {r["strategy"]: r for r in doc["strategies"]}
    assert rows["finer"]["equivalent"] is True
    diff = rows["broken"]["first_difference"]
    assert diff["strategy"] is None
    assert diff["baseline"] == {"evt_num": first[0], "rule_id": first[1], "line": first[2]}

    code = main(
        ["compare", str(path), "--strategies", "broken", "--repeat", "1", "--engine", "replica"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "broken differs from baseline" in out
    assert f"evt.num {first[0]} rule {first[1]}: {first[2]}" in out


def test_input_errors(capsys) -> None:
    rules, events = split_inputs(["a.yaml", "b.YML", "c.scap"])
    assert rules == ["a.yaml", "b.YML"] and events == "c.scap"
    with pytest.raises(RuleoptError, match="one event file"):
        split_inputs(["a.scap", "b.jsonl"])
    assert main(["compare", "x.scap", "y.scap"]) == 1
    assert "one event file at most" in capsys.readouterr().err
    assert main(["compare", "--strategies", "nope"]) == 1
    assert "unknown strategy 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse's usage error
        main(["compare", "--repeat", "0", "--strategies", "flat"])
    assert exc.value.code == 2


_NOT_ON_2022 = """\
- rule: lowered
  desc: a transformer libsinsp 2022 does not have
  condition: evt.type = open and tolower(proc.name) = cat
  output: "lowered %proc.name"
  priority: WARNING
"""


def test_rules_libsinsp_cannot_judge(tmp_path, capsys) -> None:
    """By default compare falls back to the replica and says so; asked for libsinsp by
    name, it is one error naming the rules file (found by the fuzz suite: unlocated)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(_NOT_ON_2022)
    events = tmp_path / "events.jsonl"
    events.write_text('{"evt.type": "open", "proc.name": "CAT", "evt.dir": "<"}\n')
    code = main(["compare", str(rules), str(events), "--json", "--repeat", "1"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["equivalent"] is True
    assert doc["engines"] == ["replica"]
    assert {r["engine"] for r in doc["strategies"]} == {"replica"}
    assert "can judge none of these rules" in doc["capture"]
    code = main(["compare", str(rules), str(events), "--repeat", "1", "--engine", "libsinsp"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{rules}: libsinsp 2022 can judge none of these rules" in err
    assert "tolower" in err
