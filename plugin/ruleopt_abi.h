/*
 * The compiled boundary of ruleopt, defined once.
 *
 * Every constant that Python, Cython and C++ share lives here (or, for the trace cells,
 * stages and branches, in trace.h next to the code that records them):
 *   - the node row of a compiled condition (struct ruleopt_node), its kinds and the
 *     comparison opcodes: written by ruleopt/engine/compile.py, walked by the core
 *     (cython_core/core_impl.pxi);
 *   - the flat-program instructions: emitted by ruleopt/engine/program.py, run by the
 *     core's interpreter;
 *   - the exchange between ruleopt/events/sinsp.py and the libsinsp tool (plugin/
 *     sinsp_*.cpp): its version string, records per rule, limits, exit codes.
 * Python reads all of it from the extension ruleopt._ext.abi (cython_core/abi.pyx),
 * which is compiled from this header: the node layout Python builds is the struct's
 * by construction (numpy dtype with the struct's names, sizes and offsets), so no
 * second copy exists to drift.
 *
 * Changing anything here changes the ABI: rebuild (python setup.py build_ext --inplace,
 * which also rebuilds the tool). A stale extension is detected by comparing its exported
 * ABI with ruleopt._ext.abi (ruleopt/engine/core.py); a stale tool by its version string.
 */
#ifndef RULEOPT_ABI_H
#define RULEOPT_ABI_H

#include <stdint.h>

/* A digest of this header and trace.h, set by setup.py for the Cython builds: every
 * extension exports it, and ruleopt refuses a core built from other headers than
 * ruleopt._ext.abi (a stale build). */
#ifndef RULEOPT_ABI_DIGEST
#define RULEOPT_ABI_DIGEST "unset"
#endif

/* ------------------------------------------------------------------ condition nodes */

/* One node of a compiled condition. Every field is an int64 so that Python can also see
 * the node array as an int64 matrix (one column per field, in this order). The children
 * of an and/or/not node are nodes child .. child + nchild - 1, all after the node. */
typedef struct ruleopt_node {
    int64_t kind;   /* enum ruleopt_node_kind */
    int64_t op;     /* K_CMP: enum ruleopt_op */
    int64_t col;    /* K_CMP: column index */
    int64_t all;    /* K_CMP on a multi-valued column: 1 = every value must hold */
    int64_t a;      /* K_CMP: constant, or offset into a pool */
    int64_t b;      /* K_CMP: length in that pool */
    int64_t child;  /* and/or/not: first child */
    int64_t nchild; /* and/or/not: number of children */
} ruleopt_node;

enum ruleopt_node_kind {
    RULEOPT_K_AND = 0,
    RULEOPT_K_OR = 1,
    RULEOPT_K_NOT = 2,
    RULEOPT_K_CMP = 3,
    RULEOPT_K_TRUE = 4,
    RULEOPT_K_FALSE = 5,
    RULEOPT_N_KINDS = 6
};

/* Comparison opcodes: string ops first, numeric ops contiguous (OP_NUM_EQ..OP_NUM_IN),
 * which the core's validation relies on. */
enum ruleopt_op {
    RULEOPT_OP_EXISTS = 0,
    RULEOPT_OP_STR_EQ = 1,
    RULEOPT_OP_STR_NE = 2,
    RULEOPT_OP_STR_IN = 3,
    RULEOPT_OP_STR_TRUTH = 4,
    RULEOPT_OP_STR_CONTAINS = 5,
    RULEOPT_OP_STR_STARTSWITH = 6,
    RULEOPT_OP_STR_ENDSWITH = 7,
    RULEOPT_OP_NUM_EQ = 8,
    RULEOPT_OP_NUM_NE = 9,
    RULEOPT_OP_NUM_LT = 10,
    RULEOPT_OP_NUM_LE = 11,
    RULEOPT_OP_NUM_GT = 12,
    RULEOPT_OP_NUM_GE = 13,
    RULEOPT_OP_NUM_IN = 14,
    RULEOPT_OP_ROW_TRUTH = 15,
    RULEOPT_N_OPS = 16
};

/* Deepest condition tree the recursive evaluator accepts (its C stack bound). */
#define RULEOPT_MAX_DEPTH 2000

/* ------------------------------------------------------------------ flat programs */

/* One instruction is two int32: opcode, argument. */
enum ruleopt_instr {
    RULEOPT_I_CMP = 0,   /* acc = comparison node arg */
    RULEOPT_I_JF = 1,    /* if not acc: goto arg */
    RULEOPT_I_JT = 2,    /* if acc: goto arg */
    RULEOPT_I_NOT = 3,   /* acc = not acc */
    RULEOPT_I_CONST = 4, /* acc = arg */
    RULEOPT_I_RET = 5,   /* return acc */
    RULEOPT_I_LOAD = 6,  /* memo slot of the STORE before arg fresh: acc = it; goto arg */
    RULEOPT_I_STORE = 7, /* memo slot arg = acc */
    RULEOPT_N_INSTR = 8
};

/* ------------------------------------------------------------------ the libsinsp tool */

/* What `ruleopt-sinsp version` prints. Bump the number whenever the exchange with
 * ruleopt/events/sinsp.py changes, so a stale binary is refused with a clear error. */
#define RULEOPT_SINSP_EXCHANGE "ruleopt-sinsp exchange 2"
/* Netstring records per rule on the `run` command's input: id, name, condition. */
#define RULEOPT_SINSP_RULE_RECORDS 3
/* Rules one harness run accepts (its counters are static arrays of this size). */
#define RULEOPT_SINSP_MAX_RULES 4096
/* Matched (rule, evt.num) pairs kept from the first pass; beyond: truncated flag. */
#define RULEOPT_SINSP_MAX_MATCH_RECORDS (1 << 20)
/* Exit codes: bad user input (stderr ends with a JSON error line), internal failure. */
#define RULEOPT_SINSP_EXIT_INPUT 2
#define RULEOPT_SINSP_EXIT_INTERNAL 1

/* `ruleopt-sinsp engine ... --event-costs FILE` (plugin/sinsp_event_costs.cpp): the
 * per-event costs of one strategy's first measured pass, for the rate replay (ring.h,
 * ruleopt/profile/rate.py). No header: for each measured event, in event order,
 * RULEOPT_EVENT_COST_FIELDS little-endian unsigned integers of RULEOPT_EVENT_COST_BYTES
 * bytes, the cycles of its stages in this order (a value past the width saturates). */
#define RULEOPT_EVENT_COST_BYTES 4
#define RULEOPT_EVENT_COST_FIELDS 4
#define RULEOPT_EVENT_COST_NEXT 0
#define RULEOPT_EVENT_COST_INDEX 1
#define RULEOPT_EVENT_COST_CHECKS 2
#define RULEOPT_EVENT_COST_OUTPUT 3

/* `ruleopt-sinsp engine ... --finer TREE` (plugin/sinsp_finer.cpp, built by
 * ruleopt/engine/real_finer.py): the tree file's first record, and the fields no value
 * cache may be keyed by, space-separated. libsinsp 2022 compares these with more than the
 * value one extract() returns (filterchecks.cpp's compare overrides): both endpoints of a
 * socket (fd.ip, fd.net, fd.port, fd.proto), a DNS lookup when the value is absent
 * (fd.*ip.name), every ancestor (proc.aname, proc.apid without an index), the event time
 * (evt.around). The tool gives a node on one of them a leaf; the tree never picks them. */
#define RULEOPT_FINER_FORMAT "ruleopt finer 1"
#define RULEOPT_FINER_UNCACHEABLE \
	"fd.ip fd.net fd.port fd.proto fd.cip.name fd.sip.name fd.lip.name fd.rip.name " \
	"proc.aname proc.apid evt.around"

#endif /* RULEOPT_ABI_H */
