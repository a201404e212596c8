"""A small, strict interpreter for the Amazon States Language subset our workflows use.

Strict where AWS is strict (and where moto's interpreter is lenient): a reference path that
selects nothing raises ``States.Runtime``; ``States.ALL`` catches neither ``States.Runtime``
nor ``States.DataLimitExceeded``; a Choice rule on a missing variable raises
``States.Runtime`` (only ``IsPresent`` may test a missing path); a Choice without a matching
rule and without ``Default`` raises ``States.NoChoiceMatched``; unknown state fields are
refused. Waits and retry intervals are counted, never slept.

Supported: Pass, Task, Choice, Wait, Succeed, Fail, Parallel; InputPath, Parameters,
ResultSelector, ResultPath, OutputPath; Retry (ErrorEquals, MaxAttempts, IntervalSeconds,
BackoffRate) and Catch; the intrinsics States.Format, States.JsonMerge, States.JsonToString,
States.StringToJson, States.MathAdd, States.UUID, States.Array; the context object
(``$$.Execution.Id/Name/Input/StartTime``, ``$$.State.Name``). Anything else raises
:class:`UnsupportedFeatureError` so a new construct in a definition is noticed, not skipped.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PAYLOAD_LIMIT_BYTES = 256 * 1024
"""Step Functions' payload quota for a state's input, output and a task's result."""

UNCATCHABLE = ("States.Runtime", "States.DataLimitExceeded")
"""Errors ``States.ALL`` does not match (Step Functions developer guide, error names)."""

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
ALLOWED_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | {"Result", "ResultPath", "Parameters"},
    "Task": _COMMON
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "HeartbeatSeconds",
    },
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Wait": _COMMON | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause"},
    "Parallel": _COMMON
    | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
}


class UnsupportedFeatureError(Exception):
    """The definition uses something this interpreter does not implement."""


class StatesError(Exception):
    """An error a state reports: ``error`` is the ASL error name, ``cause`` its cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class _Missing:
    pass


MISSING = _Missing()


# -- JSONPath (the reference-path subset ASL uses) ------------------------------------------

_TOKEN = re.compile(r"\.([A-Za-z0-9_@$\-:?]+)|\[(\d+)\]|\['([^']+)'\]")


def parse_path(path: str) -> list[str | int]:
    """``$.a.b[0]`` -> ``["a", "b", 0]``; refuses filters, wildcards and slices."""
    if not path.startswith("$"):
        raise UnsupportedFeatureError(f"not a reference path: {path!r}")
    rest, steps, position = path[1:], [], 0
    while position < len(rest):
        match = _TOKEN.match(rest, position)
        if match is None:
            tail = rest[position:]
            raise UnsupportedFeatureError(f"path {path!r} has unsupported syntax at {tail!r}")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (name or quoted))
        position = match.end()
    return steps


def select(data: Any, path: str) -> Any:
    """The value at ``path`` or :data:`MISSING`."""
    node = data
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return MISSING
            node = node[step]
    return node


def reference(data: Any, context: dict[str, Any], path: str, where: str) -> Any:
    """``select`` on the state input (``$``) or the context object (``$$``); a path that
    selects nothing is ``States.Runtime`` as on AWS."""
    source, expression = (context, path[1:]) if path.startswith("$$") else (data, path)
    value = select(source, expression)
    if value is MISSING:
        raise StatesError(
            "States.Runtime",
            f"{where}: the JSONPath '{path}' could not be found in the input "
            f"'{json.dumps(source, default=str)[:300]}'",
        )
    return copy.deepcopy(value)


# -- intrinsic functions ----------------------------------------------------------------------


def _split_args(text: str) -> list[str]:
    args, depth, quoted, current, i = [], 0, False, "", 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current += ch
            if ch == "\\" and i + 1 < len(text):
                current += text[i + 1]
                i += 1
            elif ch == "'":
                quoted = False
        elif ch == "'":
            quoted, current = True, current + ch
        elif ch == "(":
            depth, current = depth + 1, current + ch
        elif ch == ")":
            depth, current = depth - 1, current + ch
        elif ch == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    if current.strip():
        args.append(current.strip())
    return args


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def intrinsic(expression: str, data: Any, context: dict[str, Any], where: str) -> Any:
    """Evaluate one intrinsic function call (arguments may nest calls)."""
    match = re.fullmatch(r"(States\.[A-Za-z]+)\((.*)\)", expression.strip(), re.S)
    if match is None:
        raise UnsupportedFeatureError(f"not an intrinsic call: {expression!r}")
    name, raw = match.groups()
    args: list[Any] = []
    for arg in _split_args(raw):
        if arg.startswith("'"):
            args.append(_unescape(arg))
        elif arg.startswith("$"):
            args.append(reference(data, context, arg, where))
        elif arg.startswith("States."):
            args.append(intrinsic(arg, data, context, where))
        elif arg in ("true", "false", "null"):
            args.append(json.loads(arg))
        else:
            args.append(json.loads(arg))
    return _call(name, args, where)


def _call(name: str, args: list[Any], where: str) -> Any:  # noqa: PLR0911 - one per function
    def fail(reason: str) -> StatesError:
        return StatesError("States.IntrinsicFailure", f"{where}: {name}: {reason}")

    if name == "States.Format":
        if not args or not isinstance(args[0], str):
            raise fail("the first argument must be a string template")
        template, values = args[0], args[1:]
        if template.count("{}") != len(values):
            raise fail("the number of {} does not match the number of arguments")
        for value in values:
            if isinstance(value, dict | list):
                raise fail("arguments must be strings, numbers, booleans or null")
            text = json.dumps(value) if not isinstance(value, str) else value
            template = template.replace("{}", text, 1)
        return template
    if name == "States.JsonMerge":
        if len(args) != 3 or not all(isinstance(a, dict) for a in args[:2]):
            raise fail("needs two objects and a boolean")
        if args[2] is not False:
            raise fail("only shallow merges (false) are supported by Step Functions")
        return {**args[0], **args[1]}
    if name == "States.JsonToString":
        if len(args) != 1:
            raise fail("needs one argument")
        return json.dumps(args[0], separators=(",", ":"))
    if name == "States.StringToJson":
        if len(args) != 1 or not isinstance(args[0], str):
            raise fail("needs one string")
        try:
            return json.loads(args[0])
        except json.JSONDecodeError as error:
            raise fail(f"not JSON: {error}") from None
    if name == "States.MathAdd":
        if len(args) != 2 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise fail("needs two integers")
        return args[0] + args[1]
    if name == "States.UUID":
        if args:
            raise fail("takes no arguments")
        return str(uuid.uuid4())
    if name == "States.Array":
        return list(args)
    if name == "States.Hash":
        algorithms = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
        algorithms["SHA-512"] = "sha512"
        if len(args) != 2 or not isinstance(args[0], str) or args[1] not in algorithms:
            raise fail(f"needs a string and one of {sorted(algorithms)}")
        return hashlib.new(algorithms[args[1]], args[0].encode()).hexdigest()
    raise UnsupportedFeatureError(f"intrinsic {name}")


# -- payload templates -------------------------------------------------------------------------


def render(template: Any, data: Any, context: dict[str, Any], where: str) -> Any:
    """A Parameters / ResultSelector template applied to ``data``."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise StatesError("States.Runtime", f"{where}: {key} must be a string")
                if value.startswith("States."):
                    out[key[:-2]] = intrinsic(value, data, context, where)
                else:
                    out[key[:-2]] = reference(data, context, value, where)
            else:
                out[key] = render(value, data, context, where)
        return out
    if isinstance(template, list):
        return [render(item, data, context, where) for item in template]
    return copy.deepcopy(template)


def apply_result_path(data: Any, result: Any, path: str | None, where: str) -> Any:
    """``result`` placed into ``data``, the state's RAW input (before InputPath), as Step
    Functions does; ``None`` discards the result."""
    if path is None:
        return data
    if path == "$":
        return result
    if path.startswith("$$"):
        raise StatesError("States.Runtime", f"{where}: ResultPath cannot use the context")
    steps = parse_path(path)
    if not isinstance(data, dict):
        raise StatesError("States.Runtime", f"{where}: ResultPath {path} needs an object input")
    out = copy.deepcopy(data)
    node = out
    for step in steps[:-1]:
        if not isinstance(step, str):
            raise UnsupportedFeatureError(f"array index in ResultPath {path}")
        child = node.get(step)
        if child is None:
            child = node[step] = {}
        elif not isinstance(child, dict):
            raise StatesError(
                "States.Runtime",
                f"{where}: unable to apply ResultPath {path}: {step} is not an object",
            )
        node = child
    node[str(steps[-1])] = result
    return out


def _size_check(value: Any, where: str) -> None:
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > PAYLOAD_LIMIT_BYTES:
        raise StatesError(
            "States.DataLimitExceeded",
            f"{where}: {size} bytes exceeds the {PAYLOAD_LIMIT_BYTES}-byte payload quota",
        )


# -- Choice rules ----------------------------------------------------------------------------

_COMPARATORS: dict[str, tuple[type | tuple[type, ...], Callable[[Any, Any], bool]]] = {
    "StringEquals": (str, lambda a, b: a == b),
    "StringLessThan": (str, lambda a, b: a < b),
    "StringGreaterThan": (str, lambda a, b: a > b),
    "NumericEquals": ((int, float), lambda a, b: a == b),
    "NumericLessThan": ((int, float), lambda a, b: a < b),
    "NumericLessThanEquals": ((int, float), lambda a, b: a <= b),
    "NumericGreaterThan": ((int, float), lambda a, b: a > b),
    "NumericGreaterThanEquals": ((int, float), lambda a, b: a >= b),
    "BooleanEquals": (bool, lambda a, b: a == b),
}


def _glob(pattern: str, value: str) -> bool:
    regex = "".join(
        ".*" if part == "*" else re.escape(part.replace("\\*", "*"))
        for part in re.split(r"(?<!\\)(\*)", pattern)
    )
    return re.fullmatch(regex, value, re.S) is not None


def evaluate_rule(  # noqa: PLR0911 - one return per operator
    rule: dict[str, Any], data: Any, context: dict[str, Any], where: str
) -> bool:
    if "And" in rule:
        return all(evaluate_rule(r, data, context, where) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, data, context, where) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context, where)
    variable = rule["Variable"]
    operators = [k for k in rule if k not in ("Variable", "Next")]
    if len(operators) != 1:
        raise UnsupportedFeatureError(f"{where}: rule {rule}")
    operator, operand = operators[0], rule[operators[0]]
    source, expression = (context, variable[1:]) if variable.startswith("$$") else (data, variable)
    value = select(source, expression)
    expected = bool(operand)
    if operator == "IsPresent":
        return (value is not MISSING) == expected
    if value is MISSING:
        raise StatesError(
            "States.Runtime",
            f"{where}: Invalid path '{variable}': The choice state's condition path references "
            "an invalid value.",
        )
    if operator == "IsNull":
        return (value is None) == expected
    if operator == "IsString":
        return isinstance(value, str) == expected
    if operator == "IsNumeric":
        return (isinstance(value, int | float) and not isinstance(value, bool)) == expected
    if operator == "IsBoolean":
        return isinstance(value, bool) == expected
    if operator == "StringMatches":
        return isinstance(value, str) and _glob(str(operand), value)
    if operator.endswith("Path"):
        operand = reference(data, context, operand, where)
        operator = operator[: -len("Path")]
    if operator not in _COMPARATORS:
        raise UnsupportedFeatureError(f"{where}: operator {operator}")
    kind, compare = _COMPARATORS[operator]
    if kind is not bool and isinstance(value, bool):
        return False
    if not isinstance(value, kind):
        return False
    return compare(value, operand)


# -- execution --------------------------------------------------------------------------------

TaskHandler = Callable[[str, Any, "Execution", dict[str, Any]], Any]
"""(resource, parameters, execution, state) -> result; raises StatesError on failure."""


@dataclass
class Execution:
    """One run of a definition; ``events`` lists (state name, what happened)."""

    definition: dict[str, Any]
    input: Any
    tasks: TaskHandler
    name: str = field(default_factory=lambda: str(uuid.uuid4()))
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:Workflow"
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    events: list[tuple[str, str]] = field(default_factory=list)
    waited_seconds: int = 0
    max_transitions: int = 5000

    @property
    def arn(self) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{self.name}"

    @property
    def visited(self) -> list[str]:
        return [name for name, what in self.events if what == "entered"]

    def context(self, state_name: str) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": self.arn,
                "Name": self.name,
                "Input": copy.deepcopy(self.input),
                "StartTime": "2026-11-30T07:00:00.000Z",
                "RoleArn": "arn:aws:iam::123456789012:role/WorkflowRole",
            },
            "StateMachine": {"Id": self.state_machine_arn, "Name": "Workflow"},
            "State": {"Name": state_name, "EnteredTime": "2026-11-30T07:00:00.000Z"},
        }

    def run(self) -> Execution:
        try:
            _size_check(self.input, "execution input")
            self.output = self._run_states(self.definition, copy.deepcopy(self.input))
            self.status = "SUCCEEDED"
        except StatesError as failure:
            self.status, self.error, self.cause = "FAILED", failure.error, failure.cause
        return self

    def _run_states(self, machine: dict[str, Any], data: Any) -> Any:
        states = machine["States"]
        name = machine["StartAt"]
        transitions = 0
        while True:
            transitions += 1
            if transitions > self.max_transitions:
                raise StatesError("Test.TooManyTransitions", f"loop at {name}")
            state = states[name]
            kind = state["Type"]
            unknown = set(state) - ALLOWED_FIELDS.get(kind, set())
            if kind not in ALLOWED_FIELDS or unknown:
                raise UnsupportedFeatureError(f"{name}: {kind} with fields {sorted(unknown)}")
            self.events.append((name, "entered"))
            if kind == "Fail":
                self.events.append((name, "failed"))
                raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
            if kind == "Choice":
                data = self._filter_in(state, data, name)
                name = self._choose(state, data, name)
                continue
            data, next_name = self._run_state(name, state, data)
            if next_name is None:
                return data
            name = next_name

    def _filter_in(self, state: dict[str, Any], data: Any, name: str) -> Any:
        path = state.get("InputPath", "$")
        if path is None:
            return {}
        return reference(data, self.context(name), path, f"{name}.InputPath")

    def _filter_out(self, state: dict[str, Any], data: Any, name: str) -> Any:
        path = state.get("OutputPath", "$")
        if path is None:
            return {}
        out = reference(data, self.context(name), path, f"{name}.OutputPath")
        _size_check(out, f"{name} output")
        return out

    def _choose(self, state: dict[str, Any], data: Any, name: str) -> str:
        for rule in state["Choices"]:
            if evaluate_rule(rule, data, self.context(name), name):
                return str(rule["Next"])
        if "Default" in state:
            return str(state["Default"])
        raise StatesError("States.NoChoiceMatched", f"{name}: no rule matched and no Default")

    def _next(self, state: dict[str, Any]) -> str | None:
        return None if state.get("End") else str(state["Next"])

    def _run_state(self, name: str, state: dict[str, Any], raw: Any) -> tuple[Any, str | None]:
        kind = state["Type"]
        if kind == "Succeed":
            return self._filter_out(state, self._filter_in(state, raw, name), name), None
        if kind == "Wait":
            data = self._filter_in(state, raw, name)
            if "Seconds" not in state:
                raise UnsupportedFeatureError(f"{name}: only Wait.Seconds is supported")
            self.waited_seconds += int(state["Seconds"])
            return self._filter_out(state, data, name), self._next(state)
        if kind == "Pass":
            data = self._filter_in(state, raw, name)
            context = self.context(name)
            if "Result" in state:
                result = copy.deepcopy(state["Result"])
            elif "Parameters" in state:
                result = render(state["Parameters"], data, context, f"{name}.Parameters")
            else:
                result = data
            out = apply_result_path(raw, result, state.get("ResultPath", "$"), name)
            return self._filter_out(state, out, name), self._next(state)
        return self._run_with_retries(name, state, raw)

    def _run_with_retries(
        self, name: str, state: dict[str, Any], raw: Any
    ) -> tuple[Any, str | None]:
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._attempt(name, state, raw)
            except StatesError as failure:
                retrier = _matching(state.get("Retry", []), failure.error)
                if retrier is not None:
                    index, rule = retrier
                    done = attempts.get(index, 0)
                    if done < int(rule.get("MaxAttempts", 3)):
                        attempts[index] = done + 1
                        interval = int(rule.get("IntervalSeconds", 1))
                        self.waited_seconds += int(
                            interval * float(rule.get("BackoffRate", 2.0)) ** done
                        )
                        self.events.append((name, f"retry {failure.error}"))
                        continue
                catcher = _matching(state.get("Catch", []), failure.error)
                if catcher is None:
                    self.events.append((name, f"failed {failure.error}"))
                    raise
                _, rule = catcher
                self.events.append((name, f"caught {failure.error}"))
                error_output = {"Error": failure.error, "Cause": failure.cause}
                out = apply_result_path(raw, error_output, rule.get("ResultPath", "$"), name)
                return out, str(rule["Next"])

    def _attempt(self, name: str, state: dict[str, Any], raw: Any) -> tuple[Any, str | None]:
        data = self._filter_in(state, raw, name)
        context = self.context(name)
        if "Parameters" in state:
            effective = render(state["Parameters"], data, context, f"{name}.Parameters")
        else:
            effective = data
        _size_check(effective, f"{name} input")
        if state["Type"] == "Parallel":
            result: Any = [
                self._run_states(branch, copy.deepcopy(effective)) for branch in state["Branches"]
            ]
        else:
            result = self.tasks(state["Resource"], effective, self, {**state, "Name": name})
        _size_check(result, f"{name} result")
        if "ResultSelector" in state:
            result = render(state["ResultSelector"], result, context, f"{name}.ResultSelector")
        out = apply_result_path(raw, result, state.get("ResultPath", "$"), name)
        return self._filter_out(state, out, name), self._next(state)


def _matching(rules: list[dict[str, Any]], error: str) -> tuple[int, dict[str, Any]] | None:
    for index, rule in enumerate(rules):
        names = rule["ErrorEquals"]
        if error in names:
            return index, rule
        if "States.ALL" in names and error not in UNCATCHABLE:
            return index, rule
        # States.TaskFailed matches any known error except States.Timeout.
        if "States.TaskFailed" in names and error not in (*UNCATCHABLE, "States.Timeout"):
            return index, rule
    return None
