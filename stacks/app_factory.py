"""Builds the one stack a `cdk synth|deploy -c model=...` asks for. Shared by app.py and the tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from aws_cdk import App, Environment, Stack, Stage

from llm_config import BedrockModelConfig, ConfigError, ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.context_keys import check_context_keys
from llm_config.deployment import CONTEXT_KEYS, DeploymentSpec, deployment_from_context
from llm_config.principals import CONTEXT_KEY, trusted_principals_from_context
from llm_config.sizing import COMPONENT_HOST_MEMORY_SHARE, ComponentShape, component_shape
from llm_constructs import EndpointVariant
from llm_constructs.nag import add_synth_checks
from llm_constructs.sagemaker_llm_endpoint import InferenceComponentPlan, ScaleToZero
from routing.router_spec import ROUTER_CONTEXT_KEYS, RouterSpec, router_from_context
from stacks.bedrock_access_stack import build_bedrock_stack
from stacks.router_stack import RouterStack
from stacks.sagemaker_endpoint_stack import SageMakerEndpointStack, monthly_hosting_usd, usd_range

# Every -c key app.py reads, each declared beside the code that reads it; any other key is refused as a typo.
APP_CONTEXT_KEYS = (*CONTEXT_KEYS, CONTEXT_KEY, *ROUTER_CONTEXT_KEYS)


def add_deployment(
    app: App, environ: Mapping[str, str], registry: ModelRegistry | None = None, today: date | None = None
) -> Stack:
    """Read the app's context, validate it, and add exactly one stack (plus cdk-nag) to ``app``.

    Raises ConfigError on bad input, before any construct exists. ``today`` (default: the clock's date) is the day
    the Bedrock lifecycle check judges; tests pass it.
    """
    context = app.node.get_all_context()  # one jsii call, not one per key
    check_context_keys(context, APP_CONTEXT_KEYS, "app.py", "README.md")
    router = router_from_context(context.get, environ)
    if router is not None:  # a router: its parameter only (docs/routing.md)
        add_synth_checks(app)
        return build_router_stack(app, router)
    registry = registry or load_registry()
    spec = deployment_from_context(context.get, environ, registry)
    add_synth_checks(app)
    return build_stack(app, spec, registry, today)


def build_router_stack(app: Stage, router: RouterSpec) -> RouterStack:
    """The router's stack in ``app`` (the App, or a pipeline Stage): the same template either way."""
    description = f"LLM router {router.name}: {router.weak} (weak) / {router.strong} (strong), policy {router.policy_source}"
    env = Environment(region=router.region)
    return RouterStack(app, router.stack_name, spec=router, stack_name=router.stack_name, env=env, description=description)


def build_stack(app: Stage, spec: DeploymentSpec, registry: ModelRegistry, today: date | None = None) -> Stack:
    """The endpoint stack for ``spec`` in ``app`` (the App, or a pipeline Stage)."""
    model = spec.model
    trusted_principals = trusted_principals_from_context(app.node.try_get_context)
    if isinstance(model, BedrockModelConfig):
        stack = build_bedrock_stack(app, spec, model, trusted_principals, registry.sources[model.key], today)
        # Protected like a SageMaker endpoint stack, though it holds no endpoint: the CDK CLI sets a stack's
        # protection to the template's before it updates, so an unprotected Bedrock template deployed by mistake
        # under a SageMaker endpoint's name would switch that endpoint's protection off even when the update fails.
        stack.termination_protection = True
        return stack
    if trusted_principals:
        raise ConfigError(f"-c {CONTEXT_KEY}", None, f"{model.key} is not a Bedrock model", "leave -c trusted_principals out")
    assert isinstance(model, SageMakerModelConfig)
    variants = [
        EndpointVariant(
            name=plan.name,
            model=plan.model,
            instance=registry.instance_for(plan.model),
            image=registry.image_for(plan.model),
            initial_weight=plan.weight,
            autoscaled=plan.autoscaled,
            fallbacks=tuple(registry.pools_for(plan.model)[1:]),
        )
        for plan in spec.variants
    ]
    scale_to_zero = _scale_to_zero(spec, variants, registry) if spec.scale_to_zero else None
    return SageMakerEndpointStack(
        app,
        spec.stack_name,
        stack_name=spec.stack_name,  # also inside a pipeline Stage, so every way of deploying updates the same stack
        endpoint_name=spec.endpoint_name,
        variants=variants,
        budget=spec.budget,
        alarm_emails=spec.alarm_emails,
        guardrails=spec.guardrails if spec.uses_guardrails else None,
        scale_to_zero=scale_to_zero,
        # A destroy of a GPU endpoint must be deliberate: docs/operations.md says how (the protection goes first).
        termination_protection=True,
        env=Environment(region=spec.region),
        description=_description(spec, variants),
        analytics_reporting=False,
    )


def _scale_to_zero(spec: DeploymentSpec, variants: list[EndpointVariant], registry: ModelRegistry) -> ScaleToZero:
    """Each model as an inference component on the serving model's instances (a candidate's config names the same
    instance type and pools: llm_config.deployment checks it), up to the serving model's max_instances."""
    max_instances = spec.variants[0].model.scaling.max_instances
    components = {}
    for variant in variants:
        shape = component_shape(variant.model, variant.model.instance.type, variant.instance)
        _check_component_fits_pools(variant, shape, registry.sources[variant.model.key])
        components[variant.name] = InferenceComponentPlan(
            name=spec.component_name_of(variant.name),
            shape=shape,
            max_copies=max_instances * shape.copies_per_instance,
        )
    return ScaleToZero(max_instances=max_instances, components=components)


def _check_component_fits_pools(variant: EndpointVariant, shape: ComponentShape, source: str) -> None:
    """An inference component states one compute requirement (GPUs and memory per copy) for whichever instances the
    endpoint's variant has, so every fallback pool must hold copies of the same shape, as many per instance."""
    host = variant.instance
    for name, pool in variant.pools[1:]:
        same = pool.gpus == host.gpus and component_shape(variant.model, name, pool).accelerators == shape.accelerators
        memory_mb = pool.host_memory_gb * 1000 * COMPONENT_HOST_MEMORY_SHARE / shape.copies_per_instance
        if not same or shape.memory_mb > memory_mb:
            raise ConfigError(
                source,
                "instance.fallback_types",
                f"{name} cannot hold the inference component that {variant.model.instance.type} holds ({shape.accelerators}"
                f" of {host.gpus} GPUs and {shape.memory_mb:,} MB per copy, {shape.copies_per_instance} per instance; it"
                f" has {pool.describe()} and {pool.host_memory_gib:g} GiB): a component asks every instance of the"
                " endpoint for the same resources",
                f"on a scale-to-zero endpoint list only fallbacks with {host.gpus} GPU{'s' if host.gpus > 1 else ''} that"
                f" fit the model as instance.type does, or remove {name} (docs/instance-pools.md)",
            )


def _description(spec: DeploymentSpec, variants: list[EndpointVariant]) -> str:
    cost = f"~${usd_range(*monthly_hosting_usd(variants))}/month always-on"
    if spec.scale_to_zero:
        model = variants[0].model
        prices = [instance.sagemaker_hourly_usd for _, instance in variants[0].pools]
        hourly = usd_range(min(prices), max(prices), "{:g}")
        idle = f"scales to zero (${hourly}/h per instance while a copy runs, $0 idle)"
        if len(variants) == 1:
            return (
                f"LLM endpoint {spec.endpoint_name}: {model.display_name} as inference component {spec.component_name}"
                f" on {model.instance.type}, {idle}"
            )
        split = ", ".join(f"{spec.component_name_of(v.name)} {v.initial_weight:g}%" for v in variants)
        return f"LLM endpoint {spec.endpoint_name}, migration phase {spec.phase}: {split} on {model.instance.type}, {idle}"
    if len(variants) == 1:
        model = variants[0].model
        instances = f"{model.instance.initial_count} x {' or '.join(model.instance.pool_types)}"
        return f"LLM endpoint {spec.endpoint_name}: {model.display_name} on {instances} ({cost})"
    split = ", ".join(f"{v.name} {v.initial_weight:g}%" for v in variants)
    return f"LLM endpoint {spec.endpoint_name}, migration phase {spec.phase}: {split} ({cost})"
