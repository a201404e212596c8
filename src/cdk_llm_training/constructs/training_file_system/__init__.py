"""TrainingFileSystem: FSx for Lustre linked to the data lake by data repository associations.

What lives where (every part creates its resources directly in the construct, so construct
paths and CloudFormation logical IDs are those of one flat construct):

- ``file_system``: the construct, its public properties and the ``fsx.LustreFileSystem``.
- ``repositories``: the data repository associations and the key-policy statement that lets
  FSx reach SSE-KMS buckets through S3.
- ``security``: the file system's security group and the EFA all-traffic rules.
- ``reference``: :class:`LustreFileSystemLike`, how other constructs (HyperPod, Trainium)
  take a file system, and the facts they read from it.
"""

from cdk_llm_training.constructs.training_file_system.file_system import TrainingFileSystem
from cdk_llm_training.constructs.training_file_system.reference import (
    LustreFileSystemAttributes,
    LustreFileSystemLike,
    storage_capacity_of,
    subnet_of,
)
from cdk_llm_training.constructs.training_file_system.repositories import (
    FSX_S3_SERVICE_LINKED_ROLE_PATH,
)

__all__ = [
    "FSX_S3_SERVICE_LINKED_ROLE_PATH",
    "LustreFileSystemAttributes",
    "LustreFileSystemLike",
    "TrainingFileSystem",
    "storage_capacity_of",
    "subnet_of",
]
