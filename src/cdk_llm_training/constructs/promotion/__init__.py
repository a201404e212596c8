"""Cross-account promotion of approved model packages: :class:`ModelPromotion` in the account
that trains, :class:`ModelPromotionTarget` in each account that uses the models."""

from cdk_llm_training.constructs.promotion.bedrock_model_import import BedrockModelImport
from cdk_llm_training.constructs.promotion.model_promotion import ModelPromotion
from cdk_llm_training.constructs.promotion.model_promotion_target import ModelPromotionTarget

__all__ = ["BedrockModelImport", "ModelPromotion", "ModelPromotionTarget"]
