"""The RFT grader Lambda and its probe, with the request and response shapes AWS documents
for reinforcement fine-tuning reward functions, and the RFT dataset record format."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cdk_llm_training.assets.runtime import rft_grader, rft_grader_probe
from cdk_llm_training.assets.runtime.dataset_validation import check_rft_prompts

# The documented request: a list of samples, the model's answer as the last (assistant)
# message, the reference answer at the top level or under "metadata".
TOP_LEVEL: dict[str, Any] = {
    "id": "123",
    "messages": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "reference_answer": "4",
}
UNDER_METADATA: dict[str, Any] = {
    "id": "124",
    "messages": [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "paris"},
    ],
    "metadata": {"reference_answer": {"answer": "Paris"}, "my_key": "sample-001"},
}


def grade(env: dict[str, str], samples: list[Any]) -> list[dict[str, Any]]:
    return rft_grader.build_grader(env)(samples)


def assert_documented_shape(result: Any, samples: list[dict[str, Any]]) -> None:
    assert rft_grader_probe.result_problems(samples, result) == []
    for item in result:
        assert set(item) == {"id", "aggregate_reward_score", "metrics_list"}


def test_exact_match_reads_both_documented_placements() -> None:
    samples = [TOP_LEVEL, UNDER_METADATA]
    result = grade({"GRADER_KIND": "exact_match"}, samples)
    assert_documented_shape(result, samples)
    assert [r["aggregate_reward_score"] for r in result] == [1.0, 1.0]
    assert result[0]["metrics_list"] == [{"name": "exact_match", "value": 1.0, "type": "Reward"}]


def test_exact_match_case_sensitive() -> None:
    result = grade(
        {"GRADER_KIND": "exact_match", "GRADER_CASE_SENSITIVE": "true"}, [UNDER_METADATA]
    )
    assert result[0]["aggregate_reward_score"] == 0.0


def test_regex_with_a_group_compares_the_group_with_the_reference() -> None:
    env = {"GRADER_KIND": "regex", "GRADER_PATTERN": r"answer:\s*(\d+)"}
    sample = {
        **TOP_LEVEL,
        "messages": [*TOP_LEVEL["messages"][:1], {"role": "assistant", "content": "so, answer: 4"}],
    }
    wrong = {**sample, "id": "w", "reference_answer": "5"}
    result = grade(env, [sample, wrong])
    assert [r["aggregate_reward_score"] for r in result] == [1.0, 0.0]


def test_json_schema_scores_shape() -> None:
    schema = {
        "type": "object",
        "required": ["label"],
        "properties": {"label": {"enum": ["yes", "no"]}},
        "additionalProperties": False,
    }
    env = {"GRADER_KIND": "json_schema", "GRADER_JSON_SCHEMA": json.dumps(schema)}

    def answered(text: str, sample_id: str) -> dict[str, Any]:
        return {
            "id": sample_id,
            "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}],
        }

    result = grade(
        env,
        [
            answered('{"label": "yes"}', "a"),
            answered('{"label": "maybe"}', "b"),
            answered("no json", "c"),
        ],
    )
    assert [r["aggregate_reward_score"] for r in result] == [1.0, 0.5, 0.0]


def test_an_unscorable_sample_scores_zero_without_failing_the_batch() -> None:
    no_answer = {"id": "x", "messages": [{"role": "user", "content": "q"}], "reference_answer": "a"}
    result = grade({"GRADER_KIND": "exact_match"}, [no_answer, TOP_LEVEL])
    assert result[0] == {
        "id": "x",
        "aggregate_reward_score": 0.0,
        "metrics_list": [{"name": "unscorable", "value": 0.0, "type": "Metric"}],
    }
    assert result[1]["aggregate_reward_score"] == 1.0


def test_unknown_kind_fails() -> None:
    with pytest.raises(ValueError, match="GRADER_KIND 'llm' is not a grader"):
        rft_grader.build_grader({"GRADER_KIND": "llm"})


@mock_aws
def test_the_users_python_file_is_loaded_from_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="curated")
    s3.put_object(
        Bucket="curated",
        Key="finetune/grade.py",
        Body=b"def grade(sample):\n    return 0.25\n",
    )
    for name, value in {
        "GRADER_KIND": "python",
        "GRADER_SOURCE_BUCKET": "curated",
        "GRADER_SOURCE_KEY": "finetune/grade.py",
    }.items():
        monkeypatch.setenv(name, value)
    rft_grader._loaded.clear()
    result = rft_grader.handler([TOP_LEVEL], None, s3=s3)
    assert result == [
        {
            "id": "123",
            "aggregate_reward_score": 0.25,
            "metrics_list": [{"name": "user_grader", "value": 0.25, "type": "Reward"}],
        }
    ]
    rft_grader._loaded.clear()


# -- the probe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"id": "probe-0"}, "the grader returned dict, not a list of records"),
        ([], "the grader returned 0 records for 1 samples"),
        ([{"id": "other", "aggregate_reward_score": 1}], "has id 'other'"),
        ([{"id": "probe-0"}], "aggregate_reward_score must be a finite number"),
        ([{"id": "probe-0", "aggregate_reward_score": float("nan")}], "finite number"),
        ([{"id": "probe-0", "aggregate_reward_score": True}], "finite number"),
        (
            [{"id": "probe-0", "aggregate_reward_score": 1, "metrics_list": [{"name": "a"}]}],
            "metrics_list entries need",
        ),
    ],
)
def test_the_probe_names_every_departure_from_the_documented_output(
    result: Any, problem: str
) -> None:
    samples = [rft_grader_probe.probe_sample(0, {"messages": [], "reference_answer": "4"})]
    problems = rft_grader_probe.result_problems(samples, result)
    assert problems
    assert problem in problems[0]


class _Lambda:
    def __init__(self, answer: Any, *, error: bool = False) -> None:
        self.answer, self.error, self.payload = answer, error, None

    def invoke(self, **params: Any) -> dict[str, Any]:
        self.payload = json.loads(params["Payload"])
        out: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(self.answer).encode()),
        }
        if self.error:
            out["FunctionError"] = "Unhandled"
        return out


@mock_aws
@pytest.mark.parametrize(("error", "works"), [(False, True), (True, False)])
def test_the_probe_sends_documented_samples(
    monkeypatch: pytest.MonkeyPatch, error: bool, works: bool
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="curated")
    record = {
        "messages": [{"role": "user", "content": "2+2?"}],
        "reference_answer": {"answer": "4"},
        "task_id": "t1",
    }
    s3.put_object(
        Bucket="curated", Key="finetune/train.jsonl", Body=(json.dumps(record) + "\n") * 5
    )
    monkeypatch.setenv("GRADER_FUNCTION", "grader")
    monkeypatch.setenv("PROBE_RECORDS", "2")
    answer = [{"id": f"probe-{i}", "aggregate_reward_score": 1.0} for i in range(2)]
    fake = _Lambda(answer, error=error)
    out = rft_grader_probe.handler(
        {"trainingDataS3Uri": "s3://curated/finetune/train.jsonl"}, None, s3=s3, lambda_client=fake
    )
    assert out["works"] is works
    assert fake.payload is not None
    assert len(fake.payload) == 2
    sent = fake.payload[0]
    assert sent["messages"][-1] == {"role": "assistant", "content": "4"}
    assert sent["reference_answer"] == {"answer": "4"}
    assert sent["metadata"] == {"reference_answer": {"answer": "4"}, "task_id": "t1"}
    # What the probe sends, the built-in grader scores (the two ends agree on the shape).
    assert_documented_shape(grade({"GRADER_KIND": "exact_match"}, fake.payload), fake.payload)


# -- the dataset format ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"messages": [{"role": "user", "content": "q"}], "reference_answer": {"a": 1}}, None),
        (
            {
                "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
                "reference_answer": "x",
                "extra": 1,
            },
            None,
        ),
        ({"messages": [{"role": "user", "content": "q"}]}, "missing field 'reference_answer'"),
        (
            {"messages": [{"role": "user", "content": "q"}], "reference_answer": None},
            "missing field 'reference_answer'",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
                "reference_answer": "a",
            },
            "must have role 'user'",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "q"}]}], "reference_answer": "a"},
            "text only",
        ),
        ({"messages": [], "reference_answer": "a"}, "field 'messages' is empty"),
        ([], "record must be a JSON object"),
    ],
)
def test_rft_prompt_records(record: Any, problem: str | None) -> None:
    problems = check_rft_prompts(record)
    if problem is None:
        assert problems == []
    else:
        assert problems
        assert problem in problems[0]
