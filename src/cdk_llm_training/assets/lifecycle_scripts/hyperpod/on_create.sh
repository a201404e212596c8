#!/usr/bin/env bash
# HyperPod (EKS orchestrator) lifecycle entry point: runs once on every new instance, as root,
# from a copy of this directory. Each helper is small and idempotent; a failing helper fails
# the instance, so HyperPod replaces it instead of leaving a half-configured node.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_DIR="/var/log/provision"
mkdir -p "${LOG_DIR}"
exec > >(tee -a "${LOG_DIR}/provisioning.log") 2>&1

# shellcheck source=lib.sh
source "${SCRIPT_DIR}/lib.sh"

log "on_create.sh starting on $(hostname)"
run_step "${SCRIPT_DIR}/configure_storage.sh"
run_step "${SCRIPT_DIR}/configure_containerd.sh"
run_step "${SCRIPT_DIR}/describe_node.sh"
log "on_create.sh finished"
