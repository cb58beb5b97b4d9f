"""Application Auto Scaling of one endpoint variant's instance count."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_config.operations import SCALABLE_DIMENSION, ScalingSettings, scalable_resource_id
from llm_constructs.sagemaker_llm_endpoint import SageMakerLlmEndpoint

PREDEFINED_METRICS = {
    "SageMakerVariantConcurrentRequestsPerModelHighResolution": (
        appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
    ),
    "SageMakerVariantInvocationsPerInstance": appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
}
# The ScalableTarget docs recommend naming the service's service-linked role: Application Auto Scaling then
# creates it if the account has none yet. Naming it also keeps CDK from creating a (useless, empty) role.
SERVICE_LINKED_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


class VariantScaling(Construct):
    """A scalable target for variant ``variant_name``, a target-tracking policy and optional scheduled actions.

    Children: ``Target`` (ScalableTarget, resource ``endpoint/NAME/variant/VARIANT``) and ``TargetTracking``
    (ScalingPolicy). The target depends on the endpoint: Application Auto Scaling cannot register a variant
    that does not exist yet. Scheduled actions (``settings.scheduled``) set the target's min/max capacity at
    their times; the next deploy resets them to ``settings`` until the next action runs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint: SageMakerLlmEndpoint,
        variant_name: str,
        settings: ScalingSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        endpoint.metrics(variant_name)  # fails early on a variant the endpoint does not have
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=scalable_resource_id(endpoint.endpoint_name, variant_name),
            scalable_dimension=SCALABLE_DIMENSION,
            min_capacity=settings.min_instances,
            max_capacity=settings.max_instances,
            role=iam.Role.from_role_arn(
                self,
                "ServiceLinkedRole",
                Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=SERVICE_LINKED_ROLE),
            ),
        )
        self.target.node.add_dependency(endpoint.endpoint)
        self.policy = appscaling.TargetTrackingScalingPolicy(
            self,
            "TargetTracking",
            scaling_target=self.target,
            predefined_metric=PREDEFINED_METRICS[settings.target_metric],
            target_value=settings.target_value,
            scale_out_cooldown=Duration.seconds(settings.scale_out_cooldown_seconds),
            scale_in_cooldown=Duration.seconds(settings.scale_in_cooldown_seconds),
        )
        for action in settings.scheduled:
            self.target.scale_on_schedule(
                action.name,
                schedule=appscaling.Schedule.expression(f"cron({action.cron})"),
                time_zone=TimeZone.of(action.timezone),
                min_capacity=action.min_instances,
                max_capacity=action.max_instances,
            )
