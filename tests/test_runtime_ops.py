"""Operators libsinsp 2022 compiles on fd.ip/fd.net/fd.port/fd.proto/fd.*ip.name but
throws on at run time (filterchecks.cpp: compare_ip, compare_net, compare_port,
compare_domain): ruleopt refuses them, located, instead of evaluating them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import TRACES

from ruleopt.cli import main
from ruleopt.engine.values import check_operator
from ruleopt.errors import RuleoptError
from ruleopt.events import sinsp
from ruleopt.fields import resolve

# curl_google.scap has IPv4 client sockets: every refused operator throws there.
CAPTURE = TRACES / "curl_google.scap"
VALUES = {"fd.port": "80", "fd.proto": "80", "fd.ip": "127.0.0.1", "fd.net": "127.0.0.0/8"}
NAME_FIELDS = ["fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name"]
OPS = [
    "exists",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "glob",
]


def _cond(field: str, op: str, value: str) -> str:
    if op == "exists":
        return f"{field} exists"
    if op == "in":
        return f"{field} in ({value})"
    return f"{field} {op} {value}"


def _accepted(field: str, op: str) -> bool:
    try:
        check_operator(op, resolve(field).info)
    except RuleoptError:
        return False
    return True


def test_accepted_operators_are_exactly_those_libsinsp_runs() -> None:
    cases = [(f, op, _cond(f, op, v)) for f, v in VALUES.items() for op in OPS]
    # On the name fields only refused operators go to libsinsp: with = and != it asks
    # its DNS manager, which may resolve names over the network.
    cases += [(f, op, _cond(f, op, "x")) for f in NAME_FIELDS for op in OPS if not _accepted(f, op)]
    doc = sinsp.run_harness(CAPTURE, [(i, f"r{i}", c) for i, (_, _, c) in enumerate(cases)])
    refused = 0
    for (field, op, cond), h in zip(cases, doc["rules"], strict=True):
        assert h["status"] == "ok", cond  # libsinsp compiles every one of them
        throws = h["runtime_errors"] > 0
        assert _accepted(field, op) == (not throws), cond
        if throws:
            refused += 1
            assert h["matched_evtnums"] == [], cond
    assert refused >= 30


def test_fd_port_exists_is_a_located_check_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        textwrap.dedent("""\
        - rule: Port present
          desc: d
          condition: evt.type = connect and fd.port exists
          output: o
          priority: WARNING
    """)
    )
    assert main(["check", str(rules)]) == 1
    err = capsys.readouterr().err
    assert f"{rules}:3:" in err
    assert "fd.port" in err and "unsupported port comparison operator" in err
    assert "hint:" in err and "Traceback" not in err


@pytest.mark.parametrize("field", ["fd.sport", "fd.sip", "fd.snet"])
def test_single_end_fields_keep_exists(field: str) -> None:
    # Their compare goes through flt_compare, where `exists` is true on any value.
    assert _accepted(field, "exists")
