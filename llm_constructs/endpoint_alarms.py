"""The CloudWatch alarms of one endpoint variant, each notifying the stack's alarm topic.

docs/operations.md says why each alarm exists and how to tune it; the anchors below point there.
Missing data is chosen per alarm: SageMaker publishes invocation metrics only in periods with requests and
instance metrics only while instances run, so "no data" usually means "nothing to judge", not "broken".
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from llm_config.operations import AlarmSettings
from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.endpoint_metrics import MICROSECONDS_PER_SECOND, VariantMetrics

RUNBOOK = "docs/operations.md"
ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING


class _Alarms(Construct):
    """Alarms on ``metrics`` that notify ``topic`` when they fire and when they recover."""

    def __init__(self, scope: Construct, construct_id: str, *, metrics: VariantMetrics, topic: AlarmTopic) -> None:
        super().__init__(scope, construct_id)
        self._metrics = metrics
        self._topic = topic
        self.alarms: list[cloudwatch.Alarm] = []  # every alarm of this construct, for the dashboard

    def _instance_alarms(self, settings: AlarmSettings) -> list[cloudwatch.Alarm]:
        """GPU memory and disk of the instances (attributes ``gpu_memory`` and ``disk``)."""
        metrics = self._metrics
        self.gpu_memory = self._alarm(
            "GpuMemory",
            "gpu-memory",
            metrics.metric_gpu_memory_utilization_percent(statistic="Maximum", period=Duration.minutes(1)),
            threshold=settings.gpu_memory_utilization_percent,
            comparison=ABOVE,
            periods=15,
            datapoints=15,
            # Instance metrics stop only when no instance runs (creating, deleting): no GPU to run out of memory.
            missing=NOT_BREACHING,
            # The engine reserves its share of GPU memory at start-up, whatever the load (the loader keeps the threshold
            # above it), so this is not a load alarm: it says memory outside that reservation is growing toward a
            # CUDA out-of-memory crash (docs/operations.md#gpu-memory decides this).
            description=f"GPU memory above {settings.gpu_memory_utilization_percent:g}% of the instance's "
            f"{metrics.gpus} GPU(s) on the fullest instance, for 15 minutes: beyond what the engine reserves at start-up,"
            " so memory outside its reservation is growing toward out-of-memory (not load: see the latency alarm)",
            anchor="gpu-memory",
        )
        self.disk = self._alarm(
            "Disk",
            "disk",
            metrics.metric_disk_utilization_percent(statistic="Maximum", period=Duration.minutes(5)),
            threshold=settings.disk_utilization_percent,
            comparison=ABOVE,
            periods=3,
            datapoints=3,
            # As for GPU memory: no instance, no disk.
            missing=NOT_BREACHING,
            description=f"disk above {settings.disk_utilization_percent:g}% on the fullest instance, for 15 minutes",
            anchor="disk",
        )
        return [self.gpu_memory, self.disk]

    def _alarm(
        self,
        construct_id: str,
        suffix: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        periods: int,
        datapoints: int,
        missing: cloudwatch.TreatMissingData,
        description: str,
        anchor: str,
    ) -> cloudwatch.Alarm:
        metrics = self._metrics
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{metrics.alarm_prefix}-{suffix}",
            alarm_description=f"{metrics.subject}: {description}. Why and how to tune: {RUNBOOK}#{anchor}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=missing,
        )
        action = actions.SnsAction(self._topic.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm


class VariantAlarms(_Alarms):
    """Six alarms on one variant, thresholds from ``settings`` (latency from ``latency_threshold_seconds``).

    Attributes (and child IDs): ``latency`` (LatencyP90), ``server_errors`` (ServerErrors),
    ``client_error_rate`` (ClientErrorRate), ``gpu_memory`` (GpuMemory), ``disk`` (Disk), ``idle`` (Idle);
    ``alarms`` lists them. Alarm names are ``<endpoint>-<variant>-<what>`` (an inference component's:
    ``<component>-<what>``), so notifications say where.
    Every alarm notifies ``topic`` when it fires and when it recovers.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        metrics: VariantMetrics,
        settings: AlarmSettings,
        latency_threshold_seconds: float,
        topic: AlarmTopic,
        watch_idle: bool = True,
        watch_instances: bool = True,
    ) -> None:
        """``watch_idle=False`` leaves out the Idle alarm: an endpoint that scales to zero pays nothing while idle.
        ``watch_instances=False`` leaves out the instance alarms (GPU memory, disk): an inference component's
        instances are its variant's, which ``InstanceAlarms`` watch."""
        super().__init__(scope, construct_id, metrics=metrics, topic=topic)
        latency_us = round(latency_threshold_seconds * MICROSECONDS_PER_SECOND)
        self.latency = self._alarm(
            "LatencyP90",
            "latency-p90",
            metrics.metric_model_latency(statistic="p90", period=Duration.minutes(1)),
            threshold=latency_us,
            comparison=ABOVE,
            periods=5,
            datapoints=3,
            # No requests, no latency to judge; an endpoint with no traffic is the Idle alarm's business.
            missing=NOT_BREACHING,
            description=f"p90 ModelLatency above {latency_threshold_seconds:g} s ({latency_us:,} microseconds) "
            "in 3 of the last 5 minutes",
            anchor="model-latency-p90",
        )
        self.server_errors = self._alarm(
            "ServerErrors",
            "5xx-errors",
            metrics.metric_server_errors(period=Duration.minutes(5)),
            threshold=settings.server_errors_per_5_minutes,
            comparison=AT_LEAST,
            periods=1,
            datapoints=1,
            # SageMaker publishes nothing in a period without requests: nothing can have failed.
            missing=NOT_BREACHING,
            description=f"{settings.server_errors_per_5_minutes} or more 5XX errors in 5 minutes",
            anchor="5xx-errors",
        )
        self.client_error_rate = self._alarm(
            "ClientErrorRate",
            "4xx-rate",
            metrics.metric_client_error_rate_percent(period=Duration.minutes(5)),
            threshold=settings.client_error_rate_percent,
            comparison=ABOVE,
            periods=3,
            datapoints=3,
            # The rate is undefined without invocations: no traffic is not a client problem.
            missing=NOT_BREACHING,
            description=f"more than {settings.client_error_rate_percent:g}% of requests got a 4XX error, "
            "in each of the last three 5-minute periods",
            anchor="4xx-error-rate",
        )
        self.alarms = [self.latency, self.server_errors, self.client_error_rate]
        if watch_instances:
            self.alarms += self._instance_alarms(settings)
        self.idle: cloudwatch.Alarm | None = None
        if watch_idle:
            self.idle = self._alarm(
                "Idle",
                "idle",
                metrics.metric_invocations(period=Duration.hours(1)),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                periods=settings.idle_hours,
                datapoints=settings.idle_hours,
                # SageMaker publishes no Invocations data point in an hour without requests, so missing data IS
                # the idle signal. A variant endpoint's instances always run (min_instances >= 1; scale to zero is
                # the component endpoint's, which has no Idle alarm), so every idle hour is a billed GPU hour.
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"no invocations for {settings.idle_hours} hours while at least one instance runs: "
                "paying for idle GPUs",
                anchor="idle",
            )
        if self.idle is not None:
            self.alarms.append(self.idle)


class InstanceAlarms(_Alarms):
    """The instance alarms (GPU memory, disk; attributes and child IDs as in ``VariantAlarms``) of an endpoint variant
    that hosts inference components: its instances outlive any one component, so their alarms belong to the variant
    and keep their logical IDs and names (``<endpoint>-<variant>-<what>``) through every migration phase."""

    def __init__(
        self, scope: Construct, construct_id: str, *, metrics: VariantMetrics, settings: AlarmSettings, topic: AlarmTopic
    ) -> None:
        super().__init__(scope, construct_id, metrics=metrics, topic=topic)
        self.alarms = self._instance_alarms(settings)
