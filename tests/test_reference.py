"""The reference evaluator: every operator by hand, then against libsinsp itself (sysdig).

Expected values come from libsinsp's source and from `sysdig -r capture COND` runs with the
same 2022 libsinsp; the differential tests at the end run sysdig on a real capture.
"""

from __future__ import annotations

import subprocess

import pytest

from ruleopt.engine import values
from ruleopt.engine.reference import evaluate, prepare
from ruleopt.errors import RuleoptError
from ruleopt.fields import resolve
from ruleopt.rules import ast
from ruleopt.rules.parser import parse_condition

# An event like cat_write.scap's open exit (evt.num 141), plus a socket and a buffer.
EVENT = {
    "evt.num": 141,
    "evt.type": "open",
    "evt.dir": "<",
    "evt.cpu": 0,
    "evt.failed": False,
    "evt.rawres": 3,
    "evt.arg.flags": "O_RDONLY|O_CLOEXEC",
    "evt.arg.name": "/etc/ld.so.cache",
    "evt.rawarg.flags": 4097,
    "evt.rawarg.name": "/etc/ld.so.cache",
    "evt.buffer": b"\x7fELF\x02\x01",
    "proc.name": "cat",
    "proc.pname": "bash",
    "proc.aname[0]": "cat",
    "proc.aname[2]": "emacs",
    "proc.aname": ["bash", "emacs", "bash", "sshd", "sshd", "systemd"],
    "proc.apid": [11310, 11200, 1],
    "proc.cmdline": "cat /dev/null",
    "proc.env": "HOME=/root",
    "fd.name": "/etc/ld.so.cache",
    "fd.directory": "/etc",
    "fd.num": 3,
    "fd.sip": "127.0.0.1",
    "fd.cip": "10.1.2.3",
    "fd.ip": ["10.1.2.3", "127.0.0.1"],
    "fd.port": [47192, 80],
    "fd.sport": 80,
    "fd.snet": "127.0.0.1",
    "user.uid": 0,
}


def _no_lists(expr: ast.Expr) -> ast.Expr:
    """Expansion with no Falco lists defined: every bare list item is its own text."""
    if isinstance(expr, ast.Compare) and isinstance(expr.rhs, ast.ValueList):
        items = tuple(
            ast.Value(i.name) if isinstance(i, ast.ListRef) else i for i in expr.rhs.items
        )
        return ast.Compare(expr.lhs, expr.op, ast.ValueList(items))
    if isinstance(expr, ast.Not):
        return ast.Not(_no_lists(expr.operand))
    if isinstance(expr, (ast.And, ast.Or)):
        return type(expr)(tuple(_no_lists(i) for i in expr.items))
    return expr


def parse(cond: str) -> ast.Expr:
    return _no_lists(parse_condition(cond))


def ev(cond: str, event: dict | None = None) -> bool:
    expr = parse(cond)
    e = EVENT if event is None else event
    got = evaluate(expr, e)
    # The compile-once form must always agree with the oracle.
    assert prepare(expr)(e) is got, cond
    return got


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        # = == != on strings, numbers, bools
        ("proc.name = cat", True),
        ("proc.name == cat", True),
        ("proc.name = Cat", False),
        ("proc.name != cat", False),
        ("proc.name != bash", True),
        ("fd.num = 3", True),
        ("fd.num = 03", True),
        ("fd.num = +3", True),
        ('fd.num = " 3"', True),
        ("fd.num != 3", False),
        ("evt.failed = false", True),
        ("evt.failed = true", False),
        ("evt.failed != true", True),
        # ordering: numeric for numbers, strcmp for strings
        ("fd.num < 10", True),
        ("fd.num <= 3", True),
        ("fd.num > 3", False),
        ("fd.num >= 3", True),
        ("evt.rawres > -1", True),
        ("fd.name < /e", False),
        ("fd.name > /e", True),
        ("fd.name >= /etc/ld.so.cache", True),
        ("proc.name < d", True),
        ("proc.name > 9", True),  # "cat" > "9" as text
        # contains family
        ("fd.name contains ld.so", True),
        ("fd.name contains LD.SO", False),
        ("fd.name icontains LD.SO", True),
        ("fd.name icontains xyz", False),
        ("fd.name startswith /etc/", True),
        ("fd.name startswith etc", False),
        ("fd.name endswith .cache", True),
        ("fd.name endswith .so", False),
        ('fd.name contains ""', True),
        # glob: fnmatch without FNM_PATHNAME, so * crosses '/'
        ("fd.name glob /etc/*", True),
        ('fd.name glob "*/ld.so*"', True),
        ('fd.name glob "/etc/ld?so.[a-c]ache"', True),
        ('fd.name glob "/etc/ld.so.[!c]ache"', False),
        ('fd.name glob "/ETC/*"', False),
        ('fd.name iglob "/ETC/*"', True),
        ('fd.name glob "/etc/ld.so.+(c)ache"', False),
        # pmatch: whole path components
        ("fd.name pmatch (/etc)", True),
        ("fd.name pmatch (/etc/)", True),
        ("fd.name pmatch (etc)", True),
        ("fd.name pmatch (/et)", False),
        ("fd.name pmatch (/etc/ld.so.cache)", True),
        ("fd.name pmatch (/etc/ld.so.cache/x)", False),
        ("fd.name pmatch (/usr, /)", True),
        ("fd.name pmatch (/usr, /lib)", False),
        # in / intersects
        ("proc.name in (bash, cat)", True),
        ("proc.name in (bash, sh)", False),
        ("fd.num in (1, 3)", True),
        ("fd.num in (1, 2)", False),
        ("proc.name intersects (cat)", True),
        # regex: full match
        ('proc.cmdline regex "cat .*"', True),
        ('proc.cmdline regex "at"', False),
        # bytes
        ("evt.buffer contains ELF", True),
        ("evt.buffer bcontains 454c46", True),
        ("evt.buffer bstartswith 7f45", True),
        ("evt.buffer bstartswith 45", False),
        ("evt.buffer startswith ELF", False),
        # exists
        ("proc.name exists", True),
        ("fd.nameraw exists", False),
        # numeric width: 65536 as INT16 is 0 (sysdig: evt.cpu = 65536 matches cpu 0)
        ("evt.cpu = 65536", True),
        ("evt.cpu = -65536", True),
        # unsigned: "-1" wraps to the max value, overflow saturates
        ("user.uid = -1", False),
        ("evt.num < 99999999999999999999", True),
        ("evt.num > -1", False),
        # ports: service names
        ("fd.sport = http", True),
        ("fd.sport in (https, 80)", True),
        ("fd.sport > 1000", False),
        # addresses and networks
        ("fd.sip = 127.0.0.1", True),
        ("fd.sip != 127.0.0.1", False),
        ("fd.sip in (10.0.0.1, 127.0.0.1)", True),
        ("fd.sip = ::1", False),
        ("fd.sip < 127.0.0.2", True),
        ("fd.snet = 127.0.0.0/8", True),
        ("fd.snet != 10.0.0.0/8", True),
        ("fd.snet in (10.0.0.0/8, 192.168.0.0/16)", False),
        # dynamic: evt.rawarg takes the argument's type
        ("evt.rawarg.flags = 4097", True),
        ("evt.rawarg.flags > 2", True),
        ("evt.rawarg.name = /etc/ld.so.cache", True),
        ("evt.rawarg.name contains ld", True),
        ("evt.arg.flags contains O_RDONLY", True),
        ("evt.arg.flags = 4097", False),
        # fields with arguments
        ("proc.aname[2] = emacs", True),
        ("proc.aname[0] = cat", True),
        ("proc.aname[9] = x", False),
        ("proc.aname[9] != x", False),
        ('proc.env = "HOME=/root"', True),
    ],
)
def test_operator(cond: str, expected: bool) -> None:
    assert ev(cond) is expected


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        # proc.aname without index: ancestors only (the process itself excluded), ANY.
        # sysdig on cat_write.scap: `proc.aname = cat` 0 events, `= bash` 85, `!= bash` 85
        ("proc.aname = cat", False),
        ("proc.aname = bash", True),
        ("proc.aname = systemd", True),
        ("proc.aname != bash", True),
        ("proc.aname != cat", True),
        ("proc.aname in (emacs, zzz)", True),
        ("proc.aname in (cat, zzz)", False),
        ("proc.aname contains mac", True),
        ("proc.aname startswith ss", True),
        ("proc.aname exists", True),
        ("proc.apid = 1", True),
        ("proc.apid = 2", False),
        ("proc.apid > 11300", True),
        # fd.ip / fd.port: either end; != only when both differ (libsinsp compare_ip)
        ("fd.ip = 127.0.0.1", True),
        ("fd.ip = 10.1.2.3", True),
        ("fd.ip != 127.0.0.1", False),
        ("fd.ip != 8.8.8.8", True),
        ("fd.port = 80", True),
        ("fd.port != 80", False),
        ("fd.port in (22, 47192)", True),
        ("fd.port > 50000", False),
    ],
)
def test_multi_valued(cond: str, expected: bool) -> None:
    assert ev(cond) is expected


def test_multi_valued_list_fields_in_is_subset_intersects_is_any() -> None:
    event = {"ka.req.pod.containers.image": ["nginx", "busybox"]}
    assert ev("ka.req.pod.containers.image in (nginx, busybox, x)", event) is True
    assert ev("ka.req.pod.containers.image in (nginx)", event) is False
    assert ev("ka.req.pod.containers.image intersects (nginx)", event) is True
    assert ev("ka.req.pod.containers.image intersects (alpine)", event) is False
    assert ev("ka.req.pod.containers.image = busybox", event) is True
    assert ev("ka.req.pod.containers.image exists", {"ka.req.pod.containers.image": []}) is False


@pytest.mark.parametrize(
    "cond",
    [
        "fd.name = x",
        "fd.name != x",
        "fd.name contains x",
        "fd.name in (x)",
        "fd.name glob *",
        "fd.name pmatch (/)",
        "fd.num != 3",
        "fd.num < 1",
        "fd.sip != 1.2.3.4",
        "fd.name exists",
        "proc.aname != x",
        "proc.aname exists",
        "tolower(fd.name) != x",
        "len(fd.name) != 3",
    ],
)
def test_absent_field_is_false_for_every_operator(cond: str) -> None:
    # sysdig on cat_write.scap: `fd.name != x` matches only the 27 events with an fd.
    assert ev(cond, {"proc.name": "cat", "proc.aname": []}) is False
    # ... and None is the same as a missing key
    assert ev(cond, {"fd.name": None, "fd.num": None, "fd.sip": None, "proc.aname": None}) is False
    # `not` of an absent comparison is true
    assert evaluate(ast.Not(parse(cond)), {}) is True


def test_empty_list_is_the_empty_string_for_text_fields() -> None:
    # sysdig: `fd.name in ()` matches exactly the 3 events whose fd.name is "".
    assert ev("fd.name in ()", {"fd.name": ""}) is True
    assert ev("fd.name in ()", {"fd.name": "/dev/null"}) is False
    # libsinsp 2022 refuses `fd.num in ()`; we give it nothing to match.
    assert ev("fd.num in ()", {"fd.num": 0}) is False


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("tolower(proc.name) = cat", True),
        ("toupper(proc.name) = CAT", True),
        ("toupper(proc.name) = cat", False),
        ("basename(fd.name) = ld.so.cache", True),
        ("len(proc.name) = 3", True),
        ("len(proc.name) > 3", False),
        ("len(proc.aname) = 6", True),
        ("b64(proc.env) = x", False),  # not base64: the field is absent
        ("tolower(proc.aname) = emacs", True),
    ],
)
def test_transformers(cond: str, expected: bool) -> None:
    assert ev(cond) is expected


def test_b64_decodes() -> None:
    assert ev("b64(proc.cmdline) = hello", {"proc.cmdline": "aGVsbG8="}) is True


def test_val_reads_another_field_of_the_same_event() -> None:
    assert ev("proc.aname[0] = val(proc.name)") is True
    assert ev("proc.name = val(proc.pname)") is False
    assert ev("proc.name != val(proc.pname)") is True
    assert ev("fd.num = val(evt.rawres)") is True
    assert ev("proc.name = val(proc.pname)", {"proc.name": "cat"}) is False  # rhs absent
    with pytest.raises(RuleoptError, match="cannot compare"):
        ev("proc.name = val(fd.num)")


def test_boolean_structure_short_circuits() -> None:
    # The right side would raise if evaluated (unexpanded macro): and/or must stop early.
    e = ast.And((parse("proc.name = bash"), ast.MacroRef("m")))
    assert evaluate(e, EVENT) is False
    o = ast.Or((parse("proc.name = cat"), ast.MacroRef("m")))
    assert evaluate(o, EVENT) is True
    assert ev("not proc.name = bash and (fd.num = 1 or fd.num = 3)") is True
    assert evaluate(ast.BoolConst(True), {}) is True


def test_unexpanded_names_raise() -> None:
    with pytest.raises(RuleoptError, match="unresolved macro"):
        evaluate(ast.MacroRef("spawned_process"), EVENT)
    with pytest.raises(RuleoptError, match="unresolved list"):
        lst = ast.ValueList((ast.ListRef("shell_binaries"),))
        evaluate(ast.Compare(ast.Field("proc.name"), "in", lst), EVENT)
    with pytest.raises(RuleoptError):
        prepare(ast.MacroRef("x"))


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ("fd.num = abc", "not a valid number"),
        ("fd.num = 3x", "not a valid number"),
        ("fd.num = 0x3", "not a valid number"),
        ("fd.num = 3.5", "not a valid number"),
        ('fd.num = "3 "', "not a valid number"),
        ("evt.num in (131, abc)", "not a valid number"),
        ("evt.failed = 1", "unrecognized boolean"),
        ("evt.failed = TRUE", "unrecognized boolean"),
        ("fd.sip = 127.1", "unrecognized IPv4"),
        ("fd.sip = 127.0.0.0/8", "unrecognized IPv4"),
        ("fd.snet = 127.0.0.1", "unrecognized IP network"),
        ("fd.snet = 1.2.3.4/33", "netmask"),
        ("fd.sport = nosuchservice", "unrecognized port"),
        ("fd.num contains 3", "not supported"),
        ("fd.num pmatch (3)", "not supported"),
        ("fd.ip > 1.1.1.1", "not supported"),
        ("evt.buffer bcontains zz", "hex"),
        ("evt.rawarg.flags = O_RDONLY", "not a valid number"),
    ],
)
def test_bad_constants_are_rejected_like_libsinsp(cond: str, message: str) -> None:
    expr = parse(cond)
    with pytest.raises(RuleoptError) as exc:
        evaluate(expr, EVENT)
    assert message in exc.value.message
    if "number" in message:
        assert resolve(expr.lhs).info.name in exc.value.message  # names the field


def test_constant_parsing_values() -> None:
    info = resolve("fd.sport").info
    assert values.parse_constant(info, "80") == 80
    assert values.parse_constant(info, "") == 0
    assert values.parse_constant(resolve("evt.failed").info, "true") is True
    assert values.parse_constant(resolve("user.uid").info, "-1") == 2**32 - 1
    assert values.parse_constant(resolve("fd.num").info, "-99999999999999999999") == -(2**63)
    net = values.parse_constant(resolve("fd.snet").info, "10.1.2.3/8")
    assert str(net) == "10.0.0.0/8"
    assert values.pmatch("/usr/lib/x", [values.path_components("/usr//lib/")])


def test_glob_fallback_translation_agrees_with_libc() -> None:
    pats = [
        "*",
        "/etc/*",
        "*/libc*",
        "a?c",
        "[a-c]x",
        "[!a]x",
        "[^a]x",
        "\\*",
        "[",
        "[]]x",
        "*.[ch]",
    ]
    names = ["/etc/passwd", "abc", "bx", "ax", "*", "[", "]x", "/lib/libc.so", "x.c", ""]
    for p in pats:
        for n in names:
            fallback = values._glob_regex(p, False).fullmatch(n) is not None
            assert fallback == values.glob_match(p, n), (p, n)


# ----------------------------------------------------------- differential vs. libsinsp

CAPTURE = "/work/shared/traces/cat_write.scap"
_COLS = [
    "evt.num",
    "evt.type",
    "evt.dir",
    "evt.rawres",
    "evt.failed",
    "fd.name",
    "fd.num",
    "fd.directory",
    "fd.type",
    "evt.arg.name",
    "evt.arg.flags",
    "proc.name",
]
_ANAME = [f"proc.aname[{i}]" for i in range(10)]
_SEP = "\x1f"


def _events() -> list[dict]:
    fmt = "*" + _SEP.join(f"%{c}" for c in _COLS + _ANAME)
    out = subprocess.run(
        ["sysdig", "-r", CAPTURE, "-p", fmt], capture_output=True, text=True, check=True
    ).stdout
    events = []
    for line in out.splitlines():
        cells = line.split(_SEP)
        e: dict = {}
        for col, cell in zip(_COLS + _ANAME, cells, strict=True):
            if cell == "<NA>":
                continue
            if col in ("evt.num", "evt.rawres", "fd.num"):
                e[col] = int(cell)
            elif col == "evt.failed":
                e[col] = cell == "true"
            else:
                e[col] = cell
        # proc.aname without index = the ancestors, parent first, self excluded
        e["proc.aname"] = [e[a] for a in _ANAME[1:] if a in e]
        events.append(e)
    return events


def _sysdig_matches(cond: str) -> set[int]:
    out = subprocess.run(
        ["sysdig", "-r", CAPTURE, "-p", "%evt.num", cond],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {int(x) for x in out.split()}


DIFFERENTIAL = [
    "fd.name != x",
    "not fd.name = x",
    "fd.name exists",
    'fd.name = ""',
    "fd.name in ()",
    "fd.name in (/dev/null, /etc/ld.so.cache)",
    "fd.name pmatch (/etc, /usr/lib)",
    "fd.name pmatch (/)",
    'fd.name glob "*/libc*"',
    "fd.name icontains LD.SO",
    "fd.name < /e",
    "fd.name endswith .6 or evt.rawres >= 832",
    "fd.num > 2",
    "fd.num < 0",
    'fd.num = " 3"',
    "evt.rawres < 0",
    "evt.failed = true",
    "evt.failed != false",
    "evt.type in (open, close) and fd.directory = /etc",
    "evt.arg.name exists",
    "evt.arg.name != x",
    "evt.arg.flags contains O_RDONLY",
    "evt.dir = <",
    "proc.aname = bash",
    "proc.aname = cat",
    "proc.aname != cat",
    "proc.aname[2] = emacs and not proc.aname[30] exists",
    "proc.aname[30] != x",
]


def test_differential_against_sysdig_on_a_real_capture() -> None:
    events = _events()
    assert len(events) == 85
    for cond in DIFFERENTIAL:
        expr = parse(cond)
        fn = prepare(expr)
        ours = {e["evt.num"] for e in events if evaluate(expr, e)}
        assert ours == {e["evt.num"] for e in events if fn(e)}, cond
        assert ours == _sysdig_matches(cond), cond


def test_prepared_is_fast_enough_for_bulk_runs() -> None:
    fns = [prepare(parse(c)) for c in DIFFERENTIAL]
    events = _events() * 120  # ~10^4 events x 28 conditions
    hits = sum(fn(e) for e in events for fn in fns)
    assert hits > 0
