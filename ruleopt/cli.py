"""``ruleopt`` command line: one module per subcommand under ``ruleopt.commands``.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Errors in user input arrive as ``RuleoptError`` and are printed
as one located message with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import sys

from ruleopt.errors import RuleoptError

# Order is the order of ``ruleopt --help``.
COMMANDS: tuple[str, ...] = (
    "check", "import_", "generate", "verify", "harness", "profile", "compare",
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


def _raw_bytes(exc: UnicodeError) -> tuple[bytes, int]:
    """Encode error handler: a surrogateescape'd byte (U+DC80..U+DCFF) is written as the
    byte it stands for, any other unencodable character as a ``\\uXXXX`` escape."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start:exc.end]:
        code = ord(ch)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else \
            ch.encode("ascii", "backslashreplace")
    return bytes(out), exc.end


def _printable_streams() -> None:
    # Event text may carry raw non-UTF-8 bytes (from captures, or \udcXX escapes in JSON
    # Lines) as surrogateescape; paths from argv do too. Print them back as the bytes they
    # are, and anything else unencodable escaped: never crash while printing.
    codecs.register_error("ruleopt-raw-bytes", _raw_bytes)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="ruleopt-raw-bytes")
            except (ValueError, OSError):  # a stream that cannot change (closed, custom)
                pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    # Conditions are trees walked recursively (printer, resolver, evaluator); real rules
    # nest a few dozen levels, generated ones more, so allow deeper than Python's 1000.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    _printable_streams()
    try:
        return int(args._run(args) or 0)
    except RuleoptError as err:
        print(f"ruleopt {args.command}: error: {err}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"ruleopt {args.command}: error: a condition is nested too deeply to process "
              "(thousands of levels of not/and/or or macros)\n"
              "  hint: flatten the condition or split the macro chain", file=sys.stderr)
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
        from ruleopt.fsutil import located_os_error

        print(f"ruleopt {args.command}: error: {located_os_error(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"ruleopt {args.command}: error: out of memory\n"
              "  hint: use fewer events, a smaller --repeat or --buffer, or a machine with "
              "more memory", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
