"""Ground Truth task templates (HTML, crowd elements, Liquid) shipped as package data."""

from __future__ import annotations

from importlib import resources

TEMPLATE_FILES = {"sft": "sft.html", "preference": "preference.html", "rating": "rating.html"}
"""Template file name by task type (the values of ``LabelingTaskType``)."""


def template_text(task_type: str) -> str:
    """The HTML of the template for ``task_type`` (``sft``, ``preference`` or ``rating``)."""
    name = TEMPLATE_FILES.get(str(task_type))
    if name is None:
        raise ValueError(
            f"task_type {task_type!r} has no template; allowed: {', '.join(TEMPLATE_FILES)}"
        )
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
