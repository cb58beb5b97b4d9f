"""Migrations on a scale-to-zero endpoint: two inference components (the serving model and its candidate) on one
endpoint, traffic split by clients from the weights in the parameter (issue 15, docs/scale-to-zero.md).

Every phase must be one plain CloudFormation update that leaves the endpoint alone: same endpoint, same endpoint
config, each component under a logical ID of its own model; a drained component has 0 copies and no scaling target.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from llm_config import ConfigError
from llm_config.deployment import deployment_from_context
from migration.live import read_live_endpoint
from migration.plan import next_steps, render
from migration.preflight import LiveStack, preflight
from migration.sequence import VariantState, check_transition, state_after, state_from_spec
from tests.conftest import NEUTRAL_ENVIRON, cfn_lint, client_parameter
from tests.test_migration_phases import of_type

QUIET = {"endpoint": "quiet", "scale_to_zero": "true"}
SPLIT = {**QUIET, "model": "mistral", "candidate": "llama2-7b"}
PHASES: dict[str, dict[str, str]] = {
    "start": {**QUIET, "model": "mistral"},
    "split": {**SPLIT, "candidate_weight": "10"},
    "shift": {**SPLIT, "candidate_weight": "100"},
    "finish": {**QUIET, "model": "llama2-7b", "retire": "mistral"},
    "revert": {**SPLIT, "candidate_weight": "0"},
    "revert-finish": {**QUIET, "model": "mistral", "retire": "llama2-7b"},
}
WEIGHTS = {
    "start": {"mistral-7b": 100},
    "split": {"mistral-7b": 90, "llama2-7b": 10},
    "shift": {"mistral-7b": 0, "llama2-7b": 100},
    "finish": {"llama2-7b": 100},
    "revert": {"mistral-7b": 100, "llama2-7b": 0},
    "revert-finish": {"mistral-7b": 100},
}
SAFE_SEQUENCES = [
    ["start", "split", "shift", "finish"],
    ["start", "split", "revert", "revert-finish"],
    ["start", "split", "shift", "split", "revert", "revert-finish"],
]


@pytest.fixture(scope="module")
def phases(synth) -> dict[str, dict[str, Any]]:
    return {phase: synth(**context).to_json() for phase, context in PHASES.items()}


def spec(registry: Any, phase: str) -> Any:
    return deployment_from_context(PHASES[phase].get, NEUTRAL_ENVIRON, registry)


def components(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Inference components by name, with their logical IDs."""
    return {
        r["Properties"]["InferenceComponentName"]: {"id": logical_id, **r["Properties"]}
        for logical_id, r in of_type(template, "AWS::SageMaker::InferenceComponent").items()
    }


def targets(template: dict[str, Any]) -> set[str]:
    return {r["Properties"]["ResourceId"] for r in of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()}


@pytest.mark.parametrize("phase", PHASES)
def test_each_model_is_a_component_with_copies_and_scaling_only_while_it_takes_traffic(phases, phase):
    template = phases[phase]
    found = components(template)
    assert set(found) == {f"quiet-{key}" for key in WEIGHTS[phase]}
    for key, weight in WEIGHTS[phase].items():
        component = found[f"quiet-{key}"]
        assert component["RuntimeConfig"] == {"CopyCount": 1 if weight else 0}  # drained: holds no instance
        assert (f"inference-component/quiet-{key}" in targets(template)) == (weight > 0)
    assert len(targets(template)) == sum(1 for weight in WEIGHTS[phase].values() if weight)


@pytest.mark.parametrize("phase", PHASES)
def test_no_phase_touches_the_endpoint_or_replaces_a_component(phases, phase):
    """The endpoint and its config are byte-identical in every phase (mistral-7b and llama2-7b both run on
    ml.g5.xlarge with max_instances 4), and a model's component keeps its logical ID whatever the phase."""
    template, start = phases[phase], phases["start"]
    for resource_type in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig"):
        assert of_type(template, resource_type) == of_type(start, resource_type)
    ids = {name: c["id"] for p in phases.values() for name, c in components(p).items()}
    for name, component in components(template).items():
        assert component["id"] == ids[name]
        assert component["id"].startswith("LlmEndpointInferenceComponent" + name.removeprefix("quiet-").replace("-", ""))


@pytest.mark.parametrize("phase", PHASES)
def test_the_parameter_publishes_each_components_weight(phases, phase):
    value = json.loads(client_parameter_of(phases[phase]))
    published = {entry["inference_component_name"]: entry["weight"] for entry in value["variants"]}
    assert published == {f"quiet-{key}": weight for key, weight in WEIGHTS[phase].items()}
    assert sum(published.values()) == 100
    main = max(WEIGHTS[phase].items(), key=lambda item: item[1])[0]
    assert value["inference_component_name"] == f"quiet-{main}"  # what a client that ignores weights calls
    assert {entry["variant_name"] for entry in value["variants"]} == {"AllTraffic"}


def client_parameter_of(template: dict[str, Any]) -> str:
    from aws_cdk.assertions import Template

    return str(client_parameter(Template.from_json(template), "quiet")["Value"])


def test_a_split_has_alarms_per_component_and_instance_alarms_once(phases):
    names = sorted(r["Properties"]["AlarmName"] for r in of_type(phases["split"], "AWS::CloudWatch::Alarm").values())
    for key in ("mistral-7b", "llama2-7b"):
        for what in ("latency-p90", "5xx-errors", "4xx-rate", "wake-from-zero", "idle-scale-to-zero"):
            assert f"quiet-{key}-{what}" in names
    assert [n for n in names if n.endswith(("gpu-memory", "-disk"))] == ["quiet-AllTraffic-disk", "quiet-AllTraffic-gpu-memory"]
    assert len(names) == len(set(names))


def test_a_drained_component_keeps_its_alarms_but_not_its_scaling(phases):
    names = {r["Properties"]["AlarmName"] for r in of_type(phases["shift"], "AWS::CloudWatch::Alarm").values()}
    assert "quiet-mistral-7b-latency-p90" in names
    assert "quiet-mistral-7b-wake-from-zero" not in names  # no scaling target to wake
    assert "quiet-llama2-7b-wake-from-zero" in names


def test_the_dashboard_graphs_both_components_with_unique_metric_ids(phases):
    [dashboard] = of_type(phases["split"], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "quiet-mistral-7b" in body and "quiet-llama2-7b" in body
    assert "latency_p90_quiet_llama2_7b" in body and "latency_p90_quiet_mistral_7b" in body
    assert body.count("FILL(samples_alltraffic, 0)") == 2  # instances and cost, once: both components share them


@pytest.mark.parametrize("phase", ["split", "shift", "revert"])
def test_two_component_templates_are_clean(phases, phase):
    """cdk-nag ran in the synth (an error fails it); cfn-lint finds nothing."""
    matches = cfn_lint(phases[phase])
    assert [str(m) for m in matches] == []


def test_a_candidate_on_another_instance_type_is_refused_with_the_way_out(registry):
    context = {**QUIET, "model": "mistral", "candidate": "mixtral", "candidate_weight": "10"}
    with pytest.raises(ConfigError, match=r"-c candidate: mixtral-8x7b runs on ml.g6e.xlarge .* share its ml.g5.xlarge") as error:
        deployment_from_context(context.get, NEUTRAL_ENVIRON, registry)
    assert "-c endpoint=quiet-next -c model=mixtral-8x7b -c scale_to_zero=true" in str(error.value)


def test_llama2_13b_to_mixtral_share_g6e_instances(synth):
    template = synth(**{**QUIET, "model": "llama2-13b", "candidate": "mixtral", "candidate_weight": "10"}).to_json()
    assert set(components(template)) == {"quiet-llama2-13b", "quiet-mixtral-8x7b"}


@pytest.mark.parametrize("sequence", SAFE_SEQUENCES, ids="->".join)
def test_the_documented_sequences_are_safe(registry, sequence):
    before = None
    for phase in sequence:
        current = spec(registry, phase)
        assert check_transition(before, current) == [], f"step to {phase}"
        before = state_after(before, current)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            "split",
            "finish",
            "removes inference component mistral-7b while it is an Application Auto Scaling target: "
            "clients may still send it requests",
        ),
        ("split", "revert-finish", "removes inference component llama2-7b while it is an Application Auto Scaling target"),
        (
            "start",
            "revert",
            "adds inference component llama2-7b at weight 0: .* SageMaker refuses to create a component with 0 copies",
        ),
        ("start", "shift", "adds inference component llama2-7b at weight 100: let the candidate enter with a split"),
    ],
)
def test_unsafe_component_steps_are_refused(registry, before, after, expected):
    findings = check_transition(state_from_spec(spec(registry, before)), spec(registry, after))
    assert any(f.severity == "error" and re.search(expected, f.message) for f in findings), findings


def test_a_drained_component_is_set_to_zero_copies_by_the_deploy(registry):
    live = {
        "mistral-7b": VariantState("mistral-7b", "ml.g5.xlarge", math.nan, 3, True, "quiet-mistral-7b"),
        "llama2-7b": VariantState("llama2-7b", "ml.g5.xlarge", math.nan, 1, True, "quiet-llama2-7b"),
    }
    after = state_after(live, spec(registry, "shift"))
    assert (after["mistral-7b"].instance_count, after["llama2-7b"].instance_count) == (0, 1)


def test_changing_the_instance_type_under_components_is_refused(registry):
    live = {"mistral-7b": VariantState("mistral-7b", "ml.g6.xlarge", math.nan, 0, True, "quiet-mistral-7b")}
    [finding] = check_transition(live, spec(registry, "start"))
    assert "changes the instance type of endpoint quiet (ml.g6.xlarge -> ml.g5.xlarge) under its inference" in finding.message


@pytest.mark.parametrize(
    ("live_components", "context", "expected"),
    [
        (
            False,
            PHASES["start"],
            r"serves its models as production variants; this deploy would serve them as inference "
            r"components.*-c endpoint=quiet-zero\), move the clients to its parameter /llm-endpoints/quiet-zero",
        ),
        (
            True,
            {"endpoint": "quiet", "model": "mistral"},
            r"serves its models as inference components; this deploy would "
            r"serve them as production variants.*new name without scale_to_zero \(-c endpoint=quiet-always-on\)",
        ),
    ],
)
def test_switching_between_variants_and_components_under_one_name_is_refused(registry, live_components, context, expected):
    component = "quiet-mistral-7b" if live_components else None
    live = {"mistral-7b": VariantState("mistral-7b", "ml.g5.xlarge", 100.0, 1, True, component)}
    findings = check_transition(live, deployment_from_context(context.get, NEUTRAL_ENVIRON, registry))
    assert len(findings) == 1 and findings[0].severity == "error"
    assert re.search(expected, findings[0].message), findings[0].message
    assert "docs/scale-to-zero.md#switching-an-existing-endpoint" in findings[0].message


class StubbedComponentEndpoint:
    """boto3 clients answering like SageMaker and Application Auto Scaling for endpoint `quiet` with components."""

    def __init__(self, *, components: dict[str, tuple[int, bool]], model_name: str | None = None) -> None:
        self.sagemaker = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.autoscaling = boto3.client(
            "application-autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        sagemaker, autoscaling = Stubber(self.sagemaker), Stubber(self.autoscaling)
        now = datetime(2026, 12, 1)
        sagemaker.add_response(
            "describe_endpoint",
            {
                "EndpointName": "quiet",
                "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/quiet",
                "EndpointConfigName": "cfg",
                "EndpointStatus": "InService",
                "CreationTime": now,
                "LastModifiedTime": now,
                "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 1}],
            },
        )
        variant: dict[str, Any] = {"VariantName": "AllTraffic", "InstanceType": "ml.g5.xlarge"}
        if model_name:
            variant["ModelName"] = model_name
        sagemaker.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "cfg",
                "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg",
                "ProductionVariants": [variant],
                "CreationTime": now,
            },
        )
        if model_name:
            autoscaling.add_response("describe_scalable_targets", {"ScalableTargets": []})
        else:
            self._components(sagemaker, autoscaling, components, now)
        sagemaker.activate()
        autoscaling.activate()

    @staticmethod
    def _components(sagemaker: Stubber, autoscaling: Stubber, components: dict[str, tuple[int, bool]], now: datetime) -> None:
        names = list(components)
        sagemaker.add_response(
            "list_inference_components",
            {
                "InferenceComponents": [
                    {
                        "InferenceComponentName": name,
                        "InferenceComponentArn": f"arn:aws:sagemaker:us-east-1:123456789012:inference-component/{name}",
                        "EndpointName": "quiet",
                        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/quiet",
                        "VariantName": "AllTraffic",
                        "CreationTime": now.replace(minute=i),
                        "LastModifiedTime": now,
                    }
                    for i, name in reversed(list(enumerate(names)))  # listed newest first: the reader sorts
                ]
            },
            {"EndpointNameEquals": "quiet", "MaxResults": 100},
        )
        autoscaling.add_response(
            "describe_scalable_targets",
            {
                "ScalableTargets": [
                    {
                        "ServiceNamespace": "sagemaker",
                        "ResourceId": f"inference-component/{name}",
                        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
                        "MinCapacity": 0,
                        "MaxCapacity": 4,
                        "RoleARN": "arn:aws:iam::123456789012:role/x",
                        "CreationTime": now,
                    }
                    for name, (_, scaled) in components.items()
                    if scaled
                ]
            },
            {
                "ServiceNamespace": "sagemaker",
                "ResourceIds": [f"inference-component/{name}" for name in names],
                "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
            },
        )
        for name, (copies, _) in components.items():
            sagemaker.add_response(
                "describe_inference_component",
                {
                    "InferenceComponentName": name,
                    "InferenceComponentArn": f"arn:aws:sagemaker:us-east-1:123456789012:inference-component/{name}",
                    "EndpointName": "quiet",
                    "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/quiet",
                    "CreationTime": now,
                    "LastModifiedTime": now,
                    "RuntimeConfig": {"DesiredCopyCount": copies, "CurrentCopyCount": copies},
                },
                {"InferenceComponentName": name},
            )


def test_the_live_reader_sees_components_copies_and_scaling():
    stub = StubbedComponentEndpoint(components={"quiet-mistral-7b": (0, True), "quiet-llama2-7b": (2, True)})
    live = read_live_endpoint("quiet", stub.sagemaker, stub.autoscaling)
    assert live.status == "InService" and live.state is not None
    assert list(live.state) == ["mistral-7b", "llama2-7b"]  # oldest first: the serving model, then the candidate
    mistral, llama = live.state.values()
    assert (mistral.component, mistral.instance_count, mistral.autoscaled) == ("quiet-mistral-7b", 0, True)
    assert (llama.instance_type, llama.instance_count) == ("ml.g5.xlarge", 2)
    assert math.isnan(llama.weight_percent)  # SageMaker knows no weights between components


class NoStack:
    def describe_stacks(self, StackName: str) -> Any:
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Outputs": [{"OutputKey": "Hosting", "OutputValue": "sagemaker"}]}]}


def test_preflight_refuses_switching_a_variant_endpoint_to_scale_to_zero(registry):
    stub = StubbedComponentEndpoint(components={}, model_name="mistral-model")
    findings = preflight(spec(registry, "start"), NoStack(), lambda: (stub.sagemaker, stub.autoscaling))
    assert [f.severity for f in findings] == ["error"]
    assert "serves its models as production variants" in findings[0].message


def test_preflight_lets_a_split_onto_a_live_component_endpoint(registry):
    stub = StubbedComponentEndpoint(components={"quiet-mistral-7b": (1, True)})
    assert preflight(spec(registry, "split"), NoStack(), lambda: (stub.sagemaker, stub.autoscaling)) == []
    assert LiveStack("UPDATE_COMPLETE", "sagemaker").kind == "sagemaker"


def test_the_plan_shows_components_and_next_steps_keep_scale_to_zero(registry):
    split = spec(registry, "split")
    text = render(split, registry, state_from_spec(spec(registry, "start")), "previous spec", [])
    assert "quiet-mistral-7b" in text and "quiet-llama2-7b" in text and "10%" in text
    assert "guardrails: none (a scale-to-zero endpoint's inference components update in place)" in text
    assert "cost while every copy runs (scales to zero: $0 while idle): $1.41/h ($1,028/month) -> $2.82/h" in text
    assert "adds llama2-7b: inference component quiet-llama2-7b, 1 copy on ml.g5.xlarge, 10% of traffic" in text
    for _, command in next_steps(split):
        assert "-c scale_to_zero=true" in command


# From every component on ml.g5.xlarge ($1.408/h) to every one on the dearest fallback pool, ml.g5.4xlarge ($2.03/h).
@pytest.mark.parametrize(("phase", "monthly"), [("start", "$1,028-1,482"), ("split", "$2,056-2,964"), ("shift", "$1,028-1,482")])
def test_the_synth_cost_line_counts_the_components_that_take_traffic(registry, phase, monthly):
    from planner.deploy_cost import cost_line

    assert f"{monthly}/month if never idle" in cost_line(spec(registry, phase), registry)


def test_split_template_snapshot(phases, snapshot):
    """Reviewed: two components on one endpoint (compare with tests/__snapshots__/test_scale_to_zero/)."""
    from syrupy.extensions.json import JSONSnapshotExtension

    from tests.test_snapshots import masked

    assert masked(phases["split"]) == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    ("phase", "monthly"), [("start", "1028-1482"), ("split", "2056-2964"), ("shift", "1028-1482"), ("revert", "1028-1482")]
)
def test_the_stacks_always_on_estimate_counts_the_components_that_take_traffic(phases, phase, monthly):
    [output] = [o["Value"] for key, o in phases[phase]["Outputs"].items() if key == "EstimatedMonthlyHostingUsd"]
    assert output == monthly


def test_the_instance_alarms_keep_their_ids_and_names_in_every_phase(phases):
    """They watch the endpoint variant's instances, which outlive each component: were they a component's, the retire
    would create the same alarm name under a new logical ID and its cleanup would delete it."""
    instance_alarms = {
        phase: {
            logical_id: r["Properties"]["AlarmName"]
            for logical_id, r in of_type(template, "AWS::CloudWatch::Alarm").items()
            if r["Properties"]["AlarmName"].endswith(("-gpu-memory", "-disk"))
        }
        for phase, template in phases.items()
    }
    assert len({json.dumps(alarms, sort_keys=True) for alarms in instance_alarms.values()}) == 1
    assert sorted(instance_alarms["finish"].values()) == ["quiet-AllTraffic-disk", "quiet-AllTraffic-gpu-memory"]
