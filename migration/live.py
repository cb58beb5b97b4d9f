"""Read an endpoint's live state with boto3 (DescribeEndpoint, DescribeEndpointConfig, DescribeScalableTargets).

Read-only; needs sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig and
application-autoscaling:DescribeScalableTargets. Tests use botocore's Stubber: nothing here runs in CI against AWS.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from llm_config.operations import SCALABLE_DIMENSION, scalable_resource_id
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
    instance_types = {v["VariantName"]: v.get("InstanceType", "serverless") for v in config["ProductionVariants"]}
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
            instance_type=instance_types.get(v["VariantName"], "unknown"),
            weight_percent=100.0 * v.get("CurrentWeight", 0.0) / total_weight,
            instance_count=v.get("CurrentInstanceCount", v.get("DesiredInstanceCount", 0)),
            autoscaled=v["VariantName"] in scaled,
        )
        for v in variants
    }
    return LiveEndpoint(state, endpoint["EndpointStatus"])
