/* Storage, reset, export and TSC calibration of the tracing library (see trace.h). */
#define _POSIX_C_SOURCE 199309L
#include "trace.h"

#include <string.h>
#include <time.h>

__attribute__((visibility("hidden"))) trace_cell_t
    ruleopt_trace_rules[TRACE_MAX_RULES][TRACE_RULE_BRANCHES];
__attribute__((visibility("hidden"))) trace_cell_t
    ruleopt_trace_stages[TRACE_NUM_STAGES][TRACE_NUM_BRANCHES];

__attribute__((visibility("hidden"))) double
    ruleopt_trace_rules_mom[TRACE_MAX_RULES][TRACE_RULE_BRANCHES][TRACE_MOMENTS];

static double tsc_hz_cached = 0.0;

int trace_mode(void) {
#if defined(RULEOPT_TRACE_RULES) && RULEOPT_TRACE_RULES
    return 1;
#elif defined(RULEOPT_TRACE_STACKS) && RULEOPT_TRACE_STACKS
    return 2;
#else
    return 0;
#endif
}

void trace_reset(void) {
    memset(ruleopt_trace_rules, 0, sizeof ruleopt_trace_rules);
    memset(ruleopt_trace_stages, 0, sizeof ruleopt_trace_stages);
    memset(ruleopt_trace_rules_mom, 0, sizeof ruleopt_trace_rules_mom);
}

static void export_cell(uint64_t *out, const trace_cell_t *c) {
    out[0] = c->count;
    out[1] = c->sum;
    memcpy(out + 2, c->hist, sizeof c->hist);
}

void trace_export_rules(uint64_t *out, uint32_t n_rules) {
    if (n_rules > TRACE_MAX_RULES) n_rules = TRACE_MAX_RULES;
    for (uint32_t r = 0; r < n_rules; r++)
        for (int b = 0; b < TRACE_RULE_BRANCHES; b++)
            export_cell(out + ((size_t)r * TRACE_RULE_BRANCHES + b) * TRACE_CELL_WORDS,
                        &ruleopt_trace_rules[r][b]);
}

void trace_export_rules_mom(double *out, uint32_t n_rules) {
    if (n_rules > TRACE_MAX_RULES) n_rules = TRACE_MAX_RULES;
    memcpy(out, ruleopt_trace_rules_mom, (size_t)n_rules * sizeof ruleopt_trace_rules_mom[0]);
}

void trace_export_stages(uint64_t *out) {
    for (int s = 0; s < TRACE_NUM_STAGES; s++)
        for (int b = 0; b < TRACE_NUM_BRANCHES; b++)
            export_cell(out + ((size_t)s * TRACE_NUM_BRANCHES + b) * TRACE_CELL_WORDS,
                        &ruleopt_trace_stages[s][b]);
}

static double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double trace_tsc_hz(void) {
    if (tsc_hz_cached > 0.0) return tsc_hz_cached;
#if !defined(__x86_64__) && !defined(__i386__) && !defined(__aarch64__)
    tsc_hz_cached = 1e9; /* the fallback counter is nanoseconds */
    return tsc_hz_cached;
#else
    /* Busy-wait ~50 ms: sleeping would let a frequency-scaled core drift, and the TSC is
     * constant-rate anyway. Done once, never on the hot path. */
    double t0 = mono_seconds();
    uint64_t c0 = trace_rdtsc();
    double t1;
    do {
        t1 = mono_seconds();
    } while (t1 - t0 < 0.05);
    uint64_t c1 = trace_rdtsc();
    tsc_hz_cached = (double)(c1 - c0) / (t1 - t0);
    return tsc_hz_cached;
#endif
}
