"""The two output paths (Lua baseline, cached formatters) print the same bytes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruleopt.errors import RuleoptError
from ruleopt.output import (
    CachedOutput,
    Formatter,
    LuaOutput,
    RuleMeta,
    alert_line,
    format_time,
    normalize_priority,
    output_fields,
    render_value,
)
from ruleopt.output_tokens import field_tokens, tokenize

FIELDS = ["proc.name", "fd.name", "proc.aname[2]", "evt.arg.flags", "user.uid", "proc.cmdline"]


def test_tokens_and_rendering():
    fmt = "File below /etc opened (file=%fd.name. parent=%proc.aname[2] uid=%user.uid) *"
    assert output_fields(fmt) == ["fd.name", "proc.aname[2]", "user.uid"]
    values = {"fd.name": "/etc/shadow", "user.uid": 0}
    text, fields = Formatter.parse(fmt).render(values.get)
    assert text == "File below /etc opened (file=/etc/shadow. parent=<NA> uid=0) *"
    assert fields == {"fd.name": "/etc/shadow", "proc.aname[2]": "<NA>", "user.uid": "0"}
    assert render_value(True) == "true" and render_value(["bash", "sshd"]) == "bash"


def test_alert_line_shape():
    assert format_time(3_723_000_000_042) == "01:02:03.000000042"
    assert alert_line(0, "Warning", "x") == "00:00:00.000000000: Warning x"
    assert normalize_priority("WARNING") == "Warning"
    assert normalize_priority("INFO") == "Informational"


def test_lua_and_cached_agree_on_a_real_format():
    meta = {
        7: RuleMeta(
            "Write below etc",
            "Error",
            "File below /etc opened for writing (user=%user.name "
            "command=%proc.cmdline parent=%proc.pname file=%fd.name)",
        )
    }
    values = {"user.name": "root", "proc.cmdline": "cat > /etc/x", "fd.name": "/etc/x"}
    lua = LuaOutput(meta).alert(7, 42, 10**9, values.get, json_output=True)
    cached = CachedOutput(meta).alert(7, 42, 10**9, values.get, json_output=True)
    assert lua == cached
    assert lua.line == (
        "00:00:01.000000000: Error File below /etc opened for writing "
        "(user=root command=cat > /etc/x parent=<NA> file=/etc/x)"
    )
    assert '"rule": "Write below etc"' in lua.json


text_piece = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="%"), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.tuples(text_piece, st.sampled_from(FIELDS)), max_size=5),
    tail=text_piece,
    values=st.dictionaries(
        st.sampled_from(FIELDS), st.one_of(st.none(), st.integers(), text_piece)
    ),
    t=st.integers(min_value=0, max_value=2**62),
)
def test_output_paths_byte_identical(pieces, tail, values, t):
    fmt = "".join(lit + "%" + f + " " for lit, f in pieces) + tail
    meta = {0: RuleMeta("r", "Notice", fmt)}
    for json_output in (False, True):
        lua = LuaOutput(meta).alert(0, 1, t, values.get, json_output=json_output)
        assert lua == CachedOutput(meta).alert(0, 1, t, values.get, json_output=json_output)
        assert (lua.json is not None) == json_output


# ---------------------------------------------------------------- the one tokenizer

# What `sysdig -r curl_google.scap -p "*FORMAT"` (libsinsp 2022) printed for the first
# events, with the values those events hold: the tokenizer must agree where libsinsp
# defines the format.
SYSDIG = {
    "evt.num": 211,
    "evt.type": "execve",
    "fd.name": "/etc/ld.so.cache",
    "proc.aname[0]": "curl",
    "proc.aname[2]": "sshd",
    "evt.arg[0]": "0",
    "proc.apid[0]": 17497,
}


@pytest.mark.parametrize(
    ("fmt", "want"),
    [
        ("x%fd.namex", "x/etc/ld.so.cachex"),  # longest name, no word boundary
        ("%5evt.type|", "execv|"),  # a width cuts ...
        ("%00012evt.type|", "execve      |"),  # ... or pads, in bytes
        ("%0evt.type|", "execve|"),  # width 0: none
        ("%evt.type.", "execve."),
        ("%evt.type[", "execve["),  # evt.type takes no argument: `[` is text
        ("%evt.num9", "2119"),
        ("%proc.aname[2]x", "sshdx"),
        ("%evt.arg[0]x", "0x"),
        ("%evt.num %proc.aname", "211 curl"),  # bare ancestor at the end: the process
        ("%evt.num %proc.apid", "211 17497"),
        ("*%evt.num", "*211"),  # Falco puts its own `*` first: the rule's is text
    ],
)
def test_tokens_as_libsinsp_2022_reads_them(fmt, want):
    meta = {0: RuleMeta("r", "Notice", fmt)}
    for out in (LuaOutput(meta), CachedOutput(meta)):
        assert out.alert(0, 1, 0, SYSDIG.get).line == "00:00:00.000000000: Notice " + want


@pytest.mark.parametrize(
    ("fmt", "says"),
    [
        ("%1 %2 %% %0 %z %b() %f[%w]", "does not start with a field"),  # the format of issue 8
        ("%evt.num %%", "does not start with a field"),
        ("%evt.num %", "cannot end with '%'"),
        ("%evt.num %12", "cannot end with a width"),
        ("%evt.num %z", "does not start with a field"),
        ("%evt.num %-3evt.type", "does not start with a field"),
        ("%evt.num %(fd.name)", "does not start with a field"),
        ("%evt.num %fd.ip", "filter only"),
        ("%evt.arg[fd]", "needs a number"),
        ("%evt.arg", "needs an argument"),
        ("%proc.aname[x]", "needs a number"),
        ("%proc.aname[2", "no closing"),
        ("%proc.aname x", "only at the end"),
    ],
)
def test_formats_libsinsp_refuses_are_refused_by_both_paths(fmt, says):
    meta = {3: RuleMeta("bad out", "Notice", fmt, "r.yaml", 7)}
    for path in (LuaOutput, CachedOutput):
        with pytest.raises(RuleoptError) as info:
            path(meta)
        err = info.value
        assert says in err.message and "rule 'bad out'" in err.message
        assert (err.file, err.line) == ("r.yaml", 7) and err.hint


def test_width_and_json_fields():
    fmt = "%3proc.name|%6fd.name|%proc.aname[1]"
    values = {"proc.name": "bash", "fd.name": "/é", "proc.aname[1]": None}
    for out in (LuaOutput, CachedOutput):
        a = out({0: RuleMeta("r", "Notice", fmt)}).alert(0, 1, 0, values.get, json_output=True)
        assert a.line.endswith(" bas|/é   |<NA>")  # "/é" is 3 bytes: 3 spaces pad it to 6
        assert '"fd.name": "/\\u00e9"' in a.json or '"fd.name": "/é"' in a.json
        assert '"proc.aname[1]": "<NA>"' in a.json and '"proc.name": "bash"' in a.json
    assert [t.key for t in field_tokens("%proc.aname[1] %evt.arg.flags %evt.arg[1]")[1:]] == [
        "evt.arg.flags",
        "evt.arg[1]",
    ]


# Formats from a small alphabet: `%`, the letters of field names, `.`, brackets,
# parentheses, digits, spaces, and real field names (so that many tokens are valid).
_NAMES = [
    "fd.name",
    "proc.name",
    "proc.aname",
    "proc.aname[2]",
    "evt.type",
    "evt.arg",
    "evt.arg.flags",
    "evt.arg[1]",
    "user.uid",
    "fd.ip",
    "proc.apid",
    "evt.num",
]
_KEYS = [
    "fd.name",
    "proc.name",
    "proc.aname[0]",
    "proc.aname[2]",
    "evt.type",
    "evt.arg.flags",
    "evt.arg[1]",
    "user.uid",
    "proc.apid[0]",
    "evt.num",
]
format_text = st.lists(
    st.one_of(
        st.sampled_from(list("%%%.[]() 0123456789*") + list("adefmnoprstuvy")),
        st.sampled_from(_NAMES),
        st.sampled_from(_NAMES).map(lambda n: "%" + n),
    ),
    max_size=14,
).map("".join)
event_values = st.dictionaries(
    st.sampled_from(_KEYS),
    st.one_of(
        st.none(),
        st.integers(-5, 99),
        st.sampled_from(["", "bash", "/etc/é", "x y"]),
        st.lists(st.sampled_from(["sh", "sshd"]), max_size=2),
    ),
)


def _outcome(path, meta, values):
    try:
        out = path(meta)
    except RuleoptError as err:
        return ("refused", err.message)
    return tuple(out.alert(0, 5, 7, values.get, json_output=j) for j in (False, True))


@settings(max_examples=200, deadline=None)
@given(fmt=format_text, values=event_values)
def test_both_paths_same_bytes_on_generated_formats(fmt, values):
    meta = {0: RuleMeta("gen", "Notice", fmt)}
    lua = _outcome(LuaOutput, meta, values)
    assert lua == _outcome(CachedOutput, meta, values)
    if lua[0] != "refused":
        # Every piece of the format is literal text or one token: nothing is lost.
        pieces = tokenize(fmt)
        assert "".join(p if isinstance(p, str) else fmt[p.start : p.end] for p in pieces) == fmt
