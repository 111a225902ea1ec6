"""Fuzz the condition parser (and what runs a parsed condition) with token soup.

Conditions are built from the grammar's own tokens (fields, operators, keywords,
parentheses, quoted and bare values, lists, transformers, macro and list names), either
as free soup or as a valid expression with one token changed. Each goes into a small
rules file (as a rule's or a macro's condition) and through ``ruleopt check``; a share
also runs ``ruleopt compare`` on a few JSONL events, so a condition that parses also
meets the evttype resolver, the compiler, the Cython core and the equivalence verdict.
"""

from __future__ import annotations

import json
import random

import pytest

from . import fuzzlib
from .fuzzlib import Case

CASES = 650
COMPARE_SHARE = 0.15

FIELDS = (
    "proc.name",
    "proc.pname",
    "proc.cmdline",
    "proc.pid",
    "proc.aname",
    "proc.aname[2]",
    "proc.aname[0]",
    "proc.apid[1]",
    "proc.env[HOME]",
    "fd.name",
    "fd.directory",
    "fd.filename",
    "fd.typechar",
    "fd.num",
    "fd.port",
    "fd.sport",
    "fd.ip",
    "fd.net",
    "fd.cip",
    "fd.proto",
    "evt.type",
    "evt.dir",
    "evt.num",
    "evt.rawres",
    "evt.res",
    "evt.arg.flags",
    "evt.arg[0]",
    "evt.arg.name",
    "evt.rawarg.res",
    "evt.is_open_write",
    "evt.is_open_read",
    "user.name",
    "user.uid",
    "container.id",
    "container.image.repository",
    "k8s.ns.name",
    "ka.verb",
    "evt.time",
    "evt.latency",
    "proc.exepath",
    "proc.sname",
    "thread.tid",
    "unknown.field",
    "proc",
    "proc.",
    "proc.aname[",
    "proc.aname[-1]",
    "proc.aname[99999999999]",
    'evt.arg["x"]',
    "fd.name[1]",
    "evt.arg",
)
SCALAR_OPS = (
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
)
LIST_OPS = ("in", "intersects", "pmatch")
TRANSFORMERS = ("tolower(", "toupper(", "b64(", "basename(", "len(", "val(")
VALUES = (
    "cat",
    "/etc",
    "/etc/",
    "/tmp/*",
    "*",
    "80",
    "-1",
    "0",
    "0x10",
    "1.5",
    "1e309",
    "99999999999999999999",
    "18446744073709551616",
    "-9223372036854775809",
    "127.0.0.1",
    "10.0.0.0/8",
    "::1",
    "1.2.3.4/33",
    "true",
    "false",
    "open",
    "execve",
    "<",
    ">",
    "f",
    "http",
    "C:\\path",
    "a.b",
    "%",
    "\\",
    "[a]",
    "[",
    "]",
    "é",
    "\u200b",
    "a\tb",
    '"quoted"',
    "'single'",
    '"a\\"b"',
    "'a\\'b'",
    '""',
    "''",
    '"unterminated',
    "'x",
    '"\\x00"',
    '"\\u00e9"',
    "(",
    ")",
    "(a, b)",
    "()",
    "(a,)",
    "(,)",
    "((a))",
    "(a b)",
    "fz_list",
    "fz_macro",
    "not",
    "and",
    "or",
    "in",
    "exists",
    "(?i)x",
    "[a-",
    "a{99999}",
)
# Values and fields a valid expression draws from (odd ones stay for the perturbations).
SAFE_VALUES = (
    "cat",
    "/etc",
    "/etc/",
    "/tmp/*",
    "80",
    "-1",
    "0",
    "1.5",
    "127.0.0.1",
    "10.0.0.0/8",
    "true",
    "open",
    "execve",
    "f",
    '"quoted"',
    "'single'",
    '"a\\"b"',
    '""',
    "é",
    "99999999999999999999",
    "1e309",
    "0x10",
    "a.b",
    "C:\\path",
    "'c d'",
    "http",
)
STR_FIELDS = (
    "proc.name",
    "proc.cmdline",
    "fd.name",
    "fd.directory",
    "user.name",
    "container.id",
    "proc.aname[2]",
    "proc.aname",
    "evt.arg.name",
)
NAMES = ("fz_macro", "fz_list", "undefined_macro", "fz_macro_2")
KEYWORDS = ("and", "or", "not", "(", ")", ",", "not(", "and(", "or(")


def soup(rng: random.Random) -> str:
    pools = (
        FIELDS,
        SCALAR_OPS,
        LIST_OPS,
        TRANSFORMERS,
        VALUES,
        NAMES,
        KEYWORDS,
        KEYWORDS,
        ("exists",),
    )
    n = rng.randint(1, 14)
    out = []
    for _ in range(n):
        out.append(rng.choice(rng.choice(pools)))
        out.append(rng.choice((" ", " ", " ", "", "\t", "\n", "  ")))
    return "".join(out).strip() or "x"


def operand(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(STR_FIELDS)
    f = rng.choice(FIELDS[:43])
    if rng.random() < 0.8:
        return f
    f = rng.choice(STR_FIELDS)
    for _ in range(rng.choice((1, 1, 2))):
        f = f"{rng.choice(TRANSFORMERS[:5])}{f})"
    return f


def check(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return f"{operand(rng)} {rng.choice(SCALAR_OPS)} {rng.choice(SAFE_VALUES)}"
    if r < 0.7:
        items = ", ".join(rng.choice(SAFE_VALUES) for _ in range(rng.randint(0, 4)))
        rhs = rng.choice((f"({items})", "fz_list", "(fz_list)", f"({items}, fz_list)"))
        return f"{operand(rng)} {rng.choice(LIST_OPS)} {rhs}"
    if r < 0.8:
        return f"{operand(rng)} exists"
    if r < 0.9:
        return f"{operand(rng)} {rng.choice(SCALAR_OPS[:6])} val({rng.choice(FIELDS[:43])})"
    return rng.choice(("fz_macro", "fz_macro_2"))


def expr(rng: random.Random, depth: int = 0) -> str:
    r = rng.random()
    if depth > 3 or r < 0.35:
        return check(rng)
    if r < 0.5:
        return f"not {expr(rng, depth + 1)}"
    if r < 0.6:
        return f"({expr(rng, depth + 1)})"
    op = rng.choice((" and ", " or "))
    return op.join(expr(rng, depth + 1) for _ in range(rng.randint(2, 3)))


def perturb(rng: random.Random, text: str) -> tuple[str, str]:
    """A valid expression with one token inserted, deleted or replaced."""
    toks = text.split(" ")
    i = rng.randrange(len(toks))
    what = rng.random()
    all_toks = FIELDS + SCALAR_OPS + LIST_OPS + TRANSFORMERS + VALUES + NAMES + KEYWORDS
    if what < 0.2:
        toks.insert(i, rng.choice(all_toks))
        how = "inserted a token"
    elif what < 0.35 and len(toks) > 1:
        del toks[i]
        how = "deleted a token"
    elif what < 0.6:
        toks[i] = rng.choice(all_toks)
        how = "replaced a token"
    else:
        how = "unchanged"
    return " ".join(toks), how


def deep(rng: random.Random) -> str:
    """Deep nesting of parentheses or not, or a long chain: the recursion limits."""
    n = rng.choice((50, 300, 1000, 3000))
    kind = rng.choice(("parens", "not", "and", "unclosed", "transformers"))
    if kind == "parens":
        return "(" * n + "proc.name = x" + ")" * n
    if kind == "not":
        return "not " * n + "proc.name = x"
    if kind == "and":
        return " and ".join(f"proc.name = p{i}" for i in range(n))
    if kind == "unclosed":
        return "(" * n + "proc.name = x"
    return "tolower(" * n + "proc.name" + ")" * n + " = x"


def condition(rng: random.Random) -> tuple[str, str]:
    r = rng.random()
    if r < 0.45:
        return soup(rng), "soup"
    if r < 0.92:
        text, how = perturb(rng, expr(rng))
        return text, f"expression, {how}"
    return deep(rng), "deep"


def rules_file(cond: str, where: str) -> bytes:
    # JSON strings are valid YAML double-quoted scalars: any condition text goes in as is.
    c = json.dumps(cond)
    rule_cond = c if where == "rule" else json.dumps("evt.type = open and fz_macro_2")
    macro_cond = c if where == "macro" else json.dumps("proc.name = x")
    return f"""- list: fz_list
  items: [cat, "c d", /etc, "80"]
- macro: fz_macro
  condition: proc.name in (fz_list)
- macro: fz_macro_2
  condition: {macro_cond}
- rule: fz rule
  desc: fuzzed
  condition: {rule_cond}
  output: "fz %proc.name %fd.name"
  priority: WARNING
""".encode()


EVENTS = b"".join(
    json.dumps(e).encode() + b"\n"
    for e in (
        {"evt.type": "open", "proc.name": "cat", "fd.name": "/etc/passwd", "evt.dir": "<"},
        {"evt.type": "execve", "proc.name": "bash", "proc.cmdline": "bash -c x"},
        {"evt.type": "connect", "proc.name": "curl", "fd.name": "10.0.0.1:80->1.2.3.4:443"},
        {"evt.type": "open", "proc.name": "C D", "fd.name": "/tmp/x", "user.name": "root"},
    )
)


def make(rng: random.Random, case: int) -> Case:
    cond, how = condition(rng)
    where = rng.choice(("rule", "rule", "macro"))
    files = {"rules.yaml": rules_file(cond, where)}
    note = f"{how} in the {where}: {cond[:200]!r}"
    if rng.random() < COMPARE_SHARE:
        files["events.jsonl"] = EVENTS
        argv = [
            "compare",
            "rules.yaml",
            "events.jsonl",
            "--repeat",
            "1",
            "--json",
            "--strategies",
            "flat,shared,reorder,finer,cached-output",
        ]
        return Case(argv, files, locate="line", note=note)
    return Case(["check", "rules.yaml"], files, locate="line", note=note)


@pytest.mark.fuzz_family("parser")
def test_fuzz_parser(family: fuzzlib.Family) -> None:
    family.run_all(CASES, make)
    family.assert_clean()
