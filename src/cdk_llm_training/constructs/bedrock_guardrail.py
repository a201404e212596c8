"""BedrockGuardrail: an Amazon Bedrock guardrail and a published version of it."""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Names, RemovalPolicy
from aws_cdk import aws_bedrock as bedrock
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_llm_training.config.bedrock_guardrail import GuardrailOptions
from cdk_llm_training.constructs._metadata import record_construct_type


class BedrockGuardrail(Construct):
    """``AWS::Bedrock::Guardrail`` + ``AWS::Bedrock::GuardrailVersion`` with safe defaults.

    Defaults (``GuardrailOptions()``): content filters SEXUAL, VIOLENCE, HATE, INSULTS and
    MISCONDUCT at HIGH on input and output, PROMPT_ATTACK at HIGH on input (output NONE, the
    only value Bedrock accepts); PII: e-mail, phone, name and address anonymized, US social
    security numbers, card numbers, AWS access/secret keys and passwords blocked; no denied
    topics or word filters unless configured; generic blocked messages. The version's
    description carries a hash of the configuration, so a configuration change publishes a
    new version.

    Attach it to model calls with ``guardrailIdentifier=guardrail_id`` and
    ``guardrailVersion=version`` (InvokeModel / Converse), and give callers
    :meth:`grant_apply`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: GuardrailOptions | None = None,
        key: kms.IKey | None = None,
        removal_policy: RemovalPolicy | None = None,
    ) -> None:
        """Create the guardrail and a version.

        :param options: plain-data settings. Default: ``GuardrailOptions()``.
        :param key: customer-managed KMS key for the guardrail. Default: an AWS-owned key.
        :param removal_policy: of the guardrail and its version. Default None:
            CloudFormation's default (deleted with the stack; the guardrail holds
            configuration only, no data).
        """
        super().__init__(scope, id)
        record_construct_type(self, "BedrockGuardrail")
        self.options = opts = options or GuardrailOptions()
        self.key = key
        name = opts.name or Names.unique_resource_name(self, max_length=50, separator="-")
        content = None
        if opts.content_filters:
            content = bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                filters_config=[
                    bedrock.CfnGuardrail.ContentFilterConfigProperty(
                        type=f.type.value,
                        input_strength=f.input_strength.value,
                        output_strength=f.output_strength.value,
                    )
                    for f in opts.content_filters
                ]
            )
        pii = None
        if opts.pii_entities:
            pii = bedrock.CfnGuardrail.SensitiveInformationPolicyConfigProperty(
                pii_entities_config=[
                    bedrock.CfnGuardrail.PiiEntityConfigProperty(type=p.type, action=p.action.value)
                    for p in opts.pii_entities
                ]
            )
        topics = None
        if opts.denied_topics:
            topics = bedrock.CfnGuardrail.TopicPolicyConfigProperty(
                topics_config=[
                    bedrock.CfnGuardrail.TopicConfigProperty(
                        name=t.name,
                        definition=t.definition,
                        type="DENY",
                        examples=list(t.examples) or None,
                    )
                    for t in opts.denied_topics
                ]
            )
        words = None
        if opts.blocked_words or opts.profanity_filter:
            words = bedrock.CfnGuardrail.WordPolicyConfigProperty(
                words_config=[
                    bedrock.CfnGuardrail.WordConfigProperty(text=w) for w in opts.blocked_words
                ]
                or None,
                managed_word_lists_config=[
                    bedrock.CfnGuardrail.ManagedWordsConfigProperty(type="PROFANITY")
                ]
                if opts.profanity_filter
                else None,
            )
        self.resource = bedrock.CfnGuardrail(
            self,
            "Resource",
            name=name,
            description=opts.description,
            blocked_input_messaging=opts.blocked_input_messaging,
            blocked_outputs_messaging=opts.blocked_outputs_messaging,
            content_policy_config=content,
            sensitive_information_policy_config=pii,
            topic_policy_config=topics,
            word_policy_config=words,
            kms_key_arn=key.key_arn if key is not None else None,
        )
        digest = hashlib.sha256(
            json.dumps(opts.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()[:12]
        self.version_resource = bedrock.CfnGuardrailVersion(
            self,
            "Version",
            guardrail_identifier=self.resource.attr_guardrail_id,
            description=f"Published by cdk-llm-training (configuration {digest}).",
        )
        self.config_digest = digest
        if removal_policy is not None:
            self.resource.apply_removal_policy(removal_policy)
            self.version_resource.apply_removal_policy(removal_policy)

    @property
    def guardrail_arn(self) -> str:
        return self.resource.attr_guardrail_arn

    @property
    def guardrail_id(self) -> str:
        return self.resource.attr_guardrail_id

    @property
    def version(self) -> str:
        """The published version number (``GuardrailVersion``'s ``Version``)."""
        return self.version_resource.attr_version

    def grant_apply(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` apply the guardrail (``bedrock:ApplyGuardrail``: the permission both
        the ApplyGuardrail API and guarded InvokeModel / Converse calls need), and decrypt
        with its key when it has one."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["bedrock:ApplyGuardrail"],
            resource_arns=[self.guardrail_arn],
        )
        if self.key is None:
            return grant
        return grant.combine(self.key.grant_decrypt(grantee))
