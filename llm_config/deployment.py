"""What one `cdk synth|deploy` deploys, read from the `-c` context flags (DESIGN.md section 2)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_config.errors import ConfigError
from llm_config.operations import BudgetSettings, check_budget_covers_floor, parse_emails
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
    alarm_emails: tuple[str, ...] = ()  # the model's alarms.emails plus -c alarm_email
    budget: BudgetSettings = field(default_factory=BudgetSettings)  # the model's budget, amount replaced by -c budget_usd

    @property
    def stack_name(self) -> str:
        return f"llm-{self.endpoint_name}"


def deployment_from_context(
    get_context: Callable[[str], Any], environ: Mapping[str, str], registry: ModelRegistry
) -> DeploymentSpec:
    """Read `-c model`, `-c endpoint`, `-c region`, `-c alarm_email` and `-c budget_usd`, applying the documented defaults."""
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
    emails = list(model.alarms.emails)
    extra_emails = _text(get_context, "alarm_email")
    if extra_emails:
        emails += [email for email in parse_emails(extra_emails, "-c alarm_email") if email not in emails]
    return DeploymentSpec(
        endpoint_name=endpoint_name,
        region=region,
        model=model,
        alarm_emails=tuple(emails),
        budget=_budget(get_context, model, registry),
    )


def _budget(get_context: Callable[[str], Any], model: ModelConfig, registry: ModelRegistry) -> BudgetSettings:
    value = get_context("budget_usd")
    if value is None:
        return model.budget
    try:
        amount = float(value)
    except (TypeError, ValueError):
        amount = 0.0
    if isinstance(value, bool) or not 0 < amount < math.inf:
        raise ConfigError(
            "-c budget_usd", None, f"expected a positive number of US dollars, got {value!r}", "pass e.g. -c budget_usd=250"
        )
    budget = model.budget.model_copy(update={"amount_usd": amount})
    floor_hourly_usd = model.scaling.min_instances * registry.instance_for(model).sagemaker_hourly_usd
    check_budget_covers_floor(budget, floor_hourly_usd, "-c budget_usd", None)
    return budget


def _text(get_context: Callable[[str], Any], name: str) -> str | None:
    value = get_context(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"-c {name}", None, f"expected a non-empty text value, got {value!r}", f"pass -c {name}=VALUE")
    return value.strip()
