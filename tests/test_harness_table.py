"""experiments/harness_table.py on a tiny generated capture: the table's structure, its
counts equal to the harness's, and the per-check tool (ruleopt-sinsp checks) agreeing
with the harness on which checks matched."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from conftest import REPO

from ruleopt.errors import RuleoptError

SEED_RULES = REPO / "rulesets" / "seed_rules.yaml"
EVENTS, SEED, SHARE, REPEAT = 3000, 7, 0.05, 2


def _module():
    spec = importlib.util.spec_from_file_location(
        "harness_table", REPO / "experiments" / "harness_table.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("harness_table", mod)
    spec.loader.exec_module(mod)
    return mod


ht = _module()


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    capture = tmp_path_factory.mktemp("htable") / "seed.scap"
    cap = ht.generate_capture(SEED_RULES, EVENTS, SEED, SHARE, capture)
    doc, profile, skipped = ht.harness(SEED_RULES, capture, REPEAT)
    return capture, cap, doc, profile, skipped


def test_rows_count_what_the_harness_counted(measured):
    _, cap, doc, profile, _ = measured
    assert cap["events"] == EVENTS and cap["breaking_events"] > 0
    rows = {r["rule"]: r for r in ht.rule_rows(profile)}
    by_name = {r["name"]: r for r in doc["rules"] if r["status"] == "ok"}
    checked = {n for n, r in by_name.items() if r["evaluations"]}
    assert set(rows) == checked and ht.STUDY_RULE in rows
    for name, row in rows.items():
        h = by_name[name]
        assert row["checks"] == h["evaluations"]
        assert row["matched_checks"] == h["cycles_matched"]["count"] == h["matches_all_passes"]
        assert row["unmatched"]["count"] == h["cycles_unmatched"]["count"]
        assert row["matched_checks"] + row["unmatched"]["count"] == row["checks"]
        for side in ("matched", "unmatched"):
            s = row[side]
            if s["count"]:
                assert 0 < s["median"] <= s["p90"]
                assert s["mean"] == pytest.approx(h[f"cycles_{side}"]["sum"] / s["count"], abs=0.1)
            else:
                assert s["mean"] is s["median"] is None
    assert sum(r["share_of_cycles"] for r in rows.values()) == pytest.approx(1, abs=0.01)
    totals = [r["share_of_cycles"] for r in ht.rule_rows(profile)]
    assert totals == sorted(totals, reverse=True)  # costliest first


def test_operand_study_sees_the_matches_the_harness_saw(measured):
    capture, _, doc, _, _ = measured
    study = ht.operand_study(SEED_RULES, capture, REPEAT)
    [h] = [r for r in doc["rules"] if r["name"] == ht.STUDY_RULE]
    # The same libsinsp filter on the same events: the same checks, the same verdicts.
    assert study["matched_checks"] == h["matches_all_passes"] > 0
    assert study["unmatched_checks"] == h["evaluations"] - h["matches_all_passes"]
    assert study["top_level_operands"] == 4 and study["comparisons"] == 7
    assert len(study["matched_median_by_pass"]) == REPEAT
    assert len(study["first_match_of_pass"]) == REPEAT
    assert study["again_median"] > 0 and study["operands_sum_median"] > 0
    assert 0 <= study["matched_on_fresh_thread"] <= study["matched_checks"]
    assert len(study["costliest_operands"]) == 4
    assert [p["operands"] for p in study["prefixes"]] == [1, 2, 4]
    assert all(p["median"] > 0 for p in study["prefixes"])
    # The lfence-timed run sees the same checks; page faults are counted, not guessed.
    assert study["fenced"]["matched_checks"] == study["matched_checks"]
    assert study["fenced"]["unmatched_checks"] == study["unmatched_checks"]
    assert study["page_faults_in_matched_checks"] >= 0


def test_main_writes_json_markdown_and_plots(tmp_path, capsys):
    out = tmp_path / "out"
    rc = ht.main(
        [
            "-n",
            str(EVENTS),
            "--seed",
            str(SEED),
            "--break-share",
            str(SHARE),
            "--repeat",
            "1",
            "--rules",
            f"seed={SEED_RULES}",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "harness_table.json",
        "harness_table.md",
        "seed_latency.svg",
    ]
    res = json.loads((out / "harness_table.json").read_text())
    seed = res["rulesets"]["seed"]
    assert seed["harness"]["repeat"] == 1 and seed["capture"]["events"] == EVENTS
    assert seed["harness"]["checks"] == sum(r["checks"] for r in seed["rows"])
    md = (out / "harness_table.md").read_text()
    assert "| rule | checks | matched |" in md
    assert f"| study | ~{ht.STUDY_UNMATCHED:,} | | ~{ht.STUDY_MATCHED:,} | |" in md
    assert md.count("\n| ") >= len(seed["rows"]) + 3
    assert (out / "seed_latency.svg").read_text().lstrip().startswith("<?xml")
    assert ht.STUDY_RULE in capsys.readouterr().out


def test_main_refuses_a_missing_rules_file_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert ht.main(["--rules", f"x={tmp_path / 'none.yaml'}", "-o", str(out)]) == 1
    assert "not found" in capsys.readouterr().err and not out.exists()


def test_run_checks_reports_a_rejected_filter(measured):
    capture = measured[0]
    with pytest.raises(RuleoptError, match="rejected"):
        ht.run_checks(capture, [("bad", "proc.nosuchfield = 1")], 1)


def test_callgrind_totals_reads_the_summary_line(tmp_path):
    (tmp_path / "callgrind.out.123").write_text(
        "version: 1\ncreator: callgrind-3.19.0\nevents: Ir D1mr Bim\nfn=(1) f\n0 5 1 0\n"
        "summary: 989497 20343 12692\ntotals: 989497 20343 12692\n"
    )
    assert ht._callgrind_totals(tmp_path) == {"Ir": 989497, "D1mr": 20343, "Bim": 12692}
    with pytest.raises(RuleoptError, match="no totals"):
        ht._callgrind_totals(tmp_path / "missing")


def test_instruction_figures_per_check():
    # The manual run's totals: 16 matched re-runs, rule alone and with its 91 operands,
    # and every one of the 3,885 checks of one pass.
    f = ht.instruction_figures(
        {"Ir": 989_497, "D1mr": 20_343}, {"Ir": 2_018_581, "D1mr": 47_441}, 2_770_140, 16, 3_885
    )
    assert f["rule_per_matched_check"] == {"Ir": 61_843.6, "D1mr": 1_271.4}
    assert f["operands_per_matched_check"] == {"Ir": 64_317.8, "D1mr": 1_693.6}
    assert f["unmatched_instructions_per_check"] == round((2_770_140 - 989_497) / 3_869, 1)
