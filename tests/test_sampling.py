"""Sampled tracing on both engines: the counts are exact, the timed share is 1/N, N = 1 is
full tracing, the estimates and their intervals follow from the cells, and bad --sample
values are usage errors.

Cycles differ run to run, so nothing here compares cycles across runs; what is asserted is
deterministic (counts, the same seed giving the same timed checks) or a binomial bound
wide enough (6 standard deviations) never to fail by chance.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import REPO, RULESETS, TRACES
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt.cli import main
from ruleopt.engine.compile import compile_rules
from ruleopt.engine.core import run_core
from ruleopt.engine.sampling import MAX_SAMPLE, Z95, combine, estimate
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.events.load import load_events
from ruleopt.events.sinsp import run_harness
from ruleopt.profile.harness_report import profile_from_harness
from ruleopt.profile.model import OUTLIER_BUCKET, OUTLIER_CYCLES, Profile
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

RULES = RULESETS / "falco_rules-falco-0.26.2.yaml"
PROBE_RULES = REPO / "rulesets" / "probe_rules.yaml"
CAPTURE = TRACES / "curl_google.scap"


def _within(observed: float, n: int, p: float, sigmas: float = 6.0) -> bool:
    """Binomial(n, p) observation within ``sigmas`` standard deviations of its mean."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


@pytest.fixture(scope="module")
def workload():
    ruleset = load_rules(RULES)
    table = load_events(None, ruleset)  # the bundled default workload
    return compile_rules(ruleset.rules, table), table


# ---------------------------------------------------------------- replica


def test_full_tracing_is_sample_one(workload):
    compiled, table = workload
    r = run_core(compiled, table, "rules", repeat=2, sample=1)
    tr = r.trace_rules
    assert r.sampled_events == 2 * table.n
    ids = compiled.rule_ids
    # Every check timed, in its branch: the histograms hold exactly the counted checks.
    assert np.array_equal(tr.count[ids, 0] + tr.count[ids, 1], 2 * r.checks[ids])
    assert np.array_equal(tr.count[ids, 1], 2 * r.matched[ids])
    assert np.array_equal(tr.hist[ids].sum(axis=-1), tr.count[ids])
    # The moments belong to the cells (Cauchy-Schwarz; outliers are the top buckets).
    mom = r.trace_rules_mom[ids]
    n_out = tr.hist[ids][..., OUTLIER_BUCKET:].sum(axis=-1)
    assert np.all(
        mom[..., 0] >= tr.sum[ids].astype(float) ** 2 / np.maximum(tr.count[ids], 1) * (1 - 1e-9)
    )
    assert np.all(mom[..., 1] >= n_out * float(OUTLIER_CYCLES)) and np.all(
        mom[..., 1] <= tr.sum[ids]
    )
    assert np.array_equal(mom[..., 1] > 0, n_out > 0)


def test_sampled_counts_are_exact_and_timed_share_is_one_in_n(workload):
    compiled, table = workload
    full = run_core(compiled, table, "untraced")
    for n in (10, 100):
        r = run_core(compiled, table, "rules", repeat=2, sample=n, seed=1234 + n)
        # Every check is still counted: the same per-rule checks and matches, the same
        # alerts, as the untraced build.
        assert np.array_equal(r.checks, full.checks)
        assert np.array_equal(r.matched, full.matched)
        assert r.matches == full.matches
        assert _within(r.sampled_events, 2 * table.n, 1 / n)
        timed = int(r.trace_rules.count.sum())
        checks = 2 * int(full.checks.sum())
        # Checks of a timed event are all timed: their number is near checks/N (each
        # event's checks come together, so the bound uses the largest bucket).
        per_event = int(full.per_event_checks.max())
        assert abs(timed - checks / n) <= 6 * per_event * math.sqrt(2 * table.n / n) + 1


def test_same_seed_times_the_same_checks(workload):
    compiled, table = workload
    a = run_core(compiled, table, "rules", sample=50, seed=7)
    b = run_core(compiled, table, "rules", sample=50, seed=7)
    c = run_core(compiled, table, "rules", sample=50, seed=8)
    assert a.sampled_events == b.sampled_events
    assert np.array_equal(a.trace_rules.count, b.trace_rules.count)
    assert not np.array_equal(a.trace_rules.count, c.trace_rules.count)


def test_sampled_profile_estimates(workload, tmp_path):
    from ruleopt.profile.core_report import profile_core

    compiled, table = workload
    prof = profile_core(compiled, table, repeat=1, warmup=False, sample=20, seed=3)
    assert prof.settings["sampling"]["sample"] == 20
    assert any("sampled tracing" in n for n in prof.notes)
    d = Profile.from_dict(json.loads(json.dumps(prof.to_dict())))
    for r in d.rules:
        un, ma, whole = r.estimates()
        # Counts exact; the estimate is the exact count times the timed mean.
        assert (un.count, ma.count) == (r.checks - r.matches, r.matches)
        if un.timed:
            assert un.total == pytest.approx(un.count * r.unmatched.sum / r.unmatched.count)
        assert r.total_cycles == round(whole.total)
        if whole.timed > 1 and whole.mean_low is not None:
            assert whole.mean_low <= whole.mean <= whole.mean_high
    assert any(r.sampled for r in d.rules)


def test_run_core_refuses_bad_samples(workload):
    compiled, table = workload
    for bad in (0, -1, MAX_SAMPLE + 1, 1.5, True, "10"):
        with pytest.raises(RuleoptError, match="sample"):
            run_core(compiled, table, "rules", sample=bad)
    with pytest.raises(RuleoptError, match="rules build"):
        run_core(compiled, table, "untraced", sample=10)


# ---------------------------------------------------------------- estimates


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=40),
    st.data(),
)
def test_estimate_of_a_sample(values, data):
    """The estimate of any subset: its mean, count x mean, a zero-width interval when the
    subset is everything; the interval holds the mean and widens with the spread."""
    k = data.draw(st.integers(1, len(values)))
    timed = values[:k]
    e = estimate(len(values), k, sum(timed), float(sum(v * v for v in timed)))
    assert e.mean == pytest.approx(sum(timed) / k)
    assert e.total == pytest.approx(len(values) * e.mean)
    if k == len(values):
        assert e.total == pytest.approx(sum(values)) and e.mean_low == e.mean_high == e.mean
    elif k > 1:
        sd = float(np.std(timed, ddof=1))
        half = Z95 * sd / math.sqrt(k) * math.sqrt(1 - k / len(values))
        assert e.mean_high - e.mean == pytest.approx(half, rel=1e-6, abs=1e-6)
    else:
        assert e.mean_low is None
    both = combine([e, estimate(0, 0, 0, 0.0)])
    assert both.total == pytest.approx(e.total)


def test_estimate_refuses_impossible_cells():
    with pytest.raises(RuleoptError):
        estimate(3, 4, 10, 100.0)
    assert estimate(5, 0, 0, 0.0).mean is None


# ---------------------------------------------------------------- libsinsp harness


@pytest.fixture(scope="module")
def probe_rules() -> list[tuple[int, str, str]]:
    ruleset = load_rules(PROBE_RULES)
    return [
        (r.id, r.name, print_expr(r.condition))
        for r in ruleset.enabled_rules()
        if not unsupported_reason(r)
    ]


def _ok(doc: dict) -> list[dict]:
    return [r for r in doc["rules"] if r["status"] == "ok"]


def test_harness_sample_one_times_every_check(probe_rules):
    doc = run_harness(CAPTURE, probe_rules, 3, sample=1)
    assert doc["sample"] == 1 and len(doc["pass_cycles"]) == 3
    assert doc["sampled_events"] == doc["next_cycles"]["count"] > 0
    for r in _ok(doc):
        assert r["cycles_matched"]["count"] == r["matches_all_passes"]
        assert r["cycles_matched"]["count"] + r["cycles_unmatched"]["count"] == r["evaluations"]
        # The moments belong to the cells: the sum of squares is at least sum^2/count
        # (Cauchy-Schwarz); outliers are the values of the top buckets.
        for b in ("matched", "unmatched"):
            c, (sq, out_sum, out_sq) = r[f"cycles_{b}"], r[f"cycles_{b}_moments"]
            n_out = sum(c["hist"][OUTLIER_BUCKET:])
            assert out_sum >= n_out * OUTLIER_CYCLES and out_sum <= c["sum"]
            assert (out_sum == 0) == (n_out == 0) and out_sq <= sq
            if c["count"]:
                assert sq >= c["sum"] ** 2 / c["count"] * (1 - 1e-12)
    prof = profile_from_harness(doc)
    for rp in prof.rules:
        assert not rp.sampled
        un, ma, whole = rp.estimates()
        assert whole.total == pytest.approx(rp.unmatched.sum + rp.matched.sum)
        assert whole.mean_low == pytest.approx(whole.mean_high)
        # Without the outliers: every other check, exactly.
        trimmed = rp.estimates(trim=True)[2]
        assert trimmed.timed == trimmed.count == rp.checks - rp.outliers


def test_harness_sampled_counts_exact(probe_rules):
    repeat, n = 20, 10
    full = run_harness(CAPTURE, probe_rules, repeat, sample=1)
    samp = run_harness(CAPTURE, probe_rules, repeat, sample=n, seed=99)
    none = run_harness(CAPTURE, probe_rules, repeat, sample=0)
    key = ("id", "evaluations", "matches", "matches_all_passes", "matched_evtnums")
    for d in (samp, none):
        assert [[r[k] for k in key] for r in _ok(d)] == [[r[k] for k in key] for r in _ok(full)]
    reads = full["sampled_events"]  # every next() of every pass
    assert _within(samp["sampled_events"], reads, 1 / n)
    timed = sum(r["cycles_matched"]["count"] + r["cycles_unmatched"]["count"] for r in _ok(samp))
    checks = sum(r["evaluations"] for r in _ok(full))
    assert 0 < timed < checks / n * 2
    # --sample 0 times nothing (the untimed pass the benchmark compares against).
    assert none["sampled_events"] == 0 and none["next_cycles"]["count"] == 0
    assert all(r["cycles_unmatched"]["count"] == 0 for r in _ok(none))
    prof = profile_from_harness(samp)
    assert prof.settings["sampling"]["sample"] == n
    assert any(rp.sampled for rp in prof.rules)


# ---------------------------------------------------------------- the commands


BAD_SAMPLES = ["0", "-1", "1.5", "abc", "", "nan", "inf", str(MAX_SAMPLE + 1)]


@pytest.mark.parametrize("value", BAD_SAMPLES, ids=range(len(BAD_SAMPLES)))
@pytest.mark.parametrize("command", ["profile", "harness"])
def test_bad_sample_is_a_usage_error(tmp_path, capsys, command, value):
    out = tmp_path / "out"
    if command == "profile":
        argv = ["profile", str(PROBE_RULES), str(CAPTURE), "-o", str(out)]
    else:
        argv = ["harness", str(PROBE_RULES), "--trace", str(CAPTURE), "-o", str(out)]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--sample", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --sample:" in err and "Traceback" not in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["profile", "harness"])
def test_seed_without_sample_is_refused(tmp_path, capsys, command):
    out = tmp_path / "out"
    if command == "profile":
        argv = ["profile", str(PROBE_RULES), str(CAPTURE), "-o", str(out)]
    else:
        argv = ["harness", str(PROBE_RULES), "--trace", str(CAPTURE), "-o", str(out)]
    assert main([*argv, "--seed", "3"]) == 1
    err = capsys.readouterr().err
    assert "--sample" in err and "Traceback" not in err
    assert not out.exists()


def test_profile_and_harness_sampled_tables(tmp_path, capsys):
    out = tmp_path / "p"
    rc = main(
        ["profile", str(PROBE_RULES), str(CAPTURE), "-o", str(out), "--no-plots", "--repeat", "1"]
        + ["--sample", "4", "--seed", "5", "--json"]
    )
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["sampling"]["sample"] == 4 and s["sampling"]["timed_events"] > 0
    row = s["top_rules"][0]
    assert {"timed_checks", "mean_unmatched_ci", "total_cycles_ci"} <= set(row)
    doc = json.loads((out / "profile.json").read_text())
    assert all("estimate" in r for r in doc["rules"])
    out = tmp_path / "h"
    rc = main(
        ["harness", str(PROBE_RULES), "--trace", str(CAPTURE), "-o", str(out), "--no-plots"]
        + ["--repeat", "3", "--sample", "4"]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "timed" in text and "±" in text and "1 in 4 events timed" in text
