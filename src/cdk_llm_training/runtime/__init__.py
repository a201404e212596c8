"""Lambda handlers (plain boto3): deployed as Lambda assets, never import aws_cdk."""
