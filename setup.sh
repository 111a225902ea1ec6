#!/usr/bin/env bash
# One-step setup for a fresh Debian 12 machine: system packages (the real Falco libraries,
# sysdig, graphviz, chromium for the report's rendering test), then the Python package
# with its Cython core and its libsinsp tool.
# Idempotent: re-running only does what is missing.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  build-essential pkg-config
  libfalcosecurity0-dev libtbb-dev libjsoncpp-dev libcurl4-openssl-dev libc-ares-dev
  libb64-dev libjq-dev libelf-dev libluajit-5.1-dev
  sysdig graphviz
  chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

PY=${PYTHON:-python3}
echo "setup: installing ruleopt (Python package, Cython core, libsinsp tool)"
# The editable install builds, in place, the Cython core into ruleopt/_ext/ and the
# libsinsp tool (plugin/) into ruleopt/_bin/ruleopt-sinsp (setup.py's build_ext step).
$PY -m pip install -q -e '.[test]'
test -x ruleopt/_bin/ruleopt-sinsp || { echo "setup: ruleopt/_bin/ruleopt-sinsp was not built" >&2; exit 1; }
echo "setup: done"
