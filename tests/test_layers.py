"""Imports run one way: every ``ruleopt`` module belongs to one layer and imports only
from its own layer or the ones below (the README's architecture section lists them).

Every import is checked, top-level and inside functions alike, by parsing the sources
with ``ast`` (nothing is imported). An import inside a function is allowed only where
``LAZY`` gives a reason that is not a cycle.
"""

from __future__ import annotations

import ast
import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

import ruleopt

PACKAGE = Path(ruleopt.__file__).parent

# Lowest first. A module may import from its own layer and every layer before it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "ruleopt",
            "ruleopt.rules",
            "ruleopt.engine",
            "ruleopt.events",
            "ruleopt.profile",
            "ruleopt.advise",
            "ruleopt.commands",
            "ruleopt.rewrite",
            "ruleopt.experiment",
            "ruleopt.report",
            "ruleopt._ext",
            "ruleopt._ext.*",
            "ruleopt.errors",
            "ruleopt.defaults",
            "ruleopt.resources",
            "ruleopt.fsutil",
            "ruleopt.deep",
            "ruleopt.engine.text",
            "ruleopt.console",
        ),
    ),
    (
        "conditions",
        (
            "ruleopt.rules.ast",
            "ruleopt.rules.parser",
            "ruleopt.rules.yamlsafe",
            "ruleopt.rules.sinsp_events",
            "ruleopt.rules.sinsp_params",
            "ruleopt.rules.evttypes",
        ),
    ),
    ("fields", ("ruleopt.plugin_fields", "ruleopt.fields", "ruleopt.output_tokens")),
    ("semantics", ("ruleopt.engine.values", "ruleopt.engine.reference")),
    ("ruleset", ("ruleopt.rules.model", "ruleopt.rules.load_*", "ruleopt.rules.loader")),
    (
        "events",
        (
            "ruleopt.events.table",
            "ruleopt.events.npz",
            "ruleopt.events.jsontext",
            "ruleopt.events.jsonl",
            "ruleopt.events.sinsp",
            "ruleopt.events.capture",
        ),
    ),
    (
        "generation",
        (
            "ruleopt.events.solver",
            "ruleopt.events.unbreakable",
            "ruleopt.events.scapfile",
            "ruleopt.events.scap_args",
            "ruleopt.events.catalogs",
            "ruleopt.events.pools",
            "ruleopt.events.background",
            "ruleopt.events.producers",
            "ruleopt.events.capture_shape",
            "ruleopt.events.completion",
            "ruleopt.events.stamping",
            "ruleopt.events.generator",
            "ruleopt.events.workload_scap",
        ),
    ),
    ("inputs", ("ruleopt.events.load",)),
    ("output", ("ruleopt.output",)),
    ("rewrites", ("ruleopt.rewrite.rules", "ruleopt.rewrite.cost")),
    (
        "engine",
        (
            "ruleopt.engine.index",
            "ruleopt.engine.compile",
            "ruleopt.engine.program",
            "ruleopt.engine.sampling",
            "ruleopt.engine.core",
            "ruleopt.engine.finer",
            "ruleopt.engine.oracle",
            "ruleopt.engine.strategies",
            "ruleopt.engine.verify",
            "ruleopt.engine.power",
            "ruleopt.engine.event_costs",
            "ruleopt.engine.real_finer",
            "ruleopt.engine.real",
            "ruleopt.engine.matcher_rewrite",
        ),
    ),
    ("profile", ("ruleopt.profile.*",)),
    ("rewrite", ("ruleopt.rewrite.*",)),
    ("advise", ("ruleopt.advise.*",)),
    ("commands", ("ruleopt.commands.*", "ruleopt.experiment.*", "ruleopt.report.*")),
    ("cli", ("ruleopt.cli", "ruleopt.__main__")),
)

# (importer, imported) patterns of the imports allowed inside a function, and why.
LAZY: dict[tuple[str, str], str] = {
    (
        "ruleopt.commands.*",
        "ruleopt.*",
    ): "cli imports every command module to build its parser; each loads the layers it "
    "runs (numpy tables, the engine, matplotlib) only when run, so --help stays fast",
    (
        "ruleopt.rules.load_*",
        "ruleopt.rules.parser",
    ): "lark (~40 ms) only when a condition is parsed: command modules import the loader",
    (
        "ruleopt.profile.writers",
        "ruleopt.profile.plots",
    ): "matplotlib only when plots are asked for",
    (
        "ruleopt.experiment.runner",
        "ruleopt.experiment.dask",
    ): "distributed (~1 s to import, and its config) only when --dask is given",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer_of(module: str) -> int | None:
    for rank, (_name, patterns) in enumerate(LAYERS):
        if any(fnmatchcase(module, pat) for pat in patterns):
            return rank
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported module, line, inside a function)`` for each ruleopt import of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_pkg = path.name == "__init__.py"
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                # `if TYPE_CHECKING:` imports name types for annotations and never run:
                # they are no dependency between layers (compile names finer's tree type).
                continue
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, nested) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = module.split(".") if is_pkg else module.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (child.level - 1)]
                    base = ".".join(pkg + ([child.module] if child.module else []))
                for a in child.names:
                    # `from ruleopt.engine import values` imports a module.
                    sub = f"{base}.{a.name}"
                    out.append((sub if sub in MODULES else base, child.lineno, nested))
            visit(child, inner)

    visit(tree, False)
    return [
        (t, line, nested) for t, line, nested in out if t == "ruleopt" or t.startswith("ruleopt.")
    ]


def test_every_module_has_a_layer() -> None:
    missing = [m for m in MODULES if _layer_of(m) is None]
    assert not missing, f"declare a layer for {missing} in tests/test_layers.py and README"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module: str) -> None:
    rank = _layer_of(module)
    assert rank is not None
    for target, line, _nested in _imports(module):
        trank = _layer_of(target)
        assert trank is not None, f"{module}:{line} imports undeclared {target}"
        assert trank <= rank, (
            f"{module}:{line} ({LAYERS[rank][0]}) imports {target} ({LAYERS[trank][0]}), "
            "a layer above it"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_function_level_imports_have_a_reason(module: str) -> None:
    for target, line, nested in _imports(module):
        if nested:
            assert any(fnmatchcase(module, a) and fnmatchcase(target, b) for a, b in LAZY), (
                f"{module}:{line} imports {target} inside a function: move it to the top "
                "(or give a reason that is not a cycle in LAZY)"
            )


def test_no_cycle_between_modules() -> None:
    """Within a layer too: the graph of every import is acyclic."""
    graph = {m: {t for t, _line, _n in _imports(m) if t in MODULES and t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def dfs(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t) :] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                dfs(t, stack + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m, [m])


def test_the_import_parser() -> None:
    """The parser of imports finds relative, nested and `from pkg import module` forms."""
    got = _imports("ruleopt.engine.reference")
    assert ("ruleopt.engine.values", got[-1][1], False) in got  # `from . import values`
    lazy = [t for t, _line, nested in _imports("ruleopt.profile.writers") if nested]
    assert lazy == ["ruleopt.profile.plots"]
    assert _layer_of("ruleopt.engine.compile") > _layer_of("ruleopt.events.table")


def test_readme_lists_the_layers_in_order() -> None:
    """The README's architecture section names the same layers, in the same order."""
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"^\d+\. (\w+):", readme, re.M)
    named = [name for name, _patterns in LAYERS]
    assert found == named
