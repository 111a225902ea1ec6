"""Writing output files so that a failure never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ruleopt.errors import RuleoptError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(fh)`` on a temp file beside ``path``, then rename it over ``path``.

    On any error the temp file is removed and ``path`` is untouched. Unlike mkstemp's
    0600, the result gets the usual permissions (0666 less the umask): outputs are meant
    to be read by other tools and users.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise RuleoptError("output directory does not exist", file=str(directory),
                           hint="create it first, or choose another output path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise RuleoptError(f"cannot write here: {exc.strerror}", file=str(path),
                           hint="choose an output path in a writable directory") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RuleoptError(f"cannot write the output: {exc.strerror or exc}",
                               file=str(path), hint="check the path and free disk space"
                               ) from None
        raise


def write_text(path: Path | str, text: str) -> None:
    """``atomic_write`` of UTF-8 text (undecodable bytes kept via surrogateescape)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8", "surrogateescape")))
