"""Evaluation scripts that run in training jobs (pure Python, no aws_cdk)."""
