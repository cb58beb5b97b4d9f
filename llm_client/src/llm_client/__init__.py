"""Call the LLM behind an endpoint name: ``/llm-endpoints/NAME``, as the llm-endpoints CDK stacks publish it.

    import llm_client
    model = llm_client.chat_model("chat", region="us-east-1")   # a LangChain chat model (extra: langchain)
    print(llm_client.invoke("chat", "Hello", region="us-east-1").text)   # boto3 only
    for piece in llm_client.stream("chat", "Hello", region="us-east-1"):
        print(piece, end="")

Whatever serves the endpoint now (a SageMaker endpoint, its A/B variants, a migration's two inference components that
the client splits by weight, a Bedrock model) is read from the parameter, cached for ``DEFAULT_TTL_SECONDS``: a
redeploy never needs a change to the calling code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_client.client import DEFAULT_ATTEMPTS, DEFAULT_MAX_TOKENS, TIMEOUT_FACTOR, Answer, Client, invoke, stream
from llm_client.errors import (
    AccessDeniedError,
    CallTimeoutError,
    ColdStartError,
    ConfigurationError,
    EndpointNotFoundError,
    InvocationError,
    LlmClientError,
    MalformedReplyError,
    NoCredentialsError,
    ParameterSchemaError,
    ThrottledError,
    UnsupportedError,
)
from llm_client.parameter import DEFAULT_TTL_SECONDS, SCHEMA_VERSION, BedrockModel, Endpoint, SageMakerEndpoint, Variant

if TYPE_CHECKING:
    from llm_client.chat import EndpointChatModel

__version__ = "0.1.0"


def chat_model(name: str, **options: Any) -> EndpointChatModel:
    """A LangChain chat model for endpoint (or router) ``name``; options: see ``llm_client.chat.chat_model``."""
    try:
        from llm_client.chat import chat_model as build
    except ImportError as error:
        if (error.name or "").startswith("langchain"):
            raise LlmClientError(
                'chat_model() needs LangChain: pip install "llm-endpoints-client[langchain]" '
                "(invoke() and stream() need only boto3)"
            ) from None
        raise
    return build(name, **options)


__all__ = [
    "DEFAULT_ATTEMPTS",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TTL_SECONDS",
    "SCHEMA_VERSION",
    "TIMEOUT_FACTOR",
    "AccessDeniedError",
    "Answer",
    "BedrockModel",
    "CallTimeoutError",
    "Client",
    "ColdStartError",
    "ConfigurationError",
    "Endpoint",
    "EndpointNotFoundError",
    "InvocationError",
    "LlmClientError",
    "MalformedReplyError",
    "NoCredentialsError",
    "ParameterSchemaError",
    "SageMakerEndpoint",
    "ThrottledError",
    "UnsupportedError",
    "Variant",
    "chat_model",
    "invoke",
    "stream",
]
