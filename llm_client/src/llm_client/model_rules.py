"""What a Bedrock model refuses that an agent may well send, refused here before the call with the way out.

Newer Claude models turn requests that worked on older ones into HTTP 400s: Opus 4.7 and later take only adaptive
thinking (a fixed ``budget_tokens`` fails), Opus and Sonnet 5.5 cannot turn thinking off and refuse forced tool use,
and the ARN-versioned models up to Opus 4.6 refuse the newest Anthropic API version. A 400 deep in an agent run says
little; this module says which setting to change.

The facts are not kept here: the stack publishes them in the endpoint's parameter (``capabilities``, from the model's
config in model_configs/, with sources), so a model swap behind the endpoint brings its own rules. A parameter
without ``capabilities`` (an older stack, or a config without the block) is checked for nothing.

Two hooks call it: ``bedrock_request`` (the plain client: ``request_fields``, sent as Converse's
``additionalModelRequestFields``) and the LangChain chat model (``tool_choice`` and ``additional_model_request_fields``
on ``bind``/``bind_tools`` or a call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_client.errors import ParameterSchemaError, UnsupportedError

THINKING_TYPES = ("enabled", "adaptive", "disabled")
# tool_choice values that let the model answer without a tool (LangChain's, OpenAI's and Converse's spellings).
FREE_TOOL_CHOICES = (None, "auto", "none")


@dataclass(frozen=True)
class Capabilities:
    """The parameter's ``capabilities``: ``thinking_types`` the model accepts, whether ``tool_choice`` may force a
    tool, and the Anthropic API versions it refuses (model_configs/README.md: capabilities)."""

    thinking_types: tuple[str, ...]
    forced_tool_use: bool
    refused_anthropic_versions: tuple[str, ...] = ()


def parse_capabilities(where: str, value: Any) -> Capabilities | None:
    """The ``capabilities`` object of a parameter, None when absent."""
    if value is None:
        return None
    thinking = value.get("thinking_types") if isinstance(value, dict) else None
    forced = value.get("forced_tool_use") if isinstance(value, dict) else None
    versions = value.get("refused_anthropic_versions", []) if isinstance(value, dict) else None
    if (
        not isinstance(thinking, list)
        or not all(isinstance(t, str) for t in thinking)
        or not isinstance(forced, bool)
        or not isinstance(versions, list)
        or not all(isinstance(v, str) for v in versions)
    ):
        raise ParameterSchemaError(
            f"{where}: 'capabilities' must be an object with thinking_types (a list of text), forced_tool_use (true or "
            "false) and refused_anthropic_versions (a list of text): redeploy the endpoint's stack from the current "
            "repository"
        )
    return Capabilities(tuple(thinking), forced, tuple(versions))


def check_request_fields(label: str, capabilities: Capabilities | None, fields: Mapping[str, Any] | None) -> None:
    """Refuse ``fields`` (Converse's ``additionalModelRequestFields``, Anthropic's request body) that the model would
    answer with a 400: a ``thinking.type`` it does not take, or an ``anthropic_version`` it refuses."""
    if capabilities is None or not fields:
        return
    thinking = fields.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind in THINKING_TYPES and kind not in capabilities.thinking_types:
        raise UnsupportedError(f"{label} does not accept thinking type {kind!r}: {_thinking_way_out(capabilities)}")
    version = fields.get("anthropic_version")
    if version in capabilities.refused_anthropic_versions:
        raise UnsupportedError(
            f"{label} refuses anthropic_version {version!r} on Bedrock (newer Anthropic SDKs send it by default): send "
            "'bedrock-2023-05-31' in the request body, pin the Anthropic SDK to the version you used before, or move "
            "the endpoint to a current model"
        )


def check_tool_choice(label: str, capabilities: Capabilities | None, tool_choice: Any) -> None:
    """Refuse a ``tool_choice`` that forces a tool (``any``/``required``, a tool's name, ``{"tool": ...}``) on a model
    that refuses forced tool use."""
    if capabilities is None or capabilities.forced_tool_use or not forces_a_tool(tool_choice):
        return
    raise UnsupportedError(
        f"{label} refuses forced tool use (tool_choice {tool_choice!r}): leave tool_choice unset (auto), name the tool "
        "in the prompt and retry when the answer has no tool call; where a forced tool was a way to get JSON, use "
        "structured output instead (langchain-aws: ChatBedrockConverse.with_structured_output(..., "
        "method='json_schema'))"
    )


def forces_a_tool(tool_choice: Any) -> bool:
    """Whether ``tool_choice`` makes the model call some tool, in LangChain's, OpenAI's or Converse's spelling."""
    if isinstance(tool_choice, Mapping):
        kind = tool_choice.get("type")
        if kind is not None:
            return kind not in FREE_TOOL_CHOICES
        return not set(tool_choice) <= {"auto"}  # Converse: {"auto": {}}, {"any": {}} or {"tool": {"name": ...}}
    if isinstance(tool_choice, bool):
        return tool_choice  # LangChain: True forces the only tool
    return tool_choice not in FREE_TOOL_CHOICES


def _thinking_way_out(capabilities: Capabilities) -> str:
    accepted = capabilities.thinking_types
    if "adaptive" in accepted and "enabled" not in accepted:
        off = "" if "disabled" in accepted else "; it cannot be turned off"
        return (
            "use thinking {'type': 'adaptive'} and steer how much it thinks with the effort level "
            f"(output_config {{'effort': 'low'}} ... 'max') instead of budget_tokens{off}"
        )
    return f"use one of {', '.join(repr(t) for t in accepted)}"
