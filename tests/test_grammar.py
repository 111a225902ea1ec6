"""The condition grammar and parser: round trip with the printer, every real rule, errors."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruleopt.errors import RuleoptError
from ruleopt.rules.ast import (
    ALL_OPS,
    LIST_OPS,
    SCALAR_OPS,
    TRANSFORMERS,
    UNARY_OPS,
    And,
    BoolConst,
    Compare,
    Field,
    FieldValue,
    ListRef,
    MacroRef,
    Not,
    Or,
    Transform,
    Value,
    ValueList,
    print_expr,
)
from ruleopt.rules.parser import ConditionSyntaxError, parse_condition, unescape

RULESETS = Path(__file__).resolve().parents[1].parent / "shared" / "rulesets"

F = Field


def M(name: str) -> MacroRef:
    return MacroRef(name)


# ------------------------------------------------------------- generated ASTs

# Built from alphabets rather than st.from_regex, which is many times slower to draw.
_KEYWORDS = {"and", "or", "not", "__true__", "__false__"}
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCXYZ_"
_ident = st.builds(
    str.__add__, st.sampled_from(_LETTERS), st.text(_LETTERS + "0123456789", max_size=7)
).filter(lambda s: s not in _KEYWORDS)
_segment = st.builds(str.__add__, st.sampled_from("abcdekpz"), st.text("abcz019_", max_size=5))
_field_name = st.lists(_segment, min_size=2, max_size=3).map(".".join)
# A field argument as the printer writes it: bare, so no blanks, brackets or quotes.
_field_arg = st.text("aZ09_-./:*()%,=<>!\\ü日", min_size=1, max_size=6)
_field = st.builds(Field, _field_name, st.none() | _field_arg)

_operand = st.recursive(
    _field,
    lambda inner: st.builds(Transform, st.sampled_from(TRANSFORMERS), inner),
    max_leaves=2,
)

# Values must survive quoting: spaces, both quotes, backslashes (also a trailing one),
# parens, commas, "=", unicode, empty, keywords, and things that look like tokens.
_tricky = st.sampled_from(
    [
        "",
        " ",
        "a b",
        '"',
        "'",
        "\\",
        "a\\",
        "\\n",
        "C:\\Windows\\",
        "(",
        ")",
        ",",
        "=",
        "<",
        ">",
        "!",
        "!=",
        "<=",
        "and",
        "or",
        "not",
        "in",
        "exists",
        "contains",
        "val(x.y)",
        "tolower",
        "tolower(",
        "/etc/",
        "*.log",
        "1.2.3.4/8",
        "%",
        ":",
        "-",
        "80",
        "-1",
        "python -c 'import x'",
        'say "hi"',
        "ünïcødé",
        "日本",
        "tab\there",
        "new\nline",
        "bash",
        "__true__",
        "[x]",
        "/var/run/docker.sock\n",
        "x\r\n",
        "a\t",
    ]
)
_value_text = _tricky | st.text(max_size=12)
_value = st.builds(Value, _value_text)
_list_item = _value | st.builds(ListRef, _ident)

_field_value = st.builds(FieldValue, _operand)
_compare = st.one_of(
    st.builds(Compare, _operand, st.sampled_from(UNARY_OPS), st.none()),
    st.builds(Compare, _operand, st.sampled_from(SCALAR_OPS), _value | _field_value),
    st.builds(
        Compare,
        _operand,
        st.sampled_from(LIST_OPS),
        st.builds(ValueList, st.lists(_list_item, max_size=4).map(tuple)) | _field_value,
    ),
)
_leaf = st.one_of(
    _compare,
    _compare,
    st.builds(MacroRef, _ident),
    st.builds(BoolConst, st.booleans()),
)


def _extend(inner: st.SearchStrategy) -> st.SearchStrategy:
    many = st.lists(inner, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(Not, inner), st.builds(And, many), st.builds(Or, many))


_expr = st.recursive(_leaf, _extend, max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expr)
def test_print_then_parse_round_trips(expr) -> None:
    text = print_expr(expr)
    assert parse_condition(text) == expr, text


# --------------------------------------------------------------- the real rules


# The C loader when PyYAML has it: the pure-Python one takes most of this file's time.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _conditions(path: Path) -> list[tuple[str, str]]:
    out = []
    for item in yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or []:
        if isinstance(item, dict) and isinstance(item.get("condition"), str):
            name = item.get("rule") or item.get("macro") or "?"
            out.append((name, item["condition"]))
    return out


_RULE_FILES = sorted(RULESETS.glob("*.yaml"))


def test_rulesets_are_there() -> None:
    # Guards the parametrised test below against silently testing nothing.
    assert len(_RULE_FILES) >= 5
    assert sum(len(_conditions(p)) for p in _RULE_FILES) > 1000


@pytest.mark.parametrize("path", _RULE_FILES, ids=lambda p: p.name)
def test_every_real_condition_parses_and_round_trips(path: Path) -> None:
    conds = _conditions(path)
    assert conds
    start = time.perf_counter()
    for name, cond in conds:
        expr = parse_condition(cond)
        assert parse_condition(print_expr(expr)) == expr, name
    # ~2 parses per condition; a few hundred conditions must take well under a second.
    assert time.perf_counter() - start < 0.005 * len(conds) + 1.0


def test_real_rule_pieces() -> None:
    # `proc.args contains "\ "` (a libsinsp compatibility quirk: "\ " reads as a
    # backslash) and a bare backslash at the end of a parenthesised check.
    expr = parse_condition('(proc.args contains "\\ " or proc.args endswith \\)')
    assert expr == Or(
        (
            Compare(F("proc.args"), "contains", Value("\\")),
            Compare(F("proc.args"), "endswith", Value("\\")),
        )
    )
    expr = parse_condition("evt.type=dup and evt.dir=> and ka.user.name=system:anonymous")
    assert expr == And(
        (
            Compare(F("evt.type"), "=", Value("dup")),
            Compare(F("evt.dir"), "=", Value(">")),
            Compare(F("ka.user.name"), "=", Value("system:anonymous")),
        )
    )


# ------------------------------------------------------------- specific parses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a and b or c", Or((And((M("a"), M("b"))), M("c")))),
        ("a or b and c", Or((M("a"), And((M("b"), M("c")))))),
        ("a or b and c or d", Or((M("a"), And((M("b"), M("c"))), M("d")))),
        ("a and b and c", And((M("a"), M("b"), M("c")))),
        ("a and (b and c)", And((M("a"), And((M("b"), M("c")))))),
        ("(a and b) and c", And((And((M("a"), M("b"))), M("c")))),
        ("(a)", M("a")),
        ("((a))", M("a")),
        ("not a and b", And((Not(M("a")), M("b")))),
        ("not (a and b)", Not(And((M("a"), M("b"))))),
        ("not(a)", Not(M("a"))),
        # libsinsp 2022 folds a run of `not`s into one; parentheses make it a double one.
        ("not not a", Not(M("a"))),
        ("not not not a", Not(M("a"))),
        ("a and not not (b or c)", And((M("a"), Not(Or((M("b"), M("c"))))))),
        ("not (not a)", Not(Not(M("a")))),
        ("not(not(a))", Not(Not(M("a")))),
        ("not (not not a)", Not(Not(M("a")))),
        ("a and(b)or(c)", Or((And((M("a"), M("b"))), M("c")))),
        ("nothing or android", Or((M("nothing"), M("android")))),
        ("__true__ and not __false__", And((BoolConst(True), Not(BoolConst(False))))),
        ("proc.aname[2] = sshd", Compare(F("proc.aname", "2"), "=", Value("sshd"))),
        ("evt.arg[0]=1", Compare(F("evt.arg", "0"), "=", Value("1"))),
        ("proc.env[HOME] = /root", Compare(F("proc.env", "HOME"), "=", Value("/root"))),
        ('evt.arg["a b"] = 1', Compare(F("evt.arg", "a b"), "=", Value("1"))),
        (
            "evt.arg.flags contains O_TRUNC",
            Compare(F("evt.arg.flags"), "contains", Value("O_TRUNC")),
        ),
        (
            "ka.req.pod.containers.image startswith docker.io/",
            Compare(F("ka.req.pod.containers.image"), "startswith", Value("docker.io/")),
        ),
        ("fd.name exists", Compare(F("fd.name"), "exists")),
        ("not fd.name exists", Not(Compare(F("fd.name"), "exists"))),
        ("evt.num<=3", Compare(F("evt.num"), "<=", Value("3"))),
        ("evt.dir = <", Compare(F("evt.dir"), "=", Value("<"))),
        ("evt.dir=>", Compare(F("evt.dir"), "=", Value(">"))),
        ("fd.net = 1.2.3.4/8", Compare(F("fd.net"), "=", Value("1.2.3.4/8"))),
        ("fd.name glob *.log", Compare(F("fd.name"), "glob", Value("*.log"))),
        ("proc.exe = C:\\path\\x.exe", Compare(F("proc.exe"), "=", Value("C:\\path\\x.exe"))),
        ("proc.name = 'a \"b\"'", Compare(F("proc.name"), "=", Value('a "b"'))),
        (
            "proc.cmdline = \"python -c 'import x'\"",
            Compare(F("proc.cmdline"), "=", Value("python -c 'import x'")),
        ),
        ("proc.name = val(proc.pname)", Compare(F("proc.name"), "=", FieldValue(F("proc.pname")))),
        (
            "proc.name = val(proc.aname[1])",
            Compare(F("proc.name"), "=", FieldValue(F("proc.aname", "1"))),
        ),
        (
            "tolower(proc.name) = toupper( b64(fd.name) )",
            Compare(
                Transform("tolower", F("proc.name")),
                "=",
                FieldValue(Transform("toupper", Transform("b64", F("fd.name")))),
            ),
        ),
        (
            "basename(fd.name) in (a)",
            Compare(Transform("basename", F("fd.name")), "in", ValueList((ListRef("a"),))),
        ),
        (
            "proc.name in (bash, \"sh\", 'zsh', /bin/sh, shell_binaries, k8s.gcr.io, -)",
            Compare(
                F("proc.name"),
                "in",
                ValueList(
                    (
                        ListRef("bash"),
                        Value("sh"),
                        Value("zsh"),
                        Value("/bin/sh"),
                        ListRef("shell_binaries"),
                        Value("k8s.gcr.io"),
                        Value("-"),
                    )
                ),
            ),
        ),
        ("proc.name in ()", Compare(F("proc.name"), "in", ValueList(()))),
        (
            "proc.name in(a,b)",
            Compare(F("proc.name"), "in", ValueList((ListRef("a"), ListRef("b")))),
        ),
        (
            "proc.name in shell_binaries",
            Compare(F("proc.name"), "in", ValueList((ListRef("shell_binaries"),))),
        ),
        (
            "fd.name pmatch (/etc, /usr/bin)",
            Compare(F("fd.name"), "pmatch", ValueList((Value("/etc"), Value("/usr/bin")))),
        ),
        (
            "ka.req.x intersects (a)",
            Compare(F("ka.req.x"), "intersects", ValueList((ListRef("a"),))),
        ),
        (
            "tolower(proc.name) = tolower(proc.pname)",
            Compare(
                Transform("tolower", F("proc.name")),
                "=",
                FieldValue(Transform("tolower", F("proc.pname"))),
            ),
        ),
        (
            "a and\n  (proc.name = x or\n   b)",
            And((M("a"), Or((Compare(F("proc.name"), "=", Value("x")), M("b"))))),
        ),
    ],
)
def test_specific_parse(text: str, expected) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize("op", ALL_OPS)
def test_every_operator_of_the_ast_parses(op: str) -> None:
    rhs = {**dict.fromkeys(UNARY_OPS, ""), **dict.fromkeys(LIST_OPS, " (x)")}.get(op, " x")
    expr = parse_condition(f"proc.name {op}{rhs}")
    assert isinstance(expr, Compare) and expr.op == op


@pytest.mark.parametrize("func", TRANSFORMERS)
def test_every_transformer_of_the_ast_parses(func: str) -> None:
    assert parse_condition(f"{func}(fd.name) exists") == Compare(
        Transform(func, F("fd.name")), "exists"
    )


@pytest.mark.parametrize(
    ("quoted", "text"),
    [
        ('"plain"', "plain"),
        ('"a\\"b"', 'a"b'),
        ("'a\\'b'", "a'b"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"a\\\\b"', "a\\b"),
        ('"ends\\\\"', "ends\\"),
        ('"\\ "', "\\"),
        ('"\\/x"', "/x"),
        ('"\\t\\n\\r\\b\\f"', "\t\n\r\b\f"),
    ],
)
def test_unescape_like_libsinsp(quoted: str, text: str) -> None:
    assert unescape(quoted) == text
    assert parse_condition(f"fd.name = {quoted}") == Compare(F("fd.name"), "=", Value(text))


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message", "line", "column", "token"),
    [
        ("proc.name like x", "unknown operator 'like' at column 11", 1, 11, "like"),
        ("a and tolower(fd.name) ~= x", "unknown operator '~'", 1, 24, "~"),
        ("a and\n  proc.name foo x", "unknown operator 'foo' at line 2, column 13", 2, 13, "foo"),
        ("(a and b", "unexpected end of the condition at column 9: expected ')'", 1, 9, ""),
        (
            "a and (b or (c)",
            "unexpected end of the condition at column 16: expected ')'",
            1,
            16,
            "",
        ),
        ("a and b)", "unexpected token ')' at column 8", 1, 8, ")"),
        ("proc.name = x y", "unexpected token 'y' at column 15", 1, 15, "y"),
        ("proc.name = x,y", "unexpected token ',' at column 14", 1, 14, ","),
        ("a and", "unexpected end of the condition at column 6", 1, 6, ""),
        ("a and or b", "unexpected token 'or' at column 7", 1, 7, "or"),
        ("proc.name in (a,,b)", "unexpected token ',' at column 17", 1, 17, ","),
        ("proc.name = (a)", "expected a value", 1, 13, "("),
        (
            "proc.name",
            "expected an operator such as =, in, contains after field 'proc.name'",
            1,
            10,
            "",
        ),
        ("foo = bar", "'foo' is not a field name at column 1", 1, 1, "foo"),
        ('proc.name = "abc', "unclosed quote at column 13", 1, 13, '"'),
        (
            'proc.name = "a\\d"',
            "unsupported string escape sequence \\d at column 13",
            1,
            13,
            '"a\\d"',
        ),
        ("proc.name = 'a\\\"'", "invalid \\\" escape in a '-quoted string", 1, 13, "'a\\\"'"),
        ("Proc.name AND x", "unknown operator 'AND'", 1, 11, "AND"),
    ],
)
def test_syntax_errors_say_what_and_where(
    text: str, message: str, line: int, column: int, token: str
) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    err = info.value
    assert isinstance(err, RuleoptError)
    assert message in err.message
    assert (err.cond_line, err.cond_column) == (line, column)
    assert (err.line, err.column) == (line, column)
    assert err.token == token
    assert err.file is None


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        # Found by the loader fuzzer: one 200,000-letter word made the error's
        # "is a field before it?" regex search quadratic (minutes).
        ("a" * 200_000 + " x", "unexpected token 'x'", 200_002),
        ("proc." + "a" * 200_000 + " x", "unknown operator 'x'", 200_007),
        ("proc.name[" + "a" * 100_000 + "] x", "unknown operator 'x'", 100_013),
    ],
    ids=["word", "field", "field-argument"],
)
def test_errors_after_a_huge_word_are_located(text: str, message: str, column: int) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    assert message in info.value.message and info.value.cond_column == column


def test_a_huge_word_does_not_hang_the_error_path() -> None:
    # A hang bound, not a speed goal: the quadratic search took minutes on this input,
    # the linear scan well under a second; a child process is killed at the bound.
    import subprocess
    import sys

    code = (
        "from ruleopt.rules.parser import parse_condition, ConditionSyntaxError\n"
        "try:\n    parse_condition('a' * 400_000 + ' x')\n"
        "except ConditionSyntaxError as e:\n    print(e.cond_column)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["400002"]


@pytest.mark.parametrize(
    "text",
    ["a.b x", "a.b[1] x", "1a.b x", "a.1b x", "x[a.b[c] x", "a..b x", "_.x[] x", "a.b\n x"],
)
def test_operator_position_is_judged_as_the_grammar_means(text: str) -> None:
    # The scan that replaced the regex says "a field stands before this word" exactly
    # when the regex did (compared on random texts too while writing it).
    old = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\[[^\]]*\])?\s*$")
    from ruleopt.rules.parser import _field_before

    end = text.rindex(" x") + 1
    assert _field_before(text, end) is (old.search(text, 0, end) is not None)


def test_message_format_names_token_column_and_expectation() -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition("proc.name = x and fd.name foo y")
    assert info.value.message == (
        "unknown operator 'foo' at column 27 of the condition: "
        "expected an operator such as =, in, contains"
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty_condition(text: str) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    assert "empty condition" in info.value.message
    assert (info.value.cond_line, info.value.cond_column) == (1, 1)


def test_keywords_are_lowercase_only() -> None:
    # "AND" is a name, so after a field it is an unknown operator, and between two
    # macros it is a third macro that nothing joins.
    with pytest.raises(ConditionSyntaxError):
        parse_condition("a AND b")
    assert re.search("unknown operator 'Not'", _message("proc.name Not x"))


def _message(text: str) -> str:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    return info.value.message
