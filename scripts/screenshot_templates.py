"""Render each shipped Ground Truth task template with sample data and screenshot it.

A dev tool, not part of ``make test``: the PNGs under docs/images/labeling/ are committed.
The real crowd-html-elements.js is served by AWS and is not reachable offline, so the page
loads a small LOCAL stand-in that draws the crowd elements the templates use
(crowd-form, crowd-instructions, crowd-text-area) close enough for documentation.

Usage: python scripts/screenshot_templates.py [--chromium PATH] [--out DIR]
Needs a Chromium (Debian: ``apt-get install -y chromium``) and python-liquid.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from liquid import Environment

from cdk_llm_training.assets.labeling_templates import template_text
from cdk_llm_training.assets.runtime.labeling_postprocess import pre_annotation_handler

REPO = Path(__file__).resolve().parents[1]
CROWD_SCRIPT = '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'

SAMPLES: dict[str, dict[str, Any]] = {
    "sft": {
        "source": "Explain, in two or three sentences, what LoRA changes when you fine-tune a "
        "transformer.",
        "context": "Audience: data engineers who have never fine-tuned a model.",
        "system": "You are a concise, friendly ML tutor.",
        "answer": "LoRA freezes the original weights and learns two small low-rank matrices "
        "per layer whose product is added to the frozen weight. Only those small matrices "
        "are trained, so memory and storage drop by orders of magnitude.",
    },
    "preference": {
        "source": "How do I reverse a list in Python?",
        "context": "The user is a beginner.",
        "response_a": "Use my_list.reverse() to reverse it in place, or my_list[::-1] to get "
        "a reversed copy.\n\nnumbers = [1, 2, 3]\nnumbers.reverse()  # [3, 2, 1]",
        "response_b": "Lists in Python cannot be reversed; convert it to a string first.",
        "answer": "A is correct and shows both ways; B is wrong.",
    },
    "rating": {
        "source": "What is 17 * 23?",
        "response": "17 * 23 = 391.",
        "criteria": [
            "Correct: the arithmetic is right.",
            "Clear: the answer is easy to find.",
            "Concise: no unneeded text.",
        ],
        "answer": "Correct and direct.",
    },
}

# Stand-in for crowd-html-elements.js: draws the elements; no submission logic.
STAND_IN = """
<style>
  body { font-family: "Amazon Ember", Arial, sans-serif; margin: 0; background: #f2f3f3; }
  crowd-form { display: block; background: #fff; margin: 16px; padding: 18px 22px;
               border: 1px solid #d5dbdb; border-radius: 6px; }
  .stand-in-bar { display: flex; align-items: center; gap: 14px; margin-bottom: 12px;
                  padding-bottom: 10px; border-bottom: 1px solid #eaeded; }
  .stand-in-button { background: #fff; border: 1px solid #545b64; border-radius: 2px;
                     padding: 4px 14px; font-size: 13px; }
  .stand-in-submit { background: #ec7211; color: #fff; border: 0; border-radius: 2px;
                     padding: 7px 20px; font-weight: bold; margin-top: 16px; }
  crowd-instructions detailed-instructions, crowd-instructions positive-example,
  crowd-instructions negative-example { display: none; }
  crowd-instructions short-summary { display: block; color: #16191f; }
  crowd-text-area textarea { width: 100%; box-sizing: border-box; font-size: 14px;
                             padding: 8px; border: 1px solid #aab7b8; border-radius: 2px; }
</style>
<script>
  // Children are parsed after connectedCallback: draw once the document is parsed.
  const later = (fn) => document.addEventListener("DOMContentLoaded", fn);
  customElements.define("crowd-instructions", class extends HTMLElement {
    connectedCallback() { later(() => this.draw()); }
    draw() {
      const bar = document.createElement("div");
      bar.className = "stand-in-bar";
      const button = document.createElement("span");
      button.className = "stand-in-button";
      button.textContent = this.getAttribute("link-text") || "Instructions";
      bar.appendChild(button);
      const summary = this.querySelector("short-summary");
      if (summary) bar.appendChild(summary);
      this.prepend(bar);
    }
  });
  customElements.define("crowd-text-area", class extends HTMLElement {
    connectedCallback() {
      const area = document.createElement("textarea");
      area.rows = parseInt(this.getAttribute("rows") || "3", 10);
      area.placeholder = this.getAttribute("placeholder") || "";
      area.name = this.getAttribute("name") || "";
      if (window.SAMPLE_ANSWER && !document.querySelector("textarea[data-filled]")) {
        area.value = window.SAMPLE_ANSWER; area.dataset.filled = "1";
      }
      this.appendChild(area);
    }
  });
  customElements.define("crowd-form", class extends HTMLElement {
    connectedCallback() { later(() => this.draw()); }
    draw() {
      const submit = document.createElement("button");
      submit.className = "stand-in-submit";
      submit.type = "button";
      submit.textContent = "Submit";
      this.appendChild(submit);
    }
  });
</script>
"""

SIZES = {"sft": (1100, 700), "preference": (1100, 650), "rating": (1100, 600)}


def render_page(task_type: str) -> str:
    """The template rendered like Ground Truth would (escaped Liquid), with the stand-in."""
    sample = dict(SAMPLES[task_type])
    answer = sample.pop("answer")
    task_input = pre_annotation_handler({"dataObject": sample})["taskInput"]
    html = (
        Environment(autoescape=True)
        .from_string(template_text(task_type))
        .render(task={"input": task_input})
    )
    if CROWD_SCRIPT not in html:
        raise SystemExit(f"{task_type}: template does not load the crowd elements script")
    preset = f"<script>window.SAMPLE_ANSWER = {json.dumps(answer)};</script>"
    choice = {"preference": ("preference", "A"), "rating": ("score", "5")}.get(task_type)
    check = (
        "<script>document.addEventListener('DOMContentLoaded', () => {"
        f"const r = document.querySelector(\"input[name='{choice[0]}'][value='{choice[1]}']\");"
        "if (r) r.checked = true; });</script>"
        if choice
        else ""
    )
    body = html.replace(CROWD_SCRIPT, preset + STAND_IN + check)
    head = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head>\n'
    return f"{head}<body>\n{body}</body></html>\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "labeling")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for task_type, (width, height) in SIZES.items():
            page = Path(work) / f"{task_type}.html"
            page.write_text(render_page(task_type), encoding="utf-8")
            target = args.out / f"{task_type}-task.png"
            profile = tempfile.mkdtemp(dir=work)
            command = [
                args.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={target}",
                f"--window-size={width},{height}",
                page.as_uri(),
            ]
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
