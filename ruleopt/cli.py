"""``ruleopt`` command line: one module per subcommand under ``ruleopt.commands``.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Errors in user input arrive as ``RuleoptError`` and are printed
as one located message with a non-zero exit, never as a traceback; faults of ruleopt
itself (``InternalError``) are printed as internal errors, with a hint to report them.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import signal
import sys

from ruleopt.deep import call_deep
from ruleopt.errors import InternalError, RuleoptError
from ruleopt.fsutil import located_os_error

# Order is the order of ``ruleopt --help``.
COMMANDS: tuple[str, ...] = (
    "check",
    "import_",
    "generate",
    "verify",
    "harness",
    "profile",
    "compare",
    "advise",
    "optimize",
    "experiment",
    "report",
)


def _load_commands() -> list:
    return [importlib.import_module(f"ruleopt.commands.{name}") for name in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ruleopt",
        description="Measure and improve how Falco rules match events.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _printable(text: str) -> str:
    """Error text as the terminal can show it: raw bytes that ride in paths, field names
    and values as lone surrogates (surrogateescape) are shown escaped, never crash the
    print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _raw_bytes_or_escape(exc: UnicodeError) -> tuple[bytes | str, int]:
    """Encoding error handler for our output streams: a surrogate-escaped byte (a path or
    value that is not UTF-8) is written as that byte, anything else unencodable as an
    escape, so printing never fails whatever the locale's strictness."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start : exc.end]:
        code = ord(ch)
        out += (
            bytes([code - 0xDC00])
            if 0xDC80 <= code <= 0xDCFF
            else ch.encode("ascii", "backslashreplace")
        )
    return bytes(out), exc.end


codecs.register_error("ruleopt-raw-bytes", _raw_bytes_or_escape)


def _robust_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower() in (
            "utf-8",
            "utf8",
        ):
            reconfigure(errors="ruleopt-raw-bytes")


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like an exception, so finally blocks remove temporary files and
    # kill child processes (ruleopt-sinsp) before we exit with the usual 128 + 15.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    _robust_streams()
    try:
        # Building the parser imports every command (numpy, rich): Ctrl-C may land here.
        parser = build_parser()
    except KeyboardInterrupt:
        print("ruleopt: interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    # SIGTERM unwinds like Ctrl-C (see _terminate); the command runs on call_deep's
    # large-stack worker, since conditions are walked recursively (up to the loader's
    # 1,000-level bound, several frames a level).
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (main() called from a worker): leave it
        pass
    try:
        return int(call_deep(lambda: args._run(args)) or 0)
    except InternalError as err:
        # Ours, not the user's input: said so, and a distinct exit code for scripts.
        print(_printable(f"ruleopt {args.command}: internal error: {err}"), file=sys.stderr)
        return InternalError.EXIT_CODE
    except RuleoptError as err:
        print(_printable(f"ruleopt {args.command}: error: {err}"), file=sys.stderr)
        return 1
    except RecursionError:
        print(
            f"ruleopt {args.command}: error: a condition is nested too deeply to process "
            "(thousands of levels of not/and/or or macros)\n"
            "  hint: flatten the condition or split the macro chain",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        # Temp files and staging directories are removed on the way up (fsutil).
        print("ruleopt: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # The paths were checked before any work; this is the OS refusing later (a full
        # disk, a file swapped under us). Still one located line, never a traceback.
        if isinstance(exc, BrokenPipeError):
            return 0
        print(
            _printable(f"ruleopt {args.command}: error: {located_os_error(exc)}"), file=sys.stderr
        )
        return 1
    except MemoryError:
        print(
            f"ruleopt {args.command}: error: out of memory\n"
            "  hint: use fewer events, a smaller --repeat or --buffer, or a machine with "
            "more memory",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
