"""The SNS topic every alarm and budget of a stack notifies: encrypted, TLS-only, optional e-mails."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# Services that publish to the topic. The topic policy must allow them (it replaces SNS's default policy, which
# is what lets same-account alarms publish to a topic without one), and they must be able to use its KMS key:
# the AWS-managed alias/aws/sns key does not allow CloudWatch alarms to publish, so the topic gets its own key.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")
PENDING_WINDOW = Duration.days(7)  # KMS's minimum wait between scheduling a key's deletion and deleting it


class AlarmTopic(Construct):
    """An SNS topic encrypted with its own rotating KMS key, refusing non-TLS publishers.

    Children: ``Key`` (KMS; deleted with the stack after a 7-day pending window), ``Topic`` (SNS).
    ``emails`` (default: none) become e-mail subscriptions; each address must confirm the one AWS mails to it.
    """

    def __init__(self, scope: Construct, construct_id: str, *, display_name: str, emails: Sequence[str] = ()) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the alarm topic: {display_name}",
            enable_key_rotation=True,
            # The key only protects notifications in flight; once the stack (and topic) is gone nothing is left to
            # decrypt, so it goes too instead of costing $1/month per destroyed stack forever. KMS still waits
            # PENDING_WINDOW before deleting it, so a mistaken destroy can be undone.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=PENDING_WINDOW,
        )
        self.topic = sns.Topic(self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True)
        for service in PUBLISHING_SERVICES:
            sid = f"Allow{service.split('.')[0].capitalize()}ToPublish"
            principal = iam.ServicePrincipal(service)
            this_account = {"StringEquals": {"aws:SourceAccount": account}}
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[principal],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions=this_account,
                )
            )
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[principal],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions=this_account,
                )
            )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn
