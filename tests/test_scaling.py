"""Work that grows with condition size stays near-linear, and the fast versions give
exactly what the plain ones gave: lazy-greedy reorder, one-pass jump threading, the
stack-based walk, the list-joined printer. No timed assertions: operation counts, exact
equality with the plain algorithms, and 20,000-term conditions that complete."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conditions, make_rule

from ruleopt.cli import main
from ruleopt.deep import call_deep
from ruleopt.engine import program as prog
from ruleopt.engine.compile import compile_rules
from ruleopt.events.table import EventTable
from ruleopt.rules import ast
from ruleopt.rules.evttypes import EvtTypeSet
from ruleopt.rules.parser import parse_condition

KEYS = ["evt.type", "proc.name"]
TABLE = EventTable.from_records([{"evt.type": "open", "proc.name": "a"}], KEYS)


def _eq(i: int) -> ast.Compare:
    return ast.Compare(ast.Field("proc.name"), "=", ast.Value(f"w{i}"))


def _compiled(cond: ast.Expr):
    # On a large-stack thread: the rule's printer and the compiler recurse per level.
    return call_deep(lambda: compile_rules([make_rule(0, cond, EvtTypeSet.of({"open"}))], TABLE))


# ---------------------------------------------------------------- the plain algorithms


def plain_order(compiled, truth, cycles, rule_rows) -> dict[int, list[int]]:
    """The greedy as first written: rescore every remaining child at every pick."""
    nodes = np.asarray(compiled.nodes)
    out: dict[int, list[int]] = {}
    for r, root in enumerate(compiled.roots.tolist()):
        stack = [(int(root), np.asarray(rule_rows[r], dtype=np.int64))]
        while stack:
            i, live = stack.pop()
            kind = int(nodes[i, prog.F_KIND])
            if kind == prog.K_NOT:
                stack.append((int(nodes[i, prog.F_CHILD]), live))
            if kind not in (prog.K_AND, prog.K_OR):
                continue
            want = kind == prog.K_OR
            left = list(prog._children(nodes, i))
            placed = []
            while left:
                best, best_score = left[0], float("inf")
                for j in left:
                    decided = int(np.count_nonzero(truth[j, live] == want)) if live.size else 0
                    score = float(cycles[j]) / decided if decided else float("inf")
                    if score < best_score:
                        best, best_score = j, score
                left.remove(best)
                placed.append(best)
                stack.append((best, live))
                if live.size:
                    live = live[truth[best, live] != want]
            out[i] = placed
    return out


def plain_thread(code: list[list[int]]) -> list[list[int]]:
    """Jump threading as first written: follow each chain afresh, first to last."""
    code = [list(x) for x in code]
    for ins in code:
        if ins[0] not in (prog.I_JF, prog.I_JT):
            continue
        t = ins[1]
        while True:
            op = code[t][0]
            if op == ins[0]:
                t = code[t][1]
            elif op in (prog.I_JF, prog.I_JT):
                t += 1
            else:
                break
        ins[1] = t
    return code


@settings(max_examples=60, deadline=None)
@given(
    cond=conditions,
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 40),
    cycle_values=st.sampled_from([(1.0,), (1.0, 2.0), (1.0, 3.0, 7.5)]),
)
def test_lazy_greedy_order_equals_the_plain_greedy(cond, seed, rows, cycle_values) -> None:
    compiled = _compiled(cond)
    n = len(compiled.nodes)
    rng = np.random.default_rng(seed)
    truth = rng.random((n, rows)) < rng.random()
    # Few distinct costs: ties are common, and must break by position as before.
    cycles = rng.choice(np.asarray(cycle_values), size=n)
    rule_rows = [
        np.sort(rng.choice(rows, size=rng.integers(0, rows + 1), replace=False))
        if rows
        else np.zeros(0, dtype=np.int64)
    ]
    assert prog.measured_order(compiled, truth, cycles, rule_rows) == plain_order(
        compiled, truth, cycles, rule_rows
    )


@settings(max_examples=80, deadline=None)
@given(cond=conditions)
def test_one_pass_threading_equals_following_every_chain(cond) -> None:
    compiled = _compiled(cond)
    for share in (False, True):
        raw = prog.compile_program(compiled, share=share, thread=False).code.tolist()
        threaded = prog.compile_program(compiled, share=share).code.tolist()
        assert threaded == plain_thread(raw)


def _left_nested(n: int) -> ast.Expr:
    """((((w0 and w1) or w2) and w3) ...): every inner node ends where its parent's jump
    is, so an unthreaded jump chain runs through every level."""
    e: ast.Expr = _eq(0)
    for i in range(1, n):
        e = (ast.And if i % 2 else ast.Or)((e, _eq(i)))
    return e


def test_threading_a_long_chain_of_same_kind_jumps_is_linear() -> None:
    # ((w0 and w1) and w2) and ...: each `and` ends on its parent's JF, so every JF
    # threads to the very end; counted steps must stay linear in the jumps.
    e: ast.Expr = _eq(0)
    for i in range(1, 1500):
        e = ast.And((e, _eq(i)))
    compiled = _compiled(ast.And((e, _eq(-1))))
    raw = call_deep(lambda: prog.compile_program(compiled, thread=False).code.tolist())
    steps = 0
    real = list.__getitem__

    class Counting(list):
        def __getitem__(self, k):
            nonlocal steps
            steps += 1
            return real(self, k)

    code = Counting([list(x) for x in raw])
    moved = prog._thread_jumps(code)
    assert moved == 1499 and code == plain_thread(raw)
    assert steps <= 4 * len(raw)


def test_greedy_rescoring_is_linear_on_an_or_of_20000_terms(monkeypatch) -> None:
    n, rows = 20_000, 64
    compiled = _compiled(ast.Or(tuple(_eq(i) for i in range(n))))
    rng = np.random.default_rng(1)
    truth = rng.random((len(compiled.nodes), rows)) < 0.01
    cycles = rng.integers(1, 50, size=len(compiled.nodes)).astype(float)
    calls = 0
    real = np.count_nonzero

    def counting(*args, **kw):
        nonlocal calls
        calls += 1
        return real(*args, **kw)

    monkeypatch.setattr(prog.np, "count_nonzero", counting)
    order = prog.measured_order(compiled, truth, cycles, [np.arange(rows)])
    (root,) = compiled.roots.tolist()
    assert sorted(order[root]) == list(range(1, n + 1))  # every child placed once
    # The plain greedy rescored every remaining child per pick: ~n^2/2 = 2e8 counts.
    assert calls <= 4 * n


def test_walk_is_preorder_and_completes_20000_levels_deep() -> None:
    small = ast.And((ast.Not(_eq(1)), ast.Or((_eq(2), _eq(3))), _eq(4)))
    assert [type(x).__name__ for x in ast.walk(small)] == [
        "And",
        "Not",
        "Compare",
        "Or",
        "Compare",
        "Compare",
        "Compare",
    ]
    deep = _left_nested(20_000)
    assert sum(1 for _ in ast.walk(deep)) == 2 * 20_000 - 1


def test_printer_round_trips_a_20000_level_condition() -> None:
    deep = _left_nested(20_000)

    def round_trip() -> bool:
        text = ast.print_expr(deep)
        return text.count("(") == 20_000 - 2 and parse_condition(text) == deep

    assert call_deep(round_trip)


def _rules_file(tmp_path, cond: str):
    path = tmp_path / "big.yaml"
    path.write_text(
        f"- rule: big\n  desc: d\n  condition: >\n    {cond}\n"
        '  output: "%proc.name %fd.name"\n  priority: WARNING\n'
    )
    return path


def test_check_refuses_20000_levels_of_alternating_and_or_with_a_located_error(
    tmp_path, capsys
) -> None:
    # Deeper than the loader's bound (MAX_CONDITION_DEPTH): refused at the rule, in linear
    # work, instead of walking 20,000 levels in every consumer (it took 24 s, then crashed).
    inner = "fd.name = /a0"
    for i in range(1, 20_000):
        inner = f"fd.name = /a{i} {'and' if i % 2 else 'or'} ({inner})"
    path = _rules_file(tmp_path, f"evt.type = open and ({inner})")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1:3: rule 'big': the condition nests 20,001 levels deep" in err


def test_alternating_nesting_up_to_the_bound_loads_and_compares(tmp_path, capsys) -> None:
    inner = "fd.name = /a0"
    for i in range(1, 900):
        inner = f"fd.name = /a{i} {'and' if i % 2 else 'or'} ({inner})"
    path = _rules_file(tmp_path, f"evt.type = open and ({inner})")
    assert main(["check", str(path), "--json"]) == 0
    assert '"open"' in capsys.readouterr().out
    events = tmp_path / "w.npz"
    assert main(["generate", "-r", str(path), "-n", "500", "-o", str(events)]) == 0
    assert main(["compare", str(path), str(events), "--repeat", "1", "--json"]) == 0
    assert '"equivalent": true' in capsys.readouterr().out


def test_compare_completes_on_an_or_of_20000_terms(tmp_path, capsys) -> None:
    terms = " or ".join(f"fd.name = /a{i}" for i in range(20_000))
    path = _rules_file(tmp_path, f"evt.type = open and ({terms})")
    events = tmp_path / "w.npz"
    assert main(["generate", "-r", str(path), "-n", "2000", "-o", str(events)]) == 0
    code = main(
        [
            "compare",
            str(path),
            str(events),
            "--repeat",
            "1",
            "--json",
            "--strategies",
            "reorder,shared-reorder,finer,best",
        ]
    )
    assert code == 0
    assert '"equivalent": true' in capsys.readouterr().out
