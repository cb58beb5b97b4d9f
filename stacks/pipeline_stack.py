"""The CDK pipeline: GitHub source, tests, synth, then each stage deploys and is smoke tested.

A stage's router files (routing.ci) deploy as stacks that depend on every endpoint stack of the stage, so CDK
Pipelines orders their actions after the endpoints' deploys; each has its own preflight (its routes exist) before and
check (its parameter read back) after.

Built only by pipeline_app.py; `cdk deploy -c model=...` (app.py) never sees it. docs/ci-cd.md explains the setup.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Environment, RemovalPolicy, Stack, Stage, Token, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from evaluation.ci import shift_gate_commands
from llm_config import BedrockModelConfig, ModelRegistry, SageMakerModelConfig
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV
from llm_config.deployment import DeploymentSpec, partition_of_region
from llm_config.stages import (
    StageConfig,
    bootstrap_role_arn,
    preflight_role_name,
    protect_caller_role_name,
    protect_role_name,
    role_arn,
    smoke_test_caller_role_name,
    smoke_test_role_name,
)
from llm_constructs.bedrock_model_access import invoke_statements
from llm_constructs.nag import acknowledge
from routing.ci import router_check_command
from routing.router_spec import RouterSpec
from stacks.app_factory import build_router_stack, build_stack
from stacks.sagemaker_endpoint_stack import CLIENT_PARAMETER_PREFIX

# The build image's runtimes match what tasks.sh requires (Python 3.11+, Node 20+); pinned, not "latest".
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "20"}
RUNTIMES = codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}})
# Synth, tests and lint never reach AWS or the CDK's telemetry endpoints (tasks.sh sets the same).
OFFLINE_ENV = CDK_CLI_OFFLINE_ENV
# Self-mutation and asset publishing install the CDK CLI: the same version as package.json (not "aws-cdk@2").
CDK_CLI_VERSION = "2.1148.1"
BUILD_LOG_GROUP = "/llm-endpoints-pipeline/codebuild"  # every CodeBuild project of the pipeline logs here
BUILD_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# Every step that holds a credential installs only hash-checked packages: requirements.lock (the runtime packages
# and the evaluation harness's, pip --require-hashes), llm_client from the checkout, the CDK CLI with npm ci. That is
# synth too: the deploy roles apply the templates it writes. Only the Test step installs the dev tools unchecked,
# and its role can read the source and write its logs, nothing else (docs/ci-cd.md, "Supply chain").
LOCKED_INSTALL = "bash tasks.sh setup-locked"  # `bash`: source artifacts are zips, which need not keep the x bit
PYTHON = ".venv/bin/python"  # what LOCKED_INSTALL installs into
# What CDK's grantReadWrite gives a role on a KMS-encrypted bucket (cdk-nag flags each action group).
ARTIFACT_GRANT_ACTIONS = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:Abort*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
)


@dataclass(frozen=True)
class GitHubSource:
    """The repository and branch the pipeline watches, through a CodeStar (CodeConnections) connection."""

    connection_arn: str
    repository: str  # owner/name
    branch: str


@dataclass(frozen=True)
class StageDeployments:
    """One stage, the endpoint specs its deployment files describe and its routers (regions set to the stage's)."""

    stage: StageConfig
    specs: Sequence[DeploymentSpec]
    repo_root: Path = Path()  # where the specs' files live: build steps name them relative to the checkout
    routers: Sequence[RouterSpec] = ()  # deployed after every endpoint stack of the stage

    def file_in_checkout(self, source: str) -> str:
        """A deployment file (``spec.source``, ``router.source``) as the build steps name it."""
        return Path(os.path.relpath(Path(source).resolve(), self.repo_root.resolve())).as_posix()


def smoke_test_statements(
    stage: StageConfig, specs: Sequence[DeploymentSpec], routers: Sequence[RouterSpec] = ()
) -> list[iam.PolicyStatement]:
    """Exactly what the smoke test calls in a stage: read each endpoint's SSM parameter, then invoke the SageMaker
    endpoint (InvokeEndpoint) or the Bedrock model (Converse, authorized by bedrock:InvokeModel); read each router's
    parameter (the router check invokes nothing)."""
    partition = partition_of_region(stage.region)
    prefix = f"arn:{partition}:ssm:{stage.region}:{stage.account}:parameter{CLIENT_PARAMETER_PREFIX}"
    names = [*(spec.endpoint_name for spec in specs), *(router.name for router in routers)]
    statements = [iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[f"{prefix}/{name}" for name in names])]
    # SageMaker lowercases endpoint names in ARNs.
    endpoints = [
        f"arn:{partition}:sagemaker:{stage.region}:{stage.account}:endpoint/{spec.endpoint_name.lower()}"
        for spec in specs
        if isinstance(spec.model, SageMakerModelConfig)
    ]
    if endpoints:
        statements.append(iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=endpoints))
    bedrock = [(spec.model, spec.source) for spec in specs if isinstance(spec.model, BedrockModelConfig)]
    for model, source in bedrock:
        route = model.route(stage.region, source)
        statements += invoke_statements(
            route, partition=partition, account=stage.account, actions=["bedrock:InvokeModel"], sids=False
        )
    if bedrock:
        # The lifecycle check before the deploy (scripts/bedrock_lifecycle.py) reads each model's modelLifecycle.
        models = sorted({f"arn:{partition}:bedrock:{stage.region}::foundation-model/{m.model_id}" for m, _ in bedrock})
        statements.append(iam.PolicyStatement(actions=["bedrock:GetFoundationModel"], resources=models))
    return statements


def stack_arn(stage: StageConfig, stack_name: str) -> str:
    """Every incarnation of the stack ``stack_name`` (CloudFormation appends a generated stack ID)."""
    partition = partition_of_region(stage.region)
    return f"arn:{partition}:cloudformation:{stage.region}:{stage.account}:stack/{stack_name}/*"


def grant_on_stacks(role: iam.Role, stage: StageConfig, stack_names: Sequence[str], actions: Sequence[str]) -> None:
    """Allow ``actions`` on the stage's stacks ``stack_names`` (each named; `/*` is CloudFormation's stack ID)."""
    arns = [stack_arn(stage, name) for name in stack_names]
    role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=arns))
    for arn in arns:
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{arn}]",
            "One named stack: CloudFormation appends a generated ID to the stack's ARN, which the template cannot "
            "know, so `/*` stands for that ID (every incarnation of this stack), not for other stacks.",
        )


def preflight_command(path: str, lookup_role_arn: str) -> list[str]:
    """`python -m migration check` of one deployment file (endpoint or router) against the live stage."""
    return [PYTHON, "-m", "migration", "check", "--deployment", path, "--role-arn", lookup_role_arn]


# What scripts/protect_stacks.py calls: turn the protection on, then read it back.
PROTECT_ACTIONS = ("cloudformation:UpdateTerminationProtection", "cloudformation:DescribeStacks")


class SmokeTestAccessStack(Stack):
    """In a stage's account: the two roles the pipeline's post-deploy steps assume. ``llm-smoke-test-STAGE`` may invoke
    that stage's endpoints and read its routers' parameters only; ``llm-protect-stacks-STAGE`` may turn on its
    endpoint stacks' termination protection only (CodePipeline's CloudFormation action cannot). Router stacks get
    none: they hold one parameter, which a redeploy of the router file restores (docs/ci-cd.md).

    Trust: the pipeline account, and there only the principal named ``caller_role_arn`` (the smoke-test step's role),
    respectively ``protect_caller_role_arn`` (the protection step's role).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        specs: Sequence[DeploymentSpec],
        caller_role_arn: str,
        protect_caller_role_arn: str,
        routers: Sequence[RouterSpec] = (),
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        self.role = self._role(
            "SmokeTestRole",
            name=smoke_test_role_name(stage),
            description=f"Assumed by the LLM endpoints pipeline to smoke test stage {stage.name}",
            caller_role_arn=caller_role_arn,
            statements=smoke_test_statements(stage, specs, routers),
        )
        self.protect_role: iam.Role | None = None  # a stage of router files only has no stack to protect
        if specs:
            self.protect_role = self._role(
                "ProtectStacksRole",
                name=protect_role_name(stage),
                description=f"Assumed by the LLM endpoints pipeline to turn on termination protection in stage {stage.name}",
                caller_role_arn=protect_caller_role_arn,
                statements=[],
            )
            grant_on_stacks(self.protect_role, stage, [spec.stack_name for spec in specs], PROTECT_ACTIONS)

    def _role(
        self, construct_id: str, *, name: str, description: str, caller_role_arn: str, statements: Sequence[iam.PolicyStatement]
    ) -> iam.Role:
        caller_account = caller_role_arn.split(":")[4]
        role = iam.Role(
            self,
            construct_id,
            role_name=name,
            description=description,
            assumed_by=iam.AccountPrincipal(caller_account).with_conditions({"ArnEquals": {"aws:PrincipalArn": caller_role_arn}}),
            max_session_duration=Duration.hours(1),
        )
        for statement in statements:
            role.add_to_policy(statement)
        return role


class LlmEndpointsStage(Stage):
    """One pipeline stage: the stack of every endpoint its deployment files describe, plus the smoke-test role, then
    each router's stack, which depends on all of them (its routes deploy first; its check needs the smoke role)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployments: StageDeployments,
        registry: ModelRegistry,
        smoke_test_caller_arn: str,
        protect_caller_arn: str,
    ) -> None:
        stage = deployments.stage
        super().__init__(scope, construct_id, env=Environment(account=stage.account, region=stage.region))
        self.endpoint_stacks = [build_stack(self, spec, registry) for spec in deployments.specs]
        self.smoke_test_access = SmokeTestAccessStack(
            self,
            "llm-smoke-test",
            stack_name="llm-smoke-test",
            stage=stage,
            specs=deployments.specs,
            routers=deployments.routers,
            caller_role_arn=smoke_test_caller_arn,
            protect_caller_role_arn=protect_caller_arn,
            description=f"Roles the LLM endpoints pipeline assumes in stage {stage.name}: smoke test, termination protection",
            analytics_reporting=False,
        )
        self.router_stacks = [build_router_stack(self, router) for router in deployments.routers]
        for router_stack in self.router_stacks:
            for stack in [*self.endpoint_stacks, self.smoke_test_access]:
                router_stack.add_stack_dependency(stack, "a router deploys after its routes (CDK Pipelines orders the actions)")


class LlmPipelineStack(Stack):
    """CodePipeline (via CDK Pipelines): source -> tests -> synth -> [approval ->] stage -> smoke test, per stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: GitHubSource,
        stages: Sequence[StageDeployments],
        registry: ModelRegistry,
        synth_context: dict[str, str],
        **stack_props: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_props)
        repository = pipelines.CodePipelineSource.connection(
            source.repository, source.branch, connection_arn=source.connection_arn, code_build_clone_output=False
        )
        context_flags = " ".join(f"-c {shlex.quote(f'{key}={value}')}" for key, value in sorted(synth_context.items()))
        # The checks (ruff, mypy, pytest: every model synthesized, cfn-lint, cdk-nag) need the dev tools, which are
        # not hash-locked; so they run in a step of their own, before synth, with no output and no credential.
        tests = pipelines.CodeBuildStep(
            "Test",
            input=repository,
            env=OFFLINE_ENV,
            install_commands=["bash tasks.sh setup"],
            commands=["bash tasks.sh test"],
            partial_build_spec=RUNTIMES,
        )
        synth = pipelines.CodeBuildStep(
            "Synth",
            input=repository,
            env=OFFLINE_ENV,
            install_commands=[LOCKED_INSTALL],
            commands=[f"node_modules/.bin/cdk synth --app '{PYTHON} pipeline_app.py' {context_flags}"],
            primary_output_directory="cdk.out",
            partial_build_spec=RUNTIMES,
        )
        synth.add_step_dependency(tests)
        self._smoke_steps: list[pipelines.CodeBuildStep] = [tests]  # steps whose generated grants cdk-nag flags
        # CodeBuild would create /aws/codebuild/PROJECT at run time: kept forever and outliving the stack. One group
        # the stack owns, with retention, deleted with the stack (docs/ci-cd.md#logs).
        self.build_logs = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=BUILD_LOG_GROUP,
            retention=BUILD_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="llm-endpoints",
            synth=synth,
            cross_account_keys=True,  # stages live in other accounts
            enable_key_rotation=True,
            publish_assets_in_parallel=False,
            cli_version=CDK_CLI_VERSION,
            # Executions queue: the default (SUPERSEDED) lets a newer run pass one waiting at the prod approval,
            # and a stage would skip a migration phase. QUEUED needs a V2 pipeline.
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                timeout=Duration.minutes(60),
                logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)),
            ),
        )
        self.smoke_test_roles: dict[str, iam.Role] = {}
        self.preflight_roles: dict[str, iam.Role] = {}
        self.protect_roles: dict[str, iam.Role] = {}
        self.stages: dict[str, LlmEndpointsStage] = {}
        for deployments in stages:
            self._add_stage(repository, deployments, registry)
        self.pipeline.build_pipeline()
        self._acknowledge_pipeline_defaults()

    def _add_stage(
        self, repository: pipelines.CodePipelineSource, deployments: StageDeployments, registry: ModelRegistry
    ) -> None:
        stage = deployments.stage
        title = stage.name.title().replace("-", "")
        smoke_role_arn = role_arn(stage.account, stage.region, smoke_test_role_name(stage))
        # The step's own role, named so the stage's trust policy can name it; it may assume that one role only.
        caller = self._step_role(
            f"SmokeTest{title}Role",
            role_name=smoke_test_caller_role_name(stage),
            description=f"CodeBuild role of the {stage.name} smoke test",
            assumes=smoke_role_arn,
        )
        self.smoke_test_roles[stage.name] = caller
        app_stage = LlmEndpointsStage(
            self,
            title,
            deployments=deployments,
            registry=registry,
            smoke_test_caller_arn=role_arn(self.account, self.region, smoke_test_caller_role_name(stage)),
            protect_caller_arn=role_arn(self.account, self.region, protect_caller_role_name(stage)),
        )
        self.stages[stage.name] = app_stage
        smoke_tests = [
            [PYTHON, "scripts/smoke_test.py", "--endpoint", name, "--region", stage.region, "--role-arn", smoke_role_arn]
            for name in (spec.endpoint_name for spec in deployments.specs)
        ]
        # A stage of router files only has no endpoint to smoke test or protect.
        post = (
            [
                self._protect_step(repository, deployments, title),
                self._locked_step("SmokeTest", repository, role=caller, commands=smoke_tests, timeout=Duration.minutes(15)),
            ]
            if deployments.specs
            else []
        )
        pre: list[pipelines.Step] = []
        bedrock = sorted({spec.model.key for spec in deployments.specs if isinstance(spec.model, BedrockModelConfig)})
        if bedrock:
            # Before the deploy: Bedrock's modelLifecycle must agree with the configs (read-only, the smoke-test role).
            lifecycle = self._locked_step(
                "BedrockLifecycle",
                repository,
                role=caller,
                commands=[
                    [PYTHON, "scripts/bedrock_lifecycle.py", "--region", stage.region, "--role-arn", smoke_role_arn, *bedrock]
                ],
                timeout=Duration.minutes(10),
            )
            self._smoke_steps.append(lifecycle)
            pre.append(lifecycle)
        gates = shift_gate_commands(
            deployments.specs, region=stage.region, tests=stage.evaluation_tests or "", python=PYTHON, role_arn=smoke_role_arn
        )
        if stage.evaluation_tests and gates:
            # Optional, before a deploy that shifts traffic to a candidate: both variants on the stage's test set
            # (docs/evaluation.md); a failed gate stops the stage. Through the smoke-test role (InvokeEndpoint only).
            evaluate = self._locked_step(
                "EvaluateBeforeShift", repository, role=caller, commands=gates, timeout=Duration.minutes(60)
            )
            self._smoke_steps.append(evaluate)
            pre.append(evaluate)
        if stage.approval:
            pre.append(
                pipelines.ManualApprovalStep(
                    "Approve",
                    comment=f"Deploy to {stage.name} ({stage.account}, {stage.region})? "
                    "The stages before it deployed and passed their smoke tests.",
                )
            )
        preflight = self._preflight_step(repository, deployments, title)
        if preflight:
            for step in pre:  # after the approval: the check must describe the stage as it is when the deploy starts
                preflight.add_step_dependency(step)
            pre.append(preflight)
        self._smoke_steps += post[1:]
        routers = self._router_steps(repository, deployments, app_stage, caller, smoke_role_arn)
        self.pipeline.add_stage(app_stage, pre=pre, post=post, stack_steps=routers)

    def _router_steps(
        self,
        repository: pipelines.CodePipelineSource,
        deployments: StageDeployments,
        app_stage: LlmEndpointsStage,
        smoke_caller: iam.Role,
        smoke_role_arn: str,
    ) -> list[pipelines.StackSteps]:
        """Per router stack, which deploys after the endpoint stacks: right before it, the preflight of its file
        (its routes exist now, and none is a router), through the stage's lookup role; right after it, its
        parameter read back through the smoke-test role (ssm:GetParameter on it, nothing more)."""
        lookup = bootstrap_role_arn(deployments.stage, "lookup")
        steps = []
        for router, stack in zip(deployments.routers, app_stage.router_stacks, strict=True):
            path = deployments.file_in_checkout(str(router.source))
            preflight = self._locked_step(
                "Preflight",  # CDK Pipelines names the action STACK.Preflight
                repository,
                role=self.preflight_roles[deployments.stage.name],
                commands=[preflight_command(path, lookup)],
                timeout=Duration.minutes(15),
                region=deployments.stage.region,
            )
            check = self._locked_step(
                "Check",
                repository,
                role=smoke_caller,
                commands=[router_check_command(router, python=PYTHON, role_arn=smoke_role_arn)],
                timeout=Duration.minutes(10),
            )
            self._smoke_steps += [preflight, check]
            steps.append(pipelines.StackSteps(stack=stack, pre=[preflight], post=[check]))
        return steps

    def _protect_step(
        self, repository: pipelines.CodePipelineSource, deployments: StageDeployments, title: str
    ) -> pipelines.CodeBuildStep:
        """After the deploy, termination protection on every endpoint stack of the stage, as `cdk deploy` sets it:
        CodePipeline's CloudFormation action has no setting for it. Through ``llm-protect-stacks-STAGE``, which may
        make that call (and DescribeStacks) on those stacks only."""
        stage = deployments.stage
        protect_arn = role_arn(stage.account, stage.region, protect_role_name(stage))
        stacks = [spec.stack_name for spec in deployments.specs]
        step, self.protect_roles[stage.name] = self._assuming_step(
            "TerminationProtection",
            repository,
            role_id=f"Protect{title}Role",
            role_name=protect_caller_role_name(stage),
            description=f"CodeBuild role of the {stage.name} termination-protection step",
            assumes=protect_arn,
            commands=[[PYTHON, "scripts/protect_stacks.py", "--region", stage.region, "--role-arn", protect_arn, *stacks]],
            timeout=Duration.minutes(10),
        )
        return step

    def _assuming_step(
        self,
        name: str,
        repository: pipelines.CodePipelineSource,
        *,
        role_id: str,
        role_name: str,
        description: str,
        assumes: str,
        commands: Sequence[Sequence[str]],
        timeout: Duration,
    ) -> tuple[pipelines.CodeBuildStep, iam.Role]:
        """A locked step with a role of its own that may assume exactly ``assumes`` (and do nothing else)."""
        role = self._step_role(role_id, role_name=role_name, description=description, assumes=assumes)
        step = self._locked_step(name, repository, role=role, commands=commands, timeout=timeout)
        self._smoke_steps.append(step)  # same generated grants to acknowledge
        return step, role

    def _locked_step(
        self,
        name: str,
        repository: pipelines.CodePipelineSource,
        *,
        role: iam.IRole,
        commands: Sequence[Sequence[str]],
        timeout: Duration,
        region: str | None = None,
    ) -> pipelines.CodeBuildStep:
        """A step that runs ``commands`` with ``role``'s credentials, after installing hash-checked packages only.
        ``region``: the stage's, for commands that read a deployment file without `region` as app.py does (from
        CDK_DEFAULT_REGION; CodeBuild sets only AWS_REGION, to the pipeline's region)."""
        return pipelines.CodeBuildStep(
            name,
            input=repository,
            role=role,
            env={**OFFLINE_ENV, "CDK_DEFAULT_REGION": region} if region else OFFLINE_ENV,
            install_commands=[LOCKED_INSTALL],
            commands=[shlex.join(command) for command in commands],
            partial_build_spec=RUNTIMES,
            timeout=timeout,
        )

    def _step_role(self, construct_id: str, *, role_name: str, description: str, assumes: str) -> iam.Role:
        """A CodeBuild step's own role, named so the stage's trust policy can name it, that may assume exactly one
        role in the stage's account and do nothing else."""
        role = iam.Role(
            self,
            construct_id,
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description=description,
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[assumes]))
        return role

    def _preflight_step(
        self, repository: pipelines.CodePipelineSource, deployments: StageDeployments, title: str
    ) -> pipelines.CodeBuildStep | None:
        """`python -m migration check` of every endpoint file against the live stage, through the stage's CDK
        lookup role (read-only; bootstrap's --trust lets the pipeline account assume it): a refused step (a change
        of hosting kind, a skipped migration phase, a stack stuck in UPDATE_ROLLBACK_FAILED) fails the stage.
        Its role also runs each router's preflight (_router_steps); a stage of routers only has no such step."""
        stage = deployments.stage
        lookup = bootstrap_role_arn(stage, "lookup")
        role = self.preflight_roles[stage.name] = self._step_role(
            f"Preflight{title}Role",
            role_name=preflight_role_name(stage),
            description=f"CodeBuild role of the {stage.name} preflight check",
            assumes=lookup,
        )
        if not deployments.specs:
            return None
        commands = [preflight_command(deployments.file_in_checkout(spec.source), lookup) for spec in deployments.specs]
        step = self._locked_step(
            "Preflight", repository, role=role, commands=commands, timeout=Duration.minutes(15), region=stage.region
        )
        self._smoke_steps.append(step)
        return step

    def _acknowledge_pipeline_defaults(self) -> None:
        """cdk-nag findings on what CDK Pipelines generates, each with the reason it stays."""
        pipeline = self.pipeline
        acknowledge(
            pipeline.pipeline.artifact_bucket,
            "AwsSolutions-S1",
            "CDK Pipelines' artifact bucket holds only build artifacts (the synthesized templates and source zips), "
            "KMS-encrypted with the pipeline's key and reachable only by the pipeline's roles; CloudTrail records "
            "who used the key and the roles. An access-log bucket would add a second bucket to secure and pay for.",
        )
        bucket = self.get_logical_id(pipeline.pipeline.artifact_bucket.node.default_child)  # type: ignore[arg-type]
        grant_wildcards = [
            *(f"AwsSolutions-IAM5[Action::{action}]" for action in ARTIFACT_GRANT_ACTIONS),
            f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
        ]
        roles: list[Construct] = [pipeline, *self.smoke_test_roles.values(), *self.preflight_roles.values()]
        roles += self.protect_roles.values()
        for scope in roles:
            for rule in grant_wildcards:
                acknowledge(
                    scope,
                    rule,
                    "CDK's read/write grants on the pipeline's own artifact bucket and KMS key: the action groups "
                    "(s3:GetObject*, kms:ReEncrypt*, ...) cover the object versions and data keys the artifacts need, "
                    "and every object of that one bucket is a pipeline artifact.",
                )
        projects = [pipeline.synth_project, pipeline.self_mutation_project]
        projects += [step.project for step in self._smoke_steps]
        for project in projects:
            name = self.get_logical_id(project.node.default_child)  # type: ignore[arg-type]
            for resource in (
                f"arn:{self._nag_partition}:logs:{self.region}:{self.account}:log-group:/aws/codebuild/<{name}>:*",
                f"arn:{self._nag_partition}:codebuild:{self.region}:{self.account}:report-group/<{name}>-*",
            ):
                acknowledge(
                    project.role or project,
                    f"AwsSolutions-IAM5[Resource::{resource}]",
                    "CodeBuild names log streams and report groups at run time; the grant is limited to this "
                    "project's own log group and report groups.",
                )
        for region, support in sorted(pipeline.pipeline.cross_region_support.items()):
            self._acknowledge_cross_region_support(region, support)
        mutation = pipeline.self_mutation_project.role or pipeline.self_mutation_project
        acknowledge(
            mutation,
            "AwsSolutions-IAM5[Resource::*]",
            "Self-mutation lists and describes CloudFormation stacks (cloudformation:DescribeStacks supports no narrower "
            "resource when the pipeline looks up its stacks) and reads the synthesized assembly.",
        )
        acknowledge(
            mutation,
            f"AwsSolutions-IAM5[Resource::arn:*:iam::{self.account}:role/*]",
            "Self-mutation may assume only the CDK bootstrap roles: the statement's condition requires the "
            "iam:ResourceTag/aws-cdk:bootstrap-role tag (deploy, file-publishing, image-publishing, lookup).",
        )

    @property
    def _nag_partition(self) -> str:
        """The partition as CDK writes it in ARNs, hence in cdk-nag's finding IDs: a literal under cdk.json's
        @aws-cdk/core:enablePartitionLiterals, else the AWS::Partition reference."""
        return "<AWS::Partition>" if Token.is_unresolved(self.partition) else self.partition

    def _acknowledge_cross_region_support(self, region: str, support: codepipeline.CrossRegionSupport) -> None:
        """A stage outside the pipeline's region gets CodePipeline's replication bucket and key in that region."""
        bucket = support.replication_bucket
        bucket_name = self.resolve(bucket.bucket_name)  # the name CDK generates for the cross-region reference
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            f"CodePipeline's artifact replica bucket for {region}: build artifacts only, KMS-encrypted, TLS-only; "
            "the same reasoning as the main artifact bucket.",
        )
        role = self.pipeline.pipeline.role
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:{self._nag_partition}:s3:::{bucket_name}/*]",
            f"The pipeline reads and writes the artifacts in its own replica bucket for {region}.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            f"CodePipeline names the {region} replica bucket's KMS key by alias from another stack, so CDK cannot "
            "write its ARN here and grants kms:Encrypt/Decrypt/GenerateDataKey* on '*'. Keep stages in the "
            "pipeline's region to avoid it (docs/ci-cd.md).",
        )
