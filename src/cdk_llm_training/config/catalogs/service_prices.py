"""Prices of the always-on services of a training stack, as data with date and source.

The table ships as ``config/catalogs/data/service_prices.json`` (us-east-1, USD). A domain
fact on the ground floor: the FSx sizing rules of :mod:`cdk_llm_training.config.sizing.fsx`
read their FSx prices from here, and the ``cost`` tool reads the whole table. This module
imports nothing from the rest of the package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

UNITS = ("month", "hour", "az_hour", "gib_month", "alarm_metric_month")
"""How an item is billed."""


@dataclass(frozen=True)
class ServicePrice:
    """One price: ``usd`` per ``unit``, recorded ``as_of`` from ``source``."""

    key: str
    usd: float
    unit: str
    description: str
    as_of: str
    source: str


@dataclass(frozen=True)
class GeneralInstancePrice:
    """On-demand price of a general-purpose instance (head nodes, system node groups)."""

    instance_type: str
    ec2_usd_per_hour: float
    sagemaker_usd_per_hour: float | None
    as_of: str
    source: str


@dataclass(frozen=True)
class ServicePriceTable:
    """The whole table: items by key, general-purpose instances, usage-based types."""

    region: str
    hours_per_month: float
    items: Mapping[str, ServicePrice]
    instances: Mapping[str, GeneralInstancePrice]
    usage_based_types: frozenset[str]

    def item(self, key: str) -> ServicePrice:
        """The price ``key``. :raises KeyError: naming the key when it is missing."""
        try:
            return self.items[key]
        except KeyError:
            raise KeyError(f"no service price {key!r} in the price table") from None

    def fsx_key(self, deployment_type: str, throughput_mb_per_s_per_tib: int | None) -> str:
        """The item key of an FSx for Lustre deployment type and tier."""
        if deployment_type == "SCRATCH_2":
            return "fsx_lustre_scratch_2"
        return f"fsx_lustre_{deployment_type.lower()}_{throughput_mb_per_s_per_tib}"

    def with_overrides(self, document: Mapping[str, Any]) -> ServicePriceTable:
        """A new table where the ``items``, ``instances`` and ``usage_based_types`` of
        ``document`` (same shape as the shipped file) add to or replace these."""
        items = dict(self.items)
        for key, row in document.get("items", {}).items():
            items[key] = _item(key, {**_as_row(items.get(key)), **row})
        instances = dict(self.instances)
        for row in document.get("instances", []):
            price = _instance(row)
            instances[price.instance_type] = price
        usage = self.usage_based_types | frozenset(document.get("usage_based_types", []))
        return ServicePriceTable(
            region=str(document.get("region", self.region)),
            hours_per_month=float(document.get("hours_per_month", self.hours_per_month)),
            items=items,
            instances=instances,
            usage_based_types=usage,
        )


def _as_row(price: ServicePrice | None) -> dict[str, Any]:
    if price is None:
        return {}
    return {
        "usd": price.usd,
        "unit": price.unit,
        "description": price.description,
        "as_of": price.as_of,
        "source": price.source,
    }


def _item(key: str, row: Mapping[str, Any]) -> ServicePrice:
    missing = [f for f in ("usd", "unit", "as_of", "source") if f not in row]
    if missing:
        raise ValueError(f"service price {key!r}: missing {', '.join(missing)}")
    usd = float(row["usd"])
    if usd < 0:
        raise ValueError(f"service price {key!r}: usd {usd} must be >= 0")
    if row["unit"] not in UNITS:
        raise ValueError(
            f"service price {key!r}: unit {row['unit']!r} is not valid; allowed: {', '.join(UNITS)}"
        )
    return ServicePrice(
        key=key,
        usd=usd,
        unit=str(row["unit"]),
        description=str(row.get("description", key)),
        as_of=str(row["as_of"]),
        source=str(row["source"]),
    )


def _instance(row: Mapping[str, Any]) -> GeneralInstancePrice:
    sagemaker = row.get("sagemaker_usd_per_hour")
    return GeneralInstancePrice(
        instance_type=str(row["instance_type"]).removeprefix("ml."),
        ec2_usd_per_hour=float(row["ec2_usd_per_hour"]),
        sagemaker_usd_per_hour=None if sagemaker is None else float(sagemaker),
        as_of=str(row["as_of"]),
        source=str(row["source"]),
    )


def parse_service_prices(document: Mapping[str, Any]) -> ServicePriceTable:
    """Validate a price document of the shipped shape."""
    return ServicePriceTable(
        region=str(document.get("region", "us-east-1")),
        hours_per_month=float(document.get("hours_per_month", 730)),
        items={key: _item(key, row) for key, row in document["items"].items()},
        instances={
            price.instance_type: price
            for price in (_instance(row) for row in document.get("instances", []))
        },
        usage_based_types=frozenset(document.get("usage_based_types", [])),
    )


@cache
def default_service_prices() -> ServicePriceTable:
    """The table shipped with the package."""
    text = (
        resources.files("cdk_llm_training")
        .joinpath("config", "catalogs", "data", "service_prices.json")
        .read_text(encoding="utf-8")
    )
    return parse_service_prices(json.loads(text))


def load_service_prices(override_file: str | Path | None = None) -> ServicePriceTable:
    """The shipped table, with entries of ``override_file`` added or replacing shipped ones."""
    table = default_service_prices()
    if override_file is None:
        return table
    return table.with_overrides(json.loads(Path(override_file).read_text(encoding="utf-8")))


def fsx_persistent_2_cost_per_gib_month(
    table: ServicePriceTable | None = None,
) -> dict[int, float]:
    """USD per GiB-month of each PERSISTENT_2 throughput tier (MB/s per TiB)."""
    table = table or default_service_prices()
    return {
        tier: table.item(f"fsx_lustre_persistent_2_{tier}").usd for tier in (125, 250, 500, 1000)
    }
