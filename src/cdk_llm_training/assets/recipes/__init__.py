"""Runs in CodeBuild at deploy time: converts a pinned aws/sagemaker-hyperpod-recipes release
to the JSON catalog ClusterTrainingRun's controller reads."""
