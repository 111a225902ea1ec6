"""Reading a ``.npz`` archive as data only: every member's ``.npy`` header is read and
checked (version, dtype, shape, byte size against the zip entry) before its data is
allocated or read. Never pickles, never trusts a size it has not checked.

``np.load`` trusts the archive: a header claiming 10^12 rows makes numpy allocate
terabytes, a garbled header surfaces as a ``tokenize`` error, an object dtype asks for a
pickle. Here each of those is one ``RuleoptError`` naming the file and the member.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np
from numpy.lib import format as npy

from ruleopt.errors import RuleoptError

# np.savez writes stored members, np.savez_compressed deflated ones; nothing else.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_HINT = "the file is not an event table written by ruleopt, or it is damaged; re-create it"
# The zip library, zlib and numpy's header parser raise many kinds of error on hostile
# bytes (BadZipFile, NotImplementedError for a zip version, RuntimeError for encryption,
# zlib.error, tokenize.TokenError, SyntaxError, ValueError, EOFError, ...). Inside these
# few calls on untrusted bytes, any Exception means "this member is not what it claims".


@dataclass(frozen=True)
class Member:
    """One checked ``.npy`` member: 1-d, ``length`` items of ``dtype``."""

    name: str
    dtype: np.dtype
    length: int
    data_offset: int


class NpzReader:
    """The members of one ``.npz`` file, each read only after its header checks out."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.where = os.fspath(path)
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except Exception as exc:  # noqa: BLE001 - see above
            raise RuleoptError(
                f"not an .npz (zip) archive: {exc}", file=self.where, hint=_HINT
            ) from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.filename in self._infos:
                raise self.error(info.filename, "appears twice in the archive")
            self._infos[info.filename] = info

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def error(self, member: str, message: str) -> RuleoptError:
        name = member[:-4] if member.endswith(".npy") else member
        return RuleoptError(f"member {name}: {message}", file=self.where, hint=_HINT)

    def names(self) -> set[str]:
        return {n[:-4] for n in self._infos if n.endswith(".npy")}

    def declared_bytes(self, names: list[str]) -> int:
        """The uncompressed size the zip declares for these members (what reading costs)."""
        return sum(self._info(n).file_size for n in names)

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self._infos.get(name + ".npy")
        if info is None:
            raise self.error(name, "missing from the archive")
        return info

    def header(self, name: str, dtype: np.dtype | type) -> Member:
        """Check member ``name``'s header: a 1-d array of exactly ``dtype``, whose byte
        size is what the zip entry holds. Reads only the header."""
        want = np.dtype(dtype)
        info = self._info(name)
        if info.compress_type not in _METHODS:
            raise self.error(
                name,
                f"compression method {info.compress_type} is not "
                f"supported (only stored or deflated)",
            )
        if info.flag_bits & 0x1:
            raise self.error(name, "is encrypted")
        try:
            with self._zip.open(info) as fp:
                version = npy.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype_ = npy.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, fortran, dtype_ = npy.read_array_header_2_0(fp)
                else:
                    raise self.error(name, f".npy format version {version} is not supported")
                offset = fp.tell()
        except RuleoptError:
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            raise self.error(name, f"unreadable .npy header: {type(exc).__name__}: {exc}") from None
        if dtype_ != want or dtype_.hasobject:
            raise self.error(name, f"holds {dtype_} values; an event table stores {want} here")
        if not isinstance(shape, tuple) or len(shape) != 1:
            raise self.error(name, f"has shape {shape}; an event table stores 1-d arrays here")
        length = shape[0]
        expected = offset + length * want.itemsize
        if expected != info.file_size:
            raise self.error(
                name,
                f"its header declares {length:,} values "
                f"({length * want.itemsize:,} bytes) but the member holds "
                f"{max(info.file_size - offset, 0):,} bytes of data",
            )
        del fortran  # 1-d: C and Fortran order are the same bytes
        return Member(name, want, int(length), offset)

    def read(self, member: Member) -> np.ndarray:
        """The checked member's data, as a writable array."""
        nbytes = member.length * member.dtype.itemsize
        buf = bytearray(nbytes)
        try:
            with self._zip.open(self._info(member.name)) as fp:
                fp.read(member.data_offset)
                got = fp.readinto(buf) if nbytes else 0
                # Reading to the end makes zipfile check the CRC.
                rest = fp.read(1)
        except Exception as exc:  # noqa: BLE001 - see above
            raise self.error(member.name, f"cannot read the data: {exc}") from None
        if got != nbytes or rest:
            raise self.error(member.name, "the data is truncated")
        return np.frombuffer(buf, dtype=member.dtype)
