"""Numbers on the command line: refused at argparse level when they make no sense, and
refused up front (with the limit and why) when they cannot be done: too much work, too
much memory, a replay clock that would overflow. Ctrl-C exits 130 with nothing left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ruleopt import resources
from ruleopt.cli import main
from ruleopt.commands import bounds
from ruleopt.errors import RuleoptError
from tests.conftest import TRACES

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rulesets" / "seed_rules.yaml"
CAPTURE = TRACES / "curl_google.scap"
EVENTS = '{"evt.type": "open", "proc.name": "cat"}\n{"evt.type": "execve", "proc.name": "sh"}\n'


@pytest.fixture()
def events(tmp_path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(EVENTS)
    return path


def _usage_error(argv: list[str], capsys, option: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and "Traceback" not in err, err
    return err


BAD_REPEATS = [
    "0",
    "-1",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "abc",
    "",
    "1000000000",
    "9223372036854775808",
    "9" * 5000,
]


@pytest.mark.parametrize("value", BAD_REPEATS, ids=range(len(BAD_REPEATS)))
def test_bad_repeats_are_usage_errors(tmp_path, capsys, events, value):
    out = str(tmp_path / "out")
    _usage_error(["profile", str(events), "--repeat", value, "-o", out], capsys, "--repeat")
    _usage_error(["compare", str(events), "--repeat", value], capsys, "--repeat")
    _usage_error(
        ["harness", str(RULES), "--trace", str(CAPTURE), "--repeat", value, "-o", out],
        capsys,
        "--repeat",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


@pytest.mark.parametrize("value", ["1e-300", "0", "-5", "nan", "inf", "1e400", "x", "1e16"])
def test_bad_rates_are_usage_errors(tmp_path, capsys, events, value):
    err = _usage_error(
        ["profile", str(events), "--rate", value, "-o", str(tmp_path / "o")], capsys, "--rate"
    )
    if value in ("1e-300", "1e16"):
        assert "0.001 to 1e+15 events/s" in err  # the limit, and why
        assert "64-bit" in err


@pytest.mark.parametrize("value", ["0", "-1", "1e12", "2.5", "nan"])
def test_bad_buffers_are_usage_errors(tmp_path, capsys, events, value):
    _usage_error(["profile", str(events), "--rate", "1e6", "--buffer", value], capsys, "--buffer")


@pytest.mark.parametrize(
    "option, value",
    [
        ("-n", "0"),
        ("-n", "-3"),
        ("-n", "1.5"),
        ("-n", "nan"),
        ("-n", "inf"),
        ("-n", "10000000000"),
        ("--seed", "-1"),
        ("--seed", "4294967296"),
        ("--seed", "x"),
        ("--break-share", "nan"),
        ("--break-share", "-0.1"),
    ],
)
def test_bad_generate_numbers_are_usage_errors(tmp_path, capsys, option, value):
    argv = ["generate", "-r", str(RULES), "-o", str(tmp_path / "w.npz"), "-n", "10"]
    _usage_error([*argv, option, value], capsys, "-n/--events" if option == "-n" else option)
    assert list(tmp_path.iterdir()) == []


def test_numbers_people_write_are_accepted(tmp_path, capsys):
    out = tmp_path / "w.npz"
    assert (
        main(
            [
                "generate",
                "-r",
                str(RULES),
                "-n",
                "1e3",
                "--seed",
                "4294967295",
                "-q",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "1000 events" in capsys.readouterr().out and out.exists()
    assert bounds.repeat("1_000") == 1000 and bounds.rate("2e6") == 2e6


def test_generate_refuses_what_memory_cannot_hold(tmp_path, capsys):
    # 10^9 events of the seed rules' 16 columns: ~290 GB, more than this machine has.
    rc = main(["generate", "-r", str(RULES), "-n", "1e9", "-o", str(tmp_path / "w.npz")])
    err = capsys.readouterr().err
    assert rc == 1 and "needs about" in err and "GiB of memory" in err and "available" in err
    assert list(tmp_path.iterdir()) == []


def test_an_address_space_limit_is_memory_not_available(tmp_path):
    # Under `ulimit -v` (the fuzzer's children run under one) an allocation past the limit
    # fails however much the machine has free: the estimate must count the limit, or a
    # run passes the check and ends in MemoryError.
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from ruleopt import resources\n"
        "print(resources.available_memory())\n"
        "from ruleopt.cli import main\n"
        f"sys.exit(main(['generate', '-r', {str(RULES)!r}, '-n', '30000000', '-o', "
        f"{str(tmp_path / 'w.npz')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    left = int(proc.stdout.split()[0])
    assert 0 < left <= 3 << 30
    assert proc.returncode == 1 and "GiB of memory" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_memory_estimates_use_what_is_available(monkeypatch, tmp_path, capsys, events):
    monkeypatch.setattr(resources, "available_memory", lambda: 1 << 20)
    rc = main(["generate", "-r", str(RULES), "-n", "100000", "-o", str(tmp_path / "w.npz")])
    err = capsys.readouterr().err
    assert rc == 1 and "generating 100,000 events" in err and "0.0 GiB is available" in err
    # A ring holds at most every event: its memory is that of min(slots, events).
    with pytest.raises(RuleoptError, match="a ring of 1,000,000 slots needs about"):
        bounds.check_rate(1e6, 1_000_000, 1_000_000)
    bounds.check_rate(1e6, 100, 10**9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_a_ring_larger_than_the_workload_costs_only_the_workload(tmp_path, capsys, events):
    # A fuzz case: --buffer 10^9 allocated 8 GB for a handful of events (a MemoryError
    # once memory was short). Such a ring never fills, as one of n slots never does.
    def replay(buffer: str) -> dict:
        out = tmp_path / f"p{buffer}"
        argv = ["profile", str(RULES), str(events), "--no-plots", "--rate", "1e5"]
        assert main([*argv, "--buffer", buffer, "-o", str(out)]) == 0
        return json.loads((out / "profile.json").read_text())["settings"]["rate_replay"]

    n = len(EVENTS.splitlines())
    big, exact = replay("1000000000"), replay(str(n))
    assert big["buffer"] == 10**9 and exact["buffer"] == n
    assert big["drops"] == exact["drops"] == 0
    assert big["processed"] == exact["processed"] == n


def test_work_beyond_the_limit_is_refused_up_front(tmp_path, capsys, events, monkeypatch):
    # Real limit: 100,000 repeats of the 200,000-event default workload.
    rc = main(["compare", "--repeat", "100000", "--strategies", "flat"])
    err = capsys.readouterr().err
    assert rc == 1 and "event evaluations; the limit is 2,000,000,000" in err
    monkeypatch.setattr(bounds, "WORK_LIMIT", 10)
    rc = main(["profile", str(RULES), str(events), "--repeat", "5", "-o", str(tmp_path / "p")])
    assert rc == 1 and "the limit is 10 " in capsys.readouterr().err
    rc = main(
        ["harness", str(RULES), "--trace", str(CAPTURE), "--repeat", "5", "-o", str(tmp_path / "h")]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "from the capture's size" in err and "--repeat" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_rate_replay_clock_bound():
    with pytest.raises(RuleoptError, match="beyond the replay clock's range"):
        bounds.check_rate(1e-3, 10**9, 8192)
    bounds.check_rate(1e-3, 2, 8192)  # two events a thousand seconds apart: fine


def test_the_slowest_allowed_rate_finishes(tmp_path, capsys, events):
    # The replay is in simulated time: even 0.001 events/s ends after n iterations.
    assert (
        main(
            [
                "profile",
                str(RULES),
                str(events),
                "--rate",
                "0.001",
                "--repeat",
                "1",
                "--no-plots",
                "--json",
                "-o",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    assert '"drops": 0' in capsys.readouterr().out


def test_ctrl_c_exits_130_without_traceback_or_temp_files(tmp_path):
    # SIGINT at whatever point the run has reached: either it finished, or it stopped
    # cleanly. Both outcomes are checked; only the second is the point of the test.
    out = tmp_path / "w.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ruleopt",
            "generate",
            "-r",
            str(RULES),
            "-n",
            "2000000",
            "-q",
            "-o",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A parent started in the background may ignore SIGINT; the
        # child must get Python's own handler, as in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.0)  # not an assertion: only where the signal lands
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert "Traceback" not in stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    if proc.returncode == 130:
        assert "interrupted" in stderr and not out.exists()
    else:
        assert proc.returncode == 0 and out.exists()
