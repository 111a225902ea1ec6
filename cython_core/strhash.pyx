# cython: language_level=3
"""FNV-1a hashing of UTF-8 strings: the key the EventTable string heap interns by.

Small on purpose: it is the first compiled module, so the build path (pyproject ->
setup.py -> cythonize -> import) is exercised from day one.
"""

from libc.stdint cimport uint64_t


cdef inline uint64_t _fnv1a(const unsigned char[:] data) noexcept nogil:
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t i
    for i in range(data.shape[0]):
        h ^= data[i]
        h *= 1099511628211ULL
    return h


def fnv1a(s) -> int:
    """64-bit FNV-1a of ``s`` (str is encoded as UTF-8)."""
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    if len(s) == 0:
        return 14695981039346656037
    return _fnv1a(s)
