"""On-demand instance prices as data, each with the date it was recorded and its source.

Pure Python (no aws_cdk import). The shipped data lives in ``config/catalogs/data/prices.json``
(us-east-1, USD per instance-hour); prices change, so users override entries with a file of
the same shape through :func:`load_price_book`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field

from cdk_llm_training.config.base import FrozenModel


class PriceChannel(StrEnum):
    """Which price list applies: it depends on the engine that runs the instances."""

    EC2 = "ec2"
    """Plain EC2 (AWS ParallelCluster, self-managed clusters)."""
    SAGEMAKER = "sagemaker"
    """SageMaker ``ml.`` instances (training jobs, HyperPod)."""


class InstancePrice(FrozenModel):
    """The on-demand price of one instance type (EC2 name, without ``ml.``)."""

    instance_type: str
    ec2_usd_per_hour: float = Field(gt=0)
    """EC2 Linux on-demand price, USD per instance-hour."""
    sagemaker_usd_per_hour: float | None = Field(default=None, gt=0)
    """SageMaker ``ml.`` price, USD per instance-hour. Default None: not recorded."""
    as_of: datetime.date
    """When the price was recorded from its source."""
    source: str = Field(min_length=1)
    """Where the price comes from (price page, region, operating system)."""


class QuotedPrice(FrozenModel):
    """A price ready to use: the figure, the list it comes from, and its provenance."""

    instance_type: str
    channel: PriceChannel
    usd_per_hour: float
    as_of: datetime.date
    source: str
    note: str | None = None
    """Set when the requested list had no figure and another was used instead."""


class PriceBook:
    """Lookup of :class:`InstancePrice` by EC2 or SageMaker (``ml.``) instance type name."""

    def __init__(self, prices: Iterable[InstancePrice], *, region: str = "us-east-1") -> None:
        self._prices: dict[str, InstancePrice] = {p.instance_type: p for p in prices}
        self.region = region

    def __contains__(self, instance_type: object) -> bool:
        return isinstance(instance_type, str) and self.find(instance_type) is not None

    def __len__(self) -> int:
        return len(self._prices)

    def names(self) -> list[str]:
        """Every priced EC2 instance type name, sorted."""
        return sorted(self._prices)

    def find(self, instance_type: str) -> InstancePrice | None:
        """The price entry of ``instance_type`` (``p5.48xlarge`` or ``ml.p5.48xlarge``)."""
        return self._prices.get(instance_type.removeprefix("ml."))

    def quote(self, instance_type: str, channel: PriceChannel) -> QuotedPrice | None:
        """The price of ``instance_type`` on ``channel``, or None when it is not priced.

        A SageMaker quote without a recorded SageMaker figure falls back to the EC2 price and
        says so in ``note`` (SageMaker prices are usually higher, so it is a lower bound).
        """
        entry = self.find(instance_type)
        if entry is None:
            return None
        if channel is PriceChannel.SAGEMAKER and entry.sagemaker_usd_per_hour is not None:
            return QuotedPrice(
                instance_type=entry.instance_type,
                channel=channel,
                usd_per_hour=entry.sagemaker_usd_per_hour,
                as_of=entry.as_of,
                source=entry.source,
            )
        note = None
        if channel is PriceChannel.SAGEMAKER:
            note = (
                f"no SageMaker price recorded for ml.{entry.instance_type}; used the EC2 price "
                "(a lower bound)"
            )
        return QuotedPrice(
            instance_type=entry.instance_type,
            channel=PriceChannel.EC2 if note else channel,
            usd_per_hour=entry.ec2_usd_per_hour,
            as_of=entry.as_of,
            source=entry.source,
            note=note,
        )

    def with_overrides(self, prices: Iterable[InstancePrice]) -> PriceBook:
        """A new book where ``prices`` add to or replace entries of this one."""
        return PriceBook([*self._prices.values(), *prices], region=self.region)


def _parse(document: Mapping[str, Any]) -> list[InstancePrice]:
    return [InstancePrice.model_validate(row) for row in document["prices"]]


@cache
def default_price_book() -> PriceBook:
    """The prices shipped with the package (us-east-1 on-demand)."""
    text = (
        resources.files("cdk_llm_training.config.catalogs").joinpath("data/prices.json").read_text()
    )
    document = json.loads(text)
    return PriceBook(_parse(document), region=document.get("region", "us-east-1"))


def load_price_book(override_file: str | Path | None = None) -> PriceBook:
    """The shipped prices, with entries from ``override_file`` (same JSON shape:
    ``{"prices": [...]}``) added or replacing shipped ones."""
    book = default_price_book()
    if override_file is None:
        return book
    return book.with_overrides(_parse(json.loads(Path(override_file).read_text())))
