"""Optional, per stage account: GitHub's OIDC provider and the two roles the workflows assume (docs/ci-cd.md).

- ``llm-github-deploy-STAGE``: only jobs in the GitHub environment STAGE of one repository, running the reusable
  workflow deploy-stage.yml from the deploy branch (``job_workflow_ref``) for a run of the deploy branch itself
  (``ref``: in a reusable workflow it is the caller's ref, and the caller's commit is what gets checked out and
  deployed), may assume it. It may assume the CDK
  bootstrap roles of this account and region (which do the deploying; the lookup role also reads the live stage for
  the preflight check), smoke test the stage's endpoints and read its routers' parameters; nothing else.
- ``llm-github-diff-STAGE``: only pull-request jobs of that repository. A pull request runs its own, unreviewed
  code, so this role reads exactly what `cdk diff --method template` needs: the templates and descriptions of the
  stage's endpoint and router stacks (CloudFormation DescribeStacks, GetTemplate). It no longer assumes the
  bootstrap lookup role, whose ReadOnlyAccess includes sagemaker:DescribeModel, which returns a model's environment
  (a Hugging Face token). A template holds secrets only as `{{resolve:...}}` references, never their values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from llm_config.deployment import DeploymentSpec
from llm_config.stages import StageConfig, bootstrap_role_arn, github_deploy_role_name, github_diff_role_name
from routing.router_spec import RouterSpec
from stacks.pipeline_stack import grant_on_stacks, smoke_test_statements

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates (default qualifier); the deploy role passes the CloudFormation execution role.
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
MAX_SESSION = Duration.hours(3)  # deploy-stage.yml asks for 3 h: long blue/green updates
DEPLOY_WORKFLOW = ".github/workflows/deploy-stage.yml"  # the reusable workflow that deploys a stage
# What `cdk diff --method template` calls with the credentials it has (the CLI warns that it did not assume the
# lookup role, then proceeds): DescribeStacks, then GetTemplate.
DIFF_ACTIONS = ("cloudformation:DescribeStacks", "cloudformation:GetTemplate")


class GitHubOidcStack(Stack):
    """GitHub OIDC trust for one stage. ``provider_arn``: an existing provider (an account holds one per URL)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        stage: StageConfig,
        specs: Sequence[DeploymentSpec],
        routers: Sequence[RouterSpec] = (),
        branch: str = "main",
        provider_arn: str | None = None,
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        # Retained on stack deletion: other roles in the account may trust the same provider.
        provider: iam.IOidcProvider = (
            iam.OidcProviderNative.from_oidc_provider_arn(self, "GitHubProvider", provider_arn)
            if provider_arn
            else iam.OidcProviderNative(
                self, "GitHubProvider", url=GITHUB_OIDC_URL, client_ids=[AUDIENCE], removal_policy=RemovalPolicy.RETAIN
            )
        )
        self.deploy_role = self._github_role(
            "DeployRole",
            name=github_deploy_role_name(stage),
            description=f"GitHub Actions deploys stage {stage.name} of {repository}",
            # job_workflow_ref names the reusable workflow and the ref it was read from; but a workflow on any branch
            # may call deploy-stage.yml@BRANCH, and a reusable workflow runs in its caller's context: it checks out
            # and deploys the caller's commit. The `ref` claim is the caller's ref (GitHub: "the workflow, ref, and
            # other attributes describe the caller workflow"), so it is what pins the deployed code to the branch.
            principal=self._github(
                provider,
                f"repo:{repository}:environment:{stage.name}",
                job_workflow_ref=f"{repository}/{DEPLOY_WORKFLOW}@refs/heads/{branch}",
                ref=f"refs/heads/{branch}",
            ),
            max_session=MAX_SESSION,
            statements=[
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"], resources=[bootstrap_role_arn(stage, k) for k in BOOTSTRAP_ROLES]
                ),
                *smoke_test_statements(stage, specs, routers),
            ],
        )
        self.diff_role = self._github_role(
            "DiffRole",
            name=github_diff_role_name(stage),
            description=f"GitHub Actions pull requests of {repository} diff stage {stage.name} (read-only)",
            principal=self._github(provider, f"repo:{repository}:pull_request"),
            max_session=Duration.hours(1),
            statements=[],
        )
        stacks = [*(spec.stack_name for spec in specs), *(router.stack_name for router in routers)]
        grant_on_stacks(self.diff_role, stage, stacks, DIFF_ACTIONS)
        CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn, description="deploy-stage.yml assumes it")
        CfnOutput(self, "DiffRoleArn", value=self.diff_role.role_arn, description="checks.yml (cdk diff) assumes it")

    def _github_role(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        principal: iam.IPrincipal,
        max_session: Duration,
        statements: Sequence[iam.PolicyStatement],
    ) -> iam.Role:
        role = iam.Role(
            self, construct_id, role_name=name, description=description, assumed_by=principal, max_session_duration=max_session
        )
        for statement in statements:
            role.add_to_policy(statement)
        return role

    @staticmethod
    def _github(provider: iam.IOidcProvider, subject: str, **claims: str) -> iam.IPrincipal:
        """Tokens GitHub issued for AWS (audience) to exactly this repository and job kind (subject), and with these
        values of GitHub's other claims (AWS STS checks ``job_workflow_ref``, ``ref``, ``environment``, ``repository``
        and a few more as condition keys since January 2026)."""
        conditions = {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": subject}
        conditions.update({f"{GITHUB_OIDC_HOST}:{claim}": value for claim, value in claims.items()})
        return iam.WebIdentityPrincipal(provider.oidc_provider_arn, conditions={"StringEquals": conditions})
