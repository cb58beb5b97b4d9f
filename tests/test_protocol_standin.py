"""The protocol stand-in's view of the emulator (MotoCatalog) with botocore's Stubber: the SageMaker control-plane calls
it makes for an endpoint that hosts inference components (ListInferenceComponents with EndpointNameEquals,
DescribeInferenceComponent), and the answer it then gives as each component's model. No emulator, no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_aws.protocol_standin import (
    COMPONENT_HEADER,
    Fault,
    MotoCatalog,
    StandinComponent,
    StandinEndpoint,
    StandinServer,
    StandinVariant,
    StaticCatalog,
)

REGION = "us-east-1"
ARN = f"arn:aws:sagemaker:{REGION}:123456789012"
WHEN = datetime(2026, 12, 1, tzinfo=UTC)
TGI = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.3.0-tgi2.2.0-gpu-py310-cu121-ubuntu22.04"
LMI = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.29.0-lmi11.0.0-cu124"


@pytest.fixture
def sagemaker() -> Any:
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def add_endpoint(stubber: Stubber, name: str, model: str | None) -> None:
    """An endpoint of one variant: with a model (a plain endpoint) or without (it hosts inference components)."""
    stubber.add_response(
        "describe_endpoint",
        {
            "EndpointName": name,
            "EndpointArn": f"{ARN}:endpoint/{name}",
            "EndpointConfigName": f"{name}-config",
            "EndpointStatus": "InService",
            "CreationTime": WHEN,
            "LastModifiedTime": WHEN,
            "ProductionVariants": [{"VariantName": "AllTraffic"}],
        },
        {"EndpointName": name},
    )
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "InstanceType": "ml.g5.xlarge"}
    if model:
        variant |= {"ModelName": model, "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}
    stubber.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": f"{name}-config",
            "EndpointConfigArn": f"{ARN}:endpoint-config/{name}-config",
            "ProductionVariants": [variant],
            "CreationTime": WHEN,
        },
        {"EndpointConfigName": f"{name}-config"},
    )


def add_model(stubber: Stubber, name: str, image: str) -> None:
    stubber.add_response(
        "describe_model",
        {"ModelName": name, "ModelArn": f"{ARN}:model/{name}", "CreationTime": WHEN, "PrimaryContainer": {"Image": image}},
        {"ModelName": name},
    )


def component(name: str, endpoint: str, specification: dict[str, Any]) -> dict[str, Any]:
    return {
        "InferenceComponentName": name,
        "InferenceComponentArn": f"{ARN}:inference-component/{name}",
        "EndpointName": endpoint,
        "EndpointArn": f"{ARN}:endpoint/{endpoint}",
        "VariantName": "AllTraffic",
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        **({"Specification": specification} if specification else {}),
    }


def test_the_catalog_reads_an_endpoints_inference_components_and_the_stand_in_answers_as_each_model(sagemaker):
    client, stubber = sagemaker
    add_endpoint(stubber, "quiet", None)
    summaries = [
        {**component(n, "quiet", {}), "InferenceComponentStatus": "InService"} for n in ("quiet-mistral-7b", "quiet-llama2-7b")
    ]
    stubber.add_response("list_inference_components", {"InferenceComponents": summaries}, {"EndpointNameEquals": "quiet"})
    # One component names its model (whose container says TGI); the other carries its own container (LMI).
    stubber.add_response(
        "describe_inference_component",
        component("quiet-mistral-7b", "quiet", {"ModelName": "quiet-mistral-model"}),
        {"InferenceComponentName": "quiet-mistral-7b"},
    )
    add_model(stubber, "quiet-mistral-model", TGI)
    stubber.add_response(
        "describe_inference_component",
        component(
            "quiet-llama2-7b",
            "quiet",
            {"ModelName": "quiet-llama-model", "Container": {"DeployedImage": {"SpecifiedImage": LMI}}},
        ),
        {"InferenceComponentName": "quiet-llama2-7b"},
    )

    endpoint = MotoCatalog(lambda service, region: client).sagemaker_endpoint(REGION, "quiet")

    assert endpoint == StandinEndpoint(
        "quiet",
        (),
        (
            StandinComponent("quiet-mistral-7b", "quiet-mistral-model", "tgi"),
            StandinComponent("quiet-llama2-7b", "quiet-llama-model", "lmi"),
        ),
    )
    server = StandinServer(StaticCatalog({"quiet": endpoint}))  # what the catalog read, as the stand-in serves it
    server.start()
    try:
        status, headers, parts = server.handle(
            "/endpoints/quiet/invocations", {COMPONENT_HEADER: "quiet-llama2-7b"}, json.dumps({"inputs": "Hi"}).encode()
        )
    finally:
        server.stop()
    assert status == 200 and headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    answer = json.loads(b"".join(parts))  # LMI's shape: an object, not TGI's list
    who = "endpoint quiet component quiet-llama2-7b (quiet-llama-model, lmi)"
    assert answer == {"generated_text": f"[protocol stand-in, not a model: {who}] You said: Hi"}


def test_an_endpoint_without_components_is_read_by_its_variants(sagemaker):
    client, stubber = sagemaker
    add_endpoint(stubber, "chat", "chat-mistral-model")
    stubber.add_response("list_inference_components", {"InferenceComponents": []}, {"EndpointNameEquals": "chat"})
    add_model(stubber, "chat-mistral-model", LMI)

    endpoint = MotoCatalog(lambda service, region: client).sagemaker_endpoint(REGION, "chat")

    assert endpoint == StandinEndpoint("chat", (StandinVariant("AllTraffic", 1.0, "lmi"),))


def test_an_emulator_without_inference_components_is_asked_once(sagemaker):
    client, stubber = sagemaker
    catalog = MotoCatalog(lambda service, region: client)
    add_endpoint(stubber, "chat", "chat-mistral-model")
    unserved = "The list_inference_components action has not been implemented"  # moto's own
    stubber.add_client_error("list_inference_components", "InternalFailure", unserved, 500)
    add_model(stubber, "chat-mistral-model", LMI)
    add_endpoint(stubber, "chat", "chat-mistral-model")  # the next request: no listing (the Stubber would refuse it)
    add_model(stubber, "chat-mistral-model", LMI)

    first, second = catalog.sagemaker_endpoint(REGION, "chat"), catalog.sagemaker_endpoint(REGION, "chat")

    assert first == second == StandinEndpoint("chat", (StandinVariant("AllTraffic", 1.0, "lmi"),))


def test_a_component_endpoint_without_components_refuses_calls_as_sagemaker_does():
    server = StandinServer(StaticCatalog({"quiet": StandinEndpoint("quiet", ())}))
    server.start()
    try:
        for headers, message in (
            ({}, "Inference Component Name header is required"),
            ({COMPONENT_HEADER: "quiet-x"}, "Could not find"),
        ):
            with pytest.raises(Fault) as raised:
                server.handle("/endpoints/quiet/invocations", headers, b'{"inputs": "Hi"}')
            assert (raised.value.code, raised.value.message.startswith(message)) == ("ValidationError", True)
    finally:
        server.stop()
