"""``ruleopt profile`` end to end, and the core → Profile conversion it rests on.

The profile merges a rules-traced and a stacks-traced build; these tests hold the two
against each other (a broken iteration is exactly one match under Falco's first match),
against the event count (every pass, every event, one iteration), and against libsinsp:
on a capture, per-rule checks and matches equal the real-libsinsp harness's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import RULESETS, TRACES

from ruleopt.cli import main
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine.compile import compile_rules
from ruleopt.engine.core import run_core
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.events.load import load_events
from ruleopt.events.sinsp import run_harness
from ruleopt.events.table import EventTable
from ruleopt.profile.core_report import hist_from_trace, profile_from_core
from ruleopt.profile.model import BRANCHES, NBUCKETS, STAGES, Hist, Profile
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

RULES = RULESETS / "falco_rules-falco-0.26.2.yaml"
CAPTURE = TRACES / "cat_write.scap"
FOLDED_LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* \d+$")
FILES = {"profile.json", "stacks.dot", "stacks.folded", "rule_latency.svg", "rule_totals.svg"}
SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


def _profile(out: Path, *args: str, capsys) -> tuple[Profile, dict]:
    rc = main(["profile", *args, "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "Traceback" not in captured.err
    summary = json.loads(captured.out)
    return Profile.from_dict(json.loads((out / "profile.json").read_text())), summary


def _check_outputs(
    out: Path, profile: Profile, table: EventTable, repeat: int, rules_files: list[Path]
) -> None:
    """What every offline profile directory must satisfy."""
    assert {p.name for p in out.iterdir()} == FILES
    # Every compiled rule is in the profile, under its Rule.id and name.
    compiled = compile_rules(load_rules(rules_files).rules, table)
    assert sorted((r.id, r.name) for r in profile.rules) == sorted(
        zip(compiled.rule_ids.tolist(), compiled.rule_names, strict=True)
    )
    assert (profile.events, profile.repeat) == (table.n, repeat)
    # Every stage ran once per event per pass; offline there is no SCAP_TIMEOUT.
    assert set(profile.stages) == set(STAGES)
    for sp in profile.stages.values():
        assert "SCAP_TIMEOUT" not in sp.branches
        assert sum(h.count for h in sp.branches.values()) == table.n * repeat
    # Each rule's histograms hold exactly its checks, split by outcome.
    for r in profile.rules:
        assert r.unmatched.count + r.matched.count == r.checks
        assert r.matched.count == r.matches
    # Falco's loop stops at the first match: a RULES_BROKEN iteration (stacks build) is
    # exactly one match (rules build).
    broken = profile.stages["iteration"].branches.get("RULES_BROKEN", Hist())
    assert broken.count == sum(r.matches for r in profile.rules)

    dot = subprocess.run(["dot", "-Tsvg", str(out / "stacks.dot")], capture_output=True)
    assert dot.returncode == 0, dot.stderr.decode()
    lines = (out / "stacks.folded").read_text().splitlines()
    assert lines and all(FOLDED_LINE.match(line) for line in lines)
    for name in ("rule_latency.svg", "rule_totals.svg"):
        assert ET.parse(out / name).getroot().tag == SVG_ROOT


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, EventTable]:
    path = tmp_path_factory.mktemp("gen") / "workload.npz"
    assert main(["generate", "-r", str(RULES), "-n", "20000", "-q", "-o", str(path)]) == 0
    return path, EventTable.load(path)


def test_profile_generated_workload(generated, tmp_path, capsys):
    path, table = generated
    out = tmp_path / "out"
    profile, summary = _profile(out, str(RULES), str(path), "--repeat", "2", capsys=capsys)
    _check_outputs(out, profile, table, 2, [RULES])
    assert profile.engine.startswith("replica:")
    # The generator stamps 1% of the events to break a rule: matches are there, and the
    # matched/unmatched headline comes from the rules-traced histograms.
    assert summary["matches"] > 0
    head = summary["headline"]
    assert head["cycles_per_check_matched"] == pytest.approx(profile.cycles_per_check(True))
    assert head["cycles_per_check_unmatched"] == pytest.approx(profile.cycles_per_check(False))
    assert head["events_per_second"] > 0
    # Rule checks per event (untraced pass) agree with the rules build's counts.
    assert head["rule_checks_per_event"] * table.n * 2 == pytest.approx(summary["checks"])
    assert set(summary["builds"]) == {"untraced", "rules", "stacks"}
    assert summary["rate_replay"] is None
    assert any("mutually exclusive" in n for n in profile.notes)


def test_profile_capture_agrees_with_libsinsp(tmp_path, capsys):
    out = tmp_path / "out"
    profile, _ = _profile(out, str(RULES), str(CAPTURE), "--repeat", "2", capsys=capsys)
    table = load_events(CAPTURE, load_rules(RULES))
    _check_outputs(out, profile, table, 2, [RULES])
    # The replica's index and evaluator against the real engine on the same capture:
    # every rule libsinsp judges is checked and matched as often.
    judged = [r for r in load_rules(RULES).enabled_rules() if not unsupported_reason(r)]
    doc = run_harness(CAPTURE, [(r.id, r.name, print_expr(r.condition)) for r in judged], 2)
    real = {
        r["id"]: (r["evaluations"], r["matches_all_passes"])
        for r in doc["rules"]
        if r["status"] == "ok"
    }
    assert real
    ours = {r.id: (r.checks, r.matches) for r in profile.rules}
    assert {i: ours[i] for i in real} == real


def test_rate_replay_reports_drops_and_timeouts(tmp_path, capsys):
    args = [str(RULES), str(CAPTURE), "--repeat", "2", "--no-plots", "--buffer", "2"]
    fast, fast_s = _profile(tmp_path / "fast", *args, "--rate", "1e12", capsys=capsys)
    slow, slow_s = _profile(tmp_path / "slow", *args, "--rate", "10", capsys=capsys)
    n = fast.events
    # 1e12 events/s into a 2-slot ring: nearly everything arrives before the first
    # event is processed. 10 events/s: the core waits for every event.
    assert fast_s["headline"]["drops"] > 0
    assert slow_s["headline"]["drops"] == 0
    assert slow_s["headline"]["scap_timeouts"] > 0
    for prof, s in ((fast, fast_s), (slow, slow_s)):
        rr = s["rate_replay"]
        assert (rr["rate"], rr["buffer"], rr["replays"]) == (prof.settings["rate"], 2, 2)
        # The stage profile comes from the stacks build's replays: its RULES_* iterations
        # are the events it processed, its SCAP_TIMEOUT ones the polls of an empty ring.
        it = prof.stages["iteration"].branches
        processed = it.get("RULES_UNBROKEN", Hist()).count + it.get("RULES_BROKEN", Hist()).count
        assert processed == 2 * n - sum(rr["stacks_build_drops_per_replay"])
        timeouts = it.get("SCAP_TIMEOUT", Hist()).count
        assert timeouts == sum(rr["stacks_build_scap_timeouts_per_replay"])
        # The rules build stays offline: every event's checks are counted.
        assert sum(r.checks for r in prof.rules) == s["headline"]["rule_checks_per_event"] * 2 * n
    assert "SCAP_TIMEOUT" in slow.stages["next_event"].branches
    assert {p.name for p in (tmp_path / "slow").iterdir()} == {
        "profile.json",
        "stacks.dot",
        "stacks.folded",
    }


def test_human_output_has_table_and_headline(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "profile",
            str(RULES),
            str(CAPTURE),
            "-o",
            str(out),
            "--repeat",
            "1",
            "--no-plots",
            "--rate",
            "1e12",
            "--buffer",
            "2",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0
    assert "top" in text and "rules by total cycles" in text
    assert "events/s" in text and "DROPS events" in text and "SCAP_TIMEOUT" in text


def test_default_rules_and_workload(tmp_path, capsys):
    out = tmp_path / "out"
    profile, summary = _profile(out, "--repeat", "1", "--no-plots", capsys=capsys)
    seed_rules = load_rules([DEFAULT_RULES])
    assert {r.name for r in profile.rules} == {r.name for r in seed_rules.enabled_rules()}
    assert profile.settings["events"] == "default workload"
    assert profile.events == 200_000
    assert summary["matches"] > 0


@pytest.mark.parametrize("case", ["missing", "not_scap", "unknown_suffix", "two_events"])
def test_bad_input_exits_1_and_writes_nothing(tmp_path, capsys, case):
    junk = tmp_path / "junk.scap"
    junk.write_text("this is not a capture\n")
    other = tmp_path / "events.txt"
    other.write_text("{}\n")
    events, message = {
        "missing": ([str(tmp_path / "nope.scap")], "no such events file"),
        "not_scap": ([str(junk)], "not a scap capture"),
        "unknown_suffix": ([str(other)], "cannot tell what kind of event file"),
        "two_events": ([str(junk), str(CAPTURE)], "more than one events file"),
    }[case]
    out = tmp_path / "out"
    existing = tmp_path / "existing"
    existing.mkdir()
    for target in (out, existing):
        rc = main(["profile", str(RULES), *events, "-o", str(target)])
        err = capsys.readouterr().err
        assert rc == 1
        assert message in err and "Traceback" not in err
        assert err.startswith("ruleopt profile: error:")
    assert not out.exists()
    assert list(existing.iterdir()) == []


def test_bad_options_exit_1(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["profile", str(RULES), str(CAPTURE), "-o", str(out), "--buffer", "4"]) == 1
    assert "give --rate too" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["profile", str(RULES), str(CAPTURE), "-o", str(blocker)]) == 1
    assert "not a directory" in capsys.readouterr().err
    assert blocker.read_text() == "x"
    assert not out.exists()
    with pytest.raises(SystemExit):  # argparse's own usage error, exit 2
        main(["profile", "--repeat", "0"])


# ------------------------------------------------------------------ the conversion


def test_trace_histograms_use_the_model_buckets():
    # plugin/trace.h, the harness and the model share one convention: b = bit_length(x).
    th = [0] * NBUCKETS
    th[Hist.bucket_of(300)] = 3
    h = hist_from_trace(3, 3 * 300, th)
    assert Hist.bucket_of(300) == 9
    lo, hi = Hist.bucket_bounds(9)
    assert lo <= h.mean < hi
    with pytest.raises(RuleoptError):
        hist_from_trace(4, 1200, th)  # count disagrees with the histogram


def test_core_histogram_buckets_hold_the_measured_cycles():
    """Every traced check's cycles fall inside its bucket's bounds: the mean of each rule's
    histogram lies within the span of its non-empty buckets."""
    rules = load_rules([RULESETS / "falco_rules-falco-0.26.2.yaml"])
    table = load_events(TRACES / "cat_write.scap", rules)
    res = run_core(rules.rules, table, "rules", repeat=3)
    tr = res.trace_rules
    checked = 0
    for rid in range(tr.count.shape[0]):
        for branch in range(tr.count.shape[1]):
            n = int(tr.count[rid, branch])
            if not n:
                continue
            nz = [b for b, c in enumerate(tr.hist[rid, branch]) if c]
            lo, _ = Hist.bucket_bounds(nz[0])
            _, hi = Hist.bucket_bounds(nz[-1])
            assert lo <= tr.sum[rid, branch] / n < hi
            checked += 1
    assert checked > 0


def test_profile_from_core_real_runs():
    rules = load_rules(RULES)
    table = load_events(CAPTURE, rules)
    compiled = compile_rules(rules.rules, table)
    rr = run_core(compiled, table, "rules", repeat=3)
    sr = run_core(compiled, table, "stacks", repeat=3)
    p = profile_from_core([rr, sr], compiled, table, "test", {"k": 1}, rules=rules.rules)
    assert (p.engine, p.repeat, p.events, p.settings) == ("replica:test", 3, table.n, {"k": 1})
    by_id = {r.id: r for r in p.rules}
    for rid in compiled.rule_ids.tolist():
        r = by_id[rid]
        assert r.checks == 3 * int(rr.checks[rid])
        # Converted buckets bracket the exact mean: a missing shift would put every value
        # one bucket too low and the mean at or above the highest bucket's bound.
        for h in (r.unmatched, r.matched):
            if h.count:
                used = [b for b, c in enumerate(h.buckets) if c]
                assert Hist.bucket_bounds(used[0])[0] <= h.mean < Hist.bucket_bounds(used[-1])[1]
    open_rule = next(r for r in rules.rules if r.enabled and not r.evttypes.complement)
    assert by_id[open_rule.id].evttypes == sorted(open_rule.evttypes.names)
    assert sum(h.count for h in p.stages["iteration"].branches.values()) == 3 * table.n
    assert set(p.stages["iteration"].branches) <= set(BRANCHES)
    # Untraced only: counts, no histograms, no stages (absent, not zero).
    u = profile_from_core(run_core(compiled, table, "untraced", repeat=2), compiled, table)
    assert u.stages == {} and all(r.unmatched.count == 0 for r in u.rules)
    assert sum(r.checks for r in u.rules) == 2 * int(np.sum(rr.checks))


def test_cli_has_no_traceback_in_a_subprocess(tmp_path):
    # The installed entry point, as a user runs it.
    exe = shutil.which("ruleopt")
    assert exe
    proc = subprocess.run(
        [exe, "profile", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "no such events file" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
