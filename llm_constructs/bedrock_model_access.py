"""Least-privilege access to one Bedrock model: a managed policy, a client role, and the model's metrics."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from llm_config import BedrockModelConfig

# InvokeModel also authorizes Converse; InvokeModelWithResponseStream also authorizes ConverseStream.
INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
METRIC_NAMESPACE = "AWS/Bedrock"


def invoke_arns(
    model: BedrockModelConfig, *, partition: str, region: str, account: str, destination_regions: Sequence[str]
) -> list[str]:
    """What a caller in ``region``/``account`` invokes: the model in each destination region, plus the profile."""
    arns = [f"arn:{partition}:bedrock:{r}::foundation-model/{model.model_id}" for r in sorted(set(destination_regions))]
    if model.cross_region_inference:
        # System-defined profiles are called in the caller's own region and account.
        arns.insert(0, f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model.invoke_id}")
    return arns


class BedrockModelAccess(Construct):
    """Invoke access to one Bedrock model (directly, or through its cross-Region inference profile).

    Children (their IDs are part of the stack's contract): ``InvokePolicy`` (customer-managed policy
    allowing exactly ``INVOKE_ACTIONS`` on ``invoke_arns``) and ``ClientRole`` (the role client workloads
    assume; the policy is attached to it).

    ``destination_regions`` are the regions whose foundation-model ARN is granted: the stack's region
    for in-region calls, or the inference profile's destination regions (the caller resolves them,
    see ``BedrockModelConfig.foundation_model_regions``). ``trusted_principals`` (default: the
    deploying account's root, so any principal in the account whose own policy allows
    ``sts:AssumeRole`` on the role) may assume ``ClientRole``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: BedrockModelConfig,
        destination_regions: Sequence[str],
        trusted_principals: Sequence[iam.IPrincipal] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if not destination_regions:
            raise ValueError("BedrockModelAccess needs at least one destination region")
        stack = Stack.of(self)
        # The region's partition as a literal (aws, aws-cn, ...), so policy ARNs read plainly.
        partition = RegionInfo.get(stack.region).partition or "aws"
        self.model = model
        self.invoke_id = model.invoke_id
        self.invoke_arns = invoke_arns(
            model, partition=partition, region=stack.region, account=stack.account, destination_regions=destination_regions
        )
        self.policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"Invoke Bedrock model {self.invoke_id} (InvokeModel, Converse and their streaming forms)",
            statements=[iam.PolicyStatement(sid="InvokeModel", actions=INVOKE_ACTIONS, resources=self.invoke_arns)],
        )
        principals = list(trusted_principals) or [iam.AccountRootPrincipal()]
        self.client_role = iam.Role(
            self,
            "ClientRole",
            assumed_by=iam.CompositePrincipal(*principals),
            description=f"Assumed by client workloads to call Bedrock model {self.invoke_id}",
            managed_policies=[self.policy],
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call the model with exactly the actions and ARNs of ``InvokePolicy``."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=INVOKE_ACTIONS, resource_arns=self.invoke_arns)

    def metric(
        self, metric_name: str, *, statistic: str, period: Duration, unit: cloudwatch.Unit | None = None
    ) -> cloudwatch.Metric:
        """An AWS/Bedrock metric of this model, dimensioned by the ModelId clients call (the profile id
        when cross-Region inference is configured: Bedrock publishes it in the caller's region)."""
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"ModelId": self.invoke_id},
            statistic=statistic,
            period=period,
            unit=unit,
        )
