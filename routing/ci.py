"""Routers in CI stages (docs/ci-cd.md): a stage's router deployment files, checked against its endpoint files when
the stage is read (synth, `ci_stage.py --dry-run`), then deployed after every endpoint file, since a router's routes
must exist first.

Refused here, exit 2: a router file in another region than the stage (with its own message when a route is an
endpoint the stage deploys, in the stage's region), a router named like an endpoint or another router of the stage
(both would write ``/llm-endpoints/NAME``), a route that names another router of the stage (a loop when that one
routes back). A route the stage does not deploy must already exist: the live preflight (`python -m migration
check --deployment FILE`) checks it right before the router deploys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from llm_config.deployment import DeploymentSpec
from llm_config.errors import ConfigError
from llm_config.stages import StageConfig, check_file_region, stage_router_files
from routing.router_spec import RouterSpec, read_router_file, router_from_file

SIDES = ("weak", "strong")
ROUTE_FIX = "name an endpoint or Bedrock model (a route must not be a router), e.g. one of the stage's endpoint files"


def stage_routers(stage: StageConfig, repo_root: Path, specs: Sequence[DeploymentSpec], source: str) -> list[RouterSpec]:
    """Every router deployment file the stage's patterns match, sorted, in the stage's region. ``specs``: the stage's
    endpoint specs (llm_config.stages.stage_specs); ``source``: the stages file, for messages."""
    endpoints = {spec.endpoint_name: spec for spec in specs}
    routers: list[RouterSpec] = []
    for path in stage_router_files(stage, repo_root, source):
        file_source, values = read_router_file(path)
        _check_region(values, stage, endpoints, file_source, source)
        router = router_from_file(path, {}, region=stage.region, root=repo_root)
        taken = endpoints[router.name].source if router.name in endpoints else None
        taken = taken or next((other.source for other in routers if other.name == router.name), None)
        if taken:
            raise ConfigError(
                file_source,
                "router.name",
                f"{router.name!r} is also deployed by {taken} in stage {stage.name}: both would write "
                f"/llm-endpoints/{router.name}",
                "give the router a name of its own",
            )
        routers.append(router)
    by_name = {router.name: router for router in routers}
    for router in routers:
        for side, route in zip(SIDES, (router.weak, router.strong), strict=True):
            other = by_name.get(route)
            if other is None:
                continue
            back = router.name in (other.weak, other.strong)
            why = f", which routes back to {router.name}: the two routers would loop" if back else ": routes are not routers"
            raise ConfigError(str(router.source), f"router.{side}", f"{route!r} is the router of {other.source}{why}", ROUTE_FIX)
    return routers


def _check_region(
    values: Mapping[str, object], stage: StageConfig, endpoints: Mapping[str, DeploymentSpec], file_source: str, source: str
) -> None:
    """The region rule of endpoint files; named after the route when one is an endpoint the stage deploys."""
    region = values.get("region")
    if region is None or region == stage.region:
        return
    for side in SIDES:
        route = values.get(side)
        if isinstance(route, str) and route in endpoints:
            raise ConfigError(
                file_source,
                "router.region",
                f"{region!r}, but its {side} route {route} is the endpoint of {endpoints[route].source}, which stage "
                f"{stage.name} deploys in {stage.region}: a router calls its routes in its own region",
                "remove router.region (each stage deploys the router in its own region, beside its routes)",
            )
    check_file_region(region, stage, file_source, "router.region", source)


def router_check_command(router: RouterSpec, *, python: str, role_arn: str | None = None) -> list[str]:
    """After a router deploys: read its parameter back the way agents do (llm_client: one ssm:GetParameter and the
    policy's integrity check) and compare its routes and policy SHA-256 with the file's (scripts/smoke_test.py)."""
    command = [python, "scripts/smoke_test.py", "--router", router.name, "--routes", f"{router.weak},{router.strong}"]
    command += ["--policy-sha256", str(router.policy["sha256"]), "--region", router.region]
    return command + (["--role-arn", role_arn] if role_arn else [])
