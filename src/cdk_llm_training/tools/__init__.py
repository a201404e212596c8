"""The command-line tools built on the library: the planner, the cost estimate, the preflight
checks, the architecture diagram and dashboard picture, and the ``cdk-llm-training`` command."""
