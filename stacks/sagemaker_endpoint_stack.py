"""One stack per endpoint: the endpoint construct plus what client apps use to find it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_config.catalogue import HOURS_PER_MONTH
from llm_constructs import EndpointVariant, SageMakerLlmEndpoint

CLIENT_PARAMETER_PREFIX = "/llm-endpoints"


def monthly_hosting_usd(variants: Sequence[EndpointVariant]) -> float:
    """Always-on cost of the variants' initial instances, SageMaker on-demand prices."""
    return sum(v.instance.sagemaker_hourly_usd * v.model.instance.initial_count for v in variants) * HOURS_PER_MONTH


class SageMakerEndpointStack(Stack):
    """A SageMaker LLM endpoint, its client-discovery SSM parameter and outputs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variants: Sequence[EndpointVariant],
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        self.llm_endpoint = SageMakerLlmEndpoint(self, "LlmEndpoint", endpoint_name=endpoint_name, variants=variants)
        monthly_usd = monthly_hosting_usd(variants)

        self.client_parameter = ssm.StringParameter(
            self,
            "ClientParameter",
            parameter_name=f"{CLIENT_PARAMETER_PREFIX}/{endpoint_name}",
            description=f"How client apps call the {endpoint_name} LLM endpoint (JSON)",
            string_value=json.dumps(self._client_metadata(endpoint_name, variants), sort_keys=True),
        )

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
            value=f"{monthly_usd:.0f}",
            description="Always-on cost of the initial instances at us-east-1 SageMaker on-demand prices",
        )

    def _client_metadata(self, endpoint_name: str, variants: Sequence[EndpointVariant]) -> dict[str, Any]:
        return {
            "hosting": "sagemaker",
            "endpoint_name": endpoint_name,
            "region": self.region,
            "variants": [
                {
                    "variant_name": v.name,
                    "model_key": v.model.key,
                    "hf_model_id": v.model.hugging_face.model_id,
                    "prompt_format": v.model.prompt_format,
                    "max_input_tokens": v.model.container.max_input_tokens,
                    "max_total_tokens": v.model.container.max_total_tokens,
                    "latency_budget_seconds": v.model.latency_budget_seconds,
                }
                for v in variants
            ],
        }
