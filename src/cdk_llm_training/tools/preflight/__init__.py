"""``cdk-llm-training preflight``: what a first deploy needs from the account that a template
cannot show, checked with read-only AWS calls. One module per check family (``quotas``,
``bedrock``, ``workforce``, ``network``, ``bootstrap``, ``cost_tags``); ``requirements``
derives what to check from the tier configs; ``runner.run_preflight`` runs them all.

Nothing is imported here so that the CLI starts fast.
"""
