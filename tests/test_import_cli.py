"""``ruleopt import`` and ``load_events``: real captures through libsinsp, clear errors,
and never a partial output file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ruleopt.cli import main
from ruleopt.errors import RuleoptError
from ruleopt.events.capture import table_from_capture
from ruleopt.events.load import input_kind, load_events, needed_keys
from ruleopt.events.table import EventTable
from ruleopt.rules.loader import load_rules

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.is_dir():  # CI lays shared/ beside the clone; a developer has /work/shared
    SHARED = Path("/work/shared")
TRACES = SHARED / "traces"
RULES_026 = SHARED / "rulesets" / "falco_rules-falco-0.26.2.yaml"
CAT_WRITE = TRACES / "cat_write.scap"

SMALL_RULES = """
- macro: open_read
  condition: evt.type = open and evt.is_open_read = true
- rule: read shadow
  desc: d
  condition: open_read and fd.name = /etc/shadow and proc.aname = sshd
  output: "%proc.name"
  priority: WARNING
- rule: upper layer
  desc: d
  condition: evt.type = execve and proc.is_exe_upper_layer = true
  output: "%proc.name"
  priority: WARNING
- rule: disabled
  desc: d
  condition: evt.type = open and fd.num = 3
  output: x
  priority: WARNING
  enabled: false
"""


@pytest.fixture
def small_rules(tmp_path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(SMALL_RULES)
    return path


def test_needed_keys_are_those_of_enabled_rules(small_rules):
    keys = needed_keys(load_rules([small_rules]))
    assert keys == [
        "evt.num",
        "evt.type",
        "evt.is_open_read",
        "fd.name",
        "proc.aname",
        "proc.is_exe_upper_layer",
    ]


def test_import_cat_write_with_falco_026_rules(tmp_path, capsys):
    out = tmp_path / "cat_write.npz"
    assert main(["import", str(CAT_WRITE), "-r", str(RULES_026), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "events:  85" in text and "strings:" in text and "absent fields" in text
    t = EventTable.load(out)
    assert t.n == 85
    rules = load_rules([RULES_026])
    assert set(needed_keys(rules)) == set(t.columns)
    nums = t.evt_num.tolist()
    assert nums == sorted(nums) and len(set(nums)) == 85
    # the first event is cat's execve; its ancestors come as a list, parent first
    first = t.event(0)
    assert first["evt.type"] == "execve" and first["proc.name"] == "cat"
    assert first["proc.aname"][0] == first["proc.pname"] == first["proc.aname[1]"]
    opens = [t.event(i) for i in range(t.n) if t.event(i)["evt.type"] == "open"]
    assert any(e.get("fd.name") == "/lib/x86_64-linux-gnu/libc.so.6" for e in opens)
    assert all(isinstance(e["evt.is_open_read"], bool) for e in opens)
    assert [p.name for p in tmp_path.iterdir()] == ["cat_write.npz"]


def test_capture_marks_fields_unknown_to_libsinsp_2022_absent(small_rules):
    t = table_from_capture(CAT_WRITE, needed_keys(load_rules([small_rules])))
    assert t.meta["absent_fields"] == ["proc.is_exe_upper_layer"]
    assert not t.column("proc.is_exe_upper_layer").present.any()
    assert t.column("proc.aname").multi and t.column("fd.name").present.any()


def test_load_events_dispatches_on_suffix(tmp_path, small_rules):
    rules = load_rules([small_rules])
    from_capture = load_events(CAT_WRITE, rules)
    saved = tmp_path / "t.npz"
    from_capture.save(saved)
    from_table = load_events(saved, rules)
    assert [from_table.event(i) for i in range(85)] == [from_capture.event(i) for i in range(85)]
    jl = tmp_path / "e.jsonl"
    jl.write_text(json.dumps({"evt.type": "open", "fd.name": "/etc/shadow"}) + "\n")
    from_jsonl = load_events(jl, rules)
    assert list(from_jsonl.columns) == list(from_capture.columns)  # same columns either way
    assert from_jsonl.event(0) == {"evt.num": 1, "evt.type": "open", "fd.name": "/etc/shadow"}
    with pytest.raises(RuleoptError, match="kind of event file"):
        load_events(tmp_path / "events.csv", rules)
    assert input_kind("x.scap.gz") == "capture" and input_kind("X.JSONL") == "jsonl"


def test_load_events_table_missing_columns(tmp_path, small_rules):
    narrow = EventTable.from_records([{"evt.type": "open"}], ["evt.type"])
    path = tmp_path / "narrow.npz"
    narrow.save(path)
    with pytest.raises(RuleoptError) as err:
        load_events(path, load_rules([small_rules]))
    assert "fd.name" in err.value.message and "ruleopt import" in err.value.hint


def test_load_events_default_workload(small_rules):
    rules = load_rules([small_rules])
    try:
        from ruleopt.events.generator import default_workload  # noqa: F401
    except ImportError:
        with pytest.raises(RuleoptError, match="default workload"):
            load_events(None, rules)
    else:
        t = load_events(None, rules)
        assert t.n > 0 and set(needed_keys(rules)) <= set(t.columns)


# --------------------------------------------------------------------------- errors


def run_failing(capsys, src: Path, out: Path, rules: Path) -> str:
    """Run an import that must fail: exit 1, a located message, no output file."""
    assert main(["import", str(src), "-r", str(rules), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ruleopt import: error: ") and "Traceback" not in err
    assert not out.exists()
    assert [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")] == []
    return err


def test_missing_input(tmp_path, capsys, small_rules):
    err = run_failing(capsys, tmp_path / "nope.scap", tmp_path / "o.npz", small_rules)
    assert "nope.scap" in err and "no such file" in err


def test_empty_input(tmp_path, capsys, small_rules):
    for name in ("empty.scap", "empty.jsonl"):
        src = tmp_path / name
        src.write_bytes(b"")
        err = run_failing(capsys, src, tmp_path / "o.npz", small_rules)
        assert name in err and "empty" in err


def test_not_a_capture(tmp_path, capsys, small_rules):
    src = tmp_path / "text.scap"
    src.write_text("hello, I am not a capture\n")
    err = run_failing(capsys, src, tmp_path / "o.npz", small_rules)
    assert "text.scap" in err and "not a scap capture" in err


def test_gzip_that_is_not_a_capture(tmp_path, capsys, small_rules):
    src = tmp_path / "fake.scap"
    src.write_bytes(gzip.compress(b"definitely not scap" * 10))
    err = run_failing(capsys, src, tmp_path / "o.npz", small_rules)
    assert "fake.scap" in err


def test_truncated_capture(tmp_path, capsys, small_rules):
    err = run_failing(capsys, TRACES / "curl_google_comments.scap", tmp_path / "o.npz", small_rules)
    assert "curl_google_comments.scap" in err and "truncated" in err


def test_capture_cut_short(tmp_path, capsys, small_rules):
    src = tmp_path / "cut.scap"
    src.write_bytes(CAT_WRITE.read_bytes()[:2000])
    err = run_failing(capsys, src, tmp_path / "o.npz", small_rules)
    assert "cut.scap" in err


def test_bad_jsonl_names_file_and_line(tmp_path, capsys, small_rules):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"evt.type": "open"}\n{"fd.name": 3}\n')
    err = run_failing(capsys, src, tmp_path / "o.npz", small_rules)
    assert f"{src}:2" in err and "fd.name" in err


def test_existing_output_survives_a_failed_import(tmp_path, capsys, small_rules):
    out = tmp_path / "o.npz"
    out.write_bytes(b"previous")
    src = tmp_path / "bad.jsonl"
    src.write_text("{oops\n")
    assert main(["import", str(src), "-r", str(small_rules), "-o", str(out)]) == 1
    assert out.read_bytes() == b"previous"


def test_output_must_be_npz_and_rules_must_load(tmp_path, capsys, small_rules):
    assert (
        main(["import", str(CAT_WRITE), "-r", str(small_rules), "-o", str(tmp_path / "o.csv")]) == 1
    )
    assert ".npz" in capsys.readouterr().err
    assert (
        main(
            ["import", str(CAT_WRITE), "-r", str(small_rules), "-o", str(tmp_path / "no" / "o.npz")]
        )
        == 1
    )
    assert "output directory does not exist" in capsys.readouterr().err
    bad_rules = tmp_path / "bad.yaml"
    bad_rules.write_text("- rule: x\n  condition: (\n")
    err = run_failing(capsys, CAT_WRITE, tmp_path / "o.npz", bad_rules)
    assert "bad.yaml" in err


def test_import_jsonl(tmp_path, capsys, small_rules):
    src = tmp_path / "ev.jsonl"
    src.write_text(json.dumps({"evt.type": "open", "proc.aname": ["sshd"]}) + "\n")
    out = tmp_path / "ev.npz"
    assert main(["import", str(src), "-r", str(small_rules), "-o", str(out)]) == 0
    t = EventTable.load(out)
    assert t.event(0) == {"evt.num": 1, "evt.type": "open", "proc.aname": ["sshd"]}
