"""Event text as libsinsp sees it: byte strings.

libsinsp compares strings as C byte strings (``strcmp``, ``strstr``, ``fnmatch``). We
carry them as Python ``str`` where bytes that are not UTF-8 ride as lone surrogates
U+DC80..U+DCFF (``surrogateescape``), so a ``str`` stands for exactly one byte string.
Every operator that looks inside a string (order, substring, glob, regex, ``len``) works
on these bytes, never on code points, which is what the Cython core does in C.

Two ``str`` values can name the same bytes ("\\udcc3\\udca9" and "é"); ``canonical``
picks the one decoding of the bytes, so that ``str`` equality (string ids, sets) is byte
equality. Text that ``surrogateescape`` cannot encode (a lone surrogate outside
U+DC80..U+DCFF, e.g. from a YAML escape) is encoded as its CESU-style 3 bytes
(``surrogatepass``): what a C++ YAML reader would hand libsinsp. ``to_bytes`` never raises.
"""

from __future__ import annotations


def to_bytes(text: str) -> bytes:
    """The byte string ``text`` stands for (total: any ``str``)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return "".join(_char_bytes(c) for c in text).encode("latin-1")


def _char_bytes(c: str) -> str:
    # One character's bytes as latin-1 text (so the join above stays a str).
    try:
        return c.encode("utf-8", "surrogateescape").decode("latin-1")
    except UnicodeEncodeError:
        return c.encode("utf-8", "surrogatepass").decode("latin-1")


def from_bytes(data: bytes) -> str:
    """The canonical ``str`` of a byte string (total: any bytes)."""
    return data.decode("utf-8", "surrogateescape")


def canonical(text: str) -> str:
    """The one ``str`` that stands for the same bytes as ``text``."""
    if text.isascii():
        return text
    return from_bytes(to_bytes(text))
