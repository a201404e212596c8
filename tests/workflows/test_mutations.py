"""The suite can fail: mutated synthesized definitions must not run to success, and the
interpreter is as strict as Step Functions on the points moto's interpreter is not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from workflows.asl_interpreter import Execution, StatesError
from workflows.aws_world import (
    Cloud,
    ModelViolationError,
    check_request,
    check_response,
    compiled_pattern,
)
from workflows.workflow_inputs import labeling_input, put_dataset


def run_mutated(
    cloud: Cloud, logical_id: str, mutate: Callable[[dict[str, Any]], None], payload: Any
) -> Execution:
    definition = copy.deepcopy(cloud.definitions[logical_id])
    mutate(definition["States"])
    cloud.definitions = {**cloud.definitions, logical_id: definition}
    return cloud.start(logical_id, payload)


def _jsonpath_typo(states: dict[str, Any]) -> None:
    states["CreateCustomizationJob"]["Parameters"]["JobName.$"] = "$.validation.jobname"


def _result_key_case(states: dict[str, Any]) -> None:
    states["DatasetValid?"]["Choices"][0]["Variable"] = "$.validation.Valid"


def _wrong_parameter_name(states: dict[str, Any]) -> None:
    params = states["CreateCustomizationJob"]["Parameters"]
    params["CustomModelNames.$"] = params.pop("CustomModelName.$")


def _string_for_integer(states: dict[str, Any]) -> None:
    params = states["CreateCustomizationJob"]["Parameters"]
    params["HyperParameters"] = {"epochCount": 2}  # the API's map holds strings


def _notification_path_typo(states: dict[str, Any]) -> None:
    states["NotifyJobFailed"]["Parameters"]["Message"]["error.$"] = "$.error.error"


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], type[Exception] | str]] = {
    "jsonpath-typo": (_jsonpath_typo, "States.Runtime"),
    "result-key-wrong-case": (_result_key_case, "States.Runtime"),
    "wrong-parameter-name": (_wrong_parameter_name, ModelViolationError),
    "string-where-integer-wanted": (_string_for_integer, ModelViolationError),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_fine_tune_definition_fails(
    cloud: Cloud, machine_ids: dict[str, str], mutation: str
) -> None:
    mutate, expected = MUTATIONS[mutation]
    logical_id = machine_ids["fine_tune"]
    payload = put_dataset(cloud, logical_id)
    if isinstance(expected, str):
        execution = run_mutated(cloud, logical_id, mutate, payload)
        assert (execution.status, execution.error) == ("FAILED", expected)
        assert not cloud.notifications  # States.Runtime is not caught by States.ALL
    else:
        with pytest.raises(expected):
            run_mutated(cloud, logical_id, mutate, payload)


def test_typo_in_a_failure_notification_kills_the_execution_unnotified(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    logical_id = machine_ids["fine_tune"]
    cloud.job_status["bedrock:createModelCustomizationJob"] = "Failed"
    payload = put_dataset(cloud, logical_id)
    execution = run_mutated(cloud, logical_id, _notification_path_typo, payload)
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert not cloud.notifications


def test_string_where_the_labeling_api_wants_an_integer(
    cloud: Cloud, machine_ids: dict[str, str]
) -> None:
    def mutate(states: dict[str, Any]) -> None:
        states["Defaults-sft"]["Result"]["workers_per_object"] = "3"

    with pytest.raises(ModelViolationError, match="NumberOfHumanWorkersPerDataObject"):
        run_mutated(cloud, machine_ids["labeling"], mutate, labeling_input(cloud, "sft"))


# -- the interpreter's own strictness -----------------------------------------------------------


def _run(definition: dict[str, Any], payload: Any) -> Execution:
    def no_tasks(resource: str, params: Any, execution: Execution, state: dict[str, Any]) -> Any:
        if resource == "fail":
            raise StatesError("Custom.Error", "boom")
        if resource == "big":
            return {"blob": "x" * 300_000}
        return params

    return Execution(definition=definition, input=payload, tasks=no_tasks).run()


def test_choice_on_a_missing_path_is_a_runtime_error_not_the_default() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "S"}],
                "Default": "S",
            },
            "S": {"Type": "Succeed"},
        },
    }
    assert _run(definition, {}).error == "States.Runtime"
    assert _run(definition, {"x": False}).status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("resource", "error"), [("missing-path", "States.Runtime"), ("big", "States.DataLimitExceeded")]
)
def test_states_all_does_not_catch_runtime_or_data_limit_errors(resource: str, error: str) -> None:
    parameters = {"v.$": "$.absent"} if resource == "missing-path" else {}
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    assert _run(definition, {}).error == error


def test_states_all_catches_task_errors_and_retries_do_not_sleep() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "fail",
                "Retry": [
                    {"ErrorEquals": ["Custom.Error"], "IntervalSeconds": 60, "MaxAttempts": 2}
                ],
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    execution = _run(definition, {})
    assert execution.status == "SUCCEEDED"
    assert execution.output["error"]["Error"] == "Custom.Error"
    assert execution.waited_seconds == 60 + 120


def test_the_botocore_model_checks_catch_what_they_must() -> None:
    """Fails loudly when the botocore pieces the suite relies on (ParamValidator, shape
    metadata: required, enum, min/max, pattern) stop reporting violations."""
    good = {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "m"}
    check_request("sns", "publish", good)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"TopicArn": good["TopicArn"]}, "Message"),
        ({**good, "Subjekt": "x"}, "Subjekt"),
        ({**good, "Message": {"a": 1}}, "Message"),
    ]
    for bad, reason in cases:
        with pytest.raises(ModelViolationError, match=reason):
            check_request("sns", "publish", bad)
    with pytest.raises(ModelViolationError, match="not one of"):
        check_response(
            "sagemaker",
            "describeLabelingJob",
            {"LabelingJobStatus": "Done"},
        )
    with pytest.raises(ModelViolationError, match="does not match"):
        check_request(
            "sagemaker",
            "describeLabelingJob",
            {"LabelingJobName": "not valid!"},
        )
    with pytest.raises(ModelViolationError, match="more than"):
        check_request("sagemaker", "describeLabelingJob", {"LabelingJobName": "a" * 64})
    unusable = []
    session = botocore.session.get_session()
    for service in ("bedrock", "sagemaker", "sns", "s3", "lambda", "stepfunctions"):
        model = session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern and compiled_pattern(pattern) is None:
                unusable.append((service, name))
    assert unusable == [], "service-model patterns the checks cannot use"


def test_result_path_writes_into_the_raw_input_not_the_input_path_selection() -> None:
    """The Step Functions developer guide's InputPath / ResultPath / OutputPath example."""
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "echo",
                "InputPath": "$.lambda",
                "ResultPath": "$.data.lambdaresult",
                "OutputPath": "$.data",
                "End": True,
            }
        },
    }
    payload = {"comment": "c", "data": {"val1": 23}, "extra": "foo", "lambda": {"who": "me"}}
    execution = _run(definition, payload)
    assert execution.output == {"val1": 23, "lambdaresult": {"who": "me"}}
