"""Rule exceptions as Falco builds them: ``validate_exception_info`` (default comps,
shapes that must agree) and ``build_rule_exception_infos`` (the condition text of one
exception, with Falco's quoting and parentheses), appended by the compiler as
`` and not (...)``."""

from __future__ import annotations

from ruleopt.rules.ast import ALL_OPS, LIST_OPS
from ruleopt.rules.load_collector import ExcInfo
from ruleopt.rules.load_positions import located


def quote_item(text: str) -> str:
    # Falco's quote_item: only items with a space get quotes, and only if not quoted yet.
    if " " in text and not text.startswith(('"', "'")):
        return f'"{text}"'
    return text


def paren_item(text: str) -> str:
    return text if text.startswith("(") else f"({text})"


def exception_text(ex: ExcInfo, rule: str) -> str:
    """The ``(...)`` Falco builds for one exception; ``""`` when it has no values."""
    where = f"rule '{rule}': exception '{ex.name}'"
    if isinstance(ex.fields, str):
        parts = []
        for val in ex.values:
            if isinstance(val, list):
                raise located(
                    f"{where}: expected values array to contain a list of strings",
                    ex.file,
                    ex.node,
                    hint="with a single field, each value is one string",
                )
            parts.append(quote_item(val))
        return f"({ex.fields} {ex.comps} ({', '.join(parts)}))" if parts else ""
    assert isinstance(ex.fields, list) and isinstance(ex.comps, list)
    alts = []
    for values in ex.values:
        items = values if isinstance(values, list) else []
        if len(items) != len(ex.fields):
            raise located(
                f"{where}: fields and values lists must have equal length",
                ex.file,
                ex.node,
                hint=f"each value needs {len(ex.fields)} entries, one per field",
            )
        checks = []
        for fld, comp, val in zip(ex.fields, ex.comps, items, strict=True):
            if isinstance(val, list):
                rhs = "(" + ", ".join(quote_item(v) for v in val) + ")"
            elif comp in LIST_OPS:
                rhs = paren_item(val)
            else:
                rhs = quote_item(val)
            checks.append(f"{fld} {comp} {rhs}")
        alts.append("(" + " and ".join(checks) + ")")
    return "(" + " or ".join(alts) + ")" if alts else ""


def validate_exception(ex: ExcInfo, rule: str) -> None:
    """Falco's ``validate_exception_info``: default comps, and shapes that must agree."""
    where = f"rule '{rule}': exception '{ex.name}'"
    if ex.fields is None:
        raise located(
            f"{where}: exception must have a fields property",
            ex.file,
            ex.node,
            hint="add `fields: [proc.name, ...]` or `fields: proc.name`",
        )
    if isinstance(ex.fields, list):
        if ex.comps is None:
            ex.comps = ["="] * len(ex.fields)
        if not isinstance(ex.comps, list) or len(ex.comps) != len(ex.fields):
            raise located(
                f"{where}: fields and comps lists must have equal length",
                ex.file,
                ex.node,
                hint="give one comparison operator per field",
            )
        for comp in ex.comps:
            if comp not in ALL_OPS:
                raise located(
                    f"{where}: '{comp}' is not a supported comparison operator",
                    ex.file,
                    ex.node,
                    hint="operators: " + ", ".join(ALL_OPS),
                )
    else:
        if ex.comps is None:
            ex.comps = "in"
        if isinstance(ex.comps, list):
            raise located(
                f"{where}: fields and comps must both be strings",
                ex.file,
                ex.node,
                hint="with `fields: <one field>`, use `comps: in` (or pmatch)",
            )
        if ex.comps not in ALL_OPS:
            raise located(
                f"{where}: '{ex.comps}' is not a supported comparison operator",
                ex.file,
                ex.node,
                hint="operators: " + ", ".join(ALL_OPS),
            )
        if ex.comps not in LIST_OPS:
            raise located(
                f"{where}: when fields is a single value, comps must be one of "
                f"({', '.join(LIST_OPS)})",
                ex.file,
                ex.node,
                hint="use the list form `fields: [f]` for other operators",
            )
