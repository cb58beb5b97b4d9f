"""Unit tests of local_aws.moto_extension and local_aws.verify, with moto in-process (no server, no CLI).

The templates are the product's own (endpoint stack in its migration phases, Bedrock stack) plus a small
stack of types the product may add: every resource must really exist in moto after CREATE_COMPLETE, be
updated when what it references is replaced, and be gone after the stack is deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from moto import mock_aws

from llm_config.catalogue import load_instance_catalogue
from llm_config.registry import DEFAULT_CONFIG_DIR
from local_aws import moto_extension
from local_aws.verify import CHECKS, Deployed, VerificationError, leftovers, retained_physical_ids, verify_stack

REGION = "us-east-1"
STACK = "llm-chat"
HF_TOKEN_SECRET = "llm-endpoints/hugging-face-token"
SERVE = {"endpoint": "chat", "model": "mistral"}  # gated: resolves the Hugging Face token secret
ZERO = {"endpoint": "quiet", "model": "mistral", "scale_to_zero": "true"}  # docs/scale-to-zero.md
COMPONENT = "AWS::SageMaker::InferenceComponent"
ROLE_ARN = "arn:aws:iam::123456789012:role/r"


def extras_template() -> dict[str, Any]:
    """What the product stacks do not emit (yet) but the extension supports: a managed policy attached both
    ways (its Roles, a role's ManagedPolicyArns), an AWS managed policy, an e-mail subscription."""
    stack = Stack(App(analytics_reporting=False), "extras")
    client_role = iam.Role(stack, "ClientRole", assumed_by=iam.AccountRootPrincipal())
    invoke = iam.ManagedPolicy(
        stack,
        "InvokePolicy",
        roles=[client_role],
        statements=[iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=["arn:aws:sagemaker:*:*:endpoint/chat"])],
    )
    iam.Role(
        stack,
        "ReaderRole",
        assumed_by=iam.AccountRootPrincipal(),
        managed_policies=[invoke, iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerReadOnly")],
    )
    topic = sns.Topic(stack, "Topic")
    topic.add_subscription(subscriptions.EmailSubscription("ops@example.com"))
    return dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="module")
def templates(synth: Callable[..., Template]) -> dict[str, dict[str, Any]]:
    return {
        "serve": dict(synth(**SERVE).to_json()),
        "split": dict(synth(**SERVE, candidate="mixtral", candidate_weight="10").to_json()),
        "mixtral": dict(synth(endpoint="chat", model="mixtral").to_json()),
        "bedrock": dict(synth(model="claude-haiku-4-5").to_json()),
        "zero": dict(synth(**ZERO).to_json()),
        "extras": extras_template(),
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with the extension, dummy credentials and the bootstrap version parameter."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_extension.apply()
    with mock_aws():
        boto3.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="33", Type="String")
        yield boto3.client


def create(make_client: Any, template: dict[str, Any], stack: str = STACK) -> Deployed:
    make_client("cloudformation").create_stack(
        StackName=stack, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    return Deployed.load(make_client, stack, template)


def update(make_client: Any, template: dict[str, Any]) -> Deployed:
    make_client("cloudformation").update_stack(
        StackName=STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    return Deployed.load(make_client, STACK, template)


def test_refuses_another_moto_version() -> None:
    with pytest.raises(moto_extension.UnsupportedMotoVersion, match=r"written for moto 5\.2\.5, but moto 5\.3\.0 is installed"):
        moto_extension.check_moto_version("5.3.0")


def test_apply_checks_the_installed_version_before_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_extension, "_applied", False)
    monkeypatch.setattr(moto_extension, "version", lambda package: {"moto": "5.3.0"}[package])
    monkeypatch.setattr(moto_extension, "_patch_sagemaker", lambda: pytest.fail("patched an unsupported moto"))
    with pytest.raises(moto_extension.UnsupportedMotoVersion, match=r"but moto 5\.3\.0 is installed"):
        moto_extension.apply()


def test_every_resource_of_the_endpoint_stack_exists_with_its_properties(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    template = templates["serve"]
    results = verify_stack(create(aws, template))

    assert len(results) == len(template["Resources"])
    assert {
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::Budgets::Budget",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::IAM::Policy",
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::SageMaker::Endpoint",
        "AWS::SSM::Parameter",
    } <= {r.resource_type for r in results}
    # Names from the template are honoured, the secret is resolved and the g5 instance pools accepted.
    sagemaker = aws("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="chat")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    pools = config["ProductionVariants"][0]["InstancePools"]
    assert [(p["Priority"], p["InstanceType"]) for p in pools] == [
        (1, "ml.g5.xlarge"),
        (2, "ml.g5.2xlarge"),
        (3, "ml.g5.4xlarge"),
    ]
    assert config["ProductionVariants"][0]["InferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["Environment"]["HF_TOKEN"] == "hf_dummy"
    alarms = aws("cloudwatch").describe_alarms()["MetricAlarms"]
    topic_arn = aws("sns").list_topics()["Topics"][0]["TopicArn"]
    assert alarms and all(alarm["AlarmActions"] == [topic_arn] for alarm in alarms)
    targets = aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == ["endpoint/chat/variant/mistral-7b"]


def test_bedrock_stack_and_managed_policies_exist(aws: Any, templates: dict[str, Any]) -> None:
    for name in ("bedrock", "extras"):
        deployed = create(aws, templates[name], stack=name)
        assert len(verify_stack(deployed)) == len(templates[name]["Resources"])
    iam_client = aws("iam")
    reader = next(r["RoleName"] for r in iam_client.list_roles()["Roles"] if "ReaderRole" in r["RoleName"])
    attached = sorted(a["PolicyName"] for a in iam_client.list_attached_role_policies(RoleName=reader)["AttachedPolicies"])
    assert attached[0] == "AmazonSageMakerReadOnly" and len(attached) == 2


def test_verifier_catches_a_resource_that_drifted(aws: Any, templates: dict[str, Any]) -> None:
    deployed = create(aws, templates["mixtral"])
    aws("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/chat/variant/mixtral-8x7b",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=9,
    )
    with pytest.raises(VerificationError, match=r"ScalableTarget\): MaxCapacity: deployed 9, template says 2"):
        verify_stack(deployed)


def test_verifier_refuses_a_type_it_cannot_check(aws: Any) -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    with pytest.raises(VerificationError, match=r"Queue: no check for AWS::SQS::Queue; add one to local_aws/verify.py CHECKS"):
        verify_stack(create(aws, template))


def test_update_to_an_ab_split_repoints_the_endpoint_to_the_new_config(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    create(aws, templates["serve"])
    old_config = aws("sagemaker").describe_endpoint(EndpointName="chat")["EndpointConfigName"]

    results = verify_stack(update(aws, templates["split"]))

    endpoint = aws("sagemaker").describe_endpoint(EndpointName="chat")
    assert endpoint["EndpointConfigName"] != old_config
    assert {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]} == {
        "mistral-7b": 90,
        "mixtral-8x7b": 10,
    }
    assert len(results) == len(templates["split"]["Resources"])


def test_a_resource_removed_then_added_back_is_created_again(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    create(aws, templates["serve"])
    update(aws, templates["split"])  # drops the rollback-alarms policy (no guardrails while a variant is added)

    results = verify_stack(update(aws, templates["serve"]))

    assert "AWS::IAM::Policy" in {r.resource_type for r in results}


def test_delete_leaves_nothing_behind_but_what_the_templates_retain(aws: Any, templates: dict[str, Any]) -> None:
    retained = []
    for name in ("mixtral", "bedrock", "extras"):  # roles with managed policies, both ways, are detached first
        retained += retained_physical_ids(create(aws, templates[name], stack=name))
    assert len(leftovers(aws)) > 20
    assert retained == []  # even the alarm topics' KMS keys go with their stacks (scheduled for deletion)

    for name in ("mixtral", "bedrock", "extras"):
        aws("cloudformation").delete_stack(StackName=name)

    assert leftovers(aws) == ["parameter /cdk-bootstrap/hnb659fds/version"]


def test_unsupported_resource_type_fails_the_deploy(aws: Any) -> None:
    template = {"Resources": {"Guardrail": {"Type": "AWS::Bedrock::Guardrail", "Properties": {"Name": "g"}}}}
    with pytest.raises(ClientError, match=r"moto cannot create AWS::Bedrock::Guardrail"):
        create(aws, template)


def test_missing_secret_fails_the_deploy(aws: Any, templates: dict[str, Any]) -> None:
    with pytest.raises(
        ClientError, match=r"Secrets Manager can't find the secret llm-endpoints/hugging-face-token referenced by"
    ):
        create(aws, templates["serve"])


def test_drained_variant_reports_weight_zero(aws: Any) -> None:
    moto_extension.apply()
    sagemaker = aws("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    variants = [
        {
            "VariantName": name,
            "ModelName": "m",
            "InstanceType": "ml.g5.12xlarge",
            "InitialInstanceCount": 1,
            "InitialVariantWeight": w,
        }
        for name, w in (("old", 0.0), ("new", 1.0))
    ]
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=variants)
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    weights = {v["VariantName"]: v["CurrentWeight"] for v in sagemaker.describe_endpoint(EndpointName="e")["ProductionVariants"]}
    assert weights == {"old": 0.0, "new": 1.0}


def test_every_catalogued_instance_type_is_accepted(aws: Any) -> None:
    """The rehearsal takes its instance types from the catalogue, so the fit check and the rehearsal agree."""
    catalogued = set(load_instance_catalogue(DEFAULT_CONFIG_DIR).instances)
    assert catalogued == moto_extension.GPU_INSTANCE_TYPES
    assert {"ml.g6e.xlarge", "ml.g6e.48xlarge", "ml.g6.xlarge", "ml.p5.48xlarge"} <= catalogued
    sagemaker = aws("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "i"})
    for number, instance_type in enumerate(sorted(catalogued)):
        variant = {"VariantName": "v", "ModelName": "m", "InstanceType": instance_type, "InitialInstanceCount": 1}
        sagemaker.create_endpoint_config(EndpointConfigName=f"c{number}", ProductionVariants=[variant])
    with pytest.raises(ClientError, match=r"ml\.g7\.xlarge"):  # not catalogued: stock moto's validation still applies
        variant = {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.g7.xlarge", "InitialInstanceCount": 1}
        sagemaker.create_endpoint_config(EndpointConfigName="unknown", ProductionVariants=[variant])


def test_checks_cover_the_types_the_product_is_adding() -> None:
    assert {
        "AWS::SNS::Topic",
        "AWS::KMS::Key",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::Budgets::Budget",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::SSM::Parameter",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::SageMaker::InferenceComponent",
    } <= set(CHECKS)


# --- scale to zero: inference components ---------------------------------------------------------------


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type by logical ID: tests never name a construct's logical ID."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def test_scale_to_zero_stack_exists_with_its_component_and_leaves_nothing(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    template = templates["zero"]
    deployed = create(aws, template)

    assert len(verify_stack(deployed)) == len(template["Resources"])
    sagemaker = aws("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="quiet")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    [config_resource] = of_type(template, "AWS::SageMaker::EndpointConfig").values()
    [variant] = config["ProductionVariants"]
    assert "ModelName" not in variant and variant["VariantName"] == "AllTraffic"
    scale_in = {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 5}
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 4,
        "ScaleInPolicy": scale_in,
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert config["ExecutionRoleArn"] == deployed.resolve(config_resource["Properties"]["ExecutionRoleArn"])
    for logical_id, resource in of_type(template, COMPONENT).items():
        expected = deployed.resolve(resource["Properties"])
        component = sagemaker.describe_inference_component(InferenceComponentName=expected["InferenceComponentName"])
        assert deployed.physical_ids[logical_id] == component["InferenceComponentArn"]  # Ref is the ARN
        assert (component["EndpointName"], component["VariantName"]) == ("quiet", "AllTraffic")
        assert component["Specification"] == expected["Specification"]
        assert component["RuntimeConfig"] == {"DesiredCopyCount": 1, "CurrentCopyCount": 1}
    listed = sagemaker.list_inference_components(EndpointNameEquals="quiet")["InferenceComponents"]
    assert [c["InferenceComponentName"] for c in listed] == ["quiet-mistral-7b"]
    assert sagemaker.list_inference_components(EndpointNameEquals="other")["InferenceComponents"] == []
    autoscaling = aws("application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["ResourceId"], target["ScalableDimension"], target["MinCapacity"]) == (
        "inference-component/quiet-mistral-7b",
        "sagemaker:inference-component:DesiredCopyCount",
        0,
    )

    aws("cloudformation").delete_stack(StackName=STACK)

    assert leftovers(aws) == ["parameter /cdk-bootstrap/hnb659fds/version", f"secret {HF_TOKEN_SECRET}"]


def test_ref_and_getatt_of_a_component_are_what_cloudformation_documents(aws: Any, templates: dict[str, Any]) -> None:
    """Ref and Fn::GetAtt InferenceComponentArn give the ARN (the type's primary identifier in its CloudFormation
    schema); InferenceComponentName is no attribute of the type, so a template asking for it fails, as in AWS."""
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    template = json.loads(json.dumps(templates["zero"]))
    [logical_id] = of_type(template, COMPONENT)
    value = {"Fn::Join": ["|", [{"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "InferenceComponentArn"]}]]}
    template["Resources"]["Probe"] = {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": "probe", "Type": "String", "Value": value},
    }

    verify_stack(create(aws, template))

    arn = "arn:aws:sagemaker:us-east-1:123456789012:inference-component/quiet-mistral-7b"
    assert aws("ssm").get_parameter(Name="probe")["Parameter"]["Value"] == f"{arn}|{arn}"
    template["Resources"]["Probe"]["Properties"]["Value"] = {"Fn::GetAtt": [logical_id, "InferenceComponentName"]}
    with pytest.raises(ClientError, match=r"does not support attribute type InferenceComponentName in Fn::GetAtt"):
        update(aws, template)


def test_a_stack_update_changes_the_component_in_place_and_keeps_the_scaled_count(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    template = json.loads(json.dumps(templates["zero"]))
    create(aws, template)
    sagemaker = aws("sagemaker")
    before = sagemaker.describe_inference_component(InferenceComponentName="quiet-mistral-7b")
    sagemaker.update_inference_component_runtime_config(  # what Application Auto Scaling does when idle
        InferenceComponentName="quiet-mistral-7b", DesiredRuntimeConfig={"CopyCount": 0}
    )
    [resource] = of_type(template, COMPONENT).values()
    resource["Properties"]["Specification"]["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] = 12000

    results = verify_stack(update(aws, template))

    after = sagemaker.describe_inference_component(InferenceComponentName="quiet-mistral-7b")
    assert (after["InferenceComponentArn"], after["CreationTime"]) == (before["InferenceComponentArn"], before["CreationTime"])
    assert after["Specification"]["ComputeResourceRequirements"]["MinMemoryRequiredInMb"] == 12000
    assert after["RuntimeConfig"]["CurrentCopyCount"] == 0, "an update of something else leaves the scaled count"
    assert "quiet-mistral-7b on quiet/AllTraffic: 1 accelerator(s), 12000 MB, 0 copies (autoscaled 0-4)" in [
        r.detail for r in results
    ]
    sagemaker.update_inference_component(
        InferenceComponentName="quiet-mistral-7b",
        Specification={**after["Specification"], "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
    )
    with pytest.raises(VerificationError, match=r"InferenceComponent\): Specification.ComputeResourceRequirements"):
        verify_stack(Deployed.load(aws, STACK, template))

    # A new name cannot be applied in place (UpdateInferenceComponent takes no new name): a new component replaces it.
    resource["Properties"]["InferenceComponentName"] = "quiet-renamed"
    update(aws, template)
    listed = sagemaker.list_inference_components(EndpointNameEquals="quiet")["InferenceComponents"]
    assert [c["InferenceComponentName"] for c in listed] == ["quiet-renamed"]


def test_instance_pools_with_a_model_per_gpu_count_round_trip(aws: Any, mixed_pools_synth: Callable[..., Template]) -> None:
    """mixtral on ml.g5.12xlarge (4 GPUs) falling back to 1-GPU ml.g6e pools: their ModelNameOverride names a model
    that exists, and the verifier compares every pool with the template."""
    template = dict(mixed_pools_synth(endpoint="chat", model="mixtral").to_json())
    deployed = create(aws, template)
    assert len(verify_stack(deployed)) == len(template["Resources"])
    sagemaker = aws("sagemaker")
    config_name = sagemaker.describe_endpoint(EndpointName="chat")["EndpointConfigName"]
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    overrides = [pool.get("ModelNameOverride") for pool in variant["InstancePools"]]
    assert overrides[0] is None and overrides[1] == overrides[2] != variant["ModelName"]
    model = sagemaker.describe_model(ModelName=overrides[1])
    assert model["PrimaryContainer"]["Environment"]["OPTION_TENSOR_PARALLEL_DEGREE"] == "1"


def test_verifier_catches_instance_pools_that_differ(aws: Any, mixed_pools_synth: Callable[..., Template]) -> None:
    template = dict(mixed_pools_synth(endpoint="chat", model="mixtral").to_json())
    deployed = create(aws, template)
    config_id = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::SageMaker::EndpointConfig")
    pools = template["Resources"][config_id]["Properties"]["ProductionVariants"][0]["InstancePools"]
    pools[2]["InstanceType"] = "ml.g6e.8xlarge"  # what the template says now, not what was deployed
    with pytest.raises(VerificationError, match=r"ProductionVariants: deployed .*ml\.g6e\.4xlarge"):
        verify_stack(deployed)


def pooled_variant(**changes: Any) -> dict[str, Any]:
    variant = {
        "VariantName": "v",
        "ModelName": "m",
        "InitialInstanceCount": 1,
        "InstancePools": [
            {"InstanceType": "ml.g5.12xlarge", "Priority": 1},
            {"InstanceType": "ml.g6e.2xlarge", "Priority": 2, "ModelNameOverride": "m1"},
        ],
    }
    return {**variant, **changes}


def test_create_endpoint_config_takes_instance_pools_and_refuses_what_sagemaker_refuses(aws: Any) -> None:
    sagemaker = aws("sagemaker")
    for name in ("m", "m1"):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "i"})
    sagemaker.create_endpoint_config(EndpointConfigName="pools", ProductionVariants=[pooled_variant()])
    [described] = sagemaker.describe_endpoint_config(EndpointConfigName="pools")["ProductionVariants"]
    assert described["InstancePools"] == pooled_variant()["InstancePools"] and "InstanceType" not in described
    pool = {"InstanceType": "ml.g5.xlarge", "Priority": 1}
    refused = {
        r"either InstanceType or InstancePools": pooled_variant(InstanceType="ml.g5.12xlarge"),
        r"1 to 5 members": pooled_variant(InstancePools=[{**pool, "Priority": p} for p in range(1, 7)]),
        r"its own Priority": pooled_variant(InstancePools=[pool, {**pool, "InstanceType": "ml.g5.2xlarge"}]),
        r"more than one instance pool": pooled_variant(InstancePools=[pool, {**pool, "Priority": 2}]),
        r"Could not find model .*model/gone": pooled_variant(InstancePools=[{**pool, "ModelNameOverride": "gone"}]),
        r"ml\.g7\.xlarge": pooled_variant(InstancePools=[{**pool, "InstanceType": "ml.g7.xlarge"}]),
    }
    for number, (message, variant) in enumerate(refused.items()):
        with pytest.raises(ClientError, match=message):
            sagemaker.create_endpoint_config(EndpointConfigName=f"bad{number}", ProductionVariants=[variant])


def test_create_endpoint_config_checks_the_scale_in_policy(aws: Any) -> None:
    sagemaker = aws("sagemaker")

    def config(name: str, policy: dict[str, Any]) -> Any:
        scaling = {"Status": "ENABLED", "MinInstanceCount": 0, "MaxInstanceCount": 2, "ScaleInPolicy": policy}
        variant = {
            "VariantName": "v",
            "InstanceType": "ml.g5.xlarge",
            "InitialInstanceCount": 1,
            "ManagedInstanceScaling": scaling,
        }
        return sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant], ExecutionRoleArn=ROLE_ARN)

    config("ok", {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 5})
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName="ok")["ProductionVariants"]
    assert variant["ManagedInstanceScaling"]["ScaleInPolicy"] == {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 5}
    for policy, message in (
        ({"Strategy": "SOMETIMES"}, r"Strategy must be one of IDLE_RELEASE, CONSOLIDATION"),
        # botocore refuses values below the minimum itself; CloudFormation's calls and maximums reach the service.
        ({"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 1441}, r"CooldownInMinutes must be between 5 and 1440"),
        ({"Strategy": "CONSOLIDATION", "MaximumStepSize": 101}, r"MaximumStepSize must be between 1 and 100"),
    ):
        with pytest.raises(ClientError, match=message):
            config("bad", policy)


@pytest.fixture
def component_endpoint(aws: Any) -> Any:
    """Endpoint ``e`` whose variant ``v`` hosts components (no model of its own), and model ``m``, through the API."""
    sagemaker = aws("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "i"})
    variant = {"VariantName": "v", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[variant], ExecutionRoleArn=ROLE_ARN)
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    return sagemaker


def create_component(sagemaker: Any, name: str = "ic", endpoint: str = "e", variant: str = "v", copies: int = 1) -> Any:
    return sagemaker.create_inference_component(
        InferenceComponentName=name,
        EndpointName=endpoint,
        VariantName=variant,
        Specification={"ModelName": "m", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
        RuntimeConfig={"CopyCount": copies},
    )


def test_create_inference_component_refuses_what_sagemaker_refuses(aws: Any, component_endpoint: Any) -> None:
    sagemaker = component_endpoint
    with pytest.raises(ClientError, match=r"ValidationException.*copy count an integer larger than 0"):
        create_component(sagemaker, copies=0)  # a component is never created cold
    with pytest.raises(ClientError, match=r"Could not find endpoint 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/x'"):
        create_component(sagemaker, endpoint="x")
    with pytest.raises(ClientError, match=r"Could not find variant 'AllTraffic' of endpoint .*; its variants: v\."):
        create_component(sagemaker, variant="AllTraffic")
    create_component(sagemaker)
    with pytest.raises(ClientError, match=r"Cannot create already existing inference component"):
        create_component(sagemaker)
    with pytest.raises(ClientError, match=r"Could not find inference component '.*inference-component/nope'"):
        sagemaker.describe_inference_component(InferenceComponentName="nope")
    # A variant that serves a model itself hosts no components; a config for components needs its own role.
    served = {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName="served", ProductionVariants=[served])
    sagemaker.create_endpoint(EndpointName="served", EndpointConfigName="served")
    with pytest.raises(ClientError, match=r"serves model 'm': inference components need a variant without a model"):
        create_component(sagemaker, name="ic2", endpoint="served")
    variant = {"VariantName": "v", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
    with pytest.raises(ClientError, match=r"ExecutionRoleArn is required for endpoint config norole"):
        sagemaker.create_endpoint_config(EndpointConfigName="norole", ProductionVariants=[variant])
    assert "norole" not in [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]


def test_application_auto_scaling_scales_a_component_to_zero_and_back(aws: Any, component_endpoint: Any) -> None:
    sagemaker = component_endpoint
    arn = create_component(sagemaker)["InferenceComponentArn"]
    autoscaling = aws("application-autoscaling")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "inference-component/ic",
        "ScalableDimension": "sagemaker:inference-component:DesiredCopyCount",
    }
    autoscaling.register_scalable_target(**target, MinCapacity=0, MaxCapacity=2)
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]["MinCapacity"] == 0

    for copies in (0, 1):  # the idle policy's ExactCapacity 0, then the wake policy's +1
        answer = sagemaker.update_inference_component_runtime_config(
            InferenceComponentName="ic", DesiredRuntimeConfig={"CopyCount": copies}
        )
        assert answer["InferenceComponentArn"] == arn
        described = sagemaker.describe_inference_component(InferenceComponentName="ic")
        assert described["RuntimeConfig"] == {"DesiredCopyCount": copies, "CurrentCopyCount": copies}

    # Deleting the endpoint leaves its component and the component's target behind, as in AWS: leftovers say so.
    sagemaker.delete_endpoint(EndpointName="e")
    left = leftovers(aws)
    assert {"inference-component ic", "scalable-target inference-component/ic"} <= set(left)
    sagemaker.delete_inference_component(InferenceComponentName="ic")
    autoscaling.deregister_scalable_target(**target)
    assert not [item for item in leftovers(aws) if "inference-component" in item]
