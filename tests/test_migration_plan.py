"""The sequence checker and `python -m migration plan`, offline and against a stubbed live endpoint (never real AWS)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llm_config.deployment import deployment_from_context
from migration.plan import main
from migration.sequence import VariantState, check_transition, state_from_spec
from tests.conftest import REPO_ROOT
from tests.test_migration_phases import PHASES

SAFE_SEQUENCES = [
    ["start", "ab", "shift", "finish"],  # the guide's migration
    ["start", "ab", "rollback", "rollback-finish"],  # rolled back during the A/B test
    ["start", "ab", "shift", "ab", "rollback", "rollback-finish"],  # rolled back after the shift
    ["shift", "rollback", "shift"],
]


def specs(registry) -> dict[str, Any]:
    return {phase: deployment_from_context(context.get, {}, registry) for phase, context in PHASES.items()}


@pytest.mark.parametrize("sequence", SAFE_SEQUENCES, ids="->".join)
def test_the_documented_sequences_are_safe(registry, sequence):
    phases = specs(registry)
    before = None
    for phase in sequence:
        assert check_transition(before, phases[phase]) == [], f"step to {phase}"
        before = state_from_spec(phases[phase])


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("ab", "finish", "removes variant mistral-7b while it is an Application Auto Scaling target"),
        ("ab", "rollback-finish", "removes variant mixtral-8x7b while it is an Application Auto Scaling target"),
        ("start", "shift", "this shift deploy adds mixtral-8x7b but carries the blue/green DeploymentConfig"),
        ("start", "rollback", "let the candidate enter with a split"),
        ("shift", "start", "this serve deploy removes mixtral-8x7b .* deploy with retire: mixtral-8x7b to remove it"),
        ("shift", "rollback-finish", "removes variant mixtral-8x7b while it is an Application Auto Scaling target"),
    ],
)
def test_unsafe_steps_are_refused(registry, before, after, expected):
    phases = specs(registry)
    findings = check_transition(state_from_spec(phases[before]), phases[after])
    assert any(f.severity == "error" and re.search(expected, f.message) for f in findings), findings


def test_changing_the_instance_type_of_a_scaled_variant_is_refused(registry):
    start = specs(registry)["start"]
    scaled = VariantState("mistral-7b", "ml.g5.2xlarge", 100.0, 2, autoscaled=True)
    [finding] = check_transition({"mistral-7b": scaled}, start)
    assert "changes the instance type of mistral-7b (ml.g5.2xlarge -> ml.g5.xlarge)" in finding.message
    drained = VariantState("mistral-7b", "ml.g5.2xlarge", 100.0, 2, autoscaled=False)
    assert check_transition({"mistral-7b": drained}, start) == []


def test_retire_of_a_variant_the_endpoint_lacks_is_a_warning(registry):
    [finding] = check_transition(state_from_spec(specs(registry)["finish"]), specs(registry)["finish"])
    assert (finding.severity, finding.message) == ("warning", "retire: mistral-7b names no variant of the endpoint: drop retire")


AB_FILE = "tests/fixtures/deployments/chat-ab.yaml"  # deployments/chat.yaml in its A/B phase


def run_plan(capsys, *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    code = main(["plan", *argv], **kwargs)
    out, err = capsys.readouterr()
    return code, out, err


def assert_lines(out: str, *lines: str) -> None:
    missing = [line for line in lines if line not in out.splitlines()]
    assert missing == [], out


def test_offline_plan_of_the_ab_phase_file(capsys, tmp_path):
    previous = tmp_path / "previous.yaml"
    previous.write_text("endpoint: chat\nmodel: mistral\n")
    code, out, _ = run_plan(capsys, "--deployment", AB_FILE, "--previous", str(previous))
    assert code == 0
    assert_lines(
        out,
        f"endpoint chat (us-east-1, stack llm-chat) from {AB_FILE}: phase split",
        "  adds mixtral-8x7b: 1 x ml.g6e.xlarge, 10% of traffic, autoscaled",
        "  mistral-7b: weight 100% -> 90%",
        "cost: $1.41/h ($1,028/month) -> $4.02/h ($2,933/month)",
        "check: safe",
    )
    assert (
        f"shift all traffic: in {AB_FILE} set model: mistral-7b, candidate: mixtral-8x7b, candidate_weight: 100; "
        f"then npx cdk deploy -c deployment={AB_FILE}" in out
    )


def test_offline_plan_refuses_an_unsafe_step(capsys):
    code, out, _ = run_plan(capsys, "-c", "endpoint=chat", "-c", "model=mixtral", "-c", "retire=mistral", "--previous", AB_FILE)
    assert code == 1
    assert "ERROR: removes variant mistral-7b while it is an Application Auto Scaling target" in out


def test_plan_reports_bad_specs_with_exit_2(capsys):
    code, out, err = run_plan(
        capsys, "-c", "endpoint=chat", "-c", "model=mistral", "-c", "candidate=mixtral", "-c", "candidate_weight=101"
    )
    assert (code, out) == (2, "")
    assert err.startswith("error: -c candidate_weight: expected a whole percentage from 0 to 100, got 101")


def test_plan_refuses_a_misspelt_flag_instead_of_planning_the_default(capsys):
    code, out, err = run_plan(capsys, "-c", "endpoint=chat", "-c", "modle=mixtral")
    assert (code, out) == (2, "")
    assert err.startswith(
        "error: -c modle: unknown context key: ./tasks.sh plan-migration reads no such key\n  fix: did you mean -c model?"
    )


class LiveStub:
    """boto3 clients whose answers are stubbed; fails the test if a call was expected but not made."""

    def __init__(self) -> None:
        credentials = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}
        self.sagemaker = boto3.client("sagemaker", **credentials)
        self.autoscaling = boto3.client("application-autoscaling", **credentials)
        self.sagemaker_stub = Stubber(self.sagemaker)
        self.autoscaling_stub = Stubber(self.autoscaling)

    def endpoint(self, variants: list[tuple[str, str, float, int]], scaled: list[str], status: str = "InService") -> None:
        self.sagemaker_stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "chat",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/chat",
                "EndpointConfigName": "EndpointConfig-abc",
                "EndpointStatus": status,
                "CreationTime": "2026-11-01T00:00:00Z",
                "LastModifiedTime": "2026-11-01T00:00:00Z",
                "ProductionVariants": [
                    {"VariantName": name, "CurrentWeight": weight, "CurrentInstanceCount": count}
                    for name, _, weight, count in variants
                ],
            },
            {"EndpointName": "chat"},
        )
        self.sagemaker_stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "EndpointConfig-abc",
                "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint-config/endpointconfig-abc",
                "CreationTime": "2026-11-01T00:00:00Z",
                "ProductionVariants": [
                    {"VariantName": name, "InstanceType": itype, "ModelName": name} for name, itype, _, _ in variants
                ],
            },
            {"EndpointConfigName": "EndpointConfig-abc"},
        )
        self.autoscaling_stub.add_response(
            "describe_scalable_targets",
            {
                "ScalableTargets": [
                    {
                        "ServiceNamespace": "sagemaker",
                        "ResourceId": f"endpoint/chat/variant/{name}",
                        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                        "MinCapacity": 1,
                        "MaxCapacity": 4,
                        "RoleARN": "arn:aws:iam::111122223333:role/slr",
                        "CreationTime": "2026-11-01T00:00:00Z",
                    }
                    for name in scaled
                ]
            },
            {
                "ServiceNamespace": "sagemaker",
                "ResourceIds": [f"endpoint/chat/variant/{name}" for name, *_ in variants],
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            },
        )

    def clients(self, region: str) -> tuple[Any, Any]:
        assert region == "us-east-1"
        self.sagemaker_stub.activate()
        self.autoscaling_stub.activate()
        return self.sagemaker, self.autoscaling

    def assert_all_called(self) -> None:
        self.sagemaker_stub.assert_no_pending_responses()
        self.autoscaling_stub.assert_no_pending_responses()


AB_LIVE = [("mistral-7b", "ml.g5.xlarge", 9.0, 3), ("mixtral-8x7b", "ml.g6e.xlarge", 1.0, 1)]


def test_live_plan_reads_weights_counts_and_scaling(capsys):
    live = LiveStub()
    live.endpoint(AB_LIVE, scaled=["mistral-7b", "mixtral-8x7b"])
    code, out, _ = run_plan(
        capsys,
        "-c",
        "endpoint=chat",
        "-c",
        "model=mistral",
        "-c",
        "candidate=mixtral",
        "-c",
        "candidate_weight=100",
        "--live",
        clients=live.clients,
    )
    live.assert_all_called()
    assert code == 0
    assert_lines(
        out,
        "  mistral-7b: 3 x ml.g5.xlarge, 90% of traffic, autoscaled",
        "  mistral-7b: weight 90% -> 0%",
        "  mistral-7b: autoscaling removed (drained)",
        # The drained variant keeps its 3 instances (RetainAllVariantProperties) until finish removes it.
        "cost: $6.83/h ($4,989/month) -> $6.83/h ($4,989/month)",  # 3 x 1.408 + 2.61
        "check: safe",
    )


FINISH = ["-c", "endpoint=chat", "-c", "model=mixtral", "-c", "retire=mistral"]


@pytest.mark.parametrize(
    ("scaled", "status", "expected"),
    [
        (
            ["mistral-7b", "mixtral-8x7b"],
            "InService",
            "ERROR: removes variant mistral-7b while it is an Application Auto Scaling",
        ),
        (["mixtral-8x7b"], "Updating", "ERROR: the endpoint is Updating: wait until it is InService"),
    ],
)
def test_live_plan_refuses_unsafe_steps(capsys, scaled, status, expected):
    live = LiveStub()
    live.endpoint(AB_LIVE, scaled=scaled, status=status)
    code, out, _ = run_plan(capsys, *FINISH, "--live", clients=live.clients)
    assert code == 1
    assert expected in out


def test_live_plan_of_a_new_endpoint(capsys):
    live = LiveStub()
    live.sagemaker_stub.add_client_error(
        "describe_endpoint", service_error_code="ValidationException", service_message='Could not find endpoint "chat".'
    )
    code, out, _ = run_plan(capsys, "-c", "endpoint=chat", "-c", "model=mistral", "--live", clients=live.clients)
    assert code == 0
    assert "before (live: no such endpoint):\n  no endpoint" in out


def test_live_errors_are_one_clean_message(capsys):
    live = LiveStub()
    live.sagemaker_stub.add_client_error("describe_endpoint", service_error_code="AccessDeniedException", service_message="no")
    code, _, err = run_plan(capsys, "-c", "endpoint=chat", "-c", "model=mistral", "--live", clients=live.clients)
    assert code == 2
    assert err.startswith("error: cannot read endpoint chat live: An error occurred (AccessDeniedException)")


def test_deploy_runs_cdk_only_after_a_clean_live_check(capsys):
    calls: list[list[str]] = []

    def run(command: list[str], check: bool, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert env["CDK_DISABLE_CLI_TELEMETRY"] == env["CDK_DISABLE_VERSION_CHECK"] == "1"
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    live = LiveStub()
    live.endpoint([("mistral-7b", "ml.g5.xlarge", 0.0, 1), ("mixtral-8x7b", "ml.g6e.xlarge", 1.0, 1)], scaled=["mixtral-8x7b"])
    code, _, _ = run_plan(capsys, "--deployment", AB_FILE, "--live", "--deploy", clients=live.clients, run=run)
    assert code == 0
    assert calls == [[str(REPO_ROOT / "node_modules" / ".bin" / "cdk"), "deploy", "-c", f"deployment={AB_FILE}"]]

    unsafe = LiveStub()
    unsafe.endpoint(AB_LIVE, scaled=["mistral-7b", "mixtral-8x7b"])
    assert run_plan(capsys, *FINISH, "--live", "--deploy", clients=unsafe.clients, run=run)[0] == 1
    assert len(calls) == 1, "an unsafe step never reaches cdk deploy"
    code, out, err = run_plan(capsys, "--deployment", "deployments/chat.yaml", "--deploy", run=run)
    assert code == 2
    assert "--deploy needs --live" in err
    assert out == "", "refused before printing a plan that reads as if it would run"


def test_the_module_runs_as_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "migration", "plan", "--deployment", AB_FILE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "phase split" in result.stdout
    assert "before: unknown (pass --live or --previous FILE to check the step)" in result.stdout


def deploy_commands(text: str) -> list[dict[str, str]]:
    """The -c flags of every `npx cdk deploy` line in a document."""
    lines = [line.split("#")[0] for line in text.splitlines() if line.strip().startswith("npx cdk deploy")]
    return [dict(flag.split("=", 1) for flag in re.findall(r"-c (\S+=\S+)", line)) for line in lines]


def test_the_runbooks_commands_are_valid_specs_and_cover_every_next_step(registry):
    from migration.plan import next_steps

    documented = deploy_commands((REPO_ROOT / "README.md").read_text()) + deploy_commands(
        (REPO_ROOT / "docs" / "migrations.md").read_text()
    )
    readme_migration = deploy_commands((REPO_ROOT / "README.md").read_text().split("## Migrating an endpoint")[1])
    assert readme_migration[:5] == [PHASES[p] for p in ("start", "ab", "shift", "finish", "rollback")]
    resolved = {repr(deployment_from_context(flags.get, {}, registry)) for flags in documented}  # each one is valid
    for phase in ("ab", "shift", "rollback"):
        for _, command in next_steps(specs(registry)[phase]):
            flags = deploy_commands(command)[0]
            assert repr(deployment_from_context(flags.get, {}, registry)) in resolved, command


def test_next_steps_keep_the_region_of_the_spec(registry):
    """The printed command must reach the same stack whatever CDK_DEFAULT_REGION says when it runs."""
    from migration.plan import next_steps

    context = {**PHASES["shift"], "region": "eu-west-1"}
    spec = deployment_from_context(context.get, {}, registry)
    commands = dict(next_steps(spec))
    assert commands["finish"] == "npx cdk deploy -c endpoint=chat -c region=eu-west-1 -c model=mixtral-8x7b -c retire=mistral-7b"
    for command in commands.values():
        assert deployment_from_context(deploy_commands(command)[0].get, {}, registry).region == "eu-west-1"


def test_next_steps_of_a_deployment_file_say_what_to_edit_in_it(registry, tmp_path):
    from migration.plan import next_steps

    path = tmp_path / "chat.yaml"
    path.write_text("endpoint: chat\nregion: eu-west-1\nmodel: mistral\ncandidate: mixtral\ncandidate_weight: 100\n")
    spec = deployment_from_context({"deployment": str(path)}.get, {}, registry)
    commands = dict(next_steps(spec))
    assert commands["finish"] == (
        f"in {path} set model: mixtral-8x7b, retire: mistral-7b and remove candidate, candidate_weight; "
        f"then npx cdk deploy -c deployment={path}"
    )
    assert commands["roll back"].startswith(f"in {path} set model: mistral-7b, candidate: mixtral-8x7b, candidate_weight: 0;")


def test_previous_at_a_git_revision_sees_a_model_config_edit(capsys, monkeypatch):
    """Today's mistral-7b.yaml runs ml.g5.xlarge; at revision OLD it ran ml.g5.2xlarge. The same deployment file
    then hides an instance-type change of an autoscaled variant, which SageMaker refuses."""
    from migration import plan

    def show(revision: str, path: str) -> bytes:
        assert revision == "OLD"
        if path == "deployments/chat.yaml":
            return b"endpoint: chat\nmodel: mistral\n"
        text = (REPO_ROOT / path).read_text()
        if path == "model_configs/mistral-7b.yaml":
            text = text.replace("type: ml.g5.xlarge", "type: ml.g5.2xlarge", 1)
            text = text.replace("fallback_types: [ml.g5.2xlarge, ", "fallback_types: [", 1)  # not twice a pool
            assert "ml.g5.2xlarge" in text
        return text.encode()

    monkeypatch.setattr(plan, "git_show", show)
    code, out, _ = run_plan(capsys, "-c", "endpoint=chat", "-c", "model=mistral", "--previous", "OLD:deployments/chat.yaml")
    assert code == 1
    assert "ERROR: changes the instance type of mistral-7b (ml.g5.2xlarge -> ml.g5.xlarge) while it is an" in out

    today = REPO_ROOT / "tests/fixtures/deployments/chat-start.yaml"
    code, out, _ = run_plan(capsys, "-c", "endpoint=chat", "-c", "model=mistral", "--previous", str(today))
    assert code == 0 and "today's model configs: give REV:FILE to see config edits" in out


def test_a_refused_step_suggests_steps_from_the_live_endpoint_not_from_the_refused_phase(capsys):
    """The endpoint serves Mixtral alone; a shift that would add Mistral is refused. The old output suggested
    finishing that shift with retire=mistral-7b, a variant the endpoint does not have."""
    live = LiveStub()
    live.endpoint([("mixtral-8x7b", "ml.g5.12xlarge", 1.0, 1)], scaled=["mixtral-8x7b"])
    shift = ["-c", "endpoint=chat", "-c", "model=mistral", "-c", "candidate=mixtral", "-c", "candidate_weight=100"]
    code, out, _ = run_plan(capsys, *shift, "--live", clients=live.clients)
    assert code == 1
    assert "ERROR: this shift deploy adds mistral-7b" in out
    next_section = out.split("\nnext", 1)[1]
    assert "retire" not in next_section
    assert next_section.splitlines()[1:] == [
        "  start a migration (split): npx cdk deploy -c endpoint=chat -c region=us-east-1 -c model=mixtral-8x7b"
        " -c candidate=mistral-7b -c candidate_weight=10"
    ]


def test_a_refused_retire_suggests_draining_first(capsys):
    live = LiveStub()
    live.endpoint(AB_LIVE, scaled=["mistral-7b", "mixtral-8x7b"])
    code, out, _ = run_plan(capsys, *FINISH, "--live", clients=live.clients)
    assert code == 1
    steps = out.split("\nnext, from the endpoint as it is (live endpoint):\n", 1)[1].splitlines()
    # The live split (mistral 90%, mixtral 10%) goes on with a shift or a roll back: each drains a variant first.
    assert [step.split(":", 1)[0].strip() for step in steps] == ["shift all traffic", "roll back"]
    assert all("retire" not in step for step in steps)
    assert "-c model=mistral-7b -c candidate=mixtral-8x7b -c candidate_weight=100" in steps[0]


def test_plan_help_names_the_command_users_run(capsys):
    """`python -m migration plan` needs the project's .venv; users run it through tasks.sh (docs/migrations.md)."""
    with pytest.raises(SystemExit, match=r"^0$"):
        main(["plan", "--help"])
    assert capsys.readouterr().out.startswith("usage: ./tasks.sh plan-migration [-h]")
