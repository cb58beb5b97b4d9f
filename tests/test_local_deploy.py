"""The local rehearsal end to end: the real CDK CLI deploys, updates and destroys a real stack in moto.

Starts its own emulator on a free 127.0.0.1 port and stops it. Dummy credentials only; every AWS
endpoint is the emulator. About 40 s on 2 cores.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_aws import rehearsal
from local_aws.verify import Deployed, leftovers, verify_stack


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rehearsal.Emulator]:
    emulator = rehearsal.start_emulator("us-east-1", tmp_path_factory.mktemp("moto") / "moto.log")
    yield emulator
    rehearsal.stop_emulator(emulator)
    assert not rehearsal.is_up(emulator)


def test_environment_for_the_cli_has_no_real_aws_settings(emulator: rehearsal.Emulator) -> None:
    real = {
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "t",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "CDK_DEFAULT_ACCOUNT": "1",
        "PATH": "/bin",
    }
    env = rehearsal.local_environment(emulator, real)
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env and "CDK_DEFAULT_ACCOUNT" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["PATH"] == "/bin"
    endpoints = {k: v for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL")}
    assert endpoints == {"AWS_ENDPOINT_URL": emulator.url, "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": emulator.url}
    assert emulator.url.startswith("http://127.0.0.1:")
    assert env["CDK_DISABLE_CLI_TELEMETRY"] == env["CDK_DISABLE_VERSION_CHECK"] == "1"


def test_deploy_update_destroy_round_trip(
    emulator: rehearsal.Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_client = rehearsal.client_factory(emulator)
    sagemaker = make_client("sagemaker")

    # 1. A gated model: the rehearsal creates the Hugging Face token secret with a dummy value first.
    stack = rehearsal.deploy(["-c", "model=mistral", "-c", "endpoint=chat"], emulator, tmp_path / "first").stack_name
    printed = capsys.readouterr().out
    assert "created Secrets Manager secret llm-endpoints/hugging-face-token in the emulator with a DUMMY value" in printed
    assert "ok AWS::SageMaker::Endpoint" in printed and "chat: InService" in printed
    assert stack == "llm-chat"
    first_config = sagemaker.describe_endpoint(EndpointName="chat")["EndpointConfigName"]

    # 2. Another model behind the same endpoint: new Model and EndpointConfig, the endpoint follows.
    template = rehearsal.deploy(["-c", "model=mixtral", "-c", "endpoint=chat"], emulator, tmp_path / "second").template
    endpoint = sagemaker.describe_endpoint(EndpointName="chat")
    assert endpoint["EndpointConfigName"] != first_config
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert [(v["VariantName"], v["InstanceType"]) for v in config["ProductionVariants"]] == [("mixtral-8x7b", "ml.g5.12xlarge")]
    assert len(verify_stack(Deployed.load(make_client, stack, template))) == len(template["Resources"])
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == [config["ProductionVariants"][0]["ModelName"]]

    # 3. Destroy: nothing of the stack is left (the bootstrap stack stays, as in a real account).
    rehearsal.destroy(stack, emulator, tmp_path / "second")
    rehearsal.delete_dummy_secrets(emulator)
    assert make_client("secretsmanager").list_secrets()["SecretList"] == []
    assert any(s["StackName"] == "CDKToolkit" for s in make_client("cloudformation").list_stacks()["StackSummaries"])
    assert leftovers(make_client) == []


def test_bad_model_fails_before_anything_is_deployed(emulator: rehearsal.Emulator, tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        rehearsal.deploy(["-c", "model=no-such-model"], emulator, tmp_path)
    assert rehearsal.client_factory(emulator)("sagemaker").list_endpoints()["Endpoints"] == []
