"""The field producers table: every entry is a field the registry knows under that key, and
every producer gives a well-formed column of the background for its spec.

The generator asks a producer only for canonical keys (``resolve(f).key``), so an entry
under any other name is dead: a model that silently never runs.
"""

from __future__ import annotations

import posixpath

import numpy as np
import pytest

from ruleopt.events.background import Columns, Spec
from ruleopt.events.producers import PREFIX_PRODUCERS, PRODUCERS, produce
from ruleopt.events.table import StringHeap, is_multi, storage_kind
from ruleopt.fields import resolve

N = 1_001  # odd: the last call has its enter only


def _spec(key: str) -> Spec:
    rf = resolve(key)
    return Spec(rf.key, rf.info.type, storage_kind(rf.info), is_multi(rf))


@pytest.fixture(scope="module")
def world() -> Columns:
    return Columns(N, 5, None, StringHeap())


@pytest.mark.parametrize("key", sorted(PRODUCERS))
def test_every_entry_is_a_canonical_key(key):
    assert resolve(key).key == key


INDEXED = ["proc.aname[0]", "proc.aname[1]", "proc.aname[3]", "proc.aname[9]"]


@pytest.mark.parametrize("key", sorted(PRODUCERS) + INDEXED)
def test_producer_gives_a_well_formed_column(world, key):
    spec = _spec(key)
    c = produce(world, spec)
    assert c is not None
    assert (c.key, c.type, c.kind) == (spec.key, spec.type, spec.kind)
    assert c.present.shape == (N,) and c.present.dtype == np.bool_
    assert c.values.dtype == (np.int32 if spec.kind == "str" else np.int64)
    if spec.multi:
        assert c.offsets is not None and len(c.offsets) == N + 1
        assert c.offsets[0] == 0 and np.all(np.diff(c.offsets) >= 0)
        assert c.offsets[-1] == len(c.values)
        # A present list is never empty here (no list means absent).
        assert np.all(np.diff(c.offsets)[c.present] > 0)
    else:
        assert c.offsets is None and c.values.shape == (N,)
        if spec.kind == "str":
            assert np.all((c.values >= 0) == c.present)
    c.validate(N, len(world.heap))


def test_indexed_keys_use_the_prefix_table(world):
    assert "proc.aname[3]" not in PRODUCERS
    assert any("proc.aname[3]".startswith(p) for p in PREFIX_PRODUCERS)
    heap = world.heap
    name = produce(world, _spec("proc.name"))
    parent = produce(world, _spec("proc.pname"))
    for k, other in ((0, name), (1, parent)):
        c = produce(world, _spec(f"proc.aname[{k}]"))
        assert np.array_equal(c.present, other.present)
        got = [heap.get(int(v)) for v in c.values[c.present]]
        assert got == [heap.get(int(v)) for v in other.values[other.present]]


def test_new_path_is_the_old_one_with_a_suffix(world):
    heap = world.heap
    old = produce(world, _spec("evt.arg.oldpath"))
    new = produce(world, _spec("evt.arg.newpath"))
    assert old.present.any() and np.array_equal(old.present, new.present)
    for o, n in zip(old.values[old.present], new.values[new.present], strict=True):
        assert heap.get(int(n)) == heap.get(int(o)) + ".new"


def test_fd_directory_splits_the_file_name(world):
    heap = world.heap
    name = produce(world, _spec("fd.name"))
    d = produce(world, _spec("fd.directory"))
    assert d.present.any() and not np.any(d.present & ~name.present)
    for nm, dv in zip(name.values[d.present], d.values[d.present], strict=True):
        assert heap.get(int(dv)) == posixpath.dirname(heap.get(int(nm)))


def test_field_without_a_model_has_no_producer(world):
    assert produce(world, _spec("proc.sid")) is None
