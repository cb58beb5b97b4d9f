#!/usr/bin/env python3
"""Smoke test a deployed LLM endpoint: one real request, checked against the model's latency budget.

    # Everything from the endpoint's SSM parameter /llm-endpoints/NAME (what CI runs after each deploy):
    python scripts/smoke_test.py --endpoint chat --region us-east-1
    # By hand, from a model config instead (SageMaker endpoint NAME defaults to the model's key):
    python scripts/smoke_test.py --model mistral --endpoint chat --prompt "Say hello"
    # A router (CI, after it deploys): its parameter read back as agents read it, checked against its file
    python scripts/smoke_test.py --router assistant --routes chat,claude --policy-sha256 HEX --region us-east-1

It calls through llm_client's plain path (the package in llm_client/), the same call path users' apps take:
a SageMaker endpoint gets one InvokeEndpoint per production variant (TargetVariant), in the JSON its container
takes (the Messages API, or the model's prompt format); a Bedrock model gets one Converse call with the parameter's
model id. Each call must succeed within the model's ``latency_budget_seconds``. Throttling and not-ready errors are
retried with exponential backoff and jitter (llm_client's); the latency reported and checked is that of the
successful try.

A scale-to-zero endpoint (models served as inference components; ``scale_to_zero: true`` in its parameter) gets one
call per inference component that has traffic (weight > 0: during a migration, the old model's and the candidate's;
a drained weight-0 component is skipped and said so), each naming its InferenceComponentName and in its own model's
request format. While a component has no copy running it answers "no capacity"; its wake-up alarm starts a copy,
which takes minutes, so the smoke test waits with backoff (10, 20, 40, 60, 60 ... s) up to ``--cold-start-seconds``
(default: the parameter's ``expected_cold_start_seconds``, 600 s as deployed). Each component scales to zero on its
own, so each has its own wait. The report gives each cold start on its own line; the latency budget applies to the
request's latency only.

A router gets no request of its own (its routes are endpoints, each smoke tested where it deploys): the check reads
``/llm-endpoints/NAME`` through llm_client, as agents do (one ssm:GetParameter; the client refuses a policy whose
SHA-256 does not match its content), and requires the routes and the policy's SHA-256 the router file gave.

Exit status: 0 every target passed, 1 a target failed (error, empty answer, over budget), 2 bad usage (including
no AWS credentials or region).
Needs boto3 and llm_client (``pip install ./llm_client``); ``--model`` also reads model_configs/ with the project's
config loader.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_client import (
    BedrockModel,
    Client,
    ConfigurationError,
    Endpoint,
    LlmClientError,
    NoCredentialsError,
    SageMakerEndpoint,
    Variant,
)
from llm_client.client import DEFAULT_ATTEMPTS, describe
from llm_client.router import Router

DEFAULT_PROMPT = "In one sentence, what is Amazon SageMaker?"
DEFAULT_MAX_NEW_TOKENS = 64
AWS_SETUP_FIX = "configure AWS credentials and a region (aws configure, AWS_PROFILE, or --region and --role-arn)"
# For STS only: llm_client configures its own clients (one try each; it owns the retries).
BOTO_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=70, connect_timeout=10)


class SmokeTestError(Exception):
    """A target failed: the message says which and why."""


class UsageError(Exception):
    """Bad input (e.g. an unknown --model): exit status 2."""


@dataclass(frozen=True)
class Target:
    """One thing to invoke: a SageMaker endpoint variant or inference component (or the endpoint, by hand) or a
    Bedrock model. ``variant_name`` is what llm_client's ``variant=`` selects: a variant, or a component's name."""

    label: str
    endpoint: str
    latency_budget_seconds: float
    variant_name: str | None = None
    scale_to_zero: bool = False


@dataclass(frozen=True)
class Result:
    target: Target
    latency_seconds: float
    output_tokens: int
    attempts: int
    text: str
    cold_start_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.latency_seconds if self.latency_seconds > 0 else 0.0

    @property
    def within_budget(self) -> bool:
        return self.latency_seconds <= self.target.latency_budget_seconds

    def summary(self) -> str:
        status = "ok  " if self.within_budget else "FAIL"
        line = (
            f"{status} {self.target.label}: {self.latency_seconds:.2f} s (budget {self.target.latency_budget_seconds:g} s), "
            f"{self.output_tokens} tokens, {self.tokens_per_second:.1f} tokens/s, {self.attempts} attempt(s)"
        )
        if self.target.scale_to_zero:
            line += (
                f"\n     cold start: {self.cold_start_seconds:.1f} s waiting for a copy "
                "(scale-to-zero; not part of the latency above or its budget)"
            )
        return line


def targets_for(endpoint: Endpoint, budget_override: float | None, by_variant: bool = True) -> list[Target]:
    """One target per SageMaker variant (each with its own budget), or the Bedrock model."""
    if isinstance(endpoint, BedrockModel):
        label = f"{endpoint.name} ({endpoint.model_id})"
        return [Target(label, endpoint.name, budget_override or endpoint.latency_budget_seconds)]
    if endpoint.scale_to_zero:  # each inference component with traffic, called by its name, never by variant
        return [
            Target(
                f"{endpoint.name} ({c.inference_component_name})",
                endpoint.name,
                budget_override or c.latency_budget_seconds,
                variant_name=c.inference_component_name,
                scale_to_zero=True,
            )
            for c in endpoint.served
        ]
    if not by_variant:
        label = f"{endpoint.name} ({endpoint.model_label})"
        return [Target(label, endpoint.name, budget_override or endpoint.latency_budget_seconds)]
    return [
        Target(f"{endpoint.name}/{v.name}", endpoint.name, budget_override or v.latency_budget_seconds, variant_name=v.name)
        for v in endpoint.variants
    ]


def drained(endpoint: Endpoint) -> list[str]:
    """The lines for a scale-to-zero endpoint's drained components (weight 0), which get no traffic and no test."""
    if not isinstance(endpoint, SageMakerEndpoint) or not endpoint.scale_to_zero:
        return []
    return [
        f"skip {endpoint.name} ({c.inference_component_name}): weight 0, drained (gets no traffic; about to be removed)"
        for c in endpoint.variants
        if c.weight == 0
    ]


def endpoint_from_model(model_key: str, endpoint: str | None, region: str) -> Endpoint:
    """What the stack would publish for ``model_key``, from model_configs/ (by hand, no SSM parameter needed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from llm_config import ConfigError, load_registry

    try:
        registry = load_registry()
        model: Any = registry.resolve(model_key, source="--model")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    if model.hosting != "sagemaker":
        try:
            model_id = model.route(region, "--model").invoke_id  # the inference profile the config picks for the region
        except ConfigError as error:
            raise UsageError(str(error)) from None
        return BedrockModel(model.key, region, model.key, model_id, float(model.latency_budget_seconds))
    image = registry.image_for(model)
    variant = Variant(
        name=model.key,
        model_key=model.key,
        container=image.framework,
        api=image.chat_api,
        prompt_format=model.prompt_format,
        stop_sequences=tuple(model.stop_sequences),
        max_input_tokens=model.container.max_input_tokens,
        max_total_tokens=model.container.max_total_tokens,
        latency_budget_seconds=float(model.latency_budget_seconds),
        tool_calling="none",  # the smoke test sends no tools
    )
    return SageMakerEndpoint(endpoint or model.key, region, (variant,))


def run_target(client: Client, target: Target, *, prompt: str, max_new_tokens: int) -> Result:
    try:
        answer = client.invoke(target.endpoint, prompt, max_tokens=max_new_tokens, variant=target.variant_name)
    except NoCredentialsError:
        raise  # not this target's failure: nothing can be invoked (main() says how to set up)
    except LlmClientError as error:
        raise SmokeTestError(f"{target.label}: {error}") from None
    if not answer.text.strip():
        raise SmokeTestError(f"{target.label}: the model answered with no text")
    # The containers report the exact count; otherwise approximate by words.
    tokens = answer.output_tokens if answer.output_tokens is not None else len(answer.text.split())
    return Result(target, answer.latency_seconds, tokens, answer.attempts, answer.text, answer.cold_start_seconds)


def check_router(client: Client, name: str, routes: Sequence[str], policy_sha256: str) -> str:
    """The router's parameter as the client reads it (integrity-checked), with the expected routes and policy."""
    try:
        target = client.target(name)
    except NoCredentialsError:
        raise
    except LlmClientError as error:
        raise SmokeTestError(f"router {name}: {error}") from None
    if not isinstance(target, Router):
        raise SmokeTestError(f"router {name}: /llm-endpoints/{name} is a {target.hosting} endpoint, not a router")
    deployed = [target.routes["weak"], target.routes["strong"]]
    if deployed != list(routes):
        raise SmokeTestError(
            f"router {name}: deployed routes {deployed[0]} (weak), {deployed[1]} (strong); expected {routes[0]}, {routes[1]}"
        )
    if target.policy.sha256 != policy_sha256:
        raise SmokeTestError(f"router {name}: deployed policy sha256 {target.policy.sha256}, expected {policy_sha256}")
    return (
        f"ok   router {name}: routes {deployed[0]} (weak), {deployed[1]} (strong); {target.policy.kind} policy "
        f"sha256 {policy_sha256[:12]}... as deployed and intact"
    )


def assume_role(session: Any, role_arn: str) -> Any:
    """A session with ``role_arn``'s temporary credentials, in the same region."""
    try:
        credentials = session.client("sts", config=BOTO_CONFIG).assume_role(
            RoleArn=role_arn, RoleSessionName="llm-smoke-test", DurationSeconds=900
        )["Credentials"]
    except ClientError as error:
        raise SmokeTestError(f"cannot assume {role_arn}: {describe(error)}") from None
    except BotoCoreError as error:
        raise SmokeTestError(f"cannot assume {role_arn}: {error}") from None
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Exit status: 0 pass, 1 fail, 2 bad usage.")
    parser.add_argument("--endpoint", help="endpoint name: reads /llm-endpoints/NAME from SSM unless --model is given")
    parser.add_argument("--router", help="router name: check its parameter instead (needs --routes, --policy-sha256)")
    parser.add_argument("--routes", help="with --router: the expected routes, WEAK,STRONG")
    parser.add_argument("--policy-sha256", help="with --router: the expected policy's sha256 (its policy file's)")
    parser.add_argument("--model", help="model key or alias from model_configs/ (prompt format and budget from the config)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"user text (default: {DEFAULT_PROMPT!r})")
    parser.add_argument("--region", help="AWS region of the endpoint (default: your AWS config's)")
    parser.add_argument(
        "--role-arn", help="assume this role first (CI: a smoke-test role in the stage's account); default: your credentials"
    )
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help=f"default {DEFAULT_MAX_NEW_TOKENS}")
    parser.add_argument(
        "--budget-seconds", type=float, help="latency budget per call (default: the model's latency_budget_seconds)"
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=DEFAULT_ATTEMPTS,
        help=f"tries per target when throttled or not ready (default {DEFAULT_ATTEMPTS})",
    )
    parser.add_argument(
        "--cold-start-seconds",
        type=float,
        help="scale-to-zero endpoints: how long to wait for a copy to start while the endpoint answers 'no capacity' "
        "(default: the parameter's expected_cold_start_seconds, 600 as deployed); reported apart from the latency",
    )
    args = parser.parse_args(argv)
    if args.router:
        if args.endpoint or args.model:
            parser.error("--router cannot be combined with --endpoint or --model")
        if not args.policy_sha256 or not args.routes or len(args.routes.split(",")) != 2:
            parser.error("--router needs --routes WEAK,STRONG and --policy-sha256 HEX")
    elif not args.endpoint and not args.model:
        parser.error("give --endpoint NAME (reads its SSM parameter), --model KEY or --router NAME")
    if args.attempts < 1 or args.max_new_tokens < 1 or (args.budget_seconds is not None and args.budget_seconds <= 0):
        parser.error("--attempts, --max-new-tokens and --budget-seconds must be positive")
    if args.cold_start_seconds is not None and args.cold_start_seconds < 0:
        parser.error("--cold-start-seconds must not be negative")
    return args


def main(
    argv: Sequence[str] | None = None,
    session: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> int:
    args = parse_args(argv)
    try:
        session = session or boto3.session.Session(region_name=args.region)
        if args.role_arn:
            session = assume_role(session, args.role_arn)
        client = Client(
            region=args.region,
            session=session,
            attempts=args.attempts,
            sleep=sleep,
            random=jitter,
            log=lambda line: print(f"  {line}"),
            cold_start_seconds=args.cold_start_seconds,
        )
        if args.router:
            print(check_router(client, args.router, args.routes.split(","), args.policy_sha256))
            return 0
        if args.model:
            endpoint = endpoint_from_model(args.model, args.endpoint, client.region)
            client.describe(endpoint.name, endpoint)
            targets = targets_for(endpoint, args.budget_seconds, by_variant=False)
        else:
            endpoint = client.endpoint(args.endpoint)
            targets = targets_for(endpoint, args.budget_seconds)
            for line in drained(endpoint):
                print(line)
    except (NoCredentialsError, ConfigurationError) as error:
        print(f"error: {error}\n  fix: {AWS_SETUP_FIX}", file=sys.stderr)
        return 2
    except (SmokeTestError, LlmClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    failed = False
    for target in targets:
        try:
            result = run_target(client, target, prompt=args.prompt, max_new_tokens=args.max_new_tokens)
        except NoCredentialsError as error:
            print(f"error: {error}\n  fix: {AWS_SETUP_FIX}", file=sys.stderr)
            return 2
        except SmokeTestError as error:
            print(f"FAIL {error}", file=sys.stderr)
            failed = True
            continue
        print(result.summary())
        if not result.within_budget:
            print(f"error: {target.label} is over its latency budget", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
