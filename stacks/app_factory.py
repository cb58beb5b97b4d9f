"""Builds the one stack a `cdk synth|deploy -c model=...` asks for. Shared by app.py and the tests."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import App, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from llm_config import ModelRegistry, SageMakerModelConfig, load_registry
from llm_config.deployment import DeploymentSpec, deployment_from_context
from llm_constructs import EndpointVariant
from stacks.sagemaker_endpoint_stack import SageMakerEndpointStack, monthly_hosting_usd


def add_deployment(app: App, environ: Mapping[str, str], registry: ModelRegistry | None = None) -> Stack:
    """Read the app's context, validate it, and add exactly one stack (plus cdk-nag) to ``app``.

    Raises ConfigError on bad input, before any construct exists.
    """
    registry = registry or load_registry()
    spec = deployment_from_context(app.node.try_get_context, environ, registry)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return build_stack(app, spec, registry)


def build_stack(app: App, spec: DeploymentSpec, registry: ModelRegistry) -> Stack:
    model = spec.model
    assert isinstance(model, SageMakerModelConfig)
    variants = [
        EndpointVariant(name=model.key, model=model, instance=registry.instance_for(model), image=registry.image_for(model))
    ]
    return SageMakerEndpointStack(
        app,
        spec.stack_name,
        endpoint_name=spec.endpoint_name,
        variants=variants,
        budget=spec.budget,
        alarm_emails=spec.alarm_emails,
        env=Environment(region=spec.region),
        description=(
            f"LLM endpoint {spec.endpoint_name}: {model.display_name} on {model.instance.initial_count} x "
            f"{model.instance.type} (~${monthly_hosting_usd(variants):,.0f}/month always-on)"
        ),
        analytics_reporting=False,
    )
