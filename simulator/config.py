"""What the stack would deploy, read with the same loaders `cdk synth` uses (llm_config): the deployment from the
same -c flags or deployment file, the serving model's instance type, its throughput model and every `scaling:`
setting, turned into the simulator's ``Policy`` and ``ServiceModel``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from llm_config import ConfigError, ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.context_keys import check_context_keys
from llm_config.deployment import CONTEXT_KEYS, DeploymentSpec, deployment_from_context
from simulator.constants import value
from simulator.scaling import Policy
from simulator.schedule import parse_schedules
from simulator.service import ServiceModel, build_service


@dataclass(frozen=True)
class Variant:
    """A model that takes traffic on the endpoint: its share in percent and its own scaling."""

    model: SageMakerModelConfig
    weight: int
    policy: Policy


@dataclass(frozen=True)
class Deployment:
    """The endpoint a spec deploys, as the simulator needs it: ``model`` and ``policy`` are those of the variant with
    the most traffic; ``variants`` every variant that takes some (two during a migration split)."""

    spec: DeploymentSpec
    model: SageMakerModelConfig
    registry: ModelRegistry
    policy: Policy
    variants: tuple[Variant, ...]

    def service(self, instance_type: str, mean_input: float, mean_output: float) -> ServiceModel:
        return build_service(self.model, self.registry.instances.instances[instance_type], mean_input, mean_output)


def parse_context(flags: Sequence[str]) -> dict[str, str]:
    """`-c KEY=VALUE` flags as `cdk synth` takes them; an unknown key is refused as a typo would be by synth."""
    context: dict[str, str] = {}
    for item in flags:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-c {item}", None, "expected KEY=VALUE", "e.g. -c model=mixtral")
        context[key] = text
    check_context_keys(context, CONTEXT_KEYS, "./tasks.sh simulate", "README.md")
    return context


def load_deployment(flags: Sequence[str], registry: ModelRegistry | None = None) -> Deployment:
    """The endpoint the flags describe. During a migration split each variant gets its share of the traffic and its
    own scaling (a scale-to-zero split's components are simulated on instances of their own)."""
    registry = registry or load_registry()
    context = parse_context(flags)
    if "deployment" not in context:
        context.setdefault("model", "mixtral")  # the model tasks.sh uses when none is given
    spec = deployment_from_context(context.get, os.environ, registry)
    if not isinstance(spec.model, SageMakerModelConfig):
        raise ConfigError(
            "-c model",
            None,
            f"{spec.model.key} is a Bedrock model: it has no instances to simulate (it scales per token)",
            "simulate a SageMaker model; --bedrock MODEL prices the same traffic on Bedrock beside it",
        )
    variants = tuple(
        Variant(plan.model, plan.weight, policy_of(spec, plan.model, registry)) for plan in spec.variants if plan.weight > 0
    )
    main = max(variants, key=lambda v: v.weight)
    return Deployment(spec=spec, model=main.model, registry=registry, policy=main.policy, variants=variants)


def policy_of(spec: DeploymentSpec, model: SageMakerModelConfig, registry: ModelRegistry) -> Policy:
    scaling = model.scaling
    instance = registry.instance_for(model)
    return Policy(
        instance_type=model.instance.type,
        hourly_usd=instance.sagemaker_hourly_usd,
        min_instances=0 if spec.scale_to_zero else max(1, scaling.min_instances),
        max_instances=scaling.max_instances,
        target_value=scaling.target_value,
        per_invocation=scaling.target_metric == "SageMakerVariantInvocationsPerInstance",
        scale_out_cooldown=scaling.scale_out_cooldown_seconds,
        scale_in_cooldown=scaling.scale_in_cooldown_seconds,
        scales_to_zero=spec.scale_to_zero,
        idle_minutes=scaling.idle_minutes_before_zero,
        start_seconds=value("scale_out_start_seconds"),
        cold_start_seconds=value("cold_start_seconds"),
        initial_instances=model.instance.initial_count,  # a component, too, is created with CopyCount 1
        # The stack schedules a variant's range; a scale-to-zero endpoint's component has no scheduled actions.
        schedules=() if spec.scale_to_zero else tuple(parse_schedules(scaling.scheduled, registry.sources[model.key])),
    )


def with_instance(policy: Policy, instance_type: str, registry: ModelRegistry) -> Policy:
    return replace(
        policy, instance_type=instance_type, hourly_usd=registry.instances.instances[instance_type].sagemaker_hourly_usd
    )
