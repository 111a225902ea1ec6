# cython: language_level=3
"""The compiled boundary, for Python: everything ``plugin/ruleopt_abi.h`` and
``plugin/trace.h`` define that Python also needs, read from the headers at compile time.

- ``NodeKind``, ``Op``, ``Instr``: IntEnums of the node kinds, comparison opcodes and
  flat-program instructions (names as ``abi.pxd`` spells them, values from the header);
- ``NODE_DTYPE``: the numpy dtype of ``struct ruleopt_node`` (names, offsets, itemsize
  from the struct), ``NODE_FIELDS`` its member names in struct order;
- ``N_KINDS``, ``N_OPS``, ``N_INSTR``, ``MAX_DEPTH``; the trace limits ``MAX_RULES``, ``MAX_SAMPLE``, ``MOMENTS``, ``OUTLIER_CYCLES``,
  ``HIST_BUCKETS``, ``CELL_WORDS`` and names ``STAGES``, ``BRANCHES``, ``RULE_BRANCHES``;
- ``SINSP_*``: the exchange with the libsinsp tool (version string, records per rule,
  limits, exit codes), which ``plugin/sinsp_*.cpp`` is compiled with too.

Python reads these through this small extension rather than parsing the headers at
build time: the C compiler is then the only reader of the header, so the values Python
sees are the ones the core and the tool were compiled with, and nothing is generated.
"""

from enum import IntEnum

import numpy as np

cimport abi as c

from abi cimport (
    EVENT_COST_BYTES as _EVENT_COST_BYTES,
    EVENT_COST_CHECKS as _EVENT_COST_CHECKS,
    EVENT_COST_FIELDS as _EVENT_COST_FIELDS,
    EVENT_COST_INDEX as _EVENT_COST_INDEX,
    EVENT_COST_NEXT as _EVENT_COST_NEXT,
    EVENT_COST_OUTPUT as _EVENT_COST_OUTPUT,
    MAX_DEPTH as _MAX_DEPTH,
    N_INSTR as _N_INSTR,
    N_KINDS as _N_KINDS,
    N_OPS as _N_OPS,
    FINER_FORMAT as _FINER_FORMAT,
    FINER_UNCACHEABLE as _FINER_UNCACHEABLE,
    SINSP_EXCHANGE as _SINSP_EXCHANGE,
    SINSP_EXIT_INPUT as _SINSP_EXIT_INPUT,
    SINSP_EXIT_INTERNAL as _SINSP_EXIT_INTERNAL,
    SINSP_MAX_MATCH_RECORDS as _SINSP_MAX_MATCH_RECORDS,
    SINSP_MAX_RULES as _SINSP_MAX_RULES,
    SINSP_RULE_RECORDS as _SINSP_RULE_RECORDS,
)
from trace cimport (
    TRACE_CELL_WORDS,
    TRACE_HIST_BUCKETS,
    TRACE_MAX_RULES,
    TRACE_MAX_SAMPLE,
    TRACE_MOMENTS,
    TRACE_OUTLIER_CYCLES,
    TRACE_NUM_BRANCHES,
    TRACE_NUM_STAGES,
    TRACE_RULE_BRANCHES,
    trace_branch_name,
    trace_rule_branch_name,
    trace_stage_name,
)

include "abi_node.pxi"

# Cython exports a .pxd's `cpdef enum` only from the module of the same dotted name
# (this one is ruleopt._ext.abi), so the IntEnums are built here: each value is the C
# enumerator's, read at compile time.
NodeKind = IntEnum("NodeKind", {
    "K_AND": c.K_AND, "K_OR": c.K_OR, "K_NOT": c.K_NOT, "K_CMP": c.K_CMP,
    "K_TRUE": c.K_TRUE, "K_FALSE": c.K_FALSE,
})
Op = IntEnum("Op", {
    "OP_EXISTS": c.OP_EXISTS, "OP_STR_EQ": c.OP_STR_EQ, "OP_STR_NE": c.OP_STR_NE,
    "OP_STR_IN": c.OP_STR_IN, "OP_STR_TRUTH": c.OP_STR_TRUTH,
    "OP_STR_CONTAINS": c.OP_STR_CONTAINS, "OP_STR_STARTSWITH": c.OP_STR_STARTSWITH,
    "OP_STR_ENDSWITH": c.OP_STR_ENDSWITH, "OP_NUM_EQ": c.OP_NUM_EQ, "OP_NUM_NE": c.OP_NUM_NE,
    "OP_NUM_LT": c.OP_NUM_LT, "OP_NUM_LE": c.OP_NUM_LE, "OP_NUM_GT": c.OP_NUM_GT,
    "OP_NUM_GE": c.OP_NUM_GE, "OP_NUM_IN": c.OP_NUM_IN, "OP_ROW_TRUTH": c.OP_ROW_TRUTH,
})
Instr = IntEnum("Instr", {
    "I_CMP": c.I_CMP, "I_JF": c.I_JF, "I_JT": c.I_JT, "I_NOT": c.I_NOT,
    "I_CONST": c.I_CONST, "I_RET": c.I_RET, "I_LOAD": c.I_LOAD, "I_STORE": c.I_STORE,
})

NODE_FIELDS = tuple(NODE_DTYPE.names)
N_KINDS = _N_KINDS
N_OPS = _N_OPS
N_INSTR = _N_INSTR
MAX_DEPTH = _MAX_DEPTH

MAX_RULES = TRACE_MAX_RULES
MAX_SAMPLE = TRACE_MAX_SAMPLE
MOMENTS = TRACE_MOMENTS
OUTLIER_CYCLES = TRACE_OUTLIER_CYCLES
HIST_BUCKETS = TRACE_HIST_BUCKETS
CELL_WORDS = TRACE_CELL_WORDS
STAGES = tuple(trace_stage_name(i).decode("ascii") for i in range(TRACE_NUM_STAGES))
BRANCHES = tuple(trace_branch_name(i).decode("ascii") for i in range(TRACE_NUM_BRANCHES))
RULE_BRANCHES = tuple(
    trace_rule_branch_name(i).decode("ascii") for i in range(TRACE_RULE_BRANCHES)
)

SINSP_EXCHANGE = _SINSP_EXCHANGE.decode("ascii")
# The real engine's finer tree file: its header, and the fields no value cache may key on.
FINER_FORMAT = _FINER_FORMAT.decode("ascii")
FINER_UNCACHEABLE = frozenset(_FINER_UNCACHEABLE.decode("ascii").split())
SINSP_RULE_RECORDS = _SINSP_RULE_RECORDS
SINSP_MAX_RULES = _SINSP_MAX_RULES
SINSP_MAX_MATCH_RECORDS = _SINSP_MAX_MATCH_RECORDS
SINSP_EXIT_INPUT = _SINSP_EXIT_INPUT
SINSP_EXIT_INTERNAL = _SINSP_EXIT_INTERNAL

# The engine's --event-costs file: EVENT_COST_FIELDS little-endian unsigned integers of
# EVENT_COST_BYTES bytes per event; EVENT_COST_STAGES names the fields by position.
EVENT_COST_BYTES = _EVENT_COST_BYTES
EVENT_COST_FIELDS = _EVENT_COST_FIELDS
_cost_names = {
    _EVENT_COST_NEXT: "next", _EVENT_COST_INDEX: "index",
    _EVENT_COST_CHECKS: "rule_checks", _EVENT_COST_OUTPUT: "output",
}
EVENT_COST_STAGES = tuple(_cost_names[i] for i in range(_EVENT_COST_FIELDS))
