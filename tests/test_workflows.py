"""The GitHub Actions workflows: actionlint-clean, SHA-pinned, least privilege, and the stages of cicd/stages.yaml in order."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_config.stages import role_arn
from scripts import ci_stage
from stacks.ci_factory import DEFAULT_BRANCH
from tests.conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
STAGE_NAMES = [stage["name"] for stage in yaml.safe_load((REPO_ROOT / "cicd" / "stages.yaml").read_text())["stages"]]


def load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return workflow


def all_steps() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, step)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job in load(path.name)["jobs"].values()
        for step in job.get("steps", [])
    ]


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint comes with requirements-dev.txt: run ./tasks.sh setup"
    return subprocess.run(
        [str(ACTIONLINT), "-color=false", *map(str, paths)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_pass_actionlint():
    result = actionlint()
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    broken = (WORKFLOWS / "deploy-stage.yml").read_text().replace("${{ inputs.stage }}", "${{ inputs.stag }}", 1)
    path = tmp_path / ".github" / "workflows" / "broken.yml"
    path.parent.mkdir(parents=True)
    path.write_text(broken)
    result = actionlint(path)
    assert result.returncode == 1
    assert 'property "stag" is not defined' in result.stdout


def test_every_action_is_pinned_to_a_commit_with_its_version_noted():
    lines = [line.strip() for path in WORKFLOWS.glob("*.yml") for line in path.read_text().splitlines()]
    uses = [line for line in lines if line.startswith(("uses:", "- uses:"))]
    remote = [line for line in uses if "./.github/" not in line]
    assert len(remote) >= 10
    for line in remote:
        action, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(action.strip()), line
        assert re.fullmatch(r" v\d+\.\d+\.\d+", comment), f"note the version tag: {line}"
    local = {line.split("uses:", 1)[1].strip() for line in uses if "./.github/" in line}
    assert local == {"./.github/workflows/test.yml", "./.github/workflows/deploy-stage.yml"}


def test_no_stored_aws_keys_and_every_credential_comes_from_oidc():
    text = "".join(path.read_text() for path in WORKFLOWS.glob("*.yml"))
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    credentials = [step for _, step in all_steps() if "configure-aws-credentials" in step.get("uses", "")]
    assert [step["with"]["role-to-assume"] for step in credentials] == [
        "${{ steps.stage.outputs.diff_role_arn }}",
        "${{ steps.stage.outputs.deploy_role_arn }}",
    ]


def test_permissions_are_minimal():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = load(path.name)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            granted = job.get("permissions", {})
            writes = sorted(scope for scope, level in granted.items() if level == "write")
            expected = {
                ("checks.yml", "diff"): ["id-token", "pull-requests"],
                ("deploy-stage.yml", "deploy"): ["id-token"],
                ("deploy.yml", "staging"): ["id-token"],
                ("deploy.yml", "prod"): ["id-token"],
            }.get((path.name, name), [])
            assert writes == expected, f"{path.name} job {name}"


def test_checkouts_do_not_keep_the_token():
    checkouts = [step for _, step in all_steps() if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 3
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_pull_requests_run_the_ci_checks_then_diff_every_stage():
    checks = load("checks.yml")
    assert checks["on"] == {"pull_request": {"branches": ["main"]}}
    assert checks["jobs"]["test"] == {"uses": "./.github/workflows/test.yml"}
    diff = checks["jobs"]["diff"]
    assert diff["needs"] == "test"
    assert diff["strategy"]["matrix"]["stage"] == STAGE_NAMES
    assert diff["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    runs = [step.get("run", "") for step in diff["steps"]]
    assert '.venv/bin/python scripts/ci_stage.py diff "$STAGE" > diff.md' in runs
    assert any("gh api" in run and "cdk-diff:${STAGE}" in run for run in runs)
    test = load("test.yml")
    assert [step.get("run") for step in test["jobs"]["test"]["steps"]][-1] == "bash .ci/run"
    assert (REPO_ROOT / ".ci" / "run").read_text().splitlines()[-1] == "./tasks.sh test"


def test_main_deploys_stage_after_stage_each_in_its_environment():
    deploy = load("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    # Runs queue in order; none cancels a pending one (a skipped phase), none interrupts a deploy.
    assert deploy["concurrency"] == {"group": "deploy", "cancel-in-progress": False, "queue": "max"}
    jobs = deploy["jobs"]
    assert list(jobs) == ["test", *STAGE_NAMES]
    previous = "test"
    for name in STAGE_NAMES:
        assert jobs[name]["needs"] == previous, f"{name} must wait for {previous}"
        assert jobs[name]["uses"] == "./.github/workflows/deploy-stage.yml"
        assert jobs[name]["with"] == {"stage": name}
        previous = name
    job = load("deploy-stage.yml")["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.stage }}"  # `prod` gets required reviewers in the repository settings
    assert job["steps"][-1]["run"] == '.venv/bin/python scripts/ci_stage.py deploy "$STAGE"'


def test_every_job_that_holds_a_credential_installs_only_hash_checked_packages():
    """A job that may request an OIDC token (or writes to pull requests) runs nothing the lock does not hash."""
    jobs = [
        (path.name, name, job)
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for name, job in load(path.name)["jobs"].items()
        if "steps" in job and "write" in job.get("permissions", {}).values()
    ]
    assert [(path, name) for path, name, _ in jobs] == [("checks.yml", "diff"), ("deploy-stage.yml", "deploy")]
    for path, name, job in jobs:
        installs = [step["run"] for step in job["steps"] if "tasks.sh" in step.get("run", "") and "setup" in step["run"]]
        assert installs == ["./tasks.sh setup-locked"], f"{path} job {name}"
        assert not any("pip install" in step.get("run", "") or "npm " in step.get("run", "") for step in job["steps"])


def run_the_caller_guard(caller: str) -> subprocess.CompletedProcess[str]:
    """deploy-stage.yml's first step, as the runner would run it, for a run whose github.workflow_ref is ``caller``."""
    (guard, *_) = load("deploy-stage.yml")["jobs"]["deploy"]["steps"]
    env = {
        name: value.replace("${{ github.workflow_ref }}", caller).replace("${{ github.repository }}", "acme/llm")
        for name, value in guard["env"].items()
    }
    return subprocess.run(
        ["bash", "-e", "-c", guard["run"]], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("caller", "goes_on"),
    [
        ("acme/llm/.github/workflows/deploy.yml@refs/heads/main", True),
        # A workflow pushed on a branch calls deploy-stage.yml@main: its commit would be checked out and deployed.
        ("acme/llm/.github/workflows/deploy.yml@refs/heads/feature", False),
        ("acme/llm/.github/workflows/evil.yml@refs/heads/feature", False),
        ("acme/llm/.github/workflows/other.yml@refs/heads/main", False),
        ("acme/llm/.github/workflows/deploy.yml@refs/tags/v1", False),
    ],
)
def test_the_deploy_job_stops_before_any_caller_code_unless_deploy_yml_runs_on_main(caller, goes_on):
    job = load("deploy-stage.yml")["jobs"]["deploy"]
    first = job["steps"][0]
    # First: no checkout, install or token request (any step could request the job's OIDC token) comes before it.
    assert "uses" not in first and first["name"] == "Refuse any caller but deploy.yml on the deploy branch"
    result = run_the_caller_guard(caller)
    assert (result.returncode == 0) is goes_on, result.stdout + result.stderr
    if not goes_on:
        expected = "acme/llm/.github/workflows/deploy.yml@refs/heads/main"
        assert f"::error::deploy-stage.yml deploys only for {expected}, not for {caller}" in result.stdout


def test_the_guard_the_deploy_role_and_deploy_yml_name_the_same_branch():
    guard = load("deploy-stage.yml")["jobs"]["deploy"]["steps"][0]
    branch = guard["env"]["DEPLOY_CALLER"].rpartition("@refs/heads/")[2]
    assert load("deploy.yml")["on"]["push"]["branches"] == [branch]
    assert branch == DEFAULT_BRANCH  # the OIDC stack's -c github_branch default: the role's `ref` condition


LOCKED_INPUTS = ("requirements.txt", "requirements-deploy.txt")  # what ./tasks.sh lock compiles
# The code that CI runs with credentials: synth (app.py, pipeline_app.py), ci_stage.py's deploy, the preflight check,
# the smoke test, the Bedrock lifecycle check and the evaluation gate.
CREDENTIALED_CODE = (
    *("app.py", "pipeline_app.py", "scripts/ci_stage.py", "scripts/smoke_test.py", "scripts/bedrock_lifecycle.py"),
    *("stacks", "llm_constructs", "llm_config", "migration", "evaluation", "llm_client/src"),
    # routing/: what synth, ci_stage.py and the router preflight import (not the calibration, which needs numpy/scipy)
    *(f"routing/{name}.py" for name in ("ci", "router_spec", "policy_file", "errors", "preflight")),
)
# llm_client's optional extra (`[langchain]`): chat_model() only, which no CI step calls.
# The client's LangChain extra (`pip install llm_client[langchain]`): only its chat models import LangChain, and the
# credentialed steps call the plain path, which never imports them.
LANGCHAIN_MODULES = {"llm_client/src/llm_client/chat.py", "llm_client/src/llm_client/router_chat.py"}
OPTIONAL_IMPORTS = {"langchain_aws": LANGCHAIN_MODULES, "langchain_core": LANGCHAIN_MODULES}


def module_imports(path: Path) -> set[str]:
    """The top-level packages a module imports when it loads (not in functions, not under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Import):
                found.update(alias.name.split(".")[0] for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
                found.add(statement.module.split(".")[0])
            elif isinstance(statement, ast.If) and ast.unparse(statement.test) != "TYPE_CHECKING":
                visit(statement.body + statement.orelse)
            elif isinstance(statement, ast.Try):
                visit(statement.body)

    visit(ast.parse(path.read_text()).body)
    return found


def test_every_package_the_credentialed_steps_import_is_in_the_hash_lock():
    """A package added to requirements-dev.txt but imported by, say, the evaluation harness would fail the pipeline's
    EvaluateBeforeShift step (it installs only the lock) after the stage's approval: this test fails first."""
    lock = (REPO_ROOT / "requirements.lock").read_text().splitlines()
    locked = {normalized(line.split("==")[0]) for line in lock if "==" in line and not line[0].isspace()}
    distributions = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}
    for entry in CREDENTIALED_CODE:
        path = REPO_ROOT / entry
        for module in [path] if path.is_file() else sorted(path.rglob("*.py")):
            where = module.relative_to(REPO_ROOT).as_posix()
            for name in module_imports(module):
                if name in sys.stdlib_module_names or (REPO_ROOT / name).is_dir() or name == "llm_client":
                    continue
                if where in OPTIONAL_IMPORTS.get(name, set()):
                    continue
                if not {normalized(d) for d in distributions.get(name, [name])} & locked:
                    missing.setdefault(name, []).append(where)
    assert missing == {}, "add these to requirements.txt (synth) or requirements-deploy.txt, then ./tasks.sh lock"


def normalized(name: str) -> str:
    """A package name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_deploy_install_is_hash_locked_and_the_lock_matches_the_pins():
    tasks = (REPO_ROOT / "tasks.sh").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r requirements.lock" in tasks
    pins = dict(line.split("==", 1) for line in (REPO_ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    pins = {normalized(name): version for name, version in pins.items()}
    locked: dict[str, str] = {}
    hashes: dict[str, int] = {}
    name = ""
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            name, version = line.split(" ", 1)[0].split("==")
            locked[normalized(name)] = version
        elif "--hash=sha256:" in line:
            hashes[normalized(name)] = hashes.get(normalized(name), 0) + 1
    requirements = [line for name in LOCKED_INPUTS for line in (REPO_ROOT / name).read_text().splitlines()]
    runtime = [normalized(line.split("==")[0]) for line in requirements if "==" in line]
    assert set(runtime) <= set(locked), f"./tasks.sh lock after changing {' or '.join(LOCKED_INPUTS)}"
    assert {n: v for n, v in locked.items() if pins.get(n) != v} == {}, "the lock and constraints.txt disagree: ./tasks.sh lock"
    assert set(hashes) == set(locked), "every locked package carries its hashes"


# --- scripts/ci_stage.py: what the workflows run --------------------------------------------------------------------


def test_stage_outputs_name_the_oidc_roles(capsys):
    assert ci_stage.main(["outputs", "prod"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "account=333333333333",
        "region=us-east-1",
        "deploy_role_arn=arn:aws:iam::333333333333:role/llm-github-deploy-prod",
        "diff_role_arn=arn:aws:iam::333333333333:role/llm-github-diff-prod",
    ]


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("us-east-1", "arn:aws:iam::333333333333:role/r"),
        ("cn-north-1", "arn:aws-cn:iam::333333333333:role/r"),
        ("us-gov-west-1", "arn:aws-us-gov:iam::333333333333:role/r"),
    ],
)
def test_role_arns_are_in_the_regions_partition(region, arn):
    assert role_arn("333333333333", region, "r") == arn


def test_deploy_checks_each_step_against_the_live_stage_then_deploys_and_smoke_tests(capsys):
    files = sorted(path.relative_to(REPO_ROOT) for path in (REPO_ROOT / "deployments").glob("*.yaml"))
    assert ci_stage.main(["deploy", "staging", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 * len(files)
    for index, path in enumerate(files):
        endpoint = yaml.safe_load((REPO_ROOT / path).read_text())["endpoint"]
        check, deploy, smoke = lines[3 * index : 3 * index + 3]
        assert check == (
            f".venv/bin/python -m migration check --deployment {path} "
            "--role-arn arn:aws:iam::222222222222:role/cdk-hnb659fds-lookup-role-222222222222-us-east-1"
        )
        assert deploy == (
            f"node_modules/.bin/cdk --app '.venv/bin/python app.py' deploy -c deployment={path} --require-approval never"
        )
        assert smoke == f".venv/bin/python scripts/smoke_test.py --endpoint {endpoint} --region us-east-1"


def test_deploy_refuses_credentials_for_another_account(capsys):
    assert ci_stage.main(["deploy", "prod"], account=lambda: "222222222222") == 1
    assert capsys.readouterr().err == "error: the credentials are for account 222222222222, stage prod is 333333333333\n"


@pytest.mark.parametrize(("failing", "ran_before_stop"), [("check", 1), ("deploy", 2)])
def test_a_refused_check_or_a_failed_deploy_stops_the_stage(monkeypatch, capsys, failing, ran_before_stop):
    """A refused preflight (say, the split straight to retire) deploys nothing; a failed deploy smoke tests nothing."""
    ran: list[list[str]] = []

    def fake_run(command, stage, capture=False):
        ran.append(list(command))
        return subprocess.CompletedProcess(command, 1 if failing in command else 0)

    monkeypatch.setattr(ci_stage, "run", fake_run)
    assert ci_stage.main(["deploy", "staging"], account=lambda: "222222222222") == 1
    assert len(ran) == ran_before_stop and failing in ran[-1]
    assert "stage staging stops here" in capsys.readouterr().err


def test_diff_writes_one_marked_markdown_section_per_file(monkeypatch, capsys):
    def fake_run(command, stage, capture=False):
        assert capture and command[3:6] == ["diff", "--method", "template"]
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="Stack llm-chat\nThere were no differences\n")

    monkeypatch.setattr(ci_stage, "run", fake_run)
    assert ci_stage.main(["diff", "staging"], account=lambda: "222222222222") == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- cdk-diff:staging -->\n### `cdk diff` for stage staging (222222222222, us-east-1)")
    assert "<details><summary>deployments/chat.yaml (diff)</summary>" in out
    assert "There were no differences" in out


def test_an_unknown_stage_is_a_config_error(capsys):
    assert ci_stage.main(["deploy", "qa"]) == 2
    assert "error: cicd/stages.yaml: stages: no stage named 'qa'\n  fix: use one of staging, prod" in capsys.readouterr().err


def test_a_command_without_a_stage_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        ci_stage.main(["deploy"])
    assert caught.value.code == 2
    assert "the following arguments are required: stage" in capsys.readouterr().err
