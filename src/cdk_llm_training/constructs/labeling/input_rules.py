"""What a labeling workflow execution may ask for: the input check of its first state and the
text that explains it (in the ``InvalidInput`` failure and its notification)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training.config.labeling_workforce import LabelingJobDefaults, LabelingTaskType

SFT_FORMATS = ("prompt_completion", "conversation")
"""``sft_format`` values the converter (``runtime/labeling_postprocess.py``) accepts."""


def cost_bounds(jobs: LabelingJobDefaults) -> dict[str, tuple[int, int]]:
    """Input field -> (API minimum, configured default): an execution may lower a
    cost-driving setting, never raise it above the configuration."""
    return {
        "workers_per_object": (1, jobs.workers_per_object),
        "task_time_limit_seconds": (30, jobs.task_time_limit_seconds),
        "task_availability_lifetime_seconds": (60, jobs.task_availability_lifetime_seconds),
        "max_concurrent_tasks": (1, jobs.max_concurrent_tasks),
    }


def input_rules_text(jobs: LabelingJobDefaults, manifest_prefix: str) -> str:
    """The accepted input, in one sentence."""
    bounds = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in cost_bounds(jobs).items())
    return (
        f"Input needs task_type ({', '.join(t.value for t in LabelingTaskType)}), job_name "
        f"(string) and manifest_key (string under '{manifest_prefix}' in the "
        "curated zone); optional: title and description (strings), sft_format "
        f"({', '.join(SFT_FORMATS)}), workteam_arn (one of this construct's work teams), "
        f"and integers within {bounds}."
    )


def input_is_valid(
    jobs: LabelingJobDefaults, manifest_prefix: str, workteam_arns: Sequence[str]
) -> sfn.Condition:
    """The whole execution input checked in the first state: types, the manifest prefix,
    the work-team allow-list and the bounds of the cost-driving fields."""

    def optional(name: str, *conditions: sfn.Condition) -> sfn.Condition:
        path = f"$.{name}"
        present = [sfn.Condition.is_present(path), *conditions]
        return sfn.Condition.or_(
            sfn.Condition.not_(sfn.Condition.is_present(path)), sfn.Condition.and_(*present)
        )

    def one_of(path: str, values: Sequence[str]) -> sfn.Condition:
        equals = [sfn.Condition.string_equals(path, v) for v in values]
        return equals[0] if len(equals) == 1 else sfn.Condition.or_(*equals)

    rules = [
        sfn.Condition.is_present("$.task_type"),
        sfn.Condition.is_string("$.task_type"),
        sfn.Condition.is_present("$.job_name"),
        sfn.Condition.is_string("$.job_name"),
        sfn.Condition.is_present("$.manifest_key"),
        sfn.Condition.is_string("$.manifest_key"),
        sfn.Condition.string_matches("$.manifest_key", f"{manifest_prefix}*"),
        optional("title", sfn.Condition.is_string("$.title")),
        optional("description", sfn.Condition.is_string("$.description")),
        optional(
            "sft_format",
            sfn.Condition.is_string("$.sft_format"),
            one_of("$.sft_format", SFT_FORMATS),
        ),
        optional(
            "workteam_arn",
            sfn.Condition.is_string("$.workteam_arn"),
            one_of("$.workteam_arn", workteam_arns),
        ),
    ]
    for name, (low, high) in cost_bounds(jobs).items():
        path = f"$.{name}"
        rules.append(
            optional(
                name,
                sfn.Condition.is_numeric(path),
                sfn.Condition.number_greater_than_equals(path, low),
                sfn.Condition.number_less_than_equals(path, high),
            )
        )
    return sfn.Condition.and_(*rules)
