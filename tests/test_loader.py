"""The rules loader: upstream files, merge/override/exception semantics, errors, evttypes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import And, Compare, Expr, Field, ListRef, Not, Or, Value, ValueList
from ruleopt.rules.evttypes import (
    ALL,
    NONE,
    EvtTypeSet,
    evttypes_of,
    evttypes_of_lua,
    evttypes_of_modern,
)
from ruleopt.rules.loader import load_rules, load_rules_collect
from ruleopt.rules.parser import parse_condition

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RULESETS = SHARED / "rulesets"
SEED = Path(__file__).resolve().parents[1] / "rulesets" / "seed_rules.yaml"


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_text(tmp_path: Path, text: str):
    return load_rules([write(tmp_path, text)])


def expect(text: str) -> Expr:
    """The AST of ``text`` with bare list words read as values, as expansion leaves them."""

    def fix(e: Expr) -> Expr:
        if isinstance(e, Not):
            return Not(fix(e.operand))
        if isinstance(e, (And, Or)):
            return type(e)(tuple(fix(i) for i in e.items))
        if isinstance(e, Compare) and isinstance(e.rhs, ValueList):
            items = tuple(Value(i.name) if isinstance(i, ListRef) else i for i in e.rhs.items)
            return Compare(e.lhs, e.op, ValueList(items))
        return e

    return fix(parse_condition(text))


def load_error(tmp_path: Path, text: str) -> RuleoptError:
    path = write(tmp_path, text)
    with pytest.raises(RuleoptError) as info:
        load_rules([path])
    err = info.value
    assert err.file == str(path)
    return err


# Appended right after an inline file's last line, which ends in 4 spaces of the
# closing quotes' indentation; lines up with the items' keys once dedented.
def pos_of(err: RuleoptError, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in the file ``err`` names."""
    text = Path(err.file).read_text()
    idx = text.index(needle)
    return text.count("\n", 0, idx) + 1, idx - (text.rfind("\n", 0, idx) + 1) + 1


RULE_TAIL = "      output: out\n          desc: d\n          priority: WARNING\n    "


# --------------------------------------------------------------------------- upstream files


def distinct_names(paths: list[Path]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {"rule": set(), "macro": set(), "list": set()}
    for path in paths:
        for item in yaml.safe_load(path.read_text()) or []:
            for kind in names:
                if isinstance(item, dict) and kind in item:
                    names[kind].add(item[kind])
    return names


@pytest.mark.parametrize(
    "files",
    [
        ["falco_rules-main.yaml"],
        ["falco_rules-main.yaml", "falco-incubating_rules-main.yaml"],
        ["falco_rules-1.0.0.yaml"],
        ["falco_rules-falco-0.26.2.yaml"],
        ["falco_rules-falco-0.26.2.yaml", "application_rules-falco-0.26.2.yaml"],
        ["k8s_audit_rules-falco-0.26.2.yaml"],
    ],
)
def test_upstream_rulesets_load_with_all_names(files: list[str]) -> None:
    paths = [RULESETS / f for f in files]
    ruleset = load_rules(paths)
    names = distinct_names(paths)
    assert {r.name for r in ruleset.rules} == names["rule"]
    assert len(ruleset.rules) == len(names["rule"])
    assert set(ruleset.macros) == names["macro"]
    assert set(ruleset.lists) == names["list"]
    assert [r.id for r in ruleset.rules] == list(range(len(ruleset.rules)))
    for rule in ruleset.rules:
        # Fully expanded: no macro names, no list names left in any condition.
        text = repr(rule.condition)
        assert "MacroRef" not in text and "ListRef" not in text


def test_every_shared_ruleset_is_covered() -> None:
    # A new file in /work/shared/rulesets must be added to the parametrised test above.
    assert {p.name for p in RULESETS.glob("*.yaml")} == {
        "falco_rules-main.yaml",
        "falco-incubating_rules-main.yaml",
        "falco_rules-1.0.0.yaml",
        "falco_rules-falco-0.26.2.yaml",
        "application_rules-falco-0.26.2.yaml",
        "k8s_audit_rules-falco-0.26.2.yaml",
    }


def test_upstream_evttypes_and_warnings() -> None:
    main = load_rules([RULESETS / "falco_rules-main.yaml"])
    # Modern upstream rules are written so that none runs on every event type, except
    # that libsinsp 2022 has no event code of its own for (f)init_module: that rule's
    # set is empty there, and Falco's index runs it on every event.
    # dup2/dup3 are generic too: they select nothing, so the rule never sees them.
    kmod = "Linux Kernel Module Injection Detected"
    redirect = "Redirect STDOUT/STDIN to Network Connection in Container"
    assert sorted(w.rule for w in main.warnings) == [kmod, redirect]
    by_rule = {w.rule: w.message for w in main.warnings}
    assert "empty for libsinsp 2022" in by_rule[kmod]
    assert "dup2, dup3 have no event code" in by_rule[redirect]
    assert [r.name for r in main.all_evttype_rules()] == [kmod]
    old = load_rules([RULESETS / "falco_rules-falco-0.26.2.yaml"])
    etc = old.rule("Write below etc")
    assert etc.evttypes == EvtTypeSet.of({"open", "openat"})
    warned = {w.rule for w in old.warnings}
    # The inbound/outbound macros mix and/or at one level; with `and` binding tighter a
    # bare network check is or-ed in, so the rule runs on every event type.
    assert "Disallowed SSH Connection" in warned
    assert old.rule("Disallowed SSH Connection").evttypes.is_all
    assert evttypes_of_lua(old.rule("Disallowed SSH Connection").condition) == EvtTypeSet.of(
        {"accept", "connect", "listen"}
    )
    k8s = load_rules([RULESETS / "k8s_audit_rules-falco-0.26.2.yaml"])
    assert {r.source for r in k8s.rules} == {"k8s_audit"}
    assert k8s.warnings == ()  # evttype warnings are for syscall rules only


def test_seed_ruleset() -> None:
    rs = load_rules([SEED])
    names = distinct_names([SEED])
    assert {r.name for r in rs.rules} == names["rule"]
    assert {"Write below etc", "Write below binary dir"} <= names["rule"]
    assert set(rs.macros) == names["macro"] and set(rs.lists) == names["list"]
    etc = rs.rule("Write below etc")
    assert etc.evttypes == EvtTypeSet.of({"open", "openat", "openat2"})
    assert etc.condition_text.endswith("and not proc.name = ldconfig.real")
    assert [r.name for r in rs.all_evttype_rules()] == ["Unexpected process with non-zero exit"]
    assert rs.warnings == ()  # the catch-all rule has warn_evttypes: false
    assert len(rs.enabled_rules()) == len(rs.rules) - 1


# --------------------------------------------------------------------------- semantics


def test_macros_and_lists_expand_recursively(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - list: inner
          items: [a, "b c"]
        - list: outer
          items: [inner, d]
        - macro: is_open
          condition: evt.type = open
        - macro: opens_outer
          condition: is_open and proc.name in (outer)
        - rule: R
          condition: opens_outer and not proc.pname in (outer, e)
    """
        + RULE_TAIL,
    )
    rule = rs.rule("R")
    assert rule.condition == expect(
        '(evt.type = open and proc.name in (a, "b c", d)) and not proc.pname in (a, "b c", d, e)'
    )
    assert rule.evttypes == EvtTypeSet.of({"open"})
    assert rs.macros["opens_outer"].condition == parse_condition(
        "is_open and proc.name in (outer)"
    )  # macros are kept unexpanded
    assert rs.lists["outer"].items == ("inner", "d")


def test_appends_lists_macros_rules(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - list: names
          items: [a]
        - macro: m
          condition: evt.type = open
        - rule: R
          condition: m and proc.name in (names)
          output: out
          desc: d
          priority: WARNING
        - list: names
          items: [b]
          append: true
        - macro: m
          condition: or evt.type = openat
          append: true
        - rule: R
          condition: and fd.num >= 0
          append: true
    """,
    )
    rule = rs.rule("R")
    assert rs.lists["names"].items == ("a", "b")
    assert rule.condition_text == "m and proc.name in (names) and fd.num >= 0"
    # The macro text was joined with a space before parsing: `a or b`, then inlined.
    assert rule.condition == expect(
        "(evt.type = open or evt.type = openat) and proc.name in (a, b) and fd.num >= 0"
    )
    assert rule.evttypes == EvtTypeSet.of({"open", "openat"})


def test_redefinition_replaces_in_place_and_enabled_toggle(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - rule: First
          condition: evt.type = open
    """
        + RULE_TAIL
        + """
        - rule: Second
          condition: evt.type = close
    """
        + RULE_TAIL
        + """
        - rule: First
          condition: evt.type = read
          output: new
          desc: d
          priority: debug
        - rule: Second
          enabled: false
    """,
    )
    assert [(r.id, r.name) for r in rs.rules] == [(0, "First"), (1, "Second")]
    first = rs.rule("First")
    assert first.evttypes == EvtTypeSet.of({"read"})
    assert (first.output, first.priority) == ("new", "Debug")
    assert not rs.rule("Second").enabled
    assert [r.name for r in rs.enabled_rules()] == ["First"]


def test_override_append_and_replace(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
          output: out
          desc: d
          priority: WARNING
          tags: [a]
          exceptions:
            - name: ex
              fields: proc.name
              values: [x]
        - rule: R
          condition: and proc.name = cat
          tags: [b]
          exceptions:
            - name: ex
              values: [y]
          output: replaced
          priority: ERROR
          enabled: false
          override:
            condition: append
            tags: append
            exceptions: append
            output: replace
            priority: replace
            enabled: replace
    """,
    )
    rule = rs.rule("R")
    assert rule.condition == expect(
        "evt.type = open and proc.name = cat and not (proc.name in (x, y))"
    )
    assert rule.tags == ("a", "b")
    assert (rule.output, rule.priority, rule.enabled) == ("replaced", "Error", False)


def test_override_replace_condition_and_exceptions(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
          output: out
          desc: d
          priority: WARNING
          exceptions:
            - name: ex
              fields: proc.name
              values: [x]
        - rule: R
          condition: evt.type = close
          exceptions:
            - name: other
              fields: [fd.name]
              values: [[/tmp]]
          override:
            condition: replace
            exceptions: replace
    """,
    )
    assert rs.rule("R").condition == expect("evt.type = close and not ((fd.name = /tmp))")


def test_exception_forms(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - list: trusted
          items: [sshd, sudo]
        - rule: R
          condition: evt.type = open
          exceptions:
            - name: single
              fields: proc.name
              values: [a, "b c", trusted]
            - name: tuple_default_comps
              fields: [proc.name, fd.name]
              values:
                - [cat, /etc/x y]
                - [dog, /tmp]
            - name: tuple_list_ops
              fields: [proc.name, fd.directory]
              comps: [in, pmatch]
              values:
                - [trusted, [/usr, /opt]]
            - name: no_values
              fields: proc.name
    """
        + RULE_TAIL,
    )
    rule = rs.rule("R")
    assert rule.condition == expect(
        "evt.type = open"
        ' and not (proc.name in (a, "b c", sshd, sudo))'
        ' and not ((proc.name = cat and fd.name = "/etc/x y") or (proc.name = dog and'
        " fd.name = /tmp))"
        " and not ((proc.name in (sshd, sudo) and fd.directory pmatch (/usr, /opt)))"
    )
    assert rule.exception_fields == ("proc.name", "fd.name", "fd.directory")
    assert rule.condition_text == "evt.type = open"
    assert rule.evttypes == EvtTypeSet.of({"open"})


def test_warnings_for_rules_on_every_event_type(tmp_path: Path) -> None:
    rs = load_text(
        tmp_path,
        """
        - rule: Everywhere
          condition: proc.name = cat
    """
        + RULE_TAIL
        + """
        - rule: Quiet
          condition: proc.name = dog
          warn_evttypes: false
    """
        + RULE_TAIL
        + """
        - rule: AllButClose
          condition: evt.type != close
    """
        + RULE_TAIL
        + """
        - rule: Audit
          condition: ka.verb = create
          source: k8s_audit
    """
        + RULE_TAIL,
    )
    assert [w.rule for w in rs.warnings] == ["Everywhere", "AllButClose"]
    assert all("too many evt.type values" in w.message for w in rs.warnings)
    assert rs.warnings[0].line == 1
    # A k8s_audit rule never meets a syscall event: it is not in the syscall index.
    assert [r.name for r in rs.all_evttype_rules()] == ["Everywhere", "Quiet"]
    by_type = rs.by_evttype(["open", "close"])
    assert [r.name for r in by_type["close"]] == ["Everywhere", "Quiet"]
    assert [r.name for r in by_type["open"]] == ["Everywhere", "Quiet", "AllButClose"]
    assert [r.name for r in rs.by_source()["k8s_audit"]] == ["Audit"]


def test_multiple_files_in_order(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        """
        - macro: m
          condition: evt.type = open
        - rule: R
          condition: m
    """
        + RULE_TAIL,
        "base.yaml",
    )
    local = write(
        tmp_path,
        """
        - rule: R
          condition: and proc.name = cat
          append: true
    """,
        "local.yaml",
    )
    assert load_rules([base, local]).rule("R").condition == expect(
        "evt.type = open and proc.name = cat"
    )
    with pytest.raises(RuleoptError) as info:
        load_rules([local, base])  # appending before the rule exists
    assert info.value.file == str(local) and info.value.line == 1


# --------------------------------------------------------------------------- errors


def test_error_broken_yaml(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: [unclosed
    """,
    )
    assert "invalid YAML" in err.message
    assert (err.line, err.column) == (3, 1)
    assert err.hint


def test_error_item_not_a_mapping(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - macro: m
          condition: evt.type = open
        - just a string
    """,
    )
    assert "mapping" in err.message and (err.line, err.column) == (3, 3)


def test_error_unknown_item(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - macro: m
          condition: evt.type = open
        - rulez: R
    """,
    )
    assert "unknown top-level item" in err.message and "'rulez'" in err.message
    assert (err.line, err.column) == (3, 3)


def test_error_condition_syntax_plain_scalar(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: Foo
          condition: evt.type = open and and proc.name = x
    """
        + RULE_TAIL,
    )
    # The second "and" is at column 21 of the condition; "  condition: " is 13 wide.
    assert err.message.startswith("rule 'Foo': condition column 21: ")
    assert "unexpected" in err.message
    assert (err.line, err.column) == (2, 34)
    assert str(err).startswith(f"{err.file}:2:34: rule 'Foo': condition column 21:")


def test_error_condition_syntax_block_scalar(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - macro: m
          condition: >
            evt.type = open
            and proc.name in (a, b
            and fd.num >= 0
    """,
    )
    assert err.message.startswith("macro 'm': condition ")
    text = (tmp_path / "rules.yaml").read_text().splitlines()
    # Wherever the parser stops, the reported position is inside the block, on the text.
    assert 3 <= err.line <= 5
    assert text[err.line - 1][err.column - 1 :].strip() != ""


def test_error_condition_syntax_in_literal_block_second_line(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: Foo
          condition: |
            evt.type = open
              and proc.name === x
    """
        + RULE_TAIL,
    )
    # The third "=" of "===": line 2 of the literal block, indented by 4 in the file.
    assert "condition line 2, column 19" in err.message
    assert (err.line, err.column) == (4, 23)


def test_error_condition_syntax_in_appended_text(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: Foo
          condition: evt.type = open
    """
        + RULE_TAIL
        + """
        - rule: Foo
          append: true
          condition: and (proc.name = x
    """,
    )
    # The merged text ends inside the append's parenthesis: report the append's line,
    # at the end of its text.
    line, col = pos_of(err, "and (proc.name = x")
    assert err.line == line
    assert err.column == col + len("and (proc.name = x")


def test_error_undefined_macro(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open and not is_trusted
    """
        + RULE_TAIL,
    )
    assert "undefined macro 'is_trusted'" in err.message and "rule 'R'" in err.message
    assert (err.line, err.column) == (2, 38)
    assert err.hint


def test_error_macro_used_before_definition(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - macro: a
          condition: evt.type = open and b
        - macro: b
          condition: proc.name = x
    """,
    )
    assert "macro 'a': undefined macro 'b'" in err.message and "defined later" in err.message
    assert (err.line, err.column) == (2, 34)


def test_error_circular_macro(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - macro: a
          condition: evt.type = open
        - macro: b
          condition: a and proc.name = x
        - macro: a
          condition: or b
          append: true
    """,
    )
    assert "circular macro" in err.message and "a -> b -> a" in err.message
    assert (err.line, err.column) == (1, 3)


def test_error_circular_list(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - list: l1
          items: [x, l2]
        - list: l2
          items: [l1]
        - rule: R
          condition: proc.name in (l1)
    """
        + RULE_TAIL,
    )
    assert "circular list" in err.message
    assert (err.line, err.column) == (1, 3)


def test_error_unknown_exception_operator(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
    """
        + RULE_TAIL
        + """
          exceptions:
            - name: ex
              fields: [proc.name]
              comps: [like]
              values: [[x]]
    """,
    )
    assert "'like' is not a supported comparison operator" in err.message
    assert (err.line, err.column) == pos_of(err, "name: ex")


@pytest.mark.parametrize(
    "kind,extra",
    [
        ("list", "items: [x]"),
        ("macro", "condition: evt.type = open"),
        ("rule", "condition: and proc.name = x"),
    ],
)
def test_error_append_to_nothing(tmp_path: Path, kind: str, extra: str) -> None:
    err = load_error(
        tmp_path,
        f"""
        - macro: unrelated
          condition: evt.type = open
        - {kind}: missing
          {extra}
          append: true
    """,
    )
    assert f"{kind} 'missing'" in err.message and "defined earlier" in err.message
    assert (err.line, err.column) == (3, 3)


def test_error_enable_unknown_rule(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: Nope
          enabled: false
    """,
    )
    assert "no rule by that name" in err.message and (err.line, err.column) == (1, 3)


def test_error_invalid_priority_and_missing_key(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
          output: o
          desc: d
          priority: LOUD
    """,
    )
    assert "invalid priority 'LOUD'" in err.message and (err.line, err.column) == (5, 13)
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
          desc: d
          priority: LOUD
    """,
    )
    assert "no mapping for key 'output'" in err.message and (err.line, err.column) == (1, 3)


def test_error_override_mismatch(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        - rule: R
          condition: evt.type = open
    """
        + RULE_TAIL
        + """
        - rule: R
          condition: and proc.name = x
          output: o2
          override:
            condition: append
    """,
    )
    assert "unexpected key 'output'" in err.message
    assert (err.line, err.column) == pos_of(err, "output: o2")


def test_collect_mode_reports_every_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        - rule: Good
          condition: evt.type = open
    """
        + RULE_TAIL
        + """
        - rule: Bad syntax
          condition: evt.type = = open
    """
        + RULE_TAIL
        + """
        - rule: Bad macro
          condition: nosuch
    """
        + RULE_TAIL
        + """
        - bogus: 1
    """,
    )
    ruleset, errors = load_rules_collect([path])
    assert [r.name for r in ruleset.rules] == ["Good"]
    assert ruleset.rules[0].id == 0
    assert len(errors) == 3
    # Read errors come first, then compile errors, each at its own place.
    assert [(e.line, e.column) for e in errors] == [
        pos_of(errors[0], "bogus"),
        (pos_of(errors[1], "= = open")[0], pos_of(errors[1], "= = open")[1] + 2),
        pos_of(errors[2], "nosuch"),
    ]


# --------------------------------------------------------------------------- evttypes


def ev(text: str) -> EvtTypeSet:
    return evttypes_of_modern(parse_condition(text))


def ev2022(text: str) -> EvtTypeSet:
    return evttypes_of(parse_condition(text))


def test_evttypes_2022_index_complements_the_child() -> None:
    # What libsinsp 2022's sinsp_filter::evttypes() returns (checked against the harness
    # for every shared ruleset in tests/test_index.py): `not` complements its child's
    # set, but the complement of "all" stays "all".
    assert ev2022("not (evt.type = open and proc.name = cat)") == EvtTypeSet.all_but({"open"})
    assert ev2022("not (evt.type = open or proc.name = cat)") == ALL
    assert ev2022("not proc.name = cat") == ALL
    assert ev2022("not evt.type != open") == EvtTypeSet.of({"open"})
    assert ev2022("not (evt.type = open and evt.type = close)") == ALL
    assert ev2022("evt.type = open and not proc.name = cat") == EvtTypeSet.of({"open"})
    assert ev2022("evt.type = read or not evt.type = open") == EvtTypeSet.all_but({"open"})


def test_evttypes_leaves() -> None:
    assert ev("evt.type = open") == EvtTypeSet.of({"open"})
    assert ev("evt.type == open") == EvtTypeSet.of({"open"})
    assert ev("evt.type in (open, close)") == EvtTypeSet.of({"open", "close"})
    assert ev("evt.type != open") == EvtTypeSet.all_but({"open"})
    assert ev("proc.name = cat") == ALL
    assert ev("evt.type startswith open") == ALL  # not an evttype operator
    assert ev("evt.type exists") == ALL
    assert ev("not evt.type exists") == NONE


def test_evttypes_boolean_structure() -> None:
    assert ev("evt.type in (open, close) and evt.type = open") == EvtTypeSet.of({"open"})
    assert ev("evt.type = open and evt.type = close") == NONE
    assert ev("evt.type = open or evt.type = close") == EvtTypeSet.of({"open", "close"})
    assert ev("evt.type = open or proc.name = cat") == ALL
    assert ev("evt.type = open and proc.name = cat") == EvtTypeSet.of({"open"})
    assert ev("evt.type = open and not proc.name = cat") == EvtTypeSet.of({"open"})


def test_evttypes_negation_is_pushed_to_leaves() -> None:
    assert ev("not evt.type = open") == EvtTypeSet.all_but({"open"})
    assert ev("not evt.type != open") == EvtTypeSet.of({"open"})
    assert ev("not proc.name = cat") == ALL
    # De Morgan: not (open and cat) = not open or not cat = ALL. The 2022 Falco resolver
    # complemented the child's set here and got "all but open", which drops events.
    assert ev("not (evt.type = open and proc.name = cat)") == ALL
    assert ev("not (evt.type = open or evt.type = close)") == EvtTypeSet.all_but({"open", "close"})
    assert ev("evt.type in (open, close) and not evt.type = close") == EvtTypeSet.of({"open"})


def test_evttypes_lua_legacy() -> None:
    lua = lambda t: evttypes_of_lua(parse_condition(t))  # noqa: E731
    assert lua("evt.type = open and evt.type = close") == EvtTypeSet.of({"open", "close"})
    assert lua("proc.name = cat") == ALL
    assert lua("not evt.type = open") == ALL
    assert lua("evt.type = open and not proc.name = cat") == EvtTypeSet.of({"open"})
    assert lua("not proc.name = cat and evt.type = open") == ALL


def test_evttypeset_algebra() -> None:
    a = EvtTypeSet.of({"open", "close"})
    b = EvtTypeSet.all_but({"close", "read"})
    assert a & b == EvtTypeSet.of({"open"})
    assert a | b == EvtTypeSet.all_but({"read"})
    assert ~b == EvtTypeSet.of({"close", "read"})
    assert (b & ~b) == NONE and (b | ~b) == ALL
    assert ALL.is_all and not a.is_all and NONE.is_empty
    assert b.matches("open") and not b.matches("read") and a.matches("close")
    assert ALL.describe() == "all" and b.describe() == "all but close, read"
    for x in (a, b, ALL, NONE):
        for y in (a, b, ALL, NONE):
            for name in ("open", "close", "read", "write"):
                assert (x & y).matches(name) == (x.matches(name) and y.matches(name))
                assert (x | y).matches(name) == (x.matches(name) or y.matches(name))


def test_evttype_field_details() -> None:
    # Only the bare field counts; an argument or a field on the right is neutral.
    assert evttypes_of(Compare(Field("evt.type", "1"), "=", Value("open"))) == ALL
    assert ev("evt.type = val(evt.arg.name)") == ALL
