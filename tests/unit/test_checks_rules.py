"""Every LlmTrainingChecks rule: one compliant and one non-compliant fixture each, written as
raw CloudFormation (L1) resources, so the rules are proven on templates not made by us."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk_llm_training.checks import ALL_RULES, RULES_BY_ID, check_template


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def _findings(rule_id: str, template: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.logical_id, f.message) for f in check_template(template, [RULES_BY_ID[rule_id]])]


# -- FSx ------------------------------------------------------------------------------------

_SUBNET = {"Ref": "Subnet"}


def _lustre(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "FileSystemType": "LUSTRE",
        "FileSystemTypeVersion": "2.15",
        "StorageCapacity": 1200,
        "SubnetIds": [_SUBNET],
        "KmsKeyId": {"Ref": "Key"},
        "LustreConfiguration": {
            "DeploymentType": "PERSISTENT_2",
            "PerUnitStorageThroughput": 250,
            "MetadataConfiguration": {"Mode": "AUTOMATIC"},
        },
    }
    for key, value in overrides.items():
        lustre_keys = {"ImportPath", "AutoImportPolicy", "EfaEnabled"}
        if key in props["LustreConfiguration"] or key in lustre_keys:
            props["LustreConfiguration"][key] = value
        else:
            props[key] = value
    return {"Type": "AWS::FSx::FileSystem", "Properties": props}


def _dra(path: str) -> dict[str, Any]:
    return {
        "Type": "AWS::FSx::DataRepositoryAssociation",
        "Properties": {
            "FileSystemId": {"Ref": "Fs"},
            "FileSystemPath": path,
            "DataRepositoryPath": f"s3://bucket{path}",
        },
    }


def test_fsx1_kms_key() -> None:
    assert _findings("LLM-FSX1", _template(Fs=_lustre())) == []
    bad = _lustre()
    del bad["Properties"]["KmsKeyId"]
    assert _findings("LLM-FSX1", _template(Fs=bad)) == [
        (
            "Fs",
            "PERSISTENT_2 file system has no KmsKeyId; data at rest is then encrypted with an "
            "AWS-managed key you cannot audit or revoke.",
        )
    ]


def test_fsx1_does_not_apply_to_scratch() -> None:
    scratch = _lustre(DeploymentType="SCRATCH_2")
    del scratch["Properties"]["KmsKeyId"]
    assert _findings("LLM-FSX1", _template(Fs=scratch)) == []


def test_fsx2_generation_and_version() -> None:
    assert _findings("LLM-FSX2", _template(Fs=_lustre())) == []
    assert _findings("LLM-FSX2", _template(Fs=_lustre(FileSystemTypeVersion="2.10"))) == [
        (
            "Fs",
            "DeploymentType PERSISTENT_2 with Lustre 2.10; use PERSISTENT_2 (or SCRATCH_2 for "
            "throw-away data) on Lustre 2.15.",
        )
    ]
    assert len(_findings("LLM-FSX2", _template(Fs=_lustre(DeploymentType="PERSISTENT_1")))) == 1


def test_fsx3_metadata_configuration() -> None:
    assert _findings("LLM-FSX3", _template(Fs=_lustre())) == []
    bad = _lustre()
    del bad["Properties"]["LustreConfiguration"]["MetadataConfiguration"]
    assert [f[0] for f in _findings("LLM-FSX3", _template(Fs=bad))] == ["Fs"]


def test_fsx4_capacity_and_tier() -> None:
    assert _findings("LLM-FSX4", _template(Fs=_lustre())) == []
    assert _findings("LLM-FSX4", _template(Fs=_lustre(PerUnitStorageThroughput=123))) == [
        (
            "Fs",
            "throughput_mb_per_s_per_tib 123 is not a PERSISTENT_2 tier; allowed: 125, 250, "
            "500, 1000.",
        )
    ]
    assert _findings("LLM-FSX4", _template(Fs=_lustre(StorageCapacity=3000))) == [
        (
            "Fs",
            "storage_capacity_gib 3000 is not valid for PERSISTENT_2; allowed: 1200, 2400 or a "
            "multiple of 2400 GiB.",
        )
    ]


def test_fsx4_efa_increments_and_prerequisites() -> None:
    efa_ok = _lustre(EfaEnabled=True, PerUnitStorageThroughput=1000, StorageCapacity=4800)
    assert _findings("LLM-FSX4", _template(Fs=efa_ok)) == []
    efa_small = _lustre(EfaEnabled=True, PerUnitStorageThroughput=250, StorageCapacity=9600)
    assert _findings("LLM-FSX4", _template(Fs=efa_small)) == [
        (
            "Fs",
            "storage_capacity_gib 9600 is not valid for PERSISTENT_2; allowed: multiples of "
            "19200 GiB (EFA-enabled at 250 MB/s/TiB).",
        )
    ]
    scratch_efa = _lustre(EfaEnabled=True, DeploymentType="SCRATCH_2")
    del scratch_efa["Properties"]["LustreConfiguration"]["PerUnitStorageThroughput"]
    assert _findings("LLM-FSX4", _template(Fs=scratch_efa)) == [
        (
            "Fs",
            "EfaEnabled with DeploymentType SCRATCH_2; EFA needs PERSISTENT_2 with a metadata "
            "configuration.",
        )
    ]


def test_fsx5_at_most_eight_associations() -> None:
    eight = {f"Dra{i}": _dra(f"/p{i}") for i in range(8)}
    assert _findings("LLM-FSX5", _template(Fs=_lustre(), **eight)) == []
    nine = {**eight, "Dra8": _dra("/p8")}
    assert _findings("LLM-FSX5", _template(Fs=_lustre(), **nine)) == [
        ("Fs", "9 data repository associations; a file system takes at most 8.")
    ]


def test_fsx6_no_import_path_with_associations() -> None:
    assert _findings("LLM-FSX6", _template(Fs=_lustre(), Dra=_dra("/data"))) == []
    assert _findings("LLM-FSX6", _template(Fs=_lustre(ImportPath="s3://b"))) == []
    assert _findings("LLM-FSX6", _template(Fs=_lustre(ImportPath="s3://b"), Dra=_dra("/data"))) == [
        (
            "Fs",
            "ImportPath set together with data repository associations; FSx rejects the "
            "combination.",
        )
    ]


# -- EFA ------------------------------------------------------------------------------------


def _sg(description: str = "EFA traffic between training nodes", **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {"GroupDescription": description, "VpcId": "vpc-1", **props},
    }


def _sg_rule(direction: str, peer_key: str) -> dict[str, Any]:
    return {
        "Type": f"AWS::EC2::SecurityGroup{direction}",
        "Properties": {
            "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]},
            "IpProtocol": "-1",
            peer_key: {"Fn::GetAtt": ["Sg", "GroupId"]},
        },
    }


def test_efa1_self_referencing_ingress_and_egress() -> None:
    good = _template(
        Sg=_sg(),
        In=_sg_rule("Ingress", "SourceSecurityGroupId"),
        Out=_sg_rule("Egress", "DestinationSecurityGroupId"),
    )
    assert _findings("LLM-EFA1", good) == []
    missing_egress = _template(Sg=_sg(), In=_sg_rule("Ingress", "SourceSecurityGroupId"))
    assert _findings("LLM-EFA1", missing_egress) == [
        (
            "Sg",
            "EFA security group lacks an all-traffic rule referencing itself for egress; EFA "
            "traffic is dropped without both.",
        )
    ]


def test_efa1_inline_rules_and_open_egress_do_not_count() -> None:
    sg = _sg(
        SecurityGroupIngress=[
            {"IpProtocol": "-1", "SourceSecurityGroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}}
        ],
        SecurityGroupEgress=[{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}],
    )
    assert [f[0] for f in _findings("LLM-EFA1", _template(Sg=sg))] == ["Sg"]


def test_efa1_finds_groups_attached_to_hyperpod_even_without_efa_in_the_name() -> None:
    cluster = {
        "Type": "AWS::SageMaker::Cluster",
        "Properties": {"VpcConfig": {"SecurityGroupIds": [{"Ref": "Sg"}], "Subnets": ["s"]}},
    }
    template = _template(Sg=_sg(description="nodes"), Cluster=cluster)
    assert "ingress and egress" in _findings("LLM-EFA1", template)[0][1]
    assert _findings("LLM-EFA1", _template(Sg=_sg(description="web servers"))) == []


# -- HyperPod -------------------------------------------------------------------------------


def _group(**overrides: Any) -> dict[str, Any]:
    group: dict[str, Any] = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 2,
        "ExecutionRole": {"Fn::GetAtt": ["Role", "Arn"]},
        "ThreadsPerCore": 1,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle-123/hp/", "OnCreate": "x"},
        "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
    }
    group.update(overrides)
    return group


def _cluster(*groups: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SageMaker::Cluster",
        "Properties": {
            "NodeRecovery": "Automatic",
            "InstanceGroups": list(groups) or [_group()],
            "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": [{"Ref": "Subnet"}]},
            **props,
        },
    }


def test_hp1_lifecycle_bucket() -> None:
    assert _findings("LLM-HP1", _template(Cluster=_cluster())) == []
    bad = _cluster(_group(LifeCycleConfig={"SourceS3Uri": "s3://scripts/hp/", "OnCreate": "x"}))
    assert _findings("LLM-HP1", _template(Cluster=bad)) == [
        (
            "Cluster",
            "instance group 'workers' reads lifecycle scripts from bucket 'scripts', which "
            "neither starts with 'sagemaker-' nor is granted to its execution role.",
        )
    ]


def test_hp1_explicit_grant_to_the_execution_role_is_compliant() -> None:
    uri = {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/hp/"]]}
    cluster = _cluster(_group(LifeCycleConfig={"SourceS3Uri": uri, "OnCreate": "x"}))
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {}}
    policy = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject*"],
                        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
                    }
                ]
            },
        },
    }
    assert _findings("LLM-HP1", _template(Cluster=cluster, Bucket=bucket)) != []
    assert _findings("LLM-HP1", _template(Cluster=cluster, Bucket=bucket, Policy=policy)) == []


def test_hp2_node_recovery() -> None:
    assert _findings("LLM-HP2", _template(Cluster=_cluster())) == []
    assert _findings("LLM-HP2", _template(Cluster=_cluster(NodeRecovery="None"))) == [
        ("Cluster", "NodeRecovery is 'None'; faulty nodes are then not replaced automatically.")
    ]


def test_hp3_deep_health_checks_on_accelerator_groups_only() -> None:
    system = _group(InstanceGroupName="system", InstanceType="ml.m5.xlarge")
    del system["OnStartDeepHealthChecks"]
    assert _findings("LLM-HP3", _template(Cluster=_cluster(_group(), system))) == []
    bad = _group(OnStartDeepHealthChecks=["InstanceStress"])
    assert _findings("LLM-HP3", _template(Cluster=_cluster(bad))) == [
        (
            "Cluster",
            "accelerator group 'workers' (ml.p5.48xlarge) has no deep health checks "
            "['InstanceConnectivity'].",
        )
    ]


def test_hp4_private_subnets() -> None:
    private = {"Type": "AWS::EC2::Subnet", "Properties": {"MapPublicIpOnLaunch": False}}
    assert _findings("LLM-HP4", _template(Cluster=_cluster(), Subnet=private)) == []
    public = {"Type": "AWS::EC2::Subnet", "Properties": {}}
    routes = {
        "Igw": {"Type": "AWS::EC2::InternetGateway", "Properties": {}},
        "Rt": {"Type": "AWS::EC2::RouteTable", "Properties": {}},
        "Assoc": {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"SubnetId": {"Ref": "Subnet"}, "RouteTableId": {"Ref": "Rt"}},
        },
        "Default": {
            "Type": "AWS::EC2::Route",
            "Properties": {"RouteTableId": {"Ref": "Rt"}, "GatewayId": {"Ref": "Igw"}},
        },
    }
    template = _template(Cluster=_cluster(), Subnet=public, **routes)
    assert _findings("LLM-HP4", template) == [
        (
            "Cluster",
            "subnet Subnet is public (public IPs or a route to an internet gateway); HyperPod "
            "nodes must be in private subnets.",
        )
    ]


def test_hp5_ml_instance_types() -> None:
    assert _findings("LLM-HP5", _template(Cluster=_cluster())) == []
    bad = _cluster(_group(InstanceType="p5.48xlarge"))
    assert _findings("LLM-HP5", _template(Cluster=bad)) == [
        (
            "Cluster",
            "instance group 'workers' uses 'p5.48xlarge'; HyperPod takes SageMaker names "
            "('ml.p5.48xlarge').",
        )
    ]


# -- ParallelCluster -------------------------------------------------------------------------

_PCLUSTER_CONFIG: dict[str, Any] = {
    "Image": {"Os": "alinux2023"},
    "Imds": {"ImdsSupport": "v2.0"},
    "HeadNode": {"InstanceType": "c5.4xlarge", "Imds": {"Secured": True}},
    "Scheduling": {
        "Scheduler": "slurm",
        "SlurmQueues": [
            {
                "Name": "trn",
                "ComputeResources": [
                    {"Name": "trn1", "InstanceType": "trn1.32xlarge", "Efa": {"Enabled": True}}
                ],
                "Networking": {"SubnetIds": ["subnet-1"], "PlacementGroup": {"Enabled": True}},
            }
        ],
    },
}


def _pcluster(mutate: Any = None) -> dict[str, Any]:
    config = copy.deepcopy(_PCLUSTER_CONFIG)
    if mutate:
        mutate(config)
    return {
        "Type": "Custom::PclusterCluster",
        "Properties": {"ServiceToken": "t", "ClusterName": "c", "ClusterConfiguration": config},
    }


def test_pc1_imdsv2() -> None:
    assert _findings("LLM-PC1", _template(Pc=_pcluster())) == []

    def v1(config: dict[str, Any]) -> None:
        config["Imds"]["ImdsSupport"] = "v1.0"
        config["HeadNode"]["Imds"]["Secured"] = False

    assert [m for _, m in _findings("LLM-PC1", _template(Pc=_pcluster(v1)))] == [
        "Imds.ImdsSupport is 'v1.0'; require IMDSv2 ('v2.0') on every node.",
        "HeadNode.Imds.Secured is false; any process on the head node can then read the "
        "node's instance-profile credentials.",
    ]


def test_pc2_efa_queue_subnets_and_placement() -> None:
    assert _findings("LLM-PC2", _template(Pc=_pcluster())) == []

    def spread(config: dict[str, Any]) -> None:
        queue = config["Scheduling"]["SlurmQueues"][0]
        queue["Networking"] = {"SubnetIds": ["subnet-1", "subnet-2"]}

    assert [m for _, m in _findings("LLM-PC2", _template(Pc=_pcluster(spread)))] == [
        "EFA queue 'trn' spans 2 subnets; EFA traffic cannot cross AZs, so an EFA queue needs "
        "exactly one subnet.",
        "EFA queue 'trn' has no placement group; without one, nodes may land far apart in the "
        "AZ and collectives slow down.",
    ]

    def capacity_block(config: dict[str, Any]) -> None:
        config["Scheduling"]["SlurmQueues"][0]["CapacityType"] = "CAPACITY_BLOCK"

    assert [m for _, m in _findings("LLM-PC2", _template(Pc=_pcluster(capacity_block)))] == [
        "queue 'trn' uses a Capacity Block with a placement group; Capacity Blocks are already "
        "co-located and reject placement groups."
    ]


def test_pc3_supported_os() -> None:
    assert _findings("LLM-PC3", _template(Pc=_pcluster())) == []

    def centos(config: dict[str, Any]) -> None:
        config["Image"]["Os"] = "centos7"

    assert _findings("LLM-PC3", _template(Pc=_pcluster(centos)))[0][1].startswith(
        "Image.Os 'centos7' is not supported by ParallelCluster 3; use one of alinux2, "
    )


# -- Bedrock and Ground Truth --------------------------------------------------------------


def _bedrock_role(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Statement": [statement]}},
    }


def test_br1_confused_deputy_conditions() -> None:
    good = _bedrock_role(
        {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*:1:model-customization-job/*"},
        }
    )
    assert _findings("LLM-BR1", _template(Role=good)) == []
    partial = _bedrock_role({"StringEquals": {"aws:SourceAccount": "1"}})
    assert _findings("LLM-BR1", _template(Role=partial)) == [
        ("Role", "role trusts bedrock.amazonaws.com without aws:SourceArn conditions "
                 "(confused deputy).")
    ]  # fmt: skip
    assert (
        "aws:SourceAccount and aws:SourceArn"
        in _findings("LLM-BR1", _template(Role=_bedrock_role(None)))[0][1]
    )


def test_gt1_workforce_source_ips_is_a_warning() -> None:
    restricted = {
        "Type": "AWS::SageMaker::Workforce",
        "Properties": {"SourceIpConfig": {"Cidrs": ["10.0.0.0/8"]}},
    }
    assert _findings("LLM-GT1", _template(Wf=restricted)) == []
    open_workforce = {"Type": "AWS::SageMaker::Workforce", "Properties": {}}
    (finding,) = check_template(_template(Wf=open_workforce), [RULES_BY_ID["LLM-GT1"]])
    assert finding.severity == "warning"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.rule_id)
def test_every_rule_is_documented(rule: Any) -> None:
    assert rule.rule_id.startswith("LLM-")
    assert rule.description.endswith(".")
    assert rule.why
    assert rule.fix


def test_rules_reference_page_is_current() -> None:
    import importlib.util

    from cdk_support import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "render_rules_doc", REPO_ROOT / "scripts" / "render_rules_doc.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO_ROOT / "docs" / "reference" / "rules.md").read_text(encoding="utf-8")
    assert committed == module.render(), "run: python scripts/render_rules_doc.py"
