"""The real engine's per-event costs (``ruleopt-sinsp engine --event-costs``), the rate
replay they feed, and ``compare --profile``: a profile per engine and strategy that
graphviz opens and that parses as folded stacks; bad input is one located error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import RULESETS, TRACES

from ruleopt.cli import main
from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.engine.event_costs import FIELDS, STAGES, per_event, read_event_costs
from ruleopt.errors import RuleoptError
from ruleopt.profile import rate as R
from ruleopt.profile.model import Profile
from ruleopt.rules.loader import load_rules

REPO = Path(__file__).resolve().parents[1]
PROBE_RULES = REPO / "rulesets" / "probe_rules.yaml"
RULES_0262 = RULESETS / "falco_rules-falco-0.26.2.yaml"
BOTH_OUTPUTS = [S.get_strategy("baseline"), S.get_strategy("cached-output")]
FOLDED_LINE = re.compile(r"^[^;\s][^;]*(;[^;]+)* \d+$")


def _rules(path: Path) -> list:
    return S.syscall_rules(load_rules([str(path)]).enabled_rules())


@pytest.fixture(scope="module")
def cat_write_run():
    capture = TRACES / "cat_write.scap"
    return real.run_engine(
        capture, _rules(PROBE_RULES), BOTH_OUTPUTS, repeat=2, warmup=0, event_costs=True
    )


def test_event_costs_are_one_record_per_event_summing_to_the_stage_totals(cat_write_run):
    assert STAGES == ("next", "index", "rule_checks", "output")
    for res in cat_write_run.results:
        costs = res.event_costs
        first = res.passes[0]
        assert costs is not None and costs.shape == (first["events"], FIELDS)
        # The file is the first measured pass, so its sums are that pass's totals.
        for k, key in enumerate(("next_cycles", "index_cycles", "check_cycles", "output_cycles")):
            assert int(costs[:, k].sum()) == first[key]
        assert first["alerts"] > 0 and np.all(per_event(costs) > 0)
        iteration = res.stages["iteration"]
        total = sum(c["sum"] for c in iteration.values())
        # The iteration cells of two passes hold the four stages' cycles (plus timing).
        assert total >= int(per_event(costs).sum())


def test_real_costs_replay_through_the_ring_model(cat_write_run):
    res = cat_write_run.results[0]
    costs = per_event(res.event_costs)
    hz = cat_write_run.tsc_hz
    n = len(costs)
    # Slower than the slowest event: each one is done before the next arrives.
    slow = R.replay(costs, hz / float(costs.max()), hz, buffer=16)
    # So fast that every event arrives while the first one runs: 16 wait, the rest drop.
    fast = R.replay(costs, hz * n / float(costs.min()), hz, buffer=16)
    assert (slow.drops, fast.drops) == (0, n - 17)
    assert fast.processed[:17].all() and not fast.processed[17:].any()


def test_event_costs_file_needs_one_strategy(tmp_path):
    rules = tmp_path / "r.ns"
    rules.write_bytes(b"1:1,1:r,7:Warning,1:x,15:evt.type = open,")
    proc = subprocess.run(
        [
            str(real.tool()),
            "engine",
            str(TRACES / "cat_write.scap"),
            str(rules),
            "--strategy",
            "a:evttype:recursive:none",
            "--strategy",
            "b:evttype:recursive:none",
            "--event-costs",
            str(tmp_path / "c.bin"),
        ],
        capture_output=True,
    )
    assert proc.returncode != 0 and b"exactly one --strategy" in proc.stderr
    assert not (tmp_path / "c.bin").exists()


def test_a_foreign_event_costs_file_is_a_located_error(tmp_path):
    bad = tmp_path / "c.bin"
    bad.write_bytes(b"\x01\x02\x03")
    with pytest.raises(RuleoptError) as e:
        read_event_costs(bad)
    assert e.value.file == str(bad) and "whole number" in str(e.value)
    bad.write_bytes(bytes(16 * 3))
    assert read_event_costs(bad).shape == (3, FIELDS)
    with pytest.raises(RuleoptError, match="holds 3 events"):
        read_event_costs(bad, events=4)


def _folded_ok(text: str) -> None:
    lines = text.splitlines()
    assert lines and all(FOLDED_LINE.match(line) for line in lines), lines[:3]


def test_compare_profile_writes_each_engine_and_strategy(tmp_path, capsys):
    out = tmp_path / "prof"
    argv = [str(PROBE_RULES), str(TRACES / "cat_write.scap"), "--engine", "both"]
    code = main(
        ["compare", *argv, "--strategies", "cached-output", "--repeat", "1"]
        + ["--json", "--profile", str(out)]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    dirs = sorted(p.name for p in out.iterdir())
    assert dirs == [
        "libsinsp-baseline",
        "libsinsp-cached-output",
        "replica-baseline",
        "replica-cached-output",
    ]
    assert len(doc["profiles"]) == 3 * len(dirs)
    dot = shutil.which("dot")  # graphviz: setup.sh installs it
    assert dot, "graphviz's dot is missing (bash setup.sh installs it)"
    for d in dirs:
        prof = Profile.from_dict(json.loads((out / d / "profile.json").read_text()))
        assert set(prof.stages) >= {"next_event", "index_lookup", "rule_checks", "output"}
        broken = prof.stages["rule_checks"].branches["RULES_BROKEN"]
        assert broken.count > 0  # cat_write alerts: the broken branch was taken
        if d.startswith("replica"):
            assert prof.rules and sum(r.matches for r in prof.rules) == broken.count
        else:
            assert prof.stages["output"].branches["RULES_BROKEN"].sum > 0
        folded = (out / d / "stacks.folded").read_text()
        _folded_ok(folded)
        assert "main;RULES_BROKEN;output" in folded
        svg = subprocess.run(
            [dot, "-Tsvg", str(out / d / "stacks.dot")], capture_output=True, check=True
        ).stdout
        assert b"<svg" in svg and b"rule_checks" in svg


def test_compare_profile_to_an_unwritable_place_leaves_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = [str(PROBE_RULES), str(TRACES / "cat_write.scap"), "--engine", "replica"]
    code = main(["compare", *argv, "--repeat", "1", "--profile", str(blocker / "p")])
    err = capsys.readouterr().err
    assert code == 1 and "not a directory" in err and str(blocker / "p") in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_compare_profile_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("x")
    argv = [str(PROBE_RULES), str(TRACES / "cat_write.scap"), "--engine", "replica"]
    code = main(["compare", *argv, "--repeat", "1", "--profile", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "not empty" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]
