"""One stack per Bedrock "endpoint": invoke access, alarms, dashboard, budget and the client parameter."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from aws_cdk import CfnOutput, Environment, Stack, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_config import BedrockModelConfig
from llm_config.bedrock_model import Route
from llm_config.deployment import DeploymentSpec
from llm_config.lifecycle import check_lifecycle
from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.bedrock_model_access import BedrockModelAccess
from llm_constructs.bedrock_model_monitoring import BedrockModelMonitoring
from llm_constructs.cost_budget import cost_budget_where_supported
from llm_constructs.hosting_lock import add_hosting_lock
from stacks.sagemaker_endpoint_stack import CLIENT_PARAMETER_PREFIX, CLIENT_PARAMETER_SCHEMA_VERSION


def principal(identifier: str) -> iam.IPrincipal:
    """A 12-digit account id trusts that account's root; anything else is an IAM ARN."""
    return iam.AccountPrincipal(identifier) if identifier.isdigit() else iam.ArnPrincipal(identifier)


class BedrockAccessStack(Stack):
    """Least-privilege access to one Bedrock model, with its alarms, dashboard, budget and client parameter.

    ``route``: how clients in the stack's region call the model (``BedrockModelConfig.route``).
    ``trusted_principals``: account ids or IAM ARNs
    that may assume the client role (default: the deploying account). ``alarm_emails`` (default none) subscribe
    to the alarm topic; ``budget_usd`` (default: the config's ``budget.amount_usd``) sets the budget amount.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        model: BedrockModelConfig,
        route: Route,
        trusted_principals: Sequence[str] = (),
        alarm_emails: Sequence[str] = (),
        budget_usd: float | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        self.access = BedrockModelAccess(
            self,
            "ModelAccess",
            route=route,
            display_name=model.display_name,
            trusted_principals=[principal(p) for p in trusted_principals],
        )
        self.alarm_topic = AlarmTopic(
            self, "AlarmTopic", display_name=f"LLM endpoint {endpoint_name} (Bedrock) alarms", emails=alarm_emails
        )
        self.monitoring = BedrockModelMonitoring(
            self,
            "Monitoring",
            access=self.access,
            latency_budget_seconds=model.latency_budget_seconds,
            alarms=model.alarms,
            price_per_1k_usd=model.price_per_1k,
            topic=self.alarm_topic,
            dashboard_name=f"llm-{endpoint_name}-{self.region}",
        )
        self.budget = cost_budget_where_supported(
            self,
            "CostBudget",
            amount_usd=budget_usd or model.budget.amount_usd,
            time_unit=model.budget.time_unit,
            alert_thresholds_percent=model.budget.alert_thresholds_percent,
            topic=self.alarm_topic,
            cost_filters={"Service": model.budget.cost_filter_services},
        )
        self.route = route
        self.client_parameter = ssm.StringParameter(
            self,
            "ClientParameter",
            parameter_name=f"{CLIENT_PARAMETER_PREFIX}/{endpoint_name}",
            description=f"How client apps call the {endpoint_name} LLM endpoint (JSON)",
            string_value=self.to_json_string(self._client_metadata(endpoint_name, model)),
        )

        self.hosting_lock = add_hosting_lock(self, endpoint_name=endpoint_name, kind="bedrock")

        CfnOutput(self, "ModelId", value=self.access.invoke_id, description="modelId to pass to InvokeModel / Converse")
        CfnOutput(self, "InvokePolicyArn", value=self.access.policy.managed_policy_arn, description="Attach to your own roles")
        CfnOutput(self, "ClientRoleArn", value=self.access.client_role.role_arn, description="Role client workloads assume")
        CfnOutput(
            self,
            "ClientParameterName",
            value=self.client_parameter.parameter_name,
            description="SSM parameter with endpoint metadata",
        )
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="Subscribe to receive alarms")
        CfnOutput(self, "DashboardName", value=f"llm-{endpoint_name}-{self.region}")

    def _client_metadata(self, endpoint_name: str, model: BedrockModelConfig) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "schema_version": CLIENT_PARAMETER_SCHEMA_VERSION,
            "hosting": "bedrock",
            "endpoint_name": endpoint_name,
            "region": self.region,
            "model_key": model.key,
            "model_id": self.route.invoke_id,
            "foundation_model_id": model.model_id,
            "client_role_arn": self.access.client_role.role_arn,
            "context_length": model.context_length,
            "latency_budget_seconds": model.latency_budget_seconds,
        }
        if model.capabilities is not None:
            metadata["capabilities"] = model.capabilities.published()
        if self.route.profile_id:
            metadata["inference_profile_id"] = self.route.profile_id
            metadata["inference_profile_scope"] = self.route.scope
        return metadata


def build_bedrock_stack(
    app: Stage,
    spec: DeploymentSpec,
    model: BedrockModelConfig,
    trusted_principals: Sequence[str],
    source: str,
    today: date | None = None,
) -> Stack:
    """The stack for ``spec``. Raises ConfigError (before any construct exists) when the model is past end of life
    in the region on ``today`` (default: the clock's date) or no configured profile serves the region; prints a
    warning to stderr in the model's legacy window."""
    warning = check_lifecycle(
        model,
        region=spec.region,
        endpoint_name=spec.endpoint_name,
        today=today or date.today(),
        config_source=source,
        spec_source=spec.source,
    )
    route = model.route(spec.region, source)
    if warning:
        print(warning, file=sys.stderr)
    price_in, price_out = model.price_per_1k
    return BedrockAccessStack(
        app,
        spec.stack_name,
        stack_name=spec.stack_name,  # also inside a pipeline Stage (see app_factory.build_stack)
        endpoint_name=spec.endpoint_name,
        model=model,
        route=route,
        trusted_principals=trusted_principals,
        alarm_emails=spec.alarm_emails,
        budget_usd=spec.budget_usd,
        env=Environment(region=spec.region),
        description=(
            f"LLM endpoint {spec.endpoint_name}: {model.display_name} on Amazon Bedrock ({route.invoke_id}), "
            f"pay per token (${price_in}/${price_out} per 1K in/out), no idle cost"
        ),
        analytics_reporting=False,
    )
