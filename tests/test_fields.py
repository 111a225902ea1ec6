"""The field registry against the real libsinsp (sysdig -l) and the shared rulesets."""

from __future__ import annotations

import glob
import re
import subprocess

import pytest
import yaml

from ruleopt import fields
from ruleopt.errors import RuleoptError
from ruleopt.rules import ast
from ruleopt.rules.parser import parse_condition

RULESETS = sorted(glob.glob("/work/shared/rulesets/*.yaml"))


def _sysdig_fields() -> dict[str, str]:
    out = subprocess.run(
        ["sysdig", "--list-markdown"], capture_output=True, text=True, check=True
    ).stdout
    return dict(re.findall(r"^`([^`]+)` \| (\w+) \|", out, flags=re.M))


def test_registry_agrees_with_sysdig_on_names_and_types() -> None:
    real = _sysdig_fields()
    assert len(real) > 250
    ours = {n: i for n, i in fields.FIELDS.items() if i.libsinsp2022}
    assert set(ours) == set(real), set(ours) ^ set(real)
    mismatched = {n: (i.sinsp_type, real[n]) for n, i in ours.items() if i.sinsp_type != real[n]}
    assert mismatched == {}


def test_types_are_the_closed_set() -> None:
    for info in fields.FIELDS.values():
        assert info.type in fields.FIELD_TYPES
        assert info.arg_kind in fields.ARG_KINDS
        assert info.multi == bool(info.multi_kind)


def _ruleset_fields() -> set[str]:
    names: set[str] = set()
    for path in RULESETS:
        with open(path) as fh:
            items = yaml.safe_load(fh)
        for item in items:
            cond = item.get("condition")
            if isinstance(cond, str):
                for f in ast.fields_of(parse_condition(cond)):
                    names.add(ast.print_operand(f))
            out = item.get("output")
            if isinstance(out, str):
                names.update(re.findall(r"%([a-z][\w.]*(?:\[[^\]]*\])?)", out))
    return names


def test_every_field_of_every_shared_ruleset_resolves() -> None:
    used = _ruleset_fields()
    assert len(used) > 150
    for name in sorted(used):
        rf = fields.resolve(name)
        assert rf.key, name


def test_fields_unknown_to_2022_libsinsp_are_flagged() -> None:
    # The rulesets README lists these; sysdig -l confirms they are absent.
    for name in (
        "fd.nameraw",
        "proc.is_exe_from_memfd",
        "proc.is_exe_upper_layer",
        "proc.pexe",
        "thread.cap_effective",
        "proc.aexe",
        "thread.cap_permitted",
    ):
        assert fields.FIELDS[name].libsinsp2022 is False, name
    # k8s.ns.name: README says unknown, but the Debian libsinsp's sysdig lists it and
    # compiles `k8s.ns.name exists`; the registry follows the library.
    assert fields.FIELDS["k8s.ns.name"].libsinsp2022 is True
    ka = fields.resolve("ka.req.pod.containers.image")
    assert ka.info.syscall is False and ka.info.type == "str" and ka.multi


@pytest.mark.parametrize(
    ("text", "key", "name", "arg", "multi"),
    [
        ("proc.name", "proc.name", "proc.name", None, False),
        ("proc.aname", "proc.aname", "proc.aname", None, True),
        ("proc.aname[2]", "proc.aname[2]", "proc.aname", "2", False),
        ("proc.apid[1]", "proc.apid[1]", "proc.apid", "1", False),
        ("evt.arg.flags", "evt.arg.flags", "evt.arg", "flags", False),
        ("evt.arg[0]", "evt.arg[0]", "evt.arg", "0", False),
        ("evt.arg[flags]", "evt.arg.flags", "evt.arg", "flags", False),
        ("evt.rawarg.res", "evt.rawarg.res", "evt.rawarg", "res", False),
        ("proc.env", "proc.env", "proc.env", None, False),
        ("proc.env[HOME]", "proc.env[HOME]", "proc.env", "HOME", False),
        (
            "container.mount.dest[/var/run/docker.sock]",
            "container.mount.dest[/var/run/docker.sock]",
            "container.mount.dest",
            "/var/run/docker.sock",
            False,
        ),
        ("jevt.value[/stage]", "jevt.value[/stage]", "jevt.value", "/stage", False),
        ("fd.ip", "fd.ip", "fd.ip", None, True),
    ],
)
def test_resolve_keys(text: str, key: str, name: str, arg: str | None, multi: bool) -> None:
    rf = fields.resolve(text)
    assert (rf.key, rf.info.name, rf.arg, rf.multi) == (key, name, arg, multi)
    # The AST form resolves to the same thing as the text form.
    m = re.match(r"^([^\[]+)(?:\[(.*)\])?$", text)
    assert m is not None
    assert fields.resolve(ast.Field(m.group(1), m.group(2))) == rf


def test_types_follow_libsinsp() -> None:
    assert fields.FIELDS["fd.sport"].type == "port"
    assert fields.FIELDS["fd.sip"].type == "ipaddr"
    assert fields.FIELDS["fd.snet"].type == "ipnet"
    assert fields.FIELDS["evt.cpu"].type == "int" and fields.FIELDS["evt.cpu"].width == 16
    assert fields.FIELDS["user.uid"].type == "uint" and fields.FIELDS["user.uid"].width == 32
    assert fields.FIELDS["evt.buffer"].type == "bytebuf"
    assert fields.FIELDS["evt.rawarg"].type == "dynamic"
    assert fields.FIELDS["fd.l4proto"].type == "str"  # CHARBUF in 2022, not L4PROTO
    assert fields.FIELDS["proc.aname"].multi_kind == "ancestors"
    assert fields.FIELDS["fd.port"].multi_kind == "endpoints"
    assert fields.FIELDS["fd.ip"].filter_only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("proc.nmae", "unknown field 'proc.nmae'"),
        ("foo", "unknown field 'foo'"),
        ("proc.name[1]", "takes no argument"),
        ("proc.aname[x]", "needs a numeric index"),
        ("evt.arg", "needs an argument"),
        ("container.mount.dest", "needs an argument"),
    ],
)
def test_resolve_errors(text: str, message: str) -> None:
    with pytest.raises(RuleoptError) as exc:
        fields.resolve(text)
    assert message in exc.value.message
    assert exc.value.hint


def test_unknown_field_hint_suggests_close_names() -> None:
    with pytest.raises(RuleoptError) as exc:
        fields.resolve("proc.nmae")
    assert exc.value.hint is not None and "proc.name" in exc.value.hint
