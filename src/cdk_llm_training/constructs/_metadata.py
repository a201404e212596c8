"""Construct metadata the library's tools read from the cloud assembly."""

from constructs import Construct

CONSTRUCT_METADATA_TYPE = "cdk-llm-training:construct"


def record_construct_type(scope: Construct, class_name: str) -> None:
    """Record ``class_name`` on ``scope`` in the assembly manifest, so architecture pictures
    label groups with the construct names users know (no effect on templates)."""
    scope.node.add_metadata(CONSTRUCT_METADATA_TYPE, class_name)
