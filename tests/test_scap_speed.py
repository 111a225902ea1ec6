"""The fast capture writer is the plain one, sped up: the same bytes.

The encoders compiled per event code (``scapfile.event_block``) against the plain
parameter-by-parameter definition (``event_block_reference``), over every event of
libscap's table; and a whole capture written the fast way (``EventTable.events()``,
the compiled encoders, the memos, the writer compiled by Cython) against the plain
way (``event(i)`` row by row, the reference encoder, no memo, the interpreted
module)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import RULESETS
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt.errors import RuleoptError
from ruleopt.events import scapfile, workload_scap
from ruleopt.events.generator import generate
from ruleopt.events.table import EventTable
from ruleopt.rules.loader import load_rules

REPO = Path(__file__).resolve().parents[1]

_CODES = [e.code for e in scapfile.event_table() if e.params]
_VALUES = st.one_of(
    st.none(),
    st.integers(-(1 << 63), (1 << 64) - 1),
    st.booleans(),
    st.text(max_size=12),
    st.binary(max_size=20),
    st.floats(allow_nan=False, width=32),
)


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(_CODES),
    picks=st.lists(st.tuples(st.integers(0, 31), _VALUES), max_size=6),
    extra=st.dictionaries(st.sampled_from(["ID", "nativeID", "nosuch"]), _VALUES, max_size=2),
    ts=st.integers(0, (1 << 64) - 1),
    tid=st.integers(0, (1 << 64) - 1),
)
def test_event_block_equals_the_reference(code, picks, extra, ts, tid) -> None:
    params = scapfile.event_table()[code].params
    values = dict(extra)
    for j, value in picks:
        values[params[j % len(params)][0]] = value

    def outcome(fn):
        # Values no parameter can hold fail both ways (which of two bad values is met
        # first may differ: the fast encoder walks the given values, not the table).
        try:
            return fn(code, ts, tid, values)
        except (RuleoptError, ValueError, TypeError, OverflowError):
            return "refused"

    assert outcome(scapfile.event_block) == outcome(scapfile.event_block_reference)


def test_event_block_refuses_a_long_parameter_as_the_reference_does() -> None:
    _enter, exit_ = scapfile.event_codes("openat")
    for fn in (scapfile.event_block, scapfile.event_block_reference):
        with pytest.raises(RuleoptError, match="longer than 65,535"):
            fn(exit_, 0, 1, {"name": "x" * 70000})


def test_the_compiled_writer_is_this_source_compiled() -> None:
    # build() runs the compiled copy only when it was compiled from workload_scap.py as
    # it is now; a stale copy would silently cost the 10^6-event write its speed.
    assert workload_scap._compiled() is not None, (
        "ruleopt._ext.workload_scap_c is missing or was compiled from another version of "
        "workload_scap.py: rebuild it (python3 setup.py build_ext --inplace)"
    )
    assert workload_scap._compiled().__name__ == workload_scap._COMPILED_NAME


def _reference_build(table: EventTable, monkeypatch) -> tuple[bytes, workload_scap.ScapReport]:
    with monkeypatch.context() as m:
        m.setattr(EventTable, "events", lambda t: (t.event(i) for i in range(t.n)))
        m.setattr(scapfile, "event_block", scapfile.event_block_reference)
        m.setattr(workload_scap, "MEMO", False)
        # The interpreted module: the compiled copy is held to it too.
        m.setattr(workload_scap, "COMPILED", False)
        buf = io.BytesIO()
        rep = workload_scap.build(table, buf)
    return buf.getvalue(), rep


@pytest.mark.parametrize(
    ("rules", "seed", "share"),
    [
        (REPO / "rulesets" / "seed_rules.yaml", 3, 0.2),
        (RULESETS / "falco_rules-falco-0.26.2.yaml", 11, 0.05),
        (RULESETS / "falco_rules-main.yaml", 12, 0.3),
    ],
)
def test_fast_capture_is_the_plain_capture_byte_for_byte(monkeypatch, rules, seed, share):
    table = generate(load_rules([rules]), 1500, seed, share)
    fast = io.BytesIO()
    rep = workload_scap.build(table, fast)
    plain, plain_rep = _reference_build(table, monkeypatch)
    assert fast.getvalue() == plain
    assert rep.bytes == len(plain) and rep.events == table.n
    # The report too: the same cells marked, counted, with the same reasons.
    assert rep.unfaithful == plain_rep.unfaithful and rep.unfaithful
    assert list(rep.mask) == list(plain_rep.mask)
    for key, (count, _why) in rep.unfaithful.items():
        assert (rep.mask[key] == plain_rep.mask[key]).all() and rep.mask[key].sum() == count


def test_build_reports_progress_up_to_every_row(monkeypatch) -> None:
    monkeypatch.setattr(workload_scap, "_PROGRESS_EVERY", 4096)
    table = generate(load_rules([REPO / "rulesets" / "seed_rules.yaml"]), 9000, 2, 0.1)
    calls: list[int] = []
    workload_scap.build(table, io.BytesIO(), progress=calls.append)
    assert calls == [4096, 8192, 9000]


def test_event_block_keeps_values_apart_that_are_equal_but_encode_differently() -> None:
    # The per-combination cache must not give True the bytes of 1, nor -0.0 those of 0.0.
    _enter, exit_ = scapfile.event_codes("openat")
    for value in (1, True, 1.0, "1", b"1", 0.0, -0.0, 0, False, None, ""):
        for name in ("name", "fd", "flags"):
            values = {name: value}
            ref = scapfile.event_block_reference(exit_, 9, 8, values)
            assert scapfile.event_block(exit_, 9, 8, values) == ref, (name, value)
    generic = scapfile.event_codes("getpid")[0]
    for values in ({"ID": 1}, {"ID": True}, {"ID": 1, "nativeID": -1}, {"nativeID": -1}):
        assert scapfile.event_block(generic, 1, 2, values) == (
            scapfile.event_block_reference(generic, 1, 2, values)
        )
