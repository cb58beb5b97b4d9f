#!/usr/bin/env python3
"""Smoke test a deployed LLM endpoint: one real request, checked against the model's latency budget.

    # Everything from the endpoint's SSM parameter /llm-endpoints/NAME (what CI runs after each deploy):
    python scripts/smoke_test.py --endpoint chat --region us-east-1
    # By hand, from a model config instead (SageMaker endpoint NAME defaults to the model's key):
    python scripts/smoke_test.py --model mistral --endpoint chat --prompt "Say hello"

A SageMaker endpoint gets one InvokeEndpoint per production variant (TargetVariant), each with its own
model's prompt format, in the request shape both container families (LMI, TGI) take. A Bedrock model gets one Converse call
(Converse applies Claude's own message format). Each call must succeed within the model's
``latency_budget_seconds``. Throttling is retried with bounded exponential backoff; the latency reported
and checked is that of the successful attempt.

Exit status: 0 every target passed, 1 a target failed (error, empty answer, over budget), 2 bad usage (including
no AWS credentials or region).
Needs only boto3 unless ``--model`` is given (then the project's config loader reads model_configs/).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

CLIENT_PARAMETER_PREFIX = "/llm-endpoints"
DEFAULT_PROMPT = "In one sentence, what is Amazon SageMaker?"
DEFAULT_MAX_NEW_TOKENS = 64
DEFAULT_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0
# Error codes that mean "slow down / not ready yet, try again", not "this deploy is broken".
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ModelNotReadyException",
    }
)
AWS_SETUP_FIX = "configure AWS credentials and a region (aws configure, AWS_PROFILE, or --region and --role-arn)"
# Our loop owns retries (so the attempts and waits are bounded and reported); botocore makes one attempt.
# InvokeEndpoint itself gives up after 60 s, so a longer read timeout never hides a slow model.
BOTO_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=70, connect_timeout=10)


class SmokeTestError(Exception):
    """A target failed: the message says which and why."""


class UsageError(Exception):
    """Bad input (e.g. an unknown --model): exit status 2."""


@dataclass(frozen=True)
class Target:
    """One thing to invoke: a SageMaker endpoint variant or a Bedrock model."""

    label: str
    hosting: str  # "sagemaker" | "bedrock"
    latency_budget_seconds: float
    endpoint_name: str = ""
    variant_name: str | None = None
    prompt_format: str = "{prompt}"
    model_id: str = ""


@dataclass(frozen=True)
class Result:
    target: Target
    latency_seconds: float
    output_tokens: int
    attempts: int
    text: str

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.latency_seconds if self.latency_seconds > 0 else 0.0

    @property
    def within_budget(self) -> bool:
        return self.latency_seconds <= self.target.latency_budget_seconds

    def summary(self) -> str:
        status = "ok  " if self.within_budget else "FAIL"
        return (
            f"{status} {self.target.label}: {self.latency_seconds:.2f} s (budget {self.target.latency_budget_seconds:g} s), "
            f"{self.output_tokens} tokens, {self.tokens_per_second:.1f} tokens/s, {self.attempts} attempt(s)"
        )


def targets_from_parameter(metadata: dict[str, Any], budget_override: float | None) -> list[Target]:
    """Targets from the JSON an endpoint stack publishes in SSM (stacks/*_stack.py ``_client_metadata``)."""
    hosting = metadata.get("hosting")
    name = metadata.get("endpoint_name", "?")
    if hosting == "sagemaker":
        return [
            Target(
                label=f"{name}/{variant['variant_name']}",
                hosting="sagemaker",
                endpoint_name=name,
                variant_name=variant["variant_name"],
                prompt_format=variant["prompt_format"],
                latency_budget_seconds=budget_override or float(variant["latency_budget_seconds"]),
            )
            for variant in metadata["variants"]
        ]
    if hosting == "bedrock":
        return [
            Target(
                label=f"{name} ({metadata['model_id']})",
                hosting="bedrock",
                model_id=metadata["model_id"],
                latency_budget_seconds=budget_override or float(metadata["latency_budget_seconds"]),
            )
        ]
    raise SmokeTestError(f"endpoint {name}: unknown hosting {hosting!r} in its SSM parameter")


def targets_from_model(
    model_key: str, endpoint: str | None, budget_override: float | None, region: str = "us-east-1"
) -> list[Target]:
    """Targets from model_configs/ (by hand, no SSM parameter needed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from llm_config import ConfigError, load_registry

    try:
        model: Any = load_registry().resolve(model_key, source="--model")
    except ConfigError as error:
        raise UsageError(str(error)) from None
    budget = budget_override or float(model.latency_budget_seconds)
    if model.hosting == "sagemaker":
        name = endpoint or model.key
        return [
            Target(
                label=f"{name} ({model.key})",
                hosting="sagemaker",
                endpoint_name=name,
                prompt_format=model.prompt_format,
                latency_budget_seconds=budget,
            )
        ]
    try:
        model_id = model.route(region, "--model").invoke_id  # the inference profile the config picks for the region
    except ConfigError as error:
        raise UsageError(str(error)) from None
    return [Target(label=f"{model.key} ({model_id})", hosting="bedrock", model_id=model_id, latency_budget_seconds=budget)]


def read_parameter(ssm: Any, endpoint: str) -> dict[str, Any]:
    name = f"{CLIENT_PARAMETER_PREFIX}/{endpoint}"
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        problem = f"cannot read SSM parameter {name}: {describe(error)}"
        raise SmokeTestError(f"{problem} (is the endpoint stack deployed here?)") from None
    try:
        metadata = json.loads(value)
    except json.JSONDecodeError:
        raise SmokeTestError(f"SSM parameter {name} does not hold JSON") from None
    if not isinstance(metadata, dict):
        raise SmokeTestError(f"SSM parameter {name} does not hold a JSON object")
    return metadata


def invoke_sagemaker(runtime: Any, target: Target, prompt: str, max_new_tokens: int) -> tuple[str, int]:
    body = {
        "inputs": target.prompt_format.replace("{prompt}", prompt),
        "parameters": {"max_new_tokens": max_new_tokens, "return_full_text": False, "details": True},
    }
    request: dict[str, Any] = {
        "EndpointName": target.endpoint_name,
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps(body),
    }
    if target.variant_name:
        request["TargetVariant"] = target.variant_name
    response = runtime.invoke_endpoint(**request)
    payload = json.loads(response["Body"].read())
    first = payload[0] if isinstance(payload, list) else payload
    text = first.get("generated_text", "")
    tokens = first.get("details", {}).get("generated_tokens")
    # Both LMI and TGI report the exact count with details=true; otherwise approximate by words.
    return text, int(tokens) if tokens is not None else len(text.split())


def invoke_bedrock(runtime: Any, target: Target, prompt: str, max_new_tokens: int) -> tuple[str, int]:
    response = runtime.converse(
        modelId=target.model_id,
        messages=[{"role": "user", "content": [{"text": prompt}]}],
        inferenceConfig={"maxTokens": max_new_tokens},
    )
    text = "".join(block.get("text", "") for block in response["output"]["message"]["content"])
    return text, int(response["usage"]["outputTokens"])


def describe(error: ClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")


def call_with_backoff(
    call: Callable[[], tuple[str, int]],
    *,
    attempts: int,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    log: Callable[[str], None],
) -> tuple[str, int, float, int]:
    """Run ``call``, retrying throttling with exponential backoff (1, 2, 4, ... s, capped).

    Returns the text, output tokens, latency of the successful attempt and the number of attempts.
    """
    for attempt in range(1, attempts + 1):
        started = clock()
        try:
            text, tokens = call()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in RETRYABLE_CODES:
                raise SmokeTestError(describe(error)) from None
            if attempt == attempts:
                raise SmokeTestError(f"still throttled after {attempts} attempts ({describe(error)})") from None
            delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
            log(f"  throttled ({code}), retrying in {delay:g} s (attempt {attempt}/{attempts})")
            sleep(delay)
            continue
        except (NoCredentialsError, NoRegionError):
            raise  # not this target's failure: nothing can be invoked (main() says how to set up)
        except BotoCoreError as error:
            raise SmokeTestError(str(error)) from None
        return text, tokens, clock() - started, attempt
    raise AssertionError("unreachable: attempts >= 1")


def run_target(
    target: Target,
    clients: Callable[[str], Any],
    *,
    prompt: str,
    max_new_tokens: int,
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
    log: Callable[[str], None] = print,
) -> Result:
    if target.hosting == "sagemaker":
        runtime = clients("sagemaker-runtime")

        def call() -> tuple[str, int]:
            return invoke_sagemaker(runtime, target, prompt, max_new_tokens)
    else:
        runtime = clients("bedrock-runtime")

        def call() -> tuple[str, int]:
            return invoke_bedrock(runtime, target, prompt, max_new_tokens)

    try:
        text, tokens, latency, used = call_with_backoff(call, attempts=attempts, sleep=sleep, clock=clock, log=log)
    except SmokeTestError as error:
        raise SmokeTestError(f"{target.label}: {error}") from None
    if not text.strip():
        raise SmokeTestError(f"{target.label}: the model answered with no text")
    return Result(target=target, latency_seconds=latency, output_tokens=tokens, attempts=used, text=text)


def assume_role(session: Any, role_arn: str) -> Any:
    """A session with ``role_arn``'s temporary credentials, in the same region."""
    try:
        credentials = session.client("sts", config=BOTO_CONFIG).assume_role(
            RoleArn=role_arn, RoleSessionName="llm-smoke-test", DurationSeconds=900
        )["Credentials"]
    except ClientError as error:
        raise SmokeTestError(f"cannot assume {role_arn}: {describe(error)}") from None
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Exit status: 0 pass, 1 fail, 2 bad usage.")
    parser.add_argument("--endpoint", help="endpoint name: reads /llm-endpoints/NAME from SSM unless --model is given")
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
        "--attempts", type=int, default=DEFAULT_ATTEMPTS, help=f"tries per target when throttled (default {DEFAULT_ATTEMPTS})"
    )
    args = parser.parse_args(argv)
    if not args.endpoint and not args.model:
        parser.error("give --endpoint NAME (reads its SSM parameter) or --model KEY")
    if args.attempts < 1 or args.max_new_tokens < 1 or (args.budget_seconds is not None and args.budget_seconds <= 0):
        parser.error("--attempts, --max-new-tokens and --budget-seconds must be positive")
    return args


def main(argv: Sequence[str] | None = None, session: Any = None, sleep: Callable[[float], None] = time.sleep) -> int:
    args = parse_args(argv)
    try:
        return run(args, session or boto3.session.Session(region_name=args.region), sleep)
    except BotoCoreError as error:  # no credentials, no region, a malformed region: botocore's own words, one line
        print(f"error: {error}\n  fix: {AWS_SETUP_FIX}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, session: Any, sleep: Callable[[float], None]) -> int:
    """main() with its session: read the targets, invoke each, report."""

    def clients(service: str) -> Any:
        return session.client(service, config=BOTO_CONFIG)

    try:
        if args.role_arn:
            session = assume_role(session, args.role_arn)
        if args.model:
            targets = targets_from_model(args.model, args.endpoint, args.budget_seconds, session.region_name or "us-east-1")
        else:
            targets = targets_from_parameter(read_parameter(clients("ssm"), args.endpoint), args.budget_seconds)
    except SmokeTestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    failed = False
    for target in targets:
        try:
            result = run_target(
                target, clients, prompt=args.prompt, max_new_tokens=args.max_new_tokens, attempts=args.attempts, sleep=sleep
            )
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
