"""Unit tests of local_aws.moto_extension and local_aws.verify, with moto in-process (no server, no CLI).

The stack under test is the real SageMaker endpoint stack plus the resource types other branches are
adding (alarm topic with its KMS key, budget, alarm, scalable target and policy, dashboard, managed
policy): each must really exist in moto after CREATE_COMPLETE, be updated when what it references is
replaced, and be gone after the stack is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_cdk import App, Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError
from moto import mock_aws

from llm_config import ModelRegistry
from llm_config.deployment import DeploymentSpec
from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.cost_budget import CostBudget
from local_aws import moto_extension
from local_aws.verify import CHECKS, Deployed, VerificationError, leftovers, retained_physical_ids, verify_stack
from stacks.app_factory import build_stack
from stacks.sagemaker_endpoint_stack import SageMakerEndpointStack

REGION = "us-east-1"
STACK = "llm-chat"
HF_TOKEN_SECRET = "llm-endpoints/hugging-face-token"


def full_template(registry: ModelRegistry, model: str) -> dict[str, Any]:
    """The endpoint stack for ``model`` on endpoint ``chat``, plus the operations resources of issues 3 and 4."""
    app = App(analytics_reporting=False)
    stack = build_stack(app, DeploymentSpec(endpoint_name="chat", region=REGION, model=registry.resolve(model)), registry)
    assert isinstance(stack, SageMakerEndpointStack)
    variant = stack.llm_endpoint.variants[0].name
    topic = AlarmTopic(stack, "AlarmTopic", display_name="chat alarms", emails=["ops@example.com"])
    CostBudget(stack, "Budget", amount_usd=1500, time_unit="MONTHLY", alert_thresholds_percent=[80, 100], topic=topic)
    latency = cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name="ModelLatency",
        dimensions_map={"EndpointName": "chat", "VariantName": variant},
        statistic="p90",
        period=Duration.minutes(1),
    )
    alarm = latency.create_alarm(stack, "LatencyAlarm", threshold=10_000_000, evaluation_periods=3, alarm_name="chat-latency")
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic.topic))
    target = appscaling.ScalableTarget(
        stack,
        "ScalableTarget",
        service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
        resource_id=f"endpoint/chat/variant/{variant}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=1,
        max_capacity=3,
    )
    target.node.add_dependency(stack.llm_endpoint.endpoint)
    target.scale_to_track_metric(
        "ConcurrencyTracking",
        target_value=4,
        predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
    )
    cloudwatch.Dashboard(stack, "Dashboard", dashboard_name="chat", widgets=[[cloudwatch.GraphWidget(left=[latency])]])
    # A managed policy attached both ways (its Roles, a role's ManagedPolicyArns), and an AWS managed policy.
    client_role = iam.Role(stack, "ClientRole", assumed_by=iam.AccountRootPrincipal())
    invoke = iam.ManagedPolicy(
        stack,
        "InvokePolicy",
        roles=[client_role],
        statements=[iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[stack.llm_endpoint.endpoint_arn])],
    )
    iam.Role(
        stack,
        "ReaderRole",
        assumed_by=iam.AccountRootPrincipal(),
        managed_policies=[invoke, iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerReadOnly")],
    )
    return dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="module")
def templates(registry: ModelRegistry) -> dict[str, dict[str, Any]]:
    return {model: full_template(registry, model) for model in ("mistral", "mixtral")}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with the extension, dummy credentials, the bootstrap version parameter and the HF token secret."""
    for name in [n for n in __import__("os").environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_extension.apply()
    with mock_aws():
        boto3.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="33", Type="String")
        yield boto3.client


def create(make_client: Any, template: dict[str, Any]) -> Deployed:
    make_client("cloudformation").create_stack(
        StackName=STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
    )
    return Deployed.load(make_client, STACK, template)


def test_refuses_another_moto_version() -> None:
    with pytest.raises(moto_extension.UnsupportedMotoVersion, match=r"written for moto 5\.2\.5, but moto 5\.3\.0 is installed"):
        moto_extension.check_moto_version("5.3.0")


def test_every_resource_of_the_full_stack_exists_with_its_properties(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    template = templates["mistral"]
    results = verify_stack(create(aws, template))

    checked = {r.resource_type for r in results}
    assert {
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "AWS::Budgets::Budget",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Key",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::SNS::Subscription",
        "AWS::SageMaker::Endpoint",
        "AWS::SSM::Parameter",
    } <= checked
    assert len(results) == len(template["Resources"])
    # Names from the template are honoured, the secret is resolved and the g5 instance accepted.
    sagemaker = aws("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="chat")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"].startswith("ml.g5.")
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["Environment"]["HUGGING_FACE_HUB_TOKEN"] == "hf_dummy"
    reader = next(r["RoleName"] for r in aws("iam").list_roles()["Roles"] if "ReaderRole" in r["RoleName"])
    attached = aws("iam").list_attached_role_policies(RoleName=reader)["AttachedPolicies"]
    assert sorted(a["PolicyName"] for a in attached)[0] == "AmazonSageMakerReadOnly"
    assert len(attached) == 2
    alarm = aws("cloudwatch").describe_alarms(AlarmNames=["chat-latency"])["MetricAlarms"][0]
    assert alarm["ExtendedStatistic"] == "p90"
    assert alarm["AlarmActions"] == [aws("sns").list_topics()["Topics"][0]["TopicArn"]]


def test_verifier_catches_a_resource_that_drifted(aws: Any, templates: dict[str, Any]) -> None:
    template = templates["mixtral"]
    deployed = create(aws, template)
    aws("cloudwatch").put_metric_alarm(
        AlarmName="chat-latency",
        MetricName="ModelLatency",
        Namespace="AWS/SageMaker",
        ExtendedStatistic="p90",
        Period=60,
        EvaluationPeriods=3,
        Threshold=99.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    with pytest.raises(VerificationError, match=r"LatencyAlarm.*Threshold: deployed 99\.0, template says 10000000"):
        verify_stack(deployed)


def test_verifier_refuses_a_type_it_cannot_check(aws: Any) -> None:
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    with pytest.raises(VerificationError, match=r"Queue: no check for AWS::SQS::Queue; add one to local_aws/verify.py CHECKS"):
        verify_stack(create(aws, template))


def test_update_that_replaces_model_and_endpoint_config_repoints_the_endpoint(aws: Any, templates: dict[str, Any]) -> None:
    aws("secretsmanager").create_secret(Name=HF_TOKEN_SECRET, SecretString="hf_dummy")
    first = create(aws, templates["mistral"])
    old_config = aws("sagemaker").describe_endpoint(EndpointName="chat")["EndpointConfigName"]

    aws("cloudformation").update_stack(
        StackName=STACK, TemplateBody=json.dumps(templates["mixtral"]), Capabilities=["CAPABILITY_IAM"]
    )
    results = verify_stack(Deployed.load(aws, STACK, templates["mixtral"]))

    endpoint = aws("sagemaker").describe_endpoint(EndpointName="chat")
    assert endpoint["EndpointConfigName"] != old_config
    assert [v["VariantName"] for v in endpoint["ProductionVariants"]] == ["mixtral-8x7b"]
    assert len(results) == len(templates["mixtral"]["Resources"])
    assert first.physical_ids != Deployed.load(aws, STACK, templates["mixtral"]).physical_ids


def test_delete_leaves_nothing_behind_but_what_the_template_retains(aws: Any, templates: dict[str, Any]) -> None:
    deployed = create(aws, templates["mixtral"])
    assert len(leftovers(aws)) > 10
    (retained,) = retained_physical_ids(deployed)  # the alarm topic's KMS key: CDK's default RemovalPolicy.RETAIN

    aws("cloudformation").delete_stack(StackName=STACK)

    assert sorted(leftovers(aws)) == [f"kms-key {retained}", "parameter /cdk-bootstrap/hnb659fds/version"]


def test_unsupported_resource_type_fails_the_deploy(aws: Any) -> None:
    template = {"Resources": {"Guardrail": {"Type": "AWS::Bedrock::Guardrail", "Properties": {"Name": "g"}}}}
    with pytest.raises(ClientError, match=r"moto cannot create AWS::Bedrock::Guardrail"):
        create(aws, template)


def test_missing_secret_fails_the_deploy(aws: Any, templates: dict[str, Any]) -> None:
    with pytest.raises(
        ClientError, match=r"Secrets Manager can't find the secret llm-endpoints/hugging-face-token referenced by"
    ):
        create(aws, templates["mistral"])


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
    } <= set(CHECKS)
