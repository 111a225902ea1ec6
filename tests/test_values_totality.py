"""Every operator and transformer is total over every value a column can hold, and what
libsinsp refuses at rule compile time is a located ``check`` error (issue 8).

Values: text whose bytes are not UTF-8 (surrogate escapes), base64 that decodes to such
bytes, empty strings, NUL, numbers at their type bounds. Strings are byte strings, as in
libsinsp: order, substring, glob, regex and ``len`` look at the bytes.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt.cli import main
from ruleopt.engine import reference, values
from ruleopt.engine.text import canonical, from_bytes, to_bytes
from ruleopt.engine.verify import unsupported_reason
from ruleopt.errors import RuleoptError
from ruleopt.events.table import EventTable
from ruleopt.output import CachedOutput, LuaOutput, rule_metas
from ruleopt.rules.loader import load_rules
from ruleopt.rules.parser import parse_condition


def _eval(cond: str, event: dict) -> bool:
    return reference.evaluate(parse_condition(cond), event)


def _rules_file(tmp_path: Path, condition: str, output: str = "%proc.name %fd.name") -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        - rule: r
          desc: d
          condition: {condition}
          output: "{output}"
          priority: WARNING
        """)
    )
    return path


# ------------------------------------------------------------- text is bytes


def test_text_helpers_are_total_and_canonical() -> None:
    for s in ["", "a", "é", "\udcc3\udca9", "\ud800", "x\x00y", "\udcff"]:
        b = to_bytes(s)
        assert to_bytes(canonical(s)) == b
        assert canonical(from_bytes(b)) == from_bytes(b)
    assert canonical("\udcc3\udca9") == "é"  # the same two bytes


def test_b64_to_invalid_utf8_then_glob_is_false_not_a_crash() -> None:
    # The fresh-seed CI failure: "qw==" decodes to the byte 0xab.
    ev = {"proc.name": "qw=="}
    assert _eval('b64(proc.name) glob "a*"', ev) is False
    assert _eval('b64(proc.name) glob "*"', ev) is True
    assert _eval('b64(proc.name) glob "?"', ev) is True  # one byte
    assert _eval("len(b64(proc.name)) = 1", ev) is True
    assert _eval('b64(proc.name) contains "a"', ev) is False
    # RE2 reads UTF-8: "." does not match a stray byte, "\\C" (any byte) does.
    assert _eval('b64(proc.name) regex ".*"', ev) is False
    assert _eval(r'b64(proc.name) regex "\\C"', ev) is True


@pytest.mark.parametrize(
    "op",
    [
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "contains",
        "icontains",
        "startswith",
        "endswith",
        "glob",
        "iglob",
        "regex",
        "in",
        "pmatch",
    ],
)
@pytest.mark.parametrize("value", ["", "\x00", "a\x00b", "\udcff", "\udcc3", "é", "/\udcfe/x"])
@pytest.mark.parametrize("const", ["", "a", "é", "\udcff", "*"])
def test_every_string_operator_is_total(op: str, value: str, const: str) -> None:
    info = reference.operand_info(parse_condition("proc.name exists").lhs)[1]
    text = f"({json.dumps(const)})" if op in ("in", "pmatch") else json.dumps(const)
    try:
        rhs = values.prepare_rhs(info, op, [const] if op in ("in", "pmatch") else const)
    except RuleoptError:
        assert op == "regex" and const in ("*", "\udcff")  # RE2 refuses these patterns
        return
    got = values.compare(op, info, canonical(value), rhs)
    assert got in (True, False), text


def test_glob_runs_in_the_c_locale_like_falco() -> None:
    # Falco and sysdig never call setlocale: "?" is one byte, "é" is two, and character
    # classes are ASCII; Python itself runs with a UTF-8 LC_CTYPE.
    assert values.glob_match("?", "é") is False
    assert values.glob_match("??", "é") is True
    assert values.glob_match("[[:alpha:]]*", "é") is False
    assert values.glob_match("?", "\udcff") is True


def test_string_order_is_byte_order() -> None:
    # U+FFFF is EF BF BF; the escaped byte 0xFF sorts after it, as strcmp says.
    assert _eval('proc.name > "\uffff"', {"proc.name": "\udcff"}) is True
    assert _eval('proc.name < "\uffff"', {"proc.name": "\udcff"}) is False


def test_len_counts_bytes() -> None:
    assert _eval("len(proc.name) = 2", {"proc.name": "é"}) is True
    assert _eval("len(proc.name) = 0", {"proc.name": ""}) is True
    assert _eval("len(evt.buffer) = 3", {"evt.buffer": b"a\x00b"}) is True


def test_substring_of_escaped_bytes_agrees_with_the_core_bytes() -> None:
    # A constant that is one byte of a UTF-8 character: strstr finds it in the bytes.
    info = reference.operand_info(parse_condition("proc.name exists").lhs)[1]
    rhs = values.prepare_rhs(info, "contains", "\udcc3")
    assert values.compare("contains", info, "é", rhs) is True
    assert (
        values.compare("startswith", info, "é", values.prepare_rhs(info, "startswith", "\udcc3"))
        is True
    )


def test_numbers_at_type_bounds() -> None:
    assert _eval("fd.num = -9223372036854775808", {"fd.num": -(1 << 63)}) is True
    assert _eval("fd.num > 9223372036854775807", {"fd.num": (1 << 63) - 1}) is False
    assert _eval("user.uid = -1", {"user.uid": (1 << 32) - 1}) is True
    assert _eval("thread.vmsize <= 99999999999999999999999", {"thread.vmsize": (1 << 64) - 1})
    assert not _eval("thread.vmsize < 18446744073709551615", {"thread.vmsize": (1 << 64) - 1})


def test_double_fields_compare_as_c_doubles(tmp_path: Path) -> None:
    # EventTables keep doubles as text; every operator used to raise TypeError on them.
    recs = [{"evt.type": "open", "thread.cpu": v} for v in (2.0, float("nan"), float("inf"))]
    table = EventTable.from_records(recs, ["evt.type", "thread.cpu"])
    got = [
        [_eval(c, table.event(i)) for i in range(table.n)]
        for c in ("thread.cpu > 1.5", "thread.cpu != 2", "thread.cpu in (2, 3)")
    ]
    assert got == [[True, False, True], [False, True, True], [True, False, False]]


def test_ipv6_event_against_an_ipv4_order_is_no_match() -> None:
    assert _eval("fd.sip > 10.0.0.1", {"fd.sip": "::1"}) is False
    with pytest.raises(RuleoptError, match="IPv6"):
        _eval("fd.sip > ::1", {"fd.sip": "10.0.0.1"})


def test_the_heap_is_canonical_so_npz_reads_back(tmp_path: Path) -> None:
    recs = [
        {"evt.type": "open", "proc.name": "é"},
        {"evt.type": "open", "proc.name": "\udcc3\udca9"},
    ]
    table = EventTable.from_records(recs, ["evt.type", "proc.name"])
    assert table.event(0)["proc.name"] == table.event(1)["proc.name"] == "é"
    path = tmp_path / "t.npz"
    table.save(path)
    again = EventTable.load(path)
    assert list(again.strings) == list(table.strings)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=8),
    st.sampled_from(["=", "<", "contains", "startswith", "endswith", "glob", "regex", "icontains"]),
    st.binary(max_size=3),
)
def test_str_operators_equal_their_byte_definitions(value: bytes, op: str, const: bytes) -> None:
    info = reference.operand_info(parse_condition("proc.name exists").lhs)[1]
    c = from_bytes(const)
    try:
        rhs = values.prepare_rhs(info, op, c)
    except RuleoptError:
        assert op == "regex"  # not UTF-8: RE2 refuses the pattern
        return
    got = values.compare(op, info, from_bytes(value), rhs)
    want = {
        "=": value == const,
        "<": value < const,
        "contains": const in value,
        "startswith": value.startswith(const),
        "endswith": value.endswith(const),
        "icontains": const.lower() in value.lower(),
    }.get(op, got)
    assert got == want


# ------------------------------------------------- compile-time refusals, located


@pytest.mark.parametrize(
    "cond, word",
    [
        ("len(proc.pid) = 1", "len"),
        ("len(len(proc.name)) = 1", "len"),
        ("tolower(len(proc.name)) = 1", "tolower"),
        ("b64(user.uid) = 1", "b64"),
        ("toupper(fd.sip) = 1", "toupper"),
        ("len(fd.sip) = 1", "len"),
        ("basename(evt.rawarg.res) = x", "basename"),
        ('fd.name regex "a{1001}"', "a{1001}"),
        (r'fd.name regex "(a)\\1"', "(a)"),
        ("fd.sip < ::1", "<"),
        ("proc.name = val(proc.pid)", "proc.name"),
        ("len(proc.name) = val(proc.name)", "len"),
    ],
)
def test_refused_at_check_with_a_location(tmp_path: Path, cond: str, word: str) -> None:
    path = _rules_file(tmp_path, f"evt.type = open and {cond}")
    with pytest.raises(RuleoptError) as exc:
        load_rules([path])
    err = exc.value
    assert err.file == str(path) and err.line == 3 and err.column is not None
    line = path.read_text().splitlines()[2]
    assert line[err.column - 1 :].startswith(word.split("(")[0][:1]) or word in line


def test_an_address_field_holding_no_address_is_no_match() -> None:
    assert _eval("fd.sip = 10.0.0.1", {"fd.sip": "not-an-ip"}) is False
    assert _eval("fd.snet = 10.0.0.0/8", {"fd.snet": ""}) is False


def test_re2_semantics() -> None:
    # RE2 reads a repetition count it cannot parse as literal text (no OverflowError).
    assert _eval('fd.name regex "a{99999999999}"', {"fd.name": "a{99999999999}"}) is True
    assert _eval('fd.name regex "a"', {"fd.name": "ab"}) is False  # full match
    assert _eval('fd.name regex "a.*"', {"fd.name": "ab"}) is True


def test_verify_calls_what_libsinsp_2022_lacks_unsupported(tmp_path: Path) -> None:
    for cond, what in [
        ('fd.name regex "a.*"', "regex"),
        ("tolower(proc.name) = a", "tolower"),
        ('fd.name iglob "A*"', "iglob"),
    ]:
        rs = load_rules([_rules_file(tmp_path, f"evt.type = open and {cond}")])
        reason = unsupported_reason(rs.enabled_rules()[0])
        assert reason and what in reason, cond


# ------------------------------------------------------------------ the CLI


def test_compare_on_undecodable_values_has_no_traceback(tmp_path: Path, capsys) -> None:
    rules = _rules_file(tmp_path, 'evt.type = open and b64(proc.name) glob "a*"')
    events = tmp_path / "e.jsonl"
    events.write_text(
        json.dumps({"evt.type": "open", "proc.name": "qw=="})
        + "\n"
        + json.dumps({"evt.type": "open", "proc.name": "\udcff", "fd.name": "\udcc3\udca9"})
        + "\n"
    )
    code = main(["compare", str(rules), str(events), "--repeat", "1", "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["equivalent"] is True


def test_both_output_paths_render_surrogate_text_identically(tmp_path: Path) -> None:
    rules = load_rules([_rules_file(tmp_path, "evt.type = open")]).enabled_rules()
    metas = rule_metas(rules)
    event = {"proc.name": "\udcff", "fd.name": "a\udcc3"}
    lines = {
        out(metas).alert(rules[0].id, 1, 0, event.get).line for out in (LuaOutput, CachedOutput)
    }
    assert len(lines) == 1
    assert "\udcff a\udcc3" in lines.pop()


def test_verify_reports_regex_and_transformers_unsupported(tmp_path: Path, capsys) -> None:
    from conftest import TRACES

    path = tmp_path / "rules.yaml"
    path.write_text(
        textwrap.dedent("""\
        - rule: re
          desc: d
          condition: evt.type = open and fd.name regex "a{99999999999}"
          output: o
          priority: WARNING
        - rule: tr
          desc: d
          condition: evt.type = open and len(fd.name) > 3
          output: o
          priority: WARNING
        - rule: plain
          desc: d
          condition: evt.type in (open, openat) and fd.name glob "/etc/*"
          output: o
          priority: WARNING
        """)
    )
    code = main(["verify", str(path), "--trace", str(TRACES / "cat_write.scap"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    status = {r["rule"]: (r["status"], r["reason"] or "") for r in doc["rules"]}
    assert status["re"][0] == "unsupported" and "regex" in status["re"][1]
    assert status["tr"][0] == "unsupported" and "len" in status["tr"][1]
    assert status["plain"][0] == "same"
    assert code == 0
