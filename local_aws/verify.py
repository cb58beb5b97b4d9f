"""Checks with boto3 that every resource of a synthesized template exists with its key properties.

CREATE_COMPLETE alone proves nothing against an emulator, so after a local
deploy every resource in the template is looked up through the service's own API and its key
properties are compared with the template's. The checks are a table, ``CHECKS``, keyed by
CloudFormation resource type: to support a new type, add one function and one table row. A type
without a row fails the verification, so a new resource can never go unchecked.

Template values are resolved the way CloudFormation would (Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
pseudo parameters, ``{{resolve:secretsmanager:...}}``) from the deployed stack's own resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

CDK_TOOLKIT_STACK = "CDKToolkit"

# Makes a boto3 client for a service name, already pointed at the AWS (or emulator) to check.
ClientFactory = Callable[[str], Any]


class VerificationError(AssertionError):
    """A deployed resource is missing or differs from its template."""


@dataclass
class Deployed:
    """One deployed stack: its template, its resources' physical ids and API clients for the emulator."""

    make_client: ClientFactory
    stack_name: str
    template: dict[str, Any]
    physical_ids: dict[str, str]
    account: str
    region: str
    _clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, make_client: ClientFactory, stack_name: str, template: dict[str, Any]) -> Deployed:
        cloudformation = make_client("cloudformation")
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        return cls(
            make_client=make_client,
            stack_name=stack_name,
            template=template,
            physical_ids={r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources},
            account=make_client("sts").get_caller_identity()["Account"],
            region=make_client("sts").meta.region_name,
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.make_client(service)
        return self._clients[service]

    def resource_type(self, logical_id: str) -> str:
        return str(self.template["Resources"][logical_id]["Type"])

    def resolve(self, value: Any) -> Any:
        """The value CloudFormation would have passed to the service for a template value."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, str):
            return DYNAMIC_REFERENCE.sub(lambda m: self._dynamic_reference(m.group(1), m.group(2)), value)
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key == "Fn::Sub" and isinstance(argument, str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub_variable(m.group(1))), argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.template["Parameters"][name].get("Default")
        return self.physical_ids[name]

    def _sub_variable(self, name: str) -> Any:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self._get_att(logical_id, attribute)
        return self._ref(name)

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        physical_id = self.physical_ids[logical_id]
        resource_type = self.resource_type(logical_id)
        if resource_type == "AWS::IAM::Role" and attribute == "Arn":
            return self.client("iam").get_role(RoleName=physical_id)["Role"]["Arn"]
        if resource_type == "AWS::KMS::Key" and attribute == "Arn":
            return self.client("kms").describe_key(KeyId=physical_id)["KeyMetadata"]["Arn"]
        if resource_type == "AWS::SNS::Topic" and attribute == "TopicArn":
            return physical_id
        if resource_type == "AWS::CloudWatch::Alarm" and attribute == "Arn":
            return self.client("cloudwatch").describe_alarms(AlarmNames=[physical_id])["MetricAlarms"][0]["AlarmArn"]
        if resource_type == "AWS::SageMaker::InferenceComponent" and attribute == "InferenceComponentArn":
            return physical_id  # its Ref, too
        if resource_type.startswith("AWS::SageMaker::") and attribute.endswith("Name"):
            return physical_id.rsplit("/", 1)[-1]
        if attribute == "Arn" and physical_id.startswith("arn:"):
            return physical_id
        raise VerificationError(
            f"{logical_id}: cannot resolve Fn::GetAtt {attribute} of {resource_type}; teach Deployed._get_att"
        )

    def _dynamic_reference(self, service: str, reference: str) -> str:
        if service != "secretsmanager":
            name = reference.split(":", 1)[0]
            return str(self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        secret_id, _, rest = reference.partition(":SecretString")
        json_key = rest.lstrip(":").split(":")[0]
        value = str(self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        return str(json.loads(value)[json_key]) if json_key else value


# A CloudFormation dynamic reference: (service, reference), e.g. ("secretsmanager", "NAME:SecretString:::").
DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]+)\}\}")

# A check gets the deployed stack, the resource's physical id and its resolved template properties,
# raises VerificationError on any difference and returns one short line for the summary.
Check = Callable[[Deployed, str, dict[str, Any]], str]


def expect(what: str, actual: Any, expected: Any) -> None:
    if actual != expected:
        raise VerificationError(f"{what}: deployed {actual!r}, template says {expected!r}")


def _policy(document: Any) -> Any:
    """A policy document as a comparable value (the APIs return JSON text or URL-decoded dicts)."""
    return json.loads(document) if isinstance(document, str) else document


def check_sagemaker_model(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    name = physical_id.rsplit("/", 1)[-1]
    model = d.client("sagemaker").describe_model(ModelName=name)
    if "ModelName" in p:
        expect("ModelName", model["ModelName"], p["ModelName"])
    container, expected = model["PrimaryContainer"], p["PrimaryContainer"]
    expect("Image", container["Image"], expected["Image"])
    expect("Environment", container.get("Environment", {}), expected.get("Environment", {}))
    expect("ModelDataSource", container.get("ModelDataSource"), expected.get("ModelDataSource"))
    expect("ExecutionRoleArn", model["ExecutionRoleArn"], p["ExecutionRoleArn"])
    expect("EnableNetworkIsolation", model.get("EnableNetworkIsolation", False), p.get("EnableNetworkIsolation", False))
    env = container.get("Environment", {})
    return f"{name}: {expected['Image'].rsplit('/', 1)[-1]}, HF_MODEL_ID={env.get('HF_MODEL_ID')}, {len(env)} env vars"


def check_sagemaker_endpoint_config(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    name = physical_id.rsplit("/", 1)[-1]
    config = d.client("sagemaker").describe_endpoint_config(EndpointConfigName=name)
    keys = (
        "VariantName",
        "ModelName",
        "InstanceType",
        "InstancePools",  # capacity fallback: types, priorities and each pool's ModelNameOverride
        "InitialInstanceCount",
        "InitialVariantWeight",
        "ContainerStartupHealthCheckTimeoutInSeconds",
        "ModelDataDownloadTimeoutInSeconds",
        "InferenceAmiVersion",  # the host driver the image's CUDA version needs
        "ManagedInstanceScaling",  # a variant hosting inference components: its instances scale (to 0), its ScaleInPolicy
        "RoutingConfig",
    )
    deployed = [{k: v.get(k) for k in keys} for v in config["ProductionVariants"]]
    expect("ProductionVariants", deployed, [{k: v.get(k) for k in keys} for v in p["ProductionVariants"]])
    expect("ExecutionRoleArn", config.get("ExecutionRoleArn"), p.get("ExecutionRoleArn"))
    return f"{name}: {', '.join(_variant_summary(v) for v in p['ProductionVariants'])}"


def _variant_summary(variant: dict[str, Any]) -> str:
    pools = sorted(variant.get("InstancePools", []), key=lambda pool: pool["Priority"])
    types = " or ".join(pool["InstanceType"] for pool in pools) if pools else variant["InstanceType"]
    text = f"{variant['VariantName']} {variant['InitialInstanceCount']} x {types}"
    if "ModelName" not in variant:  # hosts inference components: no weight of its own
        scaling = variant.get("ManagedInstanceScaling", {})
        policy = scaling.get("ScaleInPolicy")
        release = f", {policy['Strategy']} after {policy.get('CooldownInMinutes', 20)} min" if policy else ""
        return (
            f"{text} for inference components, instances {scaling.get('MinInstanceCount')}-{scaling.get('MaxInstanceCount')}"
            + release
        )
    return f"{text} weight {variant['InitialVariantWeight']}"


def check_sagemaker_inference_component(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    name = physical_id.rsplit("/", 1)[-1]
    sagemaker = d.client("sagemaker")
    component = sagemaker.describe_inference_component(InferenceComponentName=name)
    if "InferenceComponentName" in p:
        expect("InferenceComponentName", component["InferenceComponentName"], p["InferenceComponentName"])
    expect("InferenceComponentStatus", component["InferenceComponentStatus"], "InService")
    expect("EndpointName", component["EndpointName"], p["EndpointName"])
    expect("VariantName", component.get("VariantName"), p.get("VariantName"))
    deployed, expected = component["Specification"], p["Specification"]
    expect("Specification.ModelName", deployed.get("ModelName"), expected.get("ModelName"))
    expect(
        "Specification.ComputeResourceRequirements",
        deployed.get("ComputeResourceRequirements"),
        expected.get("ComputeResourceRequirements"),
    )
    expect("Specification.StartupParameters", deployed.get("StartupParameters"), expected.get("StartupParameters"))
    copies = component["RuntimeConfig"]["DesiredCopyCount"]
    target = _component_scaling_target(d, name)
    if target is None:
        expect("RuntimeConfig.CopyCount", copies, p["RuntimeConfig"]["CopyCount"])
        scaling = ""
    else:  # Application Auto Scaling owns the count after creation (scale to zero sets it to 0)
        if not target["MinCapacity"] <= copies <= target["MaxCapacity"]:
            raise VerificationError(
                f"RuntimeConfig.DesiredCopyCount: deployed {copies}, outside its scalable target's "
                f"{target['MinCapacity']}-{target['MaxCapacity']}"
            )
        scaling = f" (autoscaled {target['MinCapacity']}-{target['MaxCapacity']})"
    resources = expected.get("ComputeResourceRequirements", {})
    return (
        f"{name} on {p['EndpointName']}/{p.get('VariantName')}: {resources.get('NumberOfAcceleratorDevicesRequired')} "
        f"accelerator(s), {resources.get('MinMemoryRequiredInMb')} MB, {copies} cop{'y' if copies == 1 else 'ies'}{scaling}"
    )


def _component_scaling_target(d: Deployed, name: str) -> dict[str, Any] | None:
    targets = d.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker",
        ResourceIds=[f"inference-component/{name}"],
        ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
    )["ScalableTargets"]
    return dict(targets[0]) if targets else None


def check_sagemaker_endpoint(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    sagemaker = d.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=p.get("EndpointName") or physical_id.rsplit("/", 1)[-1])
    expect("EndpointStatus", endpoint["EndpointStatus"], "InService")
    expect("EndpointConfigName", endpoint["EndpointConfigName"], p["EndpointConfigName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=p["EndpointConfigName"])
    expect(
        "variants (name, weight)",
        [(v["VariantName"], v.get("CurrentWeight")) for v in endpoint["ProductionVariants"]],
        [(v["VariantName"], v.get("InitialVariantWeight")) for v in config["ProductionVariants"]],
    )
    return f"{endpoint['EndpointName']}: InService on {p['EndpointConfigName']}"


def check_iam_role(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    iam = d.client("iam")
    role = iam.get_role(RoleName=physical_id)["Role"]
    expect("AssumeRolePolicyDocument", _policy(role["AssumeRolePolicyDocument"]), p["AssumeRolePolicyDocument"])
    for policy in p.get("Policies", []):
        document = iam.get_role_policy(RoleName=physical_id, PolicyName=policy["PolicyName"])["PolicyDocument"]
        expect(f"inline policy {policy['PolicyName']}", _policy(document), policy["PolicyDocument"])
    attached = iam.list_attached_role_policies(RoleName=physical_id)["AttachedPolicies"]
    # Attached: the template's ManagedPolicyArns, plus any AWS::IAM::ManagedPolicy that lists this role.
    missing = sorted(set(p.get("ManagedPolicyArns", [])) - {a["PolicyArn"] for a in attached})
    expect("ManagedPolicyArns not attached", missing, [])
    return f"{physical_id}: {len(p.get('Policies', []))} inline, {len(attached)} managed policies"


def check_iam_policy(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    iam = d.client("iam")
    for role in p.get("Roles", []):
        document = iam.get_role_policy(RoleName=role, PolicyName=p["PolicyName"])["PolicyDocument"]
        expect(f"policy {p['PolicyName']} on {role}", _policy(document), p["PolicyDocument"])
    return f"{p['PolicyName']} on {', '.join(p.get('Roles', []))}"


def check_iam_managed_policy(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    iam = d.client("iam")
    policy = iam.get_policy(PolicyArn=physical_id)["Policy"]
    if "ManagedPolicyName" in p:
        expect("ManagedPolicyName", policy["PolicyName"], p["ManagedPolicyName"])
    version = iam.get_policy_version(PolicyArn=physical_id, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    expect("PolicyDocument", _policy(version["Document"]), p["PolicyDocument"])
    # Attached to the template's Roles, plus any AWS::IAM::Role listing it in ManagedPolicyArns.
    roles = iam.list_entities_for_policy(PolicyArn=physical_id)["PolicyRoles"]
    expect("Roles not attached", sorted(set(p.get("Roles", [])) - {r["RoleName"] for r in roles}), [])
    return f"{policy['PolicyName']}: attached to {len(roles)} role(s)"


def check_ssm_parameter(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    parameter = d.client("ssm").get_parameter(Name=physical_id)["Parameter"]
    expect("Name", parameter["Name"], p.get("Name", physical_id))
    expect("Type", parameter["Type"], p["Type"])
    expect("Value", parameter["Value"], p["Value"])
    return f"{physical_id} ({len(parameter['Value'])} characters)"


def check_log_group(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    groups = d.client("logs").describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]
    [group] = [g for g in groups if g["logGroupName"] == physical_id]
    expect("RetentionInDays", group.get("retentionInDays"), p.get("RetentionInDays"))
    if "KmsKeyId" in p:
        expect("KmsKeyId", group.get("kmsKeyId"), p["KmsKeyId"])
    return f"{physical_id}: kept {group.get('retentionInDays')} days, encrypted with {group.get('kmsKeyId', 'no key')}"


def check_sns_topic(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    attributes = d.client("sns").get_topic_attributes(TopicArn=physical_id)["Attributes"]
    for prop in ("KmsMasterKeyId", "DisplayName"):
        if prop in p:
            expect(prop, attributes.get(prop), p[prop])
    return f"{physical_id.rsplit(':', 1)[-1]}: encrypted with {p.get('KmsMasterKeyId', 'no key')}"


def check_sns_topic_policy(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    for topic_arn in p["Topics"]:
        attributes = d.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        expect(f"Policy of {topic_arn}", _policy(attributes["Policy"]), p["PolicyDocument"])
    return f"{len(p['PolicyDocument']['Statement'])} statement(s) on {len(p['Topics'])} topic(s)"


def check_sns_subscription(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    subscriptions = d.client("sns").list_subscriptions_by_topic(TopicArn=p["TopicArn"])["Subscriptions"]
    found = [(s["Protocol"], s["Endpoint"]) for s in subscriptions if s["SubscriptionArn"] == physical_id]
    expect("subscription", found, [(p["Protocol"], p["Endpoint"])])
    return f"{p['Protocol']} {p['Endpoint']}"


def check_kms_key(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    kms = d.client("kms")
    metadata = kms.describe_key(KeyId=physical_id)["KeyMetadata"]
    expect("KeyState", metadata["KeyState"], "Enabled")
    expect(
        "KeyRotationEnabled",
        kms.get_key_rotation_status(KeyId=physical_id)["KeyRotationEnabled"],
        p.get("EnableKeyRotation", False),
    )
    expect("KeyPolicy", _policy(kms.get_key_policy(KeyId=physical_id, PolicyName="default")["Policy"]), p["KeyPolicy"])
    return f"{physical_id}: enabled, rotation {'on' if p.get('EnableKeyRotation') else 'off'}"


def check_cloudwatch_alarm(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    alarms = d.client("cloudwatch").describe_alarms(AlarmNames=[physical_id])["MetricAlarms"]
    if not alarms:
        raise VerificationError(f"alarm {physical_id} does not exist")
    alarm = alarms[0]
    for prop in (
        "MetricName",
        "Namespace",
        "Statistic",
        "ExtendedStatistic",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
    ):
        if prop in p:
            expect(prop, alarm.get(prop), p[prop])
    for prop in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        expect(prop, alarm.get(prop, []), p.get(prop, []))
    expect(
        "Dimensions",
        sorted((x["Name"], x["Value"]) for x in alarm.get("Dimensions", [])),
        sorted((x["Name"], x["Value"]) for x in p.get("Dimensions", [])),
    )
    expect("Metrics (ids)", [m["Id"] for m in alarm.get("Metrics", [])], [m["Id"] for m in p.get("Metrics", [])])
    metric = p.get("MetricName") or "metric math"
    return f"{physical_id}: {metric} {p['ComparisonOperator']} {p.get('Threshold')} -> {len(p.get('AlarmActions', []))} action(s)"


def check_cloudwatch_dashboard(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    dashboard = d.client("cloudwatch").get_dashboard(DashboardName=physical_id)
    expect("DashboardBody", json.loads(dashboard["DashboardBody"]), json.loads(p["DashboardBody"]))
    return f"{physical_id}: {len(json.loads(p['DashboardBody']).get('widgets', []))} widgets"


def check_budget(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    budgets = d.client("budgets")
    budget = budgets.describe_budget(AccountId=d.account, BudgetName=physical_id)["Budget"]
    expected = p["Budget"]
    expect("BudgetType", budget["BudgetType"], expected["BudgetType"])
    expect("TimeUnit", budget["TimeUnit"], expected["TimeUnit"])
    limit = expected["BudgetLimit"]
    expect(
        "BudgetLimit",
        (float(budget["BudgetLimit"]["Amount"]), budget["BudgetLimit"]["Unit"]),
        (float(limit["Amount"]), limit["Unit"]),
    )
    notifications = budgets.describe_notifications_for_budget(AccountId=d.account, BudgetName=physical_id)["Notifications"]
    key = ("NotificationType", "ComparisonOperator", "Threshold", "ThresholdType")
    expect(
        "Notifications",
        sorted(tuple(n.get(k) for k in key) for n in notifications),
        sorted(tuple(n["Notification"].get(k) for k in key) for n in p.get("NotificationsWithSubscribers", [])),
    )
    for n in p.get("NotificationsWithSubscribers", []):
        subscribers = budgets.describe_subscribers_for_notification(
            AccountId=d.account, BudgetName=physical_id, Notification=n["Notification"]
        )["Subscribers"]
        expect(
            "Subscribers",
            sorted((s["SubscriptionType"], s["Address"]) for s in subscribers),
            sorted((s["SubscriptionType"], s["Address"]) for s in n["Subscribers"]),
        )
    period = expected["TimeUnit"].lower()
    return f"{physical_id}: {limit['Amount']} {limit['Unit']} {period}, {len(notifications)} notification(s)"


def check_scalable_target(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    targets = d.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace=p["ServiceNamespace"], ResourceIds=[p["ResourceId"]], ScalableDimension=p["ScalableDimension"]
    )["ScalableTargets"]
    if len(targets) != 1:
        raise VerificationError(f"scalable target {p['ResourceId']} is not registered")
    expect("MinCapacity", targets[0]["MinCapacity"], p["MinCapacity"])
    expect("MaxCapacity", targets[0]["MaxCapacity"], p["MaxCapacity"])
    unit = "instances"
    if p["ResourceId"].startswith("inference-component/"):  # AWS refuses a target on a component that does not exist
        unit = "copies"
        d.client("sagemaker").describe_inference_component(InferenceComponentName=p["ResourceId"].split("/", 1)[1])
    elif p["ServiceNamespace"] == "sagemaker":  # AWS refuses a target on a variant that does not exist
        _, endpoint_name, _, variant_name = p["ResourceId"].split("/")
        variants = d.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)["ProductionVariants"]
        if variant_name not in [v["VariantName"] for v in variants]:
            raise VerificationError(f"scalable target {p['ResourceId']}: endpoint has no variant {variant_name}")
    return f"{p['ResourceId']}: {p['MinCapacity']}-{p['MaxCapacity']} {unit}"


def check_scaling_policy(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    if "ScalingTargetId" in p:
        resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
    else:
        resource_id, dimension, namespace = p["ResourceId"], p["ScalableDimension"], p["ServiceNamespace"]
    policies = d.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace=namespace, ResourceId=resource_id, ScalableDimension=dimension, PolicyNames=[p["PolicyName"]]
    )["ScalingPolicies"]
    if len(policies) != 1:
        raise VerificationError(f"scaling policy {p['PolicyName']} on {resource_id} does not exist")
    expect("PolicyType", policies[0]["PolicyType"], p["PolicyType"])
    body = (
        "TargetTrackingScalingPolicyConfiguration"
        if p["PolicyType"] == "TargetTrackingScaling"
        else "StepScalingPolicyConfiguration"
    )
    expect(body, policies[0][body], p[body])
    return f"{p['PolicyName']} on {resource_id}: {p['PolicyType']}"


def check_bucket_policy(d: Deployed, physical_id: str, p: dict[str, Any]) -> str:
    policy = d.client("s3").get_bucket_policy(Bucket=p["Bucket"])["Policy"]
    expect("PolicyDocument", _policy(policy), p["PolicyDocument"])
    return f"on {p['Bucket']}"


CHECKS: Mapping[str, Check] = {
    "AWS::SageMaker::Model": check_sagemaker_model,
    "AWS::SageMaker::EndpointConfig": check_sagemaker_endpoint_config,
    "AWS::SageMaker::Endpoint": check_sagemaker_endpoint,
    "AWS::SageMaker::InferenceComponent": check_sagemaker_inference_component,
    "AWS::IAM::Role": check_iam_role,
    "AWS::IAM::Policy": check_iam_policy,
    "AWS::IAM::ManagedPolicy": check_iam_managed_policy,
    "AWS::SSM::Parameter": check_ssm_parameter,
    "AWS::Logs::LogGroup": check_log_group,
    "AWS::SNS::Topic": check_sns_topic,
    "AWS::SNS::TopicPolicy": check_sns_topic_policy,
    "AWS::SNS::Subscription": check_sns_subscription,
    "AWS::KMS::Key": check_kms_key,
    "AWS::CloudWatch::Alarm": check_cloudwatch_alarm,
    "AWS::CloudWatch::Dashboard": check_cloudwatch_dashboard,
    "AWS::Budgets::Budget": check_budget,
    "AWS::ApplicationAutoScaling::ScalableTarget": check_scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": check_scaling_policy,
    "AWS::S3::BucketPolicy": check_bucket_policy,
}


@dataclass(frozen=True)
class Verified:
    logical_id: str
    resource_type: str
    detail: str


def verify_stack(deployed: Deployed) -> list[Verified]:
    """Check every resource of the template; raise VerificationError naming the first that is wrong."""
    results = []
    for logical_id, resource in deployed.template["Resources"].items():
        resource_type = resource["Type"]
        if resource_type == "AWS::CDK::Metadata":
            continue
        check = CHECKS.get(resource_type)
        if check is None:
            raise VerificationError(f"{logical_id}: no check for {resource_type}; add one to local_aws/verify.py CHECKS")
        physical_id = deployed.physical_ids.get(logical_id)
        if not physical_id:
            raise VerificationError(f"{logical_id} ({resource_type}) was not created (no physical id in the stack)")
        try:
            detail = check(deployed, physical_id, deployed.resolve(resource.get("Properties", {})))
        except VerificationError as error:
            raise VerificationError(f"{logical_id} ({resource_type}): {error}") from None
        except Exception as error:  # a failed API call means the resource is not really there
            raise VerificationError(f"{logical_id} ({resource_type}) {physical_id}: {error}") from error
        results.append(Verified(logical_id, resource_type, detail))
    return results


def retained_physical_ids(deployed: Deployed) -> list[str]:
    """Resources CloudFormation keeps when the stack is deleted (``DeletionPolicy: Retain``), as in AWS."""
    return [
        deployed.physical_ids[logical_id]
        for logical_id, resource in deployed.template["Resources"].items()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate") and logical_id in deployed.physical_ids
    ]


def leftovers(make_client: ClientFactory) -> list[str]:
    """Every resource of the types we deploy that still exists outside the CDK bootstrap stack."""
    found: list[str] = []
    cloudformation = make_client("cloudformation")
    stacks = [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    found += [f"stack {name}" for name in stacks if name != CDK_TOOLKIT_STACK]
    bootstrap = set()
    if CDK_TOOLKIT_STACK in stacks:
        resources = cloudformation.describe_stack_resources(StackName=CDK_TOOLKIT_STACK)["StackResources"]
        bootstrap = {r.get("PhysicalResourceId") for r in resources}
    found += list(_remaining(make_client))
    return [item for item in found if item.split(" ", 1)[1] not in bootstrap]


def _remaining(make_client: ClientFactory) -> Iterator[str]:
    sagemaker = make_client("sagemaker")
    yield from (f"endpoint {e['EndpointName']}" for e in sagemaker.list_endpoints()["Endpoints"])
    yield from (f"endpoint-config {c['EndpointConfigName']}" for c in sagemaker.list_endpoint_configs()["EndpointConfigs"])
    yield from (f"model {m['ModelName']}" for m in sagemaker.list_models()["Models"])
    # Deleting an endpoint leaves its inference components (and their scalable targets) behind, as in AWS.
    components = sagemaker.list_inference_components()["InferenceComponents"]
    yield from (f"inference-component {c['InferenceComponentName']}" for c in components)
    autoscaling = make_client("application-autoscaling")
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    yield from (f"scalable-target {t['ResourceId']}" for t in targets)
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    yield from (f"scaling-policy {p['PolicyName']}" for p in policies)
    groups = make_client("logs").describe_log_groups()["logGroups"]
    yield from (f"log-group {g['logGroupName']}" for g in groups)
    cloudwatch = make_client("cloudwatch")
    yield from (f"alarm {a['AlarmName']}" for a in cloudwatch.describe_alarms()["MetricAlarms"])
    yield from (f"dashboard {x['DashboardName']}" for x in cloudwatch.list_dashboards()["DashboardEntries"])
    account = make_client("sts").get_caller_identity()["Account"]
    yield from (
        f"budget {b['BudgetName']}" for b in make_client("budgets").describe_budgets(AccountId=account).get("Budgets", [])
    )
    yield from (f"topic {t['TopicArn']}" for t in make_client("sns").list_topics()["Topics"])
    kms = make_client("kms")
    for key in kms.list_keys()["Keys"]:
        if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion":
            yield f"kms-key {key['KeyId']}"
    iam = make_client("iam")
    yield from (f"role {r['RoleName']}" for r in iam.list_roles()["Roles"])
    yield from (f"managed-policy {p['Arn']}" for p in iam.list_policies(Scope="Local")["Policies"])
    parameters = make_client("ssm").describe_parameters()["Parameters"]
    yield from (f"parameter {p['Name']}" for p in parameters)
    yield from (f"secret {s['Name']}" for s in make_client("secretsmanager").list_secrets()["SecretList"])
