# cython: language_level=3, boundscheck=False, wraparound=False
"""The ring-buffer model (plugin/ring.h) fed recorded per-event costs.

``replay(costs, rate_cycles, buffer, wait_cycles)`` runs the same steps the core's live
rate replay runs (``core_impl.pxi``, ``_run_rate``), with event i costing ``costs[i]``
cycles instead of a measured pass: the real engine's per-event costs (``ruleopt-sinsp
engine --event-costs``) and the replica's go through one model. Python's front is
``ruleopt.profile.rate``.
"""

from libc.stdint cimport int64_t, uint8_t, uint64_t

import numpy as np

cimport numpy as cnp

from ringmodel cimport (
    RING_NUM_STATS,
    RING_STAT_DROPS,
    RING_STAT_PROCESSED,
    RING_STAT_SIM_END,
    RING_STAT_TIMEOUTS,
    ring_replay,
    ring_slots,
)

cnp.import_array()

cdef extern from "ruleopt_abi.h":
    # Set by setup.py: a digest of the ABI headers (ring.h among them), so a stale build of
    # this model is refused as a stale core is (ruleopt.profile.rate).
    const char* _ABI_DIGEST "RULEOPT_ABI_DIGEST"

ABI_DIGEST = _ABI_DIGEST.decode("ascii")


def slots(int64_t n, int64_t buffer):
    """ring.h's ring_slots: the slots a replay of ``n`` events into a ring of ``buffer``
    allocates (the memory estimate asks it, so there is one definition)."""
    return ring_slots(n, buffer)


def replay(costs, double cycles_per_event, int64_t buffer, double wait_cycles=0.0):
    """Replay ``costs`` (uint64 cycles per event, event order) arriving every
    ``cycles_per_event`` cycles into a ring of ``buffer`` slots.

    Returns ``{"processed": bool array, "timeouts", "drops", "done", "sim_cycles"}``."""
    cdef cnp.ndarray c_a = np.ascontiguousarray(costs, dtype=np.uint64)
    if c_a.ndim != 1:
        raise ValueError("costs must be 1-d")
    if not cycles_per_event > 0:
        raise ValueError("cycles_per_event must be positive")
    if buffer < 1:
        raise ValueError("buffer must hold at least one event")
    if wait_cycles < 0:
        raise ValueError("wait_cycles must not be negative")
    cdef int64_t n = c_a.shape[0]
    buffer = ring_slots(n, buffer)
    cdef cnp.ndarray slots = np.zeros(buffer, dtype=np.int64)
    cdef cnp.ndarray proc = np.zeros(max(n, 1), dtype=np.uint8)
    cdef int64_t stats[RING_NUM_STATS]
    cdef const uint64_t* cp = <const uint64_t*>cnp.PyArray_DATA(c_a) if n else NULL
    with nogil:
        ring_replay(cp, n, cycles_per_event, buffer, wait_cycles,
                    <int64_t*>cnp.PyArray_DATA(slots), <uint8_t*>cnp.PyArray_DATA(proc), stats)
    return {
        "processed": proc[:n].astype(np.bool_),
        "timeouts": int(stats[RING_STAT_TIMEOUTS]),
        "drops": int(stats[RING_STAT_DROPS]),
        "done": int(stats[RING_STAT_PROCESSED]),
        "sim_cycles": int(stats[RING_STAT_SIM_END]),
    }
