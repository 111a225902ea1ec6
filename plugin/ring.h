/*
 * The ring-buffer model of rate replay, one definition for both engines.
 *
 * The study's question "at what rate of events does the engine start dropping" is
 * answered in simulated time: event i arrives at i * cycles_per_event; a ring of
 * `bufsize` slots holds the events that arrived and wait; the consumer takes each event's
 * measured cost in cycles (next + index + rule checks + output). An empty ring makes the
 * iteration a SCAP_TIMEOUT: the consumer then waits `wait_cycles`, or, with 0, until the
 * next arrival. An arrival into a full ring is dropped.
 *
 * The model is a handful of steps (ring_fill, ring_take, ring_timeout, ring_consumed) so
 * that two drivers share them:
 *   - the replica's live replay (cython_core/core_impl.pxi, _run_rate), which measures
 *     each event's cost while it runs;
 *   - ring_replay below, fed recorded costs: the real engine's per-event costs
 *     (ruleopt-sinsp engine --event-costs) or the replica's.
 * Fed the costs the live replay measured, ring_replay reproduces its drops, timeouts and
 * simulated end exactly (tests/test_ring_model.py), so both engines' drop curves come out
 * of this one model.
 *
 * A timeout advances simulated time by the wait alone: polling an empty ring costs the
 * consumer a few cycles, which a real consumer spends while it would be idle anyway.
 *
 * Header-only (static inline), no allocation: the caller owns the ring's slots.
 */
#ifndef RULEOPT_RING_H
#define RULEOPT_RING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ring_model {
    double now;              /* simulated cycles since the first arrival */
    double cycles_per_event; /* arrival spacing: tsc_hz / offered rate */
    double wait_cycles;      /* a timeout's wait; 0: until the next arrival */
    int64_t n;               /* events offered */
    int64_t bufsize;         /* ring slots (>= 1) */
    int64_t next_arr;        /* the next event to arrive */
    int64_t head, count;     /* the ring: oldest slot, events held */
    int64_t timeouts, drops, done;
    int64_t *slots;          /* bufsize event numbers */
} ring_model;

/* The four figures a replay reports, in this order (ring_stats). */
#define RING_STAT_TIMEOUTS 0
#define RING_STAT_DROPS 1
#define RING_STAT_PROCESSED 2
#define RING_STAT_SIM_END 3
#define RING_NUM_STATS 4

/* Slots a ring of `bufsize` needs for `n` events: it never holds more than all of them,
 * and a ring that holds them all never drops, so any larger ring behaves the same (a
 * --buffer of 10^9 then costs n slots, not 8 GB). Callers allocate this many and pass it
 * as the ring's size. */
static inline int64_t ring_slots(int64_t n, int64_t bufsize) {
    int64_t k = bufsize < n ? bufsize : n;
    return k < 1 ? 1 : k;
}

static inline void ring_init(ring_model *m, int64_t n, double cycles_per_event, int64_t bufsize,
                             double wait_cycles, int64_t *slots) {
    m->now = 0.0;
    m->cycles_per_event = cycles_per_event;
    m->wait_cycles = wait_cycles;
    m->n = n;
    m->bufsize = bufsize;
    m->next_arr = 0;
    m->head = 0;
    m->count = 0;
    m->timeouts = 0;
    m->drops = 0;
    m->done = 0;
    m->slots = slots;
}

/* Anything left to do: events still to arrive or waiting in the ring. */
static inline int ring_more(const ring_model *m) { return m->next_arr < m->n || m->count > 0; }

/* Producer: every event that arrived by `now` goes into the ring, or is dropped. */
static inline void ring_fill(ring_model *m) {
    while (m->next_arr < m->n && (double)m->next_arr * m->cycles_per_event <= m->now) {
        if (m->count < m->bufsize) {
            m->slots[(m->head + m->count) % m->bufsize] = m->next_arr;
            m->count++;
        } else {
            m->drops++;
        }
        m->next_arr++;
    }
}

/* Consumer: the oldest waiting event, or -1 when the ring is empty (then ring_timeout). */
static inline int64_t ring_take(ring_model *m) {
    if (m->count == 0) return -1;
    int64_t i = m->slots[m->head];
    m->head = (m->head + 1) % m->bufsize;
    m->count--;
    return i;
}

/* An empty ring: one SCAP_TIMEOUT iteration. */
static inline void ring_timeout(ring_model *m) {
    m->timeouts++;
    if (m->wait_cycles > 0) {
        m->now += m->wait_cycles;
    } else if (m->next_arr < m->n) {
        double t = (double)m->next_arr * m->cycles_per_event;
        if (t > m->now) m->now = t;
    }
}

/* The event ring_take gave took `cycles` to process. */
static inline void ring_consumed(ring_model *m, double cycles) {
    m->done++;
    m->now += cycles;
}

static inline void ring_stats(const ring_model *m, int64_t *stats) {
    stats[RING_STAT_TIMEOUTS] = m->timeouts;
    stats[RING_STAT_DROPS] = m->drops;
    stats[RING_STAT_PROCESSED] = m->done;
    stats[RING_STAT_SIM_END] = (int64_t)m->now;
}

/* The model fed recorded costs: costs[i] cycles for event i (only read for events that
 * are processed). processed[i] is set to 1 for each processed event (the caller zeroes
 * it). stats: RING_NUM_STATS values. */
static inline void ring_replay(const uint64_t *costs, int64_t n, double cycles_per_event,
                               int64_t bufsize, double wait_cycles, int64_t *slots,
                               uint8_t *processed, int64_t *stats) {
    ring_model m;
    ring_init(&m, n, cycles_per_event, bufsize, wait_cycles, slots);
    while (ring_more(&m)) {
        ring_fill(&m);
        int64_t i = ring_take(&m);
        if (i < 0) {
            ring_timeout(&m);
            continue;
        }
        processed[i] = 1;
        ring_consumed(&m, (double)costs[i]);
    }
    ring_stats(&m, stats);
}

#ifdef __cplusplus
}
#endif

#endif /* RULEOPT_RING_H */
