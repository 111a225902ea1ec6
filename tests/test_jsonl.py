"""JSON Lines events: values, canonical names, and located errors."""

from __future__ import annotations

import json

import pytest

from ruleopt.errors import RuleoptError
from ruleopt.events.jsonl import read_jsonl

KEYS = [
    "evt.num",
    "evt.type",
    "proc.name",
    "proc.aname",
    "proc.aname[2]",
    "fd.num",
    "evt.is_open_read",
    "evt.arg.flags",
    "fd.port",
]


def write(tmp_path, lines: list[str], name: str = "events.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_reads_values_with_canonical_names(tmp_path):
    path = write(
        tmp_path,
        [
            json.dumps(
                {
                    "evt.type": "open",
                    "proc.name": "cat",
                    "proc.aname": ["bash", "sshd"],
                    "proc.aname[2]": "sshd",
                    "fd.num": 3,
                    "evt.is_open_read": True,
                    "evt.arg[flags]": "O_RDONLY",
                    "fd.port": [80, 443],
                }
            ),
            "",  # blank lines are not events
            json.dumps(
                {
                    "evt.num": 100,
                    "evt.type": "execve",
                    "proc.name": None,
                    "fd.num": 4.0,
                    "fd.name": "/etc/passwd",
                }
            ),
        ],
    )
    t = read_jsonl(path, KEYS)
    assert t.n == 2
    assert list(t.columns) == KEYS  # exactly the requested columns, in canonical order
    assert t.event(0) == {
        "evt.num": 1,
        "evt.type": "open",
        "proc.name": "cat",
        "proc.aname": ["bash", "sshd"],
        "proc.aname[2]": "sshd",
        "fd.num": 3,
        "evt.is_open_read": True,
        "evt.arg.flags": "O_RDONLY",
        "fd.port": [80, 443],
    }
    # evt.num given wins over the line number; null is absent; unneeded fields are dropped
    assert t.event(1) == {"evt.num": 100, "evt.type": "execve", "fd.num": 4}
    assert t.meta["format"] == "jsonl"


def test_same_columns_as_a_table_from_records(tmp_path):
    from ruleopt.events.table import EventTable

    path = write(tmp_path, [json.dumps({"evt.type": "open", "proc.name": "cat"})])
    a = read_jsonl(path, ["proc.name", "proc.aname"])
    b = EventTable.from_records(
        [{"evt.type": "open", "proc.name": "cat"}], ["proc.name", "proc.aname"]
    )
    assert [(c.key, c.type, c.kind, c.multi) for c in a.columns.values()] == [
        (c.key, c.type, c.kind, c.multi) for c in b.columns.values()
    ]


def error_for(tmp_path, lines: list[str]) -> RuleoptError:
    path = write(tmp_path, lines)
    with pytest.raises(RuleoptError) as err:
        read_jsonl(path, KEYS)
    assert err.value.file == str(path)
    return err.value


def test_line_that_is_not_json(tmp_path):
    err = error_for(tmp_path, ['{"evt.type": "open"}', '{"evt.type": "open",'])
    assert err.line == 2 and "not valid JSON" in err.message
    assert f"{err.file}:2" in str(err)


def test_line_that_is_not_an_object(tmp_path):
    err = error_for(tmp_path, ['{"evt.type": "open"}', "", '["open", "cat"]'])
    assert err.line == 3 and "JSON object" in err.message and "list" in err.message


def test_unknown_field_is_named_with_a_hint(tmp_path):
    err = error_for(tmp_path, ['{"evt.type": "open", "proc.nam": "cat"}'])
    assert err.line == 1 and "proc.nam" in err.message
    assert err.hint and "proc.name" in err.hint


def test_string_for_a_numeric_field(tmp_path):
    err = error_for(tmp_path, ['{"evt.type": "open"}', '{"evt.type": "open", "fd.num": "3"}'])
    assert err.line == 2 and "fd.num" in err.message and "integer" in err.message


def test_number_for_a_string_field_and_scalar_for_a_list(tmp_path):
    err = error_for(tmp_path, ['{"proc.name": 5}'])
    assert err.line == 1 and "proc.name" in err.message
    err = error_for(tmp_path, ['{"proc.aname": "bash"}'])
    assert err.line == 1 and "multi-valued" in err.message


def test_bad_value_for_an_unneeded_field_is_still_an_error(tmp_path):
    err = error_for(tmp_path, ['{"evt.type": "open", "proc.pid": "12"}'])
    assert err.line == 1 and "proc.pid" in err.message


def test_same_field_twice_under_two_spellings(tmp_path):
    err = error_for(tmp_path, ['{"evt.arg.flags": "a", "evt.arg[flags]": "b"}'])
    assert err.line == 1 and "twice" in err.message


def test_empty_file(tmp_path):
    err = error_for(tmp_path, [])
    assert "empty" in err.message
    err = error_for(tmp_path, ["", "   "])
    assert "empty" in err.message


def test_binary_file_and_missing_file(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b'{"evt.type": "open"}\n\xff\xfe\x00')
    with pytest.raises(RuleoptError) as err:
        read_jsonl(path, KEYS)
    assert err.value.file == str(path) and err.value.line == 2
    with pytest.raises(RuleoptError, match="no such file"):
        read_jsonl(tmp_path / "nope.jsonl", KEYS)


@pytest.mark.parametrize(
    "line, phrase",
    [
        ('{"evt.type": "open", "proc.name": "\\ud800"}', "not valid Unicode"),
        ('{"evt.type": "open", "fd.sip": "notanip"}', "takes an IP address"),
        ('{"evt.type": "open", "fd.sport": 70000}', "out of range [0, 65535]"),
        ('{"evt.type": "open", "evt.rawtime": -5}', "out of range [0,"),
        ('{"evt.type": "open", "fd.num": 9223372036854775808}', "out of range"),
    ],
)
def test_values_outside_the_field_type(tmp_path, line, phrase):
    path = write(tmp_path, ['{"evt.type": "close"}', line])
    with pytest.raises(RuleoptError) as err:
        read_jsonl(path, KEYS + ["fd.sip", "fd.sport", "evt.rawtime"])
    assert err.value.file == str(path) and err.value.line == 2
    assert phrase in err.value.message
