"""``ruleopt check`` through ``ruleopt.cli.main``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from ruleopt.cli import main

RULESETS = Path(__file__).resolve().parents[1].parent / "shared" / "rulesets"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["check", "--json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_check_json_upstream_counts(capsys: pytest.CaptureFixture[str]) -> None:
    base = RULESETS / "falco_rules-main.yaml"
    incubating = RULESETS / "falco-incubating_rules-main.yaml"
    code, data = run_json(capsys, str(base), str(incubating))
    assert code == 0
    items = yaml.safe_load(base.read_text()) + yaml.safe_load(incubating.read_text())
    for kind, key in (("rule", "rules"), ("macro", "macros"), ("list", "lists")):
        assert data[key] == len({i[kind] for i in items if kind in i}), key
    assert data["errors"] == []
    # libsinsp 2022 has no event code for (f)init_module: that rule's set is empty and
    # Falco's index runs it on every event (tests/test_index.py).
    assert data["all_evttype_rules"] == ["Linux Kernel Module Injection Detected"]
    # Every enabled rule is indexed under at least one event type.
    indexed = {name for names in data["rules_per_evttype"].values() for name in names}
    assert len(indexed) == data["enabled_rules"]
    assert "Terminal shell in container" in data["rules_per_evttype"]["execve"]


def test_check_json_warnings_and_default_ruleset(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, str(RULESETS / "falco_rules-falco-0.26.2.yaml"))
    assert code == 0
    assert data["rules"] == 59
    assert "Disallowed SSH Connection" in data["all_evttype_rules"]
    assert {w["rule"] for w in data["warnings"]} == set(data["all_evttype_rules"])
    code, seed = run_json(capsys)  # no file: the bundled seed ruleset
    assert code == 0
    assert seed["files"][0].endswith("seed_rules.yaml")
    assert "Write below etc" in seed["rules_per_evttype"]["openat"]
    assert seed["rules"] == seed["enabled_rules"] + 1


def test_check_json_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        textwrap.dedent("""\
        - rule: Good
          condition: evt.type = open
          output: o
          desc: d
          priority: ERROR
        - rule: Bad
          condition: evt.type = open and not
          output: o
          desc: d
          priority: ERROR
    """)
    )
    code, data = run_json(capsys, str(path))
    assert code == 1
    assert data["rules"] == 1  # what did load is still reported
    [err] = data["errors"]
    assert err["file"] == str(path) and err["line"] == 7
    assert err["column"] == len("  condition: evt.type = open and not") + 1
    assert "rule 'Bad'" in err["message"]


def test_check_text_summary_and_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(RULESETS / "falco_rules-main.yaml")]) == 0
    out = capsys.readouterr().out
    assert "rules: 25 (25 enabled)" in out and "macros: 87" in out and "lists: 49" in out
    assert "execve" in out
    path = tmp_path / "broken.yaml"
    path.write_text("- rule: x\n  condition: [\n")
    assert main(["check", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    first = captured.err.splitlines()[0]
    assert first.startswith(f"ruleopt check: error: {path}:3:1: invalid YAML")


@pytest.mark.parametrize(
    "cond, phrase",
    [
        ("bogus.field = x", "unknown field 'bogus.field'"),
        ("proc.aname[abc] = x", "needs a numeric index"),
        ("proc.aname[-1] = x", "index out of range"),
        ("fd.sport > abc", "unrecognized port or service 'abc'"),
        ("fd.ip = 1.2.3", "unrecognized IPv4 address '1.2.3'"),
        ("evt.num > 0x10", "is not a valid number for field 'evt.num'"),
        ("evt.is_open_write = 1", "unrecognized boolean value '1'"),
    ],
)
def test_check_rejects_what_libsinsp_would_not_compile(tmp_path, capsys, cond, phrase) -> None:
    """Fields and constants are validated at load time, located in the file."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "- rule: r\n  desc: d\n"
        f"  condition: evt.type=open and {cond}\n"
        "  output: o\n  priority: WARNING\n"
    )
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3:" in err and "rule 'r'" in err and phrase in err
    assert "Traceback" not in err


def test_exponential_macro_expansion_is_refused_quickly(tmp_path, capsys) -> None:
    lines = ["- macro: m0\n  condition: proc.pid > 0\n"]
    lines += [f"- macro: m{i}\n  condition: (m{i - 1} or m{i - 1})\n" for i in range(1, 40)]
    lines.append(
        "- rule: r\n  desc: d\n  condition: evt.type=open and m39\n"
        "  output: o\n  priority: WARNING\n"
    )
    path = tmp_path / "exp.yaml"
    path.write_text("".join(lines))
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:81:" in err and "expands to 1,099,511,627,777 nodes" in err
