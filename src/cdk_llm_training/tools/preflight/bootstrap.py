"""CDK bootstrap: present, and at least the version the synthesized stacks require.

The templates read the version from the SSM parameter ``/cdk-bootstrap/<qualifier>/version``
(their ``BootstrapVersion`` parameter) and a rule fails the deploy below the required version.
The required version and the parameter name come from the cloud assembly's ``manifest.json``
(``requiresBootstrapStackVersion``, ``bootstrapStackVersionSsmParameter`` of each stack) when
``cdk synth`` has run; otherwise from :data:`DEFAULT_REQUIRED_VERSION`.
"""

from __future__ import annotations

import json
from pathlib import Path

from botocore.exceptions import ClientError

from cdk_llm_training.tools.preflight._aws import Context, error_code, guarded
from cdk_llm_training.tools.preflight.model import Finding, Status

CHECK = "cdk-bootstrap"
DEFAULT_REQUIRED_VERSION = 6
"""What aws-cdk-lib 2.275's default synthesizer writes into manifest.json and the templates'
``CheckBootstrapVersion`` rule (measured on this app's synth)."""
DEFAULT_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
"""The parameter of the default qualifier ``hnb659fds``."""


def required_bootstrap(cdk_out: Path | None, stacks: tuple[str, ...]) -> tuple[int, str, str]:
    """``(version, SSM parameter, where it came from)`` for ``stacks``."""
    manifest_path = cdk_out / "manifest.json" if cdk_out is not None else None
    if manifest_path is None or not manifest_path.is_file():
        return DEFAULT_REQUIRED_VERSION, DEFAULT_PARAMETER, "default synthesizer"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        artifacts = manifest.get("artifacts", {})
        found = [artifacts[name]["properties"] for name in stacks if name in artifacts]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return DEFAULT_REQUIRED_VERSION, DEFAULT_PARAMETER, "default synthesizer"
    if not found:
        return DEFAULT_REQUIRED_VERSION, DEFAULT_PARAMETER, "default synthesizer"
    version = max(int(p.get("requiresBootstrapStackVersion", 0)) for p in found)
    parameter = str(found[0].get("bootstrapStackVersionSsmParameter", DEFAULT_PARAMETER))
    return version, parameter, str(manifest_path)


def check_bootstrap(context: Context, stacks: tuple[str, ...]) -> list[Finding]:
    """One row: the bootstrap version in the account and Region vs the stacks' need."""
    required, parameter, origin = required_bootstrap(context.cdk_out, stacks)
    subject = f"{parameter} (needs >= {required}, from {origin})"
    fix = f"run `cdk bootstrap aws://{context.account}/{context.region}` with a current CDK CLI"

    def run() -> list[Finding]:
        ssm = context.clients("ssm", context.region)
        try:
            value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
            return [
                Finding(
                    CHECK,
                    Status.BLOCKER,
                    subject,
                    f"{context.account}/{context.region} is not bootstrapped (no CDKToolkit "
                    "stack parameter)",
                    fix,
                )
            ]
        try:
            version = int(value)
        except ValueError:
            return [Finding(CHECK, Status.BLOCKER, subject, f"unreadable version {value!r}", fix)]
        if version < required:
            return [Finding(CHECK, Status.BLOCKER, subject, f"version {version} is too old", fix)]
        return [Finding(CHECK, Status.PASS, subject, f"version {version}")]

    return guarded(CHECK, subject, "ssm:GetParameter on the bootstrap version parameter", run)
