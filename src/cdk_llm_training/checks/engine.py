"""Runs the rule pack over templates (pure Python: usable without aws-cdk-lib)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cdk_llm_training.checks.model import Finding, Rule, TemplateView
from cdk_llm_training.checks.rules_boundary import BOUNDARY_RULES
from cdk_llm_training.checks.rules_cluster_runs import CLUSTER_RUN_RULES
from cdk_llm_training.checks.rules_cross_account import CROSS_ACCOUNT_RULES
from cdk_llm_training.checks.rules_data_pipeline import DATA_PIPELINE_RULES
from cdk_llm_training.checks.rules_deploy import DEPLOY_RULES
from cdk_llm_training.checks.rules_efa import EFA_RULES
from cdk_llm_training.checks.rules_emr_serverless import EMR_SERVERLESS_RULES
from cdk_llm_training.checks.rules_fsx import FSX_RULES
from cdk_llm_training.checks.rules_hyperpod import HYPERPOD_RULES
from cdk_llm_training.checks.rules_hyperpod_deploy import HYPERPOD_DEPLOY_RULES
from cdk_llm_training.checks.rules_hyperpod_job import HYPERPOD_JOB_RULES
from cdk_llm_training.checks.rules_k8s import K8S_RULES
from cdk_llm_training.checks.rules_keys import KEY_RULES
from cdk_llm_training.checks.rules_managed import MANAGED_RULES
from cdk_llm_training.checks.rules_model_listing import MODEL_LISTING_RULES
from cdk_llm_training.checks.rules_network import NETWORK_RULES
from cdk_llm_training.checks.rules_neuron_pretrain import NEURON_PRETRAIN_RULES
from cdk_llm_training.checks.rules_on_demand import ON_DEMAND_RULES
from cdk_llm_training.checks.rules_pcluster import PCLUSTER_RULES
from cdk_llm_training.checks.rules_recipes import RECIPE_RULES
from cdk_llm_training.checks.rules_serverless_evaluation import SERVERLESS_EVALUATION_RULES
from cdk_llm_training.checks.rules_services import SERVICE_RULES
from cdk_llm_training.checks.rules_training_jobs import TRAINING_JOB_RULES
from cdk_llm_training.checks.rules_trust_grants import TRUST_GRANT_RULES
from cdk_llm_training.checks.rules_workflows import WORKFLOW_RULES

ALL_RULES: tuple[Rule, ...] = (
    *FSX_RULES,
    *EFA_RULES,
    *HYPERPOD_RULES,
    *HYPERPOD_DEPLOY_RULES,
    *PCLUSTER_RULES,
    *SERVICE_RULES,
    *BOUNDARY_RULES,
    *DEPLOY_RULES,
    *NETWORK_RULES,
    *KEY_RULES,
    *WORKFLOW_RULES,
    *MANAGED_RULES,
    *CLUSTER_RUN_RULES,
    *DATA_PIPELINE_RULES,
    *CROSS_ACCOUNT_RULES,
    *TRAINING_JOB_RULES,
    *NEURON_PRETRAIN_RULES,
    *RECIPE_RULES,
    *HYPERPOD_JOB_RULES,
    *K8S_RULES,
    *TRUST_GRANT_RULES,
    *EMR_SERVERLESS_RULES,
    *ON_DEMAND_RULES,
    *SERVERLESS_EVALUATION_RULES,
    *MODEL_LISTING_RULES,
)
RULES_BY_ID: Mapping[str, Rule] = {rule.rule_id: rule for rule in ALL_RULES}


def select_rules(rule_ids: Iterable[str] | None = None) -> tuple[Rule, ...]:
    """The rules named in ``rule_ids`` (all when None). Unknown ids raise ``ValueError``."""
    if rule_ids is None:
        return ALL_RULES
    wanted = list(rule_ids)
    unknown = sorted(set(wanted) - set(RULES_BY_ID))
    if unknown:
        raise ValueError(
            f"unknown rule id(s) {', '.join(unknown)}; known: {', '.join(RULES_BY_ID)}"
        )
    return tuple(RULES_BY_ID[rule_id] for rule_id in wanted)


def check_template(
    template: Mapping[str, Any], rules: Iterable[Rule] | None = None
) -> list[Finding]:
    """Every finding of ``rules`` (default: all) on one template, in rule order."""
    view = TemplateView(template)
    return [finding for rule in (rules or ALL_RULES) for finding in rule.run(view)]


def check_template_file(path: str | Path, rules: Iterable[Rule] | None = None) -> list[Finding]:
    """:func:`check_template` on a template file (JSON, as in cdk.out)."""
    return check_template(json.loads(Path(path).read_text(encoding="utf-8")), rules)
