"""The ``advise`` measurement: ``ruleopt advise``'s findings as experiment cells, and the
report's section that ranks them across repeats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ruleopt.advise.validators import VALIDATORS
from ruleopt.cli import main
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.experiment import measures
from ruleopt.experiment.grid import expand
from ruleopt.experiment.runner import run_experiment
from ruleopt.experiment.spec import load_spec
from ruleopt.report.load import load_results
from ruleopt.rules.loader import load_rules

# Findings that do not depend on a timing crossing a threshold: the same inputs give the
# same ones on every run (the cost findings' savings are measured, so they may not).
STRUCTURAL = {"RO001", "RO002", "RO101", "RO107", "RO108"}
NO_EVTTYPE_RULE = "Unexpected process with non-zero exit"  # the default ruleset's


@pytest.fixture(scope="module")
def advised(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("advise")
    (root / "rules.yaml").write_bytes(DEFAULT_RULES.read_bytes())
    exp = root / "exp.yaml"
    exp.write_text(
        "rulesets: [rules.yaml]\n"
        "workloads:\n  - generated: {events: 3000, seed: 11, break_share: 0.05}\n"
        "strategies: [baseline, finer]\nengines: [replica, libsinsp]\nrepeats: 2\n"
        "measurements:\n  advise: {repeat_inner: 1}\n",
        encoding="utf-8",
    )
    spec = load_spec(exp)
    summary = run_experiment(spec, expand(spec), root / "res", progress=False, workers=1)
    assert summary.ran == 2 and not summary.failed, summary
    return root / "res"


def _docs(results: Path) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((results / "cells").glob("*.json"))]


def test_the_grid_keeps_the_stock_engine_on_libsinsp_only(advised: Path) -> None:
    docs = _docs(advised)
    # finer and the replica are skipped with the measurement's reason, not run.
    assert {(d["key"]["engine"], d["key"]["strategy"]) for d in docs} == {("libsinsp", "baseline")}
    assert all(d["key"]["build"] == "rule-traced" for d in docs)
    m = measures.get("advise")
    assert m is not None and m.unsupported("replica", "baseline", "rule-traced")
    assert m.unsupported("libsinsp", "finer", "rule-traced")


def test_cells_carry_the_advisors_findings(advised: Path) -> None:
    names = {r.name for r in load_rules([DEFAULT_RULES]).rules}
    for d in _docs(advised):
        assert d["status"] == "ok", d.get("error")
        f, series = d["figures"], d["series"]
        assert f["findings"] == len(series["findings"]) > 0
        assert f["events"] == 3000 and f["passes"] == 1
        for x in series["findings"]:
            assert x["code"] in VALIDATORS and x["rule"] in names, x
        with_saving = [x for x in series["findings"] if x["saving_cycles"] is not None]
        assert f["findings_with_saving"] == len(with_saving)
        best: dict[str, float] = {}
        for x in with_saving:
            best[x["rule"]] = max(best.get(x["rule"], 0.0), x["saving_cycles"])
        assert f["saving_cycles_per_1k"] == pytest.approx(sum(best.values()))
        assert 0 <= f["saving_share"] <= 1
        assert 0 < f["top_rule_share"] <= 1 and f["total_rule_cycles_per_1k"] > 0
        # A rule with no event-type test runs on every event: always found.
        assert ("RO101", NO_EVTTYPE_RULE) in {(x["code"], x["rule"]) for x in series["findings"]}
        assert series["rules"] and all(0 <= r["share_of_cycles"] <= 1 for r in series["rules"])


def test_a_cell_finds_what_the_command_finds(advised: Path, capsys) -> None:
    # The same rules and capture through `ruleopt advise --json`: the same findings of
    # every code that no timing decides.
    capture = next((advised / "inputs").glob("generated-*.scap"))
    rules = _docs(advised)[0]["key"]["ruleset"]
    capsys.readouterr()
    assert main(["advise", *rules, str(capture), "--json", "--repeat", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    want = {(x["code"], x["rule"]) for x in report["findings"] if x["code"] in STRUCTURAL}
    assert ("RO101", NO_EVTTYPE_RULE) in want
    for d in _docs(advised):
        got = {(x["code"], x["rule"]) for x in d["series"]["findings"] if x["code"] in STRUCTURAL}
        assert got == want


def test_the_report_ranks_the_findings(advised: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(advised), "-o", str(out)]) == 0
    page = out.read_text("utf-8")
    section = page[page.index('id="advice"') :]
    section = section[: section.index("</section>")]
    assert "What to change in the rules" in section
    assert "RO101" in section and NO_EVTTYPE_RULE in section
    assert "2 of 2" in section  # found in both repeats
    assert "<svg" in section  # the savings plot
    md = tmp_path / "r.md"
    assert main(["report", str(advised), "-o", str(md), "--format", "md"]) == 0
    assert "RO101" in md.read_text("utf-8")


def test_a_malformed_findings_series_is_unreadable_not_fatal(advised: Path, tmp_path) -> None:
    cells = tmp_path / "cells"
    cells.mkdir()
    doc = _docs(advised)[0]
    (cells / "good.json").write_text(json.dumps(doc))
    doc["series"]["findings"] = [{"code": 101, "rule": None}]
    (cells / "bad.json").write_text(json.dumps(doc))
    r = load_results(tmp_path)
    assert len(r.cells) == 1 and [u["file"] for u in r.unreadable] == ["bad.json"]
