"""Paths in and out: every path a command takes is checked here before any work, and
outputs are written so that a failure never leaves a partial file (or directory) behind.

Why one module: the operating system refuses paths in many ways (a name longer than the
file system allows, a FIFO that blocks the reader forever, ``/proc/self/mem`` that opens
but cannot be read, a directory where a file was expected). Each command used to check a
different subset; here every check gives one located ``RuleoptError`` with a hint.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ruleopt.errors import RuleoptError

# Linux's limits; the real ones are asked of the file system when it answers.
_NAME_MAX = 255
_PATH_MAX = 4096
# The temp file beside an output is ``.{stem}.XXXXXXXX.tmp``, the stem cut to this many
# characters so that the temp name fits wherever the final name does.
_TMP_STEM_MAX = 100


def shown(path: Path | str) -> str:
    """The path as an error message shows it: whole unless absurdly long."""
    text = os.fspath(path)
    if not text:
        return "''"  # an empty argument still gets a place in the message
    return text if len(text) <= 300 else f"{text[:120]}...{text[-60:]}"


def _limit(directory: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(directory, name))
    except (OSError, ValueError):
        return default


def _existing_ancestor(path: Path) -> Path:
    for parent in path.absolute().parents:
        try:
            if stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except (OSError, ValueError):  # Path.exists() raises on ENAMETOOLONG: no use here
            continue
    return Path("/")


def _name_problem(path: Path | str) -> str | None:
    """Why the OS would refuse this name before even looking at the disk, or None."""
    text = os.fspath(path)
    if not text:
        return "the path is empty"
    if "\0" in text:
        return "the path contains a NUL byte"
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        return "the path is not valid text for this file system (a lone surrogate)"
    anchor = _existing_ancestor(Path(text))
    path_max = _limit(anchor, "PC_PATH_MAX", _PATH_MAX)
    name_max = _limit(anchor, "PC_NAME_MAX", _NAME_MAX)
    if len(raw) >= path_max:
        return f"the path is {len(raw):,} bytes long; this file system allows {path_max - 1:,}"
    parts = raw.split(b"/")
    for part in parts:
        if len(part) > name_max:
            return (
                f"a name in the path is {len(part):,} bytes long; this file system "
                f"allows {name_max} per name"
            )
    return None


def _raise_os(exc: OSError, path: Path | str, doing: str, hint: str | None = None) -> None:
    raise located_os_error(exc, path, doing, hint) from None


def located_os_error(
    exc: OSError,
    path: Path | str | None = None,
    doing: str = "use this path",
    hint: str | None = None,
) -> RuleoptError:
    """An ``OSError`` (from any step after the checks) as one located ``RuleoptError``."""
    where = path if path is not None else (exc.filename or None)
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENAMETOOLONG:
        hint = hint or "use a shorter file name"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = hint or "check the file's permissions"
    elif exc.errno == errno.ENOSPC:
        hint = hint or "free disk space or choose another output path"
    elif exc.errno == errno.EIO:
        hint = hint or "the file cannot be read as data (a special file, or a failing disk)"
    return RuleoptError(
        f"cannot {doing}: {reason}", file=shown(where) if where is not None else None, hint=hint
    )


def check_input_file(path: Path | str, what: str = "file", hint: str | None = None) -> Path:
    """Refuse, with a located error, any input path we could not read as a regular file:
    an invalid name, missing, a directory, a FIFO or device (reading would block or never
    end), unreadable (permissions, ``/proc/self/mem``'s EIO). Returns the path."""
    where = shown(path)
    problem = _name_problem(path)
    if problem:
        raise RuleoptError(problem, file=where, hint=hint or "check the path")
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise RuleoptError(f"no such {what}", file=where, hint=hint or "check the path") from None
    except NotADirectoryError:
        raise RuleoptError(
            f"no such {what} (a part of the path is not a directory)",
            file=where,
            hint=hint or "check the path",
        ) from None
    except OSError as exc:
        _raise_os(exc, path, f"read the {what}", hint)
    kind = _special_kind(st.st_mode)
    if kind:
        raise RuleoptError(
            f"is {kind}, not a {what}",
            file=where,
            hint=hint
            or "pass a regular file"
            + (" (copy the pipe's data to a file first)" if "pipe" in kind else ""),
        )
    try:
        # O_NONBLOCK: a path swapped for a FIFO since the stat must not hang us here.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            os.read(fd, 1)
        finally:
            os.close(fd)
    except OSError as exc:
        _raise_os(exc, path, f"read the {what}", hint)
    return path


def _special_kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _check_writable_dir(directory: Path, out: Path, missing_hint: str) -> None:
    where = shown(directory)
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise RuleoptError(
            "the output directory does not exist", file=where, hint=missing_hint
        ) from None
    except OSError as exc:
        _raise_os(exc, directory, "use the output directory", "choose another output path")
    if not stat.S_ISDIR(st.st_mode):
        raise RuleoptError(
            "is not a directory, so the output cannot go there",
            file=where,
            hint="choose another output path",
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RuleoptError(
            "cannot write in this directory (permissions or a read-only file system)",
            file=where,
            hint=f"choose an output path in a writable directory for {shown(out)}",
        )


def check_output_file(path: Path | str, suffix: str | None = None) -> Path:
    """Refuse, without creating anything, an output file path that could not be written:
    an invalid or too long name, a missing or read-only directory, an existing directory,
    device or FIFO (which the atomic rename would replace). Returns the path."""
    where = shown(path)
    problem = _name_problem(path)
    if problem:
        raise RuleoptError(problem, file=where, hint="choose a shorter output path")
    path = Path(path)
    # Before the suffix: Path("") is Path("."), which has no name to give a suffix to.
    if path.name in ("", ".", ".."):
        raise RuleoptError(
            "the output must name a file", file=where, hint=f"e.g. -o events{suffix or '.npz'}"
        )
    if suffix is not None and path.suffix.lower() != suffix:
        raise RuleoptError(
            f"the output must be a {suffix} file",
            file=where,
            hint=f"e.g. -o {shown(path.with_suffix(suffix))}",
        )
    _check_writable_dir(
        path.parent if str(path.parent) else Path("."),
        path,
        "create it first, or choose another output path",
    )
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        _raise_os(exc, path, "write the output", "choose another output path")
    kind = _special_kind(st.st_mode)
    if kind:
        raise RuleoptError(
            f"the output path exists and is {kind}",
            file=where,
            hint="give a new file name, e.g. -o workload.npz",
        )
    return path


def check_output_dir(path: Path | str) -> Path:
    """Refuse, without creating anything, an output directory that could not be made or
    written: an invalid name, an existing non-directory, no writable existing ancestor
    (missing parents are made at write time, by ``staged_dir``)."""
    where = shown(path)
    problem = _name_problem(path)
    if problem:
        raise RuleoptError(problem, file=where, hint="choose a shorter output directory")
    path = Path(path)
    probe = path
    while True:
        try:
            st = os.stat(probe)
        except FileNotFoundError:
            parent = probe.parent
            if parent == probe:
                break
            probe = parent
            continue
        except NotADirectoryError:
            raise RuleoptError(
                "a part of the output path is not a directory",
                file=where,
                hint="choose another -o DIR",
            ) from None
        except OSError as exc:
            _raise_os(exc, probe, "use the output directory", "choose another -o DIR")
        if not stat.S_ISDIR(st.st_mode):
            if probe == path:
                raise RuleoptError(
                    "the output path exists and is not a directory",
                    file=where,
                    hint="choose another -o DIR",
                )
            raise RuleoptError(
                "a part of the output path is not a directory",
                file=shown(probe),
                hint="choose another -o DIR",
            )
        break
    _check_writable_dir(probe, path, "choose another -o DIR")
    return path


@contextlib.contextmanager
def staged_dir(outdir: Path | str) -> Iterator[tuple[Path, list[Path]]]:
    """Write a set of files into ``outdir`` all or nothing.

    Yields ``(staging, moved)``: the caller writes its files into ``staging``; on success
    every file there is moved into ``outdir`` (created with its missing parents) and
    listed in ``moved``. On any failure, Ctrl-C included, the staging directory and every
    directory this call created are removed: nothing new is left behind."""
    outdir = Path(check_output_dir(outdir))
    created: list[Path] = []
    for p in reversed([outdir, *outdir.parents]):
        if not p.exists():
            created.append(p)
    moved: list[Path] = []
    try:
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".ruleopt-", dir=outdir))
        except OSError as exc:
            _raise_os(exc, outdir, "create the output directory", "choose another -o DIR")
        try:
            yield staging, moved
            for name in sorted(os.listdir(staging)):
                os.replace(staging / name, outdir / name)
                moved.append(outdir / name)
        except OSError as exc:
            _raise_os(exc, outdir, "write the output", "check free disk space")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for p in moved:
            with contextlib.suppress(OSError):
                os.unlink(p)
        for p in reversed(created):
            with contextlib.suppress(OSError):
                p.rmdir()
        raise


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
    path = check_output_file(path)
    directory = path.parent if str(path.parent) else Path(".")
    stem = path.name[:_TMP_STEM_MAX]
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise RuleoptError(
            f"cannot write here: {exc.strerror}",
            file=shown(path),
            hint="choose an output path in a writable directory",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise RuleoptError(
                f"cannot write the output: {exc.strerror or exc}",
                file=shown(path),
                hint="check the path and free disk space",
            ) from None
        raise


def write_text(path: Path | str, text: str) -> None:
    """``atomic_write`` of UTF-8 text (undecodable bytes kept via surrogateescape)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8", "surrogateescape")))
