"""``ruleopt`` command line: one module per subcommand under ``ruleopt.commands``.

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Errors in user input arrive as ``RuleoptError`` and are printed
as one located message with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
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


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like an exception, so finally blocks remove temporary files and
    # kill child processes (ruleopt-sinsp) before we exit with the usual 128 + 15.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    # Conditions are trees walked recursively (printer, resolver, evaluator); real rules
    # nest a few dozen levels, generated ones more, so allow deeper than Python's 1000.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (main() called from a worker): leave it
        pass
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
        print("ruleopt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
