"""Fuzz the rules loader with mutated real rules files (``ruleopt check``)."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

import pytest

from . import fuzzlib, mutate
from .fuzzlib import REPO, SHARED, Case

CASES = 700


@cache
def corpus() -> tuple[list[tuple[str, str]], list[tuple[str, list[str]]]]:
    """(small whole files, big files split into top-level items)."""
    small, big = [], []
    for p in sorted((REPO / "rulesets").glob("*.yaml")) + sorted(
        (SHARED / "rulesets").glob("*.yaml")
    ):
        text = p.read_text("utf-8")
        if len(text) < 12_000:
            small.append((p.name, text))
        else:
            big.append((p.name, mutate.top_level_items(text)))
    return small, big


def base_text(rng: random.Random) -> tuple[str, str]:
    small, big = corpus()
    r = rng.random()
    if r < 0.5 or not big:
        name, text = rng.choice(small)
        return text, name
    name, items = rng.choice(big)
    if r < 0.98:
        # A prefix: Falco files define lists and macros before use, so a prefix loads.
        k = rng.randint(1, min(15, len(items)))
        return "".join(items[:k]), f"{name} first {k} items"
    return "".join(items), name


def mutated(rng: random.Random) -> tuple[bytes, str]:
    text, origin = base_text(rng)
    notes = [origin]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        r = rng.random()
        if r < 0.55:
            text, note = rng.choice(mutate.YAML_MUTATORS)(rng, text)
        elif r < 0.85:
            text, note = rng.choice(mutate.LINE_MUTATORS)(rng, text)
        else:
            # Bytes round-trip through surrogateescape: invalid UTF-8 survives later edits.
            data, note = rng.choice(mutate.BYTE_MUTATORS)(
                rng, text.encode("utf-8", "surrogateescape")
            )
            text = data.decode("utf-8", "surrogateescape")
        notes.append(note)
    return text.encode("utf-8", "surrogateescape"), "; ".join(notes)


def _json_ok(work: Path, stdout: str, stderr: str) -> str | None:
    try:
        out = json.loads(stdout)
    except ValueError:
        return "check --json printed something that is not JSON"
    if out.get("errors"):
        return "check --json exited 0 with errors listed"
    return None


def _json_errors(work: Path, stdout: str, stderr: str) -> str | None:
    try:
        out = json.loads(stdout)
    except ValueError:
        return "check --json exit 1 printed something that is not JSON"
    errors = out.get("errors") or []
    if not errors:
        return "check --json exit 1 with no errors listed"
    for e in errors:
        if not e.get("file") or e.get("line") is None:
            msg = fuzzlib._norm(str(e.get("message")))
            return f"check --json: unlocated error: {msg}"
    return None


def make(rng: random.Random, case: int) -> Case:
    data, note = mutated(rng)
    if rng.random() < 0.2:
        argv = ["check", "--json", "rules.yaml"]
        return Case(
            argv,
            {"rules.yaml": data},
            locate="line",
            note=note,
            check_ok=_json_ok,
            check_collected=_json_errors,
        )
    return Case(["check", "rules.yaml"], {"rules.yaml": data}, locate="line", note=note)


@pytest.mark.fuzz_family("loader")
def test_fuzz_loader(family: fuzzlib.Family) -> None:
    family.run_all(CASES, make)
    family.assert_clean()
