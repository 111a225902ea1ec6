"""Build the Cython core (``cython_core/``) with the C tracing library (``plugin/``).

Each ``cython_core/<name>.pyx`` becomes ``ruleopt._ext.<name>``. The event-loop core is
built three times from one source, as the study built Falco with exclusive macros:
untraced, rule-traced and stack-traced (see ``CORE_VARIANTS``).
"""

import glob
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = dict(
    include_dirs=[numpy.get_include(), "plugin", "cython_core"],
    extra_compile_args=["-O3", "-Wno-unused-function", "-Wno-unreachable-code"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

# name -> macros; each variant is a thin .pyx that includes the shared implementation.
CORE_VARIANTS = {
    "core_untraced": [],
    "core_rules": [("RULEOPT_TRACE_RULES", "1")],
    "core_stacks": [("RULEOPT_TRACE_STACKS", "1")],
}

extensions = []
for path in sorted(glob.glob("cython_core/*.pyx")):
    name = os.path.splitext(os.path.basename(path))[0]
    sources = [path]
    macros = list(COMMON["define_macros"])
    if name in CORE_VARIANTS:
        sources.append("plugin/trace.c")
        macros += CORE_VARIANTS[name]
    extensions.append(
        Extension(
            f"ruleopt._ext.{name}",
            sources,
            include_dirs=COMMON["include_dirs"],
            extra_compile_args=COMMON["extra_compile_args"],
            define_macros=macros,
        )
    )

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        include_path=["cython_core"],
    ),
)
