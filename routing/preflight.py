"""``./tasks.sh route check``: before a router is deployed against a live account, each route must exist (its
parameter ``/llm-endpoints/ROUTE`` is there) and be an endpoint or a Bedrock model, not a router. Reads SSM only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from routing.errors import RoutingInputError
from routing.router_spec import RouterSpec

PREFIX = "/llm-endpoints"


def check_routes(
    ssm: Any, region: str, routes: dict[str, str], router: str | None = None, where: Callable[[str], str] | None = None
) -> list[str]:
    """One line per route that is fine; RoutingInputError naming the first route that is not, and the fix.
    ``where(side)`` names where the route was given (default ``--weak``/``--strong``, route check's flags)."""
    lines = []
    for side, route in routes.items():
        flag = where(side) if where else f"--{side}"
        if route == router:
            raise RoutingInputError(f"{flag} {route}: the router itself; a router would loop: name an endpoint")
        try:
            value = ssm.get_parameter(Name=f"{PREFIX}/{route}")["Parameter"]["Value"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise RoutingInputError(
                    f"{flag} {route}: no {PREFIX}/{route} in {region}: deploy that endpoint or Bedrock model first "
                    f"(npx cdk deploy -c endpoint={route} -c model=...), or name one that exists"
                ) from None
            raise RoutingInputError(f"{flag} {route}: cannot read {PREFIX}/{route} ({error})") from None
        except BotoCoreError as error:
            raise RoutingInputError(f"{flag} {route}: cannot read {PREFIX}/{route} ({error})") from None
        try:
            hosting = json.loads(value).get("hosting")
        except (json.JSONDecodeError, AttributeError):
            hosting = None
        if hosting == "router":
            raise RoutingInputError(f"{flag} {route}: is itself a router; routes must be endpoints or Bedrock models")
        if hosting not in ("sagemaker", "bedrock"):
            raise RoutingInputError(f"{flag} {route}: {PREFIX}/{route} is not a parameter this app writes")
        lines.append(f"{side}: {route} ({hosting}) exists in {region}")
    return lines


def check_router(ssm: Any, spec: RouterSpec, source: str | None) -> list[str]:
    """``check_routes`` for a router deployment (``source``: its deployment file, None for -c flags): the live
    preflight of `python -m migration check` and of deploy-local."""

    def where(side: str) -> str:
        return f"{source}: router.{side}" if source else f"-c {side}"

    return check_routes(ssm, spec.region, {"weak": spec.weak, "strong": spec.strong}, spec.name, where)
