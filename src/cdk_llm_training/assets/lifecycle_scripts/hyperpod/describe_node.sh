#!/usr/bin/env bash
# Record what this node has (accelerators, EFA devices) in the provisioning log, so a node
# that came up short is easy to spot. Informational only: never fails the instance.
set -uo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

token="$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' \
    http://169.254.169.254/latest/api/token || true)"
instance_type="$(curl -sf -H "X-aws-ec2-metadata-token: ${token}" \
    http://169.254.169.254/latest/meta-data/instance-type || echo unknown)"
log "instance type: ${instance_type}"

if command -v nvidia-smi >/dev/null 2>&1; then
    gpus="$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)"
    log "NVIDIA GPUs: ${gpus}"
elif command -v neuron-ls >/dev/null 2>&1; then
    log "Neuron devices: $(neuron-ls --json-output 2>/dev/null | grep -c '"neuron_device"' || true)"
else
    log "no accelerator tools found (CPU node)"
fi

if command -v fi_info >/dev/null 2>&1 && fi_info -p efa >/dev/null 2>&1; then
    log "EFA interfaces: $(fi_info -p efa -t FI_EP_RDM | grep -c 'domain:' || true)"
else
    log "no EFA provider available"
fi
exit 0
