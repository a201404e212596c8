#!/usr/bin/env bash
# Installs, from Debian's packages, the commands some tests use when they are missing:
# dot (graphviz: architecture pictures), shellcheck (shipped and generated shell scripts) and
# zsh (the completion script) and java (a Java runtime for the local Spark run of the
# curation job's EMR Serverless engine). Without root or sudo it says what is missing and goes on: the
# tests that need a missing command are skipped with a reason.
set -euo pipefail
declare -A PACKAGE_OF=([dot]=graphviz [shellcheck]=shellcheck [zsh]=zsh [java]=default-jre-headless)
missing=()
for command in "${!PACKAGE_OF[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "not installed (tests that need them are skipped): ${missing[*]}" >&2
    exit 0
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
