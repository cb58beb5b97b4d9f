"""Read an endpoint's live state with boto3 (DescribeEndpoint, DescribeEndpointConfig, DescribeScalableTargets, and
for a scale-to-zero endpoint ListInferenceComponents and DescribeInferenceComponent).

Read-only; needs sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig, sagemaker:ListInferenceComponents,
sagemaker:DescribeInferenceComponent and application-autoscaling:DescribeScalableTargets. Tests use botocore's
Stubber: nothing here runs in CI against AWS.
"""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import ClientError

from llm_config.operations import (
    COMPONENT_SCALABLE_DIMENSION,
    SCALABLE_DIMENSION,
    component_resource_id,
    scalable_resource_id,
)
from migration.sequence import EndpointState, VariantState


class LiveEndpoint:
    """The endpoint as SageMaker and Application Auto Scaling report it."""

    def __init__(self, state: EndpointState | None, status: str | None) -> None:
        self.state = state  # None: no such endpoint
        self.status = status  # InService, Updating, Failed, ...


def read_live_endpoint(endpoint_name: str, sagemaker: Any, autoscaling: Any) -> LiveEndpoint:
    """``sagemaker`` and ``autoscaling`` are boto3 clients of the endpoint's region."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationException" and "Could not find" in str(error):
            return LiveEndpoint(None, None)
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    if not any("ModelName" in v for v in config["ProductionVariants"]):
        # Variants without a model: the endpoint hosts inference components (scale to zero).
        return LiveEndpoint(_component_state(endpoint_name, config, sagemaker, autoscaling), endpoint["EndpointStatus"])
    pools = {v["VariantName"]: instance_pools(v) for v in config["ProductionVariants"]}
    variants = endpoint.get("ProductionVariants", [])
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[scalable_resource_id(endpoint_name, v["VariantName"]) for v in variants],
        ScalableDimension=SCALABLE_DIMENSION,
    )["ScalableTargets"]
    scaled = {target["ResourceId"].rsplit("/", 1)[-1] for target in targets}
    total_weight = sum(v.get("CurrentWeight", 0.0) for v in variants) or 1.0
    state = {
        v["VariantName"]: VariantState(
            name=v["VariantName"],
            instance_type=pools.get(v["VariantName"], ("unknown",))[0],
            fallbacks=pools.get(v["VariantName"], ("unknown",))[1:],
            weight_percent=100.0 * v.get("CurrentWeight", 0.0) / total_weight,
            instance_count=v.get("CurrentInstanceCount", v.get("DesiredInstanceCount", 0)),
            autoscaled=v["VariantName"] in scaled,
        )
        for v in variants
    }
    return LiveEndpoint(state, endpoint["EndpointStatus"])


def instance_pools(variant: dict[str, Any]) -> tuple[str, ...]:
    """A production variant's instance types in priority order: its InstancePools, else its one InstanceType."""
    pools = sorted(variant.get("InstancePools", []), key=lambda pool: pool["Priority"])
    if pools:
        return tuple(pool["InstanceType"] for pool in pools)
    return (variant.get("InstanceType", "serverless"),)


def _component_state(endpoint_name: str, config: dict[str, Any], sagemaker: Any, autoscaling: Any) -> EndpointState:
    """The components by model key (their names are ``<endpoint>-<model key>``), oldest first: the serving model,
    then the candidate. Copy counts as SageMaker reports them. SageMaker knows no traffic weights between
    components (clients apply the parameter's), so ``weight_percent`` is NaN: unknown here."""
    instance_type, *fallbacks = instance_pools(config["ProductionVariants"][0])
    summaries = sagemaker.list_inference_components(EndpointNameEquals=endpoint_name, MaxResults=100)
    names = [c["InferenceComponentName"] for c in sorted(summaries["InferenceComponents"], key=lambda c: c["CreationTime"])]
    if not names:
        return {}
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[component_resource_id(name) for name in names],
        ScalableDimension=COMPONENT_SCALABLE_DIMENSION,
    )["ScalableTargets"]
    scaled = {target["ResourceId"].split("/", 1)[-1] for target in targets}
    state = {}
    for name in names:
        runtime = sagemaker.describe_inference_component(InferenceComponentName=name).get("RuntimeConfig", {})
        key = name.removeprefix(f"{endpoint_name}-")
        state[key] = VariantState(
            name=key,
            instance_type=instance_type,
            fallbacks=tuple(fallbacks),
            weight_percent=math.nan,
            instance_count=runtime.get("CurrentCopyCount", runtime.get("DesiredCopyCount", 0)),
            autoscaled=name in scaled,
            component=name,
        )
    return state
