"""A router deployment, read once at the edge: ``-c router=NAME -c weak=ROUTE -c strong=ROUTE -c policy=FILE``
(``-c region=``), or a deployment file whose top level is ``router:`` with the same keys::

    router:
      name: assistant
      weak: chat            # an endpoint or Bedrock model deployed by this app, by its endpoint name
      strong: claude
      policy: routing/policies/assistant.json   # a policy file (route calibrate / route heuristic)
      region: us-east-1     # default: CDK_DEFAULT_REGION, else us-east-1

The stack publishes ``/llm-endpoints/NAME`` (llm_client.router documents the schema). A standard SSM parameter
holds 4 KB; a larger one (up to 8 KB) is written as an advanced parameter (about $0.05 a month); beyond that the
policy must be smaller (fewer buckets).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llm_config.deployment import DEFAULT_REGION, ENDPOINT_NAME_PATTERN, REGION_PATTERN
from llm_config.errors import ConfigError
from llm_config.yaml_files import display_path, read_yaml_mapping
from routing.errors import RoutingInputError

ROUTER_CONTEXT_KEYS = ("router", "weak", "strong", "policy")
ROUTER_FILE_KEYS = ("name", "weak", "strong", "policy", "region")
STANDARD_PARAMETER_BYTES = 4096
ADVANCED_PARAMETER_BYTES = 8192
SCHEMA_VERSION = 2  # the client parameter's (stacks.sagemaker_endpoint_stack.CLIENT_PARAMETER_SCHEMA_VERSION)


@dataclass(frozen=True)
class RouterSpec:
    name: str
    region: str
    weak: str
    strong: str
    policy: dict[str, Any]
    policy_source: str
    source: str | None = None  # its deployment file; None for -c flags

    @property
    def stack_name(self) -> str:
        return f"llm-router-{self.name}"

    def parameter_value(self) -> str:
        return json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "hosting": "router",
                "endpoint_name": self.name,
                "region": self.region,
                "routes": {"weak": self.weak, "strong": self.strong},
                "policy": self.policy,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @property
    def advanced(self) -> bool:
        return len(self.parameter_value().encode("utf-8")) > STANDARD_PARAMETER_BYTES


def is_router_file(path: str) -> bool:
    """A deployment file whose top level is ``router:`` (other deployment files describe endpoints)."""
    try:
        return "router" in read_yaml_mapping(Path(path), path)
    except ConfigError:
        return False  # the endpoint loader reports it


def read_router_file(path: Path) -> tuple[str, dict[str, Any]]:
    """A router deployment file's source (as the user knows it) and its ``router:`` keys, checked for unknown ones."""
    source = display_path(path)
    values = read_yaml_mapping(path, source)["router"]
    if not isinstance(values, dict):
        raise ConfigError(source, "router", "must be a mapping", f"give {', '.join(ROUTER_FILE_KEYS)}")
    unknown = sorted(set(values) - set(ROUTER_FILE_KEYS))
    if unknown:
        raise ConfigError(source, f"router.{unknown[0]}", "unknown key", f"use only {', '.join(ROUTER_FILE_KEYS)}")
    return source, values


def router_from_file(path: Path, environ: Mapping[str, str], region: str | None = None, root: Path = Path()) -> RouterSpec:
    """The router a deployment file describes. ``region`` (a CI stage's) overrides the file's; the policy path is
    read relative to ``root`` (the repository) and kept as written."""
    source, values = read_router_file(path)
    spec = _spec({**values, **({"region": region} if region else {})}, lambda key: (source, f"router.{key}"), environ, root)
    return replace(spec, source=source)


def router_from_context(get_context: Callable[[str], Any], environ: Mapping[str, str]) -> RouterSpec | None:
    """The router the context asks for, or None (an endpoint deployment)."""
    path = get_context("deployment")
    if isinstance(path, str) and path and is_router_file(path):
        return router_from_file(Path(path), environ)
    if get_context("router") is None:
        for key in ("weak", "strong", "policy"):
            if get_context(key) is not None:
                raise ConfigError(
                    f"-c {key}", None, "names a router's route or policy, but no -c router= is given", "add -c router=NAME"
                )
        return None
    for key in ("model", "endpoint", "candidate", "deployment"):
        if get_context(key) is not None:
            raise ConfigError(
                f"-c {key}", None, "cannot be combined with -c router", "deploy the router and its routes as separate stacks"
            )
    values = {"name": get_context("router"), **{k: get_context(k) for k in ("weak", "strong", "policy", "region")}}
    return _spec(values, lambda key: (f"-c {'router' if key == 'name' else key}", None), environ)


def _spec(
    values: Mapping[str, Any], where: Callable[[str], tuple[str, str | None]], environ: Mapping[str, str], root: Path = Path()
) -> RouterSpec:
    def text(key: str, fix: str) -> str:
        value = values.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(*where(key), "is missing", fix)
        return value

    name = text("name", "name the router, e.g. assistant")
    if not ENDPOINT_NAME_PATTERN.fullmatch(name):
        raise ConfigError(*where("name"), f"{name!r} is not a valid name", "use 1-63 letters, digits and hyphens")
    routes = {
        side: text(side, f"name the {side} route: an endpoint or Bedrock model deployed by this app")
        for side in ("weak", "strong")
    }
    for side, route in routes.items():
        if route == name:
            raise ConfigError(
                *where(side), f"names the router itself ({name}): a router would loop", "name an endpoint or a Bedrock model"
            )
    if routes["weak"] == routes["strong"]:
        raise ConfigError(*where("strong"), f"is the weak route too ({routes['weak']})", "name two different routes")
    # Imported here: only a router's synth needs llm_client (the policy's integrity check); endpoint synths do not.
    # CI deploy jobs install only requirements.lock, which cannot hold this checkout's llm_client: use its source.
    try:
        import llm_client  # noqa: F401
    except ImportError:
        sys.path.append(str(Path(__file__).resolve().parent.parent / "llm_client" / "src"))
    from routing.policy_file import read_policy_file

    policy_path = text("policy", "give a policy file: ./tasks.sh route calibrate (or route heuristic) writes one")
    try:
        policy, _, _ = read_policy_file(root / policy_path, flag=where("policy")[0])
    except RoutingInputError as error:
        raise ConfigError(*where("policy"), str(error)) from None
    region = values.get("region") or environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    if not isinstance(region, str) or not REGION_PATTERN.fullmatch(region):
        raise ConfigError(*where("region"), f"{region!r} is not an AWS region name", "use a name like us-east-1")
    spec = RouterSpec(
        name=name, region=region, weak=routes["weak"], strong=routes["strong"], policy=policy, policy_source=policy_path
    )
    size = len(spec.parameter_value().encode("utf-8"))
    if size > ADVANCED_PARAMETER_BYTES:
        raise ConfigError(
            *where("policy"),
            f"the router's parameter would be {size} bytes; SSM holds at most {ADVANCED_PARAMETER_BYTES}",
            "recalibrate with a smaller policy",
        )
    return spec
