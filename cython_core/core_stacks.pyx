# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The event-loop core, stack-traced build (RULEOPT_TRACE_STACKS=1): cycles of every loop stage.

The macro comes from setup.py (CORE_VARIANTS); the code is core_impl.pxi.
"""

include "core_impl.pxi"
