"""Input mutators shared by the fuzz families: bytes, lines, and YAML-aware edits.

Each mutator takes ``(rng, data)`` and returns ``(data, note)``; ``note`` is a short
description for the failure report. Sizes stay small by default (a few hundred bytes of
change) so that a failing input is quick to read.
"""

from __future__ import annotations

import random
import re

# ----------------------------------------------------------------------------- bytes


def flip_bits(rng: random.Random, data: bytes, lo: int = 0) -> tuple[bytes, str]:
    if len(data) <= lo:
        return data, "flip: nothing to flip"
    buf = bytearray(data)
    k = rng.choice((1, 1, 2, 4, 8))
    where = []
    for _ in range(k):
        i = rng.randrange(lo, len(buf))
        buf[i] ^= 1 << rng.randrange(8)
        where.append(i)
    return bytes(buf), f"flipped bits at byte(s) {sorted(where)}"


def set_bytes(rng: random.Random, data: bytes, lo: int = 0) -> tuple[bytes, str]:
    """Overwrite a few bytes with interesting values (0x00, 0xff, 0x7f, 0x80)."""
    if len(data) <= lo:
        return data, "set: nothing"
    buf = bytearray(data)
    i = rng.randrange(lo, len(buf))
    n = rng.choice((1, 2, 4, 8))
    val = rng.choice((0x00, 0xFF, 0x7F, 0x80))
    buf[i : i + n] = bytes([val]) * len(buf[i : i + n])
    return bytes(buf), f"set {n} byte(s) at {i} to {val:#x}"


def truncate(rng: random.Random, data: bytes, lo: int = 0) -> tuple[bytes, str]:
    if len(data) <= 1:
        return data, "truncate: too short"
    cut = rng.randrange(min(lo, len(data) - 1), len(data))
    return data[:cut], f"truncated to {cut} of {len(data)} bytes"


def delete_range(rng: random.Random, data: bytes, lo: int = 0) -> tuple[bytes, str]:
    if len(data) <= lo + 1:
        return data, "delete: too short"
    i = rng.randrange(lo, len(data))
    n = rng.randint(1, 64)
    return data[:i] + data[i + n :], f"deleted {n} byte(s) at {i}"


def duplicate_range(rng: random.Random, data: bytes, lo: int = 0) -> tuple[bytes, str]:
    if len(data) <= lo + 1:
        return data, "duplicate: too short"
    i = rng.randrange(lo, len(data))
    n = rng.randint(1, 256)
    return data[:i] + data[i : i + n] + data[i:], f"duplicated {n} byte(s) at {i}"


BYTE_MUTATORS = (flip_bits, set_bytes, truncate, delete_range, duplicate_range)


# ----------------------------------------------------------------------------- lines


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def delete_lines(rng: random.Random, text: str) -> tuple[str, str]:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    n = rng.choice((1, 1, 2, 5))
    return "".join(lines[:i] + lines[i + n :]), f"deleted {n} line(s) at line {i + 1}"


def duplicate_lines(rng: random.Random, text: str) -> tuple[str, str]:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    n = rng.choice((1, 1, 3, 8))
    return "".join(lines[: i + n] + lines[i : i + n] + lines[i + n :]), (
        f"duplicated {n} line(s) at line {i + 1}"
    )


def swap_lines(rng: random.Random, text: str) -> tuple[str, str]:
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines), f"swapped lines {i + 1} and {j + 1}"


def reindent_line(rng: random.Random, text: str) -> tuple[str, str]:
    lines = _lines(text)
    i = rng.randrange(len(lines))
    if rng.random() < 0.5:
        lines[i] = lines[i].lstrip(" ")
        what = "dedented"
    else:
        lines[i] = " " * rng.choice((1, 2, 3, 8)) + lines[i]
        what = "indented"
    return "".join(lines), f"{what} line {i + 1}"


def insert_char(rng: random.Random, text: str) -> tuple[str, str]:
    i = rng.randrange(len(text) + 1)
    c = rng.choice(
        [
            ":",
            "-",
            "[",
            "]",
            "{",
            "}",
            "'",
            '"',
            "#",
            "&",
            "*",
            "!",
            "|",
            ">",
            "%",
            "@",
            "`",
            "\t",
            "\n",
            "\x00",
            "\x85",
            "\u2028",
            "\ufeff",
            "\\",
            ",",
            "?",
            "<<",
        ]
    )
    return text[:i] + c + text[i:], f"inserted {c!r} at offset {i}"


LINE_MUTATORS = (delete_lines, duplicate_lines, swap_lines, reindent_line, insert_char)


# ----------------------------------------------------------------------------- YAML values

# A ``key: value`` line of a rules file (list items and block scalars excluded).
_KV = re.compile(r"^(?P<ind>[ -]*)(?P<key>[A-Za-z_]+):(?P<sep> +)(?P<val>\S.*)$", re.M)
_KEYS = (
    "rule",
    "macro",
    "list",
    "condition",
    "output",
    "priority",
    "desc",
    "enabled",
    "items",
    "append",
    "override",
    "tags",
    "source",
    "exceptions",
    "required_engine_version",
    "required_plugin_versions",
    "name",
    "fields",
    "comps",
    "values",
    "warn_evttypes",
    "skip-if-unknown-filter",
)

# Values of every YAML type, tags included: typed tags with bad text, Python tags that
# would run code if the loader were unsafe (they would create the canary file PWNED),
# unknown tags, explicit verbatim tags.
TYPED_VALUES = (
    "123",
    "-1",
    "0x1F",
    "1.5e300",
    ".nan",
    ".inf",
    "true",
    "False",
    "null",
    "~",
    "''",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
    "[[a]]",
    "'2020-01-01'",
    "2020-01-01",
    "2020-99-99",
    "!!bool x",
    "!!int abc",
    "!!float abc",
    "!!timestamp 2020-99-99",
    "!!binary '#'",
    "!!null x",
    "!!str",
    "!!set {a: 1}",
    "!!omap [a]",
    "!!pairs [a]",
    "!!merge x",
    "!!seq x",
    "!!map x",
    "!!binary aGVsbG8=",
    "!!int 99999999999999999999999",
    "!!python/object/apply:builtins.open ['PWNED', 'w']",
    "!!python/object/new:builtins.open ['PWNED', 'w']",
    "!!python/name:os.system",
    "!!python/tuple [a]",
    "!!python/bytes x",
    "!unknown x",
    "!<tag:yaml.org,2002:str> x",
    "!<!foo> x",
    "!foo [a]",
    "! x",
    "&a x",
    "*undefined_alias",
    "<<",
    "'\\x00'",
    '"\\0"',
    '"\\ud800"',
    '"\\U0010FFFF"',
    "|\n  block",
    ">-\n  folded",
    "? complex\n: key",
    "@reserved",
    "`reserved",
)


def _kv_matches(text: str) -> list[re.Match]:
    return list(_KV.finditer(text))


def change_value(rng: random.Random, text: str) -> tuple[str, str]:
    """Replace one scalar value with a value of another YAML type or a tagged value."""
    ms = _kv_matches(text)
    if not ms:
        return insert_char(rng, text)
    m = rng.choice(ms)
    new = rng.choice(TYPED_VALUES)
    if "\n" in new:
        ind = " " * (len(m.group("ind")) + 2)
        new = new.replace("\n", "\n" + ind)
    out = text[: m.start("val")] + new + text[m.end("val") :]
    return out, f"{m.group('key')}: {m.group('val')[:30]!r} -> {new!r}"


def change_key(rng: random.Random, text: str) -> tuple[str, str]:
    """Rename a key (to another known key, an unknown one, a non-string key)."""
    ms = _kv_matches(text)
    if not ms:
        return insert_char(rng, text)
    m = rng.choice(ms)
    new = rng.choice((*_KEYS, "unknown_key", "1", "null", "[a]", "? x", "<<", "Rule"))
    out = text[: m.start("key")] + new + text[m.end("key") :]
    return out, f"key {m.group('key')!r} -> {new!r}"


def alias_value(rng: random.Random, text: str) -> tuple[str, str]:
    """Anchor one value and alias it from another place (also merge keys ``<<: *a``)."""
    ms = _kv_matches(text)
    if len(ms) < 2:
        return change_value(rng, text)
    a, b = sorted(rng.sample(ms, 2), key=lambda m: m.start())
    how = rng.choice(("alias", "merge", "self"))
    if how == "merge":
        # ``<<: *a`` as a sibling key of b's mapping.
        ind = " " * len(b.group("ind"))
        line = f"{ind}<<: *fz\n"
        start = text.rfind("\n", 0, b.start()) + 1
        body = text[:start] + line + text[start:]
        body = body[: a.start("val")] + "&fz " + body[a.start("val") :]
        return body, f"anchored {a.group('key')} and merged it before {b.group('key')}"
    if how == "self":
        out = text[: a.start("val")] + "&fz [*fz]" + text[a.end("val") :]
        return out, f"{a.group('key')}: a self-referencing alias"
    out = text[: b.start("val")] + "*fz" + text[b.end("val") :]
    out = out[: a.start("val")] + "&fz " + out[a.start("val") :]
    return out, f"{b.group('key')} aliases {a.group('key')}'s value"


def deep_value(rng: random.Random, text: str) -> tuple[str, str]:
    """A deeply nested flow value (sequence or mapping) in place of one scalar."""
    ms = _kv_matches(text)
    if not ms:
        return insert_char(rng, text)
    m = rng.choice(ms)
    # Mostly moderate: PyYAML takes seconds on thousands of levels (a finding of its own,
    # kept rare so that the suite stays within its budget).
    depth = rng.choice((10, 50, 200)) if rng.random() < 0.95 else rng.choice((1000, 3000))
    kind = rng.choice(("seq", "map", "seq-open"))
    if kind == "seq":
        new = "[" * depth + "x" + "]" * depth
    elif kind == "map":
        new = "{a: " * depth + "x" + "}" * depth
    else:
        new = "[" * depth  # unclosed
    out = text[: m.start("val")] + new + text[m.end("val") :]
    return out, f"{m.group('key')}: {kind} nested {depth} deep"


def huge_value(rng: random.Random, text: str) -> tuple[str, str]:
    """A very long scalar or a long list in place of one value."""
    ms = _kv_matches(text)
    if not ms:
        return insert_char(rng, text)
    m = rng.choice(ms)
    n = rng.choice((1000, 5000, 20000)) if rng.random() < 0.9 else 200000
    kind = rng.choice(("string", "list", "condition"))
    if kind == "string":
        new = "a" * n
    elif kind == "list":
        new = "[" + ", ".join(f"v{i}" for i in range(n // 10)) + "]"
    else:
        new = " or ".join(f"proc.name = p{i}" for i in range(n // 20))
    out = text[: m.start("val")] + new + text[m.end("val") :]
    return out, f"{m.group('key')}: {kind} of about {n} chars"


def extra_document(rng: random.Random, text: str) -> tuple[str, str]:
    """Several YAML documents, a null document, a directive, or a top-level scalar."""
    what = rng.choice(
        (
            "---\n",
            "--- \n...\n",
            "%YAML 1.1\n---\n",
            "%TAG ! tag:x,2000:\n---\n",
            "null\n",
            "just a scalar\n",
            "- 1\n- 2\n",
            "{a: 1}\n",
        )
    )
    if rng.random() < 0.5:
        return what + text, f"prepended {what!r}"
    return text + what, f"appended {what!r}"


YAML_MUTATORS = (
    change_value,
    change_value,
    change_key,
    alias_value,
    deep_value,
    huge_value,
    extra_document,
)


# ----------------------------------------------------------------------------- helpers


def top_level_items(text: str) -> list[str]:
    """Split a rules file into its top-level ``- `` items (comments stay with the next)."""
    items: list[str] = []
    cur: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("- ") and any(not c.startswith("#") and c.strip() for c in cur):
            items.append("".join(cur))
            cur = []
        cur.append(line)
    if cur:
        items.append("".join(cur))
    return items
