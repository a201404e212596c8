#!/usr/bin/env bash
# Install the SageMaker HyperPod dependency Helm chart on the EKS cluster of a deployed (or
# deploying) stack, then release the stack's wait condition so CloudFormation goes on to
# create the HyperPod cluster.
#
# The chart lives in a Git repository (it is not published to a Helm repository), so it cannot
# be fetched at synth time; this is the one step a deploy needs outside CloudFormation. Run it
# while `cdk deploy` waits, from a machine that can reach the EKS API endpoint (inside the VPC
# for a private endpoint) with credentials of a role listed in admin_role_arns.
#
# Usage: install.sh --stack STACK_NAME [--region REGION] [--revision GIT_SHA]
#                   [--cluster EKS_CLUSTER_NAME] [--handle WAIT_HANDLE_LOGICAL_ID]
set -euo pipefail

CHART_REPO="https://github.com/aws/sagemaker-hyperpod-cli.git"
CHART_PATH="helm_chart/HyperPodHelmChart"
RELEASE="hyperpod-dependencies"
REVISION="bb6a9f9534217c55a5806ae968e1dd8b285d4b8c"
STACK=""
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
CLUSTER=""
HANDLE_ID=""
WAIT_MINUTES=60

die() {
    echo "install.sh: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stack) STACK="$2"; shift 2 ;;
        --region) REGION="$2"; shift 2 ;;
        --revision) REVISION="$2"; shift 2 ;;
        --cluster) CLUSTER="$2"; shift 2 ;;
        --handle) HANDLE_ID="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[[ -n "${STACK}" ]] || die "--stack is required"
[[ -n "${REGION}" ]] || REGION="$(aws configure get region || true)"
[[ -n "${REGION}" ]] || die "no region: pass --region or set AWS_REGION"
for tool in aws kubectl helm git curl; do
    command -v "${tool}" >/dev/null 2>&1 || die "'${tool}' is not installed"
done

stack_resource() {
    # Physical ID of the only resource of type $1 in the stack (empty until it exists).
    aws cloudformation describe-stack-resources --region "${REGION}" --stack-name "${STACK}" \
        --query "StackResources[?ResourceType=='$1' && ResourceStatus=='CREATE_COMPLETE'].PhysicalResourceId" \
        --output text
}

stack_resource_by_id() {
    aws cloudformation describe-stack-resource --region "${REGION}" --stack-name "${STACK}" \
        --logical-resource-id "$1" --query StackResourceDetail.PhysicalResourceId --output text
}

echo "Waiting for the EKS cluster and the wait condition of ${STACK} (up to ${WAIT_MINUTES} min)..."
deadline=$(( $(date +%s) + WAIT_MINUTES * 60 ))
HANDLE_URL=""
while :; do
    [[ -n "${CLUSTER}" ]] || CLUSTER="$(stack_resource AWS::EKS::Cluster)"
    if [[ -n "${HANDLE_ID}" ]]; then
        HANDLE_URL="$(stack_resource_by_id "${HANDLE_ID}" 2>/dev/null || true)"
    else
        HANDLE_URL="$(stack_resource AWS::CloudFormation::WaitConditionHandle)"
    fi
    if [[ -n "${CLUSTER}" && "${CLUSTER}" != "None" && "${HANDLE_URL}" == https://* ]]; then
        break
    fi
    (( $(date +%s) < deadline )) || die "timed out waiting for the stack's EKS cluster"
    sleep 30
done
[[ "$(wc -w <<<"${CLUSTER}")" -eq 1 ]] || die "several EKS clusters in ${STACK}; pass --cluster"
[[ "$(wc -w <<<"${HANDLE_URL}")" -eq 1 ]] || die "several wait handles in ${STACK}; pass --handle"

aws eks wait cluster-active --region "${REGION}" --name "${CLUSTER}"
aws eks update-kubeconfig --region "${REGION}" --name "${CLUSTER}"

workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT
git clone --quiet --filter=blob:none "${CHART_REPO}" "${workdir}/cli"
git -C "${workdir}/cli" checkout --quiet "${REVISION}"
helm dependency update "${workdir}/cli/${CHART_PATH}"
helm upgrade --install "${RELEASE}" "${workdir}/cli/${CHART_PATH}" --namespace kube-system

payload="{\"Status\":\"SUCCESS\",\"Reason\":\"HyperPod dependency chart installed\",\"UniqueId\":\"${RELEASE}\",\"Data\":\"${REVISION}\"}"
curl -sf -X PUT -H 'Content-Type:' --data-binary "${payload}" "${HANDLE_URL}"
echo "Installed ${RELEASE} (${REVISION}) on ${CLUSTER}; signalled ${STACK} to create the HyperPod cluster."
