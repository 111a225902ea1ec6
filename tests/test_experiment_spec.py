"""Experiment files: every schema error located (file:line:column) and the grid they
expand to."""

from __future__ import annotations

from pathlib import Path

import pytest

from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import real
from ruleopt.engine import strategies as S
from ruleopt.errors import RuleoptError
from ruleopt.experiment import measures
from ruleopt.experiment.grid import expand
from ruleopt.experiment.spec import load_spec

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
experiment: tiny
rulesets: [default]
workloads:
  - generated: {events: 2000, seed: [1, 2]}
strategies: [baseline, finer, cached-output]
engines: [replica, libsinsp]
repeats: 2
measurements:
  speed: {repeat_inner: 1}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _error(tmp_path: Path, text: str) -> RuleoptError:
    with pytest.raises(RuleoptError) as info:
        load_spec(_write(tmp_path, text))
    return info.value


# (experiment text, the text the error must point at, words of the message)
CASES = [
    (GOOD.replace("repeats: 2", "repeat: 2"), "repeat: 2", "unknown key 'repeat'"),
    (GOOD.replace("repeats: 2", "repeats: two"), "two", "must be a whole number"),
    (GOOD.replace("repeats: 2", "repeats: [2]"), "[2]", "must be a single value"),
    (GOOD.replace("seed: [1, 2]", "seed: [1, 2], size: 3"), "size", "unknown key 'size'"),
    (GOOD.replace("events: 2000", "events: 0"), "0,", "between 1"),
    (GOOD.replace("seed: [1, 2]", "seed: [1, 2], break_share: 2"), "2}", "between 0"),
    (GOOD.replace("finer", "fast"), "fast", "unknown strategy 'fast'"),
    (GOOD.replace("libsinsp]", "falco]"), "falco", "unknown engine 'falco'"),
    (GOOD.replace("  speed:", "  sped:"), "sped", "unknown measurement 'sped'"),
    (GOOD.replace("{repeat_inner: 1}", "{repeat_inner: 1, rates: [1]}"), "rates", "'rates'"),
    (GOOD.replace("{repeat_inner: 1}", "{mode: some}"), "some", "unknown mode 'some'"),
    (GOOD.replace("{repeat_inner: 1}", "{builds: [fast]}"), "fast", "unknown build 'fast'"),
    (GOOD.replace("[replica, libsinsp]", "[]"), "[]", "empty"),
    (GOOD.replace("[default]", "[missing.yaml]"), "missing.yaml", "rules file 'missing.yaml'"),
    (
        GOOD.replace("generated: {events: 2000, seed: [1, 2]}", "capture: none/*.scap"),
        "none/",
        "no file matches",
    ),
    (
        GOOD.replace("generated: {events: 2000, seed: [1, 2]}", "table: gone.npz"),
        "gone.npz",
        "table 'gone.npz'",
    ),
    (GOOD.replace("speed: {repeat_inner: 1}\n", "{}\n"), "{}", "measurements is empty"),
    (GOOD.replace("workloads:", "workload:"), "workload:", "unknown key 'workload'"),
    (GOOD + "  speed: {}\n", "speed: {}", "duplicate"),
]


@pytest.mark.parametrize(("text", "at", "words"), CASES)
def test_spec_errors_are_located(tmp_path: Path, text: str, at: str, words: str) -> None:
    err = _error(tmp_path, text)
    assert words in err.message, str(err)
    assert err.file == str(tmp_path / "exp.yaml")
    lines = text.splitlines()
    # The last line holding the marker: duplicates and replaced values come after the rest.
    line = max(i for i, t in enumerate(lines) if at in t)
    assert (err.line, err.column) == (line + 1, lines[line].index(at) + 1), str(err)


def test_broken_yaml_is_located(tmp_path: Path) -> None:
    err = _error(tmp_path, "rulesets: [default\n")
    assert "not valid YAML" in err.message and err.line == 2


def test_missing_file_is_named(tmp_path: Path) -> None:
    err = _error(tmp_path, GOOD.replace("rulesets: [default]", "rulesets: [[default.yml]]"))
    assert "default.yml" in err.message and err.line == 2


def test_a_measurement_this_build_lacks_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = measures.Measure(
        "advise", None, {}, ("untraced",), None, None, missing="not available in this build (x)"
    )
    monkeypatch.setitem(measures._REGISTRY, "advise", gone)
    err = _error(tmp_path, GOOD.replace("  speed:", "  advise: {}\n  speed:"))
    assert "not available in this build" in err.message
    assert (err.line, err.column) == (9, 3)
    assert "speed" in (err.hint or "")


def test_an_empty_grid_after_skips_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace("{repeat_inner: 1}", "{builds: [rule-traced]}")
    err = _error(tmp_path, text)
    assert "untraced" in err.message and err.line == 9


def test_grid_expansion(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert spec.rulesets == ((str(DEFAULT_RULES.resolve()),),)
    assert [w["seed"] for w in spec.workloads] == [1, 2]
    grid = expand(spec)
    names = ["baseline", "finer", "cached-output"]
    pairs = [
        (s, e)
        for s in names
        for e in ("replica", "libsinsp")
        if e == "replica" or real.real_support(S.get_strategy(s)) is None
    ]
    # 2 workloads x 2 repeats x the (strategy, engine) pairs that exist.
    assert len(grid.cells) == 2 * 2 * len(pairs)
    assert len({c.id() for c in grid.cells}) == len(grid.cells)
    skipped = [(s, e) for s in names for e in ("replica", "libsinsp") if (s, e) not in pairs]
    for s, e in skipped:
        assert any(f"{e}/{s}" in n for n in grid.notes)
    c = grid.cells[0]
    assert c.id().startswith(f"speed-{c.engine}-{c.strategy}-")
    assert c.params == {"repeat_inner": 1} and c.build == "untraced"
    assert str(DEFAULT_RULES.resolve()) in c.inputs
    # A listed-twice workload runs once.
    twice = GOOD.replace("seed: [1, 2]", "seed: [1, 1]")
    assert len(expand(load_spec(_write(tmp_path, twice))).cells) == len(pairs) * 2


def test_ids_follow_inputs(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_bytes(DEFAULT_RULES.read_bytes())
    text = GOOD.replace("rulesets: [default]", "rulesets: [r.yaml]")
    before = {c.id() for c in expand(load_spec(_write(tmp_path, text))).cells}
    assert before == {c.id() for c in expand(load_spec(_write(tmp_path, text))).cells}
    rules.write_bytes(DEFAULT_RULES.read_bytes() + b"\n# changed\n")
    after = {c.id() for c in expand(load_spec(_write(tmp_path, text))).cells}
    assert not before & after


@pytest.mark.parametrize("name", ["study.yaml", "quick.yaml"])
def test_the_bundled_experiments_load(name: str) -> None:
    path = REPO / "experiments" / name
    try:
        spec = load_spec(path)
    except RuleoptError as exc:
        # Until the report helper's measurements are merged this build lacks them.
        assert "not available in this build" in exc.message, str(exc)
        return
    assert expand(spec).cells


def test_the_cli_prints_the_located_error_and_creates_nothing(tmp_path: Path, capsys) -> None:
    from ruleopt.cli import main

    exp = _write(tmp_path, GOOD.replace("finer", "fast"))
    out = tmp_path / "results"
    assert main(["experiment", str(exp), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{exp}:5:" in err and "unknown strategy 'fast'" in err and "hint:" in err
    assert not out.exists()
    with pytest.raises(SystemExit) as info:  # argparse refuses it: usage and exit 2
        main(["experiment", str(exp), "-o", str(out), "--workers", "0"])
    assert info.value.code == 2 and "between 1 and 1024" in capsys.readouterr().err
    assert not out.exists()


def test_plain_exponent_numbers_are_numbers(tmp_path: Path) -> None:
    # YAML 1.1's resolver reads 1e-2 as text; an experiment author means a number.
    text = GOOD.replace("seed: [1, 2]}", "seed: [1, 2], break_share: 1e-2}")
    spec = load_spec(_write(tmp_path, text))
    assert {w["break_share"] for w in spec.workloads} == {0.01}
    quoted = GOOD.replace("seed: [1, 2]}", "seed: [1, 2], break_share: '1e-2'}")
    assert "must be a number" in _error(tmp_path, quoted).message


def test_a_measurement_keeps_its_own_workload_kinds_and_repeats(tmp_path: Path) -> None:
    traces = Path(__file__).resolve().parents[2] / "shared" / "traces"
    text = GOOD.replace(
        "  - generated: {events: 2000, seed: [1, 2]}",
        f"  - generated: {{events: 2000, seed: 1}}\n  - capture: {traces / 'sample.scap'}",
    ).replace(
        "  speed: {repeat_inner: 1}",
        "  speed: {repeat_inner: 1, workloads: [generated], repeats: 1, engines: [replica]}",
    )
    grid = expand(load_spec(_write(tmp_path, text)))
    assert {c.workload["kind"] for c in grid.cells} == {"generated"}
    assert {c.repeat for c in grid.cells} == {0}  # its repeats: 1, not the experiment's 2
    assert len(grid.cells) == 3  # baseline, finer, cached-output on the replica
    assert any("skipped on capture workloads" in n for n in grid.notes)
    bad = text.replace("workloads: [generated]", "workloads: [recorded]")
    err = _error(tmp_path, bad)
    assert "unknown workload kind 'recorded'" in err.message and err.line == 10
