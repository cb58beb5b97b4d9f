"""Routers: ``/llm-endpoints/NAME`` with ``hosting: router`` names two routes (each an endpoint or a Bedrock model
that has its own parameter) and a policy (llm_client.routing_policy). The client scores each request's prompt and
calls the route the policy picks; agent code calls a router exactly like an endpoint.

The parameter (schema 2)::

    {"schema_version": 2, "hosting": "router", "endpoint_name": NAME, "region": REGION,
     "routes": {"weak": ROUTE, "strong": ROUTE}, "policy": {... sealed policy ...}}

- **Integrity:** the policy's SHA-256 is checked on every parameter read; a tampered or truncated one is refused
  (ParameterSchemaError), never used. A new policy is picked up within the parameter cache time (60 s).
- **Loops:** a route may not be the router itself, nor another router (routes are endpoints or Bedrock models).
- **Tools:** when tools are bound and the chosen route cannot call them, the other route answers (and if neither can,
  ``UnsupportedError``).
- **Failover:** when the chosen route still fails after its own retries (throttled, not ready, timed out, gone, a
  server error), the other route answers. ``Answer.route`` / ``response_metadata["route"]`` name the route that
  answered, ``route_reason`` why.
- A policy that sends everything to one route (threshold 0 or above 1) makes the router a plain failover pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from llm_client.errors import (
    CallTimeoutError,
    ColdStartError,
    EndpointNotFoundError,
    InvocationError,
    LlmClientError,
    ParameterSchemaError,
    ThrottledError,
    UnsupportedError,
)
from llm_client.routing_policy import Policy, PolicyError, load_policy

if TYPE_CHECKING:
    from llm_client.client import Answer, Client

T = TypeVar("T")

SIDES = ("weak", "strong")
# Errors a route raises only after its own retries: the other route may still answer.
FAILOVER_ERRORS: tuple[type[LlmClientError], ...] = (
    ThrottledError,
    ColdStartError,
    CallTimeoutError,
    EndpointNotFoundError,
    InvocationError,
)


@dataclass(frozen=True)
class Router:
    name: str
    region: str
    routes: Mapping[str, str]  # "weak" / "strong" -> endpoint name
    policy: Policy
    hosting: str = "router"

    def plan(self, text: str) -> list[tuple[str, str]]:
        """``[(route, reason), ...]`` in the order to try them: the policy's choice, then the other route."""
        side, score = self.policy.choose(text)
        relation = ">=" if side == "strong" else "<"
        first = self.routes[side]
        other = self.routes["weak" if side == "strong" else "strong"]
        reason = f"policy: score {score:.3f} {relation} threshold {self.policy.threshold:g}"
        return [(first, reason), (other, f"failover from {first}")]


def parse_router(where: str, name: str, data: Mapping[str, Any]) -> Router:
    routes = data.get("routes")
    if not isinstance(routes, Mapping) or set(routes) != set(SIDES) or not all(isinstance(r, str) and r for r in routes.values()):
        raise ParameterSchemaError(f"{where}: 'routes' must be {{'weak': ENDPOINT, 'strong': ENDPOINT}}")
    for side, route in routes.items():
        if route == name:
            raise ParameterSchemaError(
                f"{where}: route {side!r} is the router itself ({name}): a route must be an endpoint or a Bedrock "
                "model; redeploy the router with -c weak=/-c strong= naming endpoints"
            )
    region = data.get("region")
    try:
        policy = load_policy(data.get("policy"), where=f"{where}: policy")
    except PolicyError as error:
        raise ParameterSchemaError(str(error)) from None
    return Router(name=name, region=region if isinstance(region, str) else "", routes=dict(routes), policy=policy)


def prompt_text(prompt: str | Sequence[Any]) -> str:
    """What the policy scores: the prompt, or the last user message's text (LangChain messages or OpenAI dicts)."""
    if isinstance(prompt, str):
        return prompt
    for message in reversed(list(prompt)):
        role = message.get("role") if isinstance(message, Mapping) else getattr(message, "type", None)
        if role in ("user", "human"):
            content = message.get("content") if isinstance(message, Mapping) else message.content
            if isinstance(content, str):
                return content
            parts = content if isinstance(content, list) else []
            return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))
    return ""


def check_route(client: Client, router: Router, route: str) -> None:
    """A route that is itself a router would loop (or nest): refused with the fix."""
    if isinstance(client.target(route), Router):
        raise ParameterSchemaError(
            f"router {router.name}: route {route!r} is itself a router; routes must be endpoints or Bedrock models "
            "(no nesting, no loops): redeploy the router naming endpoints"
        )


def can_call_tools(client: Client, route: str) -> bool:
    endpoint = client.endpoint(route)
    return bool(endpoint.tool_calling)


def run(
    client: Client,
    router: Router,
    plan: list[tuple[str, str]],
    call: Callable[[str], T],
    needs_tools: bool = False,
) -> tuple[T, str, str]:
    """``call(route)`` along ``plan``: ``(result, route, reason)`` of the first route that answers."""
    failure: LlmClientError | None = None
    skipped: list[str] = []
    prefix = ""
    for route, reason in plan:
        try:  # reading the route's parameter is inside: a route whose stack is gone fails over too
            check_route(client, router, route)
            if needs_tools and not can_call_tools(client, route):
                skipped.append(route)
                prefix = f"tools bound and {route} cannot call tools; "
                continue
            return call(route), route, prefix + reason if not failure else f"{reason} ({type(failure).__name__})"
        except FAILOVER_ERRORS as error:
            failure = error
    if failure is not None:
        raise failure
    raise UnsupportedError(f"router {router.name}: tools are bound but no route can call tools ({', '.join(skipped)})")


def invoke(client: Client, router: Router, prompt: str | Sequence[Mapping[str, Any]], **options: Any) -> Answer:
    """``Client.invoke`` on a router: the policy's route, the other one on failure."""
    from dataclasses import replace

    plan = router.plan(prompt_text(prompt))
    answer, route, reason = run(
        client, router, plan, lambda r: client.invoke(r, prompt, **options), needs_tools=bool(options.get("tools"))
    )
    return replace(answer, endpoint=router.name, route=route, route_reason=reason)


def stream(client: Client, router: Router, prompt: str | Sequence[Mapping[str, Any]], **options: Any) -> Iterator[str]:
    """``Client.stream`` on a router: fails over only until the first piece arrives (as retries do)."""

    def opened(route: str) -> tuple[str | None, Iterator[str]]:
        pieces = client.stream(route, prompt, **options)
        return next(pieces, None), pieces

    (first, pieces), _, _ = run(client, router, router.plan(prompt_text(prompt)), opened)
    if first is not None:
        yield first
    yield from pieces
