"""SageMaker Ground Truth labeling: the :class:`LabelingWorkforce` (who labels) and the
:class:`LabelingWorkflow` (labeling jobs over data-lake manifests, turned into training data),
joined by :class:`WorkTeamRef` (any work team, from the workforce or brought by ARN).

What lives where (every part creates its resources directly in its construct's scope, so
construct paths and CloudFormation logical IDs are those of one flat construct):

- ``workforce``: :class:`LabelingWorkforce`, its key, identity choice and teams.
- ``identity``: the hardened Cognito user pool and domain, and the ``Custom::PrivateWorkforce``
  resource (function, role, log group) that reuses or creates the account's workforce.
- ``teams``: one work team with its notification topic and Cognito group.
- ``team_ref``: :class:`WorkTeamRef`, the one thing a workflow needs to know about a team.
- ``workflow``: :class:`LabelingWorkflow`, its key and public properties.
- ``functions``: the pre-annotation, consolidation and converter Lambdas.
- ``job_role``: the role labeling jobs run with.
- ``state_machine``, ``job_state``, ``input_rules``: the Step Functions workflow, its
  ``createLabelingJob.sync`` state and the check of its input.
- ``log_groups``: the encrypted log groups.

The ready app's SmallLoRAStack creates the workflow inside the workforce under the id
``Default``, which CloudFormation logical IDs leave out: the workflow's resources keep the IDs
they had when one construct built both.
"""

from cdk_llm_training.constructs.labeling.identity import WORKFORCE_RESOURCE_TYPE
from cdk_llm_training.constructs.labeling.input_rules import SFT_FORMATS
from cdk_llm_training.constructs.labeling.job_state import LABEL_ATTRIBUTE_NAME
from cdk_llm_training.constructs.labeling.team_ref import WorkTeamRef
from cdk_llm_training.constructs.labeling.workflow import LabelingWorkflow
from cdk_llm_training.constructs.labeling.workforce import (
    SOURCE_IP_IGNORED_WARNING,
    LabelingWorkforce,
)

__all__ = [
    "LABEL_ATTRIBUTE_NAME",
    "SFT_FORMATS",
    "SOURCE_IP_IGNORED_WARNING",
    "WORKFORCE_RESOURCE_TYPE",
    "LabelingWorkflow",
    "LabelingWorkforce",
    "WorkTeamRef",
]
