"""The one error type users see: a place (file, line, column or event number) and a fix.

The CLI catches ``RuleoptError`` and prints ``str(err)``; nothing else should reach the
user as a traceback.
"""

from __future__ import annotations


class RuleoptError(Exception):
    """An error in user input, located as precisely as we can.

    ``line`` and ``column`` are 1-based. ``event`` is an event number (evt.num or a
    1-based line of a JSONL file) for errors in event data. ``hint`` says what to do.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        event: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.event = event
        self.hint = hint

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        loc = ":".join(parts)
        if self.event is not None:
            loc = f"{loc} event {self.event}" if loc else f"event {self.event}"
        return loc

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "event": self.event,
            "hint": self.hint,
        }


REPORT_HINT = (
    "this is a fault in ruleopt, not in your input: please report it with the command "
    "and this message"
)


class InternalError(RuleoptError):
    """A fault of ruleopt itself, not of the user's input: parts built from different
    sources (a stale extension or tool whose layout disagrees), arrays the compiler made
    that the core refuses, an unexpected exception inside the core.

    A ``RuleoptError`` still (callers that catch those keep working); the CLI prints it
    as an internal error with a hint to report it, and exits with ``EXIT_CODE``.
    """

    EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): distinct from bad input's 1

    def __init__(self, message: str, *, hint: str | None = None, **where: object) -> None:
        # Always say it is ours and to report it; a specific fix (rebuild) comes first.
        full = f"{hint}; if that does not help, {REPORT_HINT}" if hint else REPORT_HINT
        super().__init__(message, hint=full, **where)  # type: ignore[arg-type]
