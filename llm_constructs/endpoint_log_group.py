"""The endpoint's CloudWatch log group, owned by its stack instead of created by SageMaker at run time.

SageMaker writes the containers' logs to `/aws/sagemaker/Endpoints/NAME` and creates that group on first use,
with no retention (kept forever) and outside any stack (it outlives `destroy`). Created here first, the group gets
a retention period, encryption with the stack's KMS key, and goes with the stack.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

ENDPOINT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH  # docs/operations.md#logs
ENDPOINT_LOG_PREFIX = "/aws/sagemaker/Endpoints"


def add_log_encryption_grant(key: kms.IKey, log_group_arn: str, region: str) -> None:
    """Let CloudWatch Logs use ``key`` for exactly one log group (the encryption context names it)."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
        )
    )


class EndpointLogGroup(Construct):
    """``/aws/sagemaker/Endpoints/<endpoint_name>``, kept ``retention`` (default one month), encrypted with ``key``,
    deleted with the stack (RemovalPolicy.DESTROY: the logs of a destroyed endpoint go with it). The endpoint must
    depend on it, or SageMaker may create the group first and the stack's create fails."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        key: kms.IKey,
        retention: logs.RetentionDays = ENDPOINT_LOG_RETENTION,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        name = f"{ENDPOINT_LOG_PREFIX}/{endpoint_name}"
        arn = stack.format_arn(service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME)
        add_log_encryption_grant(key, arn, stack.region)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=name,
            retention=retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
