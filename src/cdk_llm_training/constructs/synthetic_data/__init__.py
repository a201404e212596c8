"""SyntheticData: a prompt set -> answers from a teacher model (Bedrock batch inference) ->
SFT records with a card in the curated zone."""

from cdk_llm_training.constructs.synthetic_data.construct import SyntheticData

__all__ = ["SyntheticData"]
