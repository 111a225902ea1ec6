"""Profile model (histogram math, JSON round trip) and its writers on a hand-built profile."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ruleopt.errors import RuleoptError
from ruleopt.profile import plots, writers
from ruleopt.profile.model import (
    ALL,
    NBUCKETS,
    STAGE_PARENT,
    Hist,
    Profile,
    RuleProfile,
    StageProfile,
    stage_path,
)

FOLDED_LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* \d+$")
SVG_NS = "{http://www.w3.org/2000/svg}"


# ------------------------------------------------------------------------------ Hist


def test_buckets_follow_log2_bounds():
    assert [Hist.bucket_of(v) for v in (0, 1, 2, 3, 4, 7, 8, 300, 34_000)] == [
        0,
        1,
        2,
        2,
        3,
        3,
        4,
        9,
        16,
    ]
    for v in (1, 5, 300, 34_000, 2**40 + 3):
        lo, hi = Hist.bucket_bounds(Hist.bucket_of(v))
        assert lo <= v < hi
    assert Hist.bucket_of(2**70) == NBUCKETS - 1  # overflow lands in the last bucket


def test_mean_is_exact_and_percentile_interpolates_within_bucket():
    h = Hist.of([4, 5, 6, 7])  # all in bucket 3 = [4, 8)
    assert (h.count, h.sum, h.mean) == (4, 22, 5.5)
    assert h.percentile(0) == 4.0
    assert h.percentile(50) == 6.0  # rank 2 of 4 -> halfway across [4, 8)
    assert h.percentile(100) == 8.0
    two = Hist.of([0, 10])  # bucket 0 and bucket 4 = [8, 16)
    assert two.percentile(50) == 0.0
    assert two.percentile(75) == 12.0  # rank 1.5: half of the one value in [8, 16)
    assert Hist().mean == 0.0 and Hist().percentile(90) == 0.0
    with pytest.raises(RuleoptError):
        h.percentile(101)


def test_merge_adds_counts_sums_and_buckets():
    a, b = Hist.of([1, 300]), Hist.of([34_000, 300])
    m = a.merge(b)
    assert m == Hist.of([1, 300, 300, 34_000])
    assert (a.count, b.count) == (2, 2)  # inputs untouched


def test_hist_from_dict_validates():
    ok = Hist.of([3, 9]).to_dict()
    assert Hist.from_dict(ok) == Hist.of([3, 9])
    with pytest.raises(RuleoptError, match="64"):
        Hist.from_dict({"count": 0, "sum": 0, "hist": [0] * 10})
    with pytest.raises(RuleoptError, match="count"):
        Hist.from_dict({**ok, "count": 5})
    with pytest.raises(RuleoptError):
        Hist.from_dict({**ok, "sum": -1})


# ------------------------------------------------------------------------- the model


def make_profile() -> Profile:
    """Branches with nested stages whose cycles add up, as one traced run would."""

    def stage(name, **by_branch):
        return StageProfile(name, {k: Hist.of(v) for k, v in by_branch.items()})

    stages = [
        stage("iteration", SCAP_TIMEOUT=[100, 100], RULES_UNBROKEN=[400, 600], RULES_BROKEN=[5000]),
        stage("next_event", SCAP_TIMEOUT=[75, 75], RULES_UNBROKEN=[100, 200], RULES_BROKEN=[200]),
        stage("index_lookup", RULES_UNBROKEN=[10, 10], RULES_BROKEN=[20]),
        stage("rule_checks", RULES_UNBROKEN=[200, 300], RULES_BROKEN=[1500]),
        stage("output", RULES_BROKEN=[3000]),
    ]
    rules = [
        RuleProfile(
            0,
            "Write below etc",
            4,
            1,
            unmatched=Hist.of([300, 310, 290]),
            matched=Hist.of([34_000]),
            evttypes=["open", "openat"],
        ),
        # A name the .folded format could not carry as is.
        RuleProfile(1, "odd;name\nhere", 2, 0, unmatched=Hist.of([50, 70])),
        RuleProfile(2, "never checked", 0, 0),
    ]
    return Profile(
        engine="replica:test",
        rules=rules,
        stages={s.name: s for s in stages},
        events=3,
        repeat=1,
        tsc_hz=2.8e9,
        settings={"k": 1},
        machine={"cpu": "test cpu", "cores": 1},
        notes=["hand-built"],
    )


def test_profile_round_trips_through_json(tmp_path):
    p = make_profile()
    path = tmp_path / "profile.json"
    writers.write_json(p, path)
    doc = json.loads(path.read_text())
    assert Profile.from_dict(doc) == p
    assert doc["stack"]["parent"] == STAGE_PARENT
    with pytest.raises(RuleoptError, match="not a ruleopt profile"):
        Profile.from_dict({"engine": "x"})


def test_derived_figures():
    p = make_profile()
    assert p.cycles_per_check(matched=True) == 34_000
    assert p.cycles_per_check(matched=False) == (300 + 310 + 290 + 50 + 70) / 5
    assert [r.name for r in p.top_rules(2)] == ["Write below etc", "odd;name\nhere"]
    assert p.rules[0].total_cycles == 34_900
    s = p.summary()
    assert s["cycles_per_next"] == (150 + 300 + 200) / 5
    assert s["total_check_cycles"] == 34_900 + 120
    assert s["cycles_per_check_matched"] == 34_000
    empty = Profile(engine="replica:test").summary()
    assert empty["cycles_per_check_matched"] is None and empty["cycles_per_next"] is None


def test_stage_structure_is_one_constant():
    assert stage_path("output") == ["iteration", "output"]
    assert stage_path("next_event") == ["iteration", "next_event"]
    with pytest.raises(RuleoptError):
        StageProfile("nonsense")
    with pytest.raises(RuleoptError):
        StageProfile("output", {"SOMETIMES": Hist()})


# --------------------------------------------------------------------------- writers


def test_folded_lines_are_valid_and_hold_self_cycles(tmp_path):
    p = make_profile()
    path = tmp_path / "stacks.folded"
    writers.write_folded(p, path)
    lines = path.read_text().splitlines()
    assert lines and all(FOLDED_LINE.match(line) for line in lines), lines
    counts = {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in lines}
    assert counts["main;SCAP_TIMEOUT"] == 200 - 150
    assert counts["main;SCAP_TIMEOUT;next_event"] == 150
    assert counts["main;RULES_UNBROKEN"] == 1000 - 300 - 20 - 500
    assert counts["main;RULES_BROKEN"] == 5000 - 200 - 20 - 1500 - 3000
    assert counts["main;RULES_BROKEN;output"] == 3000
    assert counts["main;iteration;rule_checks;rule:Write below etc"] == 34_900
    assert counts["main;iteration;rule_checks;rule:odd,name here"] == 120
    # Self counts add up to all iterations' cycles plus the separately measured checks.
    assert sum(counts.values()) == 200 + 1000 + 5000 + 34_900 + 120


def test_folded_subtracts_rules_from_branchless_rule_checks():
    p = Profile(
        engine="libsinsp-2022",
        rules=[RuleProfile(0, "a", 2, 0, unmatched=Hist.of([100, 200]))],
        stages={"rule_checks": StageProfile("rule_checks", {ALL: Hist.of([400])})},
    )
    assert writers.folded_stacks(p) == {
        ("main", "iteration", "rule_checks"): 100,
        ("main", "iteration", "rule_checks", "rule:a"): 300,
    }


def test_frame_names_are_sanitised():
    assert writers.frame_name("a;b\nc\r d") == "a,b c d"
    assert writers.frame_name(" \n") == "?"


def test_dot_renders_with_graphviz(tmp_path):
    p = make_profile()
    path = tmp_path / "stacks.dot"
    writers.write_dot(p, path)
    proc = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    svg = proc.stdout
    for name in (
        "main loop",
        "iteration",
        "next_event",
        "index_lookup",
        "rule_checks",
        "output",
        "RULES_BROKEN",
        "RULES_UNBROKEN",
        "SCAP_TIMEOUT",
        "rule: Write below etc",
    ):
        assert name in svg, name
    assert "mean 34000 cycles" in svg  # the matched check's mean, on its rule node
    # Edge labels carry the branch's count: RULES_BROKEN output ran once.
    assert "1x" in svg


def _svg_texts(path) -> str:
    root = ET.parse(path).getroot()  # raises if the SVG is not well-formed
    assert root.tag == f"{SVG_NS}svg"
    return " ".join("".join(el.itertext()) for el in root.iter(f"{SVG_NS}text"))


def test_plots_are_svg_with_titles_in_cycles(tmp_path):
    p = make_profile()
    texts = _svg_texts(plots.latency_plot(p, tmp_path / "lat.svg"))
    assert "Rule check latency distribution" in texts
    assert "unmatched checks: cycles per check" in texts
    assert "matched checks: cycles per check" in texts
    assert "Write below etc" in texts
    texts = _svg_texts(plots.totals_plot(p, tmp_path / "tot.svg"))
    assert "Total cycles checking each rule" in texts and "cycles" in texts
    texts = _svg_texts(
        plots.bar_compare(
            ["a", "b"], [1.0, 2.0], [0.1, 0.2], "mean cycles per event", tmp_path / "cmp.svg"
        )
    )
    assert "mean cycles per event" in texts
    texts = _svg_texts(
        plots.line_plot(
            {"baseline": ([1e5, 1e6], [0.0, 12.5])},
            "Dropped events vs offered rate",
            tmp_path / "d.svg",
            "offered rate (events/s)",
            "events dropped (%)",
        )
    )
    assert "Dropped events vs offered rate" in texts and "events dropped (%)" in texts
    assert "baseline" in texts


def test_profile_dir_writes_everything(tmp_path):
    out = tmp_path / "out"
    files = writers.write_profile_dir(make_profile(), out)
    assert sorted(f.name for f in files) == sorted(
        ["profile.json", "stacks.dot", "stacks.folded", "rule_latency.svg", "rule_totals.svg"]
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in files)
    assert all(f.stat().st_size > 0 for f in files)
    # Readable reports, not mkstemp's 0600.
    assert all(f.stat().st_mode & 0o044 for f in files)


def test_profile_dir_leaves_nothing_on_failure(tmp_path, monkeypatch):
    def boom(profile, path):
        raise RuleoptError("disk on fire")

    monkeypatch.setattr(writers, "write_folded", boom)
    new = tmp_path / "new"
    with pytest.raises(RuleoptError):
        writers.write_profile_dir(make_profile(), new, plots=False)
    assert not new.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    with pytest.raises(RuleoptError):
        writers.write_profile_dir(make_profile(), existing, plots=False)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
