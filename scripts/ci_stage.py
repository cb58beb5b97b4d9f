#!/usr/bin/env python3
"""What the GitHub Actions workflows run for one stage of cicd/stages.yaml (docs/ci-cd.md).

    python scripts/ci_stage.py outputs STAGE               # account=, region=, deploy_role_arn=, diff_role_arn=
    python scripts/ci_stage.py deploy STAGE [--dry-run]    # per deployment file: preflight check, cdk deploy, smoke test
    python scripts/ci_stage.py diff STAGE [--dry-run]      # cdk diff each deployment file, as Markdown

`outputs` prints `name=value` lines for $GITHUB_OUTPUT. `deploy` and `diff` first check that the
credentials belong to the stage's account, so a misconfigured role can never deploy staging's files to prod.
Before each file's deploy, `python -m migration check` (migration.preflight) reads the stage as it is, through the
stage's read-only CDK lookup role, and stops the stage when the step is unsafe: a change of hosting kind, a stack
that cannot take an update, a migration phase skipped (say, from the split straight to retire).
Router files (top level `router:`, docs/routing.md) deploy after every endpoint file of the stage, their routes being
deployed first: the preflight checks each route exists and is not a router, and after the deploy the router's
parameter is read back (its routes and policy SHA-256, scripts/smoke_test.py --router) instead of a smoke test.
Exit status: 0 success, 1 a deploy/diff/smoke test failed or the account is wrong, 2 bad config.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from evaluation.ci import shift_gate_command  # noqa: E402
from llm_config import ConfigError, load_registry  # noqa: E402
from llm_config.cli_env import CDK_CLI_OFFLINE_ENV  # noqa: E402
from llm_config.deployment import DeploymentSpec  # noqa: E402
from llm_config.stages import (  # noqa: E402
    DEFAULT_STAGES_FILE,
    StageConfig,
    bootstrap_role_arn,
    find_stage,
    github_deploy_role_name,
    github_diff_role_name,
    load_stages,
    role_arn,
    stage_specs,
)
from routing.ci import router_check_command, stage_routers  # noqa: E402
from routing.router_spec import RouterSpec  # noqa: E402

CDK = ["node_modules/.bin/cdk", "--app", ".venv/bin/python app.py"]
PYTHON = ".venv/bin/python"
OFFLINE_ENV = CDK_CLI_OFFLINE_ENV


def outputs(stage: StageConfig) -> list[str]:
    return [
        f"account={stage.account}",
        f"region={stage.region}",
        f"deploy_role_arn={role_arn(stage.account, stage.region, github_deploy_role_name(stage))}",
        f"diff_role_arn={role_arn(stage.account, stage.region, github_diff_role_name(stage))}",
    ]


def deployment_path(spec: DeploymentSpec) -> str:
    """The deployment file, relative to the repository root (main() runs there)."""
    return spec.source


def preflight_command(stage: StageConfig, path: str) -> list[str]:
    """The check against the live stage that must pass before the deployment file ``path`` deploys (exit 1: refused)."""
    lookup = bootstrap_role_arn(stage, "lookup")
    return [PYTHON, "-m", "migration", "check", "--deployment", path, "--role-arn", lookup]


def deploy_command(path: str) -> list[str]:
    return [*CDK, "deploy", "-c", f"deployment={path}", "--require-approval", "never"]


def deploy_commands(stage: StageConfig, specs: Sequence[DeploymentSpec], routers: Sequence[RouterSpec] = ()) -> list[list[str]]:
    """First the read-only Bedrock lifecycle check (when the stage has Bedrock models), then per endpoint file:
    check the step against the live stage, the evaluation gate if the stage has one and the file shifts traffic,
    deploy its one stack, then smoke test the endpoint it describes. Then per router file, once its routes are
    deployed: check they exist, deploy, read the router's parameter back."""
    commands = []
    bedrock = sorted({spec.model.key for spec in specs if spec.model.hosting == "bedrock"})
    if bedrock:
        commands.append([PYTHON, "scripts/bedrock_lifecycle.py", "--region", stage.region, *bedrock])
    for spec in specs:
        commands.append(preflight_command(stage, deployment_path(spec)))
        if stage.evaluation_tests:  # optional: compare both variants before the shift (docs/evaluation.md)
            gate = shift_gate_command(spec, region=stage.region, tests=stage.evaluation_tests, python=PYTHON)
            commands += [gate] if gate else []
        commands.append(deploy_command(deployment_path(spec)))
        commands.append([PYTHON, "scripts/smoke_test.py", "--endpoint", spec.endpoint_name, "--region", stage.region])
    for router in routers:
        path = str(router.source)
        commands += [preflight_command(stage, path), deploy_command(path), router_check_command(router, python=PYTHON)]
    return commands


def stage_files(specs: Sequence[DeploymentSpec], routers: Sequence[RouterSpec]) -> list[str]:
    """The stage's deployment files in deploy order: endpoint files, then router files."""
    return [*(deployment_path(spec) for spec in specs), *(str(router.source) for router in routers)]


def diff_commands(files: Sequence[str]) -> list[list[str]]:
    # --method template: compare with the deployed template through the read-only lookup role, no change set.
    return [[*CDK, "diff", "--method", "template", "-c", f"deployment={path}"] for path in files]


def caller_account() -> str:
    import boto3

    return str(boto3.client("sts").get_caller_identity()["Account"])


def run(command: Sequence[str], stage: StageConfig, capture: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE_ENV, "AWS_REGION": stage.region, "CDK_DEFAULT_REGION": stage.region}
    return subprocess.run(list(command), cwd=REPO_ROOT, env=env, text=True, capture_output=capture, check=False)


def main(argv: Sequence[str] | None = None, account: Callable[[], str] = caller_account) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["outputs", "deploy", "diff"])
    parser.add_argument("stage", help="stage name from the stages file")
    parser.add_argument("--stages-file", default=DEFAULT_STAGES_FILE, help=f"default {DEFAULT_STAGES_FILE}")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = parser.parse_args(argv)
    os.chdir(REPO_ROOT)  # file names in messages and commands are relative to the repository
    try:
        stages = load_stages(REPO_ROOT / args.stages_file, args.stages_file)
        stage = find_stage(stages, args.stage, args.stages_file)
        if args.command == "outputs":
            print("\n".join(outputs(stage)))
            return 0
        specs = stage_specs(stage, REPO_ROOT, load_registry(), args.stages_file)
        routers = stage_routers(stage, REPO_ROOT, specs, args.stages_file)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    files = stage_files(specs, routers)
    commands = deploy_commands(stage, specs, routers) if args.command == "deploy" else diff_commands(files)
    if args.dry_run:
        print("\n".join(shlex.join(command) for command in commands))
        return 0
    actual = account()
    if actual != stage.account:
        print(f"error: the credentials are for account {actual}, stage {stage.name} is {stage.account}", file=sys.stderr)
        return 1
    if args.command == "deploy":
        for command in commands:
            if run(command, stage).returncode != 0:
                print(f"error: `{' '.join(command)}` failed: stage {stage.name} stops here", file=sys.stderr)
                return 1
        return 0
    return print_diffs(stage, files, commands)


def print_diffs(stage: StageConfig, files: Sequence[str], commands: Sequence[Sequence[str]]) -> int:
    """Markdown for a pull-request comment: one collapsible section per deployment file."""
    failed = False
    print(f"<!-- cdk-diff:{stage.name} -->\n### `cdk diff` for stage {stage.name} ({stage.account}, {stage.region})\n")
    for path, command in zip(files, commands, strict=True):
        result = run(command, stage, capture=True)
        failed |= result.returncode != 0
        status = "error" if result.returncode != 0 else "diff"
        output = result.stdout + result.stderr
        print(f"<details><summary>{path} ({status})</summary>\n\n```\n{output}```\n</details>\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
