# The ring-buffer model's C interface (plugin/ring.h): rate replay in simulated time,
# shared by the core's live replay (core_impl.pxi) and the replay of recorded per-event
# costs (ring.pyx, for both engines).
from libc.stdint cimport int64_t, uint8_t, uint64_t


cdef extern from "ring.h" nogil:
    enum:
        RING_STAT_TIMEOUTS
        RING_STAT_DROPS
        RING_STAT_PROCESSED
        RING_STAT_SIM_END
        RING_NUM_STATS

    ctypedef struct ring_model:
        double now
        int64_t drops
        int64_t timeouts
        int64_t done

    int64_t ring_slots(int64_t n, int64_t bufsize)
    void ring_init(ring_model* m, int64_t n, double cycles_per_event, int64_t bufsize,
                   double wait_cycles, int64_t* slots)
    int ring_more(const ring_model* m)
    void ring_fill(ring_model* m)
    int64_t ring_take(ring_model* m)
    void ring_timeout(ring_model* m)
    void ring_consumed(ring_model* m, double cycles)
    void ring_stats(const ring_model* m, int64_t* stats)
    void ring_replay(const uint64_t* costs, int64_t n, double cycles_per_event,
                     int64_t bufsize, double wait_cycles, int64_t* slots,
                     uint8_t* processed, int64_t* stats)
