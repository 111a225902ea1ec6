"""``ruleopt optimize``: the written file is the same ruleset for Falco, proven on events.

On the shared upstream rulesets with a shared capture: every rewritten file loads back
with the same rules (names, order, priorities, outputs, tags, sources, enabled flags,
event types), lists and macros, and gives the same alerts rule by rule under the
reference evaluator and libsinsp 2022 (which compiles every rule the original compiles).
A wrong rewrite, planted, is caught and reverted; bad input writes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, RULESETS, TRACES

from ruleopt.events.load import load_events
from ruleopt.rewrite import optimize as opt
from ruleopt.rewrite import rules
from ruleopt.rules.ast import And
from ruleopt.rules.loader import load_rules

TRACE = TRACES / "run_as_user_0_container.scap"
SHAPE = opt.KEPT_ATTRIBUTES


@pytest.mark.parametrize(
    "name", ["falco_rules-falco-0.26.2.yaml", "falco_rules-main.yaml", "falco_rules-1.0.0.yaml"]
)
def test_optimized_upstream_rules_load_back_the_same_with_the_same_alerts(name, tmp_path) -> None:
    files = [RULESETS / name]
    original = load_rules(files)
    result = opt.optimize(files, [(load_events(TRACE, original), TRACE)])
    assert result.rewrites, "the upstream rules offer rewrites (or chains, constant hooks)"
    assert not result.reverted
    out = tmp_path / "optimized.yaml"
    out.write_text(result.text, encoding="utf-8")
    back = load_rules(out)
    assert [r.name for r in back.rules] == [r.name for r in original.rules]
    for a, b in zip(original.rules, back.rules, strict=True):
        assert [getattr(a, k) for k in SHAPE] == [getattr(b, k) for k in SHAPE], a.name
    assert {k: v.items for k, v in back.lists.items()} == {
        k: v.items for k, v in original.lists.items()
    }
    assert set(back.macros) == set(original.macros)
    for _src, diffs in result.diffs:
        assert {d.status for d in diffs} == {"same"}
    # Each rewritten item says what changed, in a YAML comment before it.
    assert result.text.count("# ruleopt optimize:") == len(result.rewrites)


def test_a_rewrite_that_changes_matches_is_reverted(tmp_path, monkeypatch) -> None:
    """A planted wrong rule (it drops an `and`'s last operand) passes the structural step;
    the differential check on the events catches it and the rule keeps its text."""
    rules_file = tmp_path / "r.yaml"
    rules_file.write_text(
        "- rule: shell\n  desc: d\n  condition: evt.type = openat and proc.name = bash\n"
        "  output: o\n  priority: WARNING\n"
        "- rule: other\n  desc: d\n  condition: evt.type = openat or evt.type = openat\n"
        "  output: o\n  priority: INFO\n",
        encoding="utf-8",
    )
    events = tmp_path / "e.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {"evt.num": 1, "evt.type": "openat", "proc.name": "bash"},
                {"evt.num": 2, "evt.type": "openat", "proc.name": "cat"},
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    def wrong(e):
        return And(e.items[:-1]) if isinstance(e, And) and len(e.items) > 1 else e

    monkeypatch.setattr(rules, "STRUCTURAL", (*rules.STRUCTURAL, ("flatten", wrong)))
    original = load_rules(rules_file)
    result = opt.optimize([rules_file], [(load_events(events, original), None)])
    assert result.reverted == ["rule 'shell'"]
    assert result.ruleset.rule("shell").condition == original.rule("shell").condition
    # The proven rewrite of the other rule stays.
    assert [r.name for r in result.rewrites] == ["other"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruleopt", "optimize", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_writes_nothing_on_bad_input(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- rule: x\n  condition: evt.type = (\n", encoding="utf-8")
    out = tmp_path / "out.yaml"
    p = _cli(str(bad), "-o", str(out))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "bad.yaml" in p.stdout + p.stderr
    assert not out.exists() and sorted(tmp_path.iterdir()) == [bad]
    good = RULESETS / "falco_rules-falco-0.26.2.yaml"
    p = _cli(str(good), "-o", str(good))
    assert p.returncode == 1 and "overwrite" in p.stdout + p.stderr


def test_cli_optimizes_and_reports(tmp_path) -> None:
    out = tmp_path / "opt.yaml"
    p = _cli(str(RULESETS / "falco_rules-falco-0.26.2.yaml"), str(TRACE), "-o", str(out), "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["rewritten"] and report["checked_on"][0]["differ"] == 0
    assert report["effect"]["cycles_per_event_before"] > 0
    assert load_rules(out).rule("Write below etc").priority == "Error"


def test_comments_cannot_break_out_of_their_line() -> None:
    """A file or rule text with line breaks in a comment stays one comment line each."""
    import yaml

    from ruleopt.rewrite.yamlout import render

    node = yaml.compose("- list: l\n  items: [a]\n")
    text = render(node.value, [["x\n- list: evil\u2028y"]], ["name\r\n- macro: m"])
    assert yaml.safe_load(text) == [{"list": "l", "items": ["a"]}]
