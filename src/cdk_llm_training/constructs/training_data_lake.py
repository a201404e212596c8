"""TrainingDataLake: the S3 zones every training workflow reads from and writes to."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_llm_training.config.training_data_lake import DataLakeOptions, DataZone
from cdk_llm_training.constructs._compliance import (
    acknowledge_control,
    acknowledge_single_region_bucket,
)
from cdk_llm_training.constructs._metadata import record_construct_type
from cdk_llm_training.constructs.acknowledgements import acknowledge

_ZONE_IDS: Mapping[DataZone, str] = {
    DataZone.RAW: "Raw",
    DataZone.CURATED: "Curated",
    DataZone.ARTIFACTS: "Artifacts",
}


class TrainingDataLake(Construct):
    """S3 training data lake: raw, curated and artifacts zones plus an access-log bucket.

    Defaults: one customer-managed KMS key with yearly rotation encrypts every zone (S3 bucket
    keys on, so KMS request costs stay low); versioning; TLS 1.2+ only; public access blocked;
    ACLs disabled; server access logs to a dedicated SSE-S3 bucket (S3 cannot deliver access
    logs to a KMS-encrypted bucket); lifecycle rules from :class:`DataLakeOptions`; S3 events to
    EventBridge; every bucket and the key are retained when the stack is deleted.

    Bring your own: pass ``key`` to encrypt new zone buckets with an existing key, or
    ``zone_buckets`` to use buckets you already own for some or all zones (they are used
    as they are: this construct changes neither their policy nor their encryption).

    Example::

        lake = TrainingDataLake(self, "Lake")
        lake.grant_read(training_role, zone=DataZone.CURATED, key_prefix="finetune/")
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: DataLakeOptions | None = None,
        key: kms.IKey | None = None,
        zone_buckets: Mapping[DataZone, s3.IBucket] | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ) -> None:
        """Create the data lake.

        :param options: plain-data settings (lifecycle, tiering, events). Default:
            ``DataLakeOptions()``.
        :param key: KMS key for the zone buckets this construct creates. Default: a new
            customer-managed key with rotation, retained on delete.
        :param zone_buckets: buckets to use instead of creating zones, by zone. Default:
            none, every zone is created.
        :param access_logs_bucket: bucket that receives server access logs. Default: a new
            SSE-S3 bucket (created only when at least one zone bucket is created).
        :param removal_policy: what happens to created buckets and the key when removed from
            the stack. Default: ``RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE``.
        """
        super().__init__(scope, id)
        record_construct_type(self, "TrainingDataLake")
        self.options = options or DataLakeOptions()
        existing = dict(zone_buckets or {})
        zones_to_create = [zone for zone in DataZone if zone not in existing]

        self.key: kms.IKey = key or kms.Key(
            self,
            "Key",
            description="Encrypts the LLM training data lake (raw, curated, artifacts zones).",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )

        self.access_logs_bucket: s3.IBucket | None = access_logs_bucket
        if self.access_logs_bucket is None and zones_to_create:
            self.access_logs_bucket = self._create_access_logs_bucket(removal_policy)

        self._buckets: dict[DataZone, s3.IBucket] = {}
        for zone in DataZone:
            if zone in existing:
                self._buckets[zone] = existing[zone]
            else:
                self._buckets[zone] = self._create_zone_bucket(zone, removal_policy)

    # -- accessors -----------------------------------------------------------------------

    @property
    def raw_bucket(self) -> s3.IBucket:
        """The raw zone: data as it arrives."""
        return self._buckets[DataZone.RAW]

    @property
    def curated_bucket(self) -> s3.IBucket:
        """The curated zone: training-ready datasets."""
        return self._buckets[DataZone.CURATED]

    @property
    def artifacts_bucket(self) -> s3.IBucket:
        """The artifacts zone: models, adapters, checkpoints and reports."""
        return self._buckets[DataZone.ARTIFACTS]

    def bucket(self, zone: DataZone) -> s3.IBucket:
        """The bucket that holds ``zone``."""
        return self._buckets[DataZone(zone)]

    # -- grants --------------------------------------------------------------------------

    def grant_read(
        self, grantee: iam.IGrantable, *, zone: DataZone, key_prefix: str = ""
    ) -> iam.Grant:
        """Let ``grantee`` list and read objects under ``key_prefix`` in ``zone`` (and decrypt
        them with the lake key). Default prefix: the whole zone."""
        return self.bucket(zone).grant_read(grantee, _objects_pattern(key_prefix))

    def grant_write(
        self, grantee: iam.IGrantable, *, zone: DataZone, key_prefix: str = ""
    ) -> iam.Grant:
        """Let ``grantee`` write (put, abort multipart) objects under ``key_prefix``."""
        return self.bucket(zone).grant_put(grantee, _objects_pattern(key_prefix))

    def grant_read_write(
        self, grantee: iam.IGrantable, *, zone: DataZone, key_prefix: str = ""
    ) -> iam.Grant:
        """Let ``grantee`` read, write and delete objects under ``key_prefix``."""
        return self.bucket(zone).grant_read_write(grantee, _objects_pattern(key_prefix))

    # -- construction helpers ------------------------------------------------------------

    def _create_access_logs_bucket(self, removal_policy: RemovalPolicy) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            # Versioned so a log object cannot be silently overwritten or deleted (audit
            # records); noncurrent versions expire with the logs themselves.
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(self.options.access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(
                        self.options.access_log_retention_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(
                        self.options.abort_incomplete_multipart_upload_days
                    ),
                )
            ],
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "This is the access-log destination bucket; logging it into itself would loop, "
            "and S3 delivers server access logs only to SSE-S3 buckets.",
        )
        acknowledge_control(
            bucket,
            "S3DefaultEncryptionKMS",
            "Server access logs are encrypted with SSE-S3: they hold request metadata, no "
            "training data, and a KMS key here would have to trust the S3 logging service.",
        )
        acknowledge_single_region_bucket(bucket, "S3 server access logs of the lake")
        return bucket

    def _create_zone_bucket(self, zone: DataZone, removal_policy: RemovalPolicy) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            _ZONE_IDS[zone],
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=self._lifecycle_rules(zone),
            removal_policy=removal_policy,
        )
        acknowledge_single_region_bucket(bucket, f"the {zone.value} zone of the training data")
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        if self.access_logs_bucket is not None:
            self._log_to_access_logs_bucket(bucket, cfn_bucket, zone)
        if self.options.event_bridge_enabled:
            # Set on the L1 rather than with eventBridgeEnabled=True: the L2 property deploys
            # a notifications custom resource (a Lambda) for what CloudFormation does natively.
            cfn_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        return bucket

    def _log_to_access_logs_bucket(
        self, bucket: s3.Bucket, cfn_bucket: s3.CfnBucket, zone: DataZone
    ) -> None:
        """Server access logging through a bucket policy for the S3 logging service.

        Done here rather than with ``server_access_logs_bucket=``: without the
        ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` feature flag that prop switches the
        log bucket to ACLs, which fails with ACLs disabled; the construct must work in any app.
        An imported log bucket's policy cannot be changed here: grant the logging service
        ``s3:PutObject`` on it yourself.
        """
        assert self.access_logs_bucket is not None
        prefix = f"{zone.value}/"
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=self.access_logs_bucket.bucket_name, log_file_prefix=prefix
        )
        self.access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"S3ServerAccessLogs{zone.value.capitalize()}",
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )

    def _lifecycle_rules(self, zone: DataZone) -> list[s3.LifecycleRule]:
        opts = self.options
        rules = [
            s3.LifecycleRule(
                id="AbortIncompleteUploadsAndExpireOldVersions",
                abort_incomplete_multipart_upload_after=Duration.days(
                    opts.abort_incomplete_multipart_upload_days
                ),
                noncurrent_version_expiration=Duration.days(
                    opts.noncurrent_version_expiration_days
                ),
            )
        ]
        if zone is DataZone.RAW and opts.raw_intelligent_tiering_after_days is not None:
            rules.append(
                s3.LifecycleRule(
                    id="RawToIntelligentTiering",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=Duration.days(opts.raw_intelligent_tiering_after_days),
                        )
                    ],
                )
            )
        if zone is DataZone.ARTIFACTS and opts.checkpoint_expiration_days is not None:
            rules.append(
                s3.LifecycleRule(
                    id="ExpireCheckpoints",
                    prefix="checkpoints/",
                    expiration=Duration.days(opts.checkpoint_expiration_days),
                )
            )
        return rules


def _objects_pattern(key_prefix: str) -> str:
    """``finetune/`` -> ``finetune/*``; ``""`` -> ``*``. Rejects wildcards inside the prefix."""
    if "*" in key_prefix or "?" in key_prefix:
        raise ValueError(
            f"key_prefix {key_prefix!r} must be a literal S3 key prefix; "
            "wildcards ('*', '?') are not allowed."
        )
    if key_prefix.startswith("/"):
        raise ValueError(
            f"key_prefix {key_prefix!r} must not start with '/'; S3 keys have no leading slash."
        )
    return f"{key_prefix}*"
