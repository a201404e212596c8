"""Draw the widget grid of a synthesized CloudWatch dashboard as an SVG picture.

Pure Python (no aws_cdk import): reads ``DashboardBody`` from a template (the ``Fn::Join``
CDK emits, with each reference shown as ``<LogicalId>``) and draws each widget at its grid
position, with its title and what it plots. Used for the docs picture of
:class:`cdk_llm_training.TrainingDashboard`::

    python -m cdk_llm_training.tools.dashboard_layout --cdk-out cdk.out --stack SmallLoRAStack \\
        --out dashboard.svg
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

COLUMNS = 24
CELL_PX = 40
ROW_PX = 34
MARGIN_PX = 16
_FILL = {"text": "#f3f4f6", "alarm": "#fde8e8", "metric": "#e8f1fb", "log": "#eef8ec"}
_STROKE = {"text": "#9ca3af", "alarm": "#d9534f", "metric": "#4a7fc1", "log": "#4c9a48"}


def flatten(value: Any) -> str:
    """A CloudFormation string value as text, each intrinsic shown as ``<Id>``/``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(flatten(part) for part in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            attribute = value["Fn::GetAtt"]
            return f"<{'.'.join(attribute) if isinstance(attribute, list) else attribute}>"
    return "<?>"


def dashboard_bodies(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every dashboard of ``template``: logical ID -> parsed ``DashboardBody``."""
    bodies: dict[str, dict[str, Any]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == "AWS::CloudWatch::Dashboard":
            body = flatten(resource["Properties"]["DashboardBody"])
            bodies[logical_id] = json.loads(body)
    return bodies


def _plotted(widget: Mapping[str, Any]) -> list[str]:
    """Short lines naming what a widget shows."""
    props = widget.get("properties") or {}
    kind = widget.get("type")
    if kind == "text":
        return [
            line.lstrip("#* ").strip()
            for line in str(props.get("markdown", "")).splitlines()
            if line.strip()
        ]
    if kind == "alarm":
        return [f"{len(props.get('alarms') or [])} alarms: state at a glance"]
    lines = []
    for entry in props.get("metrics") or []:
        options = entry[-1] if entry and isinstance(entry[-1], Mapping) else {}
        if options.get("visible") is False:
            continue
        if entry and isinstance(entry[0], Mapping):
            label = entry[0].get("label") or entry[0].get("expression", "")
        else:
            label = options.get("label") or (entry[1] if len(entry) > 1 else "?")
        axis = " (right)" if options.get("yAxis") == "right" else ""
        lines.append(f"{label}{axis}")
    return lines


def layout_svg(body: Mapping[str, Any], *, title: str = "") -> str:
    """The dashboard grid as an SVG document."""
    widgets: Sequence[Mapping[str, Any]] = body.get("widgets") or []
    bottom = max((int(w.get("y", 0)) + int(w.get("height", 6)) for w in widgets), default=1)
    header = 28 if title else 0
    width = COLUMNS * CELL_PX + 2 * MARGIN_PX
    height = bottom * ROW_PX + 2 * MARGIN_PX + header
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if title:
        out.append(
            f'<text x="{MARGIN_PX}" y="{MARGIN_PX + 14}" font-size="16" font-weight="bold">'
            f"{escape(title)}</text>"
        )
    for widget in widgets:
        kind = str(widget.get("type", "metric"))
        x = MARGIN_PX + int(widget.get("x", 0)) * CELL_PX
        y = MARGIN_PX + header + int(widget.get("y", 0)) * ROW_PX
        w = int(widget.get("width", 6)) * CELL_PX
        h = int(widget.get("height", 6)) * ROW_PX
        fill = _FILL.get(kind, "#ffffff")
        stroke = _STROKE.get(kind, "#6b7280")
        out.append(
            f'<rect x="{x + 3}" y="{y + 3}" width="{w - 6}" height="{h - 6}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        props = widget.get("properties") or {}
        lines = _plotted(widget)
        if kind == "text":
            name, lines = (lines[0], lines[1:]) if lines else ("text", [])
        else:
            name = str(props.get("title") or kind)
        max_chars = max(8, (w - 20) // 7)
        out.append(
            f'<text x="{x + 12}" y="{y + 22}" font-size="13" font-weight="bold">'
            f"{escape(_clip(name, max_chars))}</text>"
        )
        room = max(0, (h - 40) // 15)
        for index, plotted in enumerate(lines[:room]):
            line = plotted
            if index == room - 1 and len(lines) > room:
                line = f"... {len(lines) - index} more"
            out.append(
                f'<text x="{x + 12}" y="{y + 42 + index * 15}" font-size="11" fill="#374151">'
                f"{escape(_clip(line, max_chars + 6))}</text>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cdk_llm_training.tools.dashboard_layout``: draw a stack's dashboards."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--template", type=Path, help="a synthesized template file")
    source.add_argument("--stack", help="stack name in --cdk-out")
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, required=True, help="SVG file to write")
    args = parser.parse_args(argv)
    path = args.template or args.cdk_out / f"{args.stack}.template.json"
    bodies = dashboard_bodies(json.loads(path.read_text(encoding="utf-8")))
    if not bodies:
        print(f"error: no AWS::CloudWatch::Dashboard in {path}", file=sys.stderr)
        return 2
    logical_id, body = next(iter(bodies.items()))
    args.out.write_text(layout_svg(body, title=f"{path.name}: {logical_id}"), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
