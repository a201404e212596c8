"""Options of :func:`cdk_llm_training.apply_permissions_boundary` (plain data)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from cdk_llm_training.config.base import FrozenModel

_POLICY_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$"
)
_POLICY_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
# ParallelCluster ``Iam.ResourcePrefix``: a name (<= 30 characters, no '/'), a path ('/a/b/',
# <= 512 characters) or a path and a name ('/a/b/name'); '/name' alone is rejected by
# ParallelCluster (a path needs two slashes).
_PREFIX_NAME = re.compile(r"^[\w+=,.@-]{1,30}$")
_PREFIX_PATH = re.compile(r"^/([\w+=,.@-]+/)+$")
_PREFIX_PATH_AND_NAME = re.compile(r"^/([\w+=,.@-]+/)+[\w+=,.@-]{1,30}$")


class PermissionsBoundaryOptions(FrozenModel):
    """A permissions boundary for every IAM role a tier stack creates, including the roles
    ParallelCluster creates for its cluster (``Iam.PermissionsBoundary``). A plain string is
    accepted as ``policy``.
    """

    policy: str
    """Managed policy ARN (``arn:aws:iam::123456789012:policy/TeamBoundary``) or name
    (``TeamBoundary``, or ``path/TeamBoundary``; resolved in the deploying account)."""

    parallel_cluster_resource_prefix: str | None = None
    """ParallelCluster ``Iam.ResourcePrefix``: name and/or path prefix of the IAM resources
    ParallelCluster creates (``team-a``, ``/org/team-a/`` or ``/org/team-a/pc``), so a
    boundary or an SCP can name them. Default none."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The file may give the policy alone, as a string (see _from_string).
        return {
            "anyOf": [
                {"type": "string", "description": "managed policy ARN or name"},
                handler(core_schema),
            ]
        }

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"policy": data} if isinstance(data, str) else data

    @field_validator("policy")
    @classmethod
    def _check_policy(cls, value: str) -> str:
        if value.startswith("arn:"):
            if not _POLICY_ARN.match(value):
                raise ValueError(
                    f"policy {value!r} is not a managed policy ARN; allowed: "
                    "'arn:aws:iam::<account>:policy/<name>' or a policy name"
                )
        elif not _POLICY_NAME.match(value):
            raise ValueError(
                f"policy {value!r} is not a managed policy name; allowed: letters, digits "
                "and + = , . @ - _ (up to 128), optionally after a path 'a/b/'"
            )
        return value

    @field_validator("parallel_cluster_resource_prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return value
        valid = (
            _PREFIX_NAME.match(value)
            or (_PREFIX_PATH.match(value) and len(value) <= 512)
            or (_PREFIX_PATH_AND_NAME.match(value) and len(value) <= 512 + 30)
        )
        if not valid:
            raise ValueError(
                f"parallel_cluster_resource_prefix {value!r} is not valid; allowed: a name of "
                "up to 30 characters without '/', a path '/a/b/', or a path and a name "
                "'/a/b/name' ('/name' alone is rejected by ParallelCluster)"
            )
        return value
