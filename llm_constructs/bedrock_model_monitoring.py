"""Alarms and a dashboard on one Bedrock model's AWS/Bedrock metrics."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from llm_config.bedrock_model import BedrockAlarms
from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.bedrock_model_access import BedrockModelAccess

MILLISECONDS_PER_SECOND = 1000


class BedrockModelMonitoring(Construct):
    """Three alarms (notifying ``topic`` on ALARM and OK) and a dashboard for the model of ``access``.

    Every metric is dimensioned by the id clients call (``access.invoke_id``: the inference profile's id when the
    model is called through one), and ``price_per_1k_usd`` (input, output) is the price of that way of calling.

    Children: ``LatencyAlarm`` (InvocationLatency, published in milliseconds, above the latency
    budget), ``ThrottlesAlarm`` (InvocationThrottles sum), ``ServerErrorsAlarm``
    (InvocationServerErrors sum), ``Dashboard``. No traffic means no datapoints, which every alarm
    treats as not breaching. Count alarms set no unit: Bedrock's documentation disagrees with itself
    on the unit it publishes counts in, and an alarm whose unit does not match sees no data.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access: BedrockModelAccess,
        latency_budget_seconds: float,
        alarms: BedrockAlarms,
        price_per_1k_usd: tuple[float, float],
        topic: AlarmTopic,
        dashboard_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        period = Duration.seconds(alarms.period_seconds)
        model_id = access.invoke_id
        latency_budget_ms = latency_budget_seconds * MILLISECONDS_PER_SECOND
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "LatencyAlarm",
            alarm_description=(
                f"{model_id}: {alarms.latency_statistic} InvocationLatency above the {latency_budget_seconds:g} s budget "
                f"in {alarms.datapoints_to_alarm} of {alarms.evaluation_periods} periods of {alarms.period_seconds} s"
            ),
            metric=access.metric(
                "InvocationLatency", statistic=alarms.latency_statistic, period=period, unit=cloudwatch.Unit.MILLISECONDS
            ),
            threshold=latency_budget_ms,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=alarms.evaluation_periods,
            datapoints_to_alarm=alarms.datapoints_to_alarm,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.throttles_alarm = self._count_alarm(
            "ThrottlesAlarm", "InvocationThrottles", alarms.throttles_per_period, access, period
        )
        self.server_errors_alarm = self._count_alarm(
            "ServerErrorsAlarm", "InvocationServerErrors", alarms.server_errors_per_period, access, period
        )
        self.alarms = [self.latency_alarm, self.throttles_alarm, self.server_errors_alarm]
        for alarm in self.alarms:
            alarm.add_alarm_action(actions.SnsAction(topic.topic))
            alarm.add_ok_action(actions.SnsAction(topic.topic))
        self.dashboard = self._dashboard(dashboard_name, access, latency_budget_ms, price_per_1k_usd, period)

    def _count_alarm(
        self, construct_id: str, metric_name: str, threshold: int, access: BedrockModelAccess, period: Duration
    ) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"{access.invoke_id}: {metric_name} >= {threshold} in {period.to_seconds():g} s",
            metric=access.metric(metric_name, statistic="Sum", period=period),
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _dashboard(
        self,
        name: str,
        access: BedrockModelAccess,
        latency_budget_ms: float,
        price_per_1k_usd: tuple[float, float],
        period: Duration,
    ) -> cloudwatch.Dashboard:
        input_usd, output_usd = price_per_1k_usd

        def sum_of(metric_name: str) -> cloudwatch.Metric:
            return access.metric(metric_name, statistic="Sum", period=period)

        cost = cloudwatch.MathExpression(
            expression=f"input * {input_usd} / 1000 + output * {output_usd} / 1000",
            using_metrics={"input": sum_of("InputTokenCount"), "output": sum_of("OutputTokenCount")},
            label=f"Estimated USD per period (${input_usd}/${output_usd} per 1K tokens in/out)",
            period=period,
        )
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name)
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=3),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations and errors (sum)",
                left=[sum_of(name) for name in ("Invocations", "InvocationClientErrors", "InvocationServerErrors")],
                right=[sum_of("InvocationThrottles")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="InvocationLatency (ms)",
                left=[
                    access.metric("InvocationLatency", statistic=stat, period=period, unit=cloudwatch.Unit.MILLISECONDS)
                    for stat in ("p50", "p90", "p99")
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=latency_budget_ms, label="latency budget")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Tokens (sum)", left=[sum_of("InputTokenCount"), sum_of("OutputTokenCount")], width=12),
            cloudwatch.GraphWidget(title="Estimated on-demand cost (USD)", left=[cost], width=12),
        )
        return dashboard
