"""Shell scripts shipped as package data (lifecycle scripts uploaded to S3 at deploy)."""

from pathlib import Path

HYPERPOD_LIFECYCLE_DIR = Path(__file__).resolve().parent / "hyperpod"
"""Directory uploaded as the HyperPod lifecycle-script prefix (``on_create.sh`` + helpers)."""

HYPERPOD_ON_CREATE = "on_create.sh"
"""Entry point HyperPod runs on every new instance."""

__all__ = ["HYPERPOD_LIFECYCLE_DIR", "HYPERPOD_ON_CREATE"]
