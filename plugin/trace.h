/*
 * ruleopt tracing library: the replica of the study's Falco tracing plugin.
 *
 * Everything is statically allocated direct-access arrays indexed by rule id or stage id,
 * timed with the TSC. The hot-path record functions are `static inline` here and compile
 * to nothing unless the build's macro is on, so one source gives three builds:
 *   RULEOPT_TRACE_RULES=1   per-rule check cycles (matched / unmatched)
 *   RULEOPT_TRACE_STACKS=1  per-stage cycles of the event loop, by event branch
 *   neither                 untraced
 * The two macros are mutually exclusive, as in the study: timing stages around rule
 * checks that are themselves timed would measure the tracer.
 *
 * Nothing on the hot path allocates, locks or makes a syscall: a record is two loads,
 * three adds and a bit scan.
 */
#ifndef RULEOPT_TRACE_H
#define RULEOPT_TRACE_H

#include <math.h>
#include <stdint.h>

#if defined(RULEOPT_TRACE_RULES) && RULEOPT_TRACE_RULES && \
    defined(RULEOPT_TRACE_STACKS) && RULEOPT_TRACE_STACKS
#error "RULEOPT_TRACE_RULES and RULEOPT_TRACE_STACKS are mutually exclusive"
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#else
#include <time.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 0/1 constants the core tests with a plain `if`, which the C compiler folds away. */
#if defined(RULEOPT_TRACE_RULES) && RULEOPT_TRACE_RULES
#define TRACE_RULES_ON 1
#else
#define TRACE_RULES_ON 0
#endif
#if defined(RULEOPT_TRACE_STACKS) && RULEOPT_TRACE_STACKS
#define TRACE_STACKS_ON 1
#else
#define TRACE_STACKS_ON 0
#endif

#define TRACE_MAX_RULES 8192
#define TRACE_HIST_BUCKETS 64
/* uint64 words of one exported cell: count, sum, hist[TRACE_HIST_BUCKETS]. */
#define TRACE_CELL_WORDS (2 + TRACE_HIST_BUCKETS)

/* Rule check branches. */
#define TRACE_RULE_UNMATCHED 0
#define TRACE_RULE_MATCHED 1
#define TRACE_RULE_BRANCHES 2

/* Stages of one event-loop iteration (Falco: next() -> index lookup -> rule checks ->
 * output), plus the whole iteration. */
#define TRACE_STAGE_NEXT_EVENT 0
#define TRACE_STAGE_INDEX_LOOKUP 1
#define TRACE_STAGE_RULE_CHECKS 2
#define TRACE_STAGE_OUTPUT 3
#define TRACE_STAGE_ITERATION 4
#define TRACE_NUM_STAGES 5

/* What happened to the iteration: no event (buffers empty), all rules of the bucket
 * checked without a match, or the rule loop broke on a match. */
#define TRACE_BRANCH_SCAP_TIMEOUT 0
#define TRACE_BRANCH_RULES_UNBROKEN 1
#define TRACE_BRANCH_RULES_BROKEN 2
#define TRACE_NUM_BRANCHES 3

/* Names of the stages, branches and rule branches above, as Python reports them
 * (ruleopt.engine.core.STAGES / BRANCHES / RULE_BRANCHES read them from here). NULL past
 * the last one. */
static inline const char *trace_stage_name(unsigned stage) {
    static const char *const names[TRACE_NUM_STAGES] = {
        "next_event", "index_lookup", "rule_checks", "output", "iteration"};
    return stage < TRACE_NUM_STAGES ? names[stage] : 0;
}

static inline const char *trace_branch_name(unsigned branch) {
    static const char *const names[TRACE_NUM_BRANCHES] = {
        "scap_timeout", "rules_unbroken", "rules_broken"};
    return branch < TRACE_NUM_BRANCHES ? names[branch] : 0;
}

static inline const char *trace_rule_branch_name(unsigned branch) {
    static const char *const names[TRACE_RULE_BRANCHES] = {"unmatched", "matched"};
    return branch < TRACE_RULE_BRANCHES ? names[branch] : 0;
}

/* One histogram cell: count, sum and log2 buckets of cycles (see trace_bucket). The
 * core's trace arrays and the libsinsp harness (plugin/sinsp_run.cpp) both use it. */
typedef struct {
    uint64_t count;
    uint64_t sum;
    uint64_t hist[TRACE_HIST_BUCKETS];
} trace_cell_t;

/* The arrays live in trace.c; hidden so the three core builds, each linking its own
 * copy, never interpose on each other's state. */
extern __attribute__((visibility("hidden"))) trace_cell_t
    ruleopt_trace_rules[TRACE_MAX_RULES][TRACE_RULE_BRANCHES];
extern __attribute__((visibility("hidden"))) trace_cell_t
    ruleopt_trace_stages[TRACE_NUM_STAGES][TRACE_NUM_BRANCHES];
/* A check this long was descheduled or interrupted, not evaluated (2^20 cycles, ~0.4 ms at
 * 2.8 GHz: 30x the study's costliest matched check). Such "outliers" stay in the cells;
 * their sum is kept apart too, so a mean without them can be computed exactly. */
#define TRACE_OUTLIER_CYCLES (1ull << 20)
/* Moments kept beside each rule cell: the sum of squared cycles (the confidence interval
 * of a sampled mean), and the sum and sum of squares of the outliers' cycles. Doubles, not
 * uint64: one 2^32-cycle value squared would overflow 64 bits. Kept beside the cells so
 * the cell layout (and its JSON) stays the harness's. */
#define TRACE_MOMENTS 3
extern __attribute__((visibility("hidden"))) double
    ruleopt_trace_rules_mom[TRACE_MAX_RULES][TRACE_RULE_BRANCHES][TRACE_MOMENTS];

/* Timestamp counter. x86: rdtsc (constant/invariant TSC on the machines we run on).
 * Elsewhere: the ARM virtual counter when available, else CLOCK_MONOTONIC_RAW in ns. */
static inline uint64_t trace_rdtsc(void) {
#if defined(__x86_64__) || defined(__i386__)
    return (uint64_t)__rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/* The timestamps around one timed rule check (the core's rules build, the harness): lfence
 * on both sides of rdtsc, so the check neither starts before the first timestamp nor is
 * still in flight at the second. Plain rdtsc does not wait: a check timed among timed
 * neighbours overlapped them and read about half of what the same check read when timed
 * alone, so sampled tracing (checks timed alone) disagreed with full tracing by ~2x. */
static inline uint64_t trace_rdtsc_fenced(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_lfence();
    uint64_t t = (uint64_t)__rdtsc();
    _mm_lfence();
    return t;
#else
    return trace_rdtsc();
#endif
}

/* log2 bucket, the one convention of the project (the libsinsp harness and the profile
 * model use it too): bucket b holds values in [2^(b-1), 2^b), i.e. b = bit_length(x);
 * bucket 0 holds 0; the last bucket takes everything from 2^62 up. */
static inline unsigned trace_bucket(uint64_t x) {
    unsigned b = x ? (unsigned)(64 - __builtin_clzll(x)) : 0u;
    return b > 63u ? 63u : b;
}

static inline void trace_cell_add(trace_cell_t *c, uint64_t cycles) {
    c->count += 1;
    c->sum += cycles;
    c->hist[trace_bucket(cycles)] += 1;
}

/* Sampled tracing: which events are timed. Each event is timed independently with
 * probability 1/every (Bernoulli sampling), drawn as geometric gaps between timed events,
 * so the per-event decision is a countdown and the random draw (one xorshift64* and one
 * log) happens once per *timed* event, never per check. Why geometric and not systematic
 * 1-in-N with a random phase: replays (--repeat) and generated workloads are periodic,
 * and a fixed stride aliases with a period (the same events timed on every pass); with
 * independent inclusion every check of a rule has the same chance of being timed whatever
 * its position, so the timed checks of a rule are, given their number, a simple random
 * sample of that rule's checks and their mean is an unbiased estimate of its mean.
 * every == 1 times every event (full tracing); every == 0 times none (the harness's
 * untimed pass, for the overhead figure). */
/* The largest sampling rate (one event in a billion): the harness and the commands refuse
 * more; nothing would be timed on any capture a machine holds. */
#define TRACE_MAX_SAMPLE 1000000000

typedef struct {
    uint64_t left;  /* events until the next timed one (1: the next event is timed) */
    uint64_t every;
    uint64_t rng;   /* xorshift64* state, never 0 */
    double log_q;   /* log(1 - 1/every) */
} trace_sampler_t;

static inline uint64_t trace_sampler_gap(trace_sampler_t *s) {
    if (s->every == 1) return 1;
    if (s->every == 0) return UINT64_MAX;
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    /* u in (0, 1]: 53 random bits, shifted off zero. */
    double u = (double)(((s->rng * 0x2545F4914F6CDD1Dull) >> 11) + 1) * (1.0 / 9007199254740992.0);
    /* Geometric on {1, 2, ...} with success probability 1/every: 1 + floor(log u / log q). */
    double g = floor(log(u) / s->log_q);
    return g >= 1e18 ? (uint64_t)1e18 : 1u + (uint64_t)g;
}

static inline void trace_sampler_init(trace_sampler_t *s, uint64_t every, uint64_t seed) {
    s->every = every;
    s->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    s->log_q = every > 1 ? log(1.0 - 1.0 / (double)every) : 0.0;
    s->left = trace_sampler_gap(s); /* the first gap is the random phase */
}

/* Called once per event: 1 if this event is timed. */
static inline int trace_sampler_take(trace_sampler_t *s) {
    if (--s->left) return 0;
    s->left = trace_sampler_gap(s);
    return 1;
}

static inline void trace_cell_add_mom(trace_cell_t *c, double *mom, uint64_t cycles) {
    double x = (double)cycles;
    trace_cell_add(c, cycles);
    mom[0] += x * x;
    if (cycles >= TRACE_OUTLIER_CYCLES) {
        mom[1] += x;
        mom[2] += x * x;
    }
}

/* Rule record: callers pass validated ids; the mask keeps a bad id in bounds anyway. */
static inline void trace_rule(uint32_t rule, int matched, uint64_t cycles) {
#if defined(RULEOPT_TRACE_RULES) && RULEOPT_TRACE_RULES
    if (rule < TRACE_MAX_RULES)
        trace_cell_add_mom(&ruleopt_trace_rules[rule][matched ? 1 : 0],
                           ruleopt_trace_rules_mom[rule][matched ? 1 : 0], cycles);
#else
    (void)rule; (void)matched; (void)cycles;
#endif
}

static inline void trace_stage(uint32_t stage, uint32_t branch, uint64_t cycles) {
#if defined(RULEOPT_TRACE_STACKS) && RULEOPT_TRACE_STACKS
    if (stage < TRACE_NUM_STAGES && branch < TRACE_NUM_BRANCHES)
        trace_cell_add(&ruleopt_trace_stages[stage][branch], cycles);
#else
    (void)stage; (void)branch; (void)cycles;
#endif
}

/* 1 if this build records rules, 2 if stacks, 0 if untraced. */
int trace_mode(void);
void trace_reset(void);
/* Copy out as flat uint64 rows of (count, sum, hist[64]): rules [n_rules][2][66],
 * stages [TRACE_NUM_STAGES][TRACE_NUM_BRANCHES][66]. n_rules is clamped. */
void trace_export_rules(uint64_t *out, uint32_t n_rules);
void trace_export_stages(uint64_t *out);
/* The rule cells' moments, [n_rules][2][TRACE_MOMENTS] (n_rules clamped). */
void trace_export_rules_mom(double *out, uint32_t n_rules);
/* TSC ticks per second, measured once over ~50 ms against CLOCK_MONOTONIC (cached). */
double trace_tsc_hz(void);

#ifdef __cplusplus
}
#endif

#endif /* RULEOPT_TRACE_H */
