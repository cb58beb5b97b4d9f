"""The local rehearsal end to end: the real CDK CLI deploys a stack into moto, walks it through the
migration phases (serve, A/B split, shift, retire), verifies each with boto3 and destroys it.

Starts its own emulator on a free 127.0.0.1 port and stops it. Dummy credentials only; every AWS
endpoint is the emulator.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

import llm_client
from local_aws import rehearsal
from local_aws.verify import Deployed, leftovers, retained_physical_ids, verify_stack
from tests.conftest import REPO_ROOT, synth_in_process

sys.path.insert(0, str(REPO_ROOT / "examples"))

# The Bedrock model the agent's endpoint moves to: any current (not retired) Bedrock config.
BEDROCK_MODEL = "claude-sonnet-5-5"  # the guide's SageMaker -> Bedrock move, today
QUESTION = "What is 1.408 times 730?"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rehearsal.Emulator]:
    emulator = rehearsal.start_emulator("us-east-1", tmp_path_factory.mktemp("moto") / "moto.log")
    yield emulator
    rehearsal.stop_emulator(emulator)
    assert not rehearsal.is_up(emulator)


def test_environment_for_the_cli_has_no_real_aws_settings(emulator: rehearsal.Emulator) -> None:
    real = {
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "t",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "CDK_DEFAULT_ACCOUNT": "1",
        "PATH": "/bin",
        "HTTPS_PROXY": "http://proxy.example:3128",
        "NO_PROXY": "intranet.example",
    }
    env = rehearsal.local_environment(emulator, real)
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env and "CDK_DEFAULT_ACCOUNT" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["PATH"] == "/bin"
    endpoints = {k: v for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL")}
    assert endpoints == {"AWS_ENDPOINT_URL": emulator.url, "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": emulator.url}
    assert emulator.url.startswith("http://127.0.0.1:")
    assert env["CDK_DISABLE_CLI_TELEMETRY"] == env["CDK_DISABLE_VERSION_CHECK"] == "1"
    assert env["NO_PROXY"] == "intranet.example,127.0.0.1" and env["no_proxy"] == "127.0.0.1"


def test_client_apps_get_the_runtimes_at_the_stand_in_and_everything_else_at_moto(emulator: rehearsal.Emulator) -> None:
    env = rehearsal.client_environment(emulator, {"PATH": "/bin", "AWS_PROFILE": "prod"})
    endpoints = {k: v for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL")}
    assert endpoints == {
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": emulator.standin_url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator.standin_url,
    }
    assert emulator.standin_port not in (0, emulator.port) and "AWS_PROFILE" not in env
    assert env["PATH"] == f"{REPO_ROOT / '.venv' / 'bin'}:/bin" and env["AWS_ACCESS_KEY_ID"] == "testing"


def test_run_local_without_an_emulator_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    assert rehearsal.main(["run", "python", "-V"]) == 2
    assert capsys.readouterr().err == (
        "error: no local emulator with the runtime stand-in is running: ./tasks.sh deploy-local first\n"
    )


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
@pytest.mark.parametrize("server", ["moto", "runtime stand-in"])
def test_emulator_listens_on_127_0_0_1_only(emulator: rehearsal.Emulator, server: str) -> None:
    port = emulator.port if server == "moto" else emulator.standin_port
    listening = [  # /proc/net/tcp{,6}: local address as HEXIP:HEXPORT, state 0A = LISTEN
        line.split()[1].split(":")[0]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for line in Path(table).read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
    ]
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian; no 0.0.0.0, no IPv6


def test_the_suite_finds_no_aws_credentials() -> None:
    """conftest.py hides the caller's AWS settings: boto3's whole credential chain comes up empty."""
    assert boto3.Session().get_credentials() is None


CHAT = ["-c", "endpoint=chat", "-c", "model=mistral"]
PHASES = {  # docs/migrations.md: Mistral 7B -> Mixtral 8x7B behind one endpoint
    "serve": CHAT,
    "split": [*CHAT, "-c", "candidate=mixtral", "-c", "candidate_weight=10"],
    "shift": [*CHAT, "-c", "candidate=mixtral", "-c", "candidate_weight=100"],
    "retire": ["-c", "endpoint=chat", "-c", "model=mixtral", "-c", "retire=mistral"],
}


@pytest.fixture
def as_client_app(emulator: rehearsal.Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process sees what `./tasks.sh run-local` gives a client app: AWS at moto, the runtimes at the stand-in."""
    for name, value in rehearsal.client_environment(emulator).items():
        if name.startswith("AWS_") or name.lower() == "no_proxy":
            monkeypatch.setenv(name, value)


@pytest.mark.e2e
def test_migration_round_trip(
    emulator: rehearsal.Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    as_client_app: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each phase is also called through llm_client: one chat model object (never rebuilt) follows the endpoint from
    Mistral on SageMaker, through the A/B split, to Mixtral, and then to a Bedrock model, where the example agent
    with its tool answers."""
    import agent as example_agent  # examples/agent.py

    make_client = rehearsal.client_factory(emulator)
    sagemaker = make_client("sagemaker")

    def served() -> tuple[str, dict[str, float]]:
        endpoint = sagemaker.describe_endpoint(EndpointName="chat")
        return endpoint["EndpointConfigName"], {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]}

    def scaled() -> list[str]:
        targets = make_client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
        return sorted(t["ResourceId"] for t in targets["ScalableTargets"])

    # serve: a gated model, so the rehearsal first creates the Hugging Face token secret with a dummy value.
    serve = rehearsal.deploy(PHASES["serve"], emulator, tmp_path / "serve", synth_in_process)
    printed = capsys.readouterr().out
    assert "created Secrets Manager secret llm-endpoints/hugging-face-token in the emulator with a DUMMY value" in printed
    assert "ok AWS::SageMaker::Endpoint" in printed and "chat: InService" in printed
    assert serve.stack_name == "llm-chat"
    serve_config, weights = served()
    assert weights == {"mistral-7b": 100.0}
    assert scaled() == ["endpoint/chat/variant/mistral-7b"]
    # Capacity fallback: the variant's instance pools, as the config lists them (docs/instance-pools.md).
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=serve_config)["ProductionVariants"]
    pools = [(pool["Priority"], pool["InstanceType"]) for pool in variant["InstancePools"]]
    assert pools == [(1, "ml.g5.xlarge"), (2, "ml.g5.2xlarge"), (3, "ml.g5.4xlarge")] and "InstanceType" not in variant
    client = llm_client.Client(ttl_seconds=0)  # re-read the parameter on every call: each phase shows at once
    assert client.invoke("chat", "Hi").served_by == "mistral-7b"
    model = llm_client.chat_model("chat", client=client)  # one chat model object for the whole test
    assert model.invoke("Hi").text.endswith("You said: Hi")
    # LMI's vLLM has no tool-call parser for Mistral 7B v0.2: the parameter says constrained, and the example agent
    # calls its tool through a JSON schema (the stand-in refuses native tools there, as vLLM does), then answers.
    agent_answer = example_agent.ask(example_agent.build_agent(model), "What is 1.408 times 730?")
    assert agent_answer.startswith("The tool says: Result of multiply: 1027.84")

    # serve straight to shift: plan-migration refuses it, so the rehearsal does, though moto would accept it.
    state = rehearsal.State(pid=emulator.pid, port=emulator.port, region=emulator.region)
    shift_flags = rehearsal.context_flags(None, PHASES["shift"][1::2])
    assert rehearsal.deploy_command(state, shift_flags, rehearsal.validate(shift_flags)) == 1
    refused = capsys.readouterr().err
    assert "error: this shift deploy adds mixtral-8x7b but carries the blue/green DeploymentConfig" in refused
    assert "refused, as ./tasks.sh plan-migration --live refuses it against AWS" in refused
    assert served() == (serve_config, {"mistral-7b": 100.0}), "nothing was deployed"

    # split (A/B): a new EndpointConfig with both variants; the endpoint follows it; both autoscale.
    rehearsal.deploy(PHASES["split"], emulator, tmp_path / "split", synth_in_process)
    split_config, weights = served()
    assert split_config != serve_config
    assert weights == {"mistral-7b": 90.0, "mixtral-8x7b": 10.0}
    assert scaled() == ["endpoint/chat/variant/mistral-7b", "endpoint/chat/variant/mixtral-8x7b"]
    assert {client.invoke("chat", "Hi", variant=v).served_by for v in weights} == set(weights)
    assert model.invoke("Hi").text.endswith("You said: Hi")  # whichever variant SageMaker picks
    evaluate_the_split(emulator, tmp_path, monkeypatch, capsys)

    # shift: Mistral drained (weight 0, no scaling target), Mixtral takes everything.
    shift = rehearsal.deploy(PHASES["shift"], emulator, tmp_path / "shift", synth_in_process)
    shift_config, weights = served()
    assert shift_config != split_config
    assert weights == {"mistral-7b": 0.0, "mixtral-8x7b": 100.0}
    assert scaled() == ["endpoint/chat/variant/mixtral-8x7b"]
    models = {m["ModelName"] for m in sagemaker.list_models()["Models"]}
    configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert len(models) == 2 and configs == [shift_config]  # replaced configs are gone, as CloudFormation does
    assert len(verify_stack(Deployed.load(make_client, shift.stack_name, shift.template))) == len(shift.template["Resources"])

    # retire: the drained variant and its model are removed.
    retire = rehearsal.deploy(PHASES["retire"], emulator, tmp_path / "retire", synth_in_process)
    assert served()[1] == {"mixtral-8x7b": 100.0}
    assert len(sagemaker.list_models()["Models"]) == 1
    assert client.invoke("chat", "Hi").served_by == "mixtral-8x7b"
    assert "".join(client.stream("chat", "Hi")).endswith("You said: Hi")
    # Mixtral 8x7B v0.1 has no tool-call parser either: the same agent calls its tool through the constrained path.
    mixtral_answer = example_agent.ask(example_agent.build_agent(model), "What is 1.408 times 730?")
    assert mixtral_answer.startswith("The tool says: Result of multiply: 1027.84")

    # destroy: nothing of the stack is left but what its template retains (the bootstrap stack stays).
    rehearsal.destroy(retire.stack_name, emulator, tmp_path / "retire")
    rehearsal.delete_dummy_secrets(emulator)
    retained = {f"kms-key {key}" for key in retained_physical_ids(retire)}
    assert set(leftovers(make_client)) == retained
    assert any(s["StackName"] == "CDKToolkit" for s in make_client("cloudformation").list_stacks()["StackSummaries"])

    # Move the endpoint to Bedrock the safe way: the SageMaker stack was destroyed explicitly (above); a Bedrock stack
    # now publishes the same /llm-endpoints/chat. The same agent object, with no code change, calls Converse.
    with pytest.raises(llm_client.EndpointNotFoundError, match="no endpoint named 'chat'"):
        client.invoke("chat", "Hi")  # between the two deploys: one clear message
    bedrock_context = ["-c", "endpoint=chat", "-c", f"model={BEDROCK_MODEL}"]
    bedrock = rehearsal.deploy(bedrock_context, emulator, tmp_path / "bedrock", synth_in_process)
    answer = client.invoke("chat", "Hi")
    assert answer.hosting == "bedrock" and answer.text.startswith("[protocol stand-in, not a model: bedrock model ")
    agent = example_agent.build_agent(model)  # the same model object and agent code, now on Bedrock
    assert example_agent.ask(agent, QUESTION) == "The tool says: 1027.84"
    rehearsal.destroy(bedrock.stack_name, emulator, tmp_path / "bedrock")


def evaluate_the_split(
    emulator: rehearsal.Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/evaluation.md's documented command, as a user runs it after deploy-local with a 90/10 split: it finds the
    rehearsal from its state file, compares the two variants and writes every report format."""
    from evaluation import cli

    [command] = re.findall(r"^(\./tasks\.sh evaluate --local .*)$", (REPO_ROOT / "docs" / "evaluation.md").read_text(), re.M)
    args = shlex.split(command)[2:]
    state = rehearsal.State(emulator.pid, emulator.port, emulator.region, standin_port=emulator.standin_port)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "state" / "moto.json")
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path / "state")
    rehearsal.write_state(state)
    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "evaluation"
    capsys.readouterr()
    assert cli.main([*args, "--out", str(out), "--no-progress"]) == 0  # its --fail-if gates pass on the stand-in
    printed = capsys.readouterr().out
    assert printed.startswith("Local rehearsal: the runtimes are a protocol stand-in, not a model.")
    assert re.search(r"^chat/mistral-7b +7 ", printed, re.M) and re.search(r"^chat/mixtral-8x7b +7 ", printed, re.M)
    assert "pass  --fail-if 'chat/mixtral-8x7b: quality < [chat/mistral-7b] - 0.05'" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["summaries"]) == {"chat/mistral-7b", "chat/mixtral-8x7b"}
    assert {r["served_by"] for r in results["records"] if r["target"] == "chat/mixtral-8x7b"} == {"mixtral-8x7b"}
    assert all(r["ok"] for r in results["records"])
    assert "protocol stand-in, not a model" in (out / "report.md").read_text()
    assert (out / "report.html").read_text().count("<svg") == 2


ZERO = ["-c", "model=mistral", "-c", "endpoint=quiet", "-c", "scale_to_zero=true"]  # docs/local-deploy.md
COMPONENT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


@pytest.mark.e2e
def test_scale_to_zero_round_trip(
    emulator: rehearsal.Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    as_client_app: None,
) -> None:
    """docs/local-deploy.md's scale-to-zero rehearsal through the deploy-local command (its preflight included): the
    components, their scaling and alarms exist as the template says, a budget change updates the stack in place, a
    component scales to 0 copies as Application Auto Scaling would, and destroy leaves nothing of it."""
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    state = rehearsal.State(pid=emulator.pid, port=emulator.port, region=emulator.region)
    rehearsal.write_state(state)
    make_client = rehearsal.client_factory(emulator)
    sagemaker, autoscaling = make_client("sagemaker"), make_client("application-autoscaling")

    def recorded() -> rehearsal.State:
        state = rehearsal.read_state()
        assert state is not None
        return state

    def deploy_local(*extra: str, base: tuple[str, ...] = tuple(ZERO)) -> Deployed:
        flags = [*base, *extra]
        assert rehearsal.deploy_command(recorded(), flags, rehearsal.validate(flags), synth_in_process) == 0
        [(stack_name, assembly)] = recorded().stacks.items()
        template = json.loads(next(Path(assembly).glob("*.template.json")).read_text())
        return Deployed.load(make_client, stack_name, template)

    def components(deployed: Deployed) -> dict[str, dict[str, Any]]:
        """Each InferenceComponent resource of the template (1 or 2, whatever their logical IDs), as deployed."""
        return {
            logical_id: deployed.resolve(resource["Properties"])
            for logical_id, resource in deployed.template["Resources"].items()
            if resource["Type"] == "AWS::SageMaker::InferenceComponent"
        }

    first = deploy_local()
    printed = capsys.readouterr().out
    assert "ok AWS::SageMaker::InferenceComponent" in printed
    # Idle release: the endpoint gives back instances without copies 5 minutes after the last one went.
    config_name = sagemaker.describe_endpoint(EndpointName="quiet")["EndpointConfigName"]
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    assert variant["ManagedInstanceScaling"]["ScaleInPolicy"] == {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 5}
    assert [pool["InstanceType"] for pool in variant["InstancePools"]] == ["ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge"]
    assert 1 <= len(components(first)) <= 2
    described = {}
    for logical_id, expected in components(first).items():
        name = expected["InferenceComponentName"]
        component = sagemaker.describe_inference_component(InferenceComponentName=name)
        described[name] = component
        assert first.physical_ids[logical_id] == component["InferenceComponentArn"]
        assert (component["EndpointName"], component["VariantName"]) == (expected["EndpointName"], expected["VariantName"])
        assert component["Specification"]["ModelName"] == expected["Specification"]["ModelName"]
        assert (
            component["Specification"]["ComputeResourceRequirements"] == expected["Specification"]["ComputeResourceRequirements"]
        )
        assert component["RuntimeConfig"]["CurrentCopyCount"] == expected["RuntimeConfig"]["CopyCount"] == 1
        [target] = autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=[f"inference-component/{name}"], ScalableDimension=COMPONENT_DIMENSION
        )["ScalableTargets"]
        assert target["MinCapacity"] == 0
        policies = autoscaling.describe_scaling_policies(
            ServiceNamespace="sagemaker", ResourceId=f"inference-component/{name}", ScalableDimension=COMPONENT_DIMENSION
        )["ScalingPolicies"]
        assert sorted(p["PolicyType"] for p in policies) == ["StepScaling", "StepScaling", "TargetTrackingScaling"]
        step_arns = {p["PolicyARN"] for p in policies if p["PolicyType"] == "StepScaling"}
        alarms = make_client("cloudwatch").describe_alarms()["MetricAlarms"]
        assert len([a for a in alarms if set(a["AlarmActions"]) & step_arns]) == 2  # wake from zero, idle to zero
    assert rehearsal.status_command(recorded()) == 0
    status = capsys.readouterr().out
    pools = "ml.g5.xlarge or ml.g5.2xlarge or ml.g5.4xlarge"  # the instance pools, in priority order
    assert f"    variant AllTraffic: 1 x {pools}, hosts 1 inference component(s)" in status
    assert "      inference component quiet-mistral-7b: InService, 1 copy of model llm-quiet-" in status

    # A second deploy that changes something real (the budget) updates the stack; the component stays as it was.
    second = deploy_local("-c", "budget_usd=250")
    printed, preflight = capsys.readouterr()
    assert "Deployed llm-quiet into the local AWS emulator" in printed
    assert preflight == "", "the preflight (plan-migration --live's check) reads a component endpoint without a finding"
    [stack] = make_client("cloudformation").describe_stacks(StackName="llm-quiet")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    [budget] = make_client("budgets").describe_budgets(AccountId=rehearsal.ACCOUNT)["Budgets"]
    assert budget["BudgetLimit"]["Amount"] == "250"
    for name, before in described.items():
        after = sagemaker.describe_inference_component(InferenceComponentName=name)
        assert (after["InferenceComponentArn"], after["CreationTime"]) == (
            before["InferenceComponentArn"],
            before["CreationTime"],
        )

    # Application Auto Scaling's idle policy sets the copy count to 0: the component stays, with no copy.
    for name in described:
        sagemaker.update_inference_component_runtime_config(InferenceComponentName=name, DesiredRuntimeConfig={"CopyCount": 0})
        runtime = sagemaker.describe_inference_component(InferenceComponentName=name)["RuntimeConfig"]
        assert runtime == {"DesiredCopyCount": 0, "CurrentCopyCount": 0}
    assert len(verify_stack(second)) == len(second.template["Resources"])  # 0 is within the scalable target's range
    assert rehearsal.status_command(recorded()) == 0
    assert "inference component quiet-mistral-7b: InService, 0 copies of model" in capsys.readouterr().out

    last = migrate_between_components(deploy_local, recorded, make_client, capsys)

    rehearsal.destroy(last.stack_name, emulator, Path(recorded().stacks[last.stack_name]))
    rehearsal.delete_dummy_secrets(emulator)
    assert sagemaker.list_inference_components()["InferenceComponents"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    assert make_client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert set(leftovers(make_client)) == {f"kms-key {key}" for key in retained_physical_ids(second)}


QUIET_ZERO = ("-c", "endpoint=quiet", "-c", "scale_to_zero=true")


def migrate_between_components(
    deploy_local: Callable[..., Deployed],
    recorded: Callable[[], rehearsal.State],
    make_client: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> Deployed:
    """docs/scale-to-zero.md's migration on the live `quiet` (mistral-7b): split 90/10 with llama2-7b, shift, retire
    mistral-7b, each step verified through the APIs; the unsafe steps are refused with nothing changed."""
    sagemaker, autoscaling = make_client("sagemaker"), make_client("application-autoscaling")

    def live() -> dict[str, tuple[int, bool]]:
        """Component name -> (copies, whether it is a scalable target)."""
        listed = sagemaker.list_inference_components(EndpointNameEquals="quiet")["InferenceComponents"]
        targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        scaled = {t["ResourceId"].removeprefix("inference-component/") for t in targets}
        found = {}
        for name in (c["InferenceComponentName"] for c in listed):
            runtime = sagemaker.describe_inference_component(InferenceComponentName=name)["RuntimeConfig"]
            found[name] = (runtime["CurrentCopyCount"], name in scaled)
        return found

    def weights() -> dict[str, int]:
        value = json.loads(make_client("ssm").get_parameter(Name="/llm-endpoints/quiet")["Parameter"]["Value"])
        return {entry["inference_component_name"]: entry["weight"] for entry in value["variants"]}

    def refused(*flags: str) -> str:
        before = live()
        assert rehearsal.deploy_command(recorded(), list(flags), rehearsal.validate(list(flags))) == 1
        assert live() == before
        return capsys.readouterr().err

    candidate = ("-c", "model=mistral", "-c", "candidate=llama2-7b")
    deploy_local(*candidate, "-c", "candidate_weight=10", base=QUIET_ZERO)
    capsys.readouterr()
    assert live() == {"quiet-mistral-7b": (0, True), "quiet-llama2-7b": (1, True)}  # mistral-7b idled to 0 above
    assert weights() == {"quiet-mistral-7b": 90, "quiet-llama2-7b": 10}
    # Clients split the traffic by those weights, a component per request, through the runtime stand-in.
    client = llm_client.Client(ttl_seconds=0, routing_random=random.Random(7))
    served = Counter(client.invoke("quiet", "Hi").served_by for _ in range(40))
    assert set(served) == {"quiet-mistral-7b", "quiet-llama2-7b"} and served["quiet-mistral-7b"] > served["quiet-llama2-7b"]
    assert client.invoke("quiet", "Hi", variant="llama2-7b").model_key == "llama2-7b"

    message = refused(*QUIET_ZERO, "-c", "model=llama2-7b", "-c", "retire=mistral")
    assert "removes inference component mistral-7b while it is an Application Auto Scaling target" in message

    deploy_local(*candidate, "-c", "candidate_weight=100", base=QUIET_ZERO)
    assert live() == {"quiet-mistral-7b": (0, False), "quiet-llama2-7b": (1, True)}  # drained: no copy, no target
    assert weights() == {"quiet-mistral-7b": 0, "quiet-llama2-7b": 100}
    assert {client.invoke("quiet", "Hi").served_by for _ in range(10)} == {"quiet-llama2-7b"}

    last = deploy_local("-c", "model=llama2-7b", "-c", "retire=mistral", base=QUIET_ZERO)
    assert live() == {"quiet-llama2-7b": (1, True)}
    [model] = sagemaker.list_models()["Models"]  # mistral-7b's model went with its component
    assert "Modelllama27b" in model["ModelName"]
    capsys.readouterr()

    message = refused("-c", "model=llama2-7b", "-c", "endpoint=quiet")  # back to a variant endpoint under one name
    assert "serves its models as inference components; this deploy would serve them as production variants" in message
    return last


@pytest.mark.e2e  # the real CDK CLI: scheduled first (tests/conftest.py)
def test_bad_model_fails_before_anything_is_deployed(emulator: rehearsal.Emulator, tmp_path: Path) -> None:
    # The module's emulator may hold what an earlier test of this process left (the end-to-end tests run first).
    endpoints = rehearsal.client_factory(emulator)("sagemaker").list_endpoints
    before = endpoints()["Endpoints"]
    with pytest.raises(subprocess.CalledProcessError):
        rehearsal.deploy(["-c", "model=no-such-model"], emulator, tmp_path)
    assert endpoints()["Endpoints"] == before


@pytest.mark.e2e
def test_deploy_local_and_destroy_local_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`./tasks.sh deploy-local claude-haiku-5-5` then `destroy-local`, as the user runs them: the commands start
    the emulator, record it in the state file, ignore a real-looking AWS profile, and stop the emulator."""
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")  # would fail the CLI if it were used
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: traffic through it would fail
    try:
        # A model that does not exist is refused before the emulator starts (it used to bootstrap first).
        assert rehearsal.main(["deploy", "gpt4"]) == 2
        assert "error: -c model: unknown model 'gpt4'" in capfd.readouterr().err
        assert rehearsal.read_state() is None, "no emulator was started"

        assert rehearsal.main(["deploy", "claude-haiku-5-5"]) == 0
        state = rehearsal.read_state()
        assert state is not None and list(state.stacks) == ["llm-claude-haiku-5-5"] and rehearsal.is_up(state.emulator)
        printed = "".join(capfd.readouterr())  # the CLI's output too
        assert "Deployed llm-claude-haiku-5-5 into the local AWS emulator" in printed
        assert "mistral" not in printed  # bootstrap did not synthesize cdk.json's default model
        assert "ok AWS::IAM::ManagedPolicy" in printed and "./tasks.sh destroy-local" in printed
        # The CLI's "Stack ARN:" header and bare ARN line are gone; the summary labels the ARN.
        assert "Stack ARN:" not in printed and "\narn:aws:cloudformation:" not in printed
        assert "  stack ARN arn:aws:cloudformation:us-east-1:123456789012:stack/llm-claude-haiku-5-5/" in printed
        assert "AWS CLI" not in printed and "./tasks.sh status-local" in printed

        assert rehearsal.main(["status"]) == 0
        status = capfd.readouterr().out
        assert f"Local AWS emulator at {state.emulator.url}, region us-east-1" in status
        assert "  llm-claude-haiku-5-5: CREATE_COMPLETE" in status and "  CDKToolkit: CREATE_COMPLETE (CDK bootstrap)" in status
        assert "endpoints: none" in status  # a Bedrock stack runs no endpoint
        assert "  /llm-endpoints/claude-haiku-5-5: hosting bedrock" in status
        assert "alarms: 3" in status, status

        assert rehearsal.main(["destroy"]) == 0
        assert "Destroyed llm-claude-haiku-5-5; nothing else was left behind." in capfd.readouterr().out
        assert rehearsal.read_state() is None and not rehearsal.is_up(state.emulator)
    finally:
        left = rehearsal.read_state()
        if left is not None:
            rehearsal.stop_emulator(left.emulator)


@pytest.mark.e2e  # the real CDK CLI: scheduled first (tests/conftest.py)
def test_a_change_of_hosting_kind_is_refused_and_destroy_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """docs/bedrock.md's tempting move, as users run it: `deploy-local mistral -c endpoint=chat`, then
    `deploy-local claude-haiku-4-5 -c endpoint=chat`. The second is refused before the CLI runs, the endpoint still
    serves, and `destroy-local` (through the endpoint stack's termination protection) leaves nothing behind."""
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    try:
        assert rehearsal.main(["deploy", "mistral", "-c", "endpoint=chat"]) == 0
        state = rehearsal.read_state()
        assert state is not None
        make_client = rehearsal.client_factory(state.emulator)
        [stack] = make_client("cloudformation").describe_stacks(StackName="llm-chat")["Stacks"]
        assert stack["EnableTerminationProtection"] is True
        # The other end-to-end tests synthesize in process (synth_in_process): it writes the CLI's template exactly.
        cli_assembly = rehearsal.read_assembly(Path(state.stacks["llm-chat"]))
        mistral_flags = rehearsal.context_flags("mistral", ["endpoint=chat"])
        assert synth_in_process(mistral_flags, state.emulator, tmp_path / "in-process") == cli_assembly
        capfd.readouterr()

        assert rehearsal.main(["deploy", "claude-haiku-4-5", "-c", "endpoint=chat"]) == 1
        err = capfd.readouterr().err
        assert "stack llm-chat serves endpoint chat from a SageMaker endpoint; this deploy of claude-haiku-4-5 would serve" in err
        assert "deploy claude-haiku-4-5 under a new name (-c endpoint=chat-bedrock)" in err
        assert "Nothing was deployed: the emulator is as it was" in err
        assert "Traceback" not in err
        assert [e["EndpointName"] for e in make_client("sagemaker").list_endpoints()["Endpoints"]] == ["chat"]
        parameter = make_client("ssm").get_parameter(Name="/llm-endpoints/chat")["Parameter"]["Value"]
        assert '"hosting": "sagemaker"' in parameter
        assert rehearsal.read_state() == state, "the refused deploy recorded nothing"

        # A hand-run `npx cdk deploy` has no preflight: the template's hosting lock must stop it. The emulator
        # orders the update as CloudFormation does (creates first, deletes in the cleanup phase) and rolls back.
        assembly = tmp_path / "by-hand"
        context = ["-c", "model=claude-haiku-4-5", "-c", "endpoint=chat"]
        by_hand = rehearsal.synth(context, state.emulator, assembly)
        assert synth_in_process(context, state.emulator, tmp_path / "in-process-bedrock") == by_hand  # Bedrock too
        with pytest.raises(subprocess.CalledProcessError):
            rehearsal.cdk(
                ["deploy", "--app", str(assembly), "--method=direct", "--require-approval", "never"], state.emulator, assembly
            )
        printed = "".join(capfd.readouterr())
        assert "The parameter already exists" in printed  # moto names no resource; CloudFormation names the lock
        [stack] = make_client("cloudformation").describe_stacks(StackName="llm-chat")["Stacks"]
        assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
        assert stack["EnableTerminationProtection"] is True, "the CLI set it to the (protected) Bedrock template's"
        assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Hosting"] == "sagemaker"
        assert make_client("sagemaker").describe_endpoint(EndpointName="chat")["EndpointStatus"] == "InService"
        assert '"hosting": "sagemaker"' in make_client("ssm").get_parameter(Name="/llm-endpoints/chat")["Parameter"]["Value"]

        assert rehearsal.main(["destroy"]) == 0
        out = capfd.readouterr().out
        assert "turning off termination protection of llm-chat: you asked to destroy it" in out
        assert "Destroyed llm-chat; nothing else was left behind." in out
    finally:
        left = rehearsal.read_state()
        if left is not None:
            rehearsal.stop_emulator(left.emulator)


def test_a_failed_first_deploy_stops_the_emulator_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No emulator is left running unannounced: one this command started for a deploy that failed is stopped."""
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    started: list[rehearsal.Emulator] = []

    def failing_deploy(context: list[str], emulator: rehearsal.Emulator, output_dir: Path, *synthesize: object) -> None:
        started.append(emulator)
        raise subprocess.CalledProcessError(1, ["cdk", "deploy"])

    monkeypatch.setattr(rehearsal, "deploy", failing_deploy)
    assert rehearsal.main(["deploy", "mistral"]) == 1
    assert "Stopped the local AWS emulator this command started: nothing was deployed into it." in capsys.readouterr().err
    assert len(started) == 1 and not rehearsal.is_up(started[0]) and rehearsal.read_state() is None


def test_deploy_flags_default_to_the_apps_model_unless_a_model_or_deployment_file_is_named() -> None:
    assert rehearsal.context_flags(None, []) == ["-c", "model=mistral-7b"]
    assert rehearsal.context_flags("mistral", ["endpoint=chat"]) == ["-c", "model=mistral", "-c", "endpoint=chat"]
    assert rehearsal.context_flags(None, ["deployment=deployments/chat.yaml"]) == ["-c", "deployment=deployments/chat.yaml"]
    assert rehearsal.context_flags(None, ["model=mistral"]) == ["-c", "model=mistral"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mixtral", "-c", "model=mistral"], "error: -c model: conflicts with MODEL 'mixtral': a deploy names its model once\n"),
        (["-c", "model=mistral", "-c", "endpoint=a", "-c", "endpoint=b"], "error: -c endpoint: is given twice\n"),
    ],
)
def test_deploy_local_refuses_two_values_for_one_flag(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    assert rehearsal.main(["deploy", *args, "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith(message)


def test_dry_run_validates_a_deployment_file_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    assert rehearsal.main(["deploy", "-c", "deployment=deployments/chat.yaml", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "would deploy llm-chat (-c deployment=deployments/chat.yaml) into the local emulator in us-east-1\n"
    )
    assert rehearsal.main(["deploy", "mistral", "-c", "deployment=deployments/chat.yaml", "--dry-run"]) == 2
    assert "-c deployment: conflicts with MODEL 'mistral'" in capsys.readouterr().err


def test_dry_run_of_a_router_deploys_no_default_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    policy = "policy=routing/policies/mmlu-mixtral-vs-gpt4.json"
    flags = ["-c", "router=assistant", "-c", "weak=chat", "-c", "strong=claude", "-c", policy]
    assert rehearsal.main(["deploy", *flags, "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would deploy llm-router-assistant (-c router=assistant -c weak=chat")
    assert rehearsal.main(["deploy", "mistral", *flags, "--dry-run"]) == 2
    assert "-c router: conflicts with MODEL 'mistral'" in capsys.readouterr().err
    assert rehearsal.main(["deploy", *flags[:-2], "--dry-run"]) == 2
    assert "-c policy: is missing" in capsys.readouterr().err


def test_the_cli_output_loses_only_what_the_summary_prints_better() -> None:
    cli = [
        "✅  llm-chat\n",
        "Outputs:\n",
        "llm-chat.EndpointName = chat\n",
        "Stack ARN:\n",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/llm-chat/abc\n",
        "✨  Total time: 2.28s\n",
    ]
    assert list(rehearsal.cli_lines(cli)) == ["✅  llm-chat\n", "✨  Total time: 2.28s\n"]


def test_a_bad_region_is_refused_before_an_emulator_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    monkeypatch.setattr(rehearsal, "start_emulator", lambda *args, **kwargs: pytest.fail("an emulator was started"))
    assert rehearsal.main(["deploy", "mistral", "-c", "region=us-east-1; id"]) == 2
    assert capsys.readouterr().err == (
        "error: -c region: 'us-east-1; id' is not an AWS region name\n  fix: use a name like us-east-1\n"
    )
    assert not (tmp_path / "moto.json").exists()


def test_ctrl_c_during_a_deploy_exits_130_and_the_state_file_keeps_the_emulator(
    emulator: rehearsal.Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state_file = tmp_path / "moto.json"
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", state_file)
    rehearsal.write_state(rehearsal.State(pid=emulator.pid, port=emulator.port, region=emulator.region))

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rehearsal, "deploy", interrupted)
    assert rehearsal.main(["deploy", "mistral"]) == 130
    message = f"\ninterrupted: {state_file} records what is running; ./tasks.sh destroy-local removes it\n"
    assert capsys.readouterr().err == message
    assert rehearsal.read_state() == rehearsal.State(pid=emulator.pid, port=emulator.port, region=emulator.region)
    assert rehearsal.is_up(emulator)


def test_ctrl_c_while_the_emulator_starts_stops_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the state file names the emulator, an interrupted start must not leave it running unrecorded."""
    started: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)
        started.append(process.pid)
        return process

    def interrupted(emulator: rehearsal.Emulator) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(rehearsal, "is_up", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rehearsal.start_emulator("us-east-1", tmp_path / "moto.log")
    (pid,) = started
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.e2e
def test_the_example_agent_calls_its_tool_natively_on_mistral_v0_3(
    emulator: rehearsal.Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], as_client_app: None
) -> None:
    """Mistral 7B v0.3 is served with vLLM's mistral tool-call parser: the stand-in reads it from the deployed model's
    environment and answers the agent's tools natively (9-character call ids, which it demands back), and deploy-local
    suggests the agent."""
    import agent as example_agent  # examples/agent.py

    context = ["-c", "endpoint=tools", "-c", "model=mistral-7b-v0-3"]
    deployed = rehearsal.deploy(context, emulator, tmp_path / "tools", synth_in_process)
    assert rehearsal.calls_tools(deployed.template, "tools")  # deploy-local suggests the agent
    capsys.readouterr()
    model = llm_client.chat_model("tools")
    call = model.bind_tools(example_agent.TOOLS).invoke("What is 1.408 times 730?").tool_calls[0]
    assert call["name"] == "multiply" and len(call["id"] or "") == 9
    assert example_agent.main(["--endpoint", "tools", "What is 1.408 times 730?"]) == 0
    assert capsys.readouterr().out.strip() == "The tool says: 1027.84"


def test_the_summary_suggests_the_tool_using_agent_wherever_the_model_calls_tools(synth: Any) -> None:
    """Every shipped SageMaker config calls tools (natively with a tool-call parser, else constrained by a JSON schema),
    so deploy-local suggests the example agent for each, as for Claude on Bedrock; a parameter that says
    ``tool_calling: none`` (or ``false``, as written before the three paths) gets no suggestion: the agent would fail."""
    for model in ("mistral", "mixtral", "llama2-7b"):
        assert rehearsal.calls_tools(synth(model=model, endpoint="chat").to_json(), "chat") is True, model
    bedrock = synth(model="claude-haiku-4-5", endpoint="chat").to_json()
    assert rehearsal.calls_tools(bedrock, "chat") is True
    assert rehearsal.calls_tools(bedrock, "other") is False  # no parameter of that name
    for none in ("none", False):
        properties = {"Name": "/llm-endpoints/chat", "Value": json.dumps({"variants": [{"tool_calling": none}]})}
        template = {"Resources": {"Parameter": {"Type": "AWS::SSM::Parameter", "Properties": properties}}}
        assert rehearsal.calls_tools(template, "chat") is False


def test_a_drained_component_does_not_decide_whether_the_endpoint_calls_tools() -> None:
    def template(drained_weight: int) -> dict[str, Any]:
        entries = [{"tool_calling": "native", "weight": 100 - drained_weight}, {"tool_calling": "none", "weight": drained_weight}]
        properties = {"Name": "/llm-endpoints/quiet", "Value": json.dumps({"variants": entries})}
        return {"Resources": {"Parameter": {"Type": "AWS::SSM::Parameter", "Properties": properties}}}

    assert rehearsal.calls_tools(template(0), "quiet") is True
    assert rehearsal.calls_tools(template(10), "quiet") is False  # a request may reach the model without tools


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """The process environment as it was, after the test: `evaluate --local`, run in-process, makes its process a
    client of the rehearsal (the emulator's AWS_* settings in, the caller's out), and monkeypatch does not restore
    variables it never saw. Without this, later tests in the same worker would find the emulator's credentials."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.e2e
@pytest.mark.usefixtures("restored_environ")
def test_a_router_over_two_local_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """docs/routing.md's whole path in the rehearsal, as the user runs it: the router is refused until its routes
    exist; both routes (a SageMaker endpoint, weak, and a Bedrock model, strong) are evaluated with `evaluate
    --local`, and `route calibrate` fits a policy on that results.json; the router deploys with it; calls split as
    the policy decides, the stand-in naming who answered; the example agent runs unchanged on the router; and when
    the weak route's stack is destroyed, the strong route answers in its place."""
    from evaluation.cli import main as evaluate
    from routing.cli import main as route

    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    policy = tmp_path / "assistant.json"
    router = ["deploy", "-c", "router=assistant", "-c", "weak=chat", "-c", "strong=claude", "-c", f"policy={policy}"]
    assert route(["heuristic", "--weak", "chat", "--strong", "claude", "--out", str(policy)]) == 0  # until calibrated
    try:
        assert rehearsal.main(router) == 1
        err = capfd.readouterr().err
        assert "error: router assistant: no local emulator runs, so its routes chat and claude are not deployed" in err
        assert rehearsal.read_state() is None, "no emulator was started for a router without routes"

        assert rehearsal.main(["deploy", "mistral", "-c", "endpoint=chat"], synth_in_process) == 0
        capfd.readouterr()
        assert rehearsal.main(router) == 1  # the preflight reads the emulator's parameters: claude is missing
        assert "error: -c strong claude: no /llm-endpoints/claude in us-east-1: deploy that endpoint" in capfd.readouterr().err
        assert rehearsal.main(["deploy", BEDROCK_MODEL, "-c", "endpoint=claude"], synth_in_process) == 0

        # The stand-in echoes every prompt; only the strong route's answer names a Bedrock model. "Why" questions
        # expect that, so the strong route is better exactly on them: what calibration must learn from results.json.
        tests = tmp_path / "tests.jsonl"
        tests.write_text("".join(json.dumps(case) + "\n" for case in routing_cases()))
        results = tmp_path / "eval"
        flags = ["--target", "chat", "--target", "claude", "--out", str(results), "--local", "--no-progress"]
        assert evaluate(["--tests", str(tests), *flags, "--concurrency", "8"]) == 0
        calibrate = ["calibrate", "--from", str(results / "results.json"), "--weak", "chat", "--strong", "claude"]
        assert route([*calibrate, "--out", str(policy)]) == 0
        calibrated = json.loads(policy.read_text())["calibration"]
        assert (calibrated["weak"], calibrated["strong"]) == ("chat", "claude") and "results.json" in calibrated["from"]
        capfd.readouterr()
        assert rehearsal.main(router, synth_in_process) == 0
        out = capfd.readouterr().out
        assert "./tasks.sh run-local python -m llm_client assistant 'Hello'" in out
        assert "./tasks.sh run-local python examples/agent.py --endpoint assistant" in out
        state = rehearsal.read_state()
        assert state is not None and list(state.stacks) == ["llm-chat", "llm-claude", "llm-router-assistant"]

        for name, value in rehearsal.client_environment(state.emulator).items():
            if name.startswith("AWS_") or name.lower() == "no_proxy":
                monkeypatch.setenv(name, value)
        # Traffic like the calibration cases: new prompts of the same two kinds.
        simple = llm_client.Client().invoke("assistant", "Note 99: caching is on in prod.")
        assert (simple.route, simple.hosting) == ("chat", "sagemaker")
        assert "[protocol stand-in, not a model: endpoint chat" in simple.text
        assert (
            rehearsal.main(["run", "python", "-m", "llm_client", "assistant", "Why does caching matter in prod, case 99?"]) == 0
        )
        out, err = capfd.readouterr()
        assert "[protocol stand-in, not a model: bedrock model " in out
        assert re.search(r"\(route claude: policy: score 0\.[0-9]+ >= threshold 0\.[0-9]+\) \(bedrock: ", err), err

        # The example agent, unchanged: with its tool bound, the router skips chat (its container calls no tools).
        assert rehearsal.main(["run", "python", "examples/agent.py", "--endpoint", "assistant", QUESTION]) == 0
        assert "1027.84" in capfd.readouterr().out

        rehearsal.destroy("llm-chat", state.emulator, Path(state.stacks.pop("llm-chat")))
        rehearsal.write_state(state)
        failover = llm_client.Client().invoke("assistant", "Note 99: caching is on in prod.")
        assert failover.route == "claude" and str(failover.route_reason).startswith("failover from chat")

        assert rehearsal.main(["destroy"]) == 0
        assert "Destroyed llm-claude, llm-router-assistant; nothing else was left behind." in capfd.readouterr().out
    finally:
        left = rehearsal.read_state()
        if left is not None:
            rehearsal.stop_emulator(left.emulator)


def routing_cases() -> list[dict[str, Any]]:
    """120 cases: half "why" questions (only a Bedrock model's answer passes), half statements (both pass)."""
    subjects = ["caching", "batching", "quantization", "autoscaling", "sharding", "retries", "timeouts", "logging"]
    places = ["at night", "in staging", "under load", "for agents", "in prod", "on GPUs", "per tenant", "at startup"]
    cases = []
    for n in range(60):
        subject, place = subjects[n % 8], places[(n // 8) % 8]
        why = {"prompt": f"Why does {subject} matter {place}, case {n}?", "expect": {"contains": "bedrock model"}}
        note = {"prompt": f"Note {n}: {subject} is on {place}.", "expect": {"contains": "You said"}}
        cases += [{"id": f"why-{n}", **why}, {"id": f"note-{n}", **note}]
    return cases
