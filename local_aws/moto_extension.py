"""Closes the gaps of stock moto that would make a local CDK deploy lie.

Call ``apply()`` once, before moto handles any request (``local_aws.server`` does). Every patch is
written against moto ``MOTO_VERSION`` and ``apply()`` refuses any other version: moto's internals
change between releases and a silently half-applied patch would bring the lies back.

What it changes, and why:

- SageMaker accepts every GPU instance type of model_configs/instances.yaml (g5, g6, g6e, p4d, p5);
  stock moto rejects them with a ValidationError.
- SageMaker resources created by CloudFormation keep the names the template gives them
  (``EndpointName``, ``ModelName``, ``EndpointConfigName``), and ``EnableNetworkIsolation`` is stored.
- An endpoint variant with weight 0 (a drained variant) reports weight 0 instead of no weight.
- An endpoint config can host inference components: a variant without ``ModelName`` is accepted (stock moto
  required a model), the config's ``ExecutionRoleArn`` is stored and returned (and required when a variant has no
  model, as AWS requires it), and each variant's ``ManagedInstanceScaling`` and ``RoutingConfig`` come back as given.
- A variant may name ``InstancePools`` instead of an ``InstanceType`` (capacity fallback): 1-5 pools, priorities
  1-5 each used once, each type known and listed once, never beside an InstanceType, each ``ModelNameOverride`` an
  existing model. ``ManagedInstanceScaling.ScaleInPolicy`` is checked against SageMaker's limits (Strategy
  IDLE_RELEASE or CONSOLIDATION, CooldownInMinutes 5-1440, MaximumStepSize 1-100). Both come back as given.
- SageMaker inference components exist (stock moto has none): CreateInferenceComponent (refusing a missing
  endpoint, variant or model, a variant that serves a model itself, and a copy count below 1, as SageMaker does),
  DescribeInferenceComponent, ListInferenceComponents (with its EndpointNameEquals, VariantNameEquals,
  NameContains and StatusEquals filters), UpdateInferenceComponent, UpdateInferenceComponentRuntimeConfig (a copy
  count of 0 allowed: that is how Application Auto Scaling scales a component to zero) and DeleteInferenceComponent;
  and the CloudFormation type AWS::SageMaker::InferenceComponent (created InService; updated in place while its
  name, endpoint and variant stay; Ref the ARN). Deleting an endpoint leaves its components, as in AWS.
- Application Auto Scaling accepts the dimension ``sagemaker:inference-component:DesiredCopyCount`` (resource
  ``inference-component/NAME``), and DescribeScalingPolicies honours ``PolicyNames`` (stock moto returned every
  policy of the target).
- A stack update creates and updates resources before it deletes the ones the template removed (CloudFormation's
  cleanup phase), and a failed update rolls back (UPDATE_ROLLBACK_COMPLETE, the previous template and resources):
  stock moto deleted first and kept a half-applied update.
- A stack update re-applies every resource whose resolved properties changed, in dependency order,
  as CloudFormation does: stock moto only looks at the raw template text, so an endpoint whose
  EndpointConfig was replaced kept pointing at the deleted config. A resource removed by one update
  and added back by a later one is really created again (stock moto kept the deleted one cached).
- A stack update with ``UsePreviousValue`` for a parameter that took its default (the CLI does this
  for ``BootstrapVersion``) no longer fails with an HTTP 500.
- Resource types stock moto silently skips while reporting CREATE_COMPLETE are really created in
  moto's backends: Application Auto Scaling scalable targets and scaling policies, CloudWatch
  alarms, AWS Budgets, S3 bucket policies, SNS topic policies and subscriptions.
- Any other resource type moto cannot create fails the deploy loudly instead of being skipped.
- S3 bucket policy statements with conditions (which moto cannot evaluate) are not enforced:
  stock moto enforced them unconditionally, so the bootstrap bucket's TLS-only policy denied everything.
- Inline IAM policies and KMS key policies from templates are stored as JSON (stock moto stored
  Python objects, which GetRolePolicy returned as repr text and GetKeyPolicy failed on).
- Budgets answers DescribeSubscribersForNotification (stock moto stores subscribers but cannot show them).
- IAM roles get their ManagedPolicyArns, an update applies trust policy, inline and managed
  policies (stock moto ignored all of them on update), and deleting a role detaches its managed policies.
- AWS managed policies (e.g. ReadOnlyAccess, which the bootstrap stack attaches) can be attached:
  stock moto knows none of them unless it loads all (slow).
- IAM managed policies are deleted (and detached) when their stack is, instead of outliving it.
- CloudFormation dynamic references to Secrets Manager and SSM are resolved (stock moto passes the
  ``{{resolve:...}}`` text through) and a missing secret fails the deploy, as in AWS.
- A log group created by CloudFormation keeps its ``KmsKeyId`` (stock moto read only the API's ``kmsKeyId``).
- Termination protection works: UpdateTerminationProtection (which the CDK CLI calls when a stack's protection
  changes) is answered, and DeleteStack refuses a protected stack with CloudFormation's own message; stock moto
  stored the flag at creation and ignored it.
- A template URL on 127.0.0.1 (what the CDK CLI sends when ``AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION``
  points at the local server) is read path-style; stock moto only knows ``localhost``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, ClassVar

from moto.core.common_models import CloudFormationModel

from llm_config.catalogue import load_instance_catalogue
from llm_config.registry import DEFAULT_CONFIG_DIR
from local_aws.verify import DYNAMIC_REFERENCE

MOTO_VERSION = "5.2.5"

# Real-time hosting GPU instance types missing from moto's hard-coded list: every instance type the
# catalogue knows, so a config the fit check accepts is one the rehearsal accepts too.
GPU_INSTANCE_TYPES = frozenset(load_instance_catalogue(DEFAULT_CONFIG_DIR).instances)

_applied = False


class UnsupportedMotoVersion(RuntimeError):
    pass


def check_moto_version(installed: str | None = None) -> None:
    """Raise UnsupportedMotoVersion unless the installed moto is the one this extension was written for."""
    installed = installed or version("moto")
    if installed != MOTO_VERSION:
        raise UnsupportedMotoVersion(
            f"local_aws.moto_extension was written for moto {MOTO_VERSION}, but moto {installed} is installed. "
            f"Install the pinned version (./tasks.sh setup), or re-check every patch in {__name__} against "
            f"moto {installed} and update MOTO_VERSION."
        )


def apply() -> None:
    """Patch moto in this process. Idempotent."""
    global _applied
    if _applied:
        return
    check_moto_version()
    _patch_sagemaker()
    _patch_autoscaling_inference_components()
    _patch_autoscaling_policy_names()
    _patch_stack_updates()
    _patch_use_previous_parameter_value()
    _patch_unsupported_types_fail()
    _patch_template_url()
    _patch_dynamic_references()
    _patch_iam_managed_policy_delete()
    _patch_iam_inline_policy_documents()
    _patch_iam_role_properties()
    _patch_iam_aws_managed_policies()
    _patch_kms_key_policy()
    _add_budgets_describe_subscribers()
    _patch_bucket_policy_conditions()
    _patch_termination_protection()
    _patch_log_group_kms_key()
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    missing = {cls.cfn_type for cls in EXTENSION_RESOURCES} - set(parsing.get_model_map())
    assert not missing, f"extension resource types not registered with moto: {missing}"
    _applied = True


# --- SageMaker ---------------------------------------------------------------------------------------


def _patch_sagemaker() -> None:
    from moto.sagemaker import models

    stock_validate = models.FakeEndpointConfig.validate_instance_type

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if instance_type not in GPU_INSTANCE_TYPES:
            stock_validate(self, instance_type)

    models.FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]

    for cls, name_property in (
        (models.FakeEndpoint, "EndpointName"),
        (models.FakeEndpointConfig, "EndpointConfigName"),
        (models.Model, "ModelName"),
    ):
        cls.cloudformation_name_type = staticmethod(lambda name=name_property: name)  # type: ignore[method-assign]

    def store_network_isolation(model: Any, properties: dict[str, Any], *_: str) -> None:
        model.enable_network_isolation = bool(properties.get("EnableNetworkIsolation", False))

    _wrap_cfn_create(models.Model, after=store_network_isolation)

    def process_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = []
        for variant in production_variants:
            item: dict[str, Any] = {"VariantName": variant["VariantName"]}
            if variant.get("InitialInstanceCount") is not None:
                item["CurrentInstanceCount"] = item["DesiredInstanceCount"] = variant["InitialInstanceCount"]
            if variant.get("InitialVariantWeight") is not None:  # stock moto drops a weight of 0
                item["CurrentWeight"] = item["DesiredWeight"] = variant["InitialVariantWeight"]
            if variant.get("ServerlessConfig"):
                item["CurrentServerlessConfig"] = item["DesiredServerlessConfig"] = variant["ServerlessConfig"]
            result.append(item)
        return result

    models.FakeEndpoint._process_production_variants = process_production_variants  # type: ignore[method-assign]
    _patch_endpoint_config_for_components()
    _add_inference_component_operations()


def _patch_endpoint_config_for_components() -> None:
    """An endpoint config that hosts inference components: variants without ModelName, and the config's own
    ExecutionRoleArn (stock moto required a model per variant and dropped the role). ManagedInstanceScaling and
    RoutingConfig are kept with each variant by stock moto already and returned by DescribeEndpointConfig."""
    from moto.sagemaker import models, responses
    from moto.sagemaker.exceptions import ValidationError

    def validate_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> None:
        for variant in production_variants:
            models_named = [
                variant.get("ModelName"),
                *(pool.get("ModelNameOverride") for pool in variant.get("InstancePools", [])),
            ]
            for name in models_named:
                if name is not None and name not in self._models:
                    arn = sagemaker_arn("model", name, self.account_id, self.region_name)
                    raise ValidationError(message=f"Could not find model '{arn}'.")

    stock_validate_variants = models.FakeEndpointConfig.validate_production_variants

    def validate_config_variants(self: Any, production_variants: list[dict[str, Any]]) -> None:
        """Stock moto's checks, plus instance pools in place of an instance type and the scale-in policy."""
        for variant in production_variants:
            _check_scale_in_policy(variant.get("ManagedInstanceScaling", {}).get("ScaleInPolicy"))
        stock_validate_variants(self, [v for v in production_variants if "InstancePools" not in v])
        for variant in production_variants:
            if "InstancePools" in variant:
                _check_instance_pools(self, variant)

    def set_execution_role(config: Any, role_arn: str | None) -> None:
        if role_arn is None and any("ModelName" not in v for v in config.production_variants):
            # Seen from AWS (github.com/stdapi-ai/stdapi.ai/issues/43): a config for inference components needs a role.
            raise ValidationError(
                message=f"ExecutionRoleArn is required for endpoint config {config.endpoint_config_name}: "
                "a production variant without ModelName hosts inference components"
            )
        config.execution_role_arn = role_arn  # DescribeEndpointConfig's ExecutionRoleArn; None is not returned

    stock_create = models.SageMakerModelBackend.create_endpoint_config

    def create_endpoint_config(self: Any, *args: Any, execution_role_arn: str | None = None, **kwargs: Any) -> Any:
        config = stock_create(self, *args, **kwargs)
        try:
            set_execution_role(config, execution_role_arn)
        except ValidationError:
            del self.endpoint_configs[config.endpoint_config_name]
            raise
        return config

    def create_endpoint_config_action(self: Any) -> Any:
        from moto.core.responses import ActionResult

        config = self.sagemaker_backend.create_endpoint_config(
            endpoint_config_name=self._get_param("EndpointConfigName"),
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"),
            tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"),
            execution_role_arn=self._get_param("ExecutionRoleArn"),
        )
        return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})

    def create_from_cloudformation_json(
        cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **_: Any
    ) -> Any:
        p = cloudformation_json["Properties"]  # stock moto's, plus the role
        backend: Any = models.sagemaker_backends[account_id][region_name]
        return backend.create_endpoint_config(
            endpoint_config_name=resource_name,
            production_variants=p["ProductionVariants"],
            data_capture_config=p.get("DataCaptureConfig", {}),
            async_inference_config=p.get("AsyncInferenceConfig", {}),
            kms_key_id=p.get("KmsKeyId"),
            tags=p.get("Tags", []),
            execution_role_arn=p.get("ExecutionRoleArn"),
        )

    models.SageMakerModelBackend.validate_production_variants = validate_production_variants  # type: ignore[method-assign]
    models.FakeEndpointConfig.validate_production_variants = validate_config_variants  # type: ignore[method-assign]
    models.SageMakerModelBackend.create_endpoint_config = create_endpoint_config  # type: ignore[method-assign]
    responses.SageMakerResponse.create_endpoint_config = create_endpoint_config_action  # type: ignore[method-assign]
    models.FakeEndpointConfig.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]


MAX_INSTANCE_POOLS = 5  # SageMaker's limit; priorities run 1 (first choice) to 5
SCALE_IN_STRATEGIES = ("IDLE_RELEASE", "CONSOLIDATION")


def _check_instance_pools(config: Any, variant: dict[str, Any]) -> None:
    from moto.sagemaker.exceptions import ValidationError

    pools = variant["InstancePools"]
    name = variant.get("VariantName")
    if "InstanceType" in variant:
        raise ValidationError(message=f"Variant {name}: specify either InstanceType or InstancePools, not both.")
    if not 1 <= len(pools) <= MAX_INSTANCE_POOLS:
        raise ValidationError(message=f"Variant {name}: InstancePools must have 1 to {MAX_INSTANCE_POOLS} members.")
    priorities = [pool.get("Priority") for pool in pools]
    types = [pool.get("InstanceType") for pool in pools]
    if any(not isinstance(p, int) or not 1 <= p <= MAX_INSTANCE_POOLS for p in priorities) or len(set(priorities)) < len(pools):
        raise ValidationError(
            message=f"Variant {name}: each instance pool needs its own Priority from 1 to {MAX_INSTANCE_POOLS}."
        )
    if len(set(types)) < len(types):
        raise ValidationError(message=f"Variant {name}: an instance type appears in more than one instance pool.")
    for instance_type in types:
        config.validate_instance_type(instance_type)


def _check_scale_in_policy(policy: dict[str, Any] | None) -> None:
    from moto.sagemaker.exceptions import ValidationError

    if policy is None:
        return
    limits = {"CooldownInMinutes": (5, 1440), "MaximumStepSize": (1, 100)}
    if policy.get("Strategy") not in SCALE_IN_STRATEGIES:
        raise ValidationError(message=f"ScaleInPolicy.Strategy must be one of {', '.join(SCALE_IN_STRATEGIES)}.")
    for field, (low, high) in limits.items():
        value = policy.get(field)
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            raise ValidationError(message=f"ScaleInPolicy.{field} must be between {low} and {high}.")


# --- SageMaker inference components -------------------------------------------------------------------


class FakeInferenceComponent:
    """One SageMaker inference component. It is created InService with its copies running: nothing starts here."""

    def __init__(
        self, name: str, arn: str, endpoint: Any, variant_name: str, specification: dict[str, Any], copy_count: int
    ) -> None:
        self.name = name
        self.arn = arn
        self.endpoint_name = endpoint.endpoint_name
        self.endpoint_arn = endpoint.arn
        self.variant_name = variant_name
        self.specification = specification
        self.copy_count = copy_count
        self.creation_time = self.last_modified_time = _now()

    def summary(self) -> dict[str, Any]:
        return {
            "InferenceComponentName": self.name,
            "InferenceComponentArn": self.arn,
            "EndpointName": self.endpoint_name,
            "EndpointArn": self.endpoint_arn,
            "VariantName": self.variant_name,
            "InferenceComponentStatus": "InService",
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }

    def describe(self) -> dict[str, Any]:
        # Desired and current counts are equal: a change of copies takes effect at once here.
        runtime = {"DesiredCopyCount": self.copy_count, "CurrentCopyCount": self.copy_count}
        return {**self.summary(), "Specification": self.specification, "RuntimeConfig": runtime}


def _now() -> Any:
    from moto.core.utils import utcnow

    return utcnow()


class InferenceComponents:
    """The inference components of one SageMaker backend (account and region), and the API's rules for them."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.components: dict[str, FakeInferenceComponent] = backend.__dict__.setdefault("local_aws_inference_components", {})

    @staticmethod
    def of(account_id: str, region_name: str) -> InferenceComponents:
        from moto.sagemaker.models import sagemaker_backends

        return InferenceComponents(sagemaker_backends[account_id][region_name])

    def arn(self, kind: str, name: str) -> str:
        return sagemaker_arn(kind, name, self.backend.account_id, self.backend.region_name)

    def get(self, name: str) -> FakeInferenceComponent:
        if name not in self.components:
            raise _validation_error(f"Could not find inference component '{self.arn('inference-component', name)}'.")
        return self.components[name]

    def create(
        self,
        name: str,
        endpoint_name: str,
        variant_name: str | None,
        specification: dict[str, Any] | None,
        runtime_config: dict[str, Any] | None,
    ) -> FakeInferenceComponent:
        if name in self.components:
            raise _validation_error(
                f'Cannot create already existing inference component "{self.arn("inference-component", name)}".'
            )
        endpoint = self.backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _validation_error(f"Could not find endpoint '{self.arn('endpoint', endpoint_name)}'.")
        variants = {v["VariantName"]: v for v in self.backend.endpoint_configs[endpoint.endpoint_config_name].production_variants}
        if variant_name is None or variant_name not in variants:
            raise _validation_error(
                f"Could not find variant '{variant_name}' of endpoint '{endpoint.arn}'; its variants: {', '.join(variants)}."
            )
        if "ModelName" in variants[variant_name]:
            raise _validation_error(
                f"Variant '{variant_name}' of endpoint '{endpoint.arn}' serves model "
                f"'{variants[variant_name]['ModelName']}': inference components need a variant without a model."
            )
        specification = dict(specification or {})
        self._check_model(specification)
        copy_count = (runtime_config or {}).get("CopyCount")
        if not isinstance(copy_count, int) or copy_count < 1:
            # AWS's own words (github.com/stdapi-ai/stdapi.ai/issues/43): a component is never created cold.
            raise _validation_error("Inference components copy count an integer larger than 0")
        component = FakeInferenceComponent(
            name, self.arn("inference-component", name), endpoint, variant_name, specification, copy_count
        )
        self.components[name] = component
        return component

    def _check_model(self, specification: dict[str, Any]) -> None:
        model = specification.get("ModelName")
        if model is not None and model not in self.backend._models:
            raise _validation_error(f"Could not find model '{self.arn('model', model)}'.")

    def update(
        self, name: str, specification: dict[str, Any] | None, runtime_config: dict[str, Any] | None
    ) -> FakeInferenceComponent:
        component = self.get(name)
        if specification is not None:
            self._check_model(specification)
            component.specification = dict(specification)
        if runtime_config is not None and "CopyCount" in runtime_config:
            component.copy_count = int(runtime_config["CopyCount"])
        component.last_modified_time = _now()
        return component

    def set_copy_count(self, name: str, copy_count: int) -> FakeInferenceComponent:
        """UpdateInferenceComponentRuntimeConfig, which Application Auto Scaling calls: 0 is allowed (scale to zero)."""
        if copy_count < 0:
            raise _validation_error(f"Value '{copy_count}' at 'desiredRuntimeConfig.copyCount' failed to satisfy constraint")
        return self.update(name, None, {"CopyCount": copy_count})

    def delete(self, name: str) -> None:
        self.get(name)
        del self.components[name]

    def list(
        self, endpoint_name: str | None, variant_name: str | None, name_contains: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        found = [
            c.summary()
            for c in self.components.values()
            if endpoint_name in (None, c.endpoint_name)
            and variant_name in (None, c.variant_name)
            and (name_contains or "") in c.name
            and status in (None, "InService")
        ]
        return sorted(found, key=lambda c: c["CreationTime"], reverse=True)  # the API's default: newest first


def sagemaker_arn(kind: str, name: str, account_id: str, region_name: str) -> str:
    from moto.utilities.utils import get_partition

    return f"arn:{get_partition(region_name)}:sagemaker:{region_name}:{account_id}:{kind}/{name}"  # as moto's own


def _validation_error(message: str) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)


def _add_inference_component_operations() -> None:
    """CreateInferenceComponent, DescribeInferenceComponent, ListInferenceComponents, UpdateInferenceComponent,
    UpdateInferenceComponentRuntimeConfig and DeleteInferenceComponent: stock moto has none of them."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.responses import SageMakerResponse

    def components(response: Any) -> InferenceComponents:
        return InferenceComponents(response.sagemaker_backend)

    def params(response: Any, *names: str) -> list[Any]:
        return [response._get_param(name) for name in names]

    def create_inference_component(self: Any) -> ActionResult:
        names = ("InferenceComponentName", "EndpointName", "VariantName", "Specification", "RuntimeConfig")
        component = components(self).create(*params(self, *names))
        return ActionResult({"InferenceComponentArn": component.arn})

    def describe_inference_component(self: Any) -> ActionResult:
        return ActionResult(components(self).get(self._get_param("InferenceComponentName")).describe())

    def list_inference_components(self: Any) -> ActionResult:
        found = components(self).list(*params(self, "EndpointNameEquals", "VariantNameEquals", "NameContains", "StatusEquals"))
        return ActionResult({"InferenceComponents": found})

    def update_inference_component(self: Any) -> ActionResult:
        component = components(self).update(
            self._get_param("InferenceComponentName"), self._get_param("Specification"), self._get_param("RuntimeConfig")
        )
        return ActionResult({"InferenceComponentArn": component.arn})

    def update_inference_component_runtime_config(self: Any) -> ActionResult:
        desired = self._get_param("DesiredRuntimeConfig")
        component = components(self).set_copy_count(self._get_param("InferenceComponentName"), int(desired["CopyCount"]))
        return ActionResult({"InferenceComponentArn": component.arn})

    def delete_inference_component(self: Any) -> EmptyResult:
        components(self).delete(self._get_param("InferenceComponentName"))
        return EmptyResult()

    for operation in (
        create_inference_component,
        describe_inference_component,
        list_inference_components,
        update_inference_component,
        update_inference_component_runtime_config,
        delete_inference_component,
    ):
        setattr(SageMakerResponse, operation.__name__, operation)


def _patch_autoscaling_inference_components() -> None:
    """Application Auto Scaling knows the dimension ``sagemaker:inference-component:DesiredCopyCount`` (resource
    ``inference-component/NAME``); stock moto's list of dimensions predates it and refused the target."""
    from enum import Enum

    from moto.applicationautoscaling import models, responses

    dimensions = {member.name: member.value for member in models.ScalableDimensionValueSet}
    dimensions["SAGEMAKER_INFERENCE_COMPONENT_DESIRED_COPY_COUNT"] = INFERENCE_COMPONENT_DIMENSION
    extended = Enum("ScalableDimensionValueSet", dimensions)  # type: ignore[misc]
    for module in (models, responses):  # both validate against the module-level name
        setattr(module, extended.__name__, extended)


def _patch_autoscaling_policy_names() -> None:
    """DescribeScalingPolicies honours PolicyNames: stock moto ignored it and returned every policy of the target,
    which a target with several policies (an inference component's three) exposes."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    stock_describe = ApplicationAutoScalingResponse.describe_scaling_policies

    def describe_scaling_policies(self: Any) -> str:
        result = json.loads(stock_describe(self))
        names = self._get_param("PolicyNames")
        if names:
            result["ScalingPolicies"] = [p for p in result["ScalingPolicies"] if p["PolicyName"] in names]
        return json.dumps(result)

    ApplicationAutoScalingResponse.describe_scaling_policies = describe_scaling_policies  # type: ignore[method-assign]


INFERENCE_COMPONENT_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


# --- CloudFormation engine ---------------------------------------------------------------------------


def _patch_stack_updates() -> None:
    """After moto's own update, re-apply every resource whose *resolved* properties changed.

    CloudFormation compares resolved values: when a replaced EndpointConfig gets a new name, the
    Endpoint referencing it by GetAtt is updated too. Moto compares raw template JSON only.
    """
    from moto.cloudformation import parsing

    stock_update = parsing.ResourceMap.update

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        old_json = self._resource_json_map
        before = {
            logical_id: _resolved_properties(self, old_json[logical_id])
            for logical_id in old_json
            if logical_id in self._parsed_resources and logical_id in template["Resources"]
        }
        diff = self.build_resource_diff(template, parameters)
        previous = (copy.deepcopy(self._template), copy.deepcopy(getattr(self, "input_parameters", None)))
        self.local_aws_updating = True
        try:
            if diff["Remove"]:
                # CloudFormation creates and updates first, and deletes removed resources only in its cleanup
                # phase, after everything else succeeded. Stock moto deleted them first: a failing create (say,
                # a parameter name that already exists) left the deleted resources deleted.
                removed = {logical_id: self._resource_json_map[logical_id] for logical_id in diff["Remove"]}
                stock_update(self, {**template, "Resources": {**template["Resources"], **removed}}, parameters)
            stock_update(self, template, parameters)
        except Exception:
            # A failed update rolls back, as in CloudFormation: what it created goes, what it changed returns.
            stock_update(self, previous[0], previous[1])
            raise
        finally:
            self.local_aws_updating = False
        applied = {logical_id: _resolved_properties(self, template["Resources"][logical_id]) for logical_id in diff["Modify"]}
        for logical_id in self._ResourceMap__get_resources_in_dependency_order():
            if logical_id not in before or logical_id in diff["Add"]:
                continue
            resource_json = self._resource_json_map[logical_id]
            now = _resolved_properties(self, resource_json)
            if now == applied.get(logical_id, before[logical_id]):
                continue
            self._parsed_resources[logical_id] = parsing.parse_and_update_resource(
                logical_id, copy.deepcopy(resource_json), self, account_id=self._account_id, region_name=self._region_name
            )

    stock_delete_resource = parsing.ResourceMap._delete_resource

    def delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        stock_delete_resource(self, parsed_resource, resource_json)
        if getattr(self, "local_aws_updating", False):
            # Stock moto kept the deleted resource cached, so a later update that adds the same logical ID
            # again (a migration phase re-adding a policy) silently "created" nothing.
            self._parsed_resources.pop(parsed_resource.logical_resource_id, None)

    parsing.ResourceMap.update = update  # type: ignore[method-assign]
    parsing.ResourceMap._delete_resource = delete_resource  # type: ignore[method-assign]

    from moto.cloudformation.models import Stack

    stock_stack_update = Stack.update

    def stack_update(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
        previous = self.template
        try:
            stock_stack_update(self, template, *args, **kwargs)
        except Exception as error:
            self.template = previous
            self._parse_template()
            self.output_map = self._create_output_map()
            self._add_stack_event("UPDATE_ROLLBACK_COMPLETE", resource_status_reason=str(error))
            self.status = "UPDATE_ROLLBACK_COMPLETE"
            raise

    Stack.update = stack_update  # type: ignore[method-assign]


def _patch_log_group_kms_key() -> None:
    from moto.logs.models import LogGroup

    stock_init = LogGroup.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        stock_init(self, *args, **kwargs)
        if self.kms_key_id is None and kwargs.get("KmsKeyId"):
            self.kms_key_id = kwargs["KmsKeyId"]  # the template's name of the same property

    LogGroup.__init__ = init  # type: ignore[method-assign]


def _patch_termination_protection() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    stock_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        for stack in self.stacks.values():
            if name_or_stack_id in (stack.stack_id, stack.name) and stack.enable_termination_protection:
                # CloudFormation's wording (DeleteStack on a protected stack).
                raise ValidationError(
                    name_or_stack_id, message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
                )
        stock_delete(self, name_or_stack_id)

    def update_termination_protection(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_param("EnableTerminationProtection") in (True, "true")
        return _stack_id_result(stack.stack_id)

    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]
    CloudFormationResponse.update_termination_protection = update_termination_protection  # type: ignore[attr-defined]


def _stack_id_result(stack_id: str) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"StackId": stack_id})


def _patch_use_previous_parameter_value() -> None:
    """On update the CDK CLI passes ``BootstrapVersion`` with UsePreviousValue. Stock moto only remembers
    parameters given explicitly, so a parameter that took its default failed with a KeyError (HTTP 500).
    CloudFormation reuses the value the stack resolved; here that is the template default again."""
    from moto.cloudformation.models import CloudFormationBackend

    def resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, str]:
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
        for p in incoming_params:
            if p.get("UsePreviousValue", False) and p["ParameterKey"] in instance.parameters:
                parameters[p["ParameterKey"]] = instance.parameters[p["ParameterKey"]]
        return parameters

    CloudFormationBackend._resolve_update_parameters = resolve_update_parameters  # type: ignore[method-assign]


def _resolved_properties(resources_map: Any, resource_json: dict[str, Any]) -> Any:
    from moto.cloudformation.parsing import clean_json

    return clean_json(copy.deepcopy(resource_json.get("Properties", {})), resources_map)


def _patch_unsupported_types_fail() -> None:
    """Stock moto warns and skips a type it cannot create, then reports CREATE_COMPLETE. Fail instead."""
    from moto.cloudformation import parsing
    from moto.cloudformation.exceptions import ValidationError

    stock_parse = parsing.parse_resource

    def parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
        resource_type = resource_json["Type"]
        if resource_type not in parsing.NULL_MODELS and not parsing.resource_class_from_type(resource_type):
            raise ValidationError(
                message=f"local_aws: moto cannot create {resource_type}; add it to local_aws/moto_extension.py "
                "rather than let the local deploy skip it"
            )
        return stock_parse(resource_json, resources_map)

    parsing.parse_resource = parse_resource


def _patch_dynamic_references() -> None:
    """Resolve ``{{resolve:secretsmanager:...}}`` and ``{{resolve:ssm:...}}`` from moto's backends.

    Stock moto passes the reference text through, so a deploy that needs a missing secret succeeds
    locally and fails in AWS. Like CloudFormation, a missing secret or parameter now fails the deploy.
    """
    from moto.cloudformation import parsing

    stock_clean_json = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        result = stock_clean_json(resource_json, resources_map)
        if isinstance(result, str) and "{{resolve:" in result:
            account_id, region_name = resources_map._account_id, resources_map._region_name
            result = DYNAMIC_REFERENCE.sub(lambda m: resolve_dynamic_reference(m, account_id, region_name), result)
        return result

    parsing.clean_json = clean_json


def resolve_dynamic_reference(match: re.Match[str], account_id: str, region_name: str) -> str:
    service, reference = match.groups()
    if service == "secretsmanager":
        from moto.cloudformation.exceptions import ValidationError
        from moto.secretsmanager.exceptions import SecretNotFoundException
        from moto.secretsmanager.models import secretsmanager_backends

        secret_id, _, rest = reference.partition(":SecretString")
        json_key, version_stage, version_id = ([*rest.lstrip(":").split(":"), "", "", ""])[:3]
        try:
            secret = secretsmanager_backends[account_id][region_name].get_secret_value(
                secret_id=secret_id, version_id=version_id, version_stage=version_stage
            )
        except SecretNotFoundException:
            raise ValidationError(
                message=f"Secrets Manager can't find the secret {secret_id} referenced by {match.group(0)}"
            ) from None
        value = str(secret["SecretString"])
        return str(json.loads(value)[json_key]) if json_key else value
    from moto.ssm.models import ssm_backends

    name, _, parameter_version = reference.partition(":")
    parameter = ssm_backends[account_id][region_name].get_parameter(f"{name}:{parameter_version}" if parameter_version else name)
    if parameter is None:
        from moto.cloudformation.exceptions import ValidationError

        raise ValidationError(message=f"SSM parameter {name} referenced by {match.group(0)} does not exist")
    return str(parameter.value)


def _patch_template_url() -> None:
    from moto.cloudformation import responses

    stock_get = vars(responses)["get_stack_from_s3_url"]

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        for host in ("://127.0.0.1:", "://127.0.0.1/"):
            template_url = template_url.replace(host, host.replace("127.0.0.1", "localhost"))
        return str(stock_get(template_url, account_id, partition))

    responses.get_stack_from_s3_url = get_stack_from_s3_url  # type: ignore[attr-defined]


def _patch_iam_managed_policy_delete() -> None:
    from moto.iam import models

    def delete(self: Any, account_id: str, region_name: str) -> None:
        from moto.utilities.utils import get_partition

        backend = models.iam_backends[account_id][get_partition(region_name)]
        for role in list(backend.roles.values()):
            if self.arn in role.managed_policies:
                backend.detach_role_policy(self.arn, role.name)
        for user in list(backend.users.values()):
            if self.arn in user.managed_policies:
                backend.detach_user_policy(self.arn, user.name)
        for group in list(backend.groups.values()):
            if self.arn in group.managed_policies:
                backend.detach_group_policy(self.arn, group.name)
        backend.delete_policy(self.arn)

    models.ManagedPolicy.delete = delete  # type: ignore[attr-defined]


def _patch_iam_inline_policy_documents() -> None:
    """CloudFormation hands moto inline policy documents as dicts, which it stores as Python repr text
    (single quotes), so GetRolePolicy returns something no client can parse. Store JSON, like IAM."""
    from moto.iam import models

    for cls in (models.Role, models.User, models.Group):
        stock_put = cls.put_policy

        def put_policy(self: Any, policy_name: str, policy_json: Any, _stock: Any = stock_put) -> None:
            _stock(self, policy_name, policy_json if isinstance(policy_json, str) else json.dumps(policy_json))

        cls.put_policy = put_policy  # type: ignore[method-assign]


def _patch_kms_key_policy() -> None:
    """CloudFormation gives KeyPolicy as an object; stock moto stores it as such and GetKeyPolicy then fails.

    An update of a key (a changed key policy) made stock moto replace the key with None in the stack's resources:
    every later Fn::GetAtt of it failed ("references undefined resource"). The key stays and takes the new policy.
    """
    from moto.cloudformation import parsing
    from moto.kms import models

    def policy_as_json(properties: dict[str, Any]) -> None:
        if not isinstance(properties.get("KeyPolicy"), str):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])

    _wrap_cfn_create(models.Key, before=policy_as_json)

    stock_parse_and_update = parsing.parse_and_update_resource

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        if resource_json.get("Type") != "AWS::KMS::Key":
            return stock_parse_and_update(logical_id, resource_json, resources_map, account_id, region_name)
        key = resources_map[logical_id]
        properties = parsing.clean_json(copy.deepcopy(resource_json.get("Properties", {})), resources_map)
        if "KeyPolicy" in properties:
            policy_as_json(properties)
            key.policy = properties["KeyPolicy"]
        return key

    parsing.parse_and_update_resource = parse_and_update_resource


def _wrap_cfn_create(
    model_class: Any,
    before: Callable[[dict[str, Any]], None] | None = None,
    after: Callable[[Any, dict[str, Any], str, str], None] | None = None,
) -> None:
    """Run ``before(properties)`` and ``after(resource, properties, account_id, region_name)`` around a
    model's CloudFormation create."""
    stock_create = model_class.create_from_cloudformation_json.__func__

    def create(cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any) -> Any:
        properties = cloudformation_json["Properties"]
        if before:
            before(properties)
        resource = stock_create(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        if after:
            after(resource, properties, account_id, region_name)
        return resource

    model_class.create_from_cloudformation_json = classmethod(create)


def _add_budgets_describe_subscribers() -> None:
    """Stock moto stores budget notification subscribers but has no DescribeSubscribersForNotification."""
    from moto.budgets.exceptions import NotFoundException
    from moto.budgets.responses import BudgetsResponse

    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        keys = ("NotificationType", "ComparisonOperator")
        return (
            all(a.get(k) == b.get(k) for k in keys)
            and float(a["Threshold"]) == float(b["Threshold"])
            and (a.get("ThresholdType", "PERCENTAGE") == b.get("ThresholdType", "PERCENTAGE"))
        )

    def describe_subscribers_for_notification(self: Any) -> str:
        budgets = self.backend.budgets[self._get_param("AccountId")]
        budget_name, wanted = self._get_param("BudgetName"), self._get_param("Notification")
        if budget_name not in budgets:
            raise NotFoundException(f"Unable to get budget: {budget_name} - the budget doesn't exist.")
        for notification in budgets[budget_name].notifications:
            if same(notification.details, wanted):
                return json.dumps({"Subscribers": notification.subscribers})
        raise NotFoundException(f"Unable to get notification for budget: {budget_name}")

    BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification  # type: ignore[attr-defined]


def _patch_iam_role_properties() -> None:
    """Stock moto ignores a role's ManagedPolicyArns on create, and on update everything but its
    description. Apply the trust policy, inline policies and managed policy ARNs as IAM would."""
    from moto.iam import models
    from moto.utilities.utils import get_partition

    def sync(role: Any, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        backend = models.iam_backends[account_id][get_partition(region_name)]
        trust = properties["AssumeRolePolicyDocument"]  # JSON text, as IAM returns it (moto kept some as repr)
        role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
        inline = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies", [])}
        # Inline policies the role's own Policies property no longer lists go; those an AWS::IAM::Policy put stay.
        from_policy_resources = {p.policy_name for p in backend.inline_policies.values() if role.name in (p.role_names or [])}
        for name in set(role.policies) - set(inline) - from_policy_resources:
            role.delete_policy(name)
        for name, document in inline.items():
            role.put_policy(name, document)
        wanted = set(properties.get("ManagedPolicyArns", []))
        for arn in set(role.managed_policies) - wanted:
            backend.detach_role_policy(arn, role.name)
        for arn in wanted - set(role.managed_policies):
            backend.attach_role_policy(arn, role.name)

    stock_update = models.Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update(cls: Any, /, original_resource: Any, new_resource_name: str, cloudformation_json: Any, *args: Any) -> Any:
        role = stock_update(cls, original_resource, new_resource_name, cloudformation_json, *args)
        sync(role, cloudformation_json["Properties"], *args)
        return role

    stock_delete = models.Role.delete_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def delete(cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
        # CloudFormation detaches the role's ManagedPolicyArns before deleting it.
        backend = models.iam_backends[account_id][get_partition(region_name)]
        role = backend.roles.get(next((k for k, r in backend.roles.items() if r.name == resource_name), ""))
        for arn in list(role.managed_policies) if role else []:
            backend.detach_role_policy(arn, resource_name)
        stock_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    models.Role.update_from_cloudformation_json = classmethod(update)  # type: ignore[method-assign,assignment]
    models.Role.delete_from_cloudformation_json = classmethod(delete)  # type: ignore[method-assign,assignment]
    _wrap_cfn_create(models.Role, after=sync)


def _patch_iam_aws_managed_policies() -> None:
    """AWS managed policies (``arn:aws:iam::aws:policy/...``) exist in every account. Stock moto loads
    none unless told to load all of them (slow); load each from moto's own data when first attached."""
    from functools import cache

    from moto.iam import models
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    @cache
    def documented() -> dict[str, Any]:
        return dict(json.loads(aws_managed_policies_data))

    for action in ("attach_role_policy", "attach_user_policy", "attach_group_policy"):
        stock_attach = getattr(models.IAMBackend, action)

        def attach(self: Any, policy_arn: str, *args: Any, _stock: Any = stock_attach, **kwargs: Any) -> None:
            policy_name = policy_arn.partition(":iam::aws:policy/")[2].rsplit("/", 1)[-1]
            if policy_name in documented() and policy_arn not in self.managed_policies:
                policy = models.AWSManagedPolicy.from_data(
                    policy_name, self.account_id, self.region_name, documented()[policy_name]
                )
                if policy.arn == policy_arn:  # same path and partition
                    self.managed_policies[policy.arn] = policy
            _stock(self, policy_arn, *args, **kwargs)

        setattr(models.IAMBackend, action, attach)


def _patch_bucket_policy_conditions() -> None:
    """Stock moto enforces bucket policy statements but ignores their conditions, so the CDK bootstrap
    bucket's "Deny unless aws:SecureTransport" denies every request. Enforce only unconditional statements;
    the policy itself is stored unchanged (and checked by local_aws.verify)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        document["Statement"] = [statement for statement in statements if "Condition" not in statement]
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


# --- Resource types stock moto skips -----------------------------------------------------------------


class _ExtensionResource:
    """Shared CloudFormation plumbing: each subclass also lists CloudFormationModel as a direct base,
    because moto finds resource types through ``CloudFormationModel.__subclasses__()``."""

    cfn_type: ClassVar[str]
    name_property: ClassVar[str] = ""  # the property that names the resource, if the type has one
    unsupported_properties: ClassVar[tuple[str, ...]] = ()
    cfn_attributes: ClassVar[tuple[str, ...]] = ()  # Fn::GetAtt names

    def __init__(self, account_id: str, region_name: str, name: str, properties: dict[str, Any]) -> None:
        for prop in self.unsupported_properties:
            if prop in properties:
                raise NotImplementedError(f"local_aws: {self.cfn_type} property {prop} is not emulated")
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.properties = properties
        self.create()

    def create(self) -> None:
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def is_created(self) -> bool:
        return True

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.cfn_attributes

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.name  # the physical id, unless a subclass says otherwise

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        return cls(account_id, region_name, resource_name, cloudformation_json.get("Properties", {}))

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        # An update without a name property keeps the generated name, as CloudFormation does.
        name = properties.get(cls.name_property) if cls.name_property else None
        original_resource.delete(account_id, region_name)
        return cls(account_id, region_name, name or original_resource.name, properties)

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        raise NotImplementedError("local_aws resources are deleted through their delete() method")


def _autoscaling_backend(account_id: str, region_name: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id][region_name]


class ScalableTarget(_ExtensionResource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalableTarget. Ref/Id: ``resourceId|dimension|namespace``."""

    cfn_type = "AWS::ApplicationAutoScaling::ScalableTarget"
    cfn_attributes = ("Id",)
    unsupported_properties = ("ScheduledActions",)

    def create(self) -> None:
        p = self.properties
        self.target_key = (p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"])
        _autoscaling_backend(self.account_id, self.region_name).register_scalable_target(
            namespace=p["ServiceNamespace"],
            r_id=p["ResourceId"],
            dimension=p["ScalableDimension"],
            min_capacity=int(p["MinCapacity"]),
            max_capacity=int(p["MaxCapacity"]),
            role_arn=p.get("RoleARN", ""),
            suspended_state=p.get("SuspendedState"),
        )
        self.name = f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}"

    def delete(self, account_id: str, region_name: str) -> None:
        namespace, resource_id, dimension = self.target_key
        _autoscaling_backend(account_id, region_name).deregister_scalable_target(namespace, resource_id, dimension)


class ScalingPolicy(_ExtensionResource, CloudFormationModel):
    """AWS::ApplicationAutoScaling::ScalingPolicy. Ref/Arn: the policy ARN."""

    cfn_type = "AWS::ApplicationAutoScaling::ScalingPolicy"
    cfn_attributes = ("Arn",)

    def create(self) -> None:
        p = self.properties
        if "ScalingTargetId" in p:
            resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
        else:
            resource_id, dimension, namespace = p["ResourceId"], p["ScalableDimension"], p["ServiceNamespace"]
        self.policy_key = (p["PolicyName"], namespace, resource_id, dimension)
        policy_type = p["PolicyType"]
        body_property = {
            "TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
            "StepScaling": "StepScalingPolicyConfiguration",
        }[policy_type]
        policy = _autoscaling_backend(self.account_id, self.region_name).put_scaling_policy(
            policy_name=p["PolicyName"],
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=dimension,
            policy_body=p[body_property],
            policy_type=policy_type,
        )
        self.name = policy.policy_arn

    def delete(self, account_id: str, region_name: str) -> None:
        policy_name, namespace, resource_id, dimension = self.policy_key
        _autoscaling_backend(account_id, region_name).delete_scaling_policy(policy_name, namespace, resource_id, dimension)


class Alarm(_ExtensionResource, CloudFormationModel):
    """AWS::CloudWatch::Alarm. Ref: the alarm name."""

    cfn_type = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    cfn_attributes = ("Arn",)

    def create(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        p: Any = self.properties
        self.alarm = cloudwatch_backends[self.account_id][self.region_name].put_metric_alarm(
            name=self.name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"),
            threshold=p.get("Threshold"),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            metric_data_queries=_metric_data_queries(p.get("Metrics")),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=p.get("ThresholdMetricId"),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return str(self.alarm.alarm_arn)


def _metric_data_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """CloudFormation's ``Metrics`` (metric math) as moto's query objects, like moto's PutMetricAlarm handler."""
    if not metrics:
        return None
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    queries = []
    query: Any
    for query in metrics:
        stat = query.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=metric["MetricName"],
                    namespace=metric.get("Namespace"),
                    dimensions=[Dimension(name=d["Name"], value=d["Value"]) for d in metric.get("Dimensions", [])],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=query["Id"],
                label=query.get("Label"),
                period=query.get("Period"),
                return_data=query.get("ReturnData"),
                expression=query.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class Budget(_ExtensionResource, CloudFormationModel):
    """AWS::Budgets::Budget. Ref: the budget name (``Budget.BudgetName``, else generated)."""

    cfn_type = "AWS::Budgets::Budget"

    def create(self) -> None:
        budget = copy.deepcopy(self.properties["Budget"])
        self.name = budget.setdefault("BudgetName", self.name)
        for limit in [budget.get("BudgetLimit"), *budget.get("PlannedBudgetLimits", {}).values()]:
            if limit:  # the API takes amounts as strings, CloudFormation as numbers
                limit["Amount"] = str(limit["Amount"])
        notifications = [
            {"Notification": n["Notification"], "Subscribers": n.get("Subscribers", [])}
            for n in self.properties.get("NotificationsWithSubscribers", [])
        ]
        self._backend().create_budget(account_id=self.account_id, budget=budget, notifications=notifications)

    def _backend(self) -> Any:
        from moto.budgets.models import budgets_backends
        from moto.utilities.utils import get_partition

        return budgets_backends[self.account_id][get_partition(self.region_name)]

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_budget(account_id=account_id, budget_name=self.name)


class BucketPolicy(_ExtensionResource, CloudFormationModel):
    """AWS::S3::BucketPolicy."""

    cfn_type = "AWS::S3::BucketPolicy"

    def create(self) -> None:
        self.bucket = self.properties["Bucket"]
        self._backend().put_bucket_policy(self.bucket, json.dumps(self.properties["PolicyDocument"]).encode())
        self.name = f"{self.bucket}-policy"

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        return s3_backends[self.account_id][get_partition(self.region_name)]

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.exceptions import MissingBucket

        with contextlib.suppress(MissingBucket):  # the bucket went first: its policy went with it
            self._backend().delete_bucket_policy(self.bucket)


class TopicPolicy(_ExtensionResource, CloudFormationModel):
    """AWS::SNS::TopicPolicy: sets the ``Policy`` attribute of each topic; deleting restores the default."""

    cfn_type = "AWS::SNS::TopicPolicy"

    def create(self) -> None:
        self.topics = list(self.properties["Topics"])
        document = json.dumps(self.properties["PolicyDocument"])
        for topic_arn in self.topics:
            self._backend().set_topic_attribute(topic_arn, "policy", document)
        self.name = ",".join(self.topics)

    def _backend(self) -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[self.account_id][self.region_name]

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.exceptions import TopicNotFound

        for topic_arn in self.topics:
            try:
                topic = self._backend().get_topic(topic_arn)
            except TopicNotFound:
                continue
            topic._policy_json = topic._create_default_topic_policy(region_name, account_id, topic.name)


class Subscription(_ExtensionResource, CloudFormationModel):
    """AWS::SNS::Subscription. Ref: the subscription ARN."""

    cfn_type = "AWS::SNS::Subscription"

    def create(self) -> None:
        from moto.sns.models import sns_backends

        p = self.properties
        subscription = sns_backends[self.account_id][self.region_name].subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        self.name = subscription.arn

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sns.models import sns_backends

        sns_backends[account_id][region_name].unsubscribe(self.name)


class InferenceComponent(_ExtensionResource, CloudFormationModel):
    """AWS::SageMaker::InferenceComponent. Ref: the component's ARN (the type's primary identifier in its CloudFormation
    resource schema); Fn::GetAtt: the schema's read-only properties below (InferenceComponentName is not one)."""

    cfn_type = "AWS::SageMaker::InferenceComponent"
    name_property = "InferenceComponentName"
    cfn_attributes = (
        "InferenceComponentArn",
        "InferenceComponentStatus",
        "RuntimeConfig.CurrentCopyCount",
        "RuntimeConfig.DesiredCopyCount",
        "CreationTime",
        "LastModifiedTime",
    )
    unsupported_properties = ("Specifications",)  # several specifications (one per instance type): not used here

    def create(self) -> None:
        p = self.properties
        self.arn = (
            self._components()
            .create(self.name, p["EndpointName"], p.get("VariantName"), p.get("Specification"), p.get("RuntimeConfig"))
            .arn
        )

    def _components(self) -> InferenceComponents:
        return InferenceComponents.of(self.account_id, self.region_name)

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.cfn_attributes:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            raise UnformattedGetAttTemplateException()  # CloudFormation: Template error, no such attribute
        described = self._components().get(self.name).describe()
        if attribute_name.startswith("RuntimeConfig."):
            return described["RuntimeConfig"][attribute_name.split(".", 1)[1]]
        if attribute_name in ("CreationTime", "LastModifiedTime"):
            return described[attribute_name].isoformat()
        return described[attribute_name]

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.sagemaker.exceptions import ValidationError

        with contextlib.suppress(ValidationError):  # already gone: CloudFormation treats that as deleted
            self._components().delete(self.name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        """In place (UpdateInferenceComponent) while the name, endpoint and variant stay: the component keeps its ARN
        and creation time. The copy count is sent only when the template's changed, so an update of something else
        leaves Application Auto Scaling's count alone. Otherwise a new component replaces the old one."""
        old, new = original_resource.properties, cloudformation_json.get("Properties", {})
        same = ("InferenceComponentName", "EndpointName", "VariantName")
        if any(old.get(key) != new.get(key) for key in same):
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        runtime = new.get("RuntimeConfig") if new.get("RuntimeConfig") != old.get("RuntimeConfig") else None
        original_resource._components().update(original_resource.name, new.get("Specification"), runtime)
        original_resource.properties = new
        return original_resource


EXTENSION_RESOURCES: tuple[type[_ExtensionResource], ...] = (
    ScalableTarget,
    ScalingPolicy,
    Alarm,
    Budget,
    BucketPolicy,
    TopicPolicy,
    Subscription,
    InferenceComponent,
)

__all__ = ["EXTENSION_RESOURCES", "GPU_INSTANCE_TYPES", "MOTO_VERSION", "UnsupportedMotoVersion", "apply", "check_moto_version"]
