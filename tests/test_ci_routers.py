"""CI deploys router files (routing/ci.py): after every endpoint file of the stage, with the router's preflight before
and its parameter read back after, in both setups (scripts/ci_stage.py and the CDK pipeline); a router that cannot
work in its stage is refused when the stage is read, exit 2 with one message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk.assertions import Match, Template

from llm_config import ConfigError, load_registry
from llm_config.stages import load_stages, stage_deployment_files, stage_specs
from routing.ci import stage_routers
from routing.router_spec import router_from_file
from scripts import ci_stage
from stacks.pipeline_stack import LlmPipelineStack
from tests.conftest import REPO_ROOT
from tests.test_github_oidc import role, synth
from tests.test_pipeline import CHAT, build, buildspec, make_repo, stage_actions

POLICY = "routing/policies/mmlu-mixtral-vs-gpt4.json"
POLICY_SHA256 = json.loads((REPO_ROOT / POLICY).read_text())["policy"]["sha256"]
# `assistant` sorts before `chat`: deploy order must come from the kind of file, not from the file names.
ASSISTANT = {"router": {"name": "assistant", "weak": "chat", "strong": "claude", "policy": POLICY}}
LOOKUP = "arn:aws:iam::222222222222:role/cdk-hnb659fds-lookup-role-222222222222-eu-west-1"


def router_repo(root: Path, **deployments: dict[str, Any]) -> Path:
    """A repository with the pipeline tests' stages (eu-west-1), the given deployment files and the shipped policy."""
    make_repo(root, **deployments)
    (root / "routing" / "policies").mkdir(parents=True)
    shutil.copy(REPO_ROOT / POLICY, root / POLICY)
    return root


def dry_run(monkeypatch: pytest.MonkeyPatch, root: Path, *argv: str) -> int:
    monkeypatch.chdir(root)  # main() changes into the repository; monkeypatch restores the directory
    monkeypatch.setattr(ci_stage, "REPO_ROOT", root)
    return ci_stage.main([*argv, "--dry-run"])


def test_ci_stage_deploys_the_router_after_every_endpoint_file_and_reads_it_back(tmp_path, monkeypatch, capsys):
    root = router_repo(tmp_path, assistant=ASSISTANT, chat=CHAT)
    assert dry_run(monkeypatch, root, "deploy", "staging") == 0
    assert capsys.readouterr().out.splitlines() == [
        f".venv/bin/python -m migration check --deployment deployments/chat.yaml --role-arn {LOOKUP}",
        "node_modules/.bin/cdk --app '.venv/bin/python app.py' deploy -c deployment=deployments/chat.yaml "
        "--require-approval never",
        ".venv/bin/python scripts/smoke_test.py --endpoint chat --region eu-west-1",
        # Now that chat exists, the router's preflight finds it (and claude, which must exist already).
        f".venv/bin/python -m migration check --deployment deployments/assistant.yaml --role-arn {LOOKUP}",
        "node_modules/.bin/cdk --app '.venv/bin/python app.py' deploy -c deployment=deployments/assistant.yaml "
        "--require-approval never",
        ".venv/bin/python scripts/smoke_test.py --router assistant --routes chat,claude "
        f"--policy-sha256 {POLICY_SHA256} --region eu-west-1",
    ]


def test_ci_stage_diffs_the_router_stack_too(tmp_path, monkeypatch, capsys):
    root = router_repo(tmp_path, assistant=ASSISTANT, chat=CHAT)
    assert dry_run(monkeypatch, root, "diff", "staging") == 0
    assert [line.split("-c ")[-1] for line in capsys.readouterr().out.splitlines()] == [
        "deployment=deployments/chat.yaml",
        "deployment=deployments/assistant.yaml",
    ]


def router_file(**changes: Any) -> dict[str, Any]:
    return {"router": {**ASSISTANT["router"], **changes}}


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        (
            {"assistant": router_file(region="us-east-1"), "chat": CHAT},
            "error: deployments/assistant.yaml: router.region: 'us-east-1', but its weak route chat is the endpoint of "
            "deployments/chat.yaml, which stage staging deploys in eu-west-1: a router calls its routes in its own "
            "region\n  fix: remove router.region",
        ),
        (
            {"assistant": router_file(region="us-east-1", weak="other"), "chat": CHAT},
            "error: deployments/assistant.yaml: router.region: 'us-east-1' differs from the region of stage staging",
        ),
        (
            {"assistant": router_file(strong="helper"), "chat": CHAT, "helper": router_file(name="helper", weak="assistant")},
            "error: deployments/assistant.yaml: router.strong: 'helper' is the router of deployments/helper.yaml, "
            "which routes back to assistant: the two routers would loop\n  fix: name an endpoint or Bedrock model",
        ),
        (
            {"assistant": router_file(strong="helper"), "chat": CHAT, "helper": router_file(name="helper")},
            "error: deployments/assistant.yaml: router.strong: 'helper' is the router of deployments/helper.yaml: "
            "routes are not routers",
        ),
        (
            {"assistant": router_file(name="chat", weak="other"), "chat": CHAT},
            "error: deployments/assistant.yaml: router.name: 'chat' is also deployed by deployments/chat.yaml in stage "
            "staging: both would write /llm-endpoints/chat\n  fix: give the router a name of its own",
        ),
    ],
    ids=["route-in-another-region", "router-in-another-region", "loop", "route-is-a-router", "name-taken"],
)
def test_a_router_that_cannot_work_in_its_stage_is_one_message_and_exit_2(tmp_path, monkeypatch, capsys, deployments, message):
    root = router_repo(tmp_path, **deployments)
    assert dry_run(monkeypatch, root, "deploy", "staging") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and "Traceback" not in captured.err


def test_a_route_the_stage_does_not_deploy_is_left_to_the_live_preflight(tmp_path, monkeypatch, capsys):
    """`claude` is not in the stage: it may exist already (deployed by hand); `migration check` reads SSM to know."""
    root = router_repo(tmp_path, assistant=router_file(weak="elsewhere"), chat=CHAT)
    assert dry_run(monkeypatch, root, "deploy", "staging") == 0
    lines = capsys.readouterr().out.splitlines()
    assert f".venv/bin/python -m migration check --deployment deployments/assistant.yaml --role-arn {LOOKUP}" in lines


# --- the CDK pipeline -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> LlmPipelineStack:
    root = router_repo(tmp_path_factory.mktemp("repo"), assistant=ASSISTANT, chat=CHAT)
    app, stack = build(root, load_registry(), tmp_path_factory.mktemp("cdk.out"))
    app.synth()  # cdk-nag included: an unacknowledged finding on the new steps fails here
    return stack


@pytest.fixture(scope="module")
def template(pipeline) -> Template:
    return Template.from_stack(pipeline)


def test_the_pipeline_deploys_the_router_stack_after_the_endpoint_stacks_with_its_preflight_and_check(template):
    staging = stage_actions(template)["Staging"]
    assert staging == [
        ("Preflight", 1),
        ("llm-chat.Prepare", 2),
        ("llm-smoke-test.Prepare", 2),
        ("llm-chat.Deploy", 3),
        ("llm-smoke-test.Deploy", 3),
        ("llm-router-assistant.Preflight", 4),
        ("llm-router-assistant.Prepare", 5),
        ("llm-router-assistant.Deploy", 6),
        ("llm-router-assistant.Check", 7),
        ("SmokeTest", 8),
        ("TerminationProtection", 8),
    ]


def project(template: Template, command: str) -> dict[str, Any]:
    """The one CodeBuild project that runs exactly ``command``, and nothing else."""
    found: list[dict[str, Any]] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::CodeBuild::Project").values()
        if json.loads(resource["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"] == [command]
    ]
    assert len(found) == 1, f"{len(found)} projects run {command!r}"
    return found[0]


def role_name(template: Template, properties: dict[str, Any]) -> str:
    logical_id = properties["ServiceRole"]["Fn::GetAtt"][0]
    return str(template.to_json()["Resources"][logical_id]["Properties"]["RoleName"])


def test_the_router_steps_run_its_preflight_and_read_its_parameter_back_through_the_stage_roles(template):
    preflight = project(
        template, f".venv/bin/python -m migration check --deployment deployments/assistant.yaml --role-arn {LOOKUP}"
    )
    check = project(
        template,
        ".venv/bin/python scripts/smoke_test.py --router assistant --routes chat,claude --policy-sha256 "
        f"{POLICY_SHA256} --region eu-west-1 --role-arn arn:aws:iam::222222222222:role/llm-smoke-test-staging",
    )
    assert role_name(template, preflight) == "llm-pipeline-preflight-staging"  # may assume the lookup role only
    assert role_name(template, check) == "llm-pipeline-smoke-test-staging"  # may assume the smoke role only
    for step in (preflight, check):  # they hold credentials: hash-checked packages only
        assert json.loads(step["Source"]["BuildSpec"])["phases"]["install"]["commands"] == ["bash tasks.sh setup-locked"]
    # The endpoint Preflight step (before the deploy, when chat may not exist yet) does not check the router.
    endpoints = buildspec(template, f"--deployment deployments/chat.yaml --role-arn {LOOKUP}")["phases"]["build"]
    assert all("assistant" not in command for command in endpoints["commands"])


def test_the_router_check_may_read_the_routers_parameter_and_nothing_else_of_it(pipeline):
    access = Template.from_stack(pipeline.stages["staging"].smoke_test_access)
    (policy,) = access.find_resources(
        "AWS::IAM::Policy", {"Properties": {"PolicyName": Match.string_like_regexp("SmokeTestRole")}}
    ).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [
        {
            "Action": "ssm:GetParameter",
            "Effect": "Allow",
            "Resource": [
                "arn:aws:ssm:eu-west-1:222222222222:parameter/llm-endpoints/assistant",
                "arn:aws:ssm:eu-west-1:222222222222:parameter/llm-endpoints/chat",
            ],
        },
        {
            "Action": "sagemaker:InvokeEndpoint",
            "Effect": "Allow",
            "Resource": "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/chat",
        },
    ]


def test_the_router_stack_holds_only_its_parameter_and_is_not_termination_protected(pipeline, template):
    (router,) = pipeline.stages["staging"].router_stacks
    assert (router.stack_name, router.account, router.region) == ("llm-router-assistant", "222222222222", "eu-west-1")
    resources = Template.from_stack(router).to_json()["Resources"]
    assert [r["Type"] for r in resources.values()] == ["AWS::SSM::Parameter"]
    assert not router.termination_protection  # one parameter, restored by a redeploy (docs/ci-cd.md)
    protect = buildspec(template, "llm-protect-stacks-staging")["phases"]["build"]["commands"]
    assert protect[0].endswith("llm-chat")


# --- the example router file --------------------------------------------------------------------------------------


def test_the_default_stages_do_not_deploy_the_example_router_but_would_after_its_routes(tmp_path, monkeypatch, capsys):
    stages = load_stages(REPO_ROOT / "cicd" / "stages.yaml", "cicd/stages.yaml")
    for stage in stages.stages:
        assert REPO_ROOT / "routers" / "assistant.yaml" not in stage_deployment_files(stage, REPO_ROOT, "cicd/stages.yaml")
    example = router_from_file(REPO_ROOT / "routers" / "assistant.yaml", {}, region="us-east-1", root=REPO_ROOT)
    endpoints = {spec.endpoint_name for spec in stage_specs(stages.stages[0], REPO_ROOT, load_registry(), "cicd/stages.yaml")}
    assert example.weak in endpoints, "the example's weak route is the repository's own endpoint file"
    # Opting in: the stage deploys it last.
    opted = yaml.safe_load((REPO_ROOT / "cicd" / "stages.yaml").read_text())
    opted["stages"][0]["deployments"] = ["deployments/*.yaml", "routers/*.yaml"]
    (tmp_path / "stages.yaml").write_text(yaml.safe_dump(opted))
    monkeypatch.chdir(REPO_ROOT)
    assert ci_stage.main(["deploy", "staging", "--dry-run", "--stages-file", str(tmp_path / "stages.yaml")]) == 0
    assert "scripts/smoke_test.py --router assistant --routes chat,claude" in capsys.readouterr().out.splitlines()[-1]


def test_stage_specs_leaves_router_files_to_stage_routers(tmp_path):
    root = router_repo(tmp_path, assistant=ASSISTANT, chat=CHAT)
    stage = load_stages(root / "cicd" / "stages.yaml", "s").stages[0]
    specs = stage_specs(stage, root, load_registry(), "s")
    assert [spec.endpoint_name for spec in specs] == ["chat"]
    assert [router.name for router in stage_routers(stage, root, specs, "s")] == ["assistant"]


def test_a_router_file_with_an_unknown_key_names_it(tmp_path):
    root = router_repo(tmp_path, assistant={"router": {**ASSISTANT["router"], "wieght": 1}}, chat=CHAT)
    stage = load_stages(root / "cicd" / "stages.yaml", "s").stages[0]
    with pytest.raises(ConfigError, match=r"router\.wieght: unknown key"):
        stage_routers(stage, root, [], "s")


def test_the_github_roles_cover_the_router_read_back_and_diff_nothing_more(tmp_path, registry):
    template = synth(router_repo(tmp_path / "repo", assistant=ASSISTANT, chat=CHAT), registry, tmp_path)
    _, deploy = role(template, "llm-github-deploy-prod")
    reads = next(s for s in deploy if s["Action"] == "ssm:GetParameter")["Resource"]
    assert "arn:aws:ssm:eu-west-1:333333333333:parameter/llm-endpoints/assistant" in reads
    assert all("assistant" not in json.dumps(s) for s in deploy if s["Action"] != "ssm:GetParameter")
    _, diff = role(template, "llm-github-diff-prod")
    assert [s["Resource"] for s in diff] == [
        [
            "arn:aws:cloudformation:eu-west-1:333333333333:stack/llm-chat/*",
            "arn:aws:cloudformation:eu-west-1:333333333333:stack/llm-router-assistant/*",
        ]
    ]


def test_a_stage_of_router_files_only_deploys_them_with_their_steps_and_nothing_to_protect(tmp_path, registry):
    app, pipeline = build(router_repo(tmp_path / "repo", assistant=ASSISTANT), registry, tmp_path / "out")
    app.synth()  # a stage without endpoint files: no empty policy statement, no empty step
    assert stage_actions(Template.from_stack(pipeline))["Staging"] == [
        ("llm-smoke-test.Prepare", 1),
        ("llm-smoke-test.Deploy", 2),
        ("llm-router-assistant.Preflight", 3),
        ("llm-router-assistant.Prepare", 4),
        ("llm-router-assistant.Deploy", 5),
        ("llm-router-assistant.Check", 6),
    ]
    assert pipeline.stages["staging"].smoke_test_access.protect_role is None


def test_every_preflight_reads_files_without_a_region_in_the_stages_region(template):
    """`migration check` resolves a file without `region` as app.py does, from CDK_DEFAULT_REGION: unset, it would
    check us-east-1 (CodeBuild sets only AWS_REGION, to the pipeline's region) and find nothing to refuse there."""
    for marker in ("deployments/chat.yaml", "deployments/assistant.yaml"):
        step = project(template, f".venv/bin/python -m migration check --deployment {marker} --role-arn {LOOKUP}")
        variables = {v["Name"]: v["Value"] for v in step["Environment"]["EnvironmentVariables"]}
        assert variables["CDK_DEFAULT_REGION"] == "eu-west-1", marker


def test_the_pipeline_synth_refuses_a_router_loop_before_building_anything(tmp_path, registry):
    loop = {"assistant": router_file(strong="helper"), "chat": CHAT, "helper": router_file(name="helper", weak="assistant")}
    root = router_repo(tmp_path / "repo", **loop)
    with pytest.raises(ConfigError, match=r"router\.strong: 'helper' is the router of .*helper\.yaml, which routes back"):
        build(root, registry, tmp_path / "out")
