# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The event-loop core, rule-traced build (RULEOPT_TRACE_RULES=1): cycles of every rule check.

The macro comes from setup.py (CORE_VARIANTS); the code is core_impl.pxi.
"""

include "core_impl.pxi"
