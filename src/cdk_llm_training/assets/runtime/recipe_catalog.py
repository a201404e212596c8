"""CloudFormation custom resource: fetch and convert the pinned HyperPod recipes release.

Create and Update start the CodeBuild project ``ProjectName`` (which downloads the release
archive of ``Release`` from ``Repository``, refuses it unless its embedded commit is
``Commit``, converts the recipes to JSON and writes them to ``s3://Bucket/Prefix``), wait for
the build and answer CloudFormation with its outcome. Delete does nothing: the catalog stays in
the retained artifacts zone (a few MB), and a later stack reads the same keys.

The build runs outside the training VPC (CodeBuild's own network reaches github.com); this
function only calls the CodeBuild API. Standard library plus boto3 only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING or __package__:
    from cdk_llm_training.assets.runtime.hyperpod_dependency_chart import send_response
else:  # in Lambda, this folder is the code root
    from hyperpod_dependency_chart import send_response

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

POLL_SECONDS = 15
SAFETY_MARGIN_MS = 60_000
"""Stop waiting this long before the function's own timeout, to still answer CloudFormation."""
DONE = {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"}


class CatalogError(RuntimeError):
    """The build failed or did not finish in time; the message goes to CloudFormation."""


def physical_id_of(props: Mapping[str, Any]) -> str:
    """``<repository>@<release>`` (a new pin replaces the resource, keeping old keys)."""
    return f"{props['Repository']}@{props['Release']}"


def fetch(
    props: Mapping[str, Any],
    *,
    codebuild: Any = None,
    remaining_ms: Callable[[], int] = lambda: 900_000,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Run the build for ``props``; the catalog's S3 prefix and the build ID on success."""
    client = codebuild or boto3.client("codebuild")
    variables = {
        "REPOSITORY": props["Repository"],
        "RELEASE": props["Release"],
        "COMMIT": props["Commit"],
        "BUCKET": props["Bucket"],
        "PREFIX": props["Prefix"],
    }
    build = client.start_build(
        projectName=props["ProjectName"],
        environmentVariablesOverride=[
            {"name": name, "value": str(value), "type": "PLAINTEXT"}
            for name, value in variables.items()
        ],
    )["build"]
    build_id = build["id"]
    LOGGER.info("started %s", build_id)
    while build["buildStatus"] not in DONE:
        if remaining_ms() < SAFETY_MARGIN_MS:
            raise CatalogError(f"build {build_id} still running; see its logs")
        sleep(POLL_SECONDS)
        build = client.batch_get_builds(ids=[build_id])["builds"][0]
    if build["buildStatus"] != "SUCCEEDED":
        phases = [
            f"{p['phaseType']}: {' '.join(c.get('message', '') for c in p.get('contexts', []))}"
            for p in build.get("phases", [])
            if p.get("phaseStatus") not in (None, "SUCCEEDED")
        ]
        raise CatalogError(f"build {build_id} {build['buildStatus']}: {'; '.join(phases)}")
    return {"CatalogUri": f"s3://{props['Bucket']}/{props['Prefix']}", "BuildId": build_id}


def handler(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: do the request, then always answer CloudFormation."""
    request, props = event["RequestType"], event["ResourceProperties"]
    physical_id = physical_id_of(props)
    try:
        data = {}
        if request in ("Create", "Update"):
            data = fetch(props, remaining_ms=context.get_remaining_time_in_millis)
        send_response(event, "SUCCESS", physical_id, data=data)
    except Exception as error:
        LOGGER.exception("%s failed", request)
        send_response(event, "FAILED", physical_id, reason=str(error)[:1000])
