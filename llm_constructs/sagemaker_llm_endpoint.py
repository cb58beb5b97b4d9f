"""A SageMaker real-time endpoint serving LLMs from a container family's image (LMI/vLLM by default, or TGI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import SecretValue, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from llm_config import ContainerImage, InstanceType, SageMakerModelConfig
from llm_config.deployment import partition_of_region
from llm_config.guardrails import CapacitySize, Guardrails
from llm_config.operations import SCALE_IN_COOLDOWN_MINUTES, SCALE_IN_STRATEGY
from llm_config.serving import TOKEN_VARIABLE, container_environment
from llm_config.sizing import ComponentShape
from llm_constructs.endpoint_metrics import VariantMetrics
from llm_constructs.nag import acknowledge

# NIST 800-53 R5 prefers customer-managed policies; these stay inline on purpose.
INLINE_POLICY_REASON = (
    "The policy serves exactly one role, this endpoint's execution role, and is created and deleted with it: an inline "
    "policy cannot be attached to any other principal, which a customer-managed policy could. IAM's own guidance "
    "keeps inline policies for such strict one-to-one grants; the statements are scoped to this endpoint's resources."
)

# Where SageMaker writes the container's logs and the endpoint's instance metrics.
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints"
ENDPOINT_METRIC_NAMESPACES = ["/aws/sagemaker/Endpoints", "AWS/SageMaker"]


@dataclass(frozen=True)
class EndpointVariant:
    """One production variant: a model on its instances, with a relative share of traffic.

    ``name`` is the SageMaker variant name; by default the stack uses the model key, so the
    variant says which model serves it. ``initial_weight`` is relative to the other variants'.
    ``autoscaled`` says whether the stack registers it with Application Auto Scaling; a drained variant
    (weight 0, about to be removed) is not, because SageMaker refuses to remove a scalable target.
    """

    name: str
    model: SageMakerModelConfig
    instance: InstanceType
    image: ContainerImage
    initial_weight: float = 1.0
    autoscaled: bool = True
    # instance.fallback_types with their catalogue entries, in priority order (instance pools 2-5).
    fallbacks: tuple[tuple[str, InstanceType], ...] = ()

    @property
    def pools(self) -> tuple[tuple[str, InstanceType], ...]:
        """Every instance type the variant may run on, with its catalogue entry: instance.type first."""
        return ((self.model.instance.type, self.instance), *self.fallbacks)

    @property
    def pool_gpu_counts(self) -> list[int]:
        """The distinct GPU counts of the pools, instance.type's first: one SageMaker model (tensor-parallel degree) each."""
        return list(dict.fromkeys(instance.gpus for _, instance in self.pools))


# The one variant of a scale-to-zero endpoint: it holds instances, not a model; the inference components hold the models.
COMPONENT_VARIANT = "AllTraffic"


@dataclass(frozen=True)
class InferenceComponentPlan:
    """One model served as inference component ``name``: what one copy needs, and at most ``max_copies`` copies."""

    name: str
    shape: ComponentShape
    max_copies: int


@dataclass(frozen=True)
class ScaleToZero:
    """Serve each variant's model as an inference component (``components``, by variant name) on an endpoint whose
    instances, of the first variant's instance type, scale between 0 and ``max_instances``.

    Two components share the instances during a migration; a variant with ``autoscaled=False`` is a drained
    component: 0 copies (it holds no instance) and no scaling, so that a later deploy may remove it.
    """

    max_instances: int
    components: Mapping[str, InferenceComponentPlan]


class SageMakerLlmEndpoint(Construct):
    """A named real-time endpoint with one or more weighted variants and a least-privilege role.

    Children (their IDs are part of the stack's contract: renaming one replaces the resource):
    ``ExecutionRole``, ``Model<variant>`` per variant, ``EndpointConfig``, ``Endpoint``.

    A variant with fallback instance types gets ``InstancePools`` (priority 1 is instance.type) instead of an
    InstanceType; a pool whose GPU count differs from instance.type's runs its own model,
    ``Model<variant>On<n>Gpus`` (the engine shards over n GPUs), named by the pool's ``ModelNameOverride``.

    The EndpointConfig never gets a fixed name: CloudFormation replaces it on every change and a
    fixed name would collide. It sets neither VolumeSizeInGB nor KmsKeyId, which SageMaker rejects
    on instances with local NVMe storage (all catalogued GPU instances; that storage is encrypted
    by the instance hardware).

    Every update keeps each existing variant's current instance count (RetainAllVariantProperties, so a
    deploy never undoes autoscaling) but takes the weights from the new config (DesiredWeight is excluded
    from retention), so a weight change in a deploy takes effect. New variants start at their initial count.
    ``add_deployment_guardrails`` adds a blue/green DeploymentConfig with automatic rollback.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variants: Sequence[EndpointVariant],
        scale_to_zero: ScaleToZero | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not variants:
            raise ValueError("SageMakerLlmEndpoint needs at least one variant")
        self.endpoint_name = endpoint_name
        self.variants = tuple(variants)
        self.scale_to_zero = scale_to_zero
        self.execution_role = self._execution_role()
        self.components: dict[str, sagemaker.CfnInferenceComponent] = {}
        if scale_to_zero is not None:
            missing = [v.name for v in self.variants if v.name not in scale_to_zero.components]
            if missing:
                raise ValueError(f"scale_to_zero plans no inference component for variant {missing[0]}")
            self.models = {
                v.name: self._model(v, gpus=scale_to_zero.components[v.name].shape.accelerators) for v in self.variants
            }
            self._component_endpoint(scale_to_zero)
            return
        self.models = {variant.name: self._model(variant) for variant in self.variants}
        # The models of pools whose GPU count differs from instance.type's, by variant and GPU count.
        self.pool_models = {
            (variant.name, gpus): self._model(variant, gpus=gpus, construct_id=f"Model{variant.name}On{gpus}Gpus")
            for variant in self.variants
            for gpus in variant.pool_gpu_counts[1:]
        }
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[self._production_variant(variant) for variant in self.variants],
        )
        self._acknowledge_instance_storage()
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight")
            ],
        )

    @property
    def endpoint_arn(self) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource="endpoint", resource_name=self.endpoint_name.lower())

    def metrics(self, variant_name: str) -> VariantMetrics:
        """The ``metric_*`` helpers of one variant (its instance type sets GPU count and price)."""
        for variant in self.variants:
            if variant.name == variant_name:
                return VariantMetrics(
                    endpoint_name=self.endpoint_name,
                    variant_name=variant.name,
                    gpus=variant.instance.gpus,
                    pool_gpus=tuple(variant.pool_gpu_counts) if len(variant.pool_gpu_counts) > 1 else (),
                    hourly_usd=variant.instance.sagemaker_hourly_usd,
                )
        raise ValueError(f"endpoint {self.endpoint_name} has no variant {variant_name!r}")

    def add_deployment_guardrails(self, guardrails: Guardrails, rollback_alarms: Sequence[cloudwatch.IAlarm]) -> None:
        """Make the next endpoint update a blue/green deployment that rolls back when any of ``rollback_alarms`` fires.

        Only valid when the update keeps the endpoint's variant names (SageMaker's guardrails exclusions); the
        caller decides. The execution role may describe the alarms, as SageMaker's guardrails guide asks.
        """
        if not rollback_alarms:
            raise ValueError("deployment guardrails need at least one rollback alarm")
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=guardrails.traffic_routing,
            wait_interval_in_seconds=guardrails.wait_interval_seconds,
            canary_size=_capacity(guardrails.canary_size),
            linear_step_size=_capacity(guardrails.linear_step_size),
        )
        self.endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                maximum_execution_timeout_in_seconds=guardrails.maximum_execution_timeout_seconds,
                termination_wait_in_seconds=guardrails.termination_wait_seconds,
            ),
            auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name) for alarm in rollback_alarms]
            ),
        )
        policy = iam.Policy(
            self,
            "DescribeRollbackAlarms",
            statements=[
                iam.PolicyStatement(
                    actions=["cloudwatch:DescribeAlarms"], resources=[alarm.alarm_arn for alarm in rollback_alarms]
                )
            ],
        )
        policy.attach_to_role(self.execution_role)
        acknowledge(policy, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
        self.endpoint.node.add_dependency(policy)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call InvokeEndpoint and InvokeEndpointWithResponseStream on this endpoint only (and on
        its inference components, which a scale-to-zero endpoint's callers name)."""
        arns = [self.endpoint_arn, *(component.attr_inference_component_arn for component in self.components.values())]
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=arns,
        )

    def _instance_pools(
        self, variant: EndpointVariant, *, override_models: bool
    ) -> list[sagemaker.CfnEndpointConfig.InstancePoolProperty] | None:
        """The variant's InstancePools (None without fallbacks: plain InstanceType). With ``override_models`` a pool
        whose GPU count differs from instance.type's names its own model (ModelNameOverride)."""
        if not variant.fallbacks:
            return None
        primary_gpus = variant.instance.gpus
        return [
            sagemaker.CfnEndpointConfig.InstancePoolProperty(
                instance_type=name,
                priority=priority,
                model_name_override=(
                    self.pool_models[variant.name, instance.gpus].attr_model_name
                    if override_models and instance.gpus != primary_gpus
                    else None
                ),
            )
            for priority, (name, instance) in enumerate(variant.pools, start=1)
        ]

    def _production_variant(self, variant: EndpointVariant) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        instance_settings = variant.model.instance
        pools = self._instance_pools(variant, override_models=True)
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=variant.name,
            model_name=self.models[variant.name].attr_model_name,
            # SageMaker takes either an instance type or instance pools, never both.
            instance_type=None if pools else instance_settings.type,
            instance_pools=pools,
            initial_instance_count=instance_settings.initial_count,
            initial_variant_weight=variant.initial_weight,
            # The host's NVIDIA driver must support the image's CUDA version (containers.yaml pairs them).
            inference_ami_version=variant.image.inference_ami_version,
            container_startup_health_check_timeout_in_seconds=instance_settings.container_startup_health_check_timeout_seconds,
            model_data_download_timeout_in_seconds=instance_settings.model_data_download_timeout_seconds,
        )

    def _acknowledge_instance_storage(self) -> None:
        acknowledge(
            self.endpoint_config,
            "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
            "SageMaker rejects an endpoint config KmsKeyId on instances with local NVMe instance storage, which every "
            "GPU instance type in the catalogue has (g5, g6, g6e, p4d, p5): their storage volumes are NVMe SSDs that "
            "AWS encrypts at rest with a hardware module on the instance.",
        )

    def _component_endpoint(self, plan: ScaleToZero) -> None:
        """The endpoint config, endpoint and inference components of a scale-to-zero endpoint.

        The endpoint's construct ID (``ComponentEndpoint``) differs from a variant endpoint's (``Endpoint``) while
        the name stays: switching one kind to the other under one name must create a second endpoint of that
        name before the first is deleted, which SageMaker refuses, so the update rolls back and the live endpoint
        stays (docs/scale-to-zero.md). Each component (``InferenceComponent<variant>``) depends on the endpoint, so
        CloudFormation deletes the components first on destroy (deleting an endpoint does not delete them).
        """
        host = self.variants[0]  # the serving model sets the instances and pools; a candidate shares them
        settings = host.model.instance
        # Components name their own models: every pool has the same GPU count (stacks/app_factory.py checks it).
        pools = self._instance_pools(host, override_models=False)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            execution_role_arn=self.execution_role.role_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=COMPONENT_VARIANT,
                    instance_type=None if pools else settings.type,
                    instance_pools=pools,
                    # The first copy needs an instance: a component cannot be created with 0 copies.
                    initial_instance_count=1,
                    # As for a model variant: the host's NVIDIA driver must support the image's CUDA version.
                    inference_ami_version=host.image.inference_ami_version,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=0,
                        max_instance_count=plan.max_instances,
                        scale_in_policy=sagemaker.CfnEndpointConfig.ScaleInPolicyProperty(
                            strategy=SCALE_IN_STRATEGY, cooldown_in_minutes=SCALE_IN_COOLDOWN_MINUTES
                        ),
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
        )
        self._acknowledge_instance_storage()
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "ComponentEndpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        for variant in self.variants:
            self.components[variant.name] = self._component(variant, plan.components[variant.name])

    def _component(self, variant: EndpointVariant, plan: InferenceComponentPlan) -> sagemaker.CfnInferenceComponent:
        settings = variant.model.instance
        return sagemaker.CfnInferenceComponent(
            self,
            f"InferenceComponent{variant.name}",
            inference_component_name=plan.name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=COMPONENT_VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.models[variant.name].attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=plan.shape.accelerators,
                    min_memory_required_in_mb=plan.shape.memory_mb,
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=settings.container_startup_health_check_timeout_seconds,
                    model_data_download_timeout_in_seconds=settings.model_data_download_timeout_seconds,
                ),
            ),
            # Created with 1 copy (SageMaker refuses 0 at creation); Application Auto Scaling owns the count after
            # that and takes it to 0 when idle. A drained component is set to 0 copies: it frees its instances
            # until the deploy that removes it.
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=1 if variant.autoscaled else 0
            ),
        )

    def _model(self, variant: EndpointVariant, gpus: int | None = None, construct_id: str | None = None) -> sagemaker.CfnModel:
        """The variant's SageMaker model; ``gpus`` (default: the instance's) is what one copy of it shards over."""
        stack = Stack.of(self)
        source = variant.model.hugging_face
        serving = variant.instance if gpus is None else variant.instance.model_copy(update={"gpus": gpus})
        environment: dict[str, Any] = container_environment(variant.model, serving)
        if source.token_secret_name and not source.weights_s3_uri:
            # A CloudFormation dynamic reference: the template holds the secret's name, never the token.
            token = SecretValue.secrets_manager(source.token_secret_name).unsafe_unwrap()
            environment[TOKEN_VARIABLE[variant.model.container.family]] = token
        model_data_source = None
        if source.weights_s3_uri:
            model_data_source = sagemaker.CfnModel.ModelDataSourceProperty(
                s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                    s3_uri=source.weights_s3_uri, s3_data_type="S3Prefix", compression_type="None"
                )
            )
        return sagemaker.CfnModel(
            self,
            construct_id or f"Model{variant.name}",
            execution_role_arn=self.execution_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=variant.image.uri(stack.region),
                mode="SingleModel",
                environment=environment,
                model_data_source=model_data_source,
            ),
            # With the weights in S3 the container needs no internet at all.
            enable_network_isolation=bool(source.weights_s3_uri),
        )

    def _execution_role(self) -> iam.Role:
        stack = Stack.of(self)
        image_repositories = sorted(
            {
                (variant.image.account_for(stack.region, "model_configs/containers.yaml"), variant.image.repository)
                for variant in self.variants
            }
        )
        partition = self._partition
        log_group_name = f"{ENDPOINT_LOG_GROUP_PREFIX}/{self.endpoint_name}"
        log_group = f"arn:{partition}:logs:{stack.region}:{stack.account}:log-group:{log_group_name}"
        statements = [
            iam.PolicyStatement(
                sid="PullServingImage",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[
                    f"arn:{partition}:ecr:{stack.region}:{account}:repository/{repository}"
                    for account, repository in image_repositories
                ],
            ),
            iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                sid="WriteEndpointLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[log_group, f"{log_group}:log-stream:*"],
            ),
            iam.PolicyStatement(
                sid="PublishEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": ENDPOINT_METRIC_NAMESPACES}},
            ),
        ]
        statements += self._staged_weights_statements()
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the model containers of SageMaker endpoint {self.endpoint_name}",
            inline_policies={"ServeModel": iam.PolicyDocument(statements=statements)},
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions; "
            "PutMetricData is limited to the SageMaker endpoint namespaces by a condition.",
        )
        acknowledge(
            role,
            # cdk-nag names the account as written: a token in account-agnostic stacks, digits in pipeline stages.
            f"AwsSolutions-IAM5[Resource::arn:{partition}:logs:{stack.region}:{nag_account(stack)}:log-group:"
            f"{log_group_name}:log-stream:*]",
            "SageMaker names the log streams after instance ids it chooses at run time; the role is limited "
            "to this endpoint's own log group.",
        )
        acknowledge(role, "NIST.800.53.R5-IAMNoInlinePolicy", INLINE_POLICY_REASON)
        return role

    @property
    def _partition(self) -> str:
        """The region's partition as a literal, so policy ARNs and cdk-nag finding IDs read plainly."""
        return partition_of_region(Stack.of(self).region)

    def _staged_weights_statements(self) -> list[iam.PolicyStatement]:
        partition = self._partition
        statements = []
        for variant in self.variants:
            uri = variant.model.hugging_face.weights_s3_uri
            if not uri:
                continue
            bucket, prefix = uri.removeprefix("s3://").split("/", 1)
            statements += [
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"arn:{partition}:s3:::{bucket}/{prefix}*"]),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{partition}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
            ]
            acknowledge(
                self,
                f"AwsSolutions-IAM5[Resource::arn:{partition}:s3:::{bucket}/{prefix}*]",
                "The container reads every object under the staged-weights prefix named in the model config.",
            )
        return statements


def _capacity(size: CapacitySize | None) -> sagemaker.CfnEndpoint.CapacitySizeProperty | None:
    return None if size is None else sagemaker.CfnEndpoint.CapacitySizeProperty(type=size.type, value=size.value)


def nag_account(stack: Stack) -> str:
    """The account as cdk-nag writes it in finding IDs."""
    return "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
