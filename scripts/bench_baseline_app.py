"""Baseline for `make bench`: the smallest useful CDK app (one S3 bucket), so the ratio to the
full app shows what the library adds on top of jsii and aws-cdk-lib start-up."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "BaselineStack")
s3.Bucket(stack, "Bucket")
app.synth()
