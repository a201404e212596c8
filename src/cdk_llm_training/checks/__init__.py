"""LlmTrainingChecks: the library's own rule pack for training infrastructure.

``LlmTrainingChecks`` (the CDK plugin) is imported lazily: the rules and the engine are pure
Python and can check templates without aws-cdk-lib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cdk_llm_training.checks.engine import (
    ALL_RULES,
    RULES_BY_ID,
    check_template,
    check_template_file,
)
from cdk_llm_training.checks.model import Finding, Rule, Severity

if TYPE_CHECKING:
    from cdk_llm_training.checks.plugin import LlmTrainingChecks

__all__ = [
    "ALL_RULES",
    "RULES_BY_ID",
    "Finding",
    "LlmTrainingChecks",
    "Rule",
    "Severity",
    "check_template",
    "check_template_file",
]


def __getattr__(name: str) -> Any:
    if name == "LlmTrainingChecks":
        from cdk_llm_training.checks.plugin import LlmTrainingChecks

        return LlmTrainingChecks
    raise AttributeError(f"module 'cdk_llm_training.checks' has no attribute {name!r}")
