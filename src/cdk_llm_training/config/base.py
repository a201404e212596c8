"""Shared base for every plain-data option model."""

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Immutable options model that rejects unknown fields (typos fail loudly)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
