"""Architecture pictures drawn from synthesized templates (cdk.out), never by hand.

Reads a stack's template and the cloud assembly, keeps the resources a reader cares about
(storage, network, clusters, workflows; not IAM policies or bucket policies), groups them by the
top-level construct that owns them, and draws references and data access as edges with
Graphviz. Needs the ``graphviz`` Python package and Graphviz's ``dot`` (the ``docs`` extra and
Debian's graphviz package; ``make docs`` installs both).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONSTRUCT_METADATA_TYPE = "cdk-llm-training:construct"
"""Metadata type our constructs record with their class name (constructs/_metadata.py holds
the same value; this module must not import aws-cdk-lib)."""

# type -> (label, fill colour). Resources of other types are left out of the picture.
NODE_STYLES: Mapping[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("S3 bucket", "#e6f2e6"),
    "AWS::KMS::Key": ("KMS key", "#f7f0d9"),
    "AWS::FSx::FileSystem": ("FSx for Lustre", "#dcebf7"),
    "AWS::EC2::VPC": ("VPC", "#efe6f7"),
    "AWS::EC2::Subnet": ("Subnet", "#efe6f7"),
    "AWS::EC2::NatGateway": ("NAT gateway", "#efe6f7"),
    "AWS::EC2::SecurityGroup": ("Security group", "#efe6f7"),
    "AWS::EC2::VPCEndpoint": ("VPC endpoint", "#efe6f7"),
    "AWS::EKS::Cluster": ("EKS cluster", "#fde7d9"),
    "AWS::SageMaker::Cluster": ("HyperPod cluster", "#fde7d9"),
    "Custom::PclusterCluster": ("ParallelCluster", "#fde7d9"),
    "AWS::CloudFormation::Stack": ("Nested stack", "#f0f0f0"),
    "AWS::StepFunctions::StateMachine": ("Step Functions", "#fbe3ef"),
    "AWS::Lambda::Function": ("Lambda", "#fbe3ef"),
    "AWS::SNS::Topic": ("SNS topic", "#fbe3ef"),
    "AWS::Events::Rule": ("EventBridge rule", "#fbe3ef"),
    "AWS::Cognito::UserPool": ("Cognito user pool", "#e3f4f4"),
    "AWS::SageMaker::Workforce": ("Labeling workforce", "#e3f4f4"),
    "AWS::SageMaker::Workteam": ("Work team", "#e3f4f4"),
    "AWS::SageMaker::ModelPackageGroup": ("Model registry", "#fde7d9"),
    "AWS::Bedrock::Guardrail": ("Bedrock guardrail", "#fde7d9"),
    "AWS::CloudWatch::Dashboard": ("Dashboard", "#f0f0f0"),
    "AWS::Budgets::Budget": ("Budget", "#f0f0f0"),
}
_ADDON = "AWS::EKS::Addon"
_CDK_INTERNAL_PREFIXES = ("Custom::", "AWS679f53fac002430cb0da5b7982bd2287", "LogRetention")
_NO_OUT_EDGES = frozenset({"AWS::CloudWatch::Dashboard"})
_DRA = "AWS::FSx::DataRepositoryAssociation"
_ROLE = "AWS::IAM::Role"
_POLICIES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class Node:
    """A resource drawn in the picture."""

    logical_id: str
    type_name: str
    group: str
    name: str


@dataclass
class ArchitectureModel:
    """What the picture shows: nodes grouped by construct, edges with labels."""

    stack: str
    nodes: dict[str, Node] = field(default_factory=dict)
    group_labels: dict[str, str] = field(default_factory=dict)
    edges: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """(source, target) -> (label, style)."""
    addons: dict[str, list[str]] = field(default_factory=dict)


def _references(value: Any) -> Iterator[str]:
    """Logical IDs referenced anywhere inside ``value`` (Ref, Fn::GetAtt, Fn::Sub)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                yield str(target)
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for part in str(text).split("${")[1:]:
                    yield part.split("}", 1)[0].split(".", 1)[0]
                yield from _references(inner)
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _path(resource: Mapping[str, Any]) -> list[str]:
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    return [p for p in path.split("/") if p][1:]


def _construct_labels(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Top-level construct id -> class name recorded by our constructs, from the stack's
    assembly metadata (``<stack>.metadata.json`` or the manifest's ``metadata``)."""
    labels: dict[str, str] = {}
    for path, entries in metadata.items():
        parts = [p for p in path.split("/") if p]
        for entry in entries:
            if entry.get("type") == CONSTRUCT_METADATA_TYPE and len(parts) == 2:
                labels[parts[1]] = str(entry.get("data"))
    return labels


def build_model(
    template: Mapping[str, Any], stack: str, construct_labels: Mapping[str, str] | None = None
) -> ArchitectureModel:
    """Turn a template into nodes, groups and edges."""
    resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})
    model = ArchitectureModel(stack=stack)
    for logical_id, resource in resources.items():
        type_name = resource.get("Type", "")
        if type_name not in NODE_STYLES:
            continue
        path = _path(resource)
        group = path[0] if path else "Stack"
        if group.startswith(_CDK_INTERNAL_PREFIXES):
            continue  # CDK's own singleton handlers (custom-resource providers)
        name_parts = [p for p in path[1:] if p not in {"Resource", "Default"}]
        name = "/".join(name_parts[-2:]) or group
        model.nodes[logical_id] = Node(logical_id, type_name, group, name)
    for group in {node.group for node in model.nodes.values()}:
        cls = (construct_labels or {}).get(group)
        model.group_labels[group] = f"{group} ({cls})" if cls and cls != group else group

    def add_edge(source: str, target: str, label: str = "", style: str = "solid") -> None:
        if source not in model.nodes or model.nodes[source].type_name in _NO_OUT_EDGES:
            return  # a dashboard "references" everything it shows: edges would be noise
        if source != target and target in model.nodes:
            model.edges.setdefault((source, target), (label, style))

    # Direct references between drawn resources.
    for logical_id in model.nodes:
        for target in set(_references(resources[logical_id].get("Properties", {}))):
            add_edge(logical_id, target)
    # FSx data repository associations: the S3 <-> Lustre data flow.
    for resource in resources.values():
        if resource.get("Type") == _DRA:
            props = resource.get("Properties", {})
            file_systems = list(_references(props.get("FileSystemId")))
            buckets = [r for r in _references(props.get("DataRepositoryPath")) if r in model.nodes]
            for bucket in buckets:
                for fs in file_systems:
                    add_edge(bucket, fs, str(props.get("FileSystemPath", "")), "bold")
        if resource.get("Type") == _ADDON:
            props = resource.get("Properties", {})
            for cluster in _references(props.get("ClusterName")):
                model.addons.setdefault(cluster, []).append(str(props.get("AddonName")))
    # Data access through IAM: who uses a role -> what its policies reach.
    role_users: dict[str, set[str]] = {}
    for logical_id in model.nodes:
        for ref in _references(resources[logical_id].get("Properties", {})):
            if resources.get(ref, {}).get("Type") == _ROLE:
                role_users.setdefault(ref, set()).add(logical_id)
    for resource in resources.values():
        if resource.get("Type") not in _POLICIES:
            continue
        props = resource.get("Properties", {})
        roles = [r for r in _references(props.get("Roles")) if r in role_users]
        targets = {
            t
            for t in _references(props.get("PolicyDocument"))
            if t in model.nodes and model.nodes[t].type_name != "AWS::KMS::Key"
        }
        for role in roles:
            for user in role_users[role]:
                for target in targets:
                    add_edge(user, target, "", "dashed")
    return model


def load_model(cdk_out: str | Path, stack: str) -> ArchitectureModel:
    """Build the model of ``stack`` from a cloud assembly directory."""
    out = Path(cdk_out)
    template_file = out / f"{stack}.template.json"
    if not template_file.exists():
        known = sorted(p.name.removesuffix(".template.json") for p in out.glob("*.template.json"))
        raise FileNotFoundError(
            f"no template for stack {stack!r} in {out}; run `make synth` first. "
            f"Stacks there: {', '.join(known) or 'none'}."
        )
    template = json.loads(template_file.read_text(encoding="utf-8"))
    metadata: dict[str, Any] = {}
    manifest_file = out / "manifest.json"
    if manifest_file.exists():
        artifact = json.loads(manifest_file.read_text()).get("artifacts", {}).get(stack, {})
        metadata.update(artifact.get("metadata", {}))
        extra = artifact.get("additionalMetadataFile")
        if extra and (out / extra).exists():
            metadata.update(json.loads((out / extra).read_text()))
    return build_model(template, stack, _construct_labels(metadata))


def to_dot(model: ArchitectureModel) -> Any:
    """The model as a ``graphviz.Digraph``."""
    import graphviz

    graph = graphviz.Digraph(model.stack, graph_attr={
        "rankdir": "LR", "fontname": "Helvetica", "fontsize": "16", "label": model.stack,
        "labelloc": "t", "nodesep": "0.3", "ranksep": "0.7", "compound": "true",
    })  # fmt: skip
    graph.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="11")
    graph.attr("edge", color="#555555", fontname="Helvetica", fontsize="9")
    groups: dict[str, list[Node]] = {}
    for node in model.nodes.values():
        groups.setdefault(node.group, []).append(node)
    for group, nodes in sorted(groups.items()):
        with graph.subgraph(name=f"cluster_{group}") as sub:
            sub.attr(label=model.group_labels.get(group, group), style="rounded", color="#999999")
            for node in sorted(nodes, key=lambda n: (n.type_name, n.name)):
                label, colour = NODE_STYLES[node.type_name]
                text = f"{label}\n{node.name}"
                if node.logical_id in model.addons:
                    text += "\nadd-ons: " + ", ".join(sorted(model.addons[node.logical_id]))
                sub.node(node.logical_id, text, fillcolor=colour)
    for (source, target), (label, style) in sorted(model.edges.items()):
        if model.nodes[target].type_name == "AWS::KMS::Key":
            graph.edge(source, target, style="dotted", color="#b8a040", arrowhead="none")
        else:
            graph.edge(source, target, label=label, style=style)
    return graph


def render(
    cdk_out: str | Path, stack: str, out_dir: str | Path, formats: tuple[str, ...] = ("svg", "png")
) -> list[Path]:
    """Draw ``stack`` from ``cdk_out`` into ``out_dir/<stack>.<format>``; returns the files."""
    graph = to_dot(load_model(cdk_out, stack))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        graph.format = fmt
        written.append(Path(graph.render(filename=stack, directory=out, cleanup=True)))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m cdk_llm_training.tools.diagram [STACK ...] --cdk-out cdk.out --out DIR``."""
    import argparse

    parser = argparse.ArgumentParser(prog="cdk-llm-training diagram", description=__doc__)
    parser.add_argument("stacks", nargs="*", help="stack names (default: every stack)")
    parser.add_argument("--cdk-out", default="cdk.out", help="cloud assembly (default cdk.out)")
    parser.add_argument(
        "--out", default="cdk.out/diagrams", help="output directory (default %(default)s)"
    )
    args = parser.parse_args(argv)
    stacks = args.stacks or sorted(
        p.name.removesuffix(".template.json")
        for p in Path(args.cdk_out).glob("*.template.json")
        if ".nested." not in p.name
    )
    try:
        for stack in stacks:
            for path in render(args.cdk_out, stack, args.out):
                print(path)
    except FileNotFoundError as error:
        print(f"error: {error}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
