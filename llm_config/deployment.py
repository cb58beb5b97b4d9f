"""What one `cdk synth|deploy` deploys, read from the `-c` context flags (DESIGN.md section 2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_config.errors import ConfigError
from llm_config.registry import ModelConfig, ModelRegistry

DEFAULT_MODEL = "mistral-7b"
DEFAULT_REGION = "us-east-1"
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's own rule
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class DeploymentSpec:
    """One stack: a named endpoint (or Bedrock access) for one model, in one region."""

    endpoint_name: str
    region: str
    model: ModelConfig

    @property
    def stack_name(self) -> str:
        return f"llm-{self.endpoint_name}"


def deployment_from_context(
    get_context: Callable[[str], Any], environ: Mapping[str, str], registry: ModelRegistry
) -> DeploymentSpec:
    """Read `-c model`, `-c endpoint` and `-c region`, applying the documented defaults."""
    model = registry.resolve(_text(get_context, "model") or DEFAULT_MODEL)
    endpoint_name = _text(get_context, "endpoint") or model.key
    if not ENDPOINT_NAME_PATTERN.match(endpoint_name):
        raise ConfigError(
            "-c endpoint",
            None,
            f"{endpoint_name!r} is not a valid SageMaker endpoint name",
            "use 1-63 letters, digits and hyphens, starting and ending with a letter or digit",
        )
    region = _text(get_context, "region") or environ.get("CDK_DEFAULT_REGION") or DEFAULT_REGION
    if not REGION_PATTERN.match(region):
        raise ConfigError("-c region", None, f"{region!r} is not an AWS region name", "use a name like us-east-1")
    return DeploymentSpec(endpoint_name=endpoint_name, region=region, model=model)


def _text(get_context: Callable[[str], Any], name: str) -> str | None:
    value = get_context(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"-c {name}", None, f"expected a non-empty text value, got {value!r}", f"pass -c {name}=VALUE")
    return value.strip()
