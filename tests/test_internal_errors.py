"""Faults of ruleopt itself are reported as internal errors, distinct from bad input."""

from __future__ import annotations

import dataclasses

import pytest

from ruleopt._ext import abi
from ruleopt.cli import main
from ruleopt.defaults import DEFAULT_RULES
from ruleopt.engine import compile as comp
from ruleopt.engine import core as core_py
from ruleopt.engine import strategies as S
from ruleopt.errors import REPORT_HINT, InternalError, RuleoptError
from ruleopt.events.generator import generate
from ruleopt.rules.loader import load_rules


@pytest.fixture
def events(tmp_path):
    table = generate(load_rules([DEFAULT_RULES]), 500, seed=1, break_share=0.02)
    path = tmp_path / "events.npz"
    table.save(path)
    return path


def _corrupt_index(compiled, table, learned=None):
    # Test-only: a strategy whose arrays the core's validation refuses.
    nodes = compiled.nodes.copy()
    nodes[:, comp.F_COL] = 10**6
    return dataclasses.replace(compiled, nodes=nodes)


def test_core_refusing_arrays_is_an_internal_error_in_the_cli(events, monkeypatch, capsys) -> None:
    monkeypatch.setitem(S.INDEXES, "corrupt", _corrupt_index)
    monkeypatch.setitem(S.STRATEGIES, "corrupt", S.Strategy("corrupt", "corrupt", "flat", "cached"))
    code = main(["compare", str(events), "--strategies", "corrupt", "--repeat", "1"])
    err = capsys.readouterr().err
    assert code == InternalError.EXIT_CODE != 1
    assert "ruleopt compare: internal error:" in err and "out of range" in err
    assert "please report it" in err and "Traceback" not in err


def test_bad_input_is_still_a_plain_error(events, capsys) -> None:
    assert main(["compare", str(events), "--strategies", "nope"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "internal error" not in err


def test_stale_extension_is_an_internal_error(monkeypatch) -> None:
    monkeypatch.setattr(core_py, "_modules", {})
    monkeypatch.setattr(abi, "ABI_DIGEST", "another-build")
    with pytest.raises(InternalError, match="other ABI headers") as info:
        core_py.core_module("stacks")
    assert isinstance(info.value, RuleoptError)  # callers catching RuleoptError still do
    assert info.value.hint.startswith("rebuild the extensions") and REPORT_HINT in info.value.hint
