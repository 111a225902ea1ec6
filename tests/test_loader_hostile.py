"""Hostile and unusual rules files: every one loads correctly or ends in one located
``RuleoptError`` (file:line:column), never a traceback (issue 8, loader findings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from conftest import READABLE_TRACES, REPO, RULESETS
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ruleopt.cli import main
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.fields import KNOWN_SOURCES, resolve
from ruleopt.rules.loader import (
    MAX_CONDITION_DEPTH,
    MAX_LIST_ITEMS,
    load_rules,
    load_rules_collect,
)
from ruleopt.rules.model import RuleSet
from ruleopt.rules.yamlsafe import MAX_DEPTH, MAX_NODES

RULE = "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n"
PLUGIN_RULES = REPO / "rulesets" / "plugin_sources_rules.yaml"


def write(tmp_path: Path, text: str | bytes, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def load_text(tmp_path: Path, text: str) -> RuleSet:
    return load_rules(write(tmp_path, text))


def error_of(tmp_path: Path, text: str | bytes) -> RuleoptError:
    path = write(tmp_path, text)
    with pytest.raises(RuleoptError) as info:
        load_rules(path)
    err = info.value
    assert err.file == str(path)
    return err


def distinct_names(path: Path) -> dict[str, set[str]]:
    """Names each kind of item defines, read with PyYAML's plain composer (``safe_load``
    cannot construct the bare ``=`` of ``comps: [=]``)."""
    names: dict[str, set[str]] = {"rule": set(), "macro": set(), "list": set()}
    for item in yaml.compose(path.read_text(), Loader=yaml.SafeLoader).value:
        for key, value in item.value if isinstance(item, yaml.MappingNode) else ():
            if key.value in names:
                names[key.value].add(value.value)
    return names


# --------------------------------------------------------------------------- YAML tags


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (RULE + "  enabled: !!bool x\n", 6, 12, "'x' is not a valid !!bool value"),
        (RULE.replace("desc: d", "desc: !!int abc"), 2, 9, "not a valid !!int value"),
        (RULE.replace("desc: d", "desc: !!float abc"), 2, 9, "not a valid !!float value"),
        (RULE.replace("desc: d", "desc: !!null abc"), 2, 9, "not a valid !!null value"),
        (RULE.replace("desc: d", "desc: !!timestamp 2020-99-99"), 2, 9, "'!!timestamp'"),
        (RULE.replace("desc: d", "desc: !!binary aGk="), 2, 9, "'!!binary'"),
        (RULE.replace("desc: d", "desc: !!set {a}"), 2, 9, "'!!set'"),
        (RULE.replace("desc: d", "desc: !local d"), 2, 9, "'!local'"),
        (RULE.replace("desc: d", "desc: !<tag:example.com,2000:x> d"), 2, 9, "example.com"),
        (RULE.replace("desc: d", "desc: !!seq d"), 2, 9, "'!!seq'"),
        ("- rule: r\n  !!merge x: y\n", 2, 3, "'!!merge'"),
        (
            "- !!python/object/apply:os.system ['touch /tmp/ruleopt-pwned']\n",
            1,
            3,
            "'!!python/object/apply:os.system'",
        ),
        ("- !!python/name:os.system x\n", 1, 3, "!!python/name:os.system"),
        (
            "- required_plugin_versions:\n  - name: !!int x1\n    version: 1\n",
            2,
            11,
            "not a valid !!int value",
        ),
    ],
)
def test_bad_tags_are_located_errors(
    tmp_path: Path, text: str, line: int, column: int, words: str
) -> None:
    err = error_of(tmp_path, text)
    assert (err.line, err.column) == (line, column)
    assert words in err.message
    assert err.hint
    assert not Path("/tmp/ruleopt-pwned").exists()


def test_core_tags_with_valid_values_load(tmp_path: Path) -> None:
    text = (
        RULE.replace("desc: d", "desc: !!str 123") + "  enabled: !!bool false\n"
        "  tags: !!seq [a, !!str true]\n"
    )
    rule = load_text(tmp_path, text).rule("r")
    assert rule.desc == "123" and rule.enabled is False and rule.tags == ("a", "true")


def test_implicit_non_string_scalars_stay_text(tmp_path: Path) -> None:
    # Dates, numbers and `=` resolve to timestamp/int/value tags: never constructed.
    text = (
        "- required_plugin_versions:\n  - name: p\n    version: 2020-01-01\n"
        "  - name: q\n    version: 0.10\n"
        + RULE.replace("desc: d", "desc: =").replace("output: o", "output: 2020-99-99")
    )
    rs = load_text(tmp_path, text)
    assert [v["version"] for v in rs.required_plugin_versions] == ["2020-01-01", "0.10"]
    assert rs.rule("r").desc == "=" and rs.rule("r").output == "2020-99-99"


# --------------------------------------------------------------------------- keys, aliases


def test_merge_key_is_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, "- &base {desc: d, output: o}\n- rule: r\n  <<: *base\n")
    assert (err.line, err.column) == (3, 3)
    assert "merge keys (<<)" in err.message and "rule 'r'" in err.message


def test_quoted_merge_key_is_a_plain_key(tmp_path: Path) -> None:
    # Quoted, it is an ordinary (unused) key of the rule, as in Falco.
    assert load_text(tmp_path, RULE + '  "<<": x\n').rule("r").desc == "d"


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    err = error_of(tmp_path, RULE + "  condition: evt.type = close\n")
    assert (err.line, err.column) == (6, 3)
    assert "duplicate key 'condition'" in err.message and "first at line 3" in err.message


@pytest.mark.parametrize("key", ["? [a, b]\n  : c", "? {a: b}\n  : c"])
def test_non_scalar_key_is_refused(tmp_path: Path, key: str) -> None:
    err = error_of(tmp_path, f"- {key}\n")
    assert err.line == 1 and "mapping keys must be plain strings" in err.message


def test_aliases_of_scalars_and_lists_load(tmp_path: Path) -> None:
    text = (
        "- list: a\n  items: &shared [x, y]\n- list: b\n  items: *shared\n"
        + RULE.replace("desc: d", "desc: &d the description")
        + "- rule: r2\n  desc: *d\n  condition: proc.name in (b)\n  output: o\n"
        "  priority: INFO\n"
    )
    rs = load_text(tmp_path, text)
    assert rs.lists["b"].items == ("x", "y") and rs.rule("r2").desc == "the description"


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    text = "- list: l0\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"- list: l{i}\n  items: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
        for i in range(1, 10)
    )
    err = error_of(tmp_path, text)
    assert f"more than {MAX_NODES:,} nodes" in err.message and err.line is not None


@pytest.mark.parametrize("text", ["- &a [*a]\n", "- &m {k: *m}\n"])
def test_recursive_alias_is_refused(tmp_path: Path, text: str) -> None:
    err = error_of(tmp_path, text)
    assert "recursive alias" in err.message and err.line == 1


def test_undefined_alias_is_located(tmp_path: Path) -> None:
    err = error_of(tmp_path, RULE.replace("desc: d", "desc: *nowhere"))
    assert err.line == 2 and err.column is not None


def test_null_and_multiple_documents(tmp_path: Path) -> None:
    text = "---\n---\n~\n---\n" + RULE + "---\n" + RULE.replace("rule: r", "rule: r2")
    rs = load_text(tmp_path, text)
    assert [r.name for r in rs.rules] == ["r", "r2"]
    assert load_text(tmp_path, "").rules == ()


# --------------------------------------------------------------------------- deep YAML


def test_deep_flow_sequence_is_located(tmp_path: Path) -> None:
    depth = 50_000
    err = error_of(tmp_path, "- list: l\n  items: " + "[" * depth + "]" * depth + "\n")
    assert err.line == 2 and err.column is not None
    assert f"more than {MAX_DEPTH} levels" in err.message and "list 'l'" in err.message


def test_deep_required_plugin_versions_is_located(tmp_path: Path) -> None:
    depth = 20_000
    err = error_of(
        tmp_path,
        "- required_plugin_versions:\n  - name: p\n    version: "
        + "[" * depth
        + "]" * depth
        + "\n",
    )
    assert err.line == 3 and "required_plugin_versions" in err.message


def test_deep_block_mappings_are_located(tmp_path: Path) -> None:
    text = RULE + "  exceptions:\n" + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(200))
    err = error_of(tmp_path, text)
    assert "levels deep" in err.message and "rule 'r'" in err.message


# --------------------------------------------------------------------------- encoding


def test_non_utf8_byte_is_located(tmp_path: Path) -> None:
    data = RULE.replace("desc: d", "desc: café").encode("latin-1")
    err = error_of(tmp_path, data)
    offset = data.index(b"\xe9")
    assert (err.line, err.column) == (2, 12)
    assert f"byte offset {offset}" in err.message and "0xe9" in err.message


def test_forbidden_character_is_located(tmp_path: Path) -> None:
    err = error_of(tmp_path, RULE.replace("desc: d", "desc: é\x07"))
    assert (err.line, err.column) == (2, 10) and "U+0007" in err.message


# --------------------------------------------------------------------------- list bounds


def doubling_lists(levels: int) -> str:
    return (
        "- list: l0\n  items: [a, b]\n"
        + "".join(f"- list: l{i}\n  items: [l{i - 1}, l{i - 1}]\n" for i in range(1, levels))
        + (
            f"- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (l{levels - 1})"
            "\n  output: o\n  priority: INFO\n"
        )
    )


def test_exponential_list_is_refused_before_expanding(tmp_path: Path) -> None:
    first = next(k for k in range(40) if 2 ** (k + 1) > MAX_LIST_ITEMS)
    err = error_of(tmp_path, doubling_lists(28))
    assert err.message.startswith(f"list 'l{first}' expands to {2 ** (first + 1):,} items")
    assert (err.line, err.column) == (2 * first + 1, 3)


def test_exponential_list_is_refused_by_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, doubling_lists(24))
    assert main(["verify", "--trace", str(READABLE_TRACES[0]), str(path)]) == 1
    assert "expands to" in capsys.readouterr().err


def test_exponential_list_collect_reports_once(tmp_path: Path) -> None:
    text = (
        doubling_lists(28) + "- rule: r2\n  desc: d\n  condition: proc.name in (l20)\n"
        "  output: o\n  priority: INFO\n"
    )
    rs, errors = load_rules_collect(write(tmp_path, text))
    assert len(errors) == 1 and rs.rules == ()


def test_long_list_chain_loads(tmp_path: Path) -> None:
    n = 30_000
    text = (
        "- list: c0\n  items: [a0]\n"
        + "".join(f"- list: c{i}\n  items: [c{i - 1}, a{i}]\n" for i in range(1, n))
        + (
            f"- rule: r\n  desc: d\n  condition: proc.name in (c{n - 1})\n  output: o\n"
            "  priority: INFO\n"
        )
    )
    rule = load_text(tmp_path, text).rule("r")
    values = [v.text for v in rule.condition.rhs.items]
    assert values == [f"a{i}" for i in range(n)]


def test_list_cycle_is_located(tmp_path: Path) -> None:
    text = (
        "- list: a\n  items: [b]\n- list: b\n  items: [x, a]\n"
        "- rule: r\n  desc: d\n  condition: proc.name in (a)\n  output: o\n"
        "  priority: INFO\n"
    )
    err = error_of(tmp_path, text)
    assert "circular list reference a -> b -> a" in err.message and err.line == 1


# --------------------------------------------------------------------------- macro chains


def macro_chain(n: int, *, deepen: bool) -> str:
    body = "m{} and proc.name = x{}" if deepen else "m{}"
    return (
        "- macro: m0\n  condition: evt.type = open\n"
        + "".join(f"- macro: m{i}\n  condition: {body.format(i - 1, i)}\n" for i in range(1, n))
        + (f"- rule: r\n  desc: d\n  condition: m{n - 1}\n  output: o\n  priority: INFO\n")
    )


def test_deep_macro_chain_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, macro_chain(12_000, deepen=True))
    rs, errors = load_rules_collect(path)
    assert len(errors) == 1 and rs.rules == ()
    err = errors[0]
    limit = MAX_CONDITION_DEPTH
    assert err.message.startswith(
        f"macro 'm{limit}': the condition nests {limit + 1:,} levels deep"
    )
    assert f"more than {limit:,}" in err.message and "m0" in err.message
    assert (err.file, err.line, err.column) == (str(path), 2 * limit + 1, 3)


def test_alias_macro_chain_loads(tmp_path: Path) -> None:
    # Each macro only names the previous one: depth 1, however long the chain.
    rs = load_text(tmp_path, macro_chain(3_000, deepen=False))
    assert len(rs.macros) == 3_000 and rs.rule("r").evttypes.names == {"open"}


def test_macro_chain_under_the_limit_loads(tmp_path: Path) -> None:
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))  # as the CLI does
    try:
        rs = load_text(tmp_path, macro_chain(MAX_CONDITION_DEPTH - 10, deepen=True))
    finally:
        sys.setrecursionlimit(old)
    assert rs.rule("r").evttypes.names == {"open"}


def test_macro_cycle_is_reported_once(tmp_path: Path) -> None:
    # m1 is first defined before m2 and redefined after it, so it may use m2: a cycle.
    text = (
        "- macro: m1\n  condition: evt.type = open\n- macro: m2\n  condition: m1\n"
        "- macro: m1\n  condition: m2\n" + RULE.replace("evt.type = open", "m1")
    )
    rs, errors = load_rules_collect(write(tmp_path, text))
    assert len(errors) == 1 and "circular macro reference" in errors[0].message
    assert rs.rules == ()


# --------------------------------------------------------------------------- plugin sources


def test_plugin_sources_ruleset_loads_every_name() -> None:
    rs = load_rules(PLUGIN_RULES)
    names = distinct_names(PLUGIN_RULES)
    assert {r.name for r in rs.rules} == names["rule"] and len(rs.rules) == len(names["rule"])
    assert set(rs.macros) == names["macro"] and set(rs.lists) == names["list"]
    assert {r.source for r in rs.rules} == {"aws_cloudtrail", "okta", "github", "k8s_audit"}
    assert [r.name for r in rs.rules if not r.enabled] == ["Large S3 download"]
    assert rs.warnings == ()
    assert [p["name"] for p in rs.required_plugin_versions] == [
        "cloudtrail",
        "okta",
        "github",
        "k8saudit",
        "json",
    ]
    # Appends, overrides and exceptions as for syscall rules.
    okta = rs.rule("Okta MFA failure on admin app")
    assert "okta.security.asnumber != 0" in okta.condition_text
    assert okta.exception_fields == ("okta.client.geo.country",)
    assert rs.rule("Pod from an untrusted registry").priority == "Error"


def test_plugin_rules_stay_out_of_the_syscall_index() -> None:
    rs = load_rules([RULESETS / "falco_rules-main.yaml", PLUGIN_RULES])
    syscall = load_rules(RULESETS / "falco_rules-main.yaml")
    assert {k: [r.name for r in v] for k, v in rs.by_evttype().items()} == {
        k: [r.name for r in v] for k, v in syscall.by_evttype().items()
    }
    # Only syscall rules run on every event (an empty set does: libsinsp files it there).
    assert [r.name for r in rs.all_evttype_rules()] == [r.name for r in syscall.all_evttype_rules()]
    by_source = rs.by_source()
    assert list(by_source)[0] == "syscall"
    assert len(by_source["okta"]) == 2 and len(by_source["aws_cloudtrail"]) == 2


def test_check_json_lists_rules_per_source(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["check", "--json", str(PLUGIN_RULES)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rules_per_evttype"] == {"*": [], "(generic)": []}
    assert sorted(doc["rules_per_source"]) == ["aws_cloudtrail", "github", "k8s_audit", "okta"]
    assert (doc["rules"], doc["macros"], doc["lists"]) == (9, 4, 4)


def test_k8s_audit_026_still_loads() -> None:
    rs = load_rules(RULESETS / "k8s_audit_rules-falco-0.26.2.yaml")
    assert (len(rs.rules), len(rs.macros), len(rs.lists)) == (39, 39, 11)
    assert rs.by_evttype() == {"*": [], "(generic)": []}


@pytest.mark.parametrize(
    ("source", "cond", "field", "owner"),
    [
        ("syscall", "ct.name = x", "ct.name", "aws_cloudtrail (the cloudtrail plugin)"),
        ("aws_cloudtrail", "ct.name = x and proc.name = y", "proc.name", "syscall"),
        ("okta", "github.type = push", "github.type", "github"),
        ("k8s_audit", "okta.app = a", "okta.app", "okta"),
    ],
)
def test_field_of_another_source_is_located(
    tmp_path: Path, source: str, cond: str, field: str, owner: str
) -> None:
    text = (
        f"- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n"
        f"  source: {source}\n"
    )
    err = error_of(tmp_path, text)
    assert err.message == f"rule 'r': field '{field}' is not a field of source '{source}'"
    assert err.line == 3 and err.column == 14 + cond.index(field)
    assert owner in err.hint


def test_unknown_field_of_plugin_source_is_located(tmp_path: Path) -> None:
    text = (
        "- rule: r\n  desc: d\n  condition: ct.nme = x\n  output: o\n  priority: INFO\n"
        "  source: aws_cloudtrail\n"
    )
    err = error_of(tmp_path, text)
    assert "unknown field 'ct.nme'" in err.message and (err.line, err.column) == (3, 14)
    assert "ct.name" in err.hint


def test_skip_if_unknown_filter_applies_to_plugin_sources(tmp_path: Path) -> None:
    text = (
        "- rule: r\n  desc: d\n  condition: ct.name = x and proc.name = y\n  output: o\n"
        "  priority: INFO\n  source: aws_cloudtrail\n  skip-if-unknown-filter: true\n"
    )
    rs = load_text(tmp_path, text)
    assert rs.rule("r").enabled is False
    assert "proc.name" in rs.warnings[0].message


def test_unknown_source_loads_with_a_located_warning(tmp_path: Path) -> None:
    assert "my_plugin" not in KNOWN_SOURCES
    text = (
        "- list: things\n  items: [a, b]\n- macro: mine\n  condition: my.field in (things)\n"
        "- rule: r\n  desc: d\n  condition: mine and my.other = 1\n  output: o\n"
        "  priority: INFO\n  source: my_plugin\n"
    )
    path = write(tmp_path, text)
    rs = load_rules(path)
    (warning,) = rs.warnings
    assert (warning.file, warning.line, warning.rule) == (str(path), 5, "r")
    assert "not validated" in warning.message
    assert rs.rule("r").source == "my_plugin" and rs.by_evttype() == {"*": [], "(generic)": []}
    # Syntax errors in an unknown source's rules are still errors.
    with pytest.raises(RuleoptError) as info:
        load_text(tmp_path, text.replace("my.other = 1", "my.other = = 1"))
    assert info.value.line == 7


def test_plugin_field_types_come_from_the_registry() -> None:
    assert resolve("s3.bytes.out").info.sinsp_type == "UINT64"
    assert resolve("okta.mfa.deny.countlast[5]").arg == "5"
    with pytest.raises(RuleoptError):
        resolve("okta.mfa.deny.countlast")  # the index is required
    assert resolve("ka.req.pod.initContainers.image.repository").multi
    assert resolve("json.value[/a/b]").info.sources[0] == "aws_cloudtrail"
    assert "k8s_audit" in resolve("evt.num").info.sources


def test_verify_and_compare_skip_plugin_rules_with_a_note() -> None:
    from ruleopt.commands.compare import compare

    rs = load_rules(PLUGIN_RULES)
    for rule in rs.enabled_rules():
        assert unsupported_reason(rule) == (
            f"source '{rule.source}' is not read from syscall captures"
        )
    doc = compare(
        [str(RULESETS / "falco_rules-main.yaml"), str(PLUGIN_RULES)],
        None,
        ["baseline"],
        1,
        progress=False,
    )
    assert sorted(s["rule"] for s in doc["skipped_rules"]) == sorted(
        r.name for r in rs.enabled_rules()
    )


def test_deep_condition_in_one_macro_is_located(tmp_path: Path) -> None:
    depth = 5_000
    text = (
        "- macro: m\n  condition: "
        + "not (" * depth
        + "evt.type = open"
        + ")" * depth
        + "\n"
        + RULE.replace("evt.type = open", "m")
    )
    err = error_of(tmp_path, text)
    assert err.message == (
        f"macro 'm': the condition nests {depth + 1:,} levels deep "
        f"(more than {MAX_CONDITION_DEPTH:,})"
    )
    assert (err.line, err.column) == (1, 3)


def test_recursion_limit_below_the_depth_bound_is_a_located_error(tmp_path: Path) -> None:
    import inspect

    path = write(
        tmp_path,
        RULE.replace(
            "evt.type = open",
            "not (" * (MAX_CONDITION_DEPTH - 100)
            + "evt.type = open"
            + ")" * (MAX_CONDITION_DEPTH - 100),
        ),
    )
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        with pytest.raises(RuleoptError) as info:
            load_rules(path)
    finally:
        sys.setrecursionlimit(old)
    assert info.value.message.startswith("rule 'r': the condition is nested too deeply")
    assert (info.value.file, info.value.line) == (str(path), 1)


def test_check_text_names_the_plugin_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(RULESETS / "falco_rules-main.yaml"), str(PLUGIN_RULES)]) == 0
    out = capsys.readouterr().out
    for source in ("aws_cloudtrail", "github", "k8s_audit", "okta"):
        assert f"source {source}: 2 enabled rule(s), not in the syscall event-type index" in out


def test_crlf_files_are_located_as_before(tmp_path: Path) -> None:
    text = RULE.replace("evt.type = open", "evt.type = open and\n    proc.name = = x")
    err = error_of(tmp_path, text.replace("\n", "\r\n").encode())
    assert (err.line, err.column) == (4, 17)


# --------------------------------------------------------------------------- composer = PyYAML's


def _shape(node: yaml.Node, seen: dict[int, int] | None = None) -> object:
    """A node graph as nested tuples; a node met again (an alias) becomes ("alias", n)."""
    seen = {} if seen is None else seen
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, tuple(_shape(v, seen) for v in node.value))
    return (node.tag, tuple((_shape(k, seen), _shape(v, seen)) for k, v in node.value))


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False)
)


@st.composite
def _documents(draw: st.DrawFn) -> object:
    data = draw(
        st.recursive(
            _scalars,
            lambda kids: st.one_of(
                st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=6), kids, max_size=4)
            ),
            max_leaves=20,
        )
    )
    if isinstance(data, list) and data and draw(st.booleans()):
        data.append(data[0])  # the same object twice: safe_dump writes an anchor and alias
    return data


@settings(max_examples=60, deadline=None)
@given(_documents(), st.booleans())
def test_composer_builds_what_pyyaml_builds(data: object, flow: bool) -> None:
    from ruleopt.rules.yamlsafe import compose_documents

    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    ours = compose_documents(text, "f.yaml")
    theirs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    assume(all(d is not None for d in theirs))
    assert [_shape(d) for d in ours] == [_shape(d) for d in theirs]
