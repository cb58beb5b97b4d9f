"""Builds the CI stacks from `-c` context and cicd/stages.yaml: the CDK pipeline (pipeline_app.py) and the GitHub
OIDC roles of one stage (github_oidc_app.py). Shared by those entry points and the tests."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from llm_config import ModelRegistry, load_registry
from llm_config.context_keys import check_context_keys
from llm_config.errors import ConfigError
from llm_config.stages import DEFAULT_STAGES_FILE, find_stage, load_stages, stage_specs
from llm_constructs.nag import add_synth_checks
from routing.ci import stage_routers
from stacks.github_oidc_stack import GitHubOidcStack
from stacks.pipeline_stack import GitHubSource, LlmPipelineStack, StageDeployments

REPO_ROOT = Path(__file__).resolve().parent.parent
PIPELINE_STACK_NAME = "llm-endpoints-pipeline"
DEFAULT_BRANCH = "main"
CONNECTION_ARN = re.compile(
    r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}"
)
OIDC_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com")
STAGE = re.compile(r"[a-z][a-z0-9-]*")
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
BRANCH = re.compile(r"[A-Za-z0-9._/-]+")
SETUP_DOC = "docs/ci-cd.md"
# Every -c key each entry point reads (below); any other key is refused as a typo (llm_config.context_keys).
PIPELINE_CONTEXT_KEYS = ("github_connection_arn", "github_repository", "github_branch", "stages_file")
OIDC_CONTEXT_KEYS = ("github_repository", "github_branch", "stage", "oidc_provider_arn", "stages_file")


def add_pipeline(app: App, registry: ModelRegistry | None = None, repo_root: Path = REPO_ROOT) -> LlmPipelineStack:
    """Read the context and the stages file, validate them, and add the pipeline stack (plus cdk-nag) to ``app``.

    Raises ConfigError on bad or missing input, before any construct exists.
    """
    check_context_keys(app.node.get_all_context(), PIPELINE_CONTEXT_KEYS, "pipeline_app.py", SETUP_DOC)
    get = app.node.try_get_context
    source = GitHubSource(
        connection_arn=_required(get, "github_connection_arn", CONNECTION_ARN, "the ARN of a CodeStar connection to GitHub"),
        repository=_required(get, "github_repository", REPOSITORY, "the GitHub repository as owner/name"),
        branch=_optional(get, "github_branch", BRANCH, DEFAULT_BRANCH),
    )
    stages_file = _stages_file(get)
    stages = load_stages(repo_root / stages_file, stages_file)
    registry = registry or load_registry()
    deployments = []
    for stage in stages.stages:
        specs = stage_specs(stage, repo_root, registry, stages_file)
        routers = stage_routers(stage, repo_root, specs, stages_file)
        deployments.append(StageDeployments(stage=stage, specs=specs, repo_root=repo_root, routers=routers))
    add_synth_checks(app)
    return LlmPipelineStack(
        app,
        PIPELINE_STACK_NAME,
        source=source,
        stages=deployments,
        registry=registry,
        # The synth step re-synthesizes this app with the same context (it must not depend on cdk.context.json).
        synth_context={
            "github_connection_arn": source.connection_arn,
            "github_repository": source.repository,
            "github_branch": source.branch,
            "stages_file": stages_file,
        },
        env=Environment(account=stages.pipeline.account, region=stages.pipeline.region),
        description=f"CI/CD for LLM endpoints: {source.repository}@{source.branch} -> "
        + " -> ".join(stage.name for stage in stages.stages),
        analytics_reporting=False,
    )


def add_github_oidc(app: App, registry: ModelRegistry | None = None, repo_root: Path = REPO_ROOT) -> GitHubOidcStack:
    """The stack of GitHub OIDC roles for `-c stage=NAME`, in that stage's account and region (plus cdk-nag)."""
    check_context_keys(app.node.get_all_context(), OIDC_CONTEXT_KEYS, "github_oidc_app.py", SETUP_DOC)
    get = app.node.try_get_context
    repository = _required(get, "github_repository", REPOSITORY, "the GitHub repository as owner/name")
    stage_name = _required(get, "stage", STAGE, "the name of a stage in the stages file")
    branch = _optional(get, "github_branch", BRANCH, DEFAULT_BRANCH)
    provider_arn = get("oidc_provider_arn")
    if provider_arn is not None:
        provider_arn = _checked("oidc_provider_arn", provider_arn, OIDC_PROVIDER_ARN, "the ARN of GitHub's OIDC provider")
    stages_file = _stages_file(get)
    stage = find_stage(load_stages(repo_root / stages_file, stages_file), stage_name, stages_file)
    specs = stage_specs(stage, repo_root, registry or load_registry(), stages_file)
    routers = stage_routers(stage, repo_root, specs, stages_file)
    add_synth_checks(app)
    return GitHubOidcStack(
        app,
        f"llm-github-oidc-{stage.name}",
        repository=repository,
        stage=stage,
        specs=specs,
        routers=routers,
        branch=branch,
        provider_arn=provider_arn,
        env=Environment(account=stage.account, region=stage.region),
        description=f"GitHub Actions OIDC roles for {repository}, stage {stage.name}",
        analytics_reporting=False,
    )


def run_app(add: Callable[[App], object]) -> int:
    """An entry point's main(): ``add`` the stack to a new App and synthesize it; bad input exits 2 with one message."""
    app = App()
    try:
        add(app)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


def _stages_file(get: Callable[[str], Any]) -> str:
    return _optional(get, "stages_file", re.compile(r"[^\s'\"]+"), DEFAULT_STAGES_FILE)


def _required(get: Callable[[str], Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = get(name)
    if value is None:
        raise ConfigError(f"-c {name}", None, f"missing: {what} is required", f"pass -c {name}=... ({SETUP_DOC})")
    return _checked(name, value, pattern, what)


def _optional(get: Callable[[str], Any], name: str, pattern: re.Pattern[str], default: str) -> str:
    value = get(name)
    return default if value is None else _checked(name, value, pattern, f"a value like {default}")


def _checked(name: str, value: Any, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"-c {name}", None, f"{value!r} is not {what}", f"see {SETUP_DOC}")
    return value
