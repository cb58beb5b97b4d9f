"""What can go wrong when calling an endpoint, each with one message that says what to do.

Every error the client raises is an ``LlmClientError``, raised without a chained traceback: catch it and
print ``str(error)`` (``python -m llm_client`` and the example agent do exactly that).
"""

from __future__ import annotations


class LlmClientError(Exception):
    """Base class: the message names the endpoint, what happened and the fix."""


class NoCredentialsError(LlmClientError):
    """boto3 found no AWS credentials."""


class ConfigurationError(LlmClientError):
    """No AWS region, or one that is not a region name."""


class EndpointNotFoundError(LlmClientError):
    """No ``/llm-endpoints/NAME`` parameter, or the endpoint / model it names does not exist."""


class ParameterSchemaError(LlmClientError):
    """The parameter was written by an older (or newer) version of the stacks, or is not what they write."""


class ThrottledError(LlmClientError):
    """Still throttled after every retry."""


class ColdStartError(LlmClientError):
    """The model is not ready yet (scaling out from zero, a new instance loading) after every retry."""


class CallTimeoutError(LlmClientError):
    """No answer within the timeout derived from the latency budget."""


class AccessDeniedError(LlmClientError):
    """The credentials may not call the endpoint, read the parameter, or use the model."""


class UnsupportedError(LlmClientError):
    """The endpoint cannot do what was asked (e.g. tool calling on a container without it)."""


class InvocationError(LlmClientError):
    """Any other failed call (the model's own error, a bad request)."""


class MalformedReplyError(InvocationError):
    """The endpoint answered, but not in its container's format: an HTML page, JSON of the wrong shape, a stream line
    that is not JSON, a body or line over the client's size caps. Not retried: the same request gets the same reply."""


__all__ = [
    "AccessDeniedError",
    "CallTimeoutError",
    "ColdStartError",
    "ConfigurationError",
    "EndpointNotFoundError",
    "InvocationError",
    "LlmClientError",
    "MalformedReplyError",
    "NoCredentialsError",
    "ParameterSchemaError",
    "ThrottledError",
    "UnsupportedError",
]
