"""A boto3 Comprehend client whose DetectPiiEntities answers offline.

The client is real: botocore validates every request against the Comprehend service model
before the fake answers (``before-call`` returns the response), in the model's response
shape. The fake finds e-mail addresses and phone numbers by pattern, and refuses texts over
the documented 100 KB, as Comprehend does (TextSizeLimitExceededException).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import boto3

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+\w")
PHONE = re.compile(r"\b\d{3}-\d{3}-\d{4}\b")
MAX_TEXT_BYTES = 100_000


class FakeComprehend:
    """``client`` is the boto3 client to hand to the code under test; ``requests`` lists
    the (validated) parameters of every call."""

    def __init__(self) -> None:
        self.client: Any = boto3.client(
            "comprehend",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.requests: list[dict[str, Any]] = []
        events = self.client.meta.events
        events.register("before-parameter-build.comprehend.DetectPiiEntities", self._record)
        events.register("before-call.comprehend.DetectPiiEntities", self._answer)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))

    def _answer(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        text: str = self.requests[-1]["Text"]
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            error = {"Code": "TextSizeLimitExceededException", "Message": "over 100 KB"}
            return SimpleNamespace(status_code=400), {"Error": error}
        entities = [
            {"Score": 0.99, "Type": kind, "BeginOffset": m.start(), "EndOffset": m.end()}
            for kind, pattern in (("EMAIL", EMAIL), ("PHONE", PHONE))
            for m in pattern.finditer(text)
        ]
        return SimpleNamespace(status_code=200), {"Entities": entities}
