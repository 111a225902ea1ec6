# The event-loop core: the replica of Falco's matching loop, shared by the three builds.
#
# Included by core_untraced.pyx / core_rules.pyx / core_stacks.pyx; the build's macro
# (RULEOPT_TRACE_RULES / RULEOPT_TRACE_STACKS, see plugin/trace.h) decides which trace
# records exist. Everything below `_run_*` is nogil C over flat arrays made by
# ruleopt.engine.compile; `run()` validates those arrays first, so no index read in the
# nogil code can leave its array whatever the caller passes.
#
# Loop, per event (Falco 0.26 falco_engine::process_sinsp_event + ruleset run):
#   next_event    read the row (the event's type id)
#   index_lookup  the CSR bucket of rules indexed under that type
#   rule_checks   each rule in bucket order through the recursive short-circuit
#                 evaluator (libsinsp filter::run -> check); Falco stops at the first
#                 rule that matches (RULES_BROKEN), else RULES_UNBROKEN
#   output        emit (event, rule) pairs (Falco formats the alert here)

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memset

import numpy as np

cimport numpy as cnp

from trace cimport (
    TRACE_BRANCH_RULES_BROKEN,
    TRACE_BRANCH_RULES_UNBROKEN,
    TRACE_BRANCH_SCAP_TIMEOUT,
    TRACE_CELL_WORDS,
    TRACE_MAX_RULES,
    TRACE_MOMENTS,
    TRACE_NUM_BRANCHES,
    TRACE_NUM_STAGES,
    TRACE_RULE_BRANCHES,
    TRACE_RULES_ON,
    TRACE_STACKS_ON,
    TRACE_STAGE_INDEX_LOOKUP,
    TRACE_STAGE_ITERATION,
    TRACE_STAGE_NEXT_EVENT,
    TRACE_STAGE_OUTPUT,
    TRACE_STAGE_RULE_CHECKS,
    trace_export_rules,
    trace_export_rules_mom,
    trace_export_stages,
    trace_mode,
    trace_rdtsc,
    trace_rdtsc_fenced,
    trace_reset,
    trace_rule,
    trace_sampler_init,
    trace_sampler_t,
    trace_sampler_take,
    trace_stage,
    trace_tsc_hz,
)

from ringmodel cimport (
    RING_NUM_STATS,
    RING_STAT_DROPS,
    RING_STAT_SIM_END,
    RING_STAT_TIMEOUTS,
    ring_consumed,
    ring_fill,
    ring_init,
    ring_slots,
    ring_model,
    ring_more,
    ring_stats,
    ring_take,
    ring_timeout,
)

cnp.import_array()

# ---------------------------------------------------------------- layout (ruleopt_abi.h)

# Node kinds, opcodes, instructions and the Node struct come from the one header, as
# ruleopt.engine.compile / program read them (through ruleopt._ext.abi).
from abi cimport (
    I_CMP,
    I_CONST,
    I_JF,
    I_JT,
    I_LOAD,
    I_NOT,
    I_RET,
    I_STORE,
    K_AND,
    K_CMP,
    K_NOT,
    K_OR,
    K_TRUE,
    MAX_DEPTH,
    N_INSTR,
    N_KINDS,
    N_OPS,
    OP_EXISTS,
    OP_NUM_EQ,
    OP_NUM_GE,
    OP_NUM_GT,
    OP_NUM_IN,
    OP_NUM_LE,
    OP_NUM_LT,
    OP_NUM_NE,
    OP_ROW_TRUTH,
    OP_STR_CONTAINS,
    OP_STR_ENDSWITH,
    OP_STR_EQ,
    OP_STR_IN,
    OP_STR_NE,
    OP_STR_STARTSWITH,
    OP_STR_TRUTH,
    Node,
)

include "abi_node.pxi"

# Node arrays reach the core as int64 [n, NF] matrices (NODE_DTYPE's members are all
# int64, ruleopt.engine.compile checks); the loop reads them as Node structs.
cdef enum:
    NF = sizeof(Node) // sizeof(int64_t)


cdef struct Core:
    const Node* nodes
    const int32_t* roots          # per compiled rule: root node
    const int32_t* rule_ids       # per compiled rule: Rule.id (trace / output id)
    const int64_t* idx_off        # [n_buckets + 1] CSR over evt.type string ids
    const int32_t* idx_rules      # compiled rule positions, bucket by bucket
    int64_t n_buckets
    const int32_t* etype          # evt.type column (string ids, -1 absent)
    const int64_t* num_pool
    const int32_t* id_pool
    const uint8_t* byte_pool
    const uint8_t* truth_pool
    const uint8_t* row_pool
    const uint8_t* heap_data
    const int64_t* heap_off
    const int32_t** col_s
    const int64_t** col_n
    const uint8_t** col_p
    const int64_t** col_off
    int64_t row
    int first_match
    int64_t* checks
    int64_t* matched
    int32_t* per_event
    int32_t* scratch
    int64_t* out_evt
    int32_t* out_rule
    int64_t out_cap
    int64_t out_n
    # Optional flat matcher (ruleopt.engine.program): when prog_start is not NULL each
    # rule runs as a bytecode program instead of the recursive evaluator.
    const int32_t* prog           # [n_instr, 2]: opcode, argument
    const int32_t* prog_start     # per compiled rule: first instruction
    uint64_t* memo_gen            # per memo slot: generation (event) of the stored value
    uint8_t* memo_val
    uint64_t gen                  # current generation: one per processed event
    # Optional finer index (ruleopt.engine.finer): a decision tree from the event-type
    # id to a bucket; dt_n == 0 means bucket = evt.type id (Falco's index).
    int64_t dt_n
    const int32_t* dt_col         # per tree node: column to branch on, -1 for a leaf
    const int32_t* dt_arg         # leaf: its bucket; inner: the child node taken when the
                                  # value is absent or not a key
    const int64_t* dt_koff        # [dt_n + 1] CSR over dt_keys / dt_child
    const int64_t* dt_keys        # sorted per node: string id or number
    const int32_t* dt_child
    # Sampled rule tracing (rules build only): which events' checks are timed, and how
    # many were (every check is still counted in checks/matched).
    trace_sampler_t sampler
    int64_t sampled_events


# ---------------------------------------------------------------- comparisons

cdef inline bint _in_sorted_i32(const int32_t* a, int64_t n, int32_t x) noexcept nogil:
    cdef int64_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and a[lo] == x


cdef inline bint _in_sorted_i64(const int64_t* a, int64_t n, int64_t x) noexcept nogil:
    cdef int64_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo < n and a[lo] == x


cdef inline bint _contains(const uint8_t* h, int64_t hn, const uint8_t* nd, int64_t nn) noexcept nogil:
    cdef int64_t i
    if nn == 0:
        return True
    if nn > hn:
        return False
    for i in range(hn - nn + 1):
        if h[i] == nd[0] and memcmp(h + i, nd, nn) == 0:
            return True
    return False


cdef inline bint _cmp_str(Core* c, int64_t op, int64_t a, int64_t b, int32_t sid) noexcept nogil:
    cdef const uint8_t* s
    cdef int64_t sn
    if op == OP_STR_EQ:
        return sid == a
    if op == OP_STR_NE:
        return sid != a
    if op == OP_STR_IN:
        return _in_sorted_i32(c.id_pool + a, b, sid)
    if op == OP_STR_TRUTH:
        return c.truth_pool[a + sid] != 0
    s = c.heap_data + c.heap_off[sid]
    sn = c.heap_off[sid + 1] - c.heap_off[sid]
    if op == OP_STR_CONTAINS:
        return _contains(s, sn, c.byte_pool + a, b)
    if op == OP_STR_STARTSWITH:
        return sn >= b and memcmp(s, c.byte_pool + a, b) == 0
    if op == OP_STR_ENDSWITH:
        return sn >= b and memcmp(s + sn - b, c.byte_pool + a, b) == 0
    return False


cdef inline bint _cmp_num(Core* c, int64_t op, int64_t a, int64_t b, int64_t v) noexcept nogil:
    if op == OP_NUM_EQ:
        return v == a
    if op == OP_NUM_NE:
        return v != a
    if op == OP_NUM_LT:
        return v < a
    if op == OP_NUM_LE:
        return v <= a
    if op == OP_NUM_GT:
        return v > a
    if op == OP_NUM_GE:
        return v >= a
    if op == OP_NUM_IN:
        return _in_sorted_i64(c.num_pool + a, b, v)
    return False


cdef bint _eval_cmp(Core* c, const Node* nd) noexcept nogil:
    cdef int64_t op = nd.op, col = nd.col, a = nd.a, b = nd.b
    cdef int64_t row = c.row, k, k0, k1
    cdef const int64_t* offs
    cdef bint is_str, r
    if op == OP_ROW_TRUTH:
        # Decided per row at compile time (presence included).
        return c.row_pool[a + row] != 0
    # An absent field fails every operator but exists (libsinsp: extract returned
    # nothing); so does an empty multi-valued field (values.compare on []).
    if c.col_p[col][row] == 0:
        return False
    is_str = c.col_s[col] != NULL
    offs = c.col_off[col]
    if offs != NULL and offs[row + 1] <= offs[row]:
        return False
    if op == OP_EXISTS:
        return True
    if offs == NULL:
        if is_str:
            return _cmp_str(c, op, a, b, c.col_s[col][row])
        return _cmp_num(c, op, a, b, c.col_n[col][row])
    # Multi-valued: any value satisfies, or (Node.all) every value does.
    k0 = offs[row]
    k1 = offs[row + 1]
    if nd.all:
        for k in range(k0, k1):
            r = _cmp_str(c, op, a, b, c.col_s[col][k]) if is_str else _cmp_num(c, op, a, b, c.col_n[col][k])
            if not r:
                return False
        return True
    for k in range(k0, k1):
        r = _cmp_str(c, op, a, b, c.col_s[col][k]) if is_str else _cmp_num(c, op, a, b, c.col_n[col][k])
        if r:
            return True
    return False


cdef bint _eval(Core* c, int64_t i) noexcept nogil:
    """The recursive short-circuit evaluator: children in source order, stop at the
    first child that decides the node."""
    cdef const Node* nd = c.nodes + i
    cdef int64_t kind = nd.kind
    cdef int64_t j, j0, j1
    if kind == K_CMP:
        return _eval_cmp(c, nd)
    j0 = nd.child
    j1 = j0 + nd.nchild
    if kind == K_AND:
        for j in range(j0, j1):
            if not _eval(c, j):
                return False
        return True
    if kind == K_OR:
        for j in range(j0, j1):
            if _eval(c, j):
                return True
        return False
    if kind == K_NOT:
        return not _eval(c, j0)
    return kind == K_TRUE


# ---------------------------------------------------------------- flat matcher
#
# A rule's condition as straight-line code over one accumulator, evaluated by a loop (no
# recursion, no call per tree node). Short-circuit and/or become forward jumps:
#   and(c1..cn): c1 JF end c2 JF end ... cn end:     or: the same with JT
# Every jump goes forward (checked in validate), so a program always terminates.
# LOAD/STORE bracket a sub-expression shared by several rules: LOAD jumps past the
# STORE with the value computed earlier for this event (memo_gen == gen), else the
# code runs and STORE records it. Generation stamps make "clear the memo" free.

cdef bint _run_prog(Core* c, int64_t pc) noexcept nogil:
    cdef const int32_t* ins
    cdef bint acc = False
    cdef int32_t slot
    while True:
        ins = c.prog + 2 * pc
        if ins[0] == I_CMP:
            acc = _eval_cmp(c, c.nodes + <int64_t>ins[1])
            pc += 1
        elif ins[0] == I_JF:
            pc = ins[1] if not acc else pc + 1
        elif ins[0] == I_JT:
            pc = ins[1] if acc else pc + 1
        elif ins[0] == I_NOT:
            acc = not acc
            pc += 1
        elif ins[0] == I_CONST:
            acc = ins[1] != 0
            pc += 1
        elif ins[0] == I_LOAD:
            # The slot is the argument of the STORE this LOAD pairs with (ins[1] - 1).
            slot = c.prog[2 * (<int64_t>ins[1] - 1) + 1]
            if c.memo_gen[slot] == c.gen:
                acc = c.memo_val[slot]
                pc = ins[1]
            else:
                pc += 1
        elif ins[0] == I_STORE:
            c.memo_gen[ins[1]] = c.gen
            c.memo_val[ins[1]] = acc
            pc += 1
        else:
            return acc


cdef inline int64_t _bucket(Core* c, int32_t et) noexcept nogil:
    """The bucket of the current row: its evt.type id, refined by the decision tree."""
    cdef int64_t node, lo, hi, mid, row = c.row, key
    cdef int32_t col
    cdef bint found
    if c.dt_n == 0:
        return et
    if not (0 <= et < c.dt_n):
        return -1
    node = et  # node t < number of types is the root for evt.type id t
    while c.dt_col[node] >= 0:
        col = c.dt_col[node]
        found = False
        if c.col_p[col][row] != 0:
            key = c.col_s[col][row] if c.col_s[col] != NULL else c.col_n[col][row]
            lo = c.dt_koff[node]
            hi = c.dt_koff[node + 1]
            while lo < hi:
                mid = (lo + hi) >> 1
                if c.dt_keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < c.dt_koff[node + 1] and c.dt_keys[lo] == key:
                node = c.dt_child[lo]
                found = True
        if not found:
            node = c.dt_arg[node]
    return c.dt_arg[node]


# ---------------------------------------------------------------- the loop

cdef int64_t _timed_rule_checks(Core* c, int64_t lo, int64_t hi, int64_t* nm_out) noexcept nogil:
    """A timed event's bucket: the rules in order (Falco stops at the first match when
    first_match), each check between two fenced timestamps; returns how many were checked,
    the matches go to scratch (their number to nm_out).

    A copy of _process's untimed loop, chosen once per event, so that no branch on "timed"
    sits inside a timing window: one there mispredicts on every timed event once they are
    rare, and its penalty is timed (measured with one loop and a per-check branch: the
    default workload's median timed check read 27 cycles at N = 1 and ~85 at N = 4..30)."""
    cdef int64_t p, nm = 0
    cdef int32_t r
    cdef bint hit
    cdef uint64_t ts = 0
    for p in range(lo, hi):
        r = c.idx_rules[p]
        ts = trace_rdtsc_fenced()
        if c.prog_start != NULL:
            hit = _run_prog(c, c.prog_start[r])
        else:
            hit = _eval(c, c.roots[r])
        trace_rule(<uint32_t>c.rule_ids[r], hit, trace_rdtsc_fenced() - ts)
        c.checks[r] += 1
        if hit:
            c.matched[r] += 1
            c.scratch[nm] = r
            nm += 1
            if c.first_match:
                nm_out[0] = nm
                return p - lo + 1
    nm_out[0] = nm
    return hi - lo


cdef inline uint64_t _process(Core* c, int64_t i) noexcept nogil:
    """One event-loop iteration on row ``i``; returns its cycles when stage tracing is on
    (0 otherwise)."""
    cdef uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0
    cdef int64_t lo = 0, hi = 0, p, m, nm = 0, bk
    cdef int32_t et, r
    cdef bint hit
    cdef uint32_t branch
    cdef bint timed = False
    if TRACE_RULES_ON:
        # One countdown per event decides whether its checks are timed (sampled tracing;
        # every event at rate 1). The untraced and stacks builds never reach this code.
        timed = trace_sampler_take(&c.sampler)
        c.sampled_events += timed
    if TRACE_STACKS_ON:
        t0 = trace_rdtsc()
    # next_event: read the row.
    c.row = i
    c.gen += 1
    et = c.etype[i]
    if TRACE_STACKS_ON:
        t1 = trace_rdtsc()
    # index_lookup.
    bk = _bucket(c, et)
    if 0 <= bk < c.n_buckets:
        lo = c.idx_off[bk]
        hi = c.idx_off[bk + 1]
    if TRACE_STACKS_ON:
        t2 = trace_rdtsc()
    # rule_checks: a timed event's bucket runs _timed_rule_checks (rules build only); every
    # other event, and every event of the other builds, this loop, whose machine code in
    # the untraced build is the one from before sampled tracing existed.
    if TRACE_RULES_ON and timed:
        c.per_event[i] = <int32_t>_timed_rule_checks(c, lo, hi, &nm)
    else:
        for p in range(lo, hi):
            r = c.idx_rules[p]
            if c.prog_start != NULL:
                hit = _run_prog(c, c.prog_start[r])
            else:
                hit = _eval(c, c.roots[r])
            c.checks[r] += 1
            if hit:
                c.matched[r] += 1
                c.scratch[nm] = r
                nm += 1
                if c.first_match:
                    break
        c.per_event[i] = <int32_t>(p - lo + 1 if nm and c.first_match else hi - lo)
    if TRACE_STACKS_ON:
        t3 = trace_rdtsc()
    # output: Falco formats and emits the alert; we record the pairs.
    for m in range(nm):
        if c.out_n < c.out_cap:
            c.out_evt[c.out_n] = i
            c.out_rule[c.out_n] = c.rule_ids[c.scratch[m]]
        c.out_n += 1
    if TRACE_STACKS_ON:
        t4 = trace_rdtsc()
        branch = TRACE_BRANCH_RULES_BROKEN if nm else TRACE_BRANCH_RULES_UNBROKEN
        trace_stage(TRACE_STAGE_NEXT_EVENT, branch, t1 - t0)
        trace_stage(TRACE_STAGE_INDEX_LOOKUP, branch, t2 - t1)
        trace_stage(TRACE_STAGE_RULE_CHECKS, branch, t3 - t2)
        trace_stage(TRACE_STAGE_OUTPUT, branch, t4 - t3)
        trace_stage(TRACE_STAGE_ITERATION, branch, t4 - t0)
        return t4 - t0
    return 0


cdef void _run_offline(Core* c, int64_t n) noexcept nogil:
    cdef int64_t i
    for i in range(n):
        _process(c, i)


cdef void _run_rate(Core* c, int64_t n, double cycles_per_event, int64_t bufsize,
                    double wait_cycles, int64_t* ring, uint8_t* processed,
                    uint64_t* costs, int64_t* stats) noexcept nogil:
    """Replay at a rate in simulated time, the ring-buffer model of plugin/ring.h (one
    model for both engines: ruleopt._ext.ring replays recorded costs through the same
    steps): event i arrives at i * cycles_per_event into a ring of ``bufsize`` slots; the
    consumer takes the measured cycles of each iteration, recorded in costs[i]. An empty
    ring is a SCAP_TIMEOUT iteration (the model waits ``wait_cycles``, or until the next
    arrival if 0); arrivals into a full ring are dropped. stats: ring.h's RING_NUM_STATS."""
    cdef ring_model m
    cdef int64_t i
    cdef uint64_t t0, dt
    ring_init(&m, n, cycles_per_event, bufsize, wait_cycles, ring)
    while ring_more(&m):
        ring_fill(&m)
        t0 = trace_rdtsc()
        i = ring_take(&m)
        if i < 0:
            dt = trace_rdtsc() - t0
            trace_stage(TRACE_STAGE_NEXT_EVENT, TRACE_BRANCH_SCAP_TIMEOUT, dt)
            trace_stage(TRACE_STAGE_ITERATION, TRACE_BRANCH_SCAP_TIMEOUT, dt)
            ring_timeout(&m)
            continue
        _process(c, i)
        processed[i] = 1
        dt = trace_rdtsc() - t0
        costs[i] = dt
        ring_consumed(&m, <double>dt)
    ring_stats(&m, stats)


# ---------------------------------------------------------------- validation

def _arr(x, dtype, name):
    a = np.ascontiguousarray(x, dtype=dtype)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-d")
    return a


def validate(compiled, table):
    """Check every index the nogil loop will follow; raise ValueError on the first bad one.

    Returns the arrays, contiguous and of the exact dtypes the loop reads.
    """
    nodes = np.ascontiguousarray(compiled.nodes, dtype=np.int64)
    if nodes.ndim != 2 or nodes.shape[1] != NF:
        raise ValueError(f"nodes must have shape (n, {NF})")
    nn = nodes.shape[0]
    # The same memory seen as Node structs: columns by the struct's member names.
    nv = nodes.view(NODE_DTYPE).reshape(nn)
    roots = _arr(compiled.roots, np.int32, "roots")
    rule_ids = _arr(compiled.rule_ids, np.int32, "rule_ids")
    idx_off = _arr(compiled.idx_offsets, np.int64, "idx_offsets")
    idx_rules = _arr(compiled.idx_rules, np.int32, "idx_rules")
    num_pool = _arr(compiled.num_pool, np.int64, "num_pool")
    id_pool = _arr(compiled.id_pool, np.int32, "id_pool")
    byte_pool = _arr(compiled.byte_pool, np.uint8, "byte_pool")
    truth_pool = _arr(compiled.truth_pool, np.uint8, "truth_pool")
    row_pool = _arr(compiled.row_pool, np.uint8, "row_pool")
    nr = roots.shape[0]
    if rule_ids.shape[0] != nr:
        raise ValueError("roots and rule_ids differ in length")
    if nr and (rule_ids.min() < 0 or rule_ids.max() >= TRACE_MAX_RULES):
        raise ValueError(f"rule ids must lie in [0, {TRACE_MAX_RULES})")
    if nr and (roots.min() < 0 or roots.max() >= nn):
        raise ValueError("a rule root is not a node")
    if idx_off.shape[0] < 1 or idx_off[0] != 0 or idx_off[idx_off.shape[0] - 1] != idx_rules.shape[0] \
            or np.any(np.diff(idx_off) < 0):
        raise ValueError("idx_offsets must rise from 0 to len(idx_rules)")
    if idx_rules.size and (idx_rules.min() < 0 or idx_rules.max() >= nr):
        raise ValueError("idx_rules names a rule that is not compiled")
    heap_len = len(table.strings)
    if compiled.heap_len != heap_len or compiled.n_events != table.n:
        raise ValueError("compiled for another table (string heap or event count differ)")
    cols = [table.column(k) for k in compiled.columns]
    ncol = len(cols)
    kind = nv["kind"]
    if nn and (kind.min() < 0 or kind.max() >= N_KINDS):
        raise ValueError("bad node kind")
    inner = (kind == K_AND) | (kind == K_OR) | (kind == K_NOT)
    ch, nch = nv["child"], nv["nchild"]
    here = np.arange(nn)
    # Children strictly after their parent: the recursion always terminates.
    if np.any(inner & ((ch <= here) | (nch < 0) | (ch + nch > nn))):
        raise ValueError("a node's children are out of range")
    if np.any((kind == K_NOT) & (nch != 1)):
        raise ValueError("a not node must have one child")
    depth = np.zeros(nn, dtype=np.int64)
    for i in np.nonzero(inner)[0].tolist():
        c0, c1 = int(ch[i]), int(ch[i] + nch[i])
        depth[c0:c1] = np.maximum(depth[c0:c1], depth[i] + 1)
    if nn and depth.max() > MAX_DEPTH:
        raise ValueError(f"condition deeper than {MAX_DEPTH}")
    for i in np.nonzero(kind == K_CMP)[0].tolist():
        nd = nv[i]
        op, col, a, b = int(nd["op"]), int(nd["col"]), int(nd["a"]), int(nd["b"])
        if not 0 <= col < ncol:
            raise ValueError(f"node {i}: column {col} out of range")
        is_str = cols[col].kind == "str"
        if op in (OP_STR_EQ, OP_STR_NE, OP_STR_IN, OP_STR_TRUTH, OP_STR_CONTAINS,
                  OP_STR_STARTSWITH, OP_STR_ENDSWITH) and not is_str:
            raise ValueError(f"node {i}: string operator on a numeric column")
        if OP_NUM_EQ <= op <= OP_NUM_IN and is_str:
            raise ValueError(f"node {i}: numeric operator on a string column")
        if op == OP_STR_IN and not (0 <= a and b >= 0 and a + b <= id_pool.shape[0]):
            raise ValueError(f"node {i}: id set out of range")
        elif op == OP_NUM_IN and not (0 <= a and b >= 0 and a + b <= num_pool.shape[0]):
            raise ValueError(f"node {i}: number set out of range")
        elif op == OP_STR_TRUTH and not (0 <= a and a + heap_len <= truth_pool.shape[0]):
            raise ValueError(f"node {i}: truth table out of range")
        elif op in (OP_STR_CONTAINS, OP_STR_STARTSWITH, OP_STR_ENDSWITH) and not (
                0 <= a and b >= 0 and a + b <= byte_pool.shape[0]):
            raise ValueError(f"node {i}: constant bytes out of range")
        elif op == OP_ROW_TRUTH and not (0 <= a and a + table.n <= row_pool.shape[0]):
            raise ValueError(f"node {i}: row truth out of range")
        elif not 0 <= op < N_OPS:
            raise ValueError(f"node {i}: bad operator {op}")
    et = table.column("evt.type")
    if et.kind != "str" or et.offsets is not None:
        raise ValueError("evt.type must be a single-valued string column")
    for col in cols + [et]:
        col.validate(table.n, heap_len)
    return dict(nodes=nodes, roots=roots, rule_ids=rule_ids, idx_off=idx_off,
                idx_rules=idx_rules, num_pool=num_pool, id_pool=id_pool,
                byte_pool=byte_pool, truth_pool=truth_pool, row_pool=row_pool, cols=cols)


def validate_program(program, int64_t n_rules, nodes):
    """Check a flat program (ruleopt.engine.program.Program) for the nogil interpreter:
    opcodes known, every jump forward and inside the code, every CMP on a comparison node,
    LOAD paired with a STORE, slots in range, and every rule's code ending in RET."""
    code = np.ascontiguousarray(program.code, dtype=np.int32)
    starts = _arr(program.starts, np.int32, "program starts")
    n_slots = int(program.n_slots)
    if code.ndim != 2 or code.shape[1] != 2:
        raise ValueError("program code must have shape (n, 2)")
    if starts.shape[0] != n_rules:
        raise ValueError("the program has a start per compiled rule")
    n = code.shape[0]
    if n_slots < 0:
        raise ValueError("negative memo slot count")
    if n_rules and (starts.min() < 0 or starts.max() >= n):
        raise ValueError("a program start is outside the code")
    op, arg = code[:, 0].astype(np.int64), code[:, 1].astype(np.int64)
    here = np.arange(n)
    if n and (op.min() < 0 or op.max() >= N_INSTR):
        raise ValueError("bad opcode")
    jump = (op == I_JF) | (op == I_JT) | (op == I_LOAD)
    if np.any(jump & ((arg <= here) | (arg >= n))):
        raise ValueError("a jump goes backwards or leaves the code")
    # Nothing runs past the end: the last instruction returns.
    if n and op[n - 1] != I_RET:
        raise ValueError("the code must end with RET")
    cmp = op == I_CMP
    if np.any(cmp & ((arg < 0) | (arg >= nodes.shape[0]))):
        raise ValueError("a CMP names no node")
    if np.any(nodes.view(NODE_DTYPE).reshape(-1)["kind"][arg[cmp]] != K_CMP):
        raise ValueError("a CMP names a node that is not a comparison")
    load = np.nonzero(op == I_LOAD)[0]
    if load.size and np.any(op[arg[load] - 1] != I_STORE):
        raise ValueError("a LOAD does not skip to just after a STORE")
    store = op == I_STORE
    if np.any(store & ((arg < 0) | (arg >= n_slots))):
        raise ValueError("a memo slot is out of range")
    return code, starts, n_slots


def validate_dtree(dtree, int64_t n_types, int64_t n_buckets, cols):
    """Check a finer-index decision tree (ruleopt.engine.finer.DecisionTree): one root
    per evt.type id, children after their parent (the walk terminates), columns
    single-valued, keys sorted per node, leaves naming buckets that exist."""
    col = _arr(dtree.col, np.int32, "tree columns")
    targ = _arr(dtree.arg, np.int32, "tree args")
    koff = _arr(dtree.koff, np.int64, "tree key offsets")
    keys = _arr(dtree.keys, np.int64, "tree keys")
    child = _arr(dtree.child, np.int32, "tree children")
    n = col.shape[0]
    if targ.shape[0] != n or koff.shape[0] != n + 1 or child.shape[0] != keys.shape[0]:
        raise ValueError("decision tree arrays differ in length")
    if n and n < n_types:
        raise ValueError("the decision tree needs a root per evt.type id")
    if koff[0] != 0 or koff[n] != keys.shape[0] or np.any(np.diff(koff) < 0):
        raise ValueError("tree key offsets must rise from 0 to len(keys)")
    here = np.arange(n)
    leaf = col < 0
    if np.any(leaf & ((targ < 0) | (targ >= n_buckets))):
        raise ValueError("a tree leaf names a bucket that does not exist")
    inner = ~leaf
    if np.any(inner & ((targ <= here) | (targ >= n))):
        raise ValueError("a tree node's default child is out of order")
    if np.any(inner & (col >= len(cols))):
        raise ValueError("a tree node branches on a column that does not exist")
    for i in np.nonzero(inner)[0].tolist():
        if cols[col[i]].offsets is not None:
            raise ValueError("a tree node branches on a multi-valued column")
        k0, k1 = int(koff[i]), int(koff[i + 1])
        # Compared pairwise, not by np.diff: a difference of int64 keys overflows
        # (0 - INT64_MIN), which made sorted keys look unsorted.
        if k1 - k0 > 1 and np.any(keys[k0 + 1 : k1] <= keys[k0 : k1 - 1]):
            raise ValueError("tree keys must be sorted and distinct")
        ch = child[k0:k1]
        if ch.size and (ch.min() <= i or ch.max() >= n):
            raise ValueError("a tree child is out of order")
    return col, targ, koff, keys, child


cdef const void* _ptr(cnp.ndarray a):
    # An empty array may have a NULL-ish data pointer; nothing reads it (validated), but
    # keep every pointer valid.
    return <const void*>cnp.PyArray_DATA(a)


# ---------------------------------------------------------------- entry point

def tsc_hz() -> float:
    """TSC ticks per second (measured once, ~50 ms)."""
    return trace_tsc_hz()


def mode() -> int:
    """1: this build traces rules, 2: stages, 0: untraced."""
    return trace_mode()


cdef void _probe(Core* c, int64_t nn, const int64_t* rows, int64_t m, uint8_t* truth,
                 double* cycles) noexcept nogil:
    cdef int64_t j, k
    cdef uint64_t t0
    for j in range(nn):
        t0 = trace_rdtsc()
        for k in range(m):
            c.row = rows[k]
            truth[j * m + k] = _eval(c, j)
        cycles[j] = <double>(trace_rdtsc() - t0) / (m if m else 1)


def run(compiled, table, *, int repeat=1, rate=None, int64_t buffer=0,
        double empty_wait_s=0.0, bint first_match=True, int64_t out_cap=-1, probe=None,
        int64_t sample=1, uint64_t seed=0):
    """Run the loop over ``table`` with ``compiled`` (see ruleopt.engine.core.run_core).

    Offline (``rate`` None): the whole table ``repeat`` times, cycles per repeat. Rate
    replay: once, at ``rate`` events/s into a ring of ``buffer`` slots. Returns a dict.

    ``probe`` (row numbers): instead of the loop, evaluate every node (the recursive
    evaluator, whole subtree) on those rows; returns {"truth": uint8 [nodes, rows],
    "cycles": mean cycles per evaluation of each node} for cost/selectivity ordering.

    ``sample`` (rules build): time the checks of each event with probability 1/sample
    (geometric gaps drawn from ``seed``, see trace.h); 1 times every event.
    """
    if sample < 1:
        raise ValueError("sample must be >= 1")
    if repeat < 1:
        raise ValueError("repeat must be >= 1")
    if rate is not None and not (rate > 0):
        raise ValueError("rate must be > 0 events/s")
    if rate is not None and buffer < 1:
        raise ValueError("buffer must be >= 1 slot for a rate replay")
    v = validate(compiled, table)
    cdef int64_t n = table.n, nr = v["roots"].shape[0], ncol = len(v["cols"])
    cdef int64_t i
    heap_data, heap_off = table.strings.packed()
    heap_data = np.ascontiguousarray(heap_data, dtype=np.uint8)
    heap_off = np.ascontiguousarray(heap_off, dtype=np.int64)
    if heap_data.shape[0] == 0:
        heap_data = np.zeros(1, dtype=np.uint8)
    program = getattr(compiled, "program", None)
    dtree = getattr(compiled, "dtree", None)
    if program is not None:
        p_code, p_starts, n_slots = validate_program(program, nr, v["nodes"])
    if dtree is not None:
        d_col, d_arg, d_koff, d_keys, d_child = validate_dtree(
            dtree, len(table.strings), int(v["idx_off"].shape[0]) - 1, v["cols"])
    bucket_len = np.diff(v["idx_off"])
    max_bucket = int(bucket_len.max()) if bucket_len.size else 0
    if out_cap < 0:
        # Exact bound for first-match (<= 1 per event); for all-match, a guess that the
        # overflow re-run below corrects.
        out_cap = n if first_match else max(n, 1024)
    checks = np.zeros(max(nr, 1), dtype=np.int64)
    matched = np.zeros(max(nr, 1), dtype=np.int64)
    per_event = np.zeros(max(n, 1), dtype=np.int32)
    scratch = np.zeros(max(max_bucket, 1), dtype=np.int32)
    keep = []  # arrays whose data pointers the Core holds
    cdef Core c
    memset(&c, 0, sizeof(Core))
    c.col_s = <const int32_t**>malloc(max(ncol, 1) * sizeof(void*))
    c.col_n = <const int64_t**>malloc(max(ncol, 1) * sizeof(void*))
    c.col_p = <const uint8_t**>malloc(max(ncol, 1) * sizeof(void*))
    c.col_off = <const int64_t**>malloc(max(ncol, 1) * sizeof(void*))
    if c.col_s == NULL or c.col_n == NULL or c.col_p == NULL or c.col_off == NULL:
        free(c.col_s); free(c.col_n); free(c.col_p); free(c.col_off)
        raise MemoryError()
    cdef uint64_t t0
    cdef int64_t stats_buf[RING_NUM_STATS]
    cdef cnp.ndarray ring_a, proc_a, cyc_a, cost_a
    cdef double cpe = 0.0, wait = 0.0, hz = trace_tsc_hz()
    cdef int r
    try:
        for i, col in enumerate(v["cols"]):
            pres = np.ascontiguousarray(col.present).view(np.uint8)
            keep.append(pres)
            c.col_p[i] = <const uint8_t*>_ptr(pres)
            if col.kind == "str":
                vals = np.ascontiguousarray(col.values, dtype=np.int32)
                c.col_s[i] = <const int32_t*>_ptr(vals)
                c.col_n[i] = NULL
            else:
                vals = np.ascontiguousarray(col.values, dtype=np.int64)
                c.col_n[i] = <const int64_t*>_ptr(vals)
                c.col_s[i] = NULL
            keep.append(vals)
            if col.offsets is not None:
                offs = np.ascontiguousarray(col.offsets, dtype=np.int64)
                keep.append(offs)
                c.col_off[i] = <const int64_t*>_ptr(offs)
            else:
                c.col_off[i] = NULL
        etype = np.ascontiguousarray(table.column("evt.type").values, dtype=np.int32)
        if etype.shape[0] == 0:
            etype = np.zeros(1, dtype=np.int32)
        for name in ("nodes", "roots", "rule_ids", "idx_off", "idx_rules", "num_pool",
                     "id_pool", "byte_pool", "truth_pool", "row_pool"):
            if v[name].size == 0:
                v[name] = np.zeros(1, dtype=v[name].dtype)
        c.nodes = <const Node*>_ptr(v["nodes"])
        c.roots = <const int32_t*>_ptr(v["roots"])
        c.rule_ids = <const int32_t*>_ptr(v["rule_ids"])
        c.idx_off = <const int64_t*>_ptr(v["idx_off"])
        c.idx_rules = <const int32_t*>_ptr(v["idx_rules"])
        c.n_buckets = bucket_len.shape[0]
        c.etype = <const int32_t*>_ptr(etype)
        c.num_pool = <const int64_t*>_ptr(v["num_pool"])
        c.id_pool = <const int32_t*>_ptr(v["id_pool"])
        c.byte_pool = <const uint8_t*>_ptr(v["byte_pool"])
        c.truth_pool = <const uint8_t*>_ptr(v["truth_pool"])
        c.row_pool = <const uint8_t*>_ptr(v["row_pool"])
        c.heap_data = <const uint8_t*>_ptr(heap_data)
        c.heap_off = <const int64_t*>_ptr(heap_off)
        c.first_match = first_match
        trace_sampler_init(&c.sampler, <uint64_t>sample, seed)
        if probe is not None:
            rows_a = np.ascontiguousarray(probe, dtype=np.int64)
            if rows_a.ndim != 1 or (rows_a.size and (rows_a.min() < 0 or rows_a.max() >= n)):
                raise ValueError("probe rows must be row numbers of the table")
            nn_p = compiled.nodes.shape[0]
            truth_a = np.zeros((nn_p, rows_a.shape[0]), dtype=np.uint8)
            ncyc_a = np.zeros(nn_p, dtype=np.float64)
            if rows_a.size == 0:
                rows_a = np.zeros(1, dtype=np.int64)
                m_p = 0
            else:
                m_p = rows_a.shape[0]
            _probe(&c, nn_p, <const int64_t*>_ptr(rows_a), m_p,
                   <uint8_t*>_ptr(truth_a) if truth_a.size else NULL,
                   <double*>_ptr(ncyc_a) if nn_p else NULL)
            return {"truth": truth_a, "cycles": ncyc_a}
        if program is not None:
            memo_gen = np.zeros(max(n_slots, 1), dtype=np.uint64)
            memo_val = np.zeros(max(n_slots, 1), dtype=np.uint8)
            keep.extend((p_code, p_starts, memo_gen, memo_val))
            c.prog = <const int32_t*>_ptr(p_code)
            c.prog_start = <const int32_t*>_ptr(p_starts) if nr else NULL
            c.memo_gen = <uint64_t*>_ptr(memo_gen)
            c.memo_val = <uint8_t*>_ptr(memo_val)
        if dtree is not None and d_col.shape[0]:
            if d_keys.shape[0] == 0:
                d_keys = np.zeros(1, dtype=np.int64)
                d_child = np.zeros(1, dtype=np.int32)
            keep.extend((d_col, d_arg, d_koff, d_keys, d_child))
            c.dt_n = d_col.shape[0]
            c.dt_col = <const int32_t*>_ptr(d_col)
            c.dt_arg = <const int32_t*>_ptr(d_arg)
            c.dt_koff = <const int64_t*>_ptr(d_koff)
            c.dt_keys = <const int64_t*>_ptr(d_keys)
            c.dt_child = <const int32_t*>_ptr(d_child)
        c.checks = <int64_t*>_ptr(checks)
        c.matched = <int64_t*>_ptr(matched)
        c.per_event = <int32_t*>_ptr(per_event)
        c.scratch = <int32_t*>_ptr(scratch)

        while True:
            out_evt = np.zeros(max(out_cap, 1), dtype=np.int64)
            out_rule = np.zeros(max(out_cap, 1), dtype=np.int32)
            c.out_evt = <int64_t*>_ptr(out_evt)
            c.out_rule = <int32_t*>_ptr(out_rule)
            c.out_cap = out_cap
            trace_reset()
            c.sampled_events = 0
            cyc_a = np.zeros(repeat, dtype=np.uint64)
            result = {}
            if rate is None:
                for r in range(repeat):
                    # Counters describe one pass; traces accumulate over all repeats.
                    checks[:] = 0
                    matched[:] = 0
                    c.out_n = 0
                    with nogil:
                        t0 = trace_rdtsc()
                        _run_offline(&c, n)
                        (<uint64_t*>cnp.PyArray_DATA(cyc_a))[r] = trace_rdtsc() - t0
                result["processed"] = np.ones(n, dtype=np.bool_)
            else:
                buffer = ring_slots(n, buffer)
                ring_a = np.zeros(buffer, dtype=np.int64)
                proc_a = np.zeros(max(n, 1), dtype=np.uint8)
                cost_a = np.zeros(max(n, 1), dtype=np.uint64)
                cpe = hz / float(rate)
                wait = empty_wait_s * hz
                c.out_n = 0
                checks[:] = 0
                matched[:] = 0
                with nogil:
                    t0 = trace_rdtsc()
                    _run_rate(&c, n, cpe, buffer, wait, <int64_t*>cnp.PyArray_DATA(ring_a),
                              <uint8_t*>cnp.PyArray_DATA(proc_a),
                              <uint64_t*>cnp.PyArray_DATA(cost_a), stats_buf)
                    (<uint64_t*>cnp.PyArray_DATA(cyc_a))[0] = trace_rdtsc() - t0
                result["processed"] = proc_a[:n].astype(np.bool_)
                result["timeouts"] = int(stats_buf[RING_STAT_TIMEOUTS])
                result["drops"] = int(stats_buf[RING_STAT_DROPS])
                result["sim_cycles"] = int(stats_buf[RING_STAT_SIM_END])
                # Each processed event's measured cycles (0 for a dropped one): fed to
                # ruleopt._ext.ring.replay, the model gives this replay's figures again.
                result["event_cycles"] = cost_a[:n].copy()
            if c.out_n <= out_cap:
                break
            out_cap = c.out_n  # second pass with the exact size
        rules_dump = np.zeros((TRACE_MAX_RULES, TRACE_RULE_BRANCHES, TRACE_CELL_WORDS), dtype=np.uint64)
        stages_dump = np.zeros((TRACE_NUM_STAGES, TRACE_NUM_BRANCHES, TRACE_CELL_WORDS), dtype=np.uint64)
        rules_mom = np.zeros((TRACE_MAX_RULES, TRACE_RULE_BRANCHES, TRACE_MOMENTS), dtype=np.float64)
        if TRACE_RULES_ON:
            trace_export_rules(<uint64_t*>cnp.PyArray_DATA(rules_dump), TRACE_MAX_RULES)
            trace_export_rules_mom(<double*>cnp.PyArray_DATA(rules_mom), TRACE_MAX_RULES)
        if TRACE_STACKS_ON:
            trace_export_stages(<uint64_t*>cnp.PyArray_DATA(stages_dump))
    finally:
        free(c.col_s); free(c.col_n); free(c.col_p); free(c.col_off)
    result.update(
        match_evt=out_evt[: c.out_n].copy(),
        match_rule=out_rule[: c.out_n].copy(),
        checks=checks[:nr].copy(),
        matched=matched[:nr].copy(),
        per_event_checks=per_event[:n].copy(),
        cycles=cyc_a,
        tsc_hz=hz,
        trace_rules=rules_dump if TRACE_RULES_ON else None,
        trace_rules_mom=rules_mom if TRACE_RULES_ON else None,
        sample=sample if TRACE_RULES_ON else None,
        sampled_events=c.sampled_events if TRACE_RULES_ON else 0,
        trace_stages=stages_dump if TRACE_STACKS_ON else None,
    )
    return result
