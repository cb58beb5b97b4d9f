"""Where CI deploys: `cicd/stages.yaml` lists the stages (e.g. staging, then prod) and the pipeline's own home.

Both CI setups read it: the CDK pipeline (pipeline_app.py) and the GitHub Actions deploy workflow
(scripts/ci_stage.py). The schema is documented in docs/ci-cd.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from llm_config._strict import StrictModel
from llm_config.deployment import REGION_PATTERN, DeploymentSpec, resolve_deployment
from llm_config.deployment_file import load_deployment_file
from llm_config.errors import ConfigError
from llm_config.registry import ModelRegistry
from llm_config.yaml_files import display_path, parse_as, read_yaml_mapping

DEFAULT_STAGES_FILE = "cicd/stages.yaml"
DEFAULT_DEPLOYMENTS = ("deployments/*.yaml",)

AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Region = Annotated[str, Field(pattern=f"^{REGION_PATTERN.pattern}$")]
# Stage names become IAM role names (llm-smoke-test-NAME, 64 characters at most) and GitHub environment names.
StageName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")]


class PipelineHome(StrictModel):
    """The account and region the CDK pipeline itself runs in (often a separate tooling account)."""

    account: AccountId
    region: Region


class StageConfig(StrictModel):
    """One stage: every deployment file it matches, deployed into one account and region."""

    name: StageName
    account: AccountId
    region: Region  # every endpoint of the stage lives here; a deployment file may omit `region` or must agree
    approval: bool = False  # a person approves (pipeline) or reviews (GitHub environment) before this stage deploys
    deployments: list[str] = Field(default_factory=lambda: list(DEFAULT_DEPLOYMENTS), min_length=1)
    # Optional: a test set (docs/evaluation.md). When set, a deploy that shifts an endpoint's traffic to its candidate
    # first compares both variants on it (./tasks.sh evaluate, evaluation/ci.py's gates) and stops if one fails.
    evaluation_tests: str | None = None

    @field_validator("deployments")
    @classmethod
    def _relative_patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(
                    f"{pattern!r} is not a path inside the repository|use a glob relative to the repository root, "
                    "e.g. deployments/*.yaml"
                )
        return patterns

    @field_validator("evaluation_tests")
    @classmethod
    def _relative_tests(cls, path: str | None) -> str | None:
        if path is not None and (path.startswith("/") or ".." in Path(path).parts):
            raise ValueError(f"{path!r} is not a path inside the repository|give the test set's path from the repository root")
        return path


class StagesFile(StrictModel):
    """`cicd/stages.yaml`: the pipeline's home and the stages in deploy order."""

    pipeline: PipelineHome
    stages: list[StageConfig] = Field(min_length=1)

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[StageConfig]) -> list[StageConfig]:
        names = [stage.name for stage in stages]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"stage name {name!r} is used twice|give every stage its own name")
        return stages


def load_stages(path: Path, source: str) -> StagesFile:
    """Parse the stages file at ``path``; errors name it as ``source`` (the path the user gave)."""
    return parse_as(StagesFile, read_yaml_mapping(path, source), source, schema_doc="docs/ci-cd.md")


def stage_deployment_files(stage: StageConfig, repo_root: Path, source: str) -> list[Path]:
    """The deployment files a stage deploys, sorted; a stage that matches none is an error, not an empty deploy."""
    files = sorted({path for pattern in stage.deployments for path in repo_root.glob(pattern) if path.is_file()})
    if not files:
        raise ConfigError(
            source,
            f"stages.{stage.name}.deployments",
            f"{', '.join(stage.deployments)} matches no deployment file",
            "add deployments/<endpoint>.yaml (docs/deployments.md) or correct the pattern",
        )
    return files


def is_router_deployment(path: Path) -> bool:
    """A deployment file whose top level is ``router:`` (routing.router_spec); the others describe endpoints."""
    return "router" in read_yaml_mapping(path, display_path(path))


def stage_router_files(stage: StageConfig, repo_root: Path, source: str) -> list[Path]:
    """The stage's router deployment files, sorted: CI deploys them after every endpoint file (routing.ci)."""
    return [path for path in stage_deployment_files(stage, repo_root, source) if is_router_deployment(path)]


def check_file_region(region: object, stage: StageConfig, file_source: str, field: str, source: str) -> None:
    """A deployment file may omit its region (each stage then deploys it in its own) or must name the stage's."""
    if region is not None and region != stage.region:
        raise ConfigError(
            file_source,
            field,
            f"{region!r} differs from the region of stage {stage.name} ({stage.region}, {source})",
            "remove `region` from the file (each stage then deploys it in its own region) or make them agree",
        )


def stage_specs(stage: StageConfig, repo_root: Path, registry: ModelRegistry, source: str) -> list[DeploymentSpec]:
    """The validated spec of every endpoint deployment file the stage deploys, in the stage's region (router files:
    routing.ci.stage_routers).

    The files alone decide what deploys: `-c alarm_email` / `-c budget_usd` do not apply here.
    """
    specs: list[DeploymentSpec] = []
    for path in stage_deployment_files(stage, repo_root, source):
        if is_router_deployment(path):
            continue
        file_source, values = load_deployment_file(path)
        check_file_region(values.get("region"), stage, file_source, "region", source)
        spec = resolve_deployment({**values, "region": stage.region}, file_source, lambda _: None, {}, registry)
        for other in specs:
            if other.endpoint_name == spec.endpoint_name:
                raise ConfigError(
                    file_source,
                    "endpoint",
                    f"endpoint {spec.endpoint_name!r} is also deployed by {other.source} in stage {stage.name}",
                    "give each deployment file its own endpoint name",
                )
        specs.append(spec)
    return specs


def find_stage(stages: StagesFile, name: str, source: str) -> StageConfig:
    for stage in stages.stages:
        if stage.name == name:
            return stage
    known = ", ".join(stage.name for stage in stages.stages)
    raise ConfigError(source, "stages", f"no stage named {name!r}", f"use one of {known}")


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (ARNs in China and GovCloud do not start with arn:aws:)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_arn(account: str, region: str, role_name: str) -> str:
    """The ARN of IAM role ``role_name`` in ``account``, in the partition of ``region``."""
    return f"arn:{partition_of(region)}:iam::{account}:role/{role_name}"


def bootstrap_role_arn(stage: StageConfig, kind: str) -> str:
    """A role `cdk bootstrap` created in the stage's account (default qualifier): deploy, lookup, ..."""
    return role_arn(stage.account, stage.region, f"cdk-hnb659fds-{kind}-role-{stage.account}-{stage.region}")


def smoke_test_role_name(stage: StageConfig) -> str:
    """The role CI assumes in the stage's account to smoke test its endpoints (fixed, so both sides can name it)."""
    return f"llm-smoke-test-{stage.name}"


def github_deploy_role_name(stage: StageConfig) -> str:
    """The role the GitHub deploy job assumes through OIDC (stacks/github_oidc_stack.py creates it)."""
    return f"llm-github-deploy-{stage.name}"


def github_diff_role_name(stage: StageConfig) -> str:
    """The read-only role pull-request checks assume to run `cdk diff`."""
    return f"llm-github-diff-{stage.name}"


def preflight_role_name(stage: StageConfig) -> str:
    """The CDK pipeline's CodeBuild role that runs the stage's preflight check (it may assume the lookup role)."""
    return f"llm-pipeline-preflight-{stage.name}"


def smoke_test_caller_role_name(stage: StageConfig) -> str:
    """The CDK pipeline's CodeBuild role for that smoke test, in the pipeline account (the only one trusted)."""
    return f"llm-pipeline-smoke-test-{stage.name}"


def protect_role_name(stage: StageConfig) -> str:
    """The role the CDK pipeline assumes in the stage's account to turn on its endpoint stacks' termination protection
    (allowed that call on those stacks, and DescribeStacks to confirm it, nothing else)."""
    return f"llm-protect-stacks-{stage.name}"


def protect_caller_role_name(stage: StageConfig) -> str:
    """The CDK pipeline's CodeBuild role for that step, in the pipeline account (the only one trusted)."""
    return f"llm-pipeline-protect-{stage.name}"
