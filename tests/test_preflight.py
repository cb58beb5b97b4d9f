"""`python -m migration check`: the preflight every CI deploy runs against the live stage (migration.preflight)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from migration.plan import main
from tests.test_migration_plan import AB_FILE, AB_LIVE, LiveStub

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}
FINISH = ["-c", "endpoint=chat", "-c", "model=mixtral", "-c", "retire=mistral"]


class Stage:
    """The live stage as stubbed boto3 clients: the stack llm-chat and, if given, its endpoint."""

    def __init__(self, outputs: dict[str, str] | None, status: str = "UPDATE_COMPLETE", live: LiveStub | None = None):
        self.cloudformation = boto3.client("cloudformation", **CREDENTIALS)
        stub = Stubber(self.cloudformation)
        if outputs is None:
            stub.add_client_error("describe_stacks", "ValidationError", "Stack with id llm-chat does not exist")
        else:
            stack = {
                "StackName": "llm-chat",
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": status,
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
            stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "llm-chat"})
        stub.activate()
        self.live = live
        self.role_arns: list[str | None] = []

    def aws(self, region: str, role_arn: str | None) -> Any:
        assert region == "us-east-1"
        self.role_arns.append(role_arn)

        def client(service: str) -> Any:
            if service == "cloudformation":
                return self.cloudformation
            assert self.live is not None, f"no {service} call expected"
            sagemaker, autoscaling = self.live.clients(region)
            return sagemaker if service == "sagemaker" else autoscaling

        return client


def check(capsys: pytest.CaptureFixture[str], stage: Stage, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv], aws=stage.aws)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_bedrock_deploy_under_a_sagemaker_endpoint_name_is_refused(capsys):
    stage = Stage({"Hosting": "sagemaker", "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/chat"})
    code, out, _ = check(capsys, stage, "-c", "endpoint=chat", "-c", "model=claude-haiku-4-5", "--role-arn", "arn:r")
    assert code == 1
    assert (
        "ERROR: stack llm-chat serves endpoint chat from a SageMaker endpoint; this deploy of claude-haiku-4-5 would "
        "serve it from Amazon Bedrock, and that update deletes what serves it now." in out
    )
    assert "deploy claude-haiku-4-5 under a new name (-c endpoint=chat-bedrock)" in out
    assert stage.role_arns == ["arn:r"]


def test_a_stack_from_before_the_hosting_output_is_recognised_by_its_outputs(capsys):
    stage = Stage({"ModelId": "anthropic.claude-haiku-4-5-20240307-v1:0", "InvokePolicyArn": "arn:aws:iam::1:policy/p"})
    code, out, _ = check(capsys, stage, "-c", "endpoint=chat", "-c", "model=mistral")
    assert code == 1
    assert "serves endpoint chat from Amazon Bedrock; this deploy of mistral-7b would serve it from a SageMaker" in out


def test_a_stack_that_failed_to_roll_back_points_at_the_recovery(capsys):
    stage = Stage({"Hosting": "sagemaker"}, status="UPDATE_ROLLBACK_FAILED")
    code, out, _ = check(capsys, stage, "-c", "endpoint=chat", "-c", "model=mistral")
    assert code == 1
    assert "stack llm-chat is UPDATE_ROLLBACK_FAILED" in out and "continue-update-rollback" in out
    assert "docs/migrations.md" in out


def test_the_split_straight_to_retire_is_refused_against_the_live_endpoint(capsys):
    live = LiveStub()
    live.endpoint(AB_LIVE, scaled=["mistral-7b", "mixtral-8x7b"])
    code, out, _ = check(capsys, Stage({"Hosting": "sagemaker"}, live=live), *FINISH)
    assert code == 1
    assert "ERROR: removes variant mistral-7b while it is an Application Auto Scaling target" in out


def test_the_next_phase_passes(capsys):
    live = LiveStub()
    live.endpoint([("mistral-7b", "ml.g5.xlarge", 1.0, 1)], scaled=["mistral-7b"])
    code, out, _ = check(capsys, Stage({"Hosting": "sagemaker"}, live=live), "--deployment", AB_FILE)
    assert (code, out.splitlines()[-1]) == (0, "check: safe")
    live.assert_all_called()


def test_a_first_deploy_passes_without_reading_an_endpoint(capsys):
    code, out, _ = check(capsys, Stage(None), "-c", "endpoint=chat", "-c", "model=claude-haiku-4-5")
    assert (code, out.splitlines()[-1]) == (0, "check: safe")


def test_bad_input_exits_2_before_any_aws_call(capsys):
    code, out, err = check(capsys, Stage(None), "-c", "endpoint=chat", "-c", "model=gpt-5")
    assert (code, out) == (2, "")
    assert err.startswith("error: -c model: unknown model 'gpt-5'")
