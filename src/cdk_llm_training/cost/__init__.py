"""Cost estimates from synthesized templates (pure Python: no aws_cdk import).

Modules: :mod:`cdk_llm_training.cost.service_prices` (the price table of always-on services,
shared with the FSx sizing planner) and :mod:`cdk_llm_training.cost.estimate` (template ->
itemized monthly idle cost and hourly compute cost). This package imports nothing at import
time, so the planner can read the price table without import cycles.
"""
