"""Where Amazon Bedrock serves a custom model on demand (a custom model deployment), and how
each evaluation inference route is billed.

Source: Amazon Bedrock User Guide, "Deploy a custom model for on-demand inference" (supported
base models: Amazon Nova Micro, Lite and Pro; Regions: US East (N. Virginia) and US West
(Oregon); the model must have been customized on or after 2025-07-16), read on
:data:`VERIFIED_ON`. Amazon Nova 2 Lite is not on that list, so it is treated as unsupported.
Pure Python (no aws_cdk import).
"""

from __future__ import annotations

from enum import StrEnum

VERIFIED_ON = "2026-11-30"
"""The date the lists below were compared with the AWS documentation."""

ON_DEMAND_BASE_MODELS = ("amazon.nova-micro-v1", "amazon.nova-lite-v1", "amazon.nova-pro-v1")
"""Base model id prefixes whose custom models Bedrock can deploy for on-demand inference."""

ON_DEMAND_REGIONS = ("us-east-1", "us-west-2")
"""Regions with custom model deployments for on-demand inference."""

PRECOMPUTED_SOURCE_IDENTIFIER = "candidate"
"""The evaluation job's ``inferenceSourceIdentifier`` for the deployment's answers, and the
``modelIdentifier`` of each answer in the responses dataset (the two must be equal)."""

ON_DEMAND_PRICING = (
    "on-demand custom model inference: billed per input and output token, no hourly charge "
    "while idle (rate: Amazon Bedrock pricing page; no rate in the package's price book, "
    "unverified)"
)
PROVISIONED_PRICING = (
    "no-commitment provisioned throughput: billed per model unit per hour while it exists "
    "(rate: Amazon Bedrock pricing page; no rate in the package's price book, unverified)"
)


class EvaluationInference(StrEnum):
    """How the evaluation invokes the new custom model."""

    AUTO = "auto"
    """On-demand where the base model and Region support it, provisioned otherwise."""
    ON_DEMAND = "on-demand"
    """A custom model deployment (per-token billing); fails synthesis where unsupported."""
    PROVISIONED = "provisioned"
    """No-commitment provisioned throughput (per model unit-hour)."""


def supports_on_demand(base_model_id: str) -> bool:
    """True when custom models of ``base_model_id`` can be deployed for on-demand inference."""
    return base_model_id.startswith(ON_DEMAND_BASE_MODELS)


def region_supports_on_demand(region: str | None) -> bool | None:
    """True / False for a known Region; None when the Region is not known at synthesis."""
    if region is None:
        return None
    return region in ON_DEMAND_REGIONS


def resolve_inference(
    choice: EvaluationInference,
    *,
    base_model_id: str,
    region: str | None,
    algorithmic_metrics: bool,
) -> EvaluationInference:
    """``ON_DEMAND`` or ``PROVISIONED`` for ``choice``. ``region`` None (an environment-agnostic
    stack): on-demand is chosen by the model alone and a deployment in an unsupported Region
    fails at run time, notified, with nothing left behind.

    :raises ValueError: ``ON_DEMAND`` for a model, Region or metric set that cannot use it.
    """
    if choice is EvaluationInference.PROVISIONED:
        return choice
    problems = []
    if not supports_on_demand(base_model_id):
        problems.append(
            f"base model {base_model_id!r} is not one Bedrock deploys on demand "
            f"(supported: {', '.join(ON_DEMAND_BASE_MODELS)})"
        )
    if region_supports_on_demand(region) is False:
        problems.append(
            f"Region {region!r} has no on-demand custom model deployments "
            f"(supported: {', '.join(ON_DEMAND_REGIONS)})"
        )
    if algorithmic_metrics:
        # The evaluation reads the deployment's answers from a dataset ("bring your own
        # inference responses"); that form is documented for model-as-a-judge jobs only.
        problems.append("algorithmic_metrics need provisioned throughput (judge metrics only)")
    if not problems:
        return EvaluationInference.ON_DEMAND
    if choice is EvaluationInference.ON_DEMAND:
        raise ValueError("evaluation_inference 'on-demand': " + "; ".join(problems))
    return EvaluationInference.PROVISIONED
