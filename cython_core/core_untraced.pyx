# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The event-loop core, untraced build: no trace records (the baseline).

The macro comes from setup.py (CORE_VARIANTS); the code is core_impl.pxi.
"""

include "core_impl.pxi"
