"""The cdk-nag harness itself: a non-compliant resource must fail synthesis, or every
'nag clean' test in this suite would prove nothing."""

import pytest
from aws_cdk import aws_s3 as s3
from cdk_support import new_stack, template_of


def test_nag_harness_rejects_a_plain_bucket() -> None:
    stack = new_stack()
    s3.Bucket(stack, "Plain")
    with pytest.raises(Exception, match=r"AwsSolutions-S1") as error:
        template_of(stack)
    assert "AwsSolutions-S10" in str(error.value)
