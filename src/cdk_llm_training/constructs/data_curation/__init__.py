"""DataCuration: raw text/JSONL in the raw zone -> a curated, deduplicated, PII-checked
dataset with its card in the curated zone (SageMaker Processing job + dataset validator)."""

from cdk_llm_training.constructs.data_curation.construct import DataCuration

__all__ = ["DataCuration"]
