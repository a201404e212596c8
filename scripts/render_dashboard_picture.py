"""Draw the docs picture of TrainingDashboard: a stack holding every section (workflows, two
file systems, training jobs, HyperPod, EKS), synthesized, its DashboardBody drawn as SVG.

    python scripts/render_dashboard_picture.py docs/images/training-dashboard.svg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_stepfunctions as sfn

from cdk_llm_training import (
    MonitoredFileSystem,
    MonitoredHyperPodCluster,
    TrainingAlarms,
    TrainingDashboard,
)
from cdk_llm_training.tools.dashboard_layout import dashboard_bodies, layout_svg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "out",
        nargs="?",
        type=Path,
        default=Path("docs/images/training-dashboard.svg"),
        help="SVG file to write (default %(default)s)",
    )
    out: Path = parser.parse_args(argv).out
    app = cdk.App()
    stack = cdk.Stack(app, "MediumFineTuneStack")
    workflows: dict[str, sfn.IStateMachine] = {
        name: sfn.StateMachine(
            stack,
            name.replace("-", ""),
            definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, f"{name}Start")),
        )
        for name in ("Fine-tune", "Labeling")
    }
    file_system = MonitoredFileSystem(
        file_system_id="fs-0123456789abcdef0",
        storage_capacity_gib=4800,
        throughput_mb_per_s_per_tib=250,
        label="Fsx",
    )
    hyperpod = MonitoredHyperPodCluster(cluster_name="llm-hyperpod", eks_cluster_name="llm-eks")
    alarms = TrainingAlarms(
        stack,
        "Alarms",
        file_systems=[file_system],
        state_machines=workflows,
        hyperpod_clusters=[hyperpod],
        training_job_name_prefix="llm-",
    )
    TrainingDashboard(
        stack,
        "Dashboard",
        file_systems=[file_system],
        state_machines=workflows,
        hyperpod_clusters=[hyperpod],
        training_job_name_prefix="llm-",
        alarms=alarms,
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    (body,) = dashboard_bodies(template).values()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(layout_svg(body, title="TrainingDashboard: a medium-tier layout"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
