"""The optional GitHub OIDC stack (github_oidc_app.py): who may assume each role, and what each role may do."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from llm_config import ConfigError
from scripts import ci_stage
from stacks.ci_factory import add_github_oidc
from tests.conftest import CDK_JSON_CONTEXT, REPO_ROOT, cfn_lint
from tests.test_pipeline import make_repo
from tests.test_snapshots import masked

CONTEXT = {"github_repository": "acme/llm-endpoints", "stage": "prod"}
PROVIDER = "arn:aws:iam::333333333333:oidc-provider/token.actions.githubusercontent.com"


def synth(root, registry, tmp_path, **context: Any) -> Template:
    app = App(context={**CDK_JSON_CONTEXT, **CONTEXT, **context}, outdir=str(tmp_path / "out"))
    stack = add_github_oidc(app, registry, repo_root=root)
    app.synth()  # cdk-nag findings fail here
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def template(tmp_path_factory, registry) -> Template:
    root = make_repo(tmp_path_factory.mktemp("repo"))
    return synth(root, registry, tmp_path_factory.mktemp("synth"))


def role(template: Template, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (logical_id, resource), *_ = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": name}}).items()
    (policy,) = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": logical_id}]}}).values()
    return resource["Properties"], policy["Properties"]["PolicyDocument"]["Statement"]


def github_trust(subject: str, provider: Any, **claims: str) -> dict[str, Any]:
    return {
        "Statement": [
            {
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": subject,
                        **{f"token.actions.githubusercontent.com:{k}": v for k, v in claims.items()},
                    }
                },
                "Effect": "Allow",
                "Principal": {"Federated": provider},
            }
        ],
        "Version": "2012-10-17",
    }


def bootstrap(kind: str) -> str:
    return f"arn:aws:iam::333333333333:role/cdk-hnb659fds-{kind}-role-333333333333-eu-west-1"


def test_the_provider_trusts_github_tokens_for_aws_and_survives_stack_deletion(template):
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.has_resource(
        "AWS::IAM::OIDCProvider",
        {
            "Properties": {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]},
            "DeletionPolicy": "Retain",
        },
    )


def test_only_the_deploy_workflow_of_the_deploy_branch_in_the_stage_environment_may_deploy(template):
    props, statements = role(template, "llm-github-deploy-prod")
    (provider,) = template.find_resources("AWS::IAM::OIDCProvider")
    assert props["AssumeRolePolicyDocument"] == github_trust(
        "repo:acme/llm-endpoints:environment:prod",
        {"Ref": provider},
        job_workflow_ref="acme/llm-endpoints/.github/workflows/deploy-stage.yml@refs/heads/main",
        ref="refs/heads/main",
    )
    assert props["MaxSessionDuration"] == 3 * 3600
    assert statements == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": [bootstrap(kind) for kind in ("deploy", "file-publishing", "image-publishing", "lookup")],
        },
        {
            "Action": "ssm:GetParameter",
            "Effect": "Allow",
            "Resource": [
                "arn:aws:ssm:eu-west-1:333333333333:parameter/llm-endpoints/Support-Bot",
                "arn:aws:ssm:eu-west-1:333333333333:parameter/llm-endpoints/chat",
            ],
        },
        {
            "Action": "sagemaker:InvokeEndpoint",
            "Effect": "Allow",
            "Resource": [
                "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/chat",
                "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/support-bot",
            ],
        },
    ]


def test_another_deploy_branch_is_pinned_too(tmp_path, registry):
    template = synth(make_repo(tmp_path / "repo"), registry, tmp_path, github_branch="release")
    props, _ = role(template, "llm-github-deploy-prod")
    [claims] = [s["Condition"]["StringEquals"] for s in props["AssumeRolePolicyDocument"]["Statement"]]
    assert claims["token.actions.githubusercontent.com:job_workflow_ref"].endswith("deploy-stage.yml@refs/heads/release")
    assert claims["token.actions.githubusercontent.com:ref"] == "refs/heads/release"


def test_pull_requests_read_only_the_stage_stacks_templates(template):
    """A pull request runs unreviewed code: no role that could read a model's environment (DescribeModel returns
    the Hugging Face token), so no lookup role (ReadOnlyAccess) either."""
    props, statements = role(template, "llm-github-diff-prod")
    (provider,) = template.find_resources("AWS::IAM::OIDCProvider")
    assert props["AssumeRolePolicyDocument"] == github_trust("repo:acme/llm-endpoints:pull_request", {"Ref": provider})
    assert statements == [
        {
            "Action": ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
            "Effect": "Allow",
            "Resource": [
                "arn:aws:cloudformation:eu-west-1:333333333333:stack/llm-Support-Bot/*",
                "arn:aws:cloudformation:eu-west-1:333333333333:stack/llm-chat/*",
            ],
        }
    ]
    assert props.get("ManagedPolicyArns") is None


def admits(trust: dict[str, Any], token: dict[str, str]) -> bool:
    """Whether a token with these claims meets the trust policy's StringEquals conditions (all the policy uses)."""
    (statement,) = trust["Statement"]
    (operator,) = statement["Condition"]
    assert operator == "StringEquals"
    prefix = "token.actions.githubusercontent.com:"
    return all(token.get(key.removeprefix(prefix)) == value for key, value in statement["Condition"][operator].items())


# GitHub's token for a job of a reusable workflow: "the workflow, ref, and other attributes describe the caller
# workflow, while job_workflow_ref refers to the called workflow" (docs: OIDC with reusable workflows).
DEPLOY_TOKEN = {
    "aud": "sts.amazonaws.com",
    "sub": "repo:acme/llm-endpoints:environment:prod",
    "environment": "prod",
    "ref": "refs/heads/main",
    "job_workflow_ref": "acme/llm-endpoints/.github/workflows/deploy-stage.yml@refs/heads/main",
}


@pytest.mark.parametrize(
    ("claims", "admitted"),
    [
        ({}, True),  # deploy.yml's run on main calls deploy-stage.yml
        # A workflow pushed on a branch calls deploy-stage.yml@main in the environment: the job would check out and
        # deploy the branch's unreviewed code; its token says so in `ref`.
        ({"ref": "refs/heads/feature"}, False),
        ({"ref": "refs/pull/7/merge"}, False),
        ({"ref": "refs/tags/v1"}, False),
        ({"job_workflow_ref": "acme/llm-endpoints/.github/workflows/deploy-stage.yml@refs/heads/feature"}, False),
        ({"sub": "repo:acme/llm-endpoints:environment:staging", "environment": "staging"}, False),
        ({"sub": "repo:acme/llm-endpoints:ref:refs/heads/main"}, False),  # a job outside the environment
    ],
)
def test_a_caller_on_any_other_ref_gets_no_deploy_credentials(template, claims, admitted):
    props, _ = role(template, "llm-github-deploy-prod")
    assert admits(props["AssumeRolePolicyDocument"], {**DEPLOY_TOKEN, **claims}) is admitted


def test_the_workflows_assume_exactly_these_roles(capsys):
    assert ci_stage.main(["outputs", "prod"]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert out["deploy_role_arn"].endswith(":role/llm-github-deploy-prod")
    assert out["diff_role_arn"].endswith(":role/llm-github-diff-prod")


def test_an_existing_provider_is_reused(tmp_path, registry):
    template = synth(make_repo(tmp_path / "repo"), registry, tmp_path, oidc_provider_arn=PROVIDER)
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    props, _ = role(template, "llm-github-deploy-prod")
    assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": PROVIDER}


def test_template_lints_clean(template):
    assert [str(m) for m in cfn_lint(template.to_json(), "eu-west-1")] == []


def test_snapshot(template, snapshot: SnapshotAssertion):
    assert masked(template.to_json()) == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"github_repository": None}, "-c github_repository: missing"),
        ({"stage": None}, "-c stage: missing: the name of a stage in the stages file is required"),
        ({"stage": "qa"}, "cicd/stages.yaml: stages: no stage named 'qa'"),
        (
            {"oidc_provider_arn": "arn:aws:iam::333333333333:oidc-provider/example.com"},
            "is not the ARN of GitHub's OIDC provider",
        ),
        (
            {"oidc_provider": PROVIDER},
            "-c oidc_provider: unknown context key: github_oidc_app.py reads no such key\n"
            "  fix: did you mean -c oidc_provider_arn?",
        ),
    ],
)
def test_bad_input_is_refused(tmp_path, registry, context, message):
    app = App(context={k: v for k, v in {**CONTEXT, **context}.items() if v is not None})
    with pytest.raises(ConfigError, match="fix: ") as caught:
        add_github_oidc(app, registry, repo_root=make_repo(tmp_path / "repo"))
    assert message in str(caught.value)


def test_the_repository_own_stages_synthesize(tmp_path, registry):
    for stage in ("staging", "prod"):
        synth(REPO_ROOT, registry, tmp_path / stage, stage=stage)
