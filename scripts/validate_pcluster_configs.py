"""Validate every ParallelCluster configuration the tests emit against the official schema.

Runs in its own virtual environment (``make pcluster-validate`` creates ``.venv-pcluster`` from
``requirements/pcluster.txt``): the ``aws-parallelcluster`` package pins CDK v1 and an old jsii,
which cannot live next to aws-cdk-lib v2. The configurations come from the library's pure
config module (pydantic only, no aws_cdk) through ``tests/pcluster_cases.py``, rendered with
concrete sample ids, and are loaded with ``ClusterSchema(cluster_name=...).load``, the same
schema the ParallelCluster provider applies before it calls any AWS API. AWS-free name rules of
the ParallelCluster validators run too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT / "src"), str(REPO_ROOT / "tests")]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None).parse_args(
        argv
    )
    started = time.perf_counter()
    # The schema reads the Region from the environment; it never needs credentials. Stub ones
    # make any unexpected AWS call fail fast instead of probing instance metadata.
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "offline-validation")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "offline-validation")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # any AWS call fails at once
    from pcluster.aws.aws_api import AWSApi  # type: ignore[import-not-found]
    from pcluster.schemas.cluster_schema import ClusterSchema  # type: ignore[import-not-found]
    from pcluster.validators.cluster_validators import (  # type: ignore[import-not-found]
        ClusterNameValidator,
        NameValidator,
    )
    from pcluster_cases import CASES, sample_configuration

    from cdk_llm_training.config.trainium_parallel_cluster import PARALLELCLUSTER_VERSION

    installed = metadata.version("aws-parallelcluster")
    if installed != PARALLELCLUSTER_VERSION:
        print(
            f"aws-parallelcluster {installed} is installed but the library pins "
            f"{PARALLELCLUSTER_VERSION}; update requirements/pcluster.txt.",
            file=sys.stderr,
        )
        return 1
    # Loading a config caches its capacity reservations for the (online) validators; the schema
    # itself does not need them, so answer offline with "none known".
    AWSApi.instance().ec2.describe_capacity_reservations = lambda ids: []
    failures = 0
    for name in CASES:
        options = CASES[name]
        config: dict[str, Any] = sample_configuration(name)
        errors: list[str] = []
        try:
            cluster = ClusterSchema(cluster_name=options.cluster_name).load(config)
        except Exception as error:  # marshmallow ValidationError or a config-model error
            errors.append(f"schema: {error}")
        else:
            errors.extend(_name_rule_failures(cluster, ClusterNameValidator, NameValidator))
        status = "ok" if not errors else "FAILED"
        print(f"{name}: {status}")
        for message in errors:
            print(f"  {message}")
        failures += bool(errors)
    elapsed = time.perf_counter() - started
    print(
        f"{len(CASES) - failures}/{len(CASES)} ParallelCluster {installed} configurations valid "
        f"({elapsed:.1f} s)"
    )
    return 1 if failures else 0


def _name_rule_failures(
    cluster: Any, cluster_name_validator: Any, name_validator: Any
) -> list[str]:
    """Run ParallelCluster's AWS-free name validators (cluster, queue, compute resource)."""
    results = cluster_name_validator().execute(
        name=cluster.cluster_name, scheduling=cluster.scheduling
    )
    for queue in cluster.scheduling.queues:
        results += name_validator().execute(name=queue.name)
        for resource in queue.compute_resources:
            results += name_validator().execute(name=resource.name)
    return [f"{r.level.name}: {r.message}" for r in results if r.level.name == "ERROR"]


if __name__ == "__main__":
    raise SystemExit(main())
