# The tracing library's C interface (plugin/trace.h), for the core builds.
from libc.stdint cimport uint32_t, uint64_t


cdef extern from "trace.h" nogil:
    enum:
        TRACE_MAX_RULES
        TRACE_MAX_SAMPLE
        TRACE_MOMENTS
        TRACE_OUTLIER_CYCLES
        TRACE_HIST_BUCKETS
        TRACE_CELL_WORDS
        TRACE_RULE_UNMATCHED
        TRACE_RULE_MATCHED
        TRACE_RULE_BRANCHES
        TRACE_STAGE_NEXT_EVENT
        TRACE_STAGE_INDEX_LOOKUP
        TRACE_STAGE_RULE_CHECKS
        TRACE_STAGE_OUTPUT
        TRACE_STAGE_ITERATION
        TRACE_NUM_STAGES
        TRACE_BRANCH_SCAP_TIMEOUT
        TRACE_BRANCH_RULES_UNBROKEN
        TRACE_BRANCH_RULES_BROKEN
        TRACE_NUM_BRANCHES
        # Compile-time 0/1 per build, so untaken tracing code is removed by the C compiler.
        TRACE_RULES_ON
        TRACE_STACKS_ON

    ctypedef struct trace_sampler_t:
        uint64_t left
        uint64_t every

    const char* trace_stage_name(unsigned stage)
    const char* trace_branch_name(unsigned branch)
    const char* trace_rule_branch_name(unsigned branch)

    uint64_t trace_rdtsc()
    uint64_t trace_rdtsc_fenced()
    void trace_rule(uint32_t rule, int matched, uint64_t cycles)
    void trace_stage(uint32_t stage, uint32_t branch, uint64_t cycles)
    int trace_mode()
    void trace_reset()
    void trace_export_rules(uint64_t *out, uint32_t n_rules)
    void trace_export_stages(uint64_t *out)
    void trace_export_rules_mom(double *out, uint32_t n_rules)
    void trace_sampler_init(trace_sampler_t *s, uint64_t every, uint64_t seed)
    int trace_sampler_take(trace_sampler_t *s)
    double trace_tsc_hz()
