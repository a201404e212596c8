"""A Helm chart made on the spot from Kubernetes objects the stack renders (JSON), so the
dependency-chart install function can apply, update and remove them as one Helm release
(``Manifests`` resource property instead of a chart source). Standard library only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHART_VERSION = "1.0.0"


def write_manifest_chart(root: Path, release: str, manifests: str) -> Path:
    """``root/<release>/``: ``Chart.yaml`` and one template holding every object of
    ``manifests`` (a JSON list; JSON is YAML). Objects must hold no ``{{`` (Helm would read
    it as a template action)."""
    objects: Any = json.loads(manifests)
    if not isinstance(objects, list) or not all(
        isinstance(o, dict) and {"apiVersion", "kind", "metadata"} <= set(o) for o in objects
    ):
        raise ValueError("Manifests must be a JSON list of Kubernetes objects")
    documents = [json.dumps(o, sort_keys=True) for o in objects]
    if any("{{" in document for document in documents):
        raise ValueError("Manifests must not contain '{{'")
    chart = root / release
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(
        json.dumps({"apiVersion": "v2", "name": release, "version": CHART_VERSION}),
        encoding="utf-8",
    )
    (chart / "templates" / "manifests.yaml").write_text(
        "\n---\n".join(documents) + "\n", encoding="utf-8"
    )
    return chart
