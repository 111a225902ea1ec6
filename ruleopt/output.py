"""Falco-style alert output: one renderer, two ways to reach it.

An alert line is what Falco prints: ``<time>: <Priority> <output>``, where ``output`` is
the rule's format with every ``%field`` token replaced by the event's value (``<NA>``
when absent). Both output paths below render through the same functions
(``render_value``, ``format_time``, ``alert_line``, ``alert_json``), so byte-identity
between them is a property of the design, and the tests check it anyway.

- ``LuaOutput`` is the seed-era path the study measured: rule metadata lives in an
  embedded Lua engine, and on every alert Falco called into Lua to fetch the rule's name,
  priority and format, then resolved the format's ``%field`` tokens from scratch.
- ``CachedOutput`` is proposal 3: formats are parsed once at start-up into formatters kept
  in a list indexed by rule id (a direct-access array); an alert is one index and a join.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ruleopt.engine.text import from_bytes, to_bytes

# Falco's priority names as it prints them, keyed by every spelling rules files use.
PRIORITIES: dict[str, str] = {
    "emergency": "Emergency",
    "alert": "Alert",
    "critical": "Critical",
    "error": "Error",
    "warning": "Warning",
    "notice": "Notice",
    "informational": "Informational",
    "info": "Informational",
    "debug": "Debug",
}

# A format token: %field, %field[arg] or %field.with.dots; `%%` is not special in Falco.
# The name ends on a letter, digit or underscore, so "file %fd.name." keeps its full stop.
TOKEN = re.compile(r"%([A-Za-z_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)(\[[^\]]*\])?")

NA = "<NA>"


def normalize_priority(text: str) -> str:
    """Falco's printed name for a rule's priority (``WARNING`` → ``Warning``)."""
    return PRIORITIES.get(str(text).strip().lower(), str(text).strip().capitalize())


def render_value(value: object) -> str:
    """How one field value prints in an alert (``<NA>`` for an absent field)."""
    if value.__class__ is str:  # the common case first: this runs for every field
        return value
    if value is None:
        return NA
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        # A multi-valued field without an index prints its first value, as sinsp does.
        return render_value(value[0]) if value else NA
    return str(value)


@functools.lru_cache(maxsize=4096)
def _hms(secs: int) -> str:
    # Alerts come in bursts within one second; the clock part is formatted once per second.
    secs %= 86400
    return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"


def format_time(ns: int | None) -> str:
    """``HH:MM:SS.nnnnnnnnn`` in UTC, the prefix Falco puts on every alert line."""
    if ns is None:
        return "00:00:00.000000000"
    secs, frac = divmod(int(ns), 1_000_000_000)
    return f"{_hms(secs)}.{frac:09d}"


def alert_line(time_ns: int | None, priority: str, text: str) -> str:
    return f"{format_time(time_ns)}: {priority} {text}"


def alert_json(time_ns: int | None, rule: str, priority: str, text: str,
               fields: Mapping[str, str]) -> str:
    """Falco's ``json_output`` shape, with keys sorted so equal alerts are equal bytes."""
    doc = {
        "output": alert_line(time_ns, priority, text),
        "priority": priority,
        "rule": rule,
        "time_ns": time_ns,
        "output_fields": dict(sorted(fields.items())),
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def output_fields(fmt: str) -> list[str]:
    """The field names (``proc.aname[2]`` with its argument) a format refers to."""
    return [m.group(1) + (m.group(2) or "") for m in TOKEN.finditer(fmt or "")]


@dataclass(frozen=True)
class Alert:
    rule_id: int
    evt_num: int
    line: str
    json: str | None = None  # only with json_output, as Falco's json_output option


Getter = Callable[[str], object]


@dataclass(frozen=True)
class Formatter:
    """A format parsed once: literal pieces and field names, alternating."""

    literals: tuple[str, ...]
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, fmt: str) -> Formatter:
        literals, fields, pos = [], [], 0
        for m in TOKEN.finditer(fmt or ""):
            literals.append(fmt[pos:m.start()])
            fields.append(m.group(1) + (m.group(2) or ""))
            pos = m.end()
        literals.append((fmt or "")[pos:])
        return cls(tuple(literals), tuple(fields))

    def render_text(self, get: Getter) -> str:
        """The formatted output alone: what a text alert needs, nothing more."""
        lits = self.literals
        parts = [lits[0]]
        for i, f in enumerate(self.fields):
            parts.append(render_value(get(f)))
            parts.append(lits[i + 1])
        return "".join(parts)

    def render(self, get: Getter) -> tuple[str, dict[str, str]]:
        values = [render_value(get(f)) for f in self.fields]
        parts = [self.literals[0]]
        for value, lit in zip(values, self.literals[1:], strict=True):
            parts.append(value)
            parts.append(lit)
        return "".join(parts), dict(zip(self.fields, values, strict=True))


@dataclass(frozen=True)
class RuleMeta:
    name: str
    priority: str
    output: str


def _clean_output(text: str) -> str:
    # YAML folded blocks leave a trailing newline; Falco trims the format.
    return " ".join((text or "").split()) if "\n" in (text or "") else (text or "").strip()


def rule_metas(rules: Sequence) -> dict[int, RuleMeta]:
    """Metadata for output, by rule id, from loaded ``Rule`` objects."""
    return {
        r.id: RuleMeta(r.name, normalize_priority(r.priority), _clean_output(r.output))
        for r in rules
    }


class CachedOutput:
    """Proposal 3: precompiled formatters in a direct-access array indexed by rule id."""

    name = "cached"

    def __init__(self, metas: Mapping[int, RuleMeta]) -> None:
        size = max(metas, default=-1) + 1
        self._names: list[str | None] = [None] * size
        self._prios: list[str | None] = [None] * size
        self._fmts: list[Formatter | None] = [None] * size
        for rid, meta in metas.items():
            self._names[rid] = meta.name
            self._prios[rid] = meta.priority
            self._fmts[rid] = Formatter.parse(meta.output)

    def alert(self, rule_id: int, evt_num: int, time_ns: int | None, get: Getter, *,
              json_output: bool = False) -> Alert:
        prio = self._prios[rule_id]
        if not json_output:
            text = self._fmts[rule_id].render_text(get)
            return Alert(rule_id, evt_num, alert_line(time_ns, prio, text))
        text, fields = self._fmts[rule_id].render(get)
        return Alert(rule_id, evt_num, alert_line(time_ns, prio, text),
                     alert_json(time_ns, self._names[rule_id], prio, text, fields))


# The Lua side of the seed-era path: rule metadata is a Lua table filled at start-up, and
# every alert asks Lua for the rule and re-scans its format for %field tokens.
_LUA_SOURCE = r"""
local rules = {}
function load_rule(id, name, priority, output)
  rules[id] = {name = name, priority = priority, output = output}
end
function handle_event(id, get)
  local r = rules[id]
  local fields = {}
  local out = string.gsub(r.output, PATTERN, function(tok)
    local v = get(tok)
    fields[#fields + 1] = tok
    fields[#fields + 1] = v
    return v
  end)
  return r.name, r.priority, out, fields
end
"""


class LuaOutput:
    """The seed-era baseline: one call into an embedded Lua engine per alert."""

    name = "lua"

    def __init__(self, metas: Mapping[int, RuleMeta]) -> None:
        try:
            import lupa
        except ImportError as exc:  # pragma: no cover - lupa is a hard dependency
            from ruleopt.errors import RuleoptError

            raise RuleoptError("the Lua output path needs the 'lupa' package",
                               hint="run: bash setup.sh") from exc
        # encoding=None: Lua strings are bytes both ways, as in Falco's Lua; values that
        # are not UTF-8 (surrogate-escaped text) cross unchanged instead of raising.
        self._lua = lupa.LuaRuntime(unpack_returned_tuples=True, encoding=None)
        # Lua patterns cannot express the lookahead of TOKEN, so Lua finds candidate tokens
        # and a Python resolver splits each candidate exactly as TOKEN would.
        self._lua.execute(to_bytes(_LUA_SOURCE.replace("PATTERN", "'%%[%w_%.%[%]]+'")))
        load = self._lua.globals()[b"load_rule"]
        for rid, meta in metas.items():
            load(rid, to_bytes(meta.name), to_bytes(meta.priority), to_bytes(meta.output))
        self._handle = self._lua.globals()[b"handle_event"]

    def alert(self, rule_id: int, evt_num: int, time_ns: int | None, get: Getter, *,
              json_output: bool = False) -> Alert:
        fields: dict[str, str] = {}

        def resolve(raw: bytes) -> bytes:
            # `candidate` is "%name[arg]..." as Lua's greedy pattern saw it; re-tokenise it
            # with the one TOKEN grammar and render any trailing text unchanged.
            candidate = from_bytes(raw)
            out, pos = [], 0
            for m in TOKEN.finditer(candidate):
                out.append(candidate[pos:m.start()])
                key = m.group(1) + (m.group(2) or "")
                val = render_value(get(key))
                fields[key] = val
                out.append(val)
                pos = m.end()
            out.append(candidate[pos:])
            return to_bytes("".join(out))

        name, prio, text, _ = (from_bytes(x) if isinstance(x, bytes) else x
                               for x in self._handle(rule_id, resolve))
        line = alert_line(time_ns, prio, text)
        if not json_output:
            return Alert(rule_id, evt_num, line)
        return Alert(rule_id, evt_num, line, alert_json(time_ns, name, prio, text, fields))


OUTPUTS = {"lua": LuaOutput, "cached": CachedOutput}
