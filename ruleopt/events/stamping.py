"""Stamping breaking events: templates written over evenly spread background rows.

``break_share`` of the rows, at jittered strata (``break_rows``), are overwritten with a
template of an enabled rule, rules taking turns; for a capture, the rows just before a
breaking row are stamped with the state it needs (``capture_shape.setup_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ruleopt.events import capture_shape
from ruleopt.events.background import Spec, to_storage
from ruleopt.events.pools import stream
from ruleopt.events.table import Column, StringHeap


def break_rows(n: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct rows spread evenly over ``n``: one per stratum, jittered inside it."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    edges = (np.arange(k + 1, dtype=np.float64) * n / k).astype(np.int64)
    width = np.maximum(edges[1:] - edges[:-1], 1)
    jitter = (stream(seed, "break-rows").random(k) * width).astype(np.int64)
    return np.minimum(edges[:-1] + jitter, n - 1)


def apply_single(c: Column, rows: np.ndarray, value: object, heap: StringHeap) -> None:
    if value is None:
        c.present[rows] = False
        c.values[rows] = -1 if c.kind == "str" else 0
        return
    stored = to_storage(value, c.kind)
    c.values[rows] = heap.intern(stored) if c.kind == "str" else stored
    c.present[rows] = True


def apply_multi(
    c: Column, overrides: list[tuple[np.ndarray, object]], heap: StringHeap, n: int
) -> Column:
    """Rebuild a list-valued column with some rows' lists replaced (vectorized)."""
    old_len = np.diff(c.offsets)
    new_len = old_len.copy()
    present = c.present.copy()
    touched = np.zeros(n, dtype=np.bool_)
    encoded: list[tuple[np.ndarray, np.ndarray]] = []
    for rows, value in overrides:
        items = [] if value is None else [to_storage(v, c.kind) for v in value]
        arr = np.array(
            [heap.intern(x) for x in items] if c.kind == "str" else items, dtype=c.values.dtype
        )
        new_len[rows] = len(arr)
        present[rows] = value is not None
        touched[rows] = True
        encoded.append((rows, arr))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(new_len, out=offsets[1:])
    values = np.empty(int(offsets[-1]), dtype=c.values.dtype)
    # Untouched rows keep their elements, shifted to their new offsets.
    keep_ev = np.repeat(~touched, old_len)
    ev_of = np.repeat(np.arange(n, dtype=np.int64), old_len)[keep_ev]
    starts = np.repeat(c.offsets[:-1], old_len)
    within = (np.arange(len(c.values), dtype=np.int64) - starts)[keep_ev]
    values[offsets[ev_of] + within] = c.values[keep_ev]
    for rows, arr in encoded:
        for j, x in enumerate(arr):
            values[offsets[rows] + j] = x
    return Column(c.key, c.type, c.kind, values, present, offsets)


def empty_column(spec: Spec, n: int) -> Column:
    dtype = np.int32 if spec.kind == "str" else np.int64
    fill = -1 if spec.kind == "str" else 0
    present = np.zeros(n, dtype=np.bool_)
    if spec.multi:
        return Column(
            spec.key,
            spec.type,
            spec.kind,
            np.zeros(0, dtype=dtype),
            present,
            np.zeros(n + 1, dtype=np.int64),
        )
    return Column(spec.key, spec.type, spec.kind, np.full(n, fill, dtype=dtype), present)


def stamp(
    columns: dict[str, Column],
    specs: Mapping[str, Spec],
    templates: Mapping[int, list[dict]],
    n: int,
    seed: int,
    share: float,
    heap: StringHeap,
    setup_rows: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite the breaking rows with templates; returns (rows, rule id per row).
    With ``setup_rows`` (a capture), the rows stamped to set up the state a breaking row
    needs are stamped too and appended to it."""
    k = int(round(n * share)) if templates else 0
    rows = break_rows(n, k, seed)
    ids = np.array(sorted(templates), dtype=np.int64)
    if k == 0:
        return rows, np.zeros(0, dtype=np.int64)
    # Rules take turns in a seeded order, so every rule with a template breaks about
    # k / len(rules) times, and each rule cycles through its templates.
    order = stream(seed, "break-rules").permutation(len(ids))
    turn = np.arange(k, dtype=np.int64)
    rule_of = ids[order[turn % len(ids)]]
    tmpl_of = (turn // len(ids)).astype(np.int64)
    multi_over: dict[str, list[tuple[np.ndarray, object]]] = {}
    for rid in ids.tolist():
        tl = templates[rid]
        sel = rule_of == rid
        for t_i, tmpl in enumerate(tl):
            r = rows[sel & (tmpl_of % len(tl) == t_i)]
            if not len(r):
                continue
            for key, value in tmpl.items():
                if key not in columns:
                    columns[key] = empty_column(specs[key], n)
                c = columns[key]
                if c.offsets is not None:
                    multi_over.setdefault(key, []).append((r, value))
                else:
                    apply_single(c, r, value, heap)
    # State a capture needs before some breaking events (see capture_shape.setup_rows), stamped
    # over the background rows just before them.
    taken = set(rows.tolist())
    pending = zip(rows.tolist(), rule_of.tolist(), tmpl_of.tolist(), strict=True)
    for r, t_rule, t_i in pending if setup_rows is not None else ():
        tl = templates[t_rule]
        setup = capture_shape.setup_rows(tl[t_i % len(tl)], set(specs))
        first = r - len(setup)
        if not setup or first < 1 or any(x in taken for x in range(first, r)):
            continue
        for j, values in enumerate(setup):
            row = np.array([first + j], dtype=np.int64)
            taken.add(first + j)
            if values.pop(capture_shape.COPY, False):
                # The enter of the breaking call: the same process and fd as its exit.
                for key, c in columns.items():
                    if key == "evt.num":
                        continue  # numbers the rows
                    if c.offsets is None and key not in values:
                        c.values[row] = c.values[r]
                        c.present[row] = c.present[r]
                    elif c.offsets is not None and key not in values:
                        multi_over.setdefault(key, []).append((row, _multi_at(c, r, heap)))
            for key, value in values.items():
                if key not in columns:
                    columns[key] = empty_column(specs[key], n)
                if columns[key].offsets is not None:
                    multi_over.setdefault(key, []).append((row, value))
                else:
                    apply_single(columns[key], row, value, heap)
    for key, over in multi_over.items():
        columns[key] = apply_multi(columns[key], over, heap, n)
    if setup_rows is not None:
        setup_rows.extend(sorted(taken - set(rows.tolist())))
    return rows, rule_of


def _multi_at(c: Column, row: int, heap: StringHeap) -> list | None:
    """Row ``row``'s list in a multi-valued column (None if absent)."""
    if not c.present[row]:
        return None
    assert c.offsets is not None
    vals = c.values[int(c.offsets[row]) : int(c.offsets[row + 1])]
    return [heap.get(int(v)) for v in vals] if c.kind == "str" else [int(v) for v in vals]
