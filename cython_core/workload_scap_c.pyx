# cython: language_level=3, annotation_typing=False, boundscheck=True, wraparound=True
# The capture writer (ruleopt/events/workload_scap.py) compiled as it is: the same
# source, so the same bytes, without the interpreter's per-row dispatch (1.1-1.4x on
# the rows of a generated capture, measured side by side). Python semantics are kept
# (negative indices, bounds checks): the source is plain Python, not written for C. The build
# passes the source's digest (setup.py, RULEOPT_WRITER_DIGEST) so a copy compiled from
# another version of the file is never used (workload_scap._compiled).
include "../ruleopt/events/workload_scap.py"

cdef extern from *:
    const char* RULEOPT_WRITER_DIGEST

SOURCE_DIGEST = RULEOPT_WRITER_DIGEST.decode("ascii")
