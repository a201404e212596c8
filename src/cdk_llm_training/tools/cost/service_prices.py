"""Service price table: this old path re-exports
:mod:`cdk_llm_training.config.catalogs.service_prices`.

The facts live on the config floor so that config, constructs and checks read them without
importing a tool.
"""

from cdk_llm_training.config.catalogs.service_prices import (
    UNITS,
    GeneralInstancePrice,
    ServicePrice,
    ServicePriceTable,
    default_service_prices,
    fsx_persistent_2_cost_per_gib_month,
    load_service_prices,
    parse_service_prices,
)

__all__ = [
    "UNITS",
    "GeneralInstancePrice",
    "ServicePrice",
    "ServicePriceTable",
    "default_service_prices",
    "fsx_persistent_2_cost_per_gib_month",
    "load_service_prices",
    "parse_service_prices",
]
