"""``ruleopt advise``: each validator fires on a case it should and stays silent on one it
should not; the command end to end on a shared capture and on a generated one.

The structural validators run on libsinsp's real figures (one harness run of a small rules
file on ``curl_google.scap``); the ordering validators (RO103, RO105) depend on measured
cycles, which are noisy on a shared machine, so they are tested on stated figures.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import TRACES

from ruleopt.advise.measure import Measurement, Operand, measure
from ruleopt.advise.validators import VALIDATORS, order_cost, reach_of, run_validators
from ruleopt.cli import main
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.events.load import load_events
from ruleopt.events.sinsp import run_harness
from ruleopt.rules.ast import print_expr
from ruleopt.rules.loader import load_rules

CAPTURE = TRACES / "curl_google.scap"

RULES = """
- macro: never_true
  condition: (evt.num=0)
- rule: typed first
  desc: t
  condition: evt.type in (open, close) and proc.name = curl
  output: o
  priority: DEBUG
- rule: no types
  desc: t
  condition: proc.name = curl
  output: o
  priority: DEBUG
- rule: type later
  desc: t
  condition: proc.name = curl and evt.type = open
  output: o
  priority: DEBUG
- rule: or chain
  desc: t
  condition: evt.type = open and (proc.name = aa or proc.name = bb or proc.name = curl)
  output: o
  priority: DEBUG
- rule: in list
  desc: t
  condition: evt.type = open and proc.name in (aa, bb, curl)
  output: o
  priority: DEBUG
- rule: never
  desc: t
  condition: evt.type = open and never_true
  output: o
  priority: DEBUG
- rule: many tuples
  desc: t
  condition: evt.type = open and proc.name = curl
  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      values: [[aa, /x], [bb, /y], [cc, /z]]
  output: o
  priority: DEBUG
- rule: one tuple
  desc: t
  condition: evt.type = open and proc.name = nosuch
  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      values: [[aa, /x]]
  output: o
  priority: DEBUG
- rule: refused
  desc: t
  condition: evt.type = foobarbaz and proc.name = curl
  output: o
  priority: DEBUG
- rule: regex
  desc: t
  condition: evt.type = open and proc.name regex "cu.*"
  output: o
  priority: DEBUG
- rule: ordered
  desc: t
  condition: evt.type = open and proc.cmdline contains curl and fd.name = /nonexistent
  output: o
  priority: DEBUG
"""


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Measurement:
    path = tmp_path_factory.mktemp("advise") / "rules.yaml"
    path.write_text(RULES)
    ruleset = load_rules([path])
    table = load_events(CAPTURE, ruleset)
    return measure(ruleset, CAPTURE, table, repeat=1, replica=False)


def _codes_of(m: Measurement, rule: str) -> set[str]:
    return {f.code for f in run_validators(m) if f.rule == rule}


@pytest.mark.parametrize(
    ("code", "fires", "silent"),
    [
        ("RO001", "refused", "typed first"),
        ("RO002", "regex", "typed first"),
        ("RO101", "no types", "typed first"),
        ("RO102", "type later", "typed first"),
        ("RO104", "or chain", "in list"),
        ("RO106", "many tuples", "one tuple"),
        ("RO107", "never", "typed first"),
        ("RO108", "type later", "typed first"),
    ],
)
def test_validator_fires_and_stays_silent(
    measured: Measurement, code: str, fires: str, silent: str
) -> None:
    assert code in _codes_of(measured, fires)
    assert code not in _codes_of(measured, silent)


def test_findings_carry_savings_and_filter_by_code(measured: Measurement) -> None:
    found = run_validators(measured)
    assert {f.code for f in found} >= {"RO001", "RO101", "RO104", "RO107"}
    for f in found:
        if f.code in ("RO101", "RO104", "RO107"):
            assert f.saving is not None and f.saving >= 0
    only = run_validators(measured, select={"RO101"})
    assert only and {f.code for f in only} == {"RO101"}
    assert "RO101" not in {f.code for f in run_validators(measured, ignore={"RO101"})}
    # Ranked: savings first, largest first.
    savings = [f.saving for f in found if f.saving is not None]
    assert savings == sorted(savings, reverse=True)


def test_operand_probes_count_like_the_rule(measured: Measurement) -> None:
    fig = next(f for f in measured.rules if f.rule.name == "typed first")
    assert fig.status == "ok" and fig.checks > 0
    # Every probe sees exactly the rule's events (the event-type guard), and the rule's
    # matches are the events every operand passed on.
    assert all(op.checks == fig.checks for op in fig.operands)
    both = fig.operands[0].matched & fig.operands[1].matched
    assert both == fig.matched_evtnums


def _stated(m: Measurement, cycles: list[float], passes: list[bool]) -> None:
    """Give rule 'ordered' stated per-operand figures: operand i costs cycles[i] and
    passes on every check (True) or on none (False)."""
    fig = next(f for f in m.rules if f.rule.name == "ordered")
    everyone = frozenset(range(1, 101))
    fig.checks = 100
    fig.operands = [
        Operand(
            i,
            op.text,
            op.evttype,
            op.expensive,
            checks=100,
            matches=100 if p else 0,
            cycles=c,
            matched=everyone if p else frozenset(),
        )
        for i, (op, c, p) in enumerate(zip(fig.operands, cycles, passes, strict=True))
    ]


def test_ro103_ro105_on_stated_figures(measured: Measurement) -> None:
    m = measured
    saved = {f.rule.name: f.operands for f in m.rules}
    fig = next(f for f in m.rules if f.rule.name == "ordered")
    checks = fig.checks
    try:
        # The expensive cmdline scan passes everything; the cheap last operand rejects
        # every check: both findings fire.
        _stated(m, [10.0, 500.0, 20.0], [True, True, False])
        got = {f.code: f for f in run_validators(m) if f.rule == "ordered"}
        assert {"RO103", "RO105"} <= set(got)
        assert order_cost(fig, [0, 1, 2], m) == 100 * (10 + 500 + 20)
        # First, the cheap operand rejects every check: only its 20 cycles remain.
        assert got["RO103"].saving == pytest.approx(m.per_1k(100 * (10 + 500)))
        # The scan rejects everything itself: nothing to gain from reordering.
        _stated(m, [10.0, 500.0, 20.0], [True, False, True])
        assert not {"RO103", "RO105"} & {f.code for f in run_validators(m) if f.rule == "ordered"}
    finally:
        fig.operands, fig.checks = saved["ordered"], checks


def test_every_code_is_documented() -> None:
    import ruleopt.advise.validators as v

    for code in VALIDATORS:
        assert code in (v.__doc__ or "")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        assert not (tag == "script" or (tag == "link" and dict(attrs).get("href")))


def test_advise_on_a_shared_capture_counts_like_the_harness(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rules = Path(__file__).resolve().parents[1] / "rulesets" / "probe_rules.yaml"
    html = tmp_path / "report.html"
    assert (
        main(["advise", str(rules), str(CAPTURE), "--repeat", "1", "--json", "-o", str(html)]) == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"]["real_engine"] == str(CAPTURE)
    ruleset = load_rules([rules])
    ok = [r for r in ruleset.enabled_rules()]
    harness = run_harness(CAPTURE, [(r.id, r.name, print_expr(r.condition)) for r in ok], 1)
    want = {
        r["name"]: (r["evaluations"], r["matches"]) for r in harness["rules"] if r["status"] == "ok"
    }
    got = {r["name"]: (r["checks"], r["matches"]) for r in doc["rules"] if r["status"] == "ok"}
    assert got == want and any(m for _c, m in got.values())
    for r in doc["rules"]:
        assert set(r) >= {
            "share_of_cycles",
            "checks_per_1k",
            "matches_per_1k",
            "cycles_per_unmatched",
            "cycles_per_matched",
            "operands",
            "evttypes",
            "findings",
            "replica",
        }
        if r["status"] == "ok":
            # Same events, same index: the replica counts what libsinsp counts.
            assert r["replica"]["checks"] == r["checks"]
            assert r["replica"]["matches"] == r["matches"]
        for f in r["findings"]:
            assert set(f) == {"code", "rule", "message", "saving"}
    text = html.read_text()
    page = _Page()
    page.feed(text)
    assert "svg" in page.tags and "table" in page.tags and "details" in page.tags
    # The inline chart is well-formed SVG with one bar pair per measured rule shown.
    svg = ET.fromstring(text[text.index("<svg") : text.index("</svg>") + 6])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(svg.findall("{http://www.w3.org/2000/svg}rect")) >= 2 * min(
        25, sum(r["status"] == "ok" for r in doc["rules"])
    )


def test_advise_on_a_generated_capture_of_the_seed_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    events = tmp_path / "w.npz"
    assert (
        main(
            [
                "generate",
                "-r",
                str(DEFAULT_RULES),
                "-n",
                "1500",
                "--seed",
                "3",
                "--break-share",
                "0.05",
                "-q",
                "-o",
                str(events),
            ]
        )
        == 0
    )
    capsys.readouterr()
    html = tmp_path / "r.html"
    assert (
        main(
            ["advise", str(DEFAULT_RULES), str(events), "--repeat", "1", "--json", "-o", str(html)]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"]["real_engine"].startswith("generated capture")
    assert doc["events"]["replica_events"] == 1500
    names = {r["name"] for r in doc["rules"]}
    assert "Write below etc" in names
    assert any(r["matches"] for r in doc["rules"])
    assert abs(sum(r["share_of_cycles"] for r in doc["rules"]) - 1.0) < 1e-6
    assert "<svg" in html.read_text()


def test_bad_input_is_one_located_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["advise", str(missing), str(CAPTURE)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    out = tmp_path / "r.html"
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    assert main(["advise", str(rules), str(tmp_path / "none.scap"), "-o", str(out)]) == 1
    assert "none.scap" in capsys.readouterr().err
    assert not out.exists()
    # Only rules of another source: nothing to measure, said so.
    k8s = tmp_path / "k8s.yaml"
    k8s.write_text(
        "- rule: k\n  desc: d\n  condition: ka.verb = create\n  output: o\n"
        "  priority: DEBUG\n  source: k8s_audit\n"
    )
    assert main(["advise", str(k8s), str(CAPTURE)]) == 1
    err = capsys.readouterr().err
    assert "no enabled syscall rule" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["advise", str(rules), str(CAPTURE), "--select", "RO999"])
    assert exit_.value.code == 2 and "unknown code(s) RO999" in capsys.readouterr().err


def test_or_chain_saving_counts_the_checks_reaching_it(measured: Measurement) -> None:
    fig = next(f for f in measured.rules if f.rule.name == "or chain")
    (chain,) = fig.chains
    assert chain.operand == 1 and chain.values == 3 and chain.field == "proc.name"
    # The event-type test before it passes on every check the index gives the rule.
    assert reach_of(fig, measured, 1) == fig.checks == len(fig.operands[0].matched)
    (found,) = [f for f in run_validators(measured, select={"RO104"}) if f.rule == "or chain"]
    want = measured.per_1k(max(0.0, chain.cycles_or - chain.cycles_in) * fig.checks)
    assert found.saving == pytest.approx(want)
