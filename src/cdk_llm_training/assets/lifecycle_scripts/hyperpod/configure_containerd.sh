#!/usr/bin/env bash
# Move containerd's data root and the kubelet directory onto the instance-group EBS volume
# that HyperPod mounts at /opt/sagemaker (InstanceStorageConfigs). Multi-GB training images
# otherwise fill the root volume. Skipped (not failed) when the volume is not mounted.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDARY_MOUNT="${SECONDARY_MOUNT:-/opt/sagemaker}"
MOUNT_WAIT_SECONDS="${MOUNT_WAIT_SECONDS:-60}"
CONTAINERD_DIR="${SECONDARY_MOUNT}/containerd"
DATA_ROOT="${CONTAINERD_DIR}/data-root"
KUBELET_DIR="${SECONDARY_MOUNT}/kubelet"

wait_for_mount() {
    local waited=0
    until mountpoint -q "${SECONDARY_MOUNT}"; do
        if (( waited >= MOUNT_WAIT_SECONDS )); then
            return 1
        fi
        sleep 5
        waited=$(( waited + 5 ))
    done
}

if ! wait_for_mount; then
    log "${SECONDARY_MOUNT} is not mounted after ${MOUNT_WAIT_SECONDS}s; containerd stays on the root volume"
    exit 0
fi

# shellcheck source=/dev/null
source /etc/os-release
log "moving containerd data root to ${DATA_ROOT} (${PRETTY_NAME:-unknown OS})"

case "${VERSION_ID:-}" in
    2)
        # Amazon Linux 2 EKS images read this file when containerd starts.
        config="/etc/eks/containerd/containerd-config.toml"
        if [[ ! -f "${config}" ]]; then
            log "${config} not found; containerd stays on the root volume"
            exit 0
        fi
        if grep -qE '^[# ]*root[[:space:]]*=' "${config}"; then
            sed -i -E "s|^[# ]*root[[:space:]]*=.*|root = \"${DATA_ROOT}\"|" "${config}"
        else
            sed -i "1a root = \"${DATA_ROOT}\"" "${config}"
        fi
        ;;
    2023)
        # Amazon Linux 2023: start containerd with a copy of its current configuration whose
        # root points at the volume, through a systemd drop-in.
        source_config="/etc/containerd/config.toml"
        if [[ ! -f "${source_config}" ]]; then
            log "${source_config} not found; containerd stays on the root volume"
            exit 0
        fi
        install -d -m 0755 "${CONTAINERD_DIR}"
        rm -rf "${DATA_ROOT}"
        if grep -qE '^[[:space:]]*root[[:space:]]*=' "${source_config}"; then
            sed -E "s|^[[:space:]]*root[[:space:]]*=.*|root = \"${DATA_ROOT}\"|" \
                "${source_config}" > "${CONTAINERD_DIR}/config.toml"
        else
            { printf 'root = "%s"\n' "${DATA_ROOT}"; cat "${source_config}"; } \
                > "${CONTAINERD_DIR}/config.toml"
        fi
        install -d -m 0755 /etc/systemd/system/containerd.service.d
        cat > /etc/systemd/system/containerd.service.d/10-data-root.conf <<UNIT
[Service]
ExecStart=
ExecStart=/usr/bin/containerd --config ${CONTAINERD_DIR}/config.toml
UNIT
        systemctl daemon-reload
        ;;
    *)
        log "unsupported OS version '${VERSION_ID:-}'; containerd stays on the root volume"
        exit 0
        ;;
esac

# Keep what containerd already pulled (the pause image) in the new root.
if [[ -d /var/lib/containerd && ! -e "${DATA_ROOT}" ]]; then
    cp -a /var/lib/containerd "${DATA_ROOT}"
fi
install -d -m 0711 "${DATA_ROOT}"

# Pod volumes and logs under /var/lib/kubelet go to the volume as well.
if [[ ! -L /var/lib/kubelet ]]; then
    rm -rf "${KUBELET_DIR}"
    install -d -m 0750 "${KUBELET_DIR}"
    if [[ -d /var/lib/kubelet ]]; then
        cp -a /var/lib/kubelet/. "${KUBELET_DIR}/"
        rm -rf /var/lib/kubelet
    fi
    ln -s "${KUBELET_DIR}" /var/lib/kubelet
fi
log "containerd data root ${DATA_ROOT}, kubelet directory ${KUBELET_DIR}"
