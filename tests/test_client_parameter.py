"""The contract between the stacks and llm_client: what a synthesized stack publishes in /llm-endpoints/NAME is
exactly what the client reads (same schema version, every field parsed, nothing guessed)."""

from __future__ import annotations

import json
from typing import Any

import llm_client
from llm_client.parameter import BedrockModel, SageMakerEndpoint, parse_parameter
from stacks.sagemaker_endpoint_stack import CLIENT_PARAMETER_SCHEMA_VERSION
from tests.conftest import client_parameter


def published(template: Any, endpoint: str = "chat") -> str:
    """The parameter's value, with CloudFormation references (the client role's ARN) resolved to a sample."""
    value = client_parameter(template, endpoint)["Value"]
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else "arn:aws:iam::123456789012:role/client" for part in value["Fn::Join"][1])


def test_both_sides_agree_on_the_schema_version():
    assert CLIENT_PARAMETER_SCHEMA_VERSION == llm_client.SCHEMA_VERSION


def test_a_sagemaker_stacks_parameter_is_what_the_client_reads(synth, registry):
    endpoint = parse_parameter("chat", published(synth(model="mixtral", endpoint="chat")))

    mixtral = registry.resolve("mixtral")
    assert isinstance(endpoint, SageMakerEndpoint)
    # LMI (vLLM) has no tool-call parser for Mixtral 8x7B v0.1's format: its tools go the constrained path.
    assert (endpoint.name, endpoint.region, endpoint.api, endpoint.tool_path) == ("chat", "us-east-1", "messages", "constrained")
    (variant,) = endpoint.variants
    assert variant.name == variant.model_key == "mixtral-8x7b"
    assert variant.container == "djl-lmi"  # the image's framework: the client picks the container's JSON by it
    assert variant.prompt_format == mixtral.prompt_format
    assert list(variant.stop_sequences) == mixtral.stop_sequences == ["[INST]"]
    assert endpoint.max_new_tokens == mixtral.container.max_total_tokens - mixtral.container.max_input_tokens
    assert endpoint.latency_budget_seconds == mixtral.latency_budget_seconds


def test_a_bedrock_stacks_parameter_is_what_the_client_reads(synth, registry):
    text = published(synth(model="claude-haiku-4-5", endpoint="chat"))
    model = parse_parameter("chat", text)

    config = registry.resolve("claude-haiku-4-5")
    assert isinstance(model, BedrockModel)
    profile = config.route("us-east-1", "test").invoke_id
    assert model.model_id == profile == "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # the inference profile
    assert (model.name, model.model_key, model.latency_budget_seconds) == ("chat", "claude-haiku-4-5", 2)
    assert json.loads(text)["schema_version"] == 2


def test_a_scale_to_zero_stacks_parameter_is_what_the_client_reads(synth):
    endpoint = parse_parameter("quiet", published(synth(model="mistral", endpoint="quiet", scale_to_zero="true"), "quiet"))

    assert isinstance(endpoint, SageMakerEndpoint) and endpoint.scale_to_zero
    assert (endpoint.name, endpoint.inference_component_name) == ("quiet", "quiet-mistral-7b")
    assert endpoint.expected_cold_start_seconds == 600
    assert llm_client.client.sagemaker_request(endpoint, [{"role": "user", "content": "Hi"}])["InferenceComponentName"] == (
        "quiet-mistral-7b"
    )


def test_a_migrations_parameter_is_the_scale_to_zero_one_with_a_component_and_weight_per_entry(synth):
    """Hand-written from the stack's scale-to-zero parameter and the migration fields the stacks add (issue 15): each
    entry names its inference component and its weight; the top-level component is the heaviest."""
    one = json.loads(published(synth(model="mistral", endpoint="quiet", scale_to_zero="true"), "quiet"))
    (entry,) = one["variants"]
    candidate = {**entry, "model_key": "llama2-7b", "inference_component_name": "quiet-llama2-7b", "weight": 10}
    two = {**one, "variants": [{**entry, "inference_component_name": "quiet-mistral-7b", "weight": 90}, candidate]}

    endpoint = parse_parameter("quiet", json.dumps(two))

    assert isinstance(endpoint, SageMakerEndpoint) and endpoint.inference_component_name == "quiet-mistral-7b"
    split = [(v.inference_component_name, v.weight) for v in endpoint.variants]
    assert split == [("quiet-mistral-7b", 90), ("quiet-llama2-7b", 10)]
    chosen = endpoint.only("llama2-7b")
    assert llm_client.client.sagemaker_request(chosen, [{"role": "user", "content": "Hi"}])["InferenceComponentName"] == (
        "quiet-llama2-7b"
    )
    # The parameter the stack writes today (one entry, no weight) is that component at 100%.
    (today,) = parse_parameter("quiet", json.dumps(one)).variants  # type: ignore[union-attr]
    assert (today.inference_component_name, today.weight) == ("quiet-mistral-7b", 100)
