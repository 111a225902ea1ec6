"""Build the Cython core (``cython_core/``) with the C tracing library (``plugin/``), the
libsinsp tool ``ruleopt-sinsp`` (``plugin/sinsp_*.cpp``) and bundle the rulesets.

Each ``cython_core/<name>.pyx`` becomes ``ruleopt._ext.<name>``. The event-loop core is
built three times from one source, as the study built Falco with exclusive macros:
untraced, rule-traced and stack-traced (see ``CORE_VARIANTS``). ``ruleopt._ext.abi``
exports the compiled boundary (``plugin/ruleopt_abi.h``) to Python; every extension is
compiled with a digest of the ABI headers (``ABI_DIGEST``) so a stale one is refused.
``ruleopt._ext.workload_scap_c`` is the capture writer (``ruleopt/events/workload_scap.py``)
compiled as it is (``COMPILED_MODULES``), used only when compiled from its current text.

``ruleopt-sinsp`` is built by the same ``build_ext`` step, with ``make -C plugin``, into
the package as ``ruleopt/_bin/ruleopt-sinsp``: inside the wheel for ``pip wheel`` /
``pip install``, in the source tree for ``build_ext --inplace`` and ``pip install -e``.
It links against Debian's libfalcosecurity0-dev (libsinsp/libscap 2022). Without those
headers the build stops with a message saying so; ``RULEOPT_WITHOUT_SINSP=1`` builds
without the tool instead (``verify``, ``harness`` and capture import then say it is
missing). ``FALCO_INC`` and ``CXX`` are passed on to the Makefile.
"""

import glob
import hashlib
import os
import shutil
import subprocess

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = dict(
    include_dirs=[numpy.get_include(), "plugin", "cython_core"],
    extra_compile_args=["-O3", "-Wno-unused-function", "-Wno-unreachable-code"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

# The headers that define the compiled boundary (see plugin/ruleopt_abi.h). Every
# extension is compiled with their digest and exports it, so ruleopt can refuse a core
# built from other headers than ruleopt._ext.abi (a stale in-place build).
ABI_HEADERS = ["plugin/ruleopt_abi.h", "plugin/trace.h", "plugin/ring.h"]
_digest = hashlib.sha256()
for _header in ABI_HEADERS:
    with open(os.path.join(HERE, _header), "rb") as _f:
        _digest.update(_f.read())
ABI_DIGEST = _digest.hexdigest()[:16]

# Extensions compiled from a Python module of the package, as it is (an ``include`` of
# it): name -> that module's source. Each is compiled with the source's digest, and the
# module uses its compiled copy only when the digests agree (a stale build is ignored).
COMPILED_MODULES = {"workload_scap_c": "ruleopt/events/workload_scap.py"}


def source_digest(path):
    """The digest a compiled copy of ``path`` carries (``workload_scap._compiled``)."""
    with open(os.path.join(HERE, path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


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
    macros = list(COMMON["define_macros"]) + [("RULEOPT_ABI_DIGEST", f'"{ABI_DIGEST}"')]
    if name in CORE_VARIANTS:
        sources.append("plugin/trace.c")
        macros += CORE_VARIANTS[name]
    depends = list(ABI_HEADERS)
    if name in COMPILED_MODULES:
        macros.append(("RULEOPT_WRITER_DIGEST", f'"{source_digest(COMPILED_MODULES[name])}"'))
        depends.append(COMPILED_MODULES[name])
    extensions.append(
        Extension(
            f"ruleopt._ext.{name}",
            sources,
            include_dirs=COMMON["include_dirs"],
            extra_compile_args=COMMON["extra_compile_args"],
            define_macros=macros,
            # trace.h's sampler draws its geometric gaps with log().
            libraries=["m"],
            depends=depends,
        )
    )

SINSP_REL = os.path.join("ruleopt", "_bin", "ruleopt-sinsp")
FALCO_INC = os.environ.get("FALCO_INC", "/usr/include/falcosecurity-libs")


class BuildError(SystemExit):
    """Stops the build with one readable message (setuptools prints it, pip shows it)."""


class build_ext_and_sinsp(build_ext):
    """The Cython extensions, then the libsinsp tool next to them in the package."""

    def finalize_options(self):
        super().finalize_options()
        # The four extensions are independent and each takes a while at -O3.
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def run(self):
        without = bool(os.environ.get("RULEOPT_WITHOUT_SINSP"))
        if not without:
            # Before the (long) Cython compile: a missing prerequisite fails at once.
            self._check_prerequisites()
        super().run()
        if without:
            self.announce("RULEOPT_WITHOUT_SINSP set: building without ruleopt-sinsp", 2)
            return
        self._build_sinsp(self._sinsp_path())

    def _sinsp_path(self):
        # inplace is also what setuptools sets for an editable install.
        # Absolute: make runs in plugin/ (-C), where a relative OUT would land.
        root = HERE if self.inplace else os.path.abspath(self.build_lib)
        return os.path.join(root, SINSP_REL)

    def _check_prerequisites(self):
        header = os.path.join(FALCO_INC, "userspace", "libsinsp", "sinsp.h")
        if not os.path.isfile(header):
            self._fail(f"the libsinsp headers are missing ({header} not found)")
        if shutil.which("make") is None:
            self._fail("make is missing")
        # The engine command's lua output path embeds LuaJIT (plugin/Makefile asks
        # pkg-config for it).
        if shutil.which("pkg-config") is None:
            self._fail("pkg-config is missing")
        lua = subprocess.run(["pkg-config", "--exists", "luajit"], capture_output=True)
        if lua.returncode != 0:
            self._fail("LuaJIT's development files are missing (libluajit-5.1-dev)")
        cxx = os.environ.get("CXX", "g++")
        if shutil.which(cxx) is None:
            self._fail(f"the C++ compiler {cxx} is missing")

    def _build_sinsp(self, out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        self.announce(f"building {out} (make -C plugin)", 2)
        proc = subprocess.run(
            [
                "make",
                "-s",
                "-C",
                os.path.join(HERE, "plugin"),
                f"OUT={out}",
                f"FALCO_INC={FALCO_INC}",
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not os.path.isfile(out):
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            self._fail("make -C plugin failed:\n" + tail)

    @staticmethod
    def _fail(why):
        raise BuildError(
            f"error: cannot build ruleopt-sinsp (plugin/Makefile): {why}\n"
            "  hint: install Debian's libfalcosecurity0-dev and its build dependencies "
            "(bash setup.sh does), or set RULEOPT_WITHOUT_SINSP=1 to build ruleopt without "
            "its libsinsp tool (verify, harness and .scap import will not work)"
        )

    def get_outputs(self):
        outputs = list(super().get_outputs())
        if not os.environ.get("RULEOPT_WITHOUT_SINSP"):
            outputs.append(self._sinsp_path())
        return outputs


class build_py_and_rulesets(build_py):
    """Also ship ``rulesets/*.yaml`` as ``ruleopt/rulesets/`` (the bundled defaults).

    A source checkout (editable install included) reads them from ``rulesets/`` itself,
    see ruleopt/defaults.py.
    """

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = os.path.join(self.build_lib, "ruleopt", "rulesets")
        os.makedirs(target, exist_ok=True)
        for path in sorted(glob.glob(os.path.join(HERE, "rulesets", "*.yaml"))):
            self.copy_file(path, os.path.join(target, os.path.basename(path)))

    def get_outputs(self, include_bytecode=True):
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            for path in sorted(glob.glob(os.path.join(HERE, "rulesets", "*.yaml"))):
                outputs.append(
                    os.path.join(self.build_lib, "ruleopt", "rulesets", os.path.basename(path))
                )
        return outputs


setup(
    cmdclass={"build_ext": build_ext_and_sinsp, "build_py": build_py_and_rulesets},
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        include_path=["cython_core"],
    ),
)
