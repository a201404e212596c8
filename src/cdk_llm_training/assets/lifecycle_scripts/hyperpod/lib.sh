#!/usr/bin/env bash
# Shared helpers for the HyperPod lifecycle scripts (sourced, not executed).

log() {
    printf '%s [lifecycle] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

run_step() {
    local step="$1"
    log "running $(basename "${step}")"
    if ! bash "${step}"; then
        log "FAILED: $(basename "${step}")"
        return 1
    fi
    log "done: $(basename "${step}")"
}
