"""The live preflight of a router runs where deploys run: `python -m migration check` (what CI and the pipeline's
Preflight step run before each deploy) refuses a router whose routes do not exist (CI stages: tests/test_ci_routers.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from migration.plan import main
from tests.conftest import REPO_ROOT

POLICY = str(REPO_ROOT / "routing" / "policies" / "mmlu-mixtral-vs-gpt4.json")
FLAGS = ["-c", "router=assistant", "-c", "weak=chat", "-c", "strong=claude", "-c", f"policy={POLICY}", "-c", "region=us-east-1"]


def stage_with(parameters: dict[str, str | None]) -> tuple[Any, list[str | None]]:
    """boto3 factories whose SSM answers GetParameter for ``parameters`` (None: ParameterNotFound)."""
    ssm = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    stub = Stubber(ssm)
    for name, hosting in parameters.items():
        if hosting:
            value = json.dumps({"hosting": hosting})
            stub.add_response("get_parameter", {"Parameter": {"Name": name, "Value": value}}, {"Name": name})
        else:
            stub.add_client_error("get_parameter", "ParameterNotFound", expected_params={"Name": name})
    stub.activate()
    roles: list[str | None] = []

    def aws(region: str, role_arn: str | None) -> Any:
        assert region == "us-east-1"
        roles.append(role_arn)

        def client(service: str) -> Any:
            assert service == "ssm", f"a router's check reads SSM only, not {service}"
            return ssm

        return client

    return aws, roles


def test_migration_check_refuses_a_router_whose_route_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    aws, roles = stage_with({"/llm-endpoints/chat": "sagemaker", "/llm-endpoints/claude": None})
    assert main(["check", *FLAGS, "--role-arn", "arn:lookup"], aws=aws) == 1
    out = capsys.readouterr().out
    assert "preflight of router assistant (stack llm-router-assistant, us-east-1):" in out
    assert "ERROR: -c strong claude: no /llm-endpoints/claude in us-east-1: deploy that endpoint or Bedrock model" in out
    assert roles == ["arn:lookup"]


def test_migration_check_passes_a_router_whose_routes_exist(capsys: pytest.CaptureFixture[str]) -> None:
    aws, _ = stage_with({"/llm-endpoints/chat": "sagemaker", "/llm-endpoints/claude": "bedrock"})
    assert main(["check", *FLAGS], aws=aws) == 0
    out = capsys.readouterr().out
    assert "weak: chat (sagemaker) exists in us-east-1" in out and "check: safe" in out


def test_migration_check_names_the_router_files_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    router_file = tmp_path / "assistant.yaml"
    router_file.write_text(f"router:\n  name: assistant\n  weak: chat\n  strong: assistant-strong\n  policy: {POLICY}\n")
    aws, _ = stage_with({"/llm-endpoints/chat": "sagemaker", "/llm-endpoints/assistant-strong": "router"})
    assert main(["check", "--deployment", str(router_file)], aws=aws) == 1
    assert f"ERROR: {router_file}: router.strong assistant-strong: is itself a router" in capsys.readouterr().out
