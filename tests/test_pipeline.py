"""The CDK pipeline (pipeline_app.py): source, tested synth, stages with approval and smoke tests, least privilege."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from llm_config import ConfigError
from stacks.ci_factory import add_pipeline
from stacks.pipeline_stack import LlmPipelineStack
from tests.conftest import CDK_JSON_CONTEXT, REPO_ROOT, cfn_lint
from tests.test_app_cli import OFFLINE_ENV
from tests.test_snapshots import masked

CONNECTION = "arn:aws:codeconnections:us-east-1:111111111111:connection/0b8c1b5e-1111-2222-3333-444455556666"
CONTEXT = {"github_connection_arn": CONNECTION, "github_repository": "acme/llm-endpoints"}
STAGES: dict[str, Any] = {
    "pipeline": {"account": "111111111111", "region": "us-east-1"},
    "stages": [
        {"name": "staging", "account": "222222222222", "region": "eu-west-1"},
        {"name": "prod", "account": "333333333333", "region": "eu-west-1", "approval": True},
    ],
}
# A migration's A/B phase (deployments/*.yaml schema: docs/deployments.md), without a region: each stage sets it.
CHAT = {"endpoint": "chat", "model": "mistral", "candidate": "mixtral", "candidate_weight": 10}
SUPPORT = {"endpoint": "Support-Bot", "model": "llama2-7b"}


def make_repo(root: Path, stages: dict[str, Any] | None = None, **deployments: dict[str, Any]) -> Path:
    (root / "cicd").mkdir(parents=True)
    (root / "cicd" / "stages.yaml").write_text(yaml.safe_dump(stages or STAGES))
    (root / "deployments").mkdir()
    for name, spec in (deployments or {"chat": CHAT, "support": SUPPORT}).items():
        (root / "deployments" / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return root


def build(root: Path, registry: Any, outdir: Path, **context: str) -> tuple[App, LlmPipelineStack]:
    app = App(context={**CDK_JSON_CONTEXT, **CONTEXT, **context}, outdir=str(outdir))
    return app, add_pipeline(app, registry, repo_root=root)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory, registry) -> LlmPipelineStack:
    """Synthesized once (cdk-nag included: a finding fails the synth)."""
    root = make_repo(tmp_path_factory.mktemp("repo"))
    app, stack = build(root, registry, tmp_path_factory.mktemp("cdk.out"))
    app.synth()
    return stack


@pytest.fixture(scope="session")
def template(pipeline) -> Template:
    return Template.from_stack(pipeline)


def stage_actions(template: Template) -> dict[str, list[tuple[str, int]]]:
    (codepipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return {
        stage["Name"]: [(action["Name"], action["RunOrder"]) for action in stage["Actions"]]
        for stage in codepipeline["Properties"]["Stages"]
    }


def buildspec(template: Template, marker: str) -> dict[str, Any]:
    """The buildspec of the one CodeBuild project whose commands contain ``marker``."""
    found: list[dict[str, Any]] = [
        json.loads(project["Properties"]["Source"]["BuildSpec"])
        for project in template.find_resources("AWS::CodeBuild::Project").values()
        if marker in project["Properties"]["Source"]["BuildSpec"]
    ]
    assert len(found) == 1, f"{len(found)} projects run {marker!r}"
    return found[0]


def test_a_change_flows_source_synth_staging_approval_prod(template):
    assert stage_actions(template) == {
        "Source": [("acme_llm-endpoints", 1)],
        "Build": [("Test", 1), ("Synth", 2)],
        "UpdatePipeline": [("SelfMutate", 1)],
        "Staging": [
            ("Preflight", 1),
            ("llm-Support-Bot.Prepare", 2),
            ("llm-chat.Prepare", 2),
            ("llm-smoke-test.Prepare", 2),
            ("llm-Support-Bot.Deploy", 3),
            ("llm-chat.Deploy", 3),
            ("llm-smoke-test.Deploy", 3),
            ("SmokeTest", 4),
            ("TerminationProtection", 4),
        ],
        "Prod": [
            ("Approve", 1),
            ("Preflight", 2),  # after the approval, right before the deploy
            ("llm-Support-Bot.Prepare", 3),
            ("llm-chat.Prepare", 3),
            ("llm-smoke-test.Prepare", 3),
            ("llm-Support-Bot.Deploy", 4),
            ("llm-chat.Deploy", 4),
            ("llm-smoke-test.Deploy", 4),
            ("SmokeTest", 5),
            ("TerminationProtection", 5),
        ],
    }


def test_executions_queue_so_no_run_overtakes_one_waiting_at_the_approval(template):
    template.has_resource_properties("AWS::CodePipeline::Pipeline", {"PipelineType": "V2", "ExecutionMode": "QUEUED"})


@pytest.mark.parametrize(("stage", "account"), [("staging", "222222222222"), ("prod", "333333333333")])
def test_each_stage_checks_every_step_against_the_live_stage_before_it_deploys(template, stage, account):
    lookup = f"arn:aws:iam::{account}:role/cdk-hnb659fds-lookup-role-{account}-eu-west-1"
    spec = buildspec(template, f"--role-arn {lookup}")
    assert spec["phases"]["install"]["commands"] == ["bash tasks.sh setup-locked"]
    assert spec["phases"]["build"]["commands"] == [
        f".venv/bin/python -m migration check --deployment deployments/chat.yaml --role-arn {lookup}",
        f".venv/bin/python -m migration check --deployment deployments/support.yaml --role-arn {lookup}",
    ]
    (logical_id,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": f"llm-pipeline-preflight-{stage}"}})
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": logical_id}]}}).values()
    assume = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": lookup}]


def test_every_build_logs_to_one_group_the_stack_owns_with_retention(template):
    [(group_id, group)] = template.find_resources("AWS::Logs::LogGroup").items()
    assert group["Properties"] == {"LogGroupName": "/llm-endpoints-pipeline/codebuild", "RetentionInDays": 90}
    assert group["DeletionPolicy"] == "Delete"
    projects = template.find_resources("AWS::CodeBuild::Project").values()
    assert len(projects) >= 6  # synth, self-mutation, assets, two preflights, two smoke tests
    for project in projects:
        assert project["Properties"]["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": group_id}


def test_source_is_the_github_repository_through_the_connection(template):
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Stages": Match.array_with(
                [
                    {
                        "Name": "Source",
                        "Actions": [
                            Match.object_like(
                                {
                                    "ActionTypeId": Match.object_like({"Provider": "CodeStarSourceConnection"}),
                                    "Configuration": Match.object_like(
                                        {
                                            "ConnectionArn": CONNECTION,
                                            "FullRepositoryId": "acme/llm-endpoints",
                                            "BranchName": "main",
                                        }
                                    ),
                                }
                            )
                        ],
                    }
                ]
            )
        },
    )


def test_prod_waits_for_a_manual_approval(template):
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "Stages": Match.array_with(
                [
                    {
                        "Name": "Prod",
                        "Actions": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Name": "Approve",
                                        "ActionTypeId": Match.object_like({"Category": "Approval", "Provider": "Manual"}),
                                        "Configuration": {"CustomData": Match.string_like_regexp("Deploy to prod")},
                                    }
                                )
                            ]
                        ),
                    }
                ]
            )
        },
    )


def test_the_tests_run_first_with_the_dev_tools_and_no_output(template):
    spec = buildspec(template, "bash tasks.sh test")
    assert spec["phases"]["install"] == {
        "runtime-versions": {"python": "3.11", "nodejs": "20"},
        "commands": ["bash tasks.sh setup"],
    }
    assert spec["phases"]["build"]["commands"] == ["bash tasks.sh test"]
    assert "artifacts" not in spec


def test_synth_installs_only_hash_checked_packages_then_synthesizes_itself(template):
    """The deploy roles apply the templates synth writes: it runs no package the lock does not hash."""
    spec = buildspec(template, "cdk synth")
    assert spec["phases"]["install"] == {
        "runtime-versions": {"python": "3.11", "nodejs": "20"},
        "commands": ["bash tasks.sh setup-locked"],
    }
    assert spec["phases"]["build"]["commands"] == [
        "node_modules/.bin/cdk synth --app '.venv/bin/python pipeline_app.py' "
        f"-c github_branch=main -c github_connection_arn={CONNECTION} -c github_repository=acme/llm-endpoints "
        "-c stages_file=cicd/stages.yaml",
    ]
    assert spec["artifacts"]["base-directory"] == "cdk.out"


def test_every_step_with_a_role_of_its_own_installs_only_hash_checked_packages(template):
    """Every CodeBuild project but the tests (no credential) and CDK's own (self-mutation, assets: the pinned CLI)."""
    installs = {
        json.dumps(json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["install"]["commands"])
        for project in template.find_resources("AWS::CodeBuild::Project").values()
        if "bash tasks.sh test" not in project["Properties"]["Source"]["BuildSpec"]
    }
    cli = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert installs == {json.dumps(["bash tasks.sh setup-locked"]), json.dumps([f"npm install -g aws-cdk@{cli}"])}


def test_the_test_step_can_read_its_source_and_write_its_logs_only(template):
    """It runs unhashed dev packages: no write to the artifact bucket (what the deploys apply), no role to assume."""
    spec = json.dumps(buildspec(template, "bash tasks.sh test"), indent=2)
    (project,) = [
        p for p in template.find_resources("AWS::CodeBuild::Project").values() if p["Properties"]["Source"]["BuildSpec"] == spec
    ]
    role_id = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {action for s in statements for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {
        *("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
        *("codebuild:BatchPutCodeCoverages", "codebuild:BatchPutTestCases", "codebuild:CreateReport"),
        *("codebuild:CreateReportGroup", "codebuild:UpdateReport"),
        *("s3:GetBucket*", "s3:GetObject*", "s3:List*"),  # the source artifact
        # CDK's grant on the pipeline's key; with no s3:PutObject there is nothing to encrypt for.
        *("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"),
    }


def test_the_pipeline_pins_the_tools_it_installs(template):
    cli = json.loads((REPO_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert buildspec(template, "deploy llm-endpoints-pipeline")["phases"]["install"]["commands"] == [
        f"npm install -g aws-cdk@{cli}"
    ]


@pytest.mark.parametrize(("stage", "account"), [("staging", "222222222222"), ("prod", "333333333333")])
def test_each_stage_smoke_tests_every_endpoint_through_its_own_role(template, stage, account):
    role = f"arn:aws:iam::{account}:role/llm-smoke-test-{stage}"
    spec = buildspec(template, role)
    assert spec["phases"]["install"]["commands"] == ["bash tasks.sh setup-locked"]
    assert spec["phases"]["build"]["commands"] == [
        f".venv/bin/python scripts/smoke_test.py --endpoint chat --region eu-west-1 --role-arn {role}",
        f".venv/bin/python scripts/smoke_test.py --endpoint Support-Bot --region eu-west-1 --role-arn {role}",
    ]


@pytest.mark.parametrize(("stage", "account"), [("staging", "222222222222"), ("prod", "333333333333")])
def test_the_smoke_step_may_assume_only_its_stage_role(template, stage, account):
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": f"llm-pipeline-smoke-test-{stage}"}})
    (logical_id,) = roles
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": logical_id}]}}).values()
    assume = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": f"arn:aws:iam::{account}:role/llm-smoke-test-{stage}"}
    ]


@pytest.mark.parametrize(("stage", "account"), [("staging", "222222222222"), ("prod", "333333333333")])
def test_after_each_deploy_every_endpoint_stack_gets_termination_protection(template, pipeline, stage, account):
    """CodePipeline's CloudFormation action cannot set it: a post-deploy step does, through a role allowed only that."""
    protect = f"arn:aws:iam::{account}:role/llm-protect-stacks-{stage}"
    spec = buildspec(template, f"--role-arn {protect}")
    assert spec["phases"]["install"]["commands"] == ["bash tasks.sh setup-locked"]
    assert spec["phases"]["build"]["commands"] == [
        f".venv/bin/python scripts/protect_stacks.py --region eu-west-1 --role-arn {protect} llm-chat llm-Support-Bot"
    ]
    (caller_id,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": f"llm-pipeline-protect-{stage}"}})
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": caller_id}]}}).values()
    assume = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": protect}]
    access = Template.from_stack(pipeline.stages[stage].smoke_test_access)
    (role_id, role), *_ = access.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": f"llm-protect-stacks-{stage}"}}
    ).items()
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::111111111111:role/llm-pipeline-protect-{stage}"}},
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        }
    ]
    (granted,) = access.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}).values()
    assert granted["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": ["cloudformation:DescribeStacks", "cloudformation:UpdateTerminationProtection"],
            "Effect": "Allow",
            "Resource": [
                f"arn:aws:cloudformation:eu-west-1:{account}:stack/llm-Support-Bot/*",
                f"arn:aws:cloudformation:eu-west-1:{account}:stack/llm-chat/*",
            ],
        }
    ]


def test_the_stage_smoke_role_trusts_only_the_pipeline_step_and_invokes_only_its_endpoints(pipeline):
    access = Template.from_stack(pipeline.stages["staging"].smoke_test_access)
    access.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "llm-smoke-test-staging",
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                        "Condition": {
                            "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/llm-pipeline-smoke-test-staging"}
                        },
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )
    access.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "ssm:GetParameter",
                        "Effect": "Allow",
                        "Resource": [
                            "arn:aws:ssm:eu-west-1:222222222222:parameter/llm-endpoints/Support-Bot",
                            "arn:aws:ssm:eu-west-1:222222222222:parameter/llm-endpoints/chat",
                        ],
                    },
                    {
                        "Action": "sagemaker:InvokeEndpoint",
                        "Effect": "Allow",
                        "Resource": [
                            "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/chat",
                            "arn:aws:sagemaker:eu-west-1:222222222222:endpoint/support-bot",
                        ],
                    },
                ],
                "Version": "2012-10-17",
            }
        },
    )


def test_stages_deploy_the_deployment_files_into_their_own_account_and_region(pipeline):
    for name, account in (("staging", "222222222222"), ("prod", "333333333333")):
        stacks = {stack.stack_name: stack for stack in pipeline.stages[name].endpoint_stacks}
        assert sorted(stacks) == ["llm-Support-Bot", "llm-chat"], "same stack names as `cdk deploy -c deployment=...`"
        chat = stacks["llm-chat"]
        assert (chat.account, chat.region) == (account, "eu-west-1")
        config = Template.from_stack(chat).find_resources("AWS::SageMaker::EndpointConfig")
        (endpoint_config,) = config.values()
        weights = {v["VariantName"]: v["InitialVariantWeight"] for v in endpoint_config["Properties"]["ProductionVariants"]}
        assert weights == {"mistral-7b": 90, "mixtral-8x7b": 10}


def test_artifacts_are_encrypted_with_a_rotating_key_for_cross_account_deploys(template):
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})}
                ]
            },
            "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicAcls": True, "RestrictPublicBuckets": True}),
        },
    )


def at(document: Any, path: list[Any]) -> Any:
    for key in path:
        document = document[key]
    return document


def test_pipeline_template_lints_clean(template):
    """cfn-lint finds nothing but two notes on what CDK Pipelines writes, both valid CloudFormation:

    W3005, a DependsOn CDK adds although a GetAtt already orders the resources; and E3703 on the deploy actions'
    RoleArn, which CDK writes as Fn::Join of the partition and the CDK bootstrap role (cfn-lint wants a literal
    ARN or Fn::Sub there; CloudFormation resolves the Join before CodePipeline sees it).
    """
    document = template.to_json()
    matches = cfn_lint(document)
    bootstrap_role_arns = [
        m for m in matches if m.rule.id == "E3703" and "cdk-hnb659fds-cfn-exec-role" in json.dumps(at(document, m.path))
    ]
    assert len(bootstrap_role_arns) == 6  # 3 in each stage: two endpoint stacks and the smoke-test stack
    rest = [str(m) for m in matches if m not in bootstrap_role_arns and m.rule.id != "W3005"]
    assert rest == []


def test_pipeline_snapshot(template, pipeline, snapshot: SnapshotAssertion):
    smoke_access = Template.from_stack(pipeline.stages["prod"].smoke_test_access).to_json()
    assert masked({"pipeline": template.to_json(), "prod-smoke-test-access": smoke_access}) == snapshot.use_extension(
        JSONSnapshotExtension
    )


def test_the_repository_own_stages_and_deployment_files_synthesize_clean(tmp_path, registry):
    app, stack = build(REPO_ROOT, registry, tmp_path / "out")
    app.synth()  # cdk-nag findings would raise here
    assert [name for name in stack.stages] == [
        stage["name"] for stage in yaml.safe_load((REPO_ROOT / "cicd/stages.yaml").read_text())["stages"]
    ]


# --- bad input: one ConfigError naming the file or flag, the field and the fix -------------------------------------------


def config_error(root: Path, registry: Any, tmp_path: Path, **context: Any) -> str:
    app = App(context={**CONTEXT, **context}, outdir=str(tmp_path / "out"))
    with pytest.raises(ConfigError) as caught:
        add_pipeline(app, registry, repo_root=root)
    assert app.node.children == [], "no construct may exist after bad input"
    return str(caught.value)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"github_connection_arn": None},
            "-c github_connection_arn: missing: the ARN of a CodeStar connection to GitHub is required",
        ),
        ({"github_repository": None}, "-c github_repository: missing: the GitHub repository as owner/name is required"),
        ({"github_connection_arn": "arn:aws:iam::111111111111:role/x"}, "is not the ARN of a CodeStar connection"),
        ({"github_repository": "just-a-name"}, "-c github_repository: 'just-a-name' is not the GitHub repository as owner/name"),
        ({"github_branch": "main; rm -rf /"}, "-c github_branch: 'main; rm -rf /' is not a value like main"),
        ({"github_branch": "main\n"}, "-c github_branch: 'main\\n' is not a value like main"),
        (
            {"github_brnch": "release"},
            "-c github_brnch: unknown context key: pipeline_app.py reads no such key\n  fix: did you mean -c github_branch?",
        ),
        ({"model": "mixtral"}, "-c model: unknown context key: pipeline_app.py reads no such key\n  fix: remove it"),
    ],
)
def test_bad_or_missing_context_is_refused(tmp_path, registry, context, message):
    root = make_repo(tmp_path / "repo")
    app = App(context={key: value for key, value in {**CONTEXT, **context}.items() if value is not None})
    with pytest.raises(ConfigError, match="fix: ") as caught:
        add_pipeline(app, registry, repo_root=root)
    assert message in str(caught.value)


def test_a_deployment_file_in_another_region_is_refused(tmp_path, registry):
    root = make_repo(tmp_path / "repo", chat={**CHAT, "region": "us-west-2"})
    message = config_error(root, registry, tmp_path)
    assert (
        "deployments/chat.yaml: region: 'us-west-2' differs from the region of stage staging (eu-west-1, cicd/stages.yaml)"
        in message
    )
    assert "fix: remove `region` from the file" in message


def test_two_files_for_one_endpoint_are_refused(tmp_path, registry):
    root = make_repo(tmp_path / "repo", a=CHAT, b={"endpoint": "chat", "model": "mistral"})
    assert "endpoint: endpoint 'chat' is also deployed by" in config_error(root, registry, tmp_path)


def test_a_stage_that_matches_no_deployment_file_is_refused(tmp_path, registry):
    stages = {**STAGES, "stages": [{**STAGES["stages"][0], "deployments": ["deployments/nothing-*.yaml"]}]}
    root = make_repo(tmp_path / "repo", stages=stages)
    message = config_error(root, registry, tmp_path)
    assert "cicd/stages.yaml: stages.staging.deployments: deployments/nothing-*.yaml matches no deployment file" in message


def test_an_invalid_deployment_file_names_file_and_field(tmp_path, registry):
    root = make_repo(tmp_path / "repo", chat={**CHAT, "candidate_weight": 150})
    assert "chat.yaml: candidate_weight" in config_error(root, registry, tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["stages"].append(dict(s["stages"][0])), "stages: stage name 'staging' is used twice"),
        (lambda s: s["stages"][0].update(account=222222222222), "stages.0.account"),
        (lambda s: s["stages"][0].update(name="Prod Stage"), "stages.0.name"),
        (lambda s: s["stages"][0].update(region="Europe"), "stages.0.region"),
        (lambda s: s["stages"][0].update(approve=True), "stages.0.approve: unknown key"),
        (lambda s: s["stages"][0].update(deployments=["../other/*.yaml"]), "is not a path inside the repository"),
        (lambda s: s.update(stages=[]), "stages"),
        (lambda s: s.pop("pipeline"), "pipeline: required key is missing"),
    ],
)
def test_bad_stages_file_is_refused(tmp_path, registry, change, message):
    stages = json.loads(json.dumps(STAGES))
    change(stages)
    root = make_repo(tmp_path / "repo", stages=stages)
    error = config_error(root, registry, tmp_path)
    assert error.startswith("cicd/stages.yaml: ")
    assert message in error


def run_pipeline_app(tmp_path: Path, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**OFFLINE_ENV, "PATH": "/usr/bin:/bin", "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "pipeline_app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.e2e
def test_pipeline_app_without_a_connection_exits_2_with_one_message(tmp_path):
    result = run_pipeline_app(tmp_path, {"github_repository": "acme/llm-endpoints"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: -c github_connection_arn: missing")
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_a_bedrock_deployment_is_lifecycle_checked_deployed_and_smoke_tested_on_exactly_its_model(tmp_path, registry):
    stages = {**STAGES, "stages": [{"name": "staging", "account": "222222222222", "region": "us-east-1"}]}
    root = make_repo(tmp_path / "repo", stages=stages, assistant={"endpoint": "assistant", "model": "claude-haiku-4-5"})
    app, stack = build(root, registry, tmp_path / "out")
    app.synth()  # cdk-nag clean
    (endpoint_stack,) = stack.stages["staging"].endpoint_stacks
    assert endpoint_stack.stack_name == "llm-assistant"
    Template.from_stack(endpoint_stack).resource_count_is("AWS::SageMaker::Endpoint", 0)
    access = Template.from_stack(stack.stages["staging"].smoke_test_access)
    (smoke_role,) = access.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": "llm-smoke-test-staging"}})
    (policy,) = access.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": smoke_role}]}}).values()
    model_id = "anthropic.claude-haiku-4-5-20251001-v1:0"
    profile = f"arn:aws:bedrock:us-east-1:222222222222:inference-profile/us.{model_id}"
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "ssm:GetParameter",
            "Effect": "Allow",
            "Resource": "arn:aws:ssm:us-east-1:222222222222:parameter/llm-endpoints/assistant",
        },
        # The profile, called in the stage's region, and the model in the profile's destinations only through it.
        {"Action": "bedrock:InvokeModel", "Effect": "Allow", "Resource": profile},
        {
            "Action": "bedrock:InvokeModel",
            "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile}},
            "Effect": "Allow",
            "Resource": [f"arn:aws:bedrock:{r}::foundation-model/{model_id}" for r in ("us-east-1", "us-east-2", "us-west-2")],
        },
        # The lifecycle check before the deploy reads the model's modelLifecycle.
        {
            "Action": "bedrock:GetFoundationModel",
            "Effect": "Allow",
            "Resource": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}",
        },
    ]
    commands = json.dumps(Template.from_stack(stack).find_resources("AWS::CodeBuild::Project"))
    assert (
        "python scripts/bedrock_lifecycle.py --region us-east-1 --role-arn"
        " arn:aws:iam::222222222222:role/llm-smoke-test-staging claude-haiku-4-5"
    ) in commands


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("entry", "context", "template"),
    [
        ("pipeline_app.py", CONTEXT, "llm-endpoints-pipeline.template.json"),
        (
            "github_oidc_app.py",
            {"github_repository": "acme/llm-endpoints", "stage": "staging"},
            "llm-github-oidc-staging.template.json",
        ),
    ],
)
def test_the_real_cdk_cli_synthesizes_the_ci_apps_with_cdk_json(tmp_path, entry, context, template):
    """Through the CLI, cdk.json's feature flags apply (e.g. partition literals, which change cdk-nag finding IDs)."""
    flags = [arg for key, value in context.items() for arg in ("-c", f"{key}={value}")]
    result = subprocess.run(
        [
            str(REPO_ROOT / "node_modules/.bin/cdk"),
            "synth",
            "--app",
            f".venv/bin/python {entry}",
            *flags,
            "-q",
            "--output",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / template).exists()
