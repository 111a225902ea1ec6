"""The two output paths (Lua baseline, cached formatters) print the same bytes."""

from hypothesis import given, settings
from hypothesis import strategies as st

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

FIELDS = ["proc.name", "fd.name", "proc.aname[2]", "evt.arg.flags", "user.uid", "proc.cmdline"]


def test_tokens_and_rendering():
    fmt = "File below /etc opened (file=%fd.name. parent=%proc.aname[2] uid=%user.uid) 100%"
    assert output_fields(fmt) == ["fd.name", "proc.aname[2]", "user.uid"]
    values = {"fd.name": "/etc/shadow", "user.uid": 0}
    text, fields = Formatter.parse(fmt).render(values.get)
    assert text == "File below /etc opened (file=/etc/shadow. parent=<NA> uid=0) 100%"
    assert fields == {"fd.name": "/etc/shadow", "proc.aname[2]": "<NA>", "user.uid": "0"}
    assert render_value(True) == "true" and render_value(["bash", "sshd"]) == "bash"


def test_alert_line_shape():
    assert format_time(3_723_000_000_042) == "01:02:03.000000042"
    assert alert_line(0, "Warning", "x") == "00:00:00.000000000: Warning x"
    assert normalize_priority("WARNING") == "Warning"
    assert normalize_priority("INFO") == "Informational"


def test_lua_and_cached_agree_on_a_real_format():
    meta = {7: RuleMeta("Write below etc", "Error",
                        "File below /etc opened for writing (user=%user.name "
                        "command=%proc.cmdline parent=%proc.pname file=%fd.name)")}
    values = {"user.name": "root", "proc.cmdline": "cat > /etc/x", "fd.name": "/etc/x"}
    lua = LuaOutput(meta).alert(7, 42, 10**9, values.get, json_output=True)
    cached = CachedOutput(meta).alert(7, 42, 10**9, values.get, json_output=True)
    assert lua == cached
    assert lua.line == ("00:00:01.000000000: Error File below /etc opened for writing "
                        "(user=root command=cat > /etc/x parent=<NA> file=/etc/x)")
    assert '"rule": "Write below etc"' in lua.json


text_piece = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.tuples(text_piece, st.sampled_from(FIELDS)), max_size=5),
    tail=text_piece,
    values=st.dictionaries(st.sampled_from(FIELDS),
                           st.one_of(st.none(), st.integers(), text_piece)),
    t=st.integers(min_value=0, max_value=2**62),
)
def test_output_paths_byte_identical(pieces, tail, values, t):
    fmt = "".join(lit + "%" + f + " " for lit, f in pieces) + tail
    meta = {0: RuleMeta("r", "Notice", fmt)}
    for json_output in (False, True):
        lua = LuaOutput(meta).alert(0, 1, t, values.get, json_output=json_output)
        assert lua == CachedOutput(meta).alert(0, 1, t, values.get, json_output=json_output)
        assert (lua.json is not None) == json_output
