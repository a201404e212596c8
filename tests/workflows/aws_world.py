"""The AWS side of the offline workflow runs: a synthesized template resolved to runnable
definitions, the real Lambda handlers run in-process (S3 through moto), and fakes for the
jobs Step Functions waits on, every request and every faked response checked against the
botocore service model."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import importlib
import json
import os
import re
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from workflows.asl_interpreter import Execution, StatesError, UnsupportedFeatureError
from workflows.curation_world import is_curation_job, run_curation_job, run_spark_curation_job
from workflows.merge_world import is_merge_job
from workflows.serverless_eval_world import EVALUATION_OP, is_evaluation_job, write_results
from workflows.synthetic_world import create_batch_job, get_batch_job

from cdk_llm_training.assets.merging.merge_adapter import REPORT_NAME, bedrock_import_supported

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
BEDROCK = f"arn:aws:bedrock:{REGION}:{ACCOUNT}"
SAGEMAKER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
CUSTOM_MODEL = f"{BEDROCK}:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
_PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "WorkflowStack",
    "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/WorkflowStack/"
    "4f3c2a10-7d1e-11ef-9a5b-0a1b2c3d4e5f",
}


# -- template resolution --------------------------------------------------------------------


class ResolvedTemplate:
    """A synthesized template with every Ref / GetAtt replaced by a realistic value."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.template = template
        self.resources: dict[str, Any] = dict(template["Resources"])

    def ref(self, logical_id: str) -> str:  # noqa: PLR0911 - one per resource type
        if logical_id in _PSEUDO:
            return _PSEUDO[logical_id]
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::S3::Bucket":
            return logical_id.lower()[:63]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical_id}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
        if kind == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_DNS, logical_id))
        if kind == "AWS::Lambda::Function":
            return logical_id
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> str:  # noqa: PLR0911 - one per type
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        if kind == "AWS::KMS::Key" and attribute == "Arn":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.ref(logical_id)}"
        if kind == "AWS::SageMaker::Workteam" and attribute == "WorkteamArn":
            return f"{SAGEMAKER}:workteam/private-crowd/{logical_id.lower()}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(logical_id)}"
        if kind == "AWS::SageMaker::ModelPackageGroup" and attribute == "ModelPackageGroupArn":
            name = self.resources[logical_id]["Properties"]["ModelPackageGroupName"]
            return f"{SAGEMAKER}:model-package-group/{self.resolve(name)}"
        if kind == "AWS::SNS::Topic" and attribute == "TopicArn":
            return self.ref(logical_id)
        if kind == "AWS::EKS::Cluster" and attribute == "Endpoint":
            return f"https://{logical_id.lower()}.gr7.{REGION}.eks.amazonaws.com"
        if kind == "AWS::EKS::Cluster" and attribute == "CertificateAuthorityData":
            return base64.b64encode(f"certificate of {logical_id}".encode()).decode()
        if kind == "AWS::SageMaker::ModelPackageGroup" and attribute == "ModelPackageGroupArn":
            name = self.resolve(self.resources[logical_id]["Properties"]["ModelPackageGroupName"])
            return f"{SAGEMAKER}:model-package-group/{name}"
        if kind == "AWS::EMRServerless::Application" and attribute == "ApplicationId":
            # Application IDs are lower-case letters and digits (StartJobRun's pattern).
            return "00" + uuid.uuid5(uuid.NAMESPACE_DNS, logical_id).hex[:14]
        raise UnsupportedFeatureError(f"GetAtt {logical_id}.{attribute} ({kind})")

    def resolve(self, node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(node, list):
            return [self.resolve(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.get_att(*value)
            if key == "Fn::Join":
                return value[0].join(str(self.resolve(v)) for v in value[1])
            if key == "Fn::FindInMap":
                name, first, second = (self.resolve(v) for v in value)
                return self.template["Mappings"][name][first][second]
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), value)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                return str(self.resolve(value[1])).split(value[0])
            if key.startswith("Fn::"):
                raise UnsupportedFeatureError(key)
        return {k: self.resolve(v) for k, v in node.items()}

    def _sub(self, name: str) -> str:
        if "." in name:
            return self.get_att(*name.split(".", 1))
        return self.ref(name)

    def of_type(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def definitions(self) -> dict[str, dict[str, Any]]:
        """State machine logical ID -> parsed definition."""
        out = {}
        for logical_id, resource in self.of_type("AWS::StepFunctions::StateMachine").items():
            text = self.resolve(resource["Properties"]["DefinitionString"])
            out[logical_id] = json.loads(text)
        return out

    def functions(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Lambda function ARN -> (handler, environment)."""
        out = {}
        for logical_id, resource in self.of_type("AWS::Lambda::Function").items():
            props = resource["Properties"]
            env = self.resolve(props.get("Environment", {}).get("Variables", {}))
            out[self.get_att(logical_id, "Arn")] = (str(props.get("Handler")), env)
        return out


# -- botocore model checks -----------------------------------------------------------------------


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def members(service: str, name: str, *, output: bool = False) -> set[str]:
    """Member names of an operation's input (or output) shape."""
    model = operation(service, name)
    shape = model.output_shape if output else model.input_shape
    return set(shape.members) if shape is not None else set()


@cache
def operation(service: str, name: str) -> OperationModel:
    """The botocore operation; ``name`` in camelCase (as in ARNs) or PascalCase."""
    model = _session().get_service_model(service)
    pascal = name[0].upper() + name[1:]
    if pascal not in model.operation_names:
        raise UnsupportedFeatureError(f"{service} has no operation {pascal}")
    return model.operation_model(pascal)


class ModelViolationError(AssertionError):
    """A request or response does not match the service model."""


def check_shape(shape: Shape | None, value: Any, path: str = "") -> list[str]:  # noqa: PLR0911
    """Members, required, types, enums, lengths, ranges and patterns of ``value``."""
    if shape is None:
        return []
    problems: list[str] = []
    where = path or "<root>"
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if meta.get("document"):
            return []
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        members = shape.members  # type: ignore[attr-defined]
        for key in value:
            if key not in members:
                problems.append(f"{where}: unknown member {key!r}")
        for key in shape.required_members:
            if key not in value:
                problems.append(f"{where}: missing required member {key!r}")
        for key, item in value.items():
            if key in members:
                problems += check_shape(members[key], item, f"{path}.{key}" if path else key)
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        problems += _bounds(meta, len(value), where, "items")
        for index, item in enumerate(value):
            problems += check_shape(shape.member, item, f"{where}[{index}]")  # type: ignore[attr-defined]
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map, got {type(value).__name__}"]
        problems += _bounds(meta, len(value), where, "entries")
        for key, item in value.items():
            problems += check_shape(shape.key, key, f"{where}<key>")  # type: ignore[attr-defined]
            problems += check_shape(shape.value, item, f"{where}[{key}]")  # type: ignore[attr-defined]
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {type(value).__name__} {value!r}"]
        enum = shape.enum  # type: ignore[attr-defined]
        if enum and value not in enum:
            problems.append(f"{where}: {value!r} is not one of {sorted(enum)}")
        problems += _bounds(meta, len(value), where, "characters")
        pattern = meta.get("pattern")
        compiled = compiled_pattern(pattern) if pattern else None
        # AWS validates the whole value (a name with a valid prefix and a bad tail fails).
        if compiled is not None and not compiled.fullmatch(value):
            problems.append(f"{where}: {value!r} does not match {pattern!r}")
        return problems
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer, got {type(value).__name__} {value!r}"]
        return _range(meta, value, where)
    if kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [f"{where}: expected a number, got {type(value).__name__} {value!r}"]
        return _range(meta, value, where)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        ok = isinstance(value, int | float | str | dt.datetime) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a timestamp, got {value!r}"]
    if kind == "blob":
        return [] if isinstance(value, str | bytes) else [f"{where}: expected a blob"]
    raise UnsupportedFeatureError(f"shape type {kind}")


_JAVA_CLASSES = {
    # Over-approximations of Java's Unicode classes (never stricter than AWS).
    "L": "A-Za-z\u00aa-\uffff",
    "M": "\u0300-\u036f",
    "Z": " \u00a0\u2000-\u200a\u2028\u2029\u3000",
    "N": "0-9",
    "S": "$+<=>^`|~",
    "P": "!-#%-*,-/:;?@\\[-\\]_{}",
    "Alnum": "A-Za-z0-9",
    "ASCII": "\x00-\x7f",
}


def java_pattern(pattern: str) -> str:
    """A service-model (Java) regex in Python syntax: ``\\p{..}`` classes, surrogate pairs,
    and a quantifier after ``$``."""
    out, depth, i = "", 0, 0
    while i < len(pattern):
        if pattern.startswith("\\p{", i):
            end = pattern.index("}", i)
            body = _JAVA_CLASSES[pattern[i + 3 : end]]
            out += body if depth else f"[{body}]"
            i = end + 1
            continue
        if pattern[i] == "\\":
            out += pattern[i : i + 2]
            i += 2
            continue
        depth += {"[": 1, "]": -1}.get(pattern[i], 0)
        out += pattern[i]
        i += 1
    out = out.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    return re.sub(r"\$\{\d+,\d+\}", "$", out)


@cache
def compiled_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern; every pattern of the services the suite uses compiles (a test
    keeps it so), ``None`` is only for a service it does not use."""
    try:
        return re.compile(java_pattern(pattern), re.S)
    except (re.error, KeyError):
        return None


def _bounds(meta: Mapping[str, Any], size: int, where: str, unit: str) -> list[str]:
    problems = []
    if "min" in meta and size < meta["min"]:
        problems.append(f"{where}: {size} {unit}, fewer than {meta['min']}")
    if "max" in meta and size > meta["max"]:
        problems.append(f"{where}: {size} {unit}, more than {meta['max']}")
    return problems


def _range(meta: Mapping[str, Any], value: float, where: str) -> list[str]:
    problems = []
    if "min" in meta and value < meta["min"]:
        problems.append(f"{where}: {value} is below {meta['min']}")
    if "max" in meta and value > meta["max"]:
        problems.append(f"{where}: {value} is above {meta['max']}")
    return problems


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def to_model_case(shape: Shape | None, value: Any) -> Any:
    """Step Functions' PascalCase member names -> the model's (camelCase for REST-JSON
    services such as Bedrock). A key that is not exactly a PascalCased member name is kept
    as it is, so the shape check reports it as unknown."""
    if shape is None:
        return value
    if (
        shape.type_name == "structure"
        and isinstance(value, dict)
        and not shape.metadata.get("document")
    ):
        members = shape.members  # type: ignore[attr-defined]
        by_pascal = {_pascal(m): m for m in members}
        out = {}
        for key, item in value.items():
            member = by_pascal.get(key, key)
            out[member] = to_model_case(members.get(member), item)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_model_case(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_model_case(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def check_request(service: str, name: str, params: Mapping[str, Any]) -> None:
    """botocore's own ParamValidator, then the stricter shape check; raise on any problem."""
    model = operation(service, name)
    request = to_model_case(model.input_shape, dict(params))
    assert model.input_shape is not None
    report = ParamValidator().validate(request, model.input_shape)
    problems = [report.generate_report()] if report.has_errors() else []
    problems += check_shape(model.input_shape, request)
    if problems:
        raise ModelViolationError(f"{service}:{name} request: " + "; ".join(problems))


def check_response(service: str, name: str, response: Mapping[str, Any]) -> None:
    model = operation(service, name)
    problems = check_shape(model.output_shape, to_model_case(model.output_shape, dict(response)))
    if problems:
        raise ModelViolationError(f"{service}:{name} faked response: " + "; ".join(problems))


def _millis(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)


# -- the cloud ---------------------------------------------------------------------------------


@dataclass
class Cloud:
    """Fakes of the services the workflows call. Knobs: ``job_status`` (final status of a
    ``.sync`` job or polled resource by operation key), ``raise_on`` (an operation key ->
    (error, cause) raised by the call), ``eval_score`` (every Bedrock evaluation score),
    ``metrics_passed`` (the task-metrics report's verdict), ``answers`` (worker answers by
    labeling task type)."""

    template: ResolvedTemplate
    s3: Any
    definitions: dict[str, dict[str, Any]]
    functions: dict[str, tuple[str, dict[str, str]]]
    job_status: dict[str, str] = field(default_factory=dict)
    raise_on: dict[str, tuple[str, str]] = field(default_factory=dict)
    eval_score: float = 0.9
    metrics_passed: bool = True
    merge_architecture: str = "LlamaForCausalLM"
    """The architecture a merge job's report names (the adapter's base model)."""
    billable_time: bool = True
    optional_fields: bool = True
    """False: faked responses keep only the members the model marks required plus those
    :data:`GUARANTEED` lists, so a read of any other optional field fails the run."""
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    curation_cards: list[dict[str, Any]] = field(default_factory=list)
    """Dataset cards of the curation jobs run (see ``workflows.curation_world``)."""
    batch_jobs: dict[str, Any] = field(default_factory=dict)
    """Bedrock batch inference jobs by ARN (see ``workflows.synthetic_world``)."""
    batch_record_errors: bool = False
    """True: every record of a batch job ends in an error line instead of an answer."""
    judge_reply: str = "The first answer is more complete.\nVERDICT: A"
    """What a judge batch job (job name with ``-judge-``) answers for every pair."""
    judge_job_status: str | None = None
    """Final status of judge batch jobs; None: as the sample job's."""
    batch_quotas: dict[str, float] = field(default_factory=dict)
    """Bedrock quota name -> applied value that ListServiceQuotas returns."""
    foreign_batch_jobs: list[tuple[str, str]] = field(default_factory=list)
    """(model id, status) of batch jobs other workflows have in flight."""
    batch_parts: int = 1
    """Output parts (``.jsonl.out`` files) a batch job writes its lines into."""
    batch_corrupt_line: int | None = None
    """Index of an output line a batch job writes as invalid JSON (-1: the last)."""
    batch_manifest_override: dict[str, int] = field(default_factory=dict)
    """Fields that replace the counts of every batch job's ``manifest.json.out``."""
    executions: list[Execution] = field(default_factory=list)
    evaluation_jobs: dict[str, Any] = field(default_factory=dict)
    evaluation_polls: dict[str, int] = field(default_factory=dict)
    throughput_polls: int = 0
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Custom model deployments by ARN: ``request``, ``polls``, ``deleted``."""
    training_jobs: dict[str, Any] = field(default_factory=dict)
    """Serverless training jobs started through the AWS SDK integration, by name."""
    import_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Model package ARN -> its CreateModelPackage request (``ModelApprovalStatus`` is what
    a test sets to approve or reject it)."""
    serverless_eval_results: str = "documented"
    """What completed serverless evaluation jobs write: ``documented``, ``missing`` or
    ``malformed`` (see ``workflows.serverless_eval_world``)."""
    serverless_eval_score: float = 0.71
    """The benchmark score serverless evaluation jobs report."""
    failing_jobs: tuple[str, ...] = ()
    """Evaluation job name prefixes (``eval-cj-`` candidate judge, ``eval-bj-`` baseline
    judge, ``eval-cb-`` / ``eval-bb-`` built-in) whose jobs end ``Failed``."""

    # -- entry points --------------------------------------------------------------------

    def start(self, logical_id: str, payload: Any, *, name: str | None = None) -> Execution:
        execution = Execution(
            definition=copy.deepcopy(self.definitions[logical_id]),
            input=payload,
            tasks=self.invoke,
            state_machine_arn=self.template.ref(logical_id),
            name=name or f"run-{uuid.uuid4().hex[:12]}",
        )
        self.executions.append(execution)
        return execution.run()

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]

    def invoke(
        self, resource: str, params: Any, execution: Execution, state: dict[str, Any]
    ) -> Any:
        if resource.startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"):
            return self._lambda(resource, params, "lambda:invoke-direct")
        match = re.fullmatch(r"arn:aws:states:::(.+)", resource)
        if match is None:
            raise UnsupportedFeatureError(f"resource {resource}")
        integration = match.group(1)
        if integration.startswith("aws-sdk:"):
            _, service, action = integration.split(":")
            return self._sdk(service, action, params)
        handlers: dict[str, Callable[[Any, Execution, dict[str, Any]], Any]] = {
            "sns:publish": self._sns_publish,
            "lambda:invoke": self._lambda_invoke,
            "bedrock:createModelCustomizationJob.sync": self._customization_job,
            "sagemaker:createTrainingJob.sync": self._training_job,
            "sagemaker:createProcessingJob.sync": self._processing_job,
            "sagemaker:createLabelingJob.sync": self._labeling_job,
            "emr-serverless:startJobRun.sync": self._emr_job_run,
            "states:startExecution.sync:2": self._child_execution,
            "events:putEvents": self._put_events,
        }
        if integration not in handlers:
            raise UnsupportedFeatureError(f"integration {integration}")
        return handlers[integration](params, execution, state)

    def _record(self, op: str, params: Any) -> None:
        self.calls.append((op, copy.deepcopy(params)))
        if op in self.raise_on:
            raise StatesError(*self.raise_on[op])

    # -- optimized integrations -------------------------------------------------------------

    def _sns_publish(self, params: Any, *_: Any) -> dict[str, Any]:
        request = dict(params)
        if not isinstance(request.get("Message"), str):
            # The optimized integration serializes a JSON Message into a string.
            request["Message"] = json.dumps(request.get("Message"))
        check_request("sns", "publish", request)
        self._record("sns:publish", params)
        self.notifications.append(
            {
                "topic": params["TopicArn"],
                "subject": params.get("Subject"),
                **json.loads(request["Message"]),
            }
            if isinstance(params.get("Message"), dict)
            else {"topic": params["TopicArn"], "message": params["Message"]}
        )
        response = {"MessageId": str(uuid.uuid4())}
        check_response("sns", "publish", response)
        return response

    def _put_events(self, params: Any, *_: Any) -> dict[str, Any]:
        request = copy.deepcopy(params)
        for entry in request.get("Entries", []):
            if not isinstance(entry.get("Detail"), str):
                # The optimized integration serializes a JSON Detail into a string.
                entry["Detail"] = json.dumps(entry.get("Detail"))
        check_request("events", "putEvents", request)
        self._record("events:putEvents", params)
        response = {
            "FailedEntryCount": 0,
            "Entries": [{"EventId": str(uuid.uuid4())} for _ in request["Entries"]],
        }
        check_response("events", "putEvents", response)
        return response

    def _lambda_invoke(self, params: Any, *_: Any) -> dict[str, Any]:
        known = members("lambda", "invoke")
        unknown = set(params) - known
        if unknown or "FunctionName" not in params:
            raise ModelViolationError(f"lambda:invoke parameters {sorted(unknown)} / {params}")
        payload = self._lambda(params["FunctionName"], params.get("Payload"), "lambda:invoke")
        return {
            "ExecutedVersion": "$LATEST",
            "Payload": payload,
            "StatusCode": 200,
            "SdkHttpMetadata": {"HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": str(uuid.uuid4())},
        }

    def _lambda(self, arn: str, event: Any, op: str) -> Any:
        if arn not in self.functions:
            raise StatesError("Lambda.ResourceNotFoundException", f"Function not found: {arn}")
        handler_name, env = self.functions[arn]
        self._record(f"lambda:{handler_name}", event)
        module_name, function_name = handler_name.rsplit(".", 1)
        module = importlib.import_module(f"cdk_llm_training.assets.runtime.{module_name}")
        handler = getattr(module, function_name)
        event = json.loads(json.dumps(event))  # what Lambda receives is JSON
        with _environment(env):
            try:
                result = handler(event, None)
            except Exception as error:
                cause = {
                    "errorMessage": str(error)[:1000],
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_exc().splitlines()[-5:],
                }
                raise StatesError(type(error).__name__, json.dumps(cause)) from None
        text = json.dumps(result)  # Runtime.MarshalError on AWS when this fails
        if len(text.encode()) > 6 * 1024 * 1024:
            raise StatesError("Lambda.Unknown", "response payload over 6 MB")
        return json.loads(text)

    def _sync_job(
        self,
        service: str,
        create: str,
        describe: str,
        params: Any,
        build: Callable[[str], dict[str, Any]],
        *,
        terminal_ok: str,
        status_key: str,
    ) -> dict[str, Any]:
        check_request(service, create, params)
        op = f"{service}:{create}"
        self._record(op, params)
        status = self.job_status.get(op, terminal_ok)
        response = self._minimal(service, describe, build(status))
        check_response(service, describe, response)
        serializable = json.loads(json.dumps(response, default=_json_default))
        if status != terminal_ok:
            # A .sync job that ends unsuccessfully fails the task with States.TaskFailed and
            # the describe output as its cause.
            raise StatesError("States.TaskFailed", json.dumps(serializable))
        assert serializable[status_key] == terminal_ok
        return dict(serializable)

    def _customization_job(self, params: Any, *_: Any) -> dict[str, Any]:
        def build(status: str) -> dict[str, Any]:
            name = params["JobName"]
            base = params["BaseModelIdentifier"]
            suffix = uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:12]
            out: dict[str, Any] = {
                "JobArn": f"{BEDROCK}:model-customization-job/{base}/{suffix}",
                "JobName": name,
                "OutputModelName": params["CustomModelName"],
                "RoleArn": params["RoleArn"],
                "Status": status,
                "CreationTime": NOW,
                "BaseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{base}",
                "HyperParameters": params.get("HyperParameters", {}),
                "TrainingDataConfig": params["TrainingDataConfig"],
                "ValidationDataConfig": params.get("ValidationDataConfig", {"Validators": []}),
                "OutputDataConfig": params["OutputDataConfig"],
                "CustomizationType": params.get("CustomizationType", "FINE_TUNING"),
            }
            if status == "Completed":
                out["OutputModelArn"] = f"{BEDROCK}:custom-model/{base}/{suffix}"
                out["EndTime"] = NOW
                out["TrainingMetrics"] = {"trainingLoss": 0.5}
            else:
                out["FailureMessage"] = "Internal error: the job failed (fake)."
            if "CustomizationConfig" in params:
                out["CustomizationConfig"] = params["CustomizationConfig"]
            for key in ("VpcConfig", "OutputModelKmsKeyArn"):
                if key in params:
                    out[key] = params[key]
            return out

        return self._sync_job(
            "bedrock",
            "createModelCustomizationJob",
            "getModelCustomizationJob",
            params,
            build,
            terminal_ok="Completed",
            status_key="Status",
        )

    def _training_job(self, params: Any, *_: Any) -> dict[str, Any]:
        def build(status: str) -> dict[str, Any]:
            name = params["TrainingJobName"]
            output_path = params["OutputDataConfig"]["S3OutputPath"].rstrip("/")
            out: dict[str, Any] = {
                key: params[key]
                for key in params
                if key in members("sagemaker", "describeTrainingJob", output=True)
            }
            out.update(
                {
                    "TrainingJobArn": f"{SAGEMAKER}:training-job/{name.lower()}",
                    "TrainingJobStatus": status,
                    "SecondaryStatus": "Completed" if status == "Completed" else "Failed",
                    "CreationTime": NOW,
                    "ModelArtifacts": {
                        "S3ModelArtifacts": f"{output_path}/{name}/output/model.tar.gz"
                    },
                }
            )
            out.pop("Tags", None)
            if status == "Completed":
                out["TrainingEndTime"] = NOW
                out["TrainingTimeInSeconds"] = 3600
                if self.billable_time:  # optional in the API: not always returned
                    out["BillableTimeInSeconds"] = 1200
            else:
                out["FailureReason"] = "AlgorithmError: fake failure"
            return out

        return self._sync_job(
            "sagemaker",
            "createTrainingJob",
            "describeTrainingJob",
            params,
            build,
            terminal_ok="Completed",
            status_key="TrainingJobStatus",
        )

    def _processing_job(self, params: Any, *_: Any) -> dict[str, Any]:
        def build(status: str) -> dict[str, Any]:
            name = params["ProcessingJobName"]
            out: dict[str, Any] = {
                key: params[key]
                for key in params
                if key in members("sagemaker", "describeProcessingJob", output=True)
            }
            out.update(
                {
                    "ProcessingJobArn": f"{SAGEMAKER}:processing-job/{name.lower()}",
                    "ProcessingJobStatus": status,
                    "CreationTime": NOW,
                }
            )
            out.pop("Tags", None)
            if status == "Completed":
                out["ProcessingEndTime"] = NOW
                if is_curation_job(params):
                    self.curation_cards.append(run_curation_job(self.s3, params))
                elif is_merge_job(params):
                    self._write_merge_report(params)
                else:
                    self._write_metrics_report(params)
            else:
                out["FailureReason"] = "ClientError: fake failure"
            return out

        return self._sync_job(
            "sagemaker",
            "createProcessingJob",
            "describeProcessingJob",
            params,
            build,
            terminal_ok="Completed",
            status_key="ProcessingJobStatus",
        )

    def _emr_job_run(self, params: Any, *_: Any) -> dict[str, Any]:
        """``startJobRun.sync``: StartJobRun checked against the model, the run "executed"
        (:func:`run_spark_curation_job`), its GetJobRun in the model's shape as the result;
        an unsuccessful final state fails the task with States.TaskFailed."""
        check_request("emr-serverless", "startJobRun", params)
        op = "emr-serverless:startJobRun"
        self._record(op, params)
        state = self.job_status.get(op, "SUCCESS")
        application = params["ApplicationId"]
        submit = params["JobDriver"]["SparkSubmit"]
        run_id = uuid.uuid5(uuid.NAMESPACE_DNS, params["ClientToken"]).hex[:16]
        job_run: dict[str, Any] = {
            "applicationId": application,
            "jobRunId": run_id,
            "name": params.get("Name"),
            "arn": f"arn:aws:emr-serverless:{REGION}:{ACCOUNT}:/applications/{application}"
            f"/jobruns/{run_id}",
            "createdBy": f"arn:aws:sts::{ACCOUNT}:assumed-role/workflow/session",
            "createdAt": NOW,
            "updatedAt": NOW,
            "executionRole": params["ExecutionRoleArn"],
            "state": state,
            "stateDetails": "Job run finished." if state == "SUCCESS" else "Job failed (fake).",
            "releaseLabel": "emr-7.9.0",
            "jobDriver": {
                "sparkSubmit": {
                    "entryPoint": submit["EntryPoint"],
                    "entryPointArguments": submit["EntryPointArguments"],
                    "sparkSubmitParameters": submit["SparkSubmitParameters"],
                }
            },
            "executionTimeoutMinutes": params.get("ExecutionTimeoutMinutes", 720),
        }
        if state == "SUCCESS":
            self.curation_cards.append(run_spark_curation_job(self.s3, params))
        response = {"jobRun": job_run}
        check_response("emr-serverless", "getJobRun", response)
        serializable = json.loads(json.dumps(response, default=_json_default))
        if state != "SUCCESS":
            raise StatesError("States.TaskFailed", json.dumps(serializable))
        return dict(serializable)

    def _write_merge_report(self, params: Any) -> None:
        """What ``merge_adapter.py`` writes next to the merged weights (``merge_architecture``
        decides the verdict)."""
        output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        bucket, _, prefix = output[5:].partition("/")
        architectures = [self.merge_architecture]
        report = {
            "architectures": architectures,
            "dtype": "bfloat16",
            "bedrockImportSupported": bedrock_import_supported(architectures),
        }
        folder = prefix.rstrip("/")
        config = {"architectures": architectures}
        self.s3.put_object(Bucket=bucket, Key=f"{folder}/config.json", Body=json.dumps(config))
        self.s3.put_object(Bucket=bucket, Key=f"{folder}/{REPORT_NAME}", Body=json.dumps(report))

    def _write_metrics_report(self, params: Any) -> None:
        output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        bucket, _, prefix = output[5:].partition("/")
        failures = (
            []
            if self.metrics_passed
            else [
                {"metric": "token_f1", "value": 0.2, "threshold": 0.6, "reason": "below min_score"}
            ]
        )
        report = {
            "kind": "task_metrics",
            "summary": {
                "examples": 2,
                "metrics": {"token_f1": 0.8 if self.metrics_passed else 0.2},
            },
            "passed": self.metrics_passed,
            "failures": failures,
        }
        self.s3.put_object(
            Bucket=bucket, Key=f"{prefix.rstrip('/')}/report.json", Body=json.dumps(report)
        )

    def _labeling_job(self, params: Any, *_: Any) -> dict[str, Any]:
        def build(status: str) -> dict[str, Any]:
            name = params["LabelingJobName"]
            config = params["HumanTaskConfig"]
            out: dict[str, Any] = {
                key: params[key]
                for key in params
                if key in members("sagemaker", "describeLabelingJob", output=True)
            }
            out.update(
                {
                    "LabelingJobArn": f"{SAGEMAKER}:labeling-job/{name.lower()}",
                    "LabelingJobStatus": status,
                    "CreationTime": NOW,
                    "LastModifiedTime": NOW,
                    "JobReferenceCode": "fake-ref",
                    "LabelCounters": {
                        "TotalLabeled": 2,
                        "HumanLabeled": 2,
                        "MachineLabeled": 0,
                        "FailedNonRetryableError": 0,
                        "Unlabeled": 0,
                    },
                }
            )
            out.pop("Tags", None)
            if status == "Completed":
                out["LabelingJobOutput"] = {
                    "OutputDatasetS3Uri": self._write_output_manifest(params, config)
                }
            else:
                out["FailureReason"] = "fake failure"
            return out

        return self._sync_job(
            "sagemaker",
            "createLabelingJob",
            "describeLabelingJob",
            params,
            build,
            terminal_ok="Completed",
            status_key="LabelingJobStatus",
        )

    def _write_output_manifest(self, params: Any, config: Mapping[str, Any]) -> str:
        manifest = params["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        bucket, _, key = manifest[5:].partition("/")
        lines = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        template = config["UiConfig"]["UiTemplateS3Uri"]
        task_type = template.rsplit("/", 1)[-1].removesuffix(".html")
        answers = self.answers.get(task_type) or _DEFAULT_ANSWERS[task_type]
        attribute = params["LabelAttributeName"]
        out_lines = []
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            record[attribute] = {
                "annotationsFromAllWorkers": [
                    {"workerId": f"worker-{i}", "annotationData": {"content": json.dumps(answer)}}
                    for i, answer in enumerate(answers)
                ]
            }
            record[f"{attribute}-metadata"] = {
                "type": "groundtruth/custom",
                "job-name": params["LabelingJobName"],
            }
            out_lines.append(json.dumps(record))
        out_bucket, _, out_prefix = params["OutputConfig"]["S3OutputPath"][5:].partition("/")
        out_key = (
            f"{out_prefix.rstrip('/')}/{params['LabelingJobName']}/manifests/output/output.manifest"
        )
        self.s3.put_object(Bucket=out_bucket, Key=out_key, Body="\n".join(out_lines) + "\n")
        return f"s3://{out_bucket}/{out_key}"

    def _child_execution(self, params: Any, execution: Execution, state: dict[str, Any]) -> Any:
        check_request(
            "stepfunctions", "startExecution", {**params, "Input": json.dumps(params.get("Input"))}
        )
        self._record("states:startExecution", params)
        arn = params["StateMachineArn"]
        logical_id = arn.rsplit(":", 1)[-1]
        child = self.start(logical_id, params.get("Input", {}), name=params.get("Name"))
        response: dict[str, Any] = {
            "ExecutionArn": child.arn,
            "StateMachineArn": arn,
            "Name": child.name,
            "Status": child.status,
            "StartDate": NOW,
            "StopDate": NOW,
            "Input": json.dumps(child.input),
        }
        if child.status == "SUCCEEDED":
            response["Output"] = json.dumps(child.output)
        else:
            response["Error"], response["Cause"] = child.error, child.cause
        response = self._minimal("stepfunctions", "describeExecution", response)
        check_response("stepfunctions", "describeExecution", response)
        serializable = json.loads(json.dumps(response, default=_json_default))
        # sync:2 returns Input and Output as JSON, not strings.
        serializable["Input"] = child.input
        if child.status != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps({**serializable}))
        serializable["Output"] = child.output
        return serializable

    # -- AWS SDK integrations ---------------------------------------------------------------

    def _sdk(self, service: str, action: str, params: Any) -> Any:
        check_request(service, action, params)
        op = f"{service}:{action}"
        self._record(op, params)
        fake = _SDK_FAKES.get(op)
        if fake is None:
            raise UnsupportedFeatureError(f"aws-sdk {op}")
        response = self._minimal(service, action, fake(self, params))
        check_response(service, action, response)
        return json.loads(json.dumps(response, default=_json_default))

    def _minimal(self, service: str, name: str, response: dict[str, Any]) -> dict[str, Any]:
        if self.optional_fields:
            return response
        shape = operation(service, name).output_shape
        names = shape.required_members if shape else []
        # Step Functions' SDK integrations use the model's member names as they are
        # (camelCase in the newer APIs) or in PascalCase for the older ones.
        required = {_pascal(m) for m in names} | set(names)
        keep = required | GUARANTEED.get(f"{service}:{name}", set())
        return {k: v for k, v in response.items() if k in keep}

    def status_for(self, op: str, default: str) -> str:
        return self.job_status.get(op, default)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _millis(value)
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(type(value))


GUARANTEED: dict[str, set[str]] = {
    # Not marked required in the model, but always in the response of a finished job:
    # its status, its result and the echo of required request fields.
    "bedrock:getModelCustomizationJob": {"Status", "OutputModelArn", "FailureMessage"},
    "bedrock:getCustomModelDeployment": {"FailureMessage"},
    "sagemaker:describeLabelingJob": {"LabelingJobOutput", "LabelAttributeName", "FailureReason"},
    "sagemaker:describeTrainingJob": {"FailureReason"},
    "sagemaker:describeProcessingJob": {"FailureReason"},
    "bedrock:getModelInvocationJob": {"Status"},
    "s3:getObject": {"Body"},
    # Always set on a versioned package (the workflows register every version with one).
    "sagemaker:describeModelPackage": {"ModelApprovalStatus", "CustomerMetadataProperties"},
    "bedrock:getModelImportJob": {"jobArn", "status", "importedModelArn", "failureMessage"},
    "stepfunctions:describeExecution": {"Output", "Input", "Error", "Cause"},
}
"""Optional response members the workflows may read (see ``Cloud.optional_fields``)."""

_DEFAULT_ANSWERS: dict[str, list[dict[str, Any]]] = {
    "sft": [{"response": "A careful, complete answer."}],
    "preference": [
        {"preference": "A", "rationale": "more accurate"},
        {"preference": "A", "rationale": "clearer"},
    ],
    "rating": [{"score": "4", "comment": "good"}, {"score": "5", "comment": "great"}],
}


def _s3_get(cloud: Cloud, params: Any) -> dict[str, Any]:
    try:
        response = cloud.s3.get_object(**params)
    except cloud.s3.exceptions.NoSuchKey:
        raise StatesError("S3.NoSuchKeyException", "The specified key does not exist.") from None
    body = response["Body"].read().decode()
    return {
        "Body": body,
        "ContentLength": len(body),
        "ContentType": response.get("ContentType", "binary/octet-stream"),
    }


def _s3_list(cloud: Cloud, params: Any) -> dict[str, Any]:
    response = dict(cloud.s3.list_objects_v2(**params))
    response.pop("ResponseMetadata", None)
    return response


def _s3_put(cloud: Cloud, params: Any) -> dict[str, Any]:
    response = cloud.s3.put_object(**params)
    return {"ETag": response["ETag"]}


def _provision(cloud: Cloud, params: Any) -> dict[str, Any]:
    return {"ProvisionedModelArn": f"{BEDROCK}:provisioned-model/{uuid.uuid4().hex[:12]}"}


def _get_throughput(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["ProvisionedModelId"]
    cloud.throughput_polls += 1  # the first poll finds it still being created
    final = cloud.status_for("bedrock:getProvisionedModelThroughput", "InService")
    status = "Creating" if cloud.throughput_polls == 1 else final
    return {
        "ModelUnits": 1,
        "DesiredModelUnits": 1,
        "ProvisionedModelName": "eval",
        "ProvisionedModelArn": arn,
        "ModelArn": CUSTOM_MODEL,
        "DesiredModelArn": CUSTOM_MODEL,
        "FoundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-micro-v1:0",
        "Status": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }


def _create_evaluation(cloud: Cloud, params: Any) -> dict[str, Any]:
    _check_precomputed(cloud, params)
    name = params["JobName"]
    arn = f"{BEDROCK}:evaluation-job/{uuid.uuid4().hex[:12]}"
    cloud.evaluation_jobs[arn] = params
    if cloud.status_for("bedrock:getEvaluationJob", "Completed") == "Completed":
        automated = params["EvaluationConfig"]["Automated"]
        metrics = [m for config in automated["DatasetMetricConfigs"] for m in config["MetricNames"]]
        bucket, _, prefix = params["OutputDataConfig"]["S3Uri"][5:].partition("/")
        run = uuid.uuid4().hex[:6]
        key = (
            f"{prefix.rstrip('/')}/{name}/{run}/models/m/taskTypes/Generation/datasets/prompts/"
            f"{run}_output.jsonl"
        )
        line = {
            "automatedEvaluationResult": {
                "scores": [{"metricName": m, "result": cloud.eval_score} for m in metrics]
            }
        }
        cloud.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(line) + "\n")
    return {"JobArn": arn}


def _get_evaluation(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["JobIdentifier"]
    job = cloud.evaluation_jobs[arn]
    polls = cloud.evaluation_polls
    polls[arn] = polls.get(arn, 0) + 1
    final = cloud.status_for("bedrock:getEvaluationJob", "Completed")
    if str(job["JobName"]).startswith(cloud.failing_jobs):
        final = "Failed"
    status = "InProgress" if polls[arn] == 1 else final
    return {
        "JobName": job["JobName"],
        "Status": status,
        "JobArn": arn,
        "RoleArn": job["RoleArn"],
        "JobType": "Automated",
        "ApplicationType": job.get("ApplicationType", "ModelEvaluation"),
        "EvaluationConfig": job["EvaluationConfig"],
        "InferenceConfig": job["InferenceConfig"],
        "OutputDataConfig": job["OutputDataConfig"],
        "CreationTime": NOW,
    }


def _delete_throughput(cloud: Cloud, params: Any) -> dict[str, Any]:
    return {}


def _create_deployment(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = f"{BEDROCK}:custom-model-deployment/{uuid.uuid4().hex[:12]}"
    cloud.deployments[arn] = {"request": params, "polls": 0, "deleted": False}
    return {"CustomModelDeploymentArn": arn}


def _get_deployment(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["CustomModelDeploymentIdentifier"]
    deployment = cloud.deployments[arn]
    deployment["polls"] += 1  # the first poll finds it still being created
    final = cloud.status_for("bedrock:getCustomModelDeployment", "Active")
    status = "Creating" if deployment["polls"] == 1 else final
    response = {
        "CustomModelDeploymentArn": arn,
        "ModelDeploymentName": deployment["request"]["ModelDeploymentName"],
        "ModelArn": deployment["request"]["ModelArn"],
        "CreatedAt": NOW,
        "Status": status,
    }
    if status == "Failed":
        response["FailureMessage"] = "The deployment failed (fake)."
    return response


def _delete_deployment(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["CustomModelDeploymentIdentifier"]
    if cloud.deployments[arn]["deleted"]:
        raise StatesError("Bedrock.ResourceNotFoundException", f"{arn} was already deleted")
    cloud.deployments[arn]["deleted"] = True
    return {}


def _check_precomputed(cloud: Cloud, params: Any) -> None:
    """A job that brings its own responses: every dataset line answers under the job's
    inference source identifier (what Bedrock matches)."""
    models = params["InferenceConfig"]["Models"]
    sources = [m["PrecomputedInferenceSource"] for m in models if "PrecomputedInferenceSource" in m]
    if not sources:
        return
    wanted = sources[0]["InferenceSourceIdentifier"]
    for config in params["EvaluationConfig"]["Automated"]["DatasetMetricConfigs"]:
        uri = config["Dataset"]["DatasetLocation"]["S3Uri"]
        bucket, _, key = uri[5:].partition("/")
        body = cloud.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for line in body.splitlines():
            record = json.loads(line)
            answers = record.get("modelResponses") or []
            if len(answers) != 1 or answers[0].get("modelIdentifier") != wanted:
                raise StatesError(
                    "Bedrock.ValidationException",
                    f"dataset line without one modelResponses entry for {wanted!r}: {line[:200]}",
                )


def _create_package(cloud: Cloud, params: Any) -> dict[str, Any]:
    group = params["ModelPackageGroupName"]
    token = params.get("ClientToken")
    for arn, known in cloud.packages.items():
        if token is not None and known.get("ClientToken") == token:
            return {"ModelPackageArn": arn}  # idempotent: the same request, the same version
    version = 1 + sum(1 for p in cloud.packages.values() if p["ModelPackageGroupName"] == group)
    arn = f"{SAGEMAKER}:model-package/{group}/{version}"
    cloud.packages[arn] = copy.deepcopy(params)
    return {"ModelPackageArn": arn}


def _describe_package(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["ModelPackageName"]
    if arn not in cloud.packages:
        raise StatesError("SageMaker.ValidationException", f"Model package {arn} not found.")
    known = cloud.packages[arn]
    response = {
        key: value
        for key, value in known.items()
        if key in members("sagemaker", "describeModelPackage", output=True) and key != "ClientToken"
    }
    response.update(
        {
            "ModelPackageName": known["ModelPackageGroupName"],
            "ModelPackageArn": arn,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "CreationTime": NOW,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": []},
        }
    )
    return response


def _create_import(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = f"{BEDROCK}:model-import-job/{uuid.uuid4().hex[:12]}"
    cloud.import_jobs[arn] = {"request": copy.deepcopy(params), "polls": 0}
    return {"jobArn": arn}


def _get_import(cloud: Cloud, params: Any) -> dict[str, Any]:
    arn = params["jobIdentifier"]
    job = cloud.import_jobs[arn]
    job["polls"] += 1  # the first poll finds it still importing
    final = cloud.status_for("bedrock:getModelImportJob", "Completed")
    status = "InProgress" if job["polls"] == 1 else final
    request = job["request"]
    response: dict[str, Any] = {
        "jobArn": arn,
        "jobName": request["jobName"],
        "importedModelName": request["importedModelName"],
        "roleArn": request["roleArn"],
        "modelDataSource": request["modelDataSource"],
        "status": status,
        "creationTime": NOW,
    }
    if status == "Completed":
        response["importedModelArn"] = f"{BEDROCK}:imported-model/{arn[-12:]}"
    if status == "Failed":
        response["failureMessage"] = "config.json: architecture GemmaForCausalLM not supported"
    return response


def _put_group_policy(cloud: Cloud, params: Any) -> dict[str, Any]:
    json.loads(params["ResourcePolicy"])  # the API takes a JSON document
    return {
        "ModelPackageGroupArn": f"{SAGEMAKER}:model-package-group/{params['ModelPackageGroupName']}"
    }


def _put_tagging(cloud: Cloud, params: Any) -> dict[str, Any]:
    try:
        cloud.s3.put_object_tagging(**params)
    except cloud.s3.exceptions.NoSuchKey:
        raise StatesError("S3.NoSuchKeyException", "The specified key does not exist.") from None
    return {}


def _delete_tagging(cloud: Cloud, params: Any) -> dict[str, Any]:
    cloud.s3.delete_object_tagging(**params)
    return {}


def _create_serverless_job(cloud: Cloud, params: Any) -> dict[str, Any]:
    """AWS SDK ``createTrainingJob`` (the polled serverless route): remember the request."""
    name = params["TrainingJobName"]
    cloud.training_jobs[name] = {"params": params, "polls": 0}
    return {"TrainingJobArn": f"{SAGEMAKER}:training-job/{name.lower()}"}


def _describe_serverless_job(cloud: Cloud, params: Any) -> dict[str, Any]:
    """``InProgress`` on the first poll, then ``job_status['sagemaker:createTrainingJob']``
    (default Completed); ``Completed`` names the registered model package."""
    name = params["TrainingJobName"]
    job = cloud.training_jobs[name]
    job["polls"] += 1
    request = job["params"]
    evaluation = is_evaluation_job(request)
    final = cloud.status_for("sagemaker:createTrainingJob", "Completed")
    if evaluation:  # by job name suffix (eval1, judge, ...), else all evaluation jobs
        final = cloud.job_status.get(
            f"{EVALUATION_OP}:{name.rsplit('-', 1)[-1]}",
            cloud.status_for(EVALUATION_OP, "Completed"),
        )
    status = "InProgress" if job["polls"] < 2 else final
    out: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"{SAGEMAKER}:training-job/{name.lower()}",
        "TrainingJobStatus": status,
        "SecondaryStatus": {"InProgress": "Training", "Completed": "Completed"}.get(
            status, "Failed"
        ),
        "StoppingCondition": {},
        "CreationTime": NOW,
        "ModelArtifacts": {
            "S3ModelArtifacts": f"{request['OutputDataConfig']['S3OutputPath']}{name}/output"
        },
        "ServerlessJobConfig": request["ServerlessJobConfig"],
        "ModelPackageConfig": request["ModelPackageConfig"],
    }
    if status == "Completed" and evaluation and job["polls"] == 2:
        write_results(
            cloud.s3,
            name,
            request,
            shape=cloud.serverless_eval_results,
            score=cloud.serverless_eval_score,
        )
    if status == "Completed" and not evaluation:
        group = request["ModelPackageConfig"]["ModelPackageGroupArn"].rsplit("/", 1)[-1]
        out["OutputModelPackageArn"] = f"{SAGEMAKER}:model-package/{group}/1"
    elif status != "InProgress":
        out["FailureReason"] = "ClientError: fake failure"
    return out


def _stop_training_job(cloud: Cloud, params: Any) -> dict[str, Any]:
    return {}


def _update_package(cloud: Cloud, params: Any) -> dict[str, Any]:
    """Record the approval a workflow sets (packages the service registered included)."""
    arn = params["ModelPackageArn"]
    cloud.packages.setdefault(arn, {"ModelPackageGroupName": arn.split("/")[-2]}).update(
        {k: v for k, v in params.items() if k != "ModelPackageArn"}
    )
    return {"ModelPackageArn": arn}


_SDK_FAKES: dict[str, Callable[[Cloud, Any], dict[str, Any]]] = {
    "sagemaker:createTrainingJob": _create_serverless_job,
    "sagemaker:describeTrainingJob": _describe_serverless_job,
    "sagemaker:stopTrainingJob": _stop_training_job,
    "sagemaker:updateModelPackage": _update_package,
    "s3:getObject": _s3_get,
    "s3:putObject": _s3_put,
    "s3:listObjectsV2": _s3_list,
    "bedrock:createModelInvocationJob": lambda cloud, params: create_batch_job(
        cloud, params, region=REGION, account=ACCOUNT
    ),
    "bedrock:getModelInvocationJob": lambda cloud, params: get_batch_job(cloud, params, now=NOW),
    "bedrock:createProvisionedModelThroughput": _provision,
    "bedrock:getProvisionedModelThroughput": _get_throughput,
    "bedrock:deleteProvisionedModelThroughput": _delete_throughput,
    "bedrock:createEvaluationJob": _create_evaluation,
    "bedrock:createCustomModelDeployment": _create_deployment,
    "bedrock:getCustomModelDeployment": _get_deployment,
    "bedrock:deleteCustomModelDeployment": _delete_deployment,
    "bedrock:getEvaluationJob": _get_evaluation,
    "sagemaker:createModelPackage": _create_package,
    "sagemaker:describeModelPackage": _describe_package,
    "bedrock:createModelImportJob": _create_import,
    "bedrock:getModelImportJob": _get_import,
    "sagemaker:putModelPackageGroupPolicy": _put_group_policy,
    "s3:putObjectTagging": _put_tagging,
    "s3:deleteObjectTagging": _delete_tagging,
}


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def create_buckets(template: ResolvedTemplate) -> Any:
    """A moto S3 client with every bucket of the template created."""
    client = boto3.client("s3", region_name=REGION)
    for logical_id in template.of_type("AWS::S3::Bucket"):
        client.create_bucket(Bucket=template.ref(logical_id))
    return client
