"""FSx for Lustre rules."""

from __future__ import annotations

from collections import Counter

from cdk_llm_training.checks.model import Rule, Severity, TemplateView, referenced_id
from cdk_llm_training.config.sizing.fsx import (
    LustreDeploymentType,
    capacity_error,
    throughput_error,
)

_FILE_SYSTEM = "AWS::FSx::FileSystem"


def _lustre(view: TemplateView) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    result = []
    for logical_id, props in view.of_type(_FILE_SYSTEM):
        if props.get("FileSystemType") == "LUSTRE":
            result.append((logical_id, dict(props), dict(props.get("LustreConfiguration", {}))))
    return result


def _check_kms(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            logical_id,
            f"{lustre.get('DeploymentType', 'SCRATCH_1')} file system has no KmsKeyId; data at "
            "rest is then encrypted with an AWS-managed key you cannot audit or revoke.",
            "Properties/KmsKeyId",
        )
        for logical_id, props, lustre in _lustre(view)
        if str(lustre.get("DeploymentType", "")).startswith("PERSISTENT")
        and not props.get("KmsKeyId")
    ]


def _check_generation(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props, lustre in _lustre(view):
        deployment = lustre.get("DeploymentType", "SCRATCH_1")
        version = props.get("FileSystemTypeVersion", "2.10")
        if deployment not in {"PERSISTENT_2", "SCRATCH_2"} or version != "2.15":
            findings.append(
                (
                    logical_id,
                    f"DeploymentType {deployment} with Lustre {version}; use PERSISTENT_2 (or "
                    "SCRATCH_2 for throw-away data) on Lustre 2.15.",
                    "Properties/LustreConfiguration/DeploymentType",
                )
            )
    return findings


def _check_metadata(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            logical_id,
            "PERSISTENT_2 file system without MetadataConfiguration; metadata IOPS can only be "
            "provisioned later (and EFA enabled at all) if it is set at creation.",
            "Properties/LustreConfiguration/MetadataConfiguration",
        )
        for logical_id, _, lustre in _lustre(view)
        if lustre.get("DeploymentType") == "PERSISTENT_2" and "MetadataConfiguration" not in lustre
    ]


def _check_size_and_tier(view: TemplateView) -> list[tuple[str, str, str]]:
    findings = []
    for logical_id, props, lustre in _lustre(view):
        try:
            deployment = LustreDeploymentType(str(lustre.get("DeploymentType")))
        except ValueError:
            continue  # older generations are LLM-FSX2's concern
        efa = lustre.get("EfaEnabled") is True
        tier = lustre.get("PerUnitStorageThroughput")
        capacity = props.get("StorageCapacity")
        if efa and deployment is not LustreDeploymentType.PERSISTENT_2:
            findings.append(
                (
                    logical_id,
                    f"EfaEnabled with DeploymentType {deployment.value}; EFA needs PERSISTENT_2 "
                    "with a metadata configuration.",
                    "Properties/LustreConfiguration/EfaEnabled",
                )
            )
            continue
        if tier is not None and not isinstance(tier, int):
            continue  # unresolved at synth time
        error = throughput_error(deployment, tier)
        if error is None and isinstance(capacity, int):
            error = capacity_error(capacity, deployment, tier, efa_enabled=efa)
        if error:
            findings.append((logical_id, error + ".", "Properties/StorageCapacity"))
    return findings


def _associations_per_file_system(view: TemplateView) -> Counter[str]:
    return Counter(
        fs
        for _, props in view.of_type("AWS::FSx::DataRepositoryAssociation")
        if (fs := referenced_id(props.get("FileSystemId"))) is not None
    )


def _check_dra_count(view: TemplateView) -> list[tuple[str, str, str]]:
    return [
        (
            fs,
            f"{count} data repository associations; a file system takes at most 8.",
            "Properties",
        )
        for fs, count in sorted(_associations_per_file_system(view).items())
        if count > 8
    ]


def _check_import_path_with_dra(view: TemplateView) -> list[tuple[str, str, str]]:
    counts = _associations_per_file_system(view)
    findings = []
    for logical_id, _, lustre in _lustre(view):
        legacy = sorted(k for k in ("ImportPath", "ExportPath", "AutoImportPolicy") if k in lustre)
        if counts.get(logical_id) and legacy:
            findings.append(
                (
                    logical_id,
                    f"{', '.join(legacy)} set together with data repository associations; "
                    "FSx rejects the combination.",
                    f"Properties/LustreConfiguration/{legacy[0]}",
                )
            )
    return findings


FSX_RULES = [
    Rule(
        "LLM-FSX1",
        "Persistent FSx for Lustre file systems are encrypted with a customer-managed KMS key.",
        Severity.ERROR,
        "Training data and checkpoints are the crown jewels; a customer-managed key gives you "
        "key policy control, rotation and an audit trail.",
        "Set KmsKeyId (TrainingFileSystem uses the data lake key or its own).",
        _check_kms,
    ),
    Rule(
        "LLM-FSX2",
        "FSx for Lustre uses PERSISTENT_2 (or SCRATCH_2) on Lustre 2.15.",
        Severity.ERROR,
        "Older generations lack EFA, metadata configuration and data repository associations; "
        "PERSISTENT_2 with Lustre 2.10 fails to create.",
        "Set DeploymentType PERSISTENT_2 and FileSystemTypeVersion 2.15.",
        _check_generation,
    ),
    Rule(
        "LLM-FSX3",
        "PERSISTENT_2 file systems set a metadata configuration at creation.",
        Severity.ERROR,
        "Metadata IOPS can only be changed later, and EFA enabled, on file systems created "
        "with a MetadataConfiguration; many-small-file datasets are metadata bound.",
        "Set LustreConfiguration.MetadataConfiguration (Mode AUTOMATIC is a safe default).",
        _check_metadata,
    ),
    Rule(
        "LLM-FSX4",
        "Capacity and throughput tier are valid for the deployment type (EFA increments too).",
        Severity.ERROR,
        "FSx rejects an invalid capacity or tier only at deploy time, after the network and the "
        "cluster around it were created; EFA file systems grow in larger steps per tier.",
        "Use a PERSISTENT_2 tier of 125/250/500/1000 MB/s per TiB with 1200, 2400 or a multiple "
        "of 2400 GiB; with EFA, a multiple of 38400/19200/9600/4800 GiB for those tiers.",
        _check_size_and_tier,
    ),
    Rule(
        "LLM-FSX5",
        "A file system has at most 8 data repository associations.",
        Severity.ERROR,
        "FSx rejects a ninth association at deploy time, after the file system exists.",
        "Merge prefixes so that at most 8 associations remain.",
        _check_dra_count,
    ),
    Rule(
        "LLM-FSX6",
        "Data repository associations are not mixed with ImportPath/ExportPath.",
        Severity.ERROR,
        "A file system linked with ImportPath cannot also have associations; deploy fails.",
        "Remove ImportPath, ExportPath and AutoImportPolicy and use associations only.",
        _check_import_path_with_dra,
    ),
]
