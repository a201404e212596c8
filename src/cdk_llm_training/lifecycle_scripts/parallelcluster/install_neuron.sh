#!/bin/bash
# AWS ParallelCluster OnNodeConfigured action: install the AWS Neuron SDK on a Trainium node.
#
# Usage: install_neuron.sh [PIP_REQUIREMENT ...]
#   Installs the Neuron driver (DKMS), runtime, collectives and tools from the Neuron package
#   repository, then creates the Python virtual environment $NEURON_VENV (default
#   /opt/aws_neuronx_venv_pytorch) with the given pip requirements (default: neuronx-cc==2.*
#   torch-neuronx). ParallelCluster runs it as root after the node is configured; a non-zero
#   exit status makes the node fail its bootstrap, so Slurm never schedules onto a broken node.
set -euo pipefail

NEURON_VENV="${NEURON_VENV:-/opt/aws_neuronx_venv_pytorch}"
NEURON_REPO_HOST="repos.neuron.amazonaws.com"
if [[ $# -gt 0 ]]; then
  PIP_REQUIREMENTS=("$@")
else
  PIP_REQUIREMENTS=("neuronx-cc==2.*" "torch-neuronx")
fi

log() { echo "[install_neuron] $*"; }

if ! ls /sys/class/neuron_device >/dev/null 2>&1 && ! lspci 2>/dev/null | grep -qi neuron; then
  log "no Neuron device found on $(hostname); nothing to do"
  exit 0
fi

# shellcheck disable=SC1091
. /etc/os-release
log "installing the Neuron SDK on ${ID} ${VERSION_ID}"

case "${ID}" in
  ubuntu)
    export DEBIAN_FRONTEND=noninteractive
    curl -fsSL "https://apt.${NEURON_REPO_HOST}/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB" \
      | gpg --dearmor --yes -o /usr/share/keyrings/neuron.gpg
    echo "deb [signed-by=/usr/share/keyrings/neuron.gpg] https://apt.${NEURON_REPO_HOST} ${VERSION_CODENAME} main" \
      > /etc/apt/sources.list.d/neuron.list
    apt-get update -y
    apt-get install -y "linux-headers-$(uname -r)" python3-venv
    apt-get install -y aws-neuronx-dkms aws-neuronx-collectives aws-neuronx-runtime-lib \
      aws-neuronx-tools
    PYTHON=python3
    ;;
  amzn|rhel|rocky)
    cat > /etc/yum.repos.d/neuron.repo <<REPO
[neuron]
name=Neuron YUM Repository
baseurl=https://yum.${NEURON_REPO_HOST}
enabled=1
gpgcheck=1
gpgkey=https://yum.${NEURON_REPO_HOST}/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB
metadata_expire=0
REPO
    rpm --import "https://yum.${NEURON_REPO_HOST}/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB"
    dnf install -y "kernel-devel-$(uname -r)" python3 python3-pip
    dnf install -y aws-neuronx-dkms aws-neuronx-collectives aws-neuronx-runtime-lib \
      aws-neuronx-tools
    PYTHON=python3
    ;;
  *)
    log "unsupported operating system '${ID}'"
    exit 1
    ;;
esac

cat > /etc/profile.d/neuron.sh <<'PROFILE'
export PATH=/opt/aws/neuron/bin:$PATH
PROFILE

if [[ ! -x "${NEURON_VENV}/bin/python" ]]; then
  "${PYTHON}" -m venv "${NEURON_VENV}"
fi
"${NEURON_VENV}/bin/python" -m pip install --upgrade pip
"${NEURON_VENV}/bin/python" -m pip install \
  --extra-index-url "https://pip.${NEURON_REPO_HOST}" "${PIP_REQUIREMENTS[@]}"

/opt/aws/neuron/bin/neuron-ls || { log "neuron-ls failed"; exit 1; }
log "done: activate with 'source ${NEURON_VENV}/bin/activate'"
