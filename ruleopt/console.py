"""The consoles ruleopt prints through.

What ruleopt prints is full of text from users' files: rule names, sources, output
formats, paths. rich reads ``[...]`` in a printed string as markup, so a rule called
``[/bold] x`` made ``check``, ``verify``, ``profile``, ``harness`` and ``advise`` end in a
MarkupError traceback. These consoles read no markup and highlight nothing; styles are
given as ``Text`` (``styled``), never spelled inside a string.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def console(*, stderr: bool = False, width: int | None = None) -> Console:
    """A console that prints every string as it is (no markup, no highlighting)."""
    return Console(stderr=stderr, width=width, markup=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from plain pieces and ``(text, style)`` pieces."""
    return Text.assemble(*parts)


def clip(text: str, limit: int = 200) -> str:
    """A name from a user's file as a message shows it: whole unless absurdly long (a
    200,000-character name made rich's wrapping take minutes)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...({len(text):,} characters)"
