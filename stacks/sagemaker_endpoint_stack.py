"""One stack per endpoint: the endpoint, its scaling, alarms, dashboard and budget, and what client apps use to find it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_config import SageMakerModelConfig
from llm_config.catalogue import HOURS_PER_MONTH
from llm_config.guardrails import Guardrails, RollbackAlarm
from llm_config.operations import EXPECTED_COLD_START_SECONDS, BudgetSettings
from llm_constructs import EndpointVariant, SageMakerLlmEndpoint
from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.component_metrics import ComponentMetrics
from llm_constructs.component_scaling import ComponentScaling
from llm_constructs.cost_budget import cost_budget_where_supported
from llm_constructs.endpoint_alarms import InstanceAlarms, VariantAlarms
from llm_constructs.endpoint_dashboard import EndpointDashboard
from llm_constructs.endpoint_log_group import EndpointLogGroup
from llm_constructs.endpoint_metrics import VariantMetrics
from llm_constructs.endpoint_scaling import VariantScaling
from llm_constructs.hosting_lock import add_hosting_lock
from llm_constructs.sagemaker_llm_endpoint import COMPONENT_VARIANT, ScaleToZero

CLIENT_PARAMETER_PREFIX = "/llm-endpoints"
# The parameter's JSON layout, read by llm_client (llm_client/src/llm_client/parameter.py documents every field).
# Raise it with any change a client must know about; tests/test_client_parameter.py keeps both sides equal.
CLIENT_PARAMETER_SCHEMA_VERSION = 2
# Tag on the endpoint's resources; activate it as a cost allocation tag for `budget.scope: endpoint`.
COST_TAG = "llm-endpoint"
BUDGET_SERVICE_NAME = "Amazon SageMaker"  # AWS Budgets' name for the service
# Which VariantAlarms attribute each rollback alarm of a deployment file's `guardrails.rollback_alarms` is.
ROLLBACK_ALARM_ATTRIBUTES: dict[RollbackAlarm, str] = {
    "latency-p90": "latency",
    "5xx-errors": "server_errors",
    "4xx-rate": "client_error_rate",
}


def client_tool_calling(model: SageMakerModelConfig, chat_api: str) -> str:
    """How llm_client sends tools to the variant (the parameter's ``tool_calling``): ``native`` where the container
    parses tool calls itself (TGI's Messages API, for any model; vLLM (LMI) started with a tool-call parser for the
    model's format), ``constrained`` on vLLM without one (a JSON schema through structured outputs, which vLLM
    enforces on every model), ``none`` without the Messages API."""
    if chat_api != "messages":
        return "none"
    environment = model.container.environment
    if model.container.family == "tgi":
        return "native"
    native = environment.get("OPTION_ENABLE_AUTO_TOOL_CHOICE") == "true" and "OPTION_TOOL_CALL_PARSER" in environment
    return "native" if native else "constrained"


def monthly_hosting_usd(variants: Sequence[EndpointVariant], *, components: bool = False) -> tuple[float, float]:
    """Always-on cost of the variants' initial instances, SageMaker on-demand prices: on each variant's cheapest
    instance pool and on its dearest (equal without fallbacks; which pool serves is AWS's choice, by capacity). For
    inference ``components`` (scale to zero): one copy of each that takes traffic, on an instance of its own at most
    (a drained one has none)."""

    def hourly(variant: EndpointVariant, pick: Callable[[Iterable[float]], float]) -> float:
        return pick(instance.sagemaker_hourly_usd for _, instance in variant.pools)

    def total(pick: Callable[[Iterable[float]], float]) -> float:
        if components:
            return sum(hourly(v, pick) for v in variants if v.autoscaled) * HOURS_PER_MONTH
        return sum(hourly(v, pick) * v.model.instance.initial_count for v in variants) * HOURS_PER_MONTH

    return total(min), total(max)


def usd_range(low: float, high: float, template: str = "{:,.0f}") -> str:
    """One figure, or "low-high" when a fallback pool costs something else."""
    return template.format(low) if round(low) == round(high) else f"{template.format(low)}-{template.format(high)}"


class SageMakerEndpointStack(Stack):
    """A SageMaker LLM endpoint with per-variant scaling and alarms, a dashboard, a budget and client discovery.

    Scaling and alarm settings come from each variant's model config; construct IDs derive from the variant
    name (``Scaling<variant>``, ``Alarms<variant>``), so adding a variant never replaces another's resources.
    ``alarm_emails`` subscribe to the one alarm topic, which the budget also notifies. Variants with
    ``autoscaled=False`` (drained) get alarms but no scaling. ``guardrails`` (default none) makes this deploy's
    endpoint update a blue/green deployment rolled back by the chosen alarms of every variant.

    ``scale_to_zero`` (default none) serves each variant's model as an inference component on an endpoint that
    scales to zero instances: ``ComponentScaling<variant>`` instead of ``Scaling<variant>`` (none for a drained
    component), alarms and dashboard on the components' metrics, the instances' alarms in ``AlarmsAllTraffic``, no
    Idle alarm (idle costs nothing), and the client parameter names each component with its share of traffic, which
    clients apply (SageMaker does not split traffic between components).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variants: Sequence[EndpointVariant],
        budget: BudgetSettings,
        alarm_emails: Sequence[str] = (),
        guardrails: Guardrails | None = None,
        scale_to_zero: ScaleToZero | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        self.scale_to_zero = scale_to_zero
        self.llm_endpoint = SageMakerLlmEndpoint(
            self, "LlmEndpoint", endpoint_name=endpoint_name, variants=variants, scale_to_zero=scale_to_zero
        )
        Tags.of(self.llm_endpoint).add(COST_TAG, endpoint_name)
        monthly_usd = monthly_hosting_usd(variants, components=scale_to_zero is not None)
        pooled = any(variant.fallbacks for variant in variants)

        self.alarm_topic = AlarmTopic(
            self, "AlarmTopic", display_name=f"LLM endpoint {endpoint_name} alarms", emails=alarm_emails
        )
        self.endpoint_logs = EndpointLogGroup(self, "EndpointLogs", endpoint_name=endpoint_name, key=self.alarm_topic.key)
        self.llm_endpoint.endpoint.node.add_dependency(self.endpoint_logs.log_group)
        self.scaling: dict[str, VariantScaling] = {}
        self.alarms: dict[str, VariantAlarms] = {}
        self.component_scaling: dict[str, ComponentScaling] = {}
        for variant in variants:
            if scale_to_zero is not None:
                if variant.autoscaled:
                    self.component_scaling[variant.name] = ComponentScaling(
                        self,
                        f"ComponentScaling{variant.name}",
                        component=self.llm_endpoint.components[variant.name],
                        metrics=self._component_metrics(variant.name),
                        settings=variant.model.scaling,
                        max_copies=scale_to_zero.components[variant.name].max_copies,
                    )
            elif variant.autoscaled:
                self.scaling[variant.name] = VariantScaling(
                    self,
                    f"Scaling{variant.name}",
                    endpoint=self.llm_endpoint,
                    variant_name=variant.name,
                    settings=variant.model.scaling,
                )
            self.alarms[variant.name] = VariantAlarms(
                self,
                f"Alarms{variant.name}",
                metrics=self._metrics(variant.name),
                settings=variant.model.alarms,
                latency_threshold_seconds=variant.model.latency_alarm_seconds,
                topic=self.alarm_topic,
                watch_idle=scale_to_zero is None,
                watch_instances=scale_to_zero is None,  # a component's instances are its variant's: below
            )
        self.instance_alarms: InstanceAlarms | None = None
        if scale_to_zero is not None:
            # One variant's instances under every component: alarms of their own, whose IDs no migration phase moves.
            self.instance_alarms = InstanceAlarms(
                self,
                f"Alarms{COMPONENT_VARIANT}",
                metrics=self._component_metrics(variants[0].name).instances,
                settings=variants[0].model.alarms,
                topic=self.alarm_topic,
            )
        if guardrails is not None:
            self.llm_endpoint.add_deployment_guardrails(
                guardrails,
                [
                    getattr(self.alarms[variant.name], ROLLBACK_ALARM_ATTRIBUTES[name])
                    for variant in variants
                    for name in guardrails.rollback_alarms
                ],
            )
        # Dashboards and budgets are named account-wide, across regions.
        account_wide_name = f"llm-{endpoint_name}-{self.region}"
        self.dashboard = EndpointDashboard(
            self,
            "Dashboard",
            dashboard_name=account_wide_name,
            variants=[self._metrics(v.name) for v in variants],
            latency_threshold_seconds={self._metrics(v.name).series: v.model.latency_alarm_seconds for v in variants},
            alarms=[
                alarm
                for alarms in [*self.alarms.values(), *([self.instance_alarms] if self.instance_alarms else [])]
                for alarm in alarms.alarms
            ],
            extra_row=self._component_widgets(),
        )
        self.budget = cost_budget_where_supported(
            self,
            "Budget",
            budget_name=account_wide_name,
            amount_usd=budget.amount_usd,
            time_unit=budget.time_unit,
            alert_thresholds_percent=budget.alert_thresholds_percent,
            topic=self.alarm_topic,
            cost_filters={
                "sagemaker": {"Service": [BUDGET_SERVICE_NAME]},
                "endpoint": {"TagKeyValue": [f"user:{COST_TAG}${endpoint_name}"]},
                "account": None,
            }[budget.scope],
        )

        self.client_parameter = ssm.StringParameter(
            self,
            "ClientParameter",
            parameter_name=f"{CLIENT_PARAMETER_PREFIX}/{endpoint_name}",
            description=f"How client apps call the {endpoint_name} LLM endpoint (JSON)",
            string_value=json.dumps(self._client_metadata(endpoint_name, variants), sort_keys=True),
        )

        self.hosting_lock = add_hosting_lock(self, endpoint_name=endpoint_name, kind="sagemaker")

        CfnOutput(self, "EndpointName", value=endpoint_name, description="SageMaker endpoint to invoke")
        CfnOutput(self, "EndpointArn", value=self.llm_endpoint.endpoint_arn)
        CfnOutput(
            self,
            "ClientParameterName",
            value=self.client_parameter.parameter_name,
            description="SSM parameter with endpoint metadata",
        )
        CfnOutput(self, "ModelKeys", value=",".join(v.model.key for v in variants))
        CfnOutput(
            self,
            "EstimatedMonthlyHostingUsd",
            value=usd_range(*monthly_usd, "{:.0f}"),
            description=(
                "Cost if never idle: an instance per inference component that takes traffic,"
                if scale_to_zero is not None
                else "Always-on cost of the initial instances"
            )
            + " at us-east-1 SageMaker on-demand prices"
            + (", from the cheapest instance pool to the dearest (AWS picks by capacity)" if pooled else ""),
        )
        CfnOutput(
            self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="SNS topic of every alarm and budget alert"
        )
        CfnOutput(self, "DashboardName", value=account_wide_name, description="CloudWatch dashboard of the endpoint")

    def _metrics(self, variant_name: str) -> VariantMetrics:
        """A variant's metrics, or on a scale-to-zero endpoint its component's (instance metrics: the one variant)."""
        return self.llm_endpoint.metrics(variant_name) if self.scale_to_zero is None else self._component_metrics(variant_name)

    def _component_metrics(self, variant_name: str) -> ComponentMetrics:
        assert self.scale_to_zero is not None
        metrics = self.llm_endpoint.metrics(variant_name)
        return ComponentMetrics(
            endpoint_name=metrics.endpoint_name,
            variant_name=COMPONENT_VARIANT,
            gpus=metrics.gpus,
            pool_gpus=metrics.pool_gpus,
            hourly_usd=metrics.hourly_usd,
            component_name=self.scale_to_zero.components[variant_name].name,
        )

    def _component_widgets(self) -> list[cloudwatch.IWidget]:
        """Scale to zero: copies beside the requests refused for want of one, and the scaling alarms' states."""
        if self.scale_to_zero is None:
            return []
        components = [self._component_metrics(name) for name in self.scale_to_zero.components]
        minute = Duration.minutes(1)
        return [
            cloudwatch.GraphWidget(
                title="Copies and cold starts",
                left=[metrics.metric_copy_count(period=minute) for metrics in components],
                right=[metrics.metric_no_capacity_failures(period=minute) for metrics in components],
                left_y_axis=cloudwatch.YAxisProps(label="copies", show_units=False, min=0),
                right_y_axis=cloudwatch.YAxisProps(label="requests refused: no copy", show_units=False, min=0),
                width=16,
                height=6,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Scaling from and to zero",
                alarms=[
                    alarm for scaling in self.component_scaling.values() for alarm in (scaling.wake_alarm, scaling.idle_alarm)
                ],
                width=8,
                height=6,
            ),
        ]

    def _client_metadata(self, endpoint_name: str, variants: Sequence[EndpointVariant]) -> dict[str, Any]:
        metadata = self._variant_metadata(endpoint_name, variants)
        if self.scale_to_zero is None:
            return metadata
        # Callers pass InferenceComponentName to InvokeEndpoint and wait out a cold start after idle periods.
        # SageMaker does not split traffic between components: clients pick one per request by these weights.
        components = self.scale_to_zero.components
        for entry, variant in zip(metadata["variants"], variants, strict=True):
            entry["variant_name"] = COMPONENT_VARIANT  # the endpoint's one (model-less) variant
            entry["inference_component_name"] = components[variant.name].name
            entry["weight"] = round(variant.initial_weight)
        # For clients that do not read the weights: the component with the most traffic (the first on a tie).
        main = max(variants, key=lambda v: v.initial_weight)
        return {
            **metadata,
            "scale_to_zero": True,
            "inference_component_name": components[main.name].name,
            "expected_cold_start_seconds": EXPECTED_COLD_START_SECONDS,
        }

    def _variant_metadata(self, endpoint_name: str, variants: Sequence[EndpointVariant]) -> dict[str, Any]:
        return {
            "schema_version": CLIENT_PARAMETER_SCHEMA_VERSION,
            "hosting": "sagemaker",
            "endpoint_name": endpoint_name,
            "region": self.region,
            "variants": [
                {
                    "variant_name": v.name,
                    "model_key": v.model.key,
                    "hf_model_id": v.model.hugging_face.model_id,
                    "container": v.image.framework,
                    "api": v.image.chat_api,
                    "container_family": v.model.container.family,
                    "tool_calling": client_tool_calling(v.model, v.image.chat_api),
                    "prompt_format": v.model.prompt_format,
                    "stop_sequences": list(v.model.stop_sequences),
                    "max_input_tokens": v.model.container.max_input_tokens,
                    "max_total_tokens": v.model.container.max_total_tokens,
                    "latency_budget_seconds": v.model.latency_budget_seconds,
                }
                for v in variants
            ],
        }
