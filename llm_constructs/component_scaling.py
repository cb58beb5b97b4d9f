"""Application Auto Scaling of an inference component's copies, down to zero and back (docs/scale-to-zero.md).

Three policies on one scalable target (``inference-component/NAME``, ``sagemaker:inference-component:DesiredCopyCount``,
min 0):

- ``TargetTracking`` holds concurrent requests per copy at ``settings.target_value`` between 1 and the maximum.
  It never scales in on its own (``disable_scale_in``): going to zero is the idle policy's decision, so the
  idle period is one documented number rather than Application Auto Scaling's internal alarm windows.
- ``WakeFromZero``: target tracking cannot leave zero (no copy, no per-copy metric). SageMaker counts requests
  refused for want of a copy as NoCapacityInvocationFailures; an alarm on it adds one copy (step scaling).
- ``ScaleInToZero``: after ``settings.idle_minutes_before_zero`` minutes in which the component got no request
  (neither served nor refused for want of capacity), an alarm sets the copy count to 0. Refused requests count
  as traffic, so a client retrying through a cold start keeps the waking copy alive.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_config.operations import COMPONENT_SCALABLE_DIMENSION, ScalingSettings, component_resource_id
from llm_constructs.component_metrics import ComponentMetrics
from llm_constructs.endpoint_scaling import SERVICE_LINKED_ROLE

# One wake-up at a time: a cold start takes minutes, and each step adds a copy.
WAKE_COOLDOWN = Duration.minutes(5)


class ComponentScaling(Construct):
    """Scale one inference component (``component``, named in ``metrics``) between 0 and ``max_copies`` copies.

    Children: ``Target``, ``TargetTracking``, ``WakeFromZero`` (+ alarm ``WakeAlarm``), ``ScaleInToZero``
    (+ alarm ``IdleAlarm``). The target depends on the component: Application Auto Scaling cannot register a
    component that does not exist yet, and on destroy the target goes first (SageMaker refuses to delete a
    component that is still a scalable target).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        component: sagemaker.CfnInferenceComponent,
        metrics: ComponentMetrics,
        settings: ScalingSettings,
        max_copies: int,
    ) -> None:
        super().__init__(scope, construct_id)
        name = metrics.component_name
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=component_resource_id(name),
            scalable_dimension=COMPONENT_SCALABLE_DIMENSION,
            min_capacity=0,
            max_capacity=max_copies,
            role=iam.Role.from_role_arn(
                self,
                "ServiceLinkedRole",
                Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=SERVICE_LINKED_ROLE),
            ),
        )
        self.target.node.add_dependency(component)
        self.target_tracking = appscaling.TargetTrackingScalingPolicy(
            self,
            "TargetTracking",
            scaling_target=self.target,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
            target_value=settings.target_value,
            scale_out_cooldown=Duration.seconds(settings.scale_out_cooldown_seconds),
            scale_in_cooldown=Duration.seconds(settings.scale_in_cooldown_seconds),
            disable_scale_in=True,
        )
        self.wake_policy = appscaling.StepScalingAction(
            self,
            "WakeFromZero",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=WAKE_COOLDOWN,
        )
        self.wake_policy.add_adjustment(adjustment=1, lower_bound=0)
        self.wake_alarm = cloudwatch.Alarm(
            self,
            "WakeAlarm",
            alarm_name=f"{name}-wake-from-zero",
            alarm_description=f"Inference component {name}: a request found no copy running; adds one copy. "
            "Not an error: see docs/operations.md#wake-from-zero",
            metric=metrics.metric_no_capacity_failures(period=Duration.minutes(1)),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.wake_alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(self.wake_policy))

        self.idle_policy = appscaling.StepScalingAction(
            self,
            "ScaleInToZero",
            scaling_target=self.target,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
        )
        self.idle_policy.add_adjustment(adjustment=0, upper_bound=0)
        idle_minutes = settings.idle_minutes_before_zero
        minute = Duration.minutes(1)
        requests = cloudwatch.MathExpression(
            expression="FILL(served, 0) + FILL(refused, 0)",
            using_metrics={
                "served": metrics.metric_invocations(period=minute),
                "refused": metrics.metric_no_capacity_failures(period=minute),
            },
            label=f"{name} requests (served + refused for want of a copy)",
            period=minute,
        )
        self.idle_alarm = cloudwatch.Alarm(
            self,
            "IdleAlarm",
            alarm_name=f"{name}-idle-scale-to-zero",
            alarm_description=f"Inference component {name}: no request for {idle_minutes} minutes; sets its copies to 0. "
            "Not an error: see docs/operations.md#scale-in-to-zero",
            metric=requests,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=idle_minutes,
            datapoints_to_alarm=idle_minutes,
            # No data point at all: no request was served or refused.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.idle_alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(self.idle_policy))
