"""``./tasks.sh route check``: before a router is deployed against a live account, each route must exist (its
parameter ``/llm-endpoints/ROUTE`` is there) and be an endpoint or a Bedrock model, not a router. Reads SSM only."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from routing.errors import RoutingInputError

PREFIX = "/llm-endpoints"


def check_routes(ssm: Any, region: str, routes: dict[str, str], router: str | None = None) -> list[str]:
    """One line per route that is fine; RoutingInputError naming the first route that is not, and the fix."""
    lines = []
    for side, route in routes.items():
        if route == router:
            raise RoutingInputError(f"--{side} {route}: the router itself; a router would loop: name an endpoint")
        try:
            value = ssm.get_parameter(Name=f"{PREFIX}/{route}")["Parameter"]["Value"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise RoutingInputError(
                    f"--{side} {route}: no {PREFIX}/{route} in {region}: deploy that endpoint or Bedrock model first "
                    f"(npx cdk deploy -c endpoint={route} -c model=...), or name one that exists"
                ) from None
            raise RoutingInputError(f"--{side} {route}: cannot read {PREFIX}/{route} ({error})") from None
        except BotoCoreError as error:
            raise RoutingInputError(f"--{side} {route}: cannot read {PREFIX}/{route} ({error})") from None
        try:
            hosting = json.loads(value).get("hosting")
        except (json.JSONDecodeError, AttributeError):
            hosting = None
        if hosting == "router":
            raise RoutingInputError(f"--{side} {route}: is itself a router; routes must be endpoints or Bedrock models")
        if hosting not in ("sagemaker", "bedrock"):
            raise RoutingInputError(f"--{side} {route}: {PREFIX}/{route} is not a parameter this app writes")
        lines.append(f"{side}: {route} ({hosting}) exists in {region}")
    return lines
