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
