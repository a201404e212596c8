#!/usr/bin/env bash
# Installs Graphviz's `dot` from Debian's packages when it is missing (the docs build draws the
# architecture pictures with it).
set -euo pipefail
command -v dot >/dev/null 2>&1 && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "graphviz is missing: install it with your package manager (Debian: apt-get install graphviz)" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends graphviz >/dev/null
command -v dot >/dev/null
