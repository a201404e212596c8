"""Baseline for `make bench`: the smallest useful CDK app (one S3 bucket), so the ratio to the
full app shows what the library adds on top of jsii and aws-cdk-lib start-up."""

import argparse

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None).parse_args()
app = cdk.App()
stack = cdk.Stack(app, "BaselineStack")
s3.Bucket(stack, "Bucket")
app.synth()
