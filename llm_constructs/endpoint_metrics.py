"""CloudWatch metrics of one endpoint variant, in the units SageMaker publishes them.

- ``AWS/SageMaker``: Invocations, Invocation4XXErrors, Invocation5XXErrors (counts) and ModelLatency
  (MICROSECONDS: a 5 s budget is 5,000,000).
- ``/aws/sagemaker/Endpoints``: CPU/GPU/GPU memory/disk utilization in percent, one data point per instance
  per minute. GPU figures are summed over the instance's GPUs (0-400% on 4 GPUs); the ``*_percent`` helpers
  divide by the GPU count so that 100 means every GPU is full.

With instance pools of different GPU counts the metrics do not say which pool an instance came from, so the divisor
is inferred from the summed GPU memory: the fewest GPUs ``g`` of the pools whose 100 x g it does not exceed. The
engine reserves ``container.gpu_memory_utilization`` (90%) of every GPU at start-up, so a 4-GPU instance reads ~360
and a 1-GPU one ~90: the inference is exact whenever each GPU holds more than (fewer GPUs / more GPUs) of its
memory, which the reservation guarantees on a serving instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
MICROSECONDS_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class VariantMetrics:
    """Metric factories for variant ``variant_name`` of endpoint ``endpoint_name``.

    ``gpus`` and ``hourly_usd`` describe the variant's instance type; they turn summed GPU percentages into
    percent-of-all-GPUs and the instance count into an estimated cost.
    """

    endpoint_name: str
    variant_name: str
    gpus: int
    hourly_usd: float
    # The GPU counts of every instance pool, when they differ (else empty: ``gpus`` is every instance's).
    pool_gpus: tuple[int, ...] = ()

    @property
    def series(self) -> str:
        """What these metrics are of, in labels, metric-math ids and alarm names: the variant."""
        return self.variant_name

    @property
    def subject(self) -> str:
        """What these metrics are of, in words for alarm descriptions."""
        return f"SageMaker endpoint {self.endpoint_name}, variant {self.variant_name}"

    @property
    def alarm_prefix(self) -> str:
        """Alarm names start with it (``<endpoint>-<variant>``), so notifications say where."""
        return f"{self.endpoint_name}-{self.variant_name}"

    @property
    def instances(self) -> VariantMetrics:
        """The metrics of the instances these run on (GPU, disk, instance count, cost): a variant's own."""
        return self

    def metric(
        self, metric_name: str, *, namespace: str, statistic: str, period: Duration, label: str | None = None
    ) -> cloudwatch.Metric:
        """Any metric of this variant, by name (dimensions: ``_dimensions``)."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=self._dimensions(namespace),
            statistic=statistic,
            period=period,
            label=label or f"{self.series} {metric_name}",
        )

    def _dimensions(self, namespace: str) -> dict[str, str]:
        """SageMaker publishes a variant's invocation and instance metrics by EndpointName and VariantName."""
        return {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}

    def metric_invocations(self, *, period: Duration = FIVE_MINUTES) -> cloudwatch.Metric:
        """Requests sent to the variant (Sum). SageMaker publishes no data point in a period without requests."""
        return self.metric("Invocations", namespace=INVOCATION_NAMESPACE, statistic="Sum", period=period)

    def metric_model_latency(self, *, statistic: str = "p90", period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
        """Time the model container took to answer, in MICROSECONDS."""
        return self.metric(
            "ModelLatency",
            namespace=INVOCATION_NAMESPACE,
            statistic=statistic,
            period=period,
            label=f"{self.series} ModelLatency {statistic} (µs)",
        )

    def metric_model_latency_ms(self, *, statistic: str = "p90", period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
        """ModelLatency converted to milliseconds, for graphs people read."""
        name = f"latency_{statistic}"
        return self._math(
            f"{{{name}}} / 1000",
            f"{statistic} (ms)",
            period,
            **{name: self.metric_model_latency(statistic=statistic, period=period)},
        )

    def metric_server_errors(self, *, period: Duration = FIVE_MINUTES) -> cloudwatch.Metric:
        """Invocation5XXErrors (Sum): the container or SageMaker failed the request."""
        return self.metric("Invocation5XXErrors", namespace=INVOCATION_NAMESPACE, statistic="Sum", period=period)

    def metric_client_errors(self, *, period: Duration = FIVE_MINUTES) -> cloudwatch.Metric:
        """Invocation4XXErrors (Sum): SageMaker refused the request as malformed, unauthorized or throttled."""
        return self.metric("Invocation4XXErrors", namespace=INVOCATION_NAMESPACE, statistic="Sum", period=period)

    def metric_client_error_rate_percent(self, *, period: Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
        """4XX errors as a percentage of invocations; no data point when there were no invocations."""
        return self._math(
            "100 * FILL({errors}, 0) / {invocations}",
            "4XX error rate (%)",
            period,
            errors=self.metric_client_errors(period=period),
            invocations=self.metric_invocations(period=period),
        )

    def metric_gpu_utilization_percent(
        self, *, statistic: str = "Average", period: Duration = ONE_MINUTE
    ) -> cloudwatch.MathExpression:
        """GPUUtilization divided by the GPU count: 0-100 whatever the instance."""
        return self._per_gpu("GPUUtilization", "GPU utilization", statistic, period)

    def metric_gpu_memory_utilization_percent(
        self, *, statistic: str = "Maximum", period: Duration = ONE_MINUTE
    ) -> cloudwatch.MathExpression:
        """GPUMemoryUtilization divided by the GPU count: 0-100 whatever the instance. Maximum: the fullest instance."""
        return self._per_gpu("GPUMemoryUtilization", "GPU memory", statistic, period)

    def metric_disk_utilization_percent(
        self, *, statistic: str = "Maximum", period: Duration = FIVE_MINUTES
    ) -> cloudwatch.Metric:
        """DiskUtilization, already 0-100 per instance. Maximum: the fullest instance."""
        return self.metric(
            "DiskUtilization",
            namespace=INSTANCE_NAMESPACE,
            statistic=statistic,
            period=period,
            label=f"{self.series} disk (%)",
        )

    def metric_instance_samples(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.Metric:
        """SampleCount of CPUUtilization: every in-service instance publishes one data point a minute."""
        return self.metric("CPUUtilization", namespace=INSTANCE_NAMESPACE, statistic="SampleCount", period=period)

    def metric_instance_count(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
        """In-service instances: data points per minute of an instance metric, whatever period the graph uses."""
        return self._math(
            "{samples} / (PERIOD({samples}) / 60)", "instances", period, samples=self.metric_instance_samples(period=period)
        )

    def metric_hourly_cost_usd(self, *, period: Duration = ONE_MINUTE) -> cloudwatch.MathExpression:
        """Estimated on-demand cost per hour: instances x the catalogue's SageMaker hourly price."""
        return self._math(
            f"{{instances}} * {self.hourly_usd}", "USD/hour", period, instances=self.metric_instance_count(period=period)
        )

    def _id(self, word: str) -> str:
        """A metric-math id unique to this variant: graphs and alarms may combine several variants."""
        return f"{word}_{re.sub('[^a-z0-9]', '_', self.series.lower())}"

    def _math(self, template: str, label: str, period: Duration, **metrics: cloudwatch.IMetric) -> cloudwatch.MathExpression:
        """Metric math over ``metrics``: ``{name}`` in ``template`` becomes that metric's variant-unique id."""
        ids = {name: self._id(name) for name in metrics}
        return cloudwatch.MathExpression(
            expression=template.format(**ids),
            using_metrics={ids[name]: metric for name, metric in metrics.items()},
            label=f"{self.series} {label}",
            period=period,
        )

    def _per_gpu(self, metric_name: str, what: str, statistic: str, period: Duration) -> cloudwatch.MathExpression:
        name = metric_name.lower()
        summed = self.metric(metric_name, namespace=INSTANCE_NAMESPACE, statistic=statistic, period=period)
        counts = sorted(set(self.pool_gpus))
        if len(counts) < 2:
            gpus = f"{self.gpus} GPU{'s' if self.gpus > 1 else ''}"
            return self._math(f"{{{name}}} / {self.gpus}", f"{what} (% of {gpus})", period, **{name: summed})
        # Nested IF over the pools' GPU counts, fewest first: divide by the first count the summed memory fits.
        memory = self.metric("GPUMemoryUtilization", namespace=INSTANCE_NAMESPACE, statistic=statistic, period=period)
        expression = f"{{{name}}} / {counts[-1]}"
        for count in reversed(counts[:-1]):
            expression = f"IF({{memory}} <= {100 * count}, {{{name}}} / {count}, {expression})"
        label = f"{what} (% per GPU, {' or '.join(map(str, counts))} GPUs by pool)"
        metrics: dict[str, cloudwatch.IMetric] = {name: summed, "memory": memory}
        return self._math(expression, label, period, **metrics)
