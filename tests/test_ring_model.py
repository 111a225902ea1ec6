"""The ring-buffer model of rate replay (plugin/ring.h): exact small cases, a plain-Python
statement of the same model, and the replica's live replay reproduced from its own
per-event costs, so both engines' drop curves come from one model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RULESETS
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt._ext import abi, ring
from ruleopt.engine import strategies as S
from ruleopt.engine.core import run_core
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.events.generator import generate
from ruleopt.profile import rate as R
from ruleopt.rules.loader import load_rules

HZ = 100.0  # simulated TSC: rate = HZ / cycles_per_event


def _replay(costs, cpe, buffer, wait=0.0):
    return R.replay(
        np.asarray(costs, dtype=np.uint64), HZ / cpe, HZ, buffer=buffer, wait_s=wait / HZ
    )


def test_a_full_ring_drops_the_arrival() -> None:
    # e0 at 0 runs until 10; by then e1 (at 5) waits in the one slot and e2 (at 10) finds
    # the ring full; e1 runs until 20.
    r = _replay([10, 10, 10], cpe=5, buffer=1)
    assert (r.drops, r.timeouts) == (1, 0)
    assert r.processed.tolist() == [True, True, False]
    assert r.sim_seconds * HZ == 20


def test_an_empty_ring_waits_for_the_next_arrival() -> None:
    r = _replay([1, 1], cpe=10, buffer=4)
    # e0 runs until 1, the ring is empty: one timeout, then e1 arrives at 10.
    assert (r.drops, r.timeouts, r.sim_seconds * HZ) == (0, 1, 11)


def test_a_fixed_wait_polls_until_the_arrival() -> None:
    r = _replay([1, 1], cpe=10, buffer=4, wait=3)
    # Polls at 1, 4, 7 find nothing; at 10 e1 is there.
    assert (r.drops, r.timeouts, r.sim_seconds * HZ) == (0, 3, 11)


def _model(costs, cpe, buffer, wait):
    """The model in plain Python, as ring.h's comment states it."""
    now, nxt, ring, drops, timeouts, done = 0.0, 0, [], 0, 0, []
    n = len(costs)
    while nxt < n or ring:
        while nxt < n and nxt * cpe <= now:
            if len(ring) < buffer:
                ring.append(nxt)
            else:
                drops += 1
            nxt += 1
        if not ring:
            timeouts += 1
            if wait > 0:
                now += wait
            elif nxt < n:
                now = max(now, nxt * cpe)
            continue
        i = ring.pop(0)
        done.append(i)
        now += costs[i]
    return drops, timeouts, done, int(now)


@settings(max_examples=60, deadline=None)
@given(
    costs=st.lists(st.integers(0, 50), min_size=0, max_size=40),
    cpe=st.integers(1, 30),
    # Rings of up to 10^9 slots: the compiled one allocates one slot per event at most
    # (ring_slots), the stated one has no such cap; they must agree.
    buffer=st.one_of(st.integers(1, 5), st.integers(40, 10**9)),
    wait=st.sampled_from([0, 0, 2, 7]),
)
def test_the_compiled_model_is_the_stated_one(costs, cpe, buffer, wait) -> None:
    r = _replay(costs, cpe, buffer, wait)
    # The same float expressions replay() computes from a rate and a wait in seconds.
    drops, timeouts, done, end = _model(costs, HZ / (HZ / cpe), buffer, (wait / HZ) * HZ)
    assert (r.drops, r.timeouts, int(round(r.sim_seconds * HZ))) == (drops, timeouts, end)
    assert np.flatnonzero(r.processed).tolist() == sorted(done)
    assert r.drops + len(done) == len(costs)


@pytest.fixture(scope="module")
def workload():
    rules = load_rules([str(RULESETS / "falco_rules-falco-0.26.2.yaml")])
    table = generate(rules, 3000, seed=3, break_share=0.05)
    compiled, kept = S.compile_for(rules, table)
    return compiled, table


@pytest.mark.parametrize("build", ["untraced", "stacks"])
def test_the_live_replay_is_the_model_fed_its_own_costs(workload, build) -> None:
    compiled, table = workload
    run_core(compiled, table, "untraced")  # warm-up: the first pass pays page faults
    base = run_core(compiled, table, "untraced")
    per_event = float(base.cycles[0]) / table.n
    seen_drops = seen_timeouts = False
    # Offered at 10x and at 1% of what the core sustains: drops, then timeouts.
    for factor, buffer in ((10.0, 64), (0.01, 64)):
        rate = factor * base.tsc_hz / per_event
        live = run_core(compiled, table, build, rate=rate, buffer=buffer)
        costs = live.extra["event_cycles"]
        assert costs.shape == (table.n,)
        assert np.all(costs[~live.processed] == 0) and np.all(costs[live.processed] > 0)
        again = R.replay(costs, rate, live.tsc_hz, buffer=buffer)
        assert again.drops == live.drops and again.timeouts == live.timeouts
        assert np.array_equal(again.processed, live.processed)
        assert abs(again.sim_seconds - live.sim_seconds) * live.tsc_hz <= 1
        seen_drops |= live.drops > 0
        seen_timeouts |= live.timeouts > 0
    assert seen_drops and seen_timeouts


def test_drop_curve_and_the_first_drop() -> None:
    costs = np.full(1000, 10, dtype=np.uint64)  # 10 cycles each: 10 events/s at HZ=100
    rates = [5.0, 9.0, 20.0, 40.0]
    drops = R.drop_curve(costs, rates, HZ, buffer=8)
    assert drops[0] == 0 and drops[1] == 0 and 0 < drops[2] < drops[3]
    assert R.highest_without_drop(rates, drops) == 9.0
    assert R.highest_without_drop(rates, [0.1, 0.2, 0.3, 0.4]) is None


def test_with_output_adds_each_alert_to_its_event() -> None:
    got = R.with_output(np.array([5, 5, 5], dtype=np.uint64), np.array([2, 0, 2]), 10.0)
    assert got.tolist() == [15, 5, 25]


@pytest.mark.parametrize("kwargs", [{"rate": 0.0}, {"rate": -1.0}, {"buffer": 0}, {"wait_s": -1.0}])
def test_bad_replay_settings_are_refused(kwargs) -> None:
    args = {"rate": 10.0, "buffer": 4, "wait_s": 0.0} | kwargs
    with pytest.raises(RuleoptError):
        R.replay(np.ones(3, dtype=np.uint64), args.pop("rate"), HZ, **args)


def test_a_stale_model_build_is_refused(monkeypatch) -> None:
    assert ring.ABI_DIGEST == abi.ABI_DIGEST  # built from the core's headers, ring.h included
    monkeypatch.setattr(abi, "ABI_DIGEST", "another-build")
    with pytest.raises(InternalError, match="other ABI headers"):
        R.replay(np.ones(3, dtype=np.uint64), 10.0, HZ)
