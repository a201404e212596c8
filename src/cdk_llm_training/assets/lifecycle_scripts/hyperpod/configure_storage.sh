#!/usr/bin/env bash
# Put scratch space on the instance-group EBS volume that HyperPod mounts at /opt/sagemaker
# (InstanceStorageConfigs), so large temporary files do not fill the root volume.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDARY_MOUNT="${SECONDARY_MOUNT:-/opt/sagemaker}"

if ! mountpoint -q "${SECONDARY_MOUNT}"; then
    log "${SECONDARY_MOUNT} is not a mount point; keeping scratch space on the root volume"
    exit 0
fi

install -d -m 1777 "${SECONDARY_MOUNT}/tmp"
install -d -m 0755 "${SECONDARY_MOUNT}/cache"
log "scratch directories ready under ${SECONDARY_MOUNT}: $(df -h --output=avail "${SECONDARY_MOUNT}" | tail -n 1 | tr -d ' ') available"
