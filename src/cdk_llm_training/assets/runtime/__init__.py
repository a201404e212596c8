"""Code that runs in AWS (Lambda handlers): plain boto3 and the standard library only.

Never import aws_cdk or pydantic here: this folder is packaged as-is as Lambda code.
"""
