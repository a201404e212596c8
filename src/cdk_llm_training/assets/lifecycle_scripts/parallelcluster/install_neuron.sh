#!/bin/bash
# AWS ParallelCluster OnNodeConfigured action: install one pinned AWS Neuron SDK release on a
# Trainium node running Ubuntu 24.04.
#
# Usage: install_neuron.sh --release VERSION
#                          [--apt NAME=VERSION ...]        Neuron apt packages (driver, runtime)
#                          [--neuron-pip NAME==VERSION ...] wheels from the Neuron pip repository
#                          [--pypi NAME==VERSION ...]       wheels from PyPI
#                          [--mirror HTTPS_URL]             in-VPC mirror of the three repositories
#
# Every package is pinned to one Neuron release (the library passes the release's artifact
# versions). Dependency confusion is closed in three ways: Neuron wheels are installed with
# --index-url pointing at the Neuron repository only and without dependencies; PyPI wheels
# (and the Neuron wheels' public dependencies) with --index-url pointing at PyPI only; and the
# PyPI step first resolves in --dry-run and aborts if it would fetch any Neuron-named
# distribution from PyPI. apt verifies the Neuron repository's signature (signed-by keyring).
# Ubuntu 24.04 and its python3.12 are what the Neuron setup guide names for torch-neuronx 2.9.
# ParallelCluster runs this as root; a non-zero exit fails the node's bootstrap, so Slurm never
# schedules onto a half-installed node.
set -euo pipefail

NEURON_VENV="${NEURON_VENV:-/opt/aws_neuronx_venv_pytorch}"
NEURON_HOST="repos.neuron.amazonaws.com"
APT_URL="https://apt.${NEURON_HOST}"
NEURON_PIP_URL="https://pip.${NEURON_HOST}"
PYPI_URL="https://pypi.org/simple"
# Distributions that may only come from the Neuron repository (lower case, '_' as '-').
NEURON_OWNED_REGEX='^(neuron|libneuron|torch-neuron|aws-neuron|jax-neuron|nki|nrtpy|libnrt)'

RELEASE=""
APT_PACKAGES=()
NEURON_PIP=()
PYPI=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --release) RELEASE="$2"; shift 2 ;;
    --apt) APT_PACKAGES+=("$2"); shift 2 ;;
    --neuron-pip) NEURON_PIP+=("$2"); shift 2 ;;
    --pypi) PYPI+=("$2"); shift 2 ;;
    --mirror)
      APT_URL="$2/apt"; NEURON_PIP_URL="$2/pip"; PYPI_URL="$2/pypi/simple"; shift 2 ;;
    *) echo "[install_neuron] unknown argument: $1" >&2; exit 2 ;;
  esac
done

log() { echo "[install_neuron] $*"; }

if [[ -z "${RELEASE}" ]]; then
  log "--release is required"; exit 2
fi
for requirement in "${NEURON_PIP[@]}" "${PYPI[@]}"; do
  if [[ ! "${requirement}" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!-]*$ ]]; then
    log "requirement '${requirement}' is not pinned (name==version)"; exit 2
  fi
done

if ! ls /sys/class/neuron_device >/dev/null 2>&1 && ! lspci 2>/dev/null | grep -qi neuron; then
  log "no Neuron device found on $(hostname); nothing to do"
  exit 0
fi

# shellcheck disable=SC1091
. /etc/os-release
if [[ "${ID}" != "ubuntu" || "${VERSION_ID}" != "24.04" ]]; then
  log "Neuron ${RELEASE} is installed on Ubuntu 24.04 only; this node runs ${ID} ${VERSION_ID}."
  log "Use os ubuntu2404, or a Neuron custom AMI (pcluster build-image) with install_neuron off."
  exit 1
fi
log "installing Neuron ${RELEASE} on ${ID} ${VERSION_ID}"

export DEBIAN_FRONTEND=noninteractive
curl -fsSL "${APT_URL}/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB" \
  | gpg --dearmor --yes -o /usr/share/keyrings/neuron.gpg
echo "deb [signed-by=/usr/share/keyrings/neuron.gpg] ${APT_URL} ${VERSION_CODENAME} main" \
  > /etc/apt/sources.list.d/neuron.list
apt-get update -y
apt-get install -y "linux-headers-$(uname -r)" python3.12-venv g++
if [[ ${#APT_PACKAGES[@]} -gt 0 ]]; then
  # NAME=VERSION* matches the Debian revision of that upstream version only.
  pinned=()
  for package in "${APT_PACKAGES[@]}"; do pinned+=("${package}*"); done
  apt-get install -y --allow-change-held-packages "${pinned[@]}"
  for package in "${APT_PACKAGES[@]}"; do apt-mark hold "${package%%=*}"; done
fi

cat > /etc/profile.d/neuron.sh <<'PROFILE'
export PATH=/opt/aws/neuron/bin:$PATH
PROFILE

if [[ ! -x "${NEURON_VENV}/bin/python" ]]; then
  python3.12 -m venv "${NEURON_VENV}"
fi
PIP=("${NEURON_VENV}/bin/python" -m pip --disable-pip-version-check --no-input)
# No pip.conf or PIP_* variable may add another index behind our back.
export PIP_CONFIG_FILE=/dev/null
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS

# 1. Neuron wheels: from the Neuron repository only, without dependencies.
if [[ ${#NEURON_PIP[@]} -gt 0 ]]; then
  "${PIP[@]}" install --index-url "${NEURON_PIP_URL}" --no-deps "${NEURON_PIP[@]}"
fi

# 2. Public wheels and every missing dependency: from PyPI only. Re-listing the (installed)
#    Neuron pins makes pip resolve their dependencies here; first prove that none of them
#    is a Neuron-named distribution that PyPI would serve.
report="$(mktemp)"
"${PIP[@]}" install --index-url "${PYPI_URL}" --dry-run --quiet --report "${report}" \
  "${PYPI[@]}" "${NEURON_PIP[@]}"
confused="$("${NEURON_VENV}/bin/python" - "${report}" "${NEURON_OWNED_REGEX}" <<'CHECK'
import json, re, sys
report = json.load(open(sys.argv[1]))
owned = re.compile(sys.argv[2])
names = [item["metadata"]["name"].lower().replace("_", "-") for item in report["install"]]
print(" ".join(name for name in names if owned.match(name)))
CHECK
)"
rm -f "${report}"
if [[ -n "${confused}" ]]; then
  log "refusing to install Neuron-named distributions from PyPI: ${confused}"
  log "pin them with --neuron-pip (trainium.neuron_python_packages) instead"
  exit 1
fi
"${PIP[@]}" install --index-url "${PYPI_URL}" "${PYPI[@]}" "${NEURON_PIP[@]}"
"${PIP[@]}" check

/opt/aws/neuron/bin/neuron-ls || { log "neuron-ls failed"; exit 1; }
log "done: Neuron ${RELEASE}; activate with 'source ${NEURON_VENV}/bin/activate'"
