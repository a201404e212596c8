"""Prices of the managed customization routes, each with its source, its check date and
whether the number was confirmed there.

Amazon Bedrock bills model customization per token trained (tokens x epochs) plus a monthly
storage fee per custom model, at a price per base model; reinforcement fine-tuning adds the
grader Lambda's invocations. SageMaker serverless customization is billed by SageMaker per job.
Where a price could not be read from the AWS pricing page on the check date, ``usd`` is
``None`` and ``verified`` is False: the route is kept, its cost is not estimated, and the
planner's output says "price unverified". No number is recorded that was not read from its
source.

Pure Python (no aws_cdk import).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdk_llm_training.config.catalogs.bedrock_models import CustomizationType

CHECKED_ON = "2026-11-30"
"""The date every entry below was last checked against its source."""
BEDROCK_PRICING = "https://aws.amazon.com/bedrock/pricing/"
SAGEMAKER_PRICING = "https://aws.amazon.com/sagemaker/pricing/"


@dataclass(frozen=True)
class ManagedPrice:
    """One billed item of a managed route."""

    key: str
    what: str
    """What is billed, in words (the unit included)."""
    usd: float | None
    """USD per unit; ``None`` when not verified."""
    source: str
    checked_on: str
    verified: bool

    def label(self) -> str:
        """``$X per unit (source, checked DATE)`` or ``price unverified (...)``."""
        where = f"{self.source}, checked {self.checked_on}"
        if self.verified and self.usd is not None:
            return f"${self.usd:g} {self.what} ({where})"
        return f"{self.what}: price unverified ({where})"


_NOT_CONFIRMED = False
"""Every price below: the page's per-model customization table could not be read on the check
date, so no number is recorded."""

MANAGED_PRICES: tuple[ManagedPrice, ...] = (
    ManagedPrice(
        key="bedrock-training-tokens",
        what="per 1,000 tokens trained (tokens x epochs), by base model",
        usd=None,
        source=BEDROCK_PRICING,
        checked_on=CHECKED_ON,
        verified=_NOT_CONFIRMED,
    ),
    ManagedPrice(
        key="bedrock-model-storage",
        what="per custom model per month of storage, by base model",
        usd=None,
        source=BEDROCK_PRICING,
        checked_on=CHECKED_ON,
        verified=_NOT_CONFIRMED,
    ),
    ManagedPrice(
        key="bedrock-rft-training",
        what="reinforcement fine-tuning training, by base model (plus the grader Lambda)",
        usd=None,
        source=BEDROCK_PRICING,
        checked_on=CHECKED_ON,
        verified=_NOT_CONFIRMED,
    ),
    ManagedPrice(
        key="sagemaker-serverless-customization",
        what="serverless customization job (SFT, DPO, RLVR, RLAIF), by base model",
        usd=None,
        source=SAGEMAKER_PRICING,
        checked_on=CHECKED_ON,
        verified=_NOT_CONFIRMED,
    ),
)
"""The managed routes' billed items, in the order the docs list them."""


def managed_price(key: str) -> ManagedPrice:
    """The entry ``key``; ``KeyError`` naming it when missing."""
    for price in MANAGED_PRICES:
        if price.key == key:
            return price
    raise KeyError(f"no managed price {key!r}; known: {', '.join(p.key for p in MANAGED_PRICES)}")


def bedrock_prices(kind: CustomizationType) -> tuple[ManagedPrice, ...]:
    """The billed items of a Bedrock customization of type ``kind``."""
    training = (
        "bedrock-rft-training"
        if kind is CustomizationType.REINFORCEMENT_FINE_TUNING
        else "bedrock-training-tokens"
    )
    return managed_price(training), managed_price("bedrock-model-storage")


def serverless_prices() -> tuple[ManagedPrice, ...]:
    """The billed items of a SageMaker serverless customization job."""
    return (managed_price("sagemaker-serverless-customization"),)


def price_markdown() -> str:
    """The docs' table of managed-route prices (a test keeps the page equal to it)."""
    rows = ["| item | price | source | checked |", "|---|---|---|---|"]
    for price in MANAGED_PRICES:
        value = f"${price.usd:g}" if price.verified and price.usd is not None else "unverified"
        rows.append(f"| {price.what} | {value} | <{price.source}> | {price.checked_on} |")
    return "\n".join(rows) + "\n"
