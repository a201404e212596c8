"""Shared base for every plain-data option model."""

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Immutable options model that rejects unknown fields (typos fail loudly)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
"""Retention periods CloudWatch Logs accepts, in days (every log group option uses these)."""
