"""`cdk synth -c router=NAME` (stacks/router_stack.py, routing/router_spec.py): the router's stack publishes only
its client parameter (routes + sealed policy), adds no IAM, and refuses loops, tampered policies and oversize
parameters with one message naming the flag or file, the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from llm_client.routing_policy import heuristic_policy, load_policy, seal
from llm_config import ConfigError
from routing.policy_file import write_policy_file
from tests.conftest import synth_template


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    write_policy_file(path, heuristic_policy(), {"weak": "chat", "strong": "claude"})
    return path


def router(tmp_path: Path, **context: Any) -> Template:
    return Template.from_json(synth_template(context, tmp_path / "cdk.out"))


def test_router_stack_publishes_routes_and_policy_and_no_iam(tmp_path: Path, policy_file: Path) -> None:
    template = router(tmp_path, router="assistant", weak="chat", strong="claude", policy=str(policy_file))
    resources = template.to_json()["Resources"]
    assert {r["Type"] for r in resources.values()} == {"AWS::SSM::Parameter"}  # no role, no policy
    properties = next(iter(resources.values()))["Properties"]
    assert (properties["Name"], properties["Tier"]) == ("/llm-endpoints/assistant", "Standard")
    value = json.loads(properties["Value"])
    assert (value["hosting"], value["routes"]) == ("router", {"weak": "chat", "strong": "claude"})
    assert load_policy(value["policy"]).kind == "heuristic"


def test_router_from_a_deployment_file(tmp_path: Path, policy_file: Path) -> None:
    spec = tmp_path / "assistant.yaml"
    spec.write_text(f"router:\n  name: assistant\n  weak: chat\n  strong: claude\n  policy: {policy_file}\n  region: eu-west-1\n")
    template = router(tmp_path, deployment=str(spec))
    value = json.loads(next(iter(template.to_json()["Resources"].values()))["Properties"]["Value"])
    assert (value["endpoint_name"], value["region"]) == ("assistant", "eu-west-1")


def test_a_large_policy_goes_to_the_advanced_tier_and_too_large_is_refused(tmp_path: Path, policy_file: Path) -> None:
    big = seal({**heuristic_policy(), "note": "x" * 5000})  # still a valid sealed policy, 5 KB
    path = tmp_path / "big.json"
    write_policy_file(path, big, {})
    template = router(tmp_path, router="assistant", weak="chat", strong="claude", policy=str(path))
    template.has_resource_properties("AWS::SSM::Parameter", {"Tier": "Advanced"})
    write_policy_file(path, seal({**heuristic_policy(), "note": "x" * 9000}), {})
    with pytest.raises(ConfigError, match=r"-c policy: the router's parameter would be \d+ bytes; SSM holds at most 8192"):
        router(tmp_path, router="assistant", weak="chat", strong="claude", policy=str(path))


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"weak": "assistant"}, "-c weak: names the router itself \\(assistant\\): a router would loop"),
        ({"strong": "chat"}, "-c strong: is the weak route too \\(chat\\)"),
        ({"model": "mixtral"}, "-c model: cannot be combined with -c router"),
    ],
)
def test_loops_and_conflicts_are_refused(tmp_path: Path, policy_file: Path, context: dict[str, str], message: str) -> None:
    flags = {"router": "assistant", "weak": "chat", "strong": "claude", "policy": str(policy_file), **context}
    with pytest.raises(ConfigError, match=message):
        router(tmp_path, **flags)


def test_tampered_policy_file_is_refused(tmp_path: Path, policy_file: Path) -> None:
    document = json.loads(policy_file.read_text())
    document["policy"]["threshold"] = 0.0
    policy_file.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="field 'sha256' does not match"):
        router(tmp_path, router="assistant", weak="chat", strong="claude", policy=str(policy_file))


def test_route_flags_without_a_router_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="-c weak: names a router's route or policy, but no -c router= is given"):
        router(tmp_path, weak="chat")
