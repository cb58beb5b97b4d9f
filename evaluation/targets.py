"""What ``--target`` names, and what one request to it costs.

A target is one of:

- ``NAME``: the endpoint published as ``/llm-endpoints/NAME`` (SageMaker picks a variant by weight, or the endpoint is
  a Bedrock model: whatever the parameter says now);
- ``NAME/VARIANT``: one production variant of a SageMaker endpoint (each request names it: ``TargetVariant``), or
  on a scale-to-zero endpoint one inference component, by model key or component name (``InferenceComponentName``);
- ``ROUTER``: a router (docs/routing.md): each request goes where its policy sends it, and fails over as the
  client does; the report adds a row ``ROUTER@ROUTE`` per route with its share of the answers, quality and cost;
- ``MODEL``: a Bedrock model config key of model_configs/ (e.g. ``claude-haiku-4-5``), called directly with the model
  id or inference profile its config picks for the region, no stack needed. ``endpoint:NAME`` forces the endpoint
  meaning when an endpoint has the same name as a Bedrock model config.

Cost of one request (docs/evaluation.md, "Cost"):

- Bedrock: input tokens x input price + output tokens x output price, per 1,000 tokens, from the model config
  (the price of the configured inference-profile scope).
- SageMaker is billed per instance-hour whether requests come or not, so a request has no price of its own. The
  harness charges each request the instance time it occupied at the load the endpoint is scaled for:
  hourly price / 3600 x latency seconds / slots, where slots is the variant's ``scaling.target_value`` when it
  scales on concurrent requests per instance (that many requests share an instance), else 1. This is the cost per
  request of an endpoint kept at its scaling target; an endpoint that idles costs more per request (the hourly price
  is paid anyway), one that queues beyond the target costs less. The hourly price is the config's instance type at
  its catalogue price (model_configs/instances.yaml, us-east-1 on-demand).
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.testset import EvaluationInputError
from llm_client import BedrockModel, Client, Endpoint, LlmClientError, SageMakerEndpoint
from llm_client.router import Router
from llm_config import ConfigError, load_registry
from llm_config.registry import ModelRegistry

ROUTE_SEPARATOR = "@"  # ROUTER@ROUTE: no endpoint name or model key contains it
CONCURRENCY_METRIC = "SageMakerVariantConcurrentRequestsPerModelHighResolution"


@dataclass(frozen=True)
class SageMakerPrice:
    hourly_usd: float
    instance_type: str
    slots: float  # requests that share one instance at the scaling target

    def cost(self, latency_seconds: float) -> float:
        return self.hourly_usd / 3600 * latency_seconds / self.slots


@dataclass(frozen=True)
class TokenPrice:
    input_per_1k_usd: float
    output_per_1k_usd: float

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if input_tokens is None or output_tokens is None:
            return None
        return input_tokens / 1000 * self.input_per_1k_usd + output_tokens / 1000 * self.output_per_1k_usd


@dataclass(frozen=True)
class Target:
    """A resolved ``--target``: what llm_client calls and what it costs."""

    label: str  # as the user wrote it
    endpoint: str  # the name llm_client calls
    variant: str | None
    hosting: str
    latency_budget_seconds: float
    token_price: TokenPrice | None = None  # Bedrock
    variant_prices: tuple[tuple[str, SageMakerPrice], ...] = ()  # SageMaker: per variant (or inference component) name
    routes: tuple[Target, ...] = ()  # a router: its routes (their ``endpoint`` is the route's name)

    def route(self, name: str | None) -> Target | None:
        return next((route for route in self.routes if route.endpoint == name), None)

    def route_label(self, route: str) -> str:
        """The report's row (and a --fail-if TARGET) for one route of a router."""
        return f"{self.label}{ROUTE_SEPARATOR}{route}"

    def price_of_variant(self, variant: str | None) -> SageMakerPrice | None:
        prices = dict(self.variant_prices)
        if variant in prices:
            return prices[variant]
        return next(iter(prices.values())) if len(prices) == 1 else None

    def cost(
        self,
        *,
        served_by: str | None,
        latency_seconds: float,
        input_tokens: int | None,
        output_tokens: int | None,
        route: str | None = None,
    ) -> float | None:
        if self.routes:  # a router: the price of the route that answered (unknown when none did)
            answered = self.route(route)
            return (
                answered.cost(
                    served_by=served_by, latency_seconds=latency_seconds, input_tokens=input_tokens, output_tokens=output_tokens
                )
                if answered
                else None
            )
        if self.token_price is not None:
            return self.token_price.cost(input_tokens, output_tokens)
        price = self.price_of_variant(served_by or self.variant)
        return price.cost(latency_seconds) if price else None


def resolve_targets(labels: list[str], client: Client, registry: ModelRegistry | None = None) -> list[Target]:
    """Each label resolved once, before any request: a bad name fails the run at once with one message."""
    if not labels:
        raise EvaluationInputError("give at least one --target (an endpoint NAME, NAME/VARIANT, or a Bedrock model config key)")
    if len(set(labels)) != len(labels):
        raise EvaluationInputError("--target: the same target is given twice: give each once")
    registry = registry or load_registry()
    return [resolve_target(label, client, registry) for label in labels]


def resolve_target(label: str, client: Client, registry: ModelRegistry) -> Target:
    forced_endpoint = label.startswith("endpoint:")
    name = label.removeprefix("endpoint:")
    if not forced_endpoint and "/" not in name and name in registry.models:
        config = registry.models[name]
        if config.hosting == "bedrock":
            return _bedrock_config_target(label, name, client, registry)
    endpoint_name, _, variant = name.partition("/")
    if not endpoint_name or (("/" in name) and not variant):
        raise EvaluationInputError(f"--target {label!r}: write NAME, NAME/VARIANT or a Bedrock model config key")
    try:
        found = client.target(endpoint_name)
        if isinstance(found, Router):
            return _router_target(label, found, variant, client, registry)
        endpoint: Endpoint = found
        if variant:
            if not isinstance(endpoint, SageMakerEndpoint):
                raise EvaluationInputError(
                    f"--target {label!r}: endpoint {endpoint_name} is a Bedrock model ({endpoint.model_id}), which has no "
                    f"variants: use --target {endpoint_name}"
                )
            endpoint = endpoint.only(variant)
    except LlmClientError as error:
        raise EvaluationInputError(f"--target {label!r}: {error}") from None
    if isinstance(endpoint, BedrockModel):
        return Target(
            label,
            endpoint_name,
            None,
            "bedrock",
            endpoint.latency_budget_seconds,
            token_price=_token_price(endpoint.model_key, registry, label),
        )
    # By what a request reports as served_by: the variant, or on a scale-to-zero endpoint the inference component.
    prices = tuple(
        (v.inference_component_name or v.name, sagemaker_price(v.model_key, registry, label)) for v in endpoint.variants
    )
    return Target(
        label,
        endpoint_name,
        variant or None,
        "sagemaker",
        endpoint.latency_budget_seconds,
        variant_prices=prices,
    )


def _router_target(label: str, router: Router, variant: str, client: Client, registry: ModelRegistry) -> Target:
    if variant:
        raise EvaluationInputError(
            f"--target {label!r}: {router.name} is a router, which has no variants: use --target {router.name}"
        )
    routes = []
    for route in router.routes.values():
        resolved = resolve_target(f"endpoint:{route}", client, registry)
        if resolved.hosting == "router":
            raise EvaluationInputError(f"--target {label!r}: its route {route} is itself a router: redeploy it naming endpoints")
        routes.append(resolved)
    budget = max(route.latency_budget_seconds for route in routes)
    return Target(label, router.name, None, "router", budget, routes=tuple(routes))


def _bedrock_config_target(label: str, key: str, client: Client, registry: ModelRegistry) -> Target:
    config = registry.models[key]
    assert config.hosting == "bedrock"
    try:
        model_id = config.route(client.region, f"--target {label}").invoke_id
    except ConfigError as error:
        raise EvaluationInputError(str(error)) from None
    budget = float(config.latency_budget_seconds)
    # Pinned in the client's cache under the config key: no SSM parameter is read for this target.
    client.describe(
        key, BedrockModel(name=key, region=client.region, model_key=key, model_id=model_id, latency_budget_seconds=budget)
    )
    return Target(label, key, None, "bedrock", budget, token_price=_token_price(key, registry, label))


def _token_price(model_key: str, registry: ModelRegistry, label: str) -> TokenPrice | None:
    config = registry.models.get(model_key)
    if config is None or config.hosting != "bedrock":
        return None  # a model this checkout has no config for: cost unknown, shown as such
    input_usd, output_usd = config.price_per_1k
    return TokenPrice(input_usd, output_usd)


def sagemaker_price(model_key: str, registry: ModelRegistry, label: str) -> SageMakerPrice:
    config = registry.models.get(model_key)
    if config is None or config.hosting != "sagemaker":
        raise EvaluationInputError(
            f"--target {label!r}: its variant serves model {model_key!r}, which has no SageMaker config in model_configs/: "
            "run from the checkout that deployed it"
        )
    scaling = config.scaling
    slots = scaling.target_value if scaling.target_metric == CONCURRENCY_METRIC else 1.0
    instance = registry.instance_for(config)
    return SageMakerPrice(instance.sagemaker_hourly_usd, config.instance.type, slots)
