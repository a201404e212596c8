"""The shipped Ground Truth task templates: Liquid rendering with sample manifest lines
(through the real pre-annotation Lambda, as Ground Truth does) and HTML validity."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import html5lib
import pytest
from liquid import Environment

from cdk_llm_training.assets.labeling_templates import TEMPLATE_FILES, template_text
from cdk_llm_training.assets.runtime.labeling_postprocess import pre_annotation_handler
from cdk_llm_training.config import LabelingTaskType

# Ground Truth HTML-escapes Liquid variables by default; render the same way.
LIQUID = Environment(autoescape=True)

SAMPLES: dict[str, dict[str, Any]] = {
    "sft": {
        "source": "Explain what LoRA changes in a transformer, in two sentences.",
        "id": "sft-1",
        "context": "Audience: data engineers new to fine-tuning.",
        "system": "You are a concise ML tutor.",
    },
    "preference": {
        "source": "Summarise: the meeting moved to Friday <b>10:00</b>.",
        "id": "pref-1",
        "response_a": "The meeting is now on Friday at 10:00.",
        "response_b": "Meeting: Friday.",
    },
    "rating": {
        "source": "What is 17 * 23?",
        "id": "rate-1",
        "response": "17 * 23 = 391.",
        "criteria": ["Correct arithmetic", "Shows the result clearly"],
    },
}

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class _TagBalance(HTMLParser):
    """Every non-void start tag is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack})")
        else:
            self.stack.pop()


def render(task_type: str, line: dict[str, Any]) -> str:
    task_input = pre_annotation_handler({"dataObject": line})["taskInput"]
    return LIQUID.from_string(template_text(task_type)).render(task={"input": task_input})


def assert_valid_html(html: str) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parseFragment(html)  # raises on any HTML5 parse error
    balance = _TagBalance()
    balance.feed(html)
    balance.close()
    assert balance.errors == []
    assert balance.stack == []


def test_one_template_per_task_type() -> None:
    assert set(TEMPLATE_FILES) == {t.value for t in LabelingTaskType}


@pytest.mark.parametrize("task_type", list(TEMPLATE_FILES))
def test_template_loads_crowd_elements_and_wraps_a_crowd_form(task_type: str) -> None:
    text = template_text(task_type)
    assert text.startswith(
        '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>'
    )
    assert text.count("<crowd-form>") == 1
    assert text.count("</crowd-form>") == 1
    assert "{{ task.input.prompt }}" in text


@pytest.mark.parametrize("task_type", list(TEMPLATE_FILES))
def test_rendered_template_is_valid_html(task_type: str) -> None:
    html = render(task_type, SAMPLES[task_type])
    assert "{{" not in html
    assert "{%" not in html
    assert_valid_html(html)


def test_sft_shows_system_context_prompt_and_asks_for_a_response() -> None:
    html = render("sft", SAMPLES["sft"])
    assert "Explain what LoRA changes in a transformer, in two sentences." in html
    assert "Audience: data engineers new to fine-tuning." in html
    assert "You are a concise ML tutor." in html
    assert '<crowd-text-area name="response"' in html


def test_sft_without_context_or_system_omits_those_boxes() -> None:
    html = render("sft", {"source": "Say hello."})
    assert 'id="context"' not in html
    assert 'id="system"' not in html
    assert_valid_html(html)


def test_preference_shows_both_responses_and_offers_a_b_tie_and_rationale() -> None:
    html = render("preference", SAMPLES["preference"])
    assert "The meeting is now on Friday at 10:00." in html
    assert "Meeting: Friday." in html
    for value in ("A", "B", "tie"):
        assert f'name="preference" value="{value}"' in html
    assert '<crowd-text-area name="rationale"' in html


def test_preference_escapes_markup_in_manifest_text() -> None:
    html = render("preference", SAMPLES["preference"])
    assert "&lt;b&gt;10:00&lt;/b&gt;" in html
    assert "<b>10:00</b>" not in html


def test_rating_lists_given_criteria_and_a_1_to_5_scale() -> None:
    html = render("rating", SAMPLES["rating"])
    assert "<li>Correct arithmetic</li>" in html
    assert "<li>Shows the result clearly</li>" in html
    assert "17 * 23 = 391." in html
    for score in range(1, 6):
        assert f'name="score" value="{score}"' in html


def test_rating_falls_back_to_default_criteria() -> None:
    html = render("rating", {"source": "Hi", "response": "Hello!"})
    assert "Correct: the facts and reasoning are right." in html
    assert_valid_html(html)


def test_fails_unknown_task_type() -> None:
    with pytest.raises(
        ValueError,
        match=r"^task_type 'ner' has no template; allowed: sft, preference, rating$",
    ):
        template_text("ner")


@pytest.mark.parametrize(
    "broken",
    ["<div><span>open span</div>", "<crowd-form><p>x</crowd-form>", '<div class="a></div>'],
)
def test_html_check_rejects_broken_markup(broken: str) -> None:
    with pytest.raises((AssertionError, html5lib.html5parser.ParseError)):
        assert_valid_html(broken)
