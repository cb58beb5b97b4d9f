"""Least-privilege access to one Bedrock model: a managed policy, a client role, and the model's metrics."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_config.bedrock_model import Route
from llm_config.deployment import partition_of_region

# InvokeModel also authorizes Converse; InvokeModelWithResponseStream also authorizes ConverseStream.
INVOKE_ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
METRIC_NAMESPACE = "AWS/Bedrock"
PROFILE_CONDITION_KEY = "bedrock:InferenceProfileArn"


def profile_arn(route: Route, *, partition: str, account: str) -> str:
    """A system-defined inference profile is called in the caller's own region and account."""
    assert route.profile_id is not None
    return f"arn:{partition}:bedrock:{route.region}:{account}:inference-profile/{route.profile_id}"


def foundation_model_arns(route: Route, *, partition: str) -> list[str]:
    """The model in each destination region, plus the region-less ARN a global profile is authorized against."""
    arns = [f"arn:{partition}:bedrock:{r}::foundation-model/{route.model_id}" for r in route.destination_regions]
    if route.regionless_arn:
        arns.append(f"arn:{partition}:bedrock:::foundation-model/{route.model_id}")
    return arns


def invoke_statements(
    route: Route, *, partition: str, account: str, actions: Sequence[str] = INVOKE_ACTIONS, sids: bool = True
) -> list[iam.PolicyStatement]:
    """Exactly what calling the model along ``route`` needs.

    In-region: ``actions`` on the foundation model in the region. Through a profile: ``actions`` on the profile,
    and on the destination (and, for global, region-less) foundation models only when the request came through
    that profile (``bedrock:InferenceProfileArn``), so the bare model id stays refused. ``sids`` False leaves the
    statement ids out, for a policy that holds the statements of several models.
    """

    def sid(name: str) -> str | None:
        return name if sids else None

    if route.profile_id is None:
        return [
            iam.PolicyStatement(
                sid=sid("InvokeModel"), actions=list(actions), resources=foundation_model_arns(route, partition=partition)
            )
        ]
    profile = profile_arn(route, partition=partition, account=account)
    return [
        iam.PolicyStatement(sid=sid("InvokeInferenceProfile"), actions=list(actions), resources=[profile]),
        iam.PolicyStatement(
            sid=sid("InvokeModelThroughProfile"),
            actions=list(actions),
            resources=foundation_model_arns(route, partition=partition),
            conditions={"StringEquals": {PROFILE_CONDITION_KEY: profile}},
        ),
    ]


class BedrockModelAccess(Construct):
    """Invoke access to one Bedrock model along ``route`` (in-region, or through an inference profile).

    Children (their IDs are part of the stack's contract): ``InvokePolicy`` (customer-managed policy with
    ``invoke_statements``) and ``ClientRole`` (the role client workloads assume; the policy is attached to it).
    ``route`` comes from ``BedrockModelConfig.route`` for the stack's region. ``trusted_principals`` (default: the
    deploying account's root, so any principal in the account whose own policy allows ``sts:AssumeRole`` on the
    role) may assume ``ClientRole``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: Route,
        display_name: str,
        trusted_principals: Sequence[iam.IPrincipal] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if route.region != stack.region:
            raise ValueError(f"route is for {route.region}, the stack deploys to {stack.region}")
        # The region's partition as a literal (aws, aws-cn, aws-us-gov), so policy ARNs read plainly.
        partition = partition_of_region(stack.region)
        self.route = route
        self.invoke_id = route.invoke_id
        self.statements = invoke_statements(route, partition=partition, account=stack.account)
        self.policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"Invoke Bedrock model {self.invoke_id} (InvokeModel, Converse and their streaming forms)",
            statements=self.statements,
        )
        principals = list(trusted_principals) or [iam.AccountRootPrincipal()]
        self.client_role = iam.Role(
            self,
            "ClientRole",
            assumed_by=iam.CompositePrincipal(*principals),
            description=f"Assumed by client workloads to call {display_name} ({self.invoke_id}) on Bedrock",
            managed_policies=[self.policy],
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` call the model with exactly the statements of ``InvokePolicy``."""
        for statement in self.statements:
            grantee.grant_principal.add_to_principal_policy(statement.copy())

    def metric(
        self, metric_name: str, *, statistic: str, period: Duration, unit: cloudwatch.Unit | None = None
    ) -> cloudwatch.Metric:
        """An AWS/Bedrock metric of this model, dimensioned by the ModelId clients call: the profile id when the
        model is called through an inference profile (Bedrock publishes it in the caller's region)."""
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"ModelId": self.invoke_id},
            statistic=statistic,
            period=period,
            unit=unit,
        )
