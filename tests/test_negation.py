"""Double negation: libsinsp 2022 reads `not not X` as `not X` and `not (not X)` as X.

Issue 8: a rule `evt.type = open and not m` with the macro `m: not proc.name = a` means
`not (not proc.name = a)` (Falco expands macros in the AST), which matches no open event
of cat_write.scap; the printer used to hand libsinsp `not not proc.name = a` (8 events).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import TRACES

from ruleopt.cli import main
from ruleopt.rules.ast import Not, print_expr
from ruleopt.rules.loader import load_rules
from ruleopt.rules.parser import ParseNote, parse_condition

CAT_WRITE = TRACES / "cat_write.scap"

MACRO_CASE = """\
- macro: m
  condition: not proc.name = a
- rule: open not m
  desc: the macro's own not, under the rule's not
  condition: evt.type = open and not m
  output: x
  priority: WARNING
- rule: open not not
  desc: the unparenthesised spelling, one not for libsinsp 2022
  condition: evt.type = open and not not proc.name = a
  output: x
  priority: WARNING
- rule: open not (not)
  desc: the parenthesised spelling, a double negation
  condition: evt.type = open and not (not proc.name = a)
  output: x
  priority: WARNING
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_macro_under_not_means_a_double_negation(tmp_path: Path) -> None:
    rules = {r.name: r for r in load_rules([_write(tmp_path, MACRO_CASE)]).rules}
    inner = parse_condition("proc.name = a")
    assert rules["open not m"].condition.items[1] == Not(Not(inner))
    assert rules["open not (not)"].condition == rules["open not m"].condition
    assert rules["open not not"].condition.items[1] == Not(inner)
    assert print_expr(rules["open not m"].condition) == (
        "evt.type = open and not (not proc.name = a)"
    )


def test_verify_cat_write_macro_case_no_difference(tmp_path: Path, capsys) -> None:
    code = main(["verify", str(_write(tmp_path, MACRO_CASE)), "--trace", str(CAT_WRITE), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["counts"]["differ"] == 0
    by_name = {r["rule"]: r for r in doc["rules"]}
    assert {r["status"] for r in doc["rules"]} == {"same"}
    # Falco (and the reference evaluator) match nothing for the double negation; the
    # one-`not` spelling matches the capture's 8 open events by processes other than `a`.
    assert by_name["open not m"]["ours"] == by_name["open not m"]["libsinsp"] == []
    assert by_name["open not (not)"]["libsinsp"] == []
    assert len(by_name["open not not"]["libsinsp"]) == 8
    assert by_name["open not not"]["ours"] == by_name["open not not"]["libsinsp"]


@pytest.mark.parametrize(
    ("text", "columns"),
    [
        ("not not a", [1]),
        ("a and not not not b", [7]),
        ("not not a or (not not b)", [1, 15]),
        ("not (not a)", []),
        ("not a and not b", []),
    ],
)
def test_parse_notes_name_each_run_of_not(text: str, columns: list[int]) -> None:
    notes: list[ParseNote] = []
    parse_condition(text, notes)
    assert [n.cond_column for n in notes] == columns
    assert all(n.cond_line == 1 and "single 'not'" in n.message for n in notes)


def test_parse_without_notes_list_still_folds() -> None:
    assert parse_condition("not not a") == parse_condition("not a")


def test_check_warns_at_file_line_column(tmp_path: Path, capsys) -> None:
    path = _write(
        tmp_path,
        textwrap.dedent("""\
        - macro: mm
          condition: proc.name = x or not not proc.name = y
        - rule: r
          desc: d
          condition: >
            evt.type = open and
              not not not mm
          output: x
          priority: WARNING
        """),
    )
    code = main(["check", "--json", str(path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    warns = [w for w in doc["warnings"] if "single 'not'" in w["message"]]
    assert [(w["file"], w["line"], w["column"], w["rule"]) for w in warns] == [
        (str(path), 2, 31, None),
        (str(path), 7, 7, "r"),
    ]
    assert warns[0]["message"].startswith("macro 'mm': condition column 18: 'not not'")
    assert "'not not not'" in warns[1]["message"]
    # The text form names file:line:column too.
    code = main(["check", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{path}:7:7: rule 'r':" in " ".join(out.split())
