# The compiled boundary (plugin/ruleopt_abi.h) as Cython sees it. The values live only in
# the header; the names here are how Cython and Python spell them. `enum`s become
# Python IntEnums of ruleopt._ext.abi (abi.pyx), so Python reads the same numbers the C
# code is compiled with.
from libc.stdint cimport int64_t


cdef extern from "ruleopt_abi.h" nogil:
    ctypedef struct Node "ruleopt_node":
        int64_t kind
        int64_t op
        int64_t col
        int64_t all
        int64_t a
        int64_t b
        int64_t child
        int64_t nchild

    enum NodeKind "ruleopt_node_kind":
        K_AND "RULEOPT_K_AND"
        K_OR "RULEOPT_K_OR"
        K_NOT "RULEOPT_K_NOT"
        K_CMP "RULEOPT_K_CMP"
        K_TRUE "RULEOPT_K_TRUE"
        K_FALSE "RULEOPT_K_FALSE"

    enum Op "ruleopt_op":
        OP_EXISTS "RULEOPT_OP_EXISTS"
        OP_STR_EQ "RULEOPT_OP_STR_EQ"
        OP_STR_NE "RULEOPT_OP_STR_NE"
        OP_STR_IN "RULEOPT_OP_STR_IN"
        OP_STR_TRUTH "RULEOPT_OP_STR_TRUTH"
        OP_STR_CONTAINS "RULEOPT_OP_STR_CONTAINS"
        OP_STR_STARTSWITH "RULEOPT_OP_STR_STARTSWITH"
        OP_STR_ENDSWITH "RULEOPT_OP_STR_ENDSWITH"
        OP_NUM_EQ "RULEOPT_OP_NUM_EQ"
        OP_NUM_NE "RULEOPT_OP_NUM_NE"
        OP_NUM_LT "RULEOPT_OP_NUM_LT"
        OP_NUM_LE "RULEOPT_OP_NUM_LE"
        OP_NUM_GT "RULEOPT_OP_NUM_GT"
        OP_NUM_GE "RULEOPT_OP_NUM_GE"
        OP_NUM_IN "RULEOPT_OP_NUM_IN"
        OP_ROW_TRUTH "RULEOPT_OP_ROW_TRUTH"

    enum Instr "ruleopt_instr":
        I_CMP "RULEOPT_I_CMP"
        I_JF "RULEOPT_I_JF"
        I_JT "RULEOPT_I_JT"
        I_NOT "RULEOPT_I_NOT"
        I_CONST "RULEOPT_I_CONST"
        I_RET "RULEOPT_I_RET"
        I_LOAD "RULEOPT_I_LOAD"
        I_STORE "RULEOPT_I_STORE"

    # Counts (one past the last member): bounds for validation, not members.
    enum:
        N_KINDS "RULEOPT_N_KINDS"
        N_OPS "RULEOPT_N_OPS"
        N_INSTR "RULEOPT_N_INSTR"
        MAX_DEPTH "RULEOPT_MAX_DEPTH"
        SINSP_RULE_RECORDS "RULEOPT_SINSP_RULE_RECORDS"
        SINSP_MAX_RULES "RULEOPT_SINSP_MAX_RULES"
        SINSP_MAX_MATCH_RECORDS "RULEOPT_SINSP_MAX_MATCH_RECORDS"
        SINSP_EXIT_INPUT "RULEOPT_SINSP_EXIT_INPUT"
        SINSP_EXIT_INTERNAL "RULEOPT_SINSP_EXIT_INTERNAL"
        EVENT_COST_BYTES "RULEOPT_EVENT_COST_BYTES"
        EVENT_COST_FIELDS "RULEOPT_EVENT_COST_FIELDS"
        EVENT_COST_NEXT "RULEOPT_EVENT_COST_NEXT"
        EVENT_COST_INDEX "RULEOPT_EVENT_COST_INDEX"
        EVENT_COST_CHECKS "RULEOPT_EVENT_COST_CHECKS"
        EVENT_COST_OUTPUT "RULEOPT_EVENT_COST_OUTPUT"

    const char* SINSP_EXCHANGE "RULEOPT_SINSP_EXCHANGE"
    const char* FINER_FORMAT "RULEOPT_FINER_FORMAT"
    const char* FINER_UNCACHEABLE "RULEOPT_FINER_UNCACHEABLE"
