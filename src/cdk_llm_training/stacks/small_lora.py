"""SmallLoRAStack: LoRA / QLoRA and managed fine-tunes with near-zero idle cost."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_llm_training.config.tiers import SmallLoRAConfig
from cdk_llm_training.config.vocabulary import Tier
from cdk_llm_training.constructs import acknowledge
from cdk_llm_training.constructs.bedrock_fine_tune_job import BedrockFineTuneJob
from cdk_llm_training.constructs.bedrock_guardrail import BedrockGuardrail
from cdk_llm_training.constructs.fine_tune.sagemaker_serverless import (
    SageMakerServerlessCustomization,
)
from cdk_llm_training.constructs.labeling import LabelingWorkflow, LabelingWorkforce
from cdk_llm_training.constructs.notification_key import NotificationKey
from cdk_llm_training.constructs.permissions_boundary import apply_permissions_boundary
from cdk_llm_training.constructs.promotion import ModelPromotion
from cdk_llm_training.constructs.sagemaker_fine_tune_job import SageMakerFineTuneJob
from cdk_llm_training.constructs.training_data_lake import TrainingDataLake
from cdk_llm_training.stacks._data_pipeline import add_data_pipeline
from cdk_llm_training.stacks._observability import monitor_tier
from cdk_llm_training.stacks._outputs import data_lake_outputs

TIER = Tier.SMALL_LORA.cost_tag
"""Value of the stack's ``tier`` cost-allocation tag."""


class SmallLoRAStack(Stack):
    """The small tier: a training data lake, the Bedrock and SageMaker (LoRA / QLoRA) fine-tune
    workflows, the labeling workforce, a guardrail, alarms, a dashboard and a budget. No VPC
    and no always-on compute.

    :param config: validated tier configuration. Default: ``SmallLoRAConfig()``.
    :param stack_kwargs: passed to :class:`aws_cdk.Stack` (``env``, ``description``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: SmallLoRAConfig | None = None,
        **stack_kwargs: Any,
    ) -> None:
        stack_kwargs.setdefault(
            "description", "cdk-llm-training small tier: data lake for LoRA/QLoRA fine-tunes."
        )
        super().__init__(scope, id, **stack_kwargs)
        self.config = config or SmallLoRAConfig()
        if self.config.permissions_boundary is not None:
            apply_permissions_boundary(self, self.config.permissions_boundary)

        self.data_lake = TrainingDataLake(self, "DataLake", options=self.config.data_lake)
        # Two keys (USD 1 a month each): the lake key for data only; this one for every topic
        # and log group, so the lake key's policy names no notification or logging service.
        self.notification_key = NotificationKey(self, "NotificationKey")
        key = self.notification_key.key
        self.labeling: LabelingWorkforce | None = None
        self.labeling_workflow: LabelingWorkflow | None = None
        if self.config.labeling is not None:
            self.labeling = LabelingWorkforce(
                self, "Labeling", options=self.config.labeling, notification_key=key
            )
            # Inside the workforce as "Default" (a construct id logical IDs leave out): the
            # workflow's resources keep the IDs they had when one construct built both.
            self.labeling_workflow = LabelingWorkflow(
                self.labeling,
                "Default",
                data_lake=self.data_lake,
                work_teams=self.labeling.team_refs,
                options=self.config.labeling.workflow_options(),
                notification_key=key,
            )
            if not self.config.labeling.workforce.source_ip_cidrs:
                acknowledge(
                    self.labeling,
                    "LLM-GT1",
                    "The ready app cannot know your office CIDRs: workers sign in through the "
                    "hardened Cognito pool (MFA); set labeling.workforce.source_ip_cidrs to "
                    "restrict by network.",
                )
            CfnOutput(
                self,
                "LabelingWorkflowArn",
                value=self.labeling_workflow.state_machine.state_machine_arn,
                description="Start a labeling job: manifest in, training JSONL out.",
            )
            if self.labeling.workforce_user_pool_id is not None:
                CfnOutput(
                    self,
                    "LabelingUserPoolId",
                    value=self.labeling.workforce_user_pool_id,
                    description="Cognito user pool of the labeling workforce: invite workers.",
                )
            if self.labeling.workforce_outcome is not None:
                CfnOutput(
                    self,
                    "LabelingWorkforce",
                    value=self.labeling.workforce_outcome,
                    description="'created': this stack created the account's private "
                    "workforce; 'reused': it reuses the one the account already had here.",
                )

        self.bedrock_fine_tune: BedrockFineTuneJob | None = None
        if self.config.bedrock_fine_tune is not None:
            self.bedrock_fine_tune = BedrockFineTuneJob(
                self,
                "BedrockFineTune",
                options=self.config.bedrock_fine_tune,
                data_lake=self.data_lake,
                key=key,
            )
            CfnOutput(
                self,
                "FineTuneStateMachineArn",
                value=self.bedrock_fine_tune.state_machine.state_machine_arn,
                description="Bedrock fine-tune workflow: start an execution with dataset keys.",
            )
            CfnOutput(
                self,
                "FineTuneTopicArn",
                value=self.bedrock_fine_tune.topic.topic_arn,
                description="Bedrock fine-tune notifications: subscribe to job results.",
            )

        pipeline = add_data_pipeline(
            self, options=self.config.data_pipeline, data_lake=self.data_lake, key=key
        )
        self.data_curation = pipeline.curation
        self.synthetic_data = pipeline.synthetic

        self.sagemaker_fine_tune: SageMakerFineTuneJob | None = None
        self.promotion: ModelPromotion | None = None
        if self.config.sagemaker_fine_tune is not None:
            self.sagemaker_fine_tune = SageMakerFineTuneJob(
                self,
                "SageMakerFineTune",
                options=self.config.sagemaker_fine_tune,
                key=key,
                data_lake=self.data_lake,
            )
            CfnOutput(
                self,
                "LoraStateMachineArn",
                value=self.sagemaker_fine_tune.state_machine.state_machine_arn,
                description="SageMaker LoRA workflow: start an execution with dataset keys.",
            )
            CfnOutput(
                self,
                "LoraTopicArn",
                value=self.sagemaker_fine_tune.topic.topic_arn,
                description="SageMaker LoRA notifications: subscribe to job results.",
            )
            CfnOutput(
                self,
                "LoraModelPackageGroupName",
                value=self.sagemaker_fine_tune.model_package_group_name,
                description="Model Registry group where trained adapters await approval.",
            )
            if self.config.promotion is not None:
                self.promotion = ModelPromotion(
                    self,
                    "ModelPromotion",
                    job=self.sagemaker_fine_tune,
                    options=self.config.promotion,
                    key=key,
                )

        self.sagemaker_serverless: SageMakerServerlessCustomization | None = None
        if self.config.sagemaker_serverless is not None:
            self.sagemaker_serverless = SageMakerServerlessCustomization(
                self,
                "SageMakerServerless",
                options=self.config.sagemaker_serverless,
                key=key,
                data_lake=self.data_lake,
            )
            CfnOutput(
                self,
                "ServerlessStateMachineArn",
                value=self.sagemaker_serverless.state_machine.state_machine_arn,
                description="SageMaker serverless customization: start with dataset keys.",
            )

        # Observability: alarms on an encrypted topic, a dashboard, a budget and cost tags.
        workflows: dict[str, sfn.IStateMachine] = {}
        if self.labeling_workflow:
            workflows["Labeling"] = self.labeling_workflow.state_machine
        if self.bedrock_fine_tune:
            workflows["BedrockFineTune"] = self.bedrock_fine_tune.state_machine
        if self.sagemaker_fine_tune:
            workflows["SageMakerFineTune"] = self.sagemaker_fine_tune.state_machine
        if self.sagemaker_serverless:
            workflows["SageMakerServerless"] = self.sagemaker_serverless.state_machine
        monitoring = monitor_tier(
            self,
            tier=TIER,
            options=self.config.observability,
            key=key,
            state_machines=workflows,
        )
        self.alarms = monitoring.alarms
        self.dashboard = monitoring.dashboard
        self.cost_controls = monitoring.cost_controls

        data_lake_outputs(self, self.data_lake, fsx_links=False)

        self.guardrail: BedrockGuardrail | None = None
        if self.config.guardrail is not None:
            self.guardrail = BedrockGuardrail(self, "Guardrail", options=self.config.guardrail)
            CfnOutput(
                self,
                "GuardrailArn",
                value=self.guardrail.guardrail_arn,
                description="Bedrock guardrail: pass it with calls to the custom model.",
            )
            CfnOutput(
                self,
                "GuardrailVersion",
                value=self.guardrail.version,
                description="Published guardrail version to use with guardrailIdentifier.",
            )
