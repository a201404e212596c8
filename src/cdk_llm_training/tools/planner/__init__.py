"""Sizing: from what a training run needs to infrastructure settings.

Pure Python (no aws_cdk import), so the CLI and notebooks can use it without jsii.
"""

from cdk_llm_training.config.sizing.fsx import (
    LustreDeploymentType,
    LustreSizing,
    propose_lustre_sizing,
)

__all__ = ["LustreDeploymentType", "LustreSizing", "propose_lustre_sizing"]
