"""The Bedrock lifecycle check every synth runs: end-of-life models are refused, legacy ones warned about.

The check reads today's date from the clock (callers may pass another day, as the tests do). The date never
reaches the template: a refused synth writes no template, a warned one writes the same template as any other day.
"""

from __future__ import annotations

from datetime import date

from llm_config.bedrock_model import BedrockModelConfig
from llm_config.deployment import FLAGS_SOURCE
from llm_config.errors import ConfigError


def successor_command(successor: str, endpoint_name: str, region: str, spec_source: str) -> str:
    """How to deploy ``successor`` in place of the retiring model, under the same endpoint (stack and parameter)."""
    if spec_source != FLAGS_SOURCE:
        return f"set `model: {successor}` in {spec_source} and deploy it again"
    return f"npx cdk deploy -c model={successor} -c endpoint={endpoint_name} -c region={region}"


def check_lifecycle(
    model: BedrockModelConfig, *, region: str, endpoint_name: str, today: date, config_source: str, spec_source: str
) -> str | None:
    """Raise ConfigError when ``model`` is past end of life in ``region`` on ``today``; return a warning in its
    legacy window, else None."""
    lifecycle = model.lifecycle
    state = lifecycle.state(region, today)
    if state.status == "active":
        return None
    successor = lifecycle.successor or ""  # the schema requires one for every model that is not active
    command = successor_command(successor, endpoint_name, region, spec_source)
    eol = f"on {state.end_of_life_date.isoformat()}" if state.end_of_life_date else "(date not recorded)"
    if state.status == "end-of-life":
        raise ConfigError(
            config_source,
            "lifecycle",
            f"{model.display_name} ({model.model_id}) reached end of life on Amazon Bedrock in {region} {eol}: "
            f"Bedrock refuses every call to it. Its successor is {successor}",
            f"deploy the successor under the same endpoint: {command} (docs/bedrock.md: model lifecycle)",
        )
    until = f"until its end of life {eol}" if state.end_of_life_date else "until an end-of-life date Bedrock has not set yet"
    return (
        f"warning: {config_source}: {model.display_name} ({model.model_id}) is legacy on Amazon Bedrock in {region}: "
        f"it serves existing users {until}. Move to {successor}: {command}"
    )
