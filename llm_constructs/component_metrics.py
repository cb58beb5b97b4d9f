"""CloudWatch metrics of a scale-to-zero endpoint's inference component.

SageMaker publishes the invocation metrics (``AWS/SageMaker``: Invocations, errors, ModelLatency,
NoCapacityInvocationFailures, ConcurrentRequestsPerCopy) per inference component (dimension InferenceComponentName),
and the instance metrics (``/aws/sagemaker/Endpoints``) per endpoint variant, as for any endpoint. So a component
reuses the variant helpers with the component's dimension on invocation metrics, and its ``instances`` are the
variant's, whose instance count and cost fill the hours at zero with 0 instead of leaving gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from llm_constructs.endpoint_metrics import INVOCATION_NAMESPACE, ONE_MINUTE, VariantMetrics

# Per-copy utilization, one data point per copy a minute (its SampleCount counts the copies).
COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"


@dataclass(frozen=True)
class ComponentMetrics(VariantMetrics):
    """Metric factories of inference component ``component_name`` on variant ``variant_name`` of ``endpoint_name``."""

    component_name: str = ""

    @property
    def series(self) -> str:
        """The component: two components of a migration share the endpoint's one variant."""
        return self.component_name

    @property
    def subject(self) -> str:
        return f"SageMaker endpoint {self.endpoint_name}, inference component {self.component_name}"

    @property
    def alarm_prefix(self) -> str:
        """The component's name, which already starts with the endpoint's."""
        return self.component_name

    @property
    def instances(self) -> VariantMetrics:
        """The endpoint variant's instances, which every component of the endpoint shares: named after the variant."""
        return ZeroFilledInstanceMetrics(self.endpoint_name, self.variant_name, self.gpus, self.hourly_usd)

    def _dimensions(self, namespace: str) -> dict[str, str]:
        """Invocation and per-copy metrics by InferenceComponentName; instance metrics by endpoint and variant."""
        if namespace in (INVOCATION_NAMESPACE, COMPONENT_NAMESPACE):
            return {"InferenceComponentName": self.component_name}
        return super()._dimensions(namespace)

    def metric_no_capacity_failures(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
        """Requests refused because no copy runs (Sum): the signal that wakes the component from zero."""
        return self.metric("NoCapacityInvocationFailures", namespace=INVOCATION_NAMESPACE, statistic="Sum", period=period)

    def metric_copy_count(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
        """Running copies: data points per minute of a per-copy metric, 0 while at zero."""
        samples = self.metric(
            "GPUMemoryUtilizationNormalized", namespace=COMPONENT_NAMESPACE, statistic="SampleCount", period=period
        )
        return self._math("FILL({copies}, 0) / (PERIOD({copies}) / 60)", "copies", period, copies=samples)


@dataclass(frozen=True)
class ZeroFilledInstanceMetrics(VariantMetrics):
    """The instances of a variant that scales to zero: the instance count (and so the cost) is 0 while no instance
    runs, not a gap, so cost graphs include those hours."""

    def metric_instance_count(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
        return self._math(
            "FILL({samples}, 0) / (PERIOD({samples}) / 60)",
            "instances",
            period,
            samples=self.metric_instance_samples(period=period),
        )
