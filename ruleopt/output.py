"""Falco-style alert output: one renderer, two ways to reach it.

An alert line is what Falco prints: ``<time>: <Priority> <output>``, where ``output`` is
the rule's format with every ``%field`` token replaced by the event's value (``<NA>``
when absent). Both output paths below read the format through the one tokenizer
(``ruleopt.output_tokens``, libsinsp 2022's rules for what a token is) and render through
the same functions (``render_token``, ``format_time``, ``alert_line``, ``alert_json``), so
byte-identity between them is a property of the design, and the tests check it anyway.
A format libsinsp refuses (``%%``, an unknown field, a trailing ``%``) is refused by both,
with the rule named.

- ``LuaOutput`` is the seed-era path the study measured: rule metadata lives in an
  embedded Lua engine, and on every alert Falco called into Lua to fetch the rule's name,
  priority and format, and built the output there, calling back for every field.
- ``CachedOutput`` is proposal 3: formats are parsed once at start-up into formatters kept
  in a list indexed by rule id (a direct-access array); an alert is one index and a join.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ruleopt.engine.text import from_bytes, to_bytes
from ruleopt.errors import RuleoptError
from ruleopt.output_tokens import FieldToken, FormatError, apply_width, field_tokens, tokenize
from ruleopt.rules.model import priority_name

NA = "<NA>"


def normalize_priority(text: str) -> str:
    """Falco's printed name for a rule's priority (``WARNING`` → ``Warning``)."""
    return priority_name(str(text)) or str(text).strip().capitalize()


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


def alert_json(
    time_ns: int | None, rule: str, priority: str, text: str, fields: Mapping[str, str]
) -> str:
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
    """The fields (``proc.aname[2]`` with its argument, as written) a format prints."""
    return [t.text for t in field_tokens(fmt or "")]


@dataclass(frozen=True)
class Alert:
    rule_id: int
    evt_num: int
    line: str
    json: str | None = None  # only with json_output, as Falco's json_output option


Getter = Callable[[str], object]


@dataclass(frozen=True)
class Formatter:
    """A format tokenized once (``ruleopt.output_tokens``): literal pieces and field
    tokens, alternating (``literals`` has one more item than ``tokens``)."""

    literals: tuple[str, ...]
    tokens: tuple[FieldToken, ...]

    @classmethod
    def parse(cls, fmt: str) -> Formatter:
        literals, tokens = [""], []
        for piece in tokenize(fmt or ""):
            if isinstance(piece, FieldToken):
                tokens.append(piece)
                literals.append("")
            else:
                literals[-1] += piece
        return cls(tuple(literals), tuple(tokens))

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields as written (the JSON ``output_fields`` keys)."""
        return tuple(t.text for t in self.tokens)

    def render_text(self, get: Getter) -> str:
        """The formatted output alone: what a text alert needs, nothing more."""
        lits = self.literals
        parts = [lits[0]]
        for i, tok in enumerate(self.tokens):
            parts.append(render_token(tok, get))
            parts.append(lits[i + 1])
        return "".join(parts)

    def render(self, get: Getter) -> tuple[str, dict[str, str]]:
        values = [render_value(get(t.key)) for t in self.tokens]
        parts = [self.literals[0]]
        for tok, value, lit in zip(self.tokens, values, self.literals[1:], strict=True):
            parts.append(apply_width(value, tok.width))
            parts.append(lit)
        return "".join(parts), {t.text: v for t, v in zip(self.tokens, values, strict=True)}


def render_token(tok: FieldToken, get: Getter) -> str:
    """One token as it prints in a text alert: the value, cut or padded to its width."""
    return apply_width(render_value(get(tok.key)), tok.width)


@dataclass(frozen=True)
class RuleMeta:
    name: str
    priority: str
    output: str
    file: str | None = None
    line: int | None = None


def _parse_format(meta: RuleMeta) -> Formatter:
    """The rule's formatter, or a RuleoptError naming the rule (libsinsp 2022 refuses
    the format, so Falco would not load the rule)."""
    try:
        return Formatter.parse(meta.output)
    except FormatError as err:
        raise RuleoptError(
            f"rule '{meta.name}': {err.message} in {meta.output!r}",
            file=meta.file,
            line=meta.line,
            hint=err.hint,
        ) from None


def _clean_output(text: str) -> str:
    # YAML folded blocks leave a trailing newline; Falco trims the format.
    return " ".join((text or "").split()) if "\n" in (text or "") else (text or "").strip()


def rule_metas(rules: Sequence) -> dict[int, RuleMeta]:
    """Metadata for output, by rule id, from loaded ``Rule`` objects."""
    return {
        r.id: RuleMeta(
            r.name,
            normalize_priority(r.priority),
            _clean_output(r.output),
            getattr(r, "file", None),
            getattr(r, "line", None),
        )
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
            self._fmts[rid] = _parse_format(meta)

    def alert(
        self,
        rule_id: int,
        evt_num: int,
        time_ns: int | None,
        get: Getter,
        *,
        json_output: bool = False,
    ) -> Alert:
        prio = self._prios[rule_id]
        if not json_output:
            text = self._fmts[rule_id].render_text(get)
            return Alert(rule_id, evt_num, alert_line(time_ns, prio, text))
        text, fields = self._fmts[rule_id].render(get)
        return Alert(
            rule_id,
            evt_num,
            alert_line(time_ns, prio, text),
            alert_json(time_ns, self._names[rule_id], prio, text, fields),
        )


# The Lua side of the seed-era path: rule metadata is a Lua table filled at start-up, and
# every alert asks Lua for the rule and builds its output there, piece by piece. The
# pieces are the one tokenizer's (``ruleopt.output_tokens``): literal strings, and token
# numbers that Lua asks Python to render (the event's values live on the Python side).
_LUA_SOURCE = r"""
local rules = {}
function load_rule(id, name, priority, pieces)
  rules[id] = {name = name, priority = priority, pieces = pieces}
end
function handle_event(id, get)
  local r = rules[id]
  local p = r.pieces
  local out = {}
  for i = 1, #p do
    local x = p[i]
    if type(x) == "number" then out[i] = get(x) else out[i] = x end
  end
  return r.name, r.priority, table.concat(out)
end
"""


class LuaOutput:
    """The seed-era baseline: one call into an embedded Lua engine per alert."""

    name = "lua"

    def __init__(self, metas: Mapping[int, RuleMeta]) -> None:
        try:
            import lupa
        except ImportError as exc:  # pragma: no cover - lupa is a hard dependency
            raise RuleoptError(
                "the Lua output path needs the 'lupa' package", hint="run: bash setup.sh"
            ) from exc
        # encoding=None: Lua strings are bytes both ways, as in Falco's Lua; values that
        # are not UTF-8 (surrogate-escaped text) cross unchanged instead of raising.
        self._lua = lupa.LuaRuntime(unpack_returned_tuples=True, encoding=None)
        self._lua.execute(to_bytes(_LUA_SOURCE))
        load = self._lua.globals()[b"load_rule"]
        self._tokens: dict[int, tuple[FieldToken, ...]] = {}
        for rid, meta in metas.items():
            fmt = _parse_format(meta)
            pieces: list[bytes | int] = []
            for k, lit in enumerate(fmt.literals):
                if lit:
                    pieces.append(to_bytes(lit))
                if k < len(fmt.tokens):
                    pieces.append(k)
            self._tokens[rid] = fmt.tokens
            load(rid, to_bytes(meta.name), to_bytes(meta.priority), self._lua.table(*pieces))
        self._handle = self._lua.globals()[b"handle_event"]

    def alert(
        self,
        rule_id: int,
        evt_num: int,
        time_ns: int | None,
        get: Getter,
        *,
        json_output: bool = False,
    ) -> Alert:
        tokens = self._tokens[rule_id]
        fields: dict[str, str] = {}

        def resolve(k: int) -> bytes:
            tok = tokens[k]
            value = render_value(get(tok.key))
            fields[tok.text] = value
            return to_bytes(apply_width(value, tok.width))

        name, prio, text = (from_bytes(x) for x in self._handle(rule_id, resolve))
        line = alert_line(time_ns, prio, text)
        if not json_output:
            return Alert(rule_id, evt_num, line)
        return Alert(rule_id, evt_num, line, alert_json(time_ns, name, prio, text, fields))


OUTPUTS = {"lua": LuaOutput, "cached": CachedOutput}
