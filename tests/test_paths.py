"""Every path a command takes is checked before any work, with one located error; no
output is created or left behind when a command fails (issue 8, "correctness round").

In-process through ``ruleopt.cli.main`` (fast); one subprocess test shows no traceback.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ruleopt.cli import main
from tests.conftest import TRACES

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rulesets" / "seed_rules.yaml"
CAPTURE = TRACES / "curl_google.scap"
LONG = "x" * 300  # more than NAME_MAX (255 bytes) on every Linux file system

EVENTS = (
    '{"evt.type": "open", "proc.name": "cat", "fd.name": "/etc/passwd", '
    '"evt.is_open_write": true}\n{"evt.type": "execve", "proc.name": "bash"}\n'
)


def _fails(argv: list[str], capsys, *needles: str) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture()
def events(tmp_path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(EVENTS)
    return path


@pytest.fixture()
def bad_rules(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("- rule: [unclosed\n")
    return path


# ------------------------------------------------------------------ names the OS refuses


def test_names_longer_than_the_file_system_allows(tmp_path, capsys, events):
    scap = str(tmp_path / f"{LONG}.scap")
    npz = str(tmp_path / f"{LONG}.npz")
    allows = "this file system allows 255 per name"
    _fails(["import", scap, "-r", str(RULES), "-o", str(tmp_path / "o.npz")], capsys, allows)
    _fails(["import", str(events), "-r", str(RULES), "-o", npz], capsys, allows)
    _fails(["verify", str(RULES), "--trace", scap], capsys, allows)
    _fails(["harness", str(RULES), "--trace", scap, "-o", str(tmp_path / "h")], capsys, allows)
    _fails(
        ["harness", str(RULES), "--trace", str(CAPTURE), "-o", str(tmp_path / LONG)], capsys, allows
    )
    _fails(["profile", str(RULES), npz, "-o", str(tmp_path / "p")], capsys, allows)
    _fails(["profile", str(RULES), str(events), "-o", str(tmp_path / LONG / "p")], capsys, allows)
    _fails(["compare", str(RULES), scap], capsys, allows)
    _fails(["generate", "-r", str(RULES), "-n", "10", "-o", npz], capsys, allows)
    _fails(["check", str(tmp_path / f"{LONG}.yaml")], capsys, allows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_a_path_longer_than_path_max(tmp_path, capsys):
    deep = "/".join(["d" * 200] * 25) + "/rules.yaml"
    _fails(["check", deep], capsys, "bytes long; this file system allows 4,095")


def test_a_nul_byte_in_a_path(capsys):
    _fails(["check", "a\0b.yaml"], capsys, "NUL byte")


def test_an_unreadable_path_is_located(tmp_path, capsys, events):
    # /proc/self/mem is a regular file that opens but cannot be read (EIO).
    mem_yaml = tmp_path / "mem.yaml"
    mem_yaml.symlink_to("/proc/self/mem")
    mem_scap = tmp_path / "mem.scap"
    mem_scap.symlink_to("/proc/self/mem")
    eio = "Input/output error"
    _fails(["check", str(mem_yaml)], capsys, str(mem_yaml), eio)
    _fails(["verify", str(RULES), "--trace", str(mem_scap)], capsys, str(mem_scap), eio)
    _fails(["profile", str(mem_yaml), str(events), "-o", str(tmp_path / "p")], capsys, eio)
    _fails(["import", str(mem_scap), "-r", str(RULES), "-o", str(tmp_path / "o.npz")], capsys, eio)
    assert not (tmp_path / "p").exists() and not (tmp_path / "o.npz").exists()


def test_check_json_reports_an_unreadable_file_as_an_error(tmp_path, capsys):
    import json

    missing = tmp_path / "missing.yaml"
    assert main(["check", "--json", str(RULES), str(missing)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["rules"] > 0  # the readable file still loaded
    assert [e["file"] for e in doc["errors"]] == [str(missing)]


# ------------------------------------------------------------------ special files


def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    # Opening a FIFO for reading blocks until a writer comes: it must never be opened.
    for name in ("f.scap", "f.jsonl", "f.yaml", "f.npz"):
        os.mkfifo(tmp_path / name)
    pipe = "is a named pipe (FIFO)"
    _fails(
        ["import", str(tmp_path / "f.scap"), "-r", str(RULES), "-o", str(tmp_path / "o.npz")],
        capsys,
        pipe,
    )
    _fails(
        ["import", str(tmp_path / "f.jsonl"), "-r", str(RULES), "-o", str(tmp_path / "o.npz")],
        capsys,
        pipe,
    )
    _fails(["verify", str(RULES), "--trace", str(tmp_path / "f.scap")], capsys, pipe)
    _fails(
        ["harness", str(RULES), "--trace", str(tmp_path / "f.scap"), "-o", str(tmp_path / "h")],
        capsys,
        pipe,
    )
    _fails(["check", str(tmp_path / "f.yaml")], capsys, pipe)
    _fails(["profile", str(tmp_path / "f.npz")], capsys, pipe)
    _fails(["compare", str(tmp_path / "f.jsonl")], capsys, pipe)
    _fails(
        ["generate", "-r", str(tmp_path / "f.yaml"), "-n", "5", "-o", str(tmp_path / "o.npz")],
        capsys,
        pipe,
    )
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "h").exists()


def test_devices_and_directories_are_not_event_files(tmp_path, capsys):
    zero = tmp_path / "zero.jsonl"
    zero.symlink_to("/dev/zero")
    _fails(["profile", str(zero), "-o", str(tmp_path / "p")], capsys, "is a device")
    folder = tmp_path / "dir.scap"
    folder.mkdir()
    _fails(["compare", str(folder)], capsys, "is a directory")
    _fails(["verify", "--trace", str(folder)], capsys, "is a directory")


def test_outputs_that_cannot_be_written(tmp_path, capsys, events):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    imp = ["import", str(events), "-r", str(RULES), "-o"]
    _fails([*imp, str(blocker / "o.npz")], capsys, "is not a directory")
    _fails([*imp, str(tmp_path / "no" / "o.npz")], capsys, "output directory does not exist")
    (tmp_path / "d.npz").mkdir()
    _fails([*imp, str(tmp_path / "d.npz")], capsys, "exists and is a directory")
    null = tmp_path / "null.npz"
    null.symlink_to("/dev/null")
    _fails([*imp, str(null)], capsys, "exists and is a device")
    _fails(["compare", str(events), "-o", str(blocker / "plots")], capsys, "not a directory")
    _fails(["profile", str(events), "-o", str(blocker)], capsys, "not a directory")
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d.npz",
        "events.jsonl",
        "file",
        "null.npz",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "EVENTS", "--engine", "replica", "-o", ""],
        ["compare", "EVENTS", "--engine", "replica", "--profile", ""],
        ["advise", "RULES", "EVENTS", "--no-replica", "-o", ""],
        ["profile", "EVENTS", "-o", ""],
    ],
    ids=lambda a: " ".join(a[:1] + a[-2:-1]),
)
def test_an_empty_output_path_is_an_error_not_no_output(argv, capsys, events):
    # A fuzz case: compare -o '' was taken as "no -o" and ran as if none was given.
    argv = [str(events) if a == "EVENTS" else str(RULES) if a == "RULES" else a for a in argv]
    _fails(argv, capsys, "the path is empty")


# ------------------------------------------------------------------ nothing left behind


def test_failing_commands_create_no_output(tmp_path, capsys, events, bad_rules):
    nested = tmp_path / "a" / "b" / "out"
    _fails(["compare", str(bad_rules), str(events), "-o", str(nested)], capsys, "invalid YAML")
    _fails(["profile", str(bad_rules), str(events), "-o", str(nested)], capsys, "invalid YAML")
    _fails(
        ["harness", str(bad_rules), "--trace", str(CAPTURE), "-o", str(nested)],
        capsys,
        "invalid YAML",
    )
    _fails(
        ["import", str(events), "-r", str(bad_rules), "-o", str(tmp_path / "o.npz")],
        capsys,
        "invalid YAML",
    )
    _fails(
        ["generate", "-r", str(bad_rules), "-n", "5", "-o", str(tmp_path / "g.npz")],
        capsys,
        "invalid YAML",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "events.jsonl"]


def test_compare_plots_fail_or_interrupted_leave_nothing(tmp_path, capsys, events, monkeypatch):
    from ruleopt.commands import compare

    def boom(doc, outdir):
        (outdir / "compare_cycles.svg").write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compare, "_render_plots", boom)
    nested = tmp_path / "a" / "b"
    argv = [
        "compare",
        str(RULES),
        str(events),
        "--strategies",
        "flat",
        "--repeat",
        "1",
        "-o",
        str(nested),
    ]
    _fails(argv, capsys, str(nested), "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]

    def interrupted(doc, outdir):
        (outdir / "compare_cycles.svg").write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "_render_plots", interrupted)
    assert main(argv) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_profile_write_failure_leaves_nothing(tmp_path, capsys, events, monkeypatch):
    from ruleopt.profile import writers

    def boom(profile, path):
        Path(path).write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(writers, "write_dot", boom)
    out = tmp_path / "new" / "prof"
    assert (
        main(["profile", str(RULES), str(events), "--repeat", "1", "--no-plots", "-o", str(out)])
        == 130
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]
    existing = tmp_path / "keep"
    existing.mkdir()
    (existing / "old.txt").write_text("old")
    assert (
        main(
            ["profile", str(RULES), str(events), "--repeat", "1", "--no-plots", "-o", str(existing)]
        )
        == 130
    )
    assert [p.name for p in existing.iterdir()] == ["old.txt"]


def test_an_os_error_after_the_checks_is_still_located(tmp_path, capsys, monkeypatch):
    from ruleopt.commands import check

    def fail(ruleset, files):
        raise OSError(errno.EIO, "Input/output error", "/some/file")

    monkeypatch.setattr(check, "_print_summary", fail)
    _fails(["check", str(RULES)], capsys, "/some/file", "Input/output error")


def test_generate_interrupted_mid_save_leaves_no_temp_file(tmp_path, capsys, monkeypatch):
    import numpy as np

    def interrupted(fh, **arrays):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    assert (
        main(["generate", "-r", str(RULES), "-n", "50", "-q", "-o", str(tmp_path / "w.npz")]) == 130
    )
    assert list(tmp_path.iterdir()) == []


def test_subprocess_prints_no_traceback(tmp_path):
    os.mkfifo(tmp_path / "pipe.scap")
    for argv in (
        [
            "import",
            str(tmp_path / f"{LONG}.jsonl"),
            "-r",
            str(RULES),
            "-o",
            str(tmp_path / "o.npz"),
        ],
        ["verify", str(RULES), "--trace", str(tmp_path / "pipe.scap")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ruleopt", *argv],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.scap"]
