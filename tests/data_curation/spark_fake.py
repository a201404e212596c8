"""What the Spark job's executors call instead of Amazon Comprehend in tests: a picklable
factory building :class:`FakeComprehend` in each Python worker."""

from __future__ import annotations

from typing import Any

from data_curation.comprehend_fake import FakeComprehend


def fake_comprehend_client() -> Any:
    return FakeComprehend().client
