"""Hostile JSON Lines: each case is one error located at file and line (the event
number), or a correct load; never a traceback, a MemoryError or a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from ruleopt.cli import main
from ruleopt.errors import RuleoptError
from ruleopt.events import jsonl
from ruleopt.events.jsonl import read_jsonl
from ruleopt.events.table import EventTable

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rulesets" / "seed_rules.yaml"
KEYS = ["evt.type", "proc.name", "proc.aname", "evt.buffer", "fd.num"]
GOOD = '{"evt.type": "open", "proc.name": "cat"}\n'


def _error(tmp_path: Path, third_line: str | bytes, keys=KEYS) -> RuleoptError:
    """Write two good lines then ``third_line``; the error must name line 3."""
    path = tmp_path / "events.jsonl"
    body = third_line if isinstance(third_line, bytes) else third_line.encode()
    path.write_bytes((GOOD * 2).encode() + body + b"\n")
    with pytest.raises(RuleoptError) as info:
        read_jsonl(path, keys)
    err = info.value
    assert err.file == str(path) and err.line == 3, str(err)
    return err


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"evt.type": "open", "fd.num": ' + "9" * 5000 + "}", "out of range"),
        ('{"evt.type": "open", "fd.num": -' + "9" * 5000 + "}", "out of range"),
        ('{"evt.type": "open", "fd.num": ' + "9" * 30 + "}", "out of range"),
        ('{"evt.type": "open", "fd.num": NaN}', "NaN is not a JSON number"),
        ('{"evt.type": "open", "fd.num": Infinity}', "Infinity is not a JSON number"),
        ('{"evt.type": "open", "fd.num": -Infinity}', "-Infinity is not a JSON number"),
        ('{"evt.type": "open", "fd.num": 1e400}', "out of range for a 64-bit float"),
        (
            '{"evt.type": "open", "proc.aname": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "nested 100001 levels deep",
        ),
        ('{"evt.type": "open", "x": ' + "{" * 50_000, "nested"),
        ('{"evt.type": "open", "proc.name": "\\ud800"}', "not valid Unicode"),
        ('{"evt.type": "open", "evt.buffer": "\\udbff"}', "not valid Unicode"),
        ('{"evt.type": "open", "proc.aname": ["ok", "\\udc00"]}', "not valid Unicode"),
        ('{"evt.type": "\\ud800"}', "not valid Unicode"),
        ('{"\\ud800": 1}', "unknown field"),
        (b'{"evt.type": "op\xffen"}', "not UTF-8"),
        (b'{"evt.type": "open", "proc.name": "\xed\xa0\x80"}', "not UTF-8"),  # CESU surrogate
    ],
    ids=[
        "digits",
        "neg-digits",
        "30-digits",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "deep-list",
        "deep-open",
        "surrogate",
        "bytebuf-surrogate",
        "multi-surrogate",
        "evt.type",
        "field-name",
        "bad-byte",
        "encoded-surrogate",
    ],
)
def test_hostile_lines_are_located(tmp_path, line, message):
    assert message in _error(tmp_path, line).message


def test_escaped_raw_bytes_are_kept_as_the_bytes_they_stand_for(tmp_path):
    # \udc80-\udcff is how libsinsp's non-UTF-8 bytes reach us from captures
    # (surrogateescape): the same text from JSON Lines is the same value, end to end.
    path = tmp_path / "raw.jsonl"
    path.write_text('{"evt.type": "open", "proc.name": "a\\udcffb", "evt.buffer": "\\udc80"}\n')
    table = read_jsonl(path, KEYS)
    event = table.event(0)
    assert event["proc.name"].encode("utf-8", "surrogateescape") == b"a\xffb"
    assert event["evt.buffer"] == b"\x80"
    table.save(tmp_path / "raw.npz")
    again = EventTable.load(tmp_path / "raw.npz").event(0)
    assert again["proc.name"] == event["proc.name"] and again["evt.buffer"] == b"\x80"


def test_a_line_longer_than_the_bound_is_refused_by_number(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE", 100)
    err = _error(tmp_path, '{"evt.type": "open", "proc.name": "' + "a" * 200 + '"}')
    assert "longer than 100 bytes" in err.message
    # A file without any newline (what /dev/zero would be) is one endless line 1.
    path = tmp_path / "nolines.jsonl"
    path.write_bytes(b"\0" * 1000)
    with pytest.raises(RuleoptError, match="longer than 100 bytes") as info:
        read_jsonl(path, KEYS)
    assert info.value.line == 1


def test_dev_zero_is_refused_before_reading(tmp_path):
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    with pytest.raises(RuleoptError, match="is a device"):
        read_jsonl(zero, KEYS)


def test_the_cli_reports_the_line(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    path.write_text(GOOD + '{"evt.type": "open", "fd.num": ' + "1" * 5000 + "}\n")
    out = tmp_path / "e.npz"
    assert main(["import", str(path), "-r", str(RULES), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "Traceback" not in err and not out.exists()


def test_printing_a_value_with_raw_bytes_does_not_crash(tmp_path, capsys):
    # An unknown field's name with a lone surrogate is echoed in the error message.
    path = tmp_path / "e.jsonl"
    path.write_text('{"evt.type": "open", "\\udcff\\ud800.x": 1}\n')
    assert main(["import", str(path), "-r", str(RULES), "-o", str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err
    assert "unknown field" in err and "\\udcff\\ud800.x" in err


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Text near JSON: brackets, quotes, escapes, digits, the literals, and anything else.
_PIECES = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        '"',
        ":",
        ",",
        "\\",
        "\\u",
        "d800",
        "dcff",
        "1",
        "9" * 30,
        "-",
        "e400",
        ".5",
        "NaN",
        "Infinity",
        "true",
        "null",
        '"evt.type"',
        '"proc.name"',
        '"fd.num"',
        '"open"',
        " ",
    ]
)
_LINES = st.lists(_PIECES | st.text(max_size=3), max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(_LINES, min_size=1, max_size=3))
def test_any_text_loads_or_is_one_located_error(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("j") / "events.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    try:
        table = read_jsonl(path, KEYS)
    except RuleoptError as err:
        assert err.file == str(path)
        return
    for i in range(table.n):
        table.event(i)
