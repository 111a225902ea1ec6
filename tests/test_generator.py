"""The synthetic workload generator, its condition solver and ``ruleopt generate``."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from strategies import compares, events, usable

from ruleopt.cli import main
from ruleopt.engine.reference import evaluate, prepare
from ruleopt.errors import RuleoptError
from ruleopt.events import solver
from ruleopt.events.generator import default_workload, generate, rule_templates
from ruleopt.events.stamping import break_rows as _break_rows
from ruleopt.events.table import EventTable, is_multi, storage_kind
from ruleopt.fields import resolve
from ruleopt.rules import ast
from ruleopt.rules.loader import load_rules
from ruleopt.rules.parser import parse_condition

RULESETS = Path(os.environ.get("RULEOPT_RULESETS", "/work/shared/rulesets"))
FALCO_0262 = RULESETS / "falco_rules-falco-0.26.2.yaml"

SMALL_RULES = """
- list: shell_binaries
  items: [bash, sh, zsh]
- macro: open_write
  condition: (evt.type in (open, openat) and evt.is_open_write=true and fd.typechar='f')
- rule: Write below etc
  desc: test
  condition: open_write and fd.name startswith /etc/ and not proc.name in (dpkg, apt-get)
  output: "write %fd.name by %proc.name"
  priority: ERROR
- rule: Shell in container
  desc: test
  condition: >
    evt.type = execve and evt.dir = < and container.id != host
    and proc.name in (shell_binaries) and not proc.pname in (shell_binaries)
  output: "shell %proc.name"
  priority: WARNING
- rule: Contact metadata
  desc: test
  condition: evt.type = connect and fd.sip = "169.254.169.254" and fd.sport = 80
  output: "metadata %fd.name"
  priority: NOTICE
- rule: Ancestor is cron
  desc: test
  condition: proc.aname[2] = cron and proc.name = curl
  output: "x"
  priority: NOTICE
- rule: Never
  desc: test
  condition: evt.num = 0 and proc.name = ls
  output: "x"
  priority: NOTICE
- rule: Contradiction
  desc: test
  condition: proc.name = a and not proc.name = a
  output: "x"
  priority: NOTICE
- rule: Disabled one
  desc: test
  condition: proc.name = zzz
  output: "x"
  priority: NOTICE
  enabled: false
"""


@pytest.fixture(scope="module")
def small_rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(SMALL_RULES)
    return load_rules([str(path)])


@pytest.fixture(scope="module")
def rules_0262():
    return load_rules([str(FALCO_0262)])


@pytest.fixture(scope="module")
def table_0262(rules_0262):
    return generate(rules_0262, 40_000, seed=7, break_share=0.02)


# --------------------------------------------------------------------------- solver


def _expand_bare(expr):
    """Hand-written conditions have no lists: a bare word in a value list is a value."""
    if isinstance(expr, ast.Compare) and isinstance(expr.rhs, ast.ValueList):
        items = tuple(
            ast.Value(i.name) if isinstance(i, ast.ListRef) else i for i in expr.rhs.items
        )
        return ast.Compare(expr.lhs, expr.op, ast.ValueList(items))
    if isinstance(expr, ast.Not):
        return ast.Not(_expand_bare(expr.operand))
    if isinstance(expr, (ast.And, ast.Or)):
        return type(expr)(tuple(_expand_bare(x) for x in expr.items))
    return expr


def _spec_of(f: ast.Field) -> solver.FieldSpec | None:
    try:
        rf = resolve(f)
    except RuleoptError:
        return None
    return solver.FieldSpec(rf.key, rf.info.type, storage_kind(rf.info), is_multi(rf))


def _solve(text: str, count: int = 3) -> tuple[ast.Expr, solver.SolveResult]:
    expr = _expand_bare(parse_condition(text))
    return expr, solver.build_templates(expr, _spec_of, evaluate, count=count)


@pytest.mark.parametrize(
    "text",
    [
        "proc.name = nginx and fd.name startswith /etc/",
        "proc.name in (bash, sh) or fd.name endswith .conf",
        "not proc.name in (bash, sh, zsh) and proc.cmdline contains wget",
        "fd.name pmatch (/etc, /usr/bin) and not fd.name pmatch (/etc/ssl)",
        "fd.sport >= 1024 and fd.sport < 1030 and fd.sport != 1025",
        "evt.rawres < 0 and not evt.rawres in (-2, -1)",
        "fd.name glob '/var/*/secret?.txt' and fd.name contains lib",
        "fd.name startswith /home/ and fd.name endswith .ssh/id_rsa",
        "proc.aname = sshd and not proc.aname in (cron, systemd)",
        "proc.aname[2] = containerd-shim and proc.pname = node",
        "fd.snet = 10.0.0.0/8 and not fd.sip = 10.0.0.1",
        "evt.is_open_write = true and evt.type in (open, openat)",
        "not (proc.name = a or proc.name = b) and proc.name exists",
        "not fd.name exists and proc.name icontains PYTHON",
        "tolower(proc.name) = curl",
    ],
)
def test_solver_templates_satisfy_condition(text):
    expr, res = _solve(text)
    assert res.templates, res.reason
    for tmpl in res.templates:
        assert evaluate(expr, {k: v for k, v in tmpl.items() if v is not None})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compares(), events())
def test_solver_judges_literals_as_the_reference(cmp, event):
    """The solver only proposes values: whether one satisfies a comparison (either
    polarity, transformers, multi-valued fields, absence) is the reference's answer."""
    assume(usable(cmp))
    want = evaluate(cmp, event)
    for positive in (True, False):
        lit = solver._Normalizer(_spec_of).literal(cmp, positive)
        assume(isinstance(lit, solver.Lit) and lit.other is None)
        assert solver.holds(lit, event.get(lit.spec.key)) == (want == positive)


def test_solver_picks_values_the_operators_need():
    _, res = _solve("proc.name in (bash, sh) and fd.name startswith /etc/ and fd.name endswith .d")
    t = res.templates[0]
    assert t["proc.name"] in ("bash", "sh")
    assert t["fd.name"].startswith("/etc/") and t["fd.name"].endswith(".d")
    _, res = _solve("fd.sport > 8000 and fd.sport <= 8001")
    assert res.templates[0]["fd.sport"] == 8001
    # `not` is satisfied by a value failing the inner comparison, or by absence.
    _, res = _solve("not proc.name = bash and proc.pname = sshd")
    assert res.templates[0].get("proc.name") != "bash"
    _, res = _solve("not fd.name exists and proc.name = x")
    assert res.templates[0]["fd.name"] is None


def test_solver_or_branches_give_distinct_templates():
    expr, res = _solve("proc.name = a or proc.name = b or proc.name = c or proc.name = d", count=3)
    names = {t["proc.name"] for t in res.templates}
    assert len(names) >= 2
    assert names <= {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("proc.name = a and not proc.name = a", "proc.name"),
        ("fd.sport > 10 and fd.sport < 5", "fd.sport"),
        ("proc.name = a and proc.name = b", "proc.name"),
    ],
)
def test_solver_reports_unsatisfiable(text, reason):
    _, res = _solve(text)
    assert res.templates == []
    assert reason in res.reason


def test_solver_unknown_field_is_reported():
    expr = ast.Compare(ast.Field("no.such.field"), "=", ast.Value("x"))
    res = solver.build_templates(expr, _spec_of, evaluate)
    assert not res.templates
    assert "no.such.field" in res.reason


def test_solver_verifies_with_the_oracle():
    # An evaluator that rejects everything: no template may survive.
    expr = _expand_bare(parse_condition("proc.name = a"))
    res = solver.build_templates(expr, _spec_of, lambda e, m: False)
    assert res.templates == []
    assert "reference evaluator" in res.reason


# --------------------------------------------------------------------------- generator


def _arrays(table: EventTable) -> dict[str, tuple]:
    return {k: (c.values, c.present, c.offsets) for k, c in table.columns.items()}


def test_same_seed_same_arrays(small_rules):
    a = generate(small_rules, 5_001, seed=3, break_share=0.05)
    b = generate(small_rules, 5_001, seed=3, break_share=0.05)
    assert list(a.columns) == list(b.columns)
    assert list(a.strings) == list(b.strings)
    for key, (va, pa, oa) in _arrays(a).items():
        vb, pb, ob = _arrays(b)[key]
        assert np.array_equal(va, vb) and np.array_equal(pa, pb), key
        assert (oa is None and ob is None) or np.array_equal(oa, ob), key
    assert a.meta["breaking"] == b.meta["breaking"]


def test_different_seed_differs(small_rules):
    a = generate(small_rules, 5_000, seed=1)
    b = generate(small_rules, 5_000, seed=2)
    ta = [a.strings.get(int(i)) for i in a.columns["evt.type"].values]
    tb = [b.strings.get(int(i)) for i in b.columns["evt.type"].values]
    assert ta != tb
    assert a.meta["breaking"]["rows"] != b.meta["breaking"]["rows"]


def test_columns_are_the_fields_rules_read(small_rules):
    t = generate(small_rules, 2_000, seed=0)
    assert t.n == 2_000
    assert {
        "evt.num",
        "evt.type",
        "evt.dir",
        "fd.name",
        "proc.name",
        "proc.pname",
        "proc.aname[2]",
        "container.id",
        "fd.sip",
        "fd.sport",
        "evt.is_open_write",
        "fd.typechar",
    } <= set(t.columns)
    # Fields no enabled rule reads are not generated.
    assert "proc.exepath" not in t.columns
    assert np.array_equal(t.evt_num, np.arange(1, 2_001))
    dirs = {t.strings.get(int(i)) for i in t.columns["evt.dir"].values}
    assert dirs == {">", "<"}


def test_breaking_share_and_rules_without_templates(small_rules):
    t = generate(small_rules, 10_000, seed=5, break_share=0.03)
    br = t.meta["breaking"]
    assert len(br["rows"]) == 300
    assert len(set(br["rows"])) == 300
    gen = t.meta["generator"]
    assert set(gen["rules_without"]) == {"Never", "Contradiction"}
    assert "evt.num" in gen["rules_without"]["Never"]
    names = {r.id: r.name for r in small_rules.rules}
    # Every rule with a template breaks, and about equally often.
    counts = {names[i]: br["rule_ids"].count(i) for i in set(br["rule_ids"])}
    assert set(counts) == {
        "Write below etc",
        "Shell in container",
        "Contact metadata",
        "Ancestor is cron",
    }
    assert max(counts.values()) - min(counts.values()) <= 1
    # Spread over the whole workload, not bunched at the start.
    rows = np.array(br["rows"])
    assert rows.min() < 1_000 and rows.max() > 9_000


def test_breaking_events_match_their_rule(small_rules):
    t = generate(small_rules, 20_000, seed=11, break_share=0.05)
    preds = {r.id: prepare(r.condition) for r in small_rules.enabled_rules()}
    br = t.meta["breaking"]
    for row, rid in zip(br["rows"], br["rule_ids"], strict=True):
        assert preds[rid](t.event(row)), (row, rid, t.event(row))


def test_breaking_events_match_their_rule_0262(rules_0262, table_0262):
    t = table_0262
    preds = {r.id: prepare(r.condition) for r in rules_0262.enabled_rules()}
    br = t.meta["breaking"]
    assert len(br["rows"]) == 800
    assert len(set(br["rule_ids"])) == len(t.meta["generator"]["rules_with_templates"])
    for row, rid in zip(br["rows"], br["rule_ids"], strict=True):
        assert preds[rid](t.event(row)), rules_0262.rules[rid].name
    # Every enabled rule is accounted for: a template, or a reason why not.
    gen = t.meta["generator"]
    assert len(gen["rules_with_templates"]) + len(gen["rules_without"]) == len(
        rules_0262.enabled_rules()
    )
    assert all(gen["rules_without"].values())
    assert len(gen["rules_with_templates"]) >= 30


def _stamped(t) -> set[int]:
    """Rows a template or a breaking row's setup (container info, the call's enter)
    overwrote."""
    return set(t.meta["breaking"]["rows"]) | set(t.meta["breaking"].get("setup_rows", []))


def test_background_rarely_matches_rules(rules_0262, table_0262):
    # The background models an ordinary host: on a sample of non-breaking events, rules
    # fire far less often than on the breaking ones.
    t = table_0262
    preds = [prepare(r.condition) for r in rules_0262.enabled_rules()]
    breaking = _stamped(t)
    sample = [i for i in range(0, t.n, 20) if i not in breaking]
    hits = sum(1 for i in sample if any(p(t.event(i)) for p in preds))
    assert hits / len(sample) < 0.05


def test_values_are_consistent(table_0262):
    t = table_0262
    for i in range(0, t.n, 7):
        ev = t.event(i)
        name = ev.get("fd.name")
        if isinstance(name, str) and name.startswith("/") and "fd.directory" in ev:
            assert ev["fd.directory"] == posixpath.dirname(name), ev
            assert ev.get("fd.filename") == posixpath.basename(name), ev
        if "proc.aname" in ev and "proc.pname" in ev:
            assert ev["proc.aname"][0] == ev["proc.pname"] == ev.get("proc.aname[1]"), ev
            for k in range(2, 6):
                got = ev.get(f"proc.aname[{k}]")
                want = ev["proc.aname"][k - 1] if len(ev["proc.aname"]) >= k else None
                assert got == want, (k, ev)
        if "evt.is_open_write" in ev:
            assert ev["evt.type"] in ("open", "openat", "creat", "openat2") or i in _stamped(t)
            flags = ev.get("evt.arg.flags", "")
            assert ev["evt.is_open_write"] == ("O_WRONLY" in flags or "O_RDWR" in flags), ev
        if ev.get("evt.dir") == ">":
            assert "evt.rawres" not in ev or i in _stamped(t)


def test_enter_and_exit_pairs(table_0262):
    t = table_0262
    types = t.columns["evt.type"].values
    # Background calls come as enter/exit pairs of the same syscall.
    breaking = np.zeros(t.n, dtype=bool)
    breaking[sorted(_stamped(t))] = True
    pair_ok = types[0::2] == types[1::2]
    untouched = ~(breaking[0::2] | breaking[1::2])
    assert pair_ok[untouched].all()


def test_event_mix(small_rules):
    t = generate(small_rules, 4_000, seed=1, break_share=0.0, mix={"openat": 3, "read": 1})
    types = [t.strings.get(int(i)) for i in t.columns["evt.type"].values]
    assert set(types) == {"openat", "read"}
    assert 0.65 < types.count("openat") / len(types) < 0.85
    assert t.meta["breaking"]["rows"] == []
    with pytest.raises(RuleoptError):
        generate(small_rules, 100, mix={"openat": -1})


def test_bad_arguments(small_rules):
    for n in (0, -5, 2.5):
        with pytest.raises(RuleoptError, match="positive"):
            generate(small_rules, n)
    with pytest.raises(RuleoptError, match="between 0 and 1"):
        generate(small_rules, 10, break_share=1.5)


def test_break_rows_are_distinct_and_spread():
    rows = _break_rows(1_000, 100, seed=4)
    assert len(set(rows.tolist())) == 100
    assert np.all(np.diff(rows) > 0)
    assert rows.min() < 10 and rows.max() >= 990


def test_default_workload(small_rules):
    t = default_workload(small_rules)
    assert t.n == 200_000
    assert len(t.meta["breaking"]["rows"]) == 2_000
    assert t.meta["generator"]["seed"] == 0


def test_saved_table_round_trips(small_rules, tmp_path):
    t = generate(small_rules, 3_000, seed=9, break_share=0.1)
    t.save(tmp_path / "w.npz")
    back = EventTable.load(tmp_path / "w.npz")
    assert back.n == t.n and list(back.columns) == list(t.columns)
    for i in (0, 1, 1_500, 2_999):
        assert back.event(i) == t.event(i)
    assert back.meta["breaking"] == t.meta["breaking"]


# --------------------------------------------------------------------------- CLI


def test_cli_writes_loadable_file(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(SMALL_RULES)
    out = tmp_path / "w.npz"
    rc = main(
        [
            "generate",
            "-r",
            str(rules),
            "-n",
            "3000",
            "--seed",
            "2",
            "--break-share",
            "0.02",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "3000 events" in text
    assert "breaking events: 60" in text
    assert "rules with templates: 4, without: 2 (2 of them can never match)" in text
    assert "never matches: Never: can never match: its condition requires `evt.num = 0`" in text
    assert (
        "never matches: Contradiction: contradictory: its condition requires both "
        "`proc.name = a` and `not proc.name = a`"
    ) in text
    t = EventTable.load(out)
    assert t.n == 3000 and len(t.meta["breaking"]["rows"]) == 60
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-n", "0"], "positive"),
        (["-n", "-3"], "positive"),
        (["-n", "ten"], "not an integer"),
        (["-n", "10", "--break-share", "2"], "between 0 and 1"),
    ],
)
def test_cli_bad_numbers(tmp_path, capsys, argv, message):
    rules = tmp_path / "rules.yaml"
    rules.write_text(SMALL_RULES)
    out = tmp_path / "w.npz"
    with pytest.raises(SystemExit) as exc:
        main(["generate", "-r", str(rules), "-o", str(out), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [rules]


def test_cli_missing_rules_file(tmp_path, capsys):
    out = tmp_path / "w.npz"
    rc = main(["generate", "-r", str(tmp_path / "nope.yaml"), "-n", "10", "-o", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "no such rules file" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_missing_output_directory(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text(SMALL_RULES)
    rc = main(["generate", "-r", str(rules), "-n", "10", "-o", str(tmp_path / "no" / "w.npz")])
    assert rc == 1
    assert "output directory does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [rules]


def test_conditions_the_solver_cannot_handle_cost_only_their_rule(tmp_path):
    """Constants past a field's range: the rule gets no breaking events (reported), the
    rest of the workload is generated. A val() comparison is settled after the search
    (both fields given one value) and verified by the reference evaluator."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "- rule: odd val\n  desc: d\n  condition: evt.type=open and proc.name = val(proc.pname)\n"
        "  output: o\n  priority: WARNING\n"
        "- rule: past range\n  desc: d\n"
        "  condition: evt.type=open and evt.rawtime > 99999999999999999999\n"
        "  output: o\n  priority: WARNING\n"
        "- rule: fine\n  desc: d\n  condition: evt.type=open and proc.name=cat\n"
        "  output: o\n  priority: WARNING\n"
    )
    rules = load_rules([path])
    templates, missing = rule_templates(rules, seed=0)
    assert set(missing) == {"past range"}
    assert sorted(templates) == sorted([rules.rule("fine").id, rules.rule("odd val").id])
    (odd,) = templates[rules.rule("odd val").id][:1]
    assert odd["proc.name"] == odd["proc.pname"] is not None
    table = generate(rules, 500, seed=0)
    assert table.n == 500
