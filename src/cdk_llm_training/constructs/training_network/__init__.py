"""TrainingNetwork: a VPC whose compute subnet lives in one AZ, picked by AZ ID, for EFA.

What lives where (every part creates its resources directly in the construct, so construct
paths and CloudFormation logical IDs are those of one flat construct):

- ``network``: the construct, its public properties and the VPC.
- ``endpoints``: the S3 / DynamoDB gateway endpoints and their policies, the closed-network
  interface endpoints.
- ``flow_logs``: the flow-log group, its key and the role VPC Flow Logs assumes.
- ``subnets``: the compute-subnet reference, the second-AZ control-plane subnet and the checks
  of a bring-your-own compute subnet.
- ``security_groups``: the EFA and Lustre security groups, :data:`LUSTRE_PORTS`.
"""

from cdk_llm_training.constructs.training_network.network import TrainingNetwork
from cdk_llm_training.constructs.training_network.security_groups import LUSTRE_PORTS

__all__ = ["LUSTRE_PORTS", "TrainingNetwork"]
