"""``evt.arg.NAME`` and ``evt.rawarg.NAME``: bound to libscap's event table as libsinsp 2022
binds them, and typed by the name's first parameter.

A CI fuzz run found ``evt.rawarg.res startswith 0`` crashing the reference evaluator: the
registry left evt.rawarg untyped ("per event"), so nothing refused a string operator on a
number, and a raw path (``evt.rawarg.name``) was stored as a number. libsinsp types the
field once, at compile time, from the name; so does the registry now.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TRACES

from ruleopt import fields
from ruleopt.cli import main
from ruleopt.engine.verify import verify_capture
from ruleopt.errors import RuleoptError
from ruleopt.events import scapfile
from ruleopt.output_tokens import field_tokens
from ruleopt.rules.loader import load_rules
from ruleopt.rules.sinsp_params import SINSP_2022_PARAM_TYPES

HEADER = Path("/usr/include/falcosecurity-libs/driver/ppm_events_public.h")


def test_the_param_table_is_libscaps() -> None:
    """Each name's type is that of its first parameter in event-code order, as
    find_longest_matching_evt_param picks it (names with a space cannot be written)."""
    names = {int(v): n for n, v in re.findall(r"\bPT_([A-Z0-9_]+) = (\d+)", HEADER.read_text())}
    first: dict[str, str] = {}
    for event in scapfile.event_table():
        for name, ptype in event.params:
            if " " not in name:
                first.setdefault(name, names[ptype])
    assert first == SINSP_2022_PARAM_TYPES


@pytest.mark.parametrize(
    ("text", "type_", "raw"),
    [
        ("evt.rawarg.res", "int", "ERRNO"),
        ("evt.rawarg.fd", "int", "FD"),
        ("evt.rawarg.flags", "uint", "FLAGS32"),
        ("evt.rawarg.mode", "uint", "UINT32"),
        ("evt.rawarg.name", "str", "FSPATH"),
        ("evt.rawarg.comm", "str", "CHARBUF"),
        ("evt.rawarg.pid", "dynamic", "PID"),  # libsinsp cannot parse a PID constant
    ],
)
def test_rawarg_takes_its_names_type(text: str, type_: str, raw: str) -> None:
    rf = fields.resolve(text)
    assert (rf.key, rf.info.type, rf.info.raw_type) == (text, type_, raw)
    assert fields.resolve("evt.arg." + text.split(".")[-1]).info.raw_type == ""


def _rules(tmp_path: Path, cond: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(
        "- rule: r\n  desc: d\n"
        f'  condition: "evt.type = open and {cond}"\n'
        "  output: o\n  priority: WARNING\n"
    )
    return path


@pytest.mark.parametrize(
    ("cond", "says"),
    [
        # What libsinsp 2022 says of each (sysdig -r cat_write.scap, the harness).
        ("evt.rawarg.res startswith 0", "'startswith' is not supported"),  # throws
        ("evt.rawarg.res contains 0", "'contains' is not supported"),
        ("evt.rawarg.flags glob 0", "'glob' is not supported"),
        ("evt.rawarg.res = x", "not a valid number"),
        ("evt.rawarg.nosuch = 1", "no event has a parameter 'nosuch'"),
        ("evt.arg.nosuch = 1", "no event has a parameter 'nosuch'"),
        ("evt.arg.resx = 1", "no event has a parameter 'resx'"),
        ("evt.rawarg[0] = 1", "takes an argument name"),  # "must be expressed explicitly"
        ("evt.rawarg[name] = x", "takes an argument name"),
        (
            "evt.rawarg.pid = 1",
            "cannot compare 'evt.rawarg.pid' (evt.rawarg of type PID)",
        ),  # wrong param type
        ("evt.rawarg.args = x", "type BYTEBUF"),
        ("evt.rawarg.addr = x", "type SOCKADDR"),  # parses, never matches
        ("evt.rawarg.flags in (1, 4097)", "cannot take operator 'in'"),  # libsinsp: SIGSEGV
        ("evt.rawarg.name in (/etc/ld.so.cache)", "cannot take operator 'in'"),  # SIGSEGV
        ("evt.rawarg.name pmatch (/etc)", "cannot take operator 'pmatch'"),
        ("evt.rawarg.comm in (cat, x)", "cannot take operator 'in'"),  # in (cat) matches, this not
    ],
)
def test_what_libsinsp_cannot_run_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cond: str, says: str
) -> None:
    path = _rules(tmp_path, cond)
    with pytest.raises(RuleoptError) as exc:
        load_rules([path])
    assert says in exc.value.message
    assert main(["check", str(path)]) != 0
    err = capsys.readouterr().err
    # Located inside the comparison: at the field, its operator or its value.
    line = f'  condition: "evt.type = open and {cond}"'
    m = re.search(rf"{re.escape(str(path))}:3:(\d+):", err)
    assert m is not None, err
    assert line.index(cond) < int(m.group(1)) <= len(line)
    assert says in err and "Traceback" not in err


# Each matches something on one of the captures below; libsinsp is the judge.
RAW_CONDITIONS = (
    "evt.rawarg.flags = 4097",
    "evt.rawarg.flags > 4096",
    "evt.rawarg.flags != 4097",
    "evt.rawarg.fd = 3",
    "evt.rawarg.fd >= 3",
    "evt.rawarg.res < 0",
    "evt.rawarg.res = -2",
    "evt.rawarg.res exists",
    "evt.rawarg.mode = 0",
    "evt.rawarg.name = /etc/ld.so.cache",
    "evt.rawarg.name exists",
    "evt.rawarg.name startswith /etc",
    "evt.rawarg.name contains ld",
    "evt.rawarg.name glob '/etc/*'",
    "evt.rawarg.comm = cat",
)


@pytest.mark.parametrize("trace", ["cat_write.scap", "run_as_user_0_container.scap"])
def test_raw_arguments_match_as_libsinsp_matches_them(tmp_path: Path, trace: str) -> None:
    path = tmp_path / "raw.yaml"
    path.write_text(
        "".join(
            f"- rule: r{i}\n  desc: d\n"
            f'  condition: "evt.type in (open, openat, access, execve, close, read) and {c}"\n'
            "  output: o\n  priority: WARNING\n"
            for i, c in enumerate(RAW_CONDITIONS)
        )
    )
    verdicts = verify_capture(load_rules([path]), TRACES / trace)
    assert [(v.rule, v.status) for v in verdicts if v.status != "same"] == []
    assert sum(1 for v in verdicts if v.ours) >= len(RAW_CONDITIONS) - 2


def test_outputs_read_raw_arguments_by_name() -> None:
    keys = [t.key for t in field_tokens("%evt.rawarg.res %evt.arg.fd %evt.arg[0] %evt.rawarg.pid")]
    assert keys == ["evt.rawarg.res", "evt.arg.fd", "evt.arg[0]", "evt.rawarg.pid"]
    with pytest.raises(RuleoptError, match="unknown event argument"):
        field_tokens("%evt.rawarg.nosuch")


@pytest.mark.parametrize("name", ["flags", "fd", "tuple", "fds", "euid"])
def test_raw_arguments_libsinsp_cannot_print_are_refused_in_outputs(name: str) -> None:
    # sysdig -r curl_google.scap -p %evt.rawarg.flags: "wrong event type 30", and the
    # harness's alert path stopped with the same as an internal error.
    with pytest.raises(RuleoptError, match=f"cannot print 'evt.rawarg.{name}'"):
        field_tokens(f"%proc.name %evt.rawarg.{name}")


def test_printable_raw_arguments_run_on_libsinsp(tmp_path: Path) -> None:
    path = tmp_path / "out.yaml"
    path.write_text(
        "- rule: o\n  desc: d\n"
        '  condition: "evt.type in (open, connect, read) and evt.dir = <"\n'
        '  output: "%proc.name %evt.rawarg.res %evt.rawarg.name %evt.rawarg.mode"\n'
        "  priority: WARNING\n"
    )
    argv = ["compare", str(path), str(TRACES / "curl_google.scap"), "--repeat", "1"]
    assert main([*argv, "--strategies", "flat", "--engine", "libsinsp"]) == 0
