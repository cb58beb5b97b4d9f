"""A CloudWatch dashboard for one endpoint: traffic, latency, errors, GPUs, instances and cost, per variant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from llm_constructs.endpoint_metrics import VariantMetrics

WIDTH = 8  # three graphs per 24-unit row
HEIGHT = 6


class EndpointDashboard(Construct):
    """Child ``Dashboard`` named ``dashboard_name`` (dashboard names are account-wide: include the region).

    One line per variant (or inference component) in every graph; instance graphs one per endpoint variant.
    Latency is shown in milliseconds (SageMaker publishes microseconds)
    with each variant's latency threshold as a horizontal line; GPU figures are percent of all the
    instance's GPUs; instance count is derived from instance metrics and the hourly cost from the instance
    count times the catalogue's on-demand price (an estimate: no discounts, no storage or data transfer).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        variants: Sequence[VariantMetrics],
        latency_threshold_seconds: Mapping[str, float],
        alarms: Sequence[cloudwatch.IAlarm],
        extra_row: Sequence[cloudwatch.IWidget] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        minute = Duration.minutes(1)
        instances = _one_per_variant([v.instances for v in variants])
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=Duration.hours(3),
            widgets=[
                [cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=3)],
                [
                    self._graph("Invocations per minute", "count", [v.metric_invocations(period=minute) for v in variants]),
                    self._graph(
                        "Model latency p50 / p90 / p99",
                        "milliseconds",
                        [v.metric_model_latency_ms(statistic=s, period=minute) for v in variants for s in ("p50", "p90", "p99")],
                        annotations=[
                            cloudwatch.HorizontalAnnotation(
                                value=latency_threshold_seconds[v.series] * 1000, label=f"{v.series} alarm"
                            )
                            for v in variants
                        ],
                    ),
                    self._graph(
                        "Errors per minute",
                        "count",
                        [
                            m
                            for v in variants
                            for m in (v.metric_client_errors(period=minute), v.metric_server_errors(period=minute))
                        ],
                    ),
                ],
                [
                    self._graph(
                        "GPU utilization",
                        "% of all GPUs",
                        [v.metric_gpu_utilization_percent(period=minute) for v in instances],
                        percent=True,
                    ),
                    self._graph(
                        "GPU memory (fullest instance)",
                        "% of all GPUs",
                        [v.metric_gpu_memory_utilization_percent(period=minute) for v in instances],
                        percent=True,
                    ),
                    self._graph(
                        "Disk (fullest instance)",
                        "%",
                        [v.metric_disk_utilization_percent(period=minute) for v in instances],
                        percent=True,
                    ),
                ],
                [
                    self._graph("Instances in service", "instances", [v.metric_instance_count(period=minute) for v in instances]),
                    self._graph(
                        "Estimated cost (on-demand)",
                        "USD per hour",
                        [v.metric_hourly_cost_usd(period=minute) for v in instances],
                        stacked=True,
                    ),
                ],
                *([list(extra_row)] if extra_row else []),
            ],
        )

    @staticmethod
    def _graph(
        title: str,
        unit: str,
        metrics: Sequence[cloudwatch.IMetric],
        *,
        annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
        percent: bool = False,
        stacked: bool = False,
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=list(metrics),
            left_y_axis=cloudwatch.YAxisProps(label=unit, show_units=False, min=0, max=100 if percent else None),
            left_annotations=list(annotations) or None,
            stacked=stacked,
            width=WIDTH,
            height=HEIGHT,
        )


def _one_per_variant(variants: Sequence[VariantMetrics]) -> list[VariantMetrics]:
    """One instance metrics per endpoint variant: the inference components of a migration share one variant's
    instances, which the instance graphs show once."""
    seen: dict[tuple[str, str], VariantMetrics] = {}
    for metrics in variants:
        seen.setdefault((metrics.endpoint_name, metrics.variant_name), metrics)
    return list(seen.values())
