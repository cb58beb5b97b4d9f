"""Deployment specs from -c flags and from deployment files: the same rules, errors that name source, field and fix."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llm_config import ConfigError
from llm_config.deployment import deployment_from_context, known_regions, partition_of_region
from llm_config.guardrails import CapacitySize, Guardrails, check_guardrails_fit
from tests.conftest import REPO_ROOT
from tests.test_app_cli import assert_clean_failure, run_app


def context(**values: Any) -> Callable[[str], Any]:
    return values.get


def spec(registry, **values: Any):
    return deployment_from_context(context(**values), {}, registry)


AB = {"endpoint": "chat", "model": "mistral", "candidate": "mixtral"}
MISTRAL = "endpoint: chat\nmodel: mistral\n"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({**AB, "candidate_weight": "150"}, r"-c candidate_weight: expected a whole percentage from 0 to 100, got 150"),
        ({**AB, "candidate_weight": "-5"}, r"-c candidate_weight: expected a whole percentage from 0 to 100, got -5"),
        ({**AB, "candidate_weight": "ten"}, r"-c candidate_weight: .* got 'ten'"),
        ({**AB, "candidate_weight": "12.5"}, r"-c candidate_weight: .* got '12.5'"),
        ({**AB, "candidate_weight": True}, r"-c candidate_weight: .* got True"),
        (AB, r"-c candidate_weight: is required with a candidate\n  fix: give the candidate's share"),
        ({"model": "mistral", "candidate_weight": "10"}, r"-c candidate_weight: is set without a candidate"),
        (
            {**AB, "candidate": "mistral-7b", "candidate_weight": "10"},
            r"-c candidate: 'mistral-7b' is the model the endpoint serves",
        ),
        ({**AB, "candidate": "gpt-5", "candidate_weight": "10"}, r"-c candidate: unknown model 'gpt-5'\n  fix: use one of"),
        ({**AB, "candidate_weight": "10", "retire": "llama2-7b"}, r"-c retire: cannot be combined with a candidate"),
        ({"model": "mixtral", "retire": "mixtral-8x7b"}, r"-c retire: 'mixtral-8x7b' is the model that stays"),
        ({"model": "mixtral", "retire": "gpt-5"}, r"-c retire: unknown model 'gpt-5'"),
        (
            {**AB, "candidate_weight": "10", "budget_usd": "90"},
            # mistral on ml.g5.4xlarge ($2.03/h) and mixtral on ml.g6e.4xlarge ($3.7553/h): their dearest pools.
            r"-c budget_usd: the minimum capacity alone costs \$138\.85 per day \(\$5\.7853/h on each variant's dearest",
        ),
    ],
)
def test_invalid_flag_specs_are_refused(registry, values, expected):
    with pytest.raises(ConfigError, match=expected):
        spec(registry, **values)


def test_weights_split_the_traffic_and_drain_at_zero(registry):
    phases = {w: spec(registry, **AB, candidate_weight=w) for w in ("0", "10", "100")}
    assert [(p.phase, [(v.name, v.weight, v.autoscaled) for v in p.variants]) for p in phases.values()] == [
        ("revert", [("mistral-7b", 100, True), ("mixtral-8x7b", 0, False)]),
        ("split", [("mistral-7b", 90, True), ("mixtral-8x7b", 10, True)]),
        ("shift", [("mistral-7b", 0, False), ("mixtral-8x7b", 100, True)]),
    ]
    assert spec(registry, **AB, candidate_weight=10).candidate_weight == 10  # cdk.json context may hold numbers


def test_a_migration_uses_the_larger_budget_and_both_models_emails(registry):
    ab = spec(registry, **AB, candidate_weight="10", alarm_email="ops@example.com")
    assert ab.budget.amount_usd == 150  # mixtral's, the larger: the two cost $96/day together, near mistral's $100
    assert ab.alarm_emails == ("ops@example.com",)
    assert spec(registry, model="mistral").budget.amount_usd == 100


def test_retire_names_the_removed_model_by_key(registry):
    finish = spec(registry, endpoint="chat", model="mixtral", retire="mistral")
    assert (finish.phase, finish.retire, [v.name for v in finish.variants], finish.uses_guardrails) == (
        "retire",
        "mistral-7b",
        ["mixtral-8x7b"],
        False,
    )


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "chat.yaml"
    path.write_text(text)
    return str(path)


def test_the_file_and_the_flags_give_the_same_spec(registry):
    from_file = spec(registry, deployment=str(REPO_ROOT / "tests/fixtures/deployments/chat-ab.yaml"))
    from_flags = spec(registry, **AB, candidate_weight="10", region="us-east-1")
    assert from_file.source.endswith("chat-ab.yaml")
    assert {**vars(from_file), "source": None} == {**vars(from_flags), "source": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("endpoint: chat\nmodel: mistral\nweight: 10\n", r"chat.yaml: weight: unknown key\n  fix: .*docs/deployments.md"),
        ("model: mistral\n", r"chat.yaml: endpoint: required key is missing"),
        (
            "endpoint: chat\nmodel: mistral\ncandidate: mixtral\ncandidate_weight: 101\n",
            r"chat.yaml: candidate_weight: expected a whole",
        ),
        (
            "endpoint: chat\nmodel: mistral\ncandidate: mixtral\ncandidate_weight: '10'\n",
            r"chat.yaml: candidate_weight: Input should be a valid integer",
        ),
        (
            "endpoint: chat\nmodel: mistral\ncandidate: mistral\ncandidate_weight: 10\n",
            r"chat.yaml: candidate: 'mistral' is the model",
        ),
        ("endpoint: chat\nmodel: gpt-5\n", r"chat.yaml: model: unknown model 'gpt-5'"),
        ("endpoint: chat_1\nmodel: mistral\n", r"chat.yaml: endpoint: 'chat_1' is not a valid SageMaker endpoint name"),
        (
            MISTRAL + "guardrails: {traffic_routing: CANARY, canary_size: {type: INSTANCE_COUNT, value: 1}}\n",
            r"chat.yaml: guardrails: CANARY traffic routing needs at least 2 instances in every variant, but mistral-7b may",
        ),
        (
            MISTRAL + "guardrails: {traffic_routing: CANARY}\n",
            r"chat.yaml: guardrails: traffic_routing CANARY needs guardrails.canary_size",
        ),
        (
            MISTRAL + "guardrails: {canary_size: {type: INSTANCE_COUNT, value: 1}}\n",
            r"guardrails: canary_size applies only to CANARY routing",
        ),
        (
            MISTRAL + "guardrails: {traffic_routing: CANARY, canary_size: {type: CAPACITY_PERCENT, value: 60}}\n",
            r"guardrails: a CANARY step of 60% is refused by SageMaker\n  fix: use 1-50%",
        ),
        (
            MISTRAL + "guardrails: {traffic_routing: LINEAR, linear_step_size: {type: CAPACITY_PERCENT, value: 5}}\n",
            r"a LINEAR step of 5% is refused by SageMaker\n  fix: use 10-50%",
        ),
        (
            MISTRAL + "guardrails: {maximum_execution_timeout_seconds: 300}\n",
            r"guardrails.maximum_execution_timeout_seconds: Input should be greater than or equal to 600",
        ),
        (
            MISTRAL + "guardrails: {maximum_execution_timeout_seconds: 1200}\n",
            r"guardrails: maximum_execution_timeout_seconds \(1200\) must exceed the waits of a deployment of mistral-7b",
        ),
        (
            MISTRAL + "guardrails: {rollback_alarms: [idle]}\n",
            r"guardrails.rollback_alarms.0: got 'idle'",
        ),
        (MISTRAL + "guardrails: {rollback_alarms: []}\n", r"rollback_alarms must name at least one alarm"),
        (
            MISTRAL + "guardrails: {rollback_alarms: [5xx-errors, 4xx-rate]}\n",
            r"guardrails: rollback alarm 4xx-rate needs 900 s of breaching data to fire, longer than the 600 s baking "
            r"period .*\n  fix: raise wait_interval_seconds to at least 900, or drop 4xx-rate",
        ),
    ],
)
def test_invalid_files_name_file_field_and_fix(registry, tmp_path, text, expected):
    with pytest.raises(ConfigError, match=expected):
        spec(registry, deployment=write(tmp_path, text))


def test_flags_cannot_override_a_deployment_file(registry):
    with pytest.raises(
        ConfigError, match=r"-c candidate_weight: cannot be combined with -c deployment.*\n  fix: set candidate_weight in"
    ):
        spec(registry, deployment="deployments/chat.yaml", candidate_weight="100")


def test_a_missing_deployment_file_is_named(registry, tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere.yaml: cannot read the file.*\n  fix: check the path"):
        spec(registry, deployment=str(tmp_path / "nowhere.yaml"))


@pytest.mark.parametrize(
    ("routing", "size", "variants", "expected"),
    [
        ("CANARY", CapacitySize(type="INSTANCE_COUNT", value=1), [("a", 2, 4)], None),
        ("CANARY", CapacitySize(type="INSTANCE_COUNT", value=2), [("a", 2, 4)], r"step of 2 instance\(s\) .* \(1-1 instance"),
        ("CANARY", CapacitySize(type="CAPACITY_PERCENT", value=50), [("a", 2, 2), ("b", 3, 6)], None),
        ("LINEAR", CapacitySize(type="INSTANCE_COUNT", value=1), [("a", 2, 20)], r"a LINEAR step of 1 instance\(s\)"),
        ("LINEAR", CapacitySize(type="INSTANCE_COUNT", value=2), [("a", 4, 20)], None),
        ("LINEAR", CapacitySize(type="CAPACITY_PERCENT", value=25), [("a", 1, 4)], r"needs at least 2 instances .* a may run 1"),
    ],
)
def test_canary_and_linear_steps_must_fit_every_instance_count(routing, size, variants, expected):
    key = "canary_size" if routing == "CANARY" else "linear_step_size"
    guardrails = Guardrails(
        traffic_routing=routing, wait_interval_seconds=300, maximum_execution_timeout_seconds=7200, **{key: size}
    )
    if expected is None:
        check_guardrails_fit(guardrails, variants, "spec", "guardrails")
    else:
        with pytest.raises(ConfigError, match=expected):
            check_guardrails_fit(guardrails, variants, "spec", "guardrails")


def test_linear_waits_count_every_step():
    step = CapacitySize(type="CAPACITY_PERCENT", value=10)
    guardrails = Guardrails(
        traffic_routing="LINEAR", linear_step_size=step, wait_interval_seconds=600, maximum_execution_timeout_seconds=6600
    )
    assert guardrails.baking_periods(20) == 10
    check_guardrails_fit(guardrails, [("a", 2, 9)], "spec", "guardrails")  # 10% of 9 is one instance: 9 steps, 6000 s
    with pytest.raises(ConfigError, match=r"must exceed the waits of a deployment of a \(6600 s"):
        check_guardrails_fit(guardrails, [("a", 2, 20)], "spec", "guardrails")


def test_the_app_refuses_a_bad_spec_with_exit_2(tmp_path):
    outdir = tmp_path / "out"
    result = run_app(REPO_ROOT, outdir, endpoint="chat", model="mistral", candidate="mixtral", candidate_weight="110")
    assert_clean_failure(result, outdir, "-c candidate_weight: expected a whole percentage from 0 to 100, got 110")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"model": "claude-3-haiku", "candidate": "mixtral", "candidate_weight": "10"},
            r"-c candidate: claude-3-haiku is a Bedrock",
        ),
        ({"model": "claude-3-haiku", "retire": "mistral"}, r"-c retire: claude-3-haiku is a Bedrock model"),
        (
            {"model": "mistral", "candidate": "claude-3-haiku", "candidate_weight": "10"},
            r"-c candidate: claude-3-haiku is a Bedrock model, not a variant",
        ),
    ],
)
def test_migrations_are_between_sagemaker_models(registry, values, expected):
    with pytest.raises(ConfigError, match=expected):
        spec(registry, **values)


def test_a_bedrock_deployment_file_has_no_guardrails(registry, tmp_path):
    path = write(tmp_path, "endpoint: assistant\nmodel: claude-3-haiku\nguardrails: {wait_interval_seconds: 300}\n")
    with pytest.raises(ConfigError, match=r"chat.yaml: guardrails: claude-3-haiku is a Bedrock model"):
        spec(registry, deployment=path)
    assert (
        spec(registry, deployment=write(tmp_path, "endpoint: assistant\nmodel: claude-3-haiku\n")).model.key == "claude-3-haiku"
    )


def test_guardrails_must_fit_the_instance_counts_scheduled_actions_allow(registry):
    """A deploy may start at night, when a scheduled action has taken the variant down to one instance."""
    import dataclasses

    from llm_config.deployment import resolve_deployment
    from llm_config.operations import ScheduledScaling

    mistral = registry.resolve("mistral")
    night = ScheduledScaling(name="night", cron="0 20 ? * MON-FRI *", min_instances=1, max_instances=1)
    canary = Guardrails(
        traffic_routing="CANARY", canary_size=CapacitySize(type="INSTANCE_COUNT", value=1), maximum_execution_timeout_seconds=3600
    )

    def deploy_with(scheduled: list[ScheduledScaling]) -> None:
        scaling = mistral.scaling.model_copy(update={"min_instances": 2, "max_instances": 4, "scheduled": scheduled})
        instance = mistral.instance.model_copy(update={"initial_count": 2})
        model = mistral.model_copy(update={"scaling": scaling, "instance": instance})
        models = dataclasses.replace(registry, models={**registry.models, "mistral-7b": model})
        no_context: dict[str, str] = {}
        resolve_deployment(
            {"endpoint": "chat", "model": "mistral", "guardrails": canary}, "chat.yaml", no_context.get, {}, models
        )

    deploy_with([])  # 2-4 instances take a one-instance canary
    with pytest.raises(
        ConfigError, match=r"chat.yaml: guardrails: CANARY traffic routing needs at least 2 .* mistral-7b may run 1"
    ):
        deploy_with([night])


def test_default_rollback_alarms_are_those_that_can_fire_while_sagemaker_bakes():
    assert Guardrails().rollback_alarms == ["latency-p90", "5xx-errors"]
    assert Guardrails(wait_interval_seconds=900, rollback_alarms=["4xx-rate"]).rollback_alarms == ["4xx-rate"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"endpoint: chat\nmodel: mistral\xff\n", r"chat.yaml: is not UTF-8 text \(byte 0xff at line 2\)"),
        (b'endpoint: "chat\\n"\nmodel: mistral\n', r"chat.yaml: endpoint: 'chat\\n' is not a valid SageMaker endpoint name"),
        (b'endpoint: chat\nmodel: mistral\nregion: "us-east-1\\n"\n', r"chat.yaml: region: 'us-east-1\\n' is not an AWS"),
        (
            "endpoint: chat\nmodel: mistral\nregion: us-east-\u0661\n".encode(),  # an Arabic-Indic digit one
            "chat.yaml: region: 'us-east-\u0661' is not an AWS",
        ),
        (
            b"endpoint: chat\nmodel: mistral\nendpoint: chat-2\n",
            r"chat.yaml: duplicate key 'endpoint' \(first at line 1\) at line 3, column 1\n  fix: keep one",
        ),
        (
            b"endpoint: chat\nmodle: mistral\n",
            r"chat.yaml: modle: unknown key\n  fix: did you mean model\? \(docs/deployments.md",
        ),
        (
            b"endpoint: chat\nmodel: mistral\ncandidate: mixtral\ncandidate_wieght: 10\n",
            r"chat.yaml: candidate_wieght: unknown key\n  fix: did you mean candidate_weight\?",
        ),
        (
            MISTRAL.encode() + b"guardrails: {wait_intervall_seconds: 300}\n",
            r"chat.yaml: guardrails.wait_intervall_seconds: unknown key\n  fix: did you mean wait_interval_seconds\?",
        ),
        (
            MISTRAL.encode() + b"guardrails: {canary_size: {typ: INSTANCE_COUNT, value: 1}}\n",
            r"chat.yaml: guardrails.canary_size.typ: unknown key\n  fix: did you mean type\?",
        ),
        (b"endpoint: &e chat\nmodel: mistral\nretire: *e\n", r"chat.yaml: YAML aliases \(\*name\) are not allowed .* at line 3"),
    ],
)
def test_malformed_files_get_one_message(registry, tmp_path, content, expected):
    path = tmp_path / "chat.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected):
        spec(registry, deployment=str(path))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"endpoint": "chat\nx"}, r"-c endpoint: 'chat\\nx' is not a valid SageMaker endpoint name"),
        ({"region": "us-east-\u0661"}, "-c region: 'us-east-\u0661' is not an AWS region name"),
        ({"region": "us-east-1; id"}, r"-c region: 'us-east-1; id' is not an AWS region name"),
        ({**AB, "candidate_weight": "1" * 5000}, r"-c candidate_weight: expected a whole percentage from 0 to 100, got '111"),
        ({**AB, "candidate_weight": "\u0661\u0660"}, "-c candidate_weight: expected a whole percentage from 0 to 100, got '"),
        ({"model": "x" * 100_000}, r"-c model: unknown model 'xxxx.* characters cut\)\n  fix: use one of"),
    ],
)
def test_flag_values_are_checked_whole(registry, values, expected):
    with pytest.raises(ConfigError, match=expected) as caught:
        spec(registry, **values)
    assert len(str(caught.value)) < 2000


def test_an_unknown_model_gets_the_nearest_name_and_a_list_without_retired_keys(registry):
    with pytest.raises(ConfigError, match=r"^-c model: unknown model 'mixtrl'\n  fix: did you mean mixtral\?$"):
        spec(registry, model="mixtrl")
    with pytest.raises(
        ConfigError, match=r"^-c candidate: unknown model 'claude-3-sonet'\n  fix: did you mean claude-3-sonnet\?$"
    ):
        spec(registry, model="mistral", candidate="claude-3-sonet", candidate_weight="10")
    with pytest.raises(ConfigError) as caught:
        spec(registry, model="gpt4")
    fix = str(caught.value).split("fix: ", 1)[1]
    retired = [key for key in registry.models if registry.retired(key)]
    assert "claude-3-sonnet" in retired and "mistral-7b" in fix and "claude-haiku-4-5" in fix
    assert not any(key in fix.split() or f"{key}," in fix for key in retired), fix
    assert fix.endswith(f"({len(retired)} retired keys are left out)")


def test_an_unknown_region_is_named_as_such_before_any_catalogue_looks_it_up(registry):
    """`-c region=us-east-9` used to be blamed on containers.yaml (no image account for it)."""
    with pytest.raises(ConfigError, match=r"^-c region: 'us-east-9' is not a known AWS region\n  fix: did you mean us-east-2\? "):
        spec(registry, model="mistral", region="us-east-9")
    assert spec(registry, model="claude-haiku-4-5", region="eu-west-1").region == "eu-west-1"


def test_each_region_s_partition_is_the_one_aws_cdk_lib_knows():
    """ARNs and cdk-nag finding ids are built with partition_of_region (botocore's table, read in Python), not
    aws-cdk-lib's RegionInfo: the two must agree on every region either knows."""
    from aws_cdk.region_info import RegionInfo

    regions, _ = known_regions()
    assert {"cn-north-1", "us-gov-west-1", "eu-isoe-west-1"} <= regions
    cdk_partitions = {region: RegionInfo.get(region).partition for region in sorted(regions)}
    assert {region: partition_of_region(region) for region in cdk_partitions if cdk_partitions[region]} == {
        region: partition for region, partition in cdk_partitions.items() if partition
    }
    assert partition_of_region("cn-north-1") == "aws-cn"
    assert partition_of_region("us-east-1") == "aws"


def test_a_device_as_deployment_file_is_refused_at_once(registry):
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^/dev/zero: is not a regular file"):
        spec(registry, deployment="/dev/zero")
    assert time.monotonic() - started < 2
