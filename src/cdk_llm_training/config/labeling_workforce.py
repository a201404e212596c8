"""Options for :class:`cdk_llm_training.LabelingWorkforce` and
:class:`cdk_llm_training.LabelingWorkflow` (SageMaker Ground Truth)."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from cdk_llm_training.config.base import FrozenModel
from cdk_llm_training.config.types import LogRetentionDays, S3Prefix

_PREFIX_CHARS = re.compile(r"^[A-Za-z0-9!_.\-/]+$")


def _labeling_prefix(value: str, info: ValidationInfo) -> str:
    """Ground Truth reads these prefixes in S3 URIs: a folder of plain key characters."""
    if not _PREFIX_CHARS.match(value) or "//" in value:
        raise ValueError(
            f"{info.field_name} {value!r} is not a folder of the curated or artifacts zone; "
            "allowed: one or more names of letters, digits and !_.- separated by '/'"
        )
    return value


LabelingPrefix = Annotated[S3Prefix, AfterValidator(_labeling_prefix)]

_NAME = r"^[a-zA-Z0-9]([a-zA-Z0-9\-]){0,62}$"


class LabelingTaskType(StrEnum):
    """The task UIs shipped with the library, one HTML template each."""

    SFT_DEMONSTRATION = "sft"
    """Show a prompt (and context); the worker writes the ideal response."""
    PAIRWISE_PREFERENCE = "preference"
    """Show a prompt and two responses; the worker picks A, B or tie, with a rationale."""
    RESPONSE_RATING = "rating"
    """Show a prompt and a response; the worker scores it 1-5 against stated criteria."""


class WorkforceMode(StrEnum):
    """Where the private workforce comes from. AWS allows ONE private workforce per account
    and Region: ``cognito`` and ``oidc`` reuse the Region's workforce when there is one and
    create it only when there is none (the ``LabelingWorkforce`` output says which)."""

    IMPORT = "import"
    """Use the account's existing private workforce, by name (SageMaker names it ``default``
    when the console creates it). Nothing account-wide is created: safe for any number of
    stacks in one account."""
    COGNITO = "cognito"
    """A new hardened Cognito user pool; the workforce is created on it when the Region has
    none, otherwise the existing (Cognito) workforce and its pool are reused."""
    OIDC = "oidc"
    """Your OpenID Connect identity provider; the workforce is created with it when the
    Region has none, otherwise the existing (OIDC) workforce is reused."""


class MfaMode(StrEnum):
    """Multi-factor authentication of the Cognito user pool."""

    REQUIRED = "required"
    """Every worker enrols a TOTP authenticator app (default)."""
    OPTIONAL = "optional"
    """Workers may enrol one."""
    OFF = "off"
    """No MFA. Not recommended."""


class OidcOptions(FrozenModel):
    """Your OpenID Connect identity provider, for ``WorkforceMode.OIDC``. Endpoints are
    HTTPS URLs of your IdP; the client secret is read from AWS Secrets Manager at deploy
    time (a dynamic reference: it never appears in the template)."""

    issuer: str = Field(pattern=r"^https://")
    authorization_endpoint: str = Field(pattern=r"^https://")
    token_endpoint: str = Field(pattern=r"^https://")
    user_info_endpoint: str = Field(pattern=r"^https://")
    logout_endpoint: str = Field(pattern=r"^https://")
    jwks_uri: str = Field(pattern=r"^https://")
    client_id: str = Field(min_length=1, max_length=1024, pattern=r"^[\w+]+$")
    client_secret_name: str = Field(min_length=1, max_length=512)
    """Name or ARN of the Secrets Manager secret that holds the client secret (plain
    string)."""
    scope: str | None = None
    """Extra OIDC scopes, space separated. Default: none (the IdP's defaults)."""


class WorkforceOptions(FrozenModel):
    """The private workforce. Default: import the existing workforce named ``default``.

    AWS allows one private workforce per account and Region. ``mode: cognito`` and
    ``mode: oidc`` handle that at deploy time: they reuse the Region's workforce when there
    is one and create it when there is none.
    """

    mode: WorkforceMode = WorkforceMode.IMPORT
    """Import (default), or reuse-or-create with Cognito or OIDC."""

    name: str = Field(default="default", pattern=_NAME)
    """Workforce name: the one to import, or the one to create when the Region has none
    (a reused workforce keeps its own name). Default ``default``."""

    source_ip_cidrs: tuple[str, ...] = Field(default=(), max_length=10)
    """Only workers from these IPv4 CIDR ranges can open tasks (max 10). Default: no
    restriction. Applies only when this stack creates the workforce (a reused one keeps its
    own allow-list)."""

    mfa: MfaMode = MfaMode.REQUIRED
    """Cognito MFA (TOTP). Default required."""

    threat_protection: bool = True
    """Cognito threat protection (compromised credentials, adaptive authentication) in
    full-function (enforced) mode, on the Plus feature plan. Default on; it is billed per
    monthly active user."""

    password_minimum_length: int = Field(default=14, ge=8, le=99)
    """Cognito minimum password length (upper, lower, digit and symbol always required).
    Default 14."""

    oidc: OidcOptions | None = None
    """Your identity provider; required when ``mode`` is ``oidc``."""

    cognito_user_pool_id: str | None = Field(default=None, pattern=r"^[\w-]+_[0-9a-zA-Z]+$")
    """With ``mode: import``: the user pool behind the existing Cognito workforce, so teams
    can be built from Cognito groups. Default none (teams then need ``oidc_groups``)."""

    cognito_client_id: str | None = Field(default=None, pattern=r"^[\w+]+$")
    """With ``mode: import``: the app client of ``cognito_user_pool_id`` the workforce uses."""

    @field_validator("source_ip_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ValueError(
                    f"source_ip_cidrs entry {cidr!r} is not an IPv4 CIDR block "
                    "such as '203.0.113.0/24'"
                ) from None
        return value

    @model_validator(mode="after")
    def _oidc_needs_idp(self) -> WorkforceOptions:
        if self.mode is WorkforceMode.OIDC and self.oidc is None:
            raise ValueError("mode 'oidc' needs the 'oidc' settings of your identity provider")
        if self.mode is not WorkforceMode.OIDC and self.oidc is not None:
            raise ValueError(
                f"'oidc' settings are only used with mode 'oidc', not {self.mode.value!r}"
            )
        cognito_ids = (self.cognito_user_pool_id, self.cognito_client_id)
        if any(cognito_ids) and self.mode is not WorkforceMode.IMPORT:
            raise ValueError(
                "cognito_user_pool_id and cognito_client_id are only used with mode 'import', "
                f"not {self.mode.value!r}"
            )
        if any(cognito_ids) and not all(cognito_ids):
            raise ValueError("cognito_user_pool_id and cognito_client_id go together: set both")
        return self


class WorkteamOptions(FrozenModel):
    """One work team: a group of workers that receives labeling tasks."""

    name: str = Field(pattern=_NAME)
    """Team name, unique in the account and Region (1-63 letters, digits, hyphens)."""

    description: str = Field(default="LLM training data labelers.", min_length=1, max_length=200)
    """Shown in the SageMaker console."""

    oidc_groups: tuple[str, ...] = Field(default=(), max_length=10)
    """For an OIDC workforce: the IdP groups whose members form this team. Ignored with
    Cognito (a Cognito group named after the team is created instead)."""


class LabelingJobDefaults(FrozenModel):
    """Defaults of every labeling job the workflow starts; each run may override
    ``workers_per_object`` and the time limits in its input."""

    workers_per_object: int = Field(default=3, ge=1, le=9)
    """Workers who label each item. Default 3 (majority vote needs an odd number)."""

    task_time_limit_seconds: int = Field(default=3600, ge=30, le=28800)
    """Time a worker has for one task. Default 3600."""

    task_availability_lifetime_seconds: int = Field(default=864000, ge=60, le=864000)
    """Time a task stays available to the team. Default 864000 (10 days, the maximum for a
    private workforce)."""

    max_concurrent_tasks: int = Field(default=1000, ge=1, le=5000)
    """Items in flight at once. Default 1000."""

    converter_memory_mib: int = Field(default=1024, ge=128, le=10240)
    """Memory of the post-processing Lambda. Default 1024."""


class LabelingWorkflowOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.LabelingWorkflow`: job defaults, the
    data-lake prefixes and log retention. The tier configs' ``labeling`` section
    (:class:`LabelingOptions`) carries the same settings beside the workforce's;
    ``LabelingOptions.workflow_options()`` returns them as this model."""

    jobs: LabelingJobDefaults = LabelingJobDefaults()
    """Defaults for labeling jobs."""

    manifest_prefix: LabelingPrefix = Field(default="labeling/input/")
    """Curated-zone prefix the workflow reads manifests from. Default ``labeling/input/``."""

    output_prefix: LabelingPrefix = Field(default="labeling/output/")
    """Curated-zone prefix Ground Truth writes job output to. Default ``labeling/output/``."""

    dataset_prefix: LabelingPrefix = Field(default="labeling/datasets/")
    """Curated-zone prefix of the training-ready JSONL and reports. Default
    ``labeling/datasets/``."""

    template_prefix: LabelingPrefix = Field(default="labeling/templates/")
    """Artifacts-zone prefix of the task templates. Default ``labeling/templates/``."""

    log_retention_days: LogRetentionDays = 365
    """Retention of the workflow's and the Lambdas' log groups, one of the values CloudWatch
    allows (see :class:`LabelingOptions`). Default 365."""

    @model_validator(mode="after")
    def _prefixes_do_not_overlap(self) -> LabelingWorkflowOptions:
        _check_prefixes_do_not_overlap(self)
        return self


class LabelingOptions(FrozenModel):
    """Plain-data options of :class:`cdk_llm_training.LabelingWorkforce` (``workforce``,
    ``teams``, ``log_retention_days``) and, through :meth:`workflow_options`, of
    :class:`cdk_llm_training.LabelingWorkflow` (``jobs``, the prefixes,
    ``log_retention_days``): the ``labeling`` section of the tier configs."""

    workforce: WorkforceOptions = WorkforceOptions()
    """The private workforce. Default: import the account's ``default`` workforce."""

    teams: tuple[WorkteamOptions, ...] = Field(
        default=(WorkteamOptions(name="llm-labelers"),), min_length=1, max_length=25
    )
    """Work teams (1-25). Default one team, ``llm-labelers``. The first team is the one the
    workflow uses unless a run names another."""

    jobs: LabelingJobDefaults = LabelingJobDefaults()
    """Defaults for labeling jobs."""

    manifest_prefix: LabelingPrefix = Field(default="labeling/input/")
    """Curated-zone prefix the workflow reads manifests from. Default ``labeling/input/``."""

    output_prefix: LabelingPrefix = Field(default="labeling/output/")
    """Curated-zone prefix Ground Truth writes job output to. Default ``labeling/output/``."""

    dataset_prefix: LabelingPrefix = Field(default="labeling/datasets/")
    """Curated-zone prefix of the training-ready JSONL and reports. Default
    ``labeling/datasets/``."""

    template_prefix: LabelingPrefix = Field(default="labeling/templates/")
    """Artifacts-zone prefix of the task templates. Default ``labeling/templates/``."""

    log_retention_days: LogRetentionDays = 365
    """Retention of the workflow's and the Lambdas' log groups, one of the values CloudWatch
    allows (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
    2192, 2557, 2922, 3288, 3653). Default 365."""

    @field_validator("teams")
    @classmethod
    def _unique_team_names(cls, value: tuple[WorkteamOptions, ...]) -> tuple[WorkteamOptions, ...]:
        names = [team.name for team in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"team names must be unique; repeated: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _prefixes_do_not_overlap(self) -> LabelingOptions:
        _check_prefixes_do_not_overlap(self)
        return self

    def workflow_options(self) -> LabelingWorkflowOptions:
        """The settings of the labeling workflow (``jobs``, the four prefixes,
        ``log_retention_days``) as :class:`LabelingWorkflowOptions`."""
        names = set(LabelingWorkflowOptions.model_fields)
        return LabelingWorkflowOptions(**{name: getattr(self, name) for name in names})


def _check_prefixes_do_not_overlap(options: LabelingWorkflowOptions | LabelingOptions) -> None:
    curated = {
        "manifest_prefix": options.manifest_prefix,
        "output_prefix": options.output_prefix,
        "dataset_prefix": options.dataset_prefix,
    }
    for a, pa in curated.items():
        for b, pb in curated.items():
            if a < b and (pa.startswith(pb) or pb.startswith(pa)):
                raise ValueError(
                    f"{a} {pa!r} and {b} {pb!r} overlap; each curated-zone prefix "
                    "must be separate so IAM grants stay separate"
                )


def team_identity_problem(
    options: LabelingOptions, *, user_pool_given: bool = False, construct: bool = False
) -> str | None:
    """Why the teams cannot be built from the workforce's identity source, or None.

    Teams are built from Cognito groups when the workforce has a Cognito pool (created with
    ``mode: cognito``, or given for an imported workforce as ``cognito_user_pool_id`` and
    ``cognito_client_id`` or as the construct's ``user_pool``), otherwise from OIDC groups:
    then every team needs ``oidc_groups``.

    :param user_pool_given: whether the construct received ``user_pool``/``user_pool_client``.
    :param construct: word the message for the construct (which also takes ``user_pool``).
    """
    workforce = options.workforce
    has_pool = user_pool_given or workforce.cognito_user_pool_id is not None
    if workforce.mode is WorkforceMode.COGNITO or (
        workforce.mode is WorkforceMode.IMPORT and has_pool
    ):
        return None
    missing = [team.name for team in options.teams if not team.oidc_groups]
    if not missing:
        return None
    without = "user_pool/user_pool_client" if construct else "a Cognito user pool"
    source = (
        "an OIDC workforce"
        if workforce.mode is WorkforceMode.OIDC
        else f"imported workforce '{workforce.name}' without {without}"
    )
    pool = (
        "cognito_user_pool_id and cognito_client_id, or user_pool and user_pool_client"
        if construct
        else "workforce.cognito_user_pool_id and workforce.cognito_client_id"
    )
    return (
        f"teams {', '.join(missing)}: oidc_groups is empty; with {source} every team needs "
        f"oidc_groups (for a Cognito-backed workforce, give its pool: {pool})"
    )
