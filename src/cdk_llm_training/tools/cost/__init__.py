"""Cost estimates from synthesized templates (pure Python: no aws_cdk import).

Modules: :mod:`cdk_llm_training.tools.cost.estimate` (template -> itemized monthly idle cost and
hourly compute cost). The price table of always-on services is a domain fact shared with the
FSx sizing rules, so it lives in :mod:`cdk_llm_training.config.catalogs.service_prices`;
:mod:`cdk_llm_training.tools.cost.service_prices` re-exports it. This package imports nothing at
import time.
"""
