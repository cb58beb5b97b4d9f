#!/usr/bin/env python3
"""Compare the lifecycle in each Bedrock model config with what Bedrock reports (read-only, needs credentials).

    python scripts/bedrock_lifecycle.py --region us-east-1 claude-haiku-5-5 claude-sonnet-5-5 claude-opus-5-5
    python scripts/bedrock_lifecycle.py --region eu-west-1 --all            # every Bedrock config
    python scripts/bedrock_lifecycle.py --region us-east-1 --role-arn ARN claude-opus-4-6

For each model it calls GetFoundationModel where the model is served for that region (its inference profile's
destination when the region itself does not serve it) and compares `modelLifecycle.status` (ACTIVE, LEGACY) with
the config's lifecycle on today's date: active <-> ACTIVE, legacy <-> LEGACY, end-of-life <-> model not found.
A mismatch means the config went stale: fix its `lifecycle` block (status, dates, source, retrieved). An active
model whose config names a successor (superseded: the 4.x models, replaced by the 5.5 ones) is reported with it.
The deploy jobs (scripts/ci_stage.py deploy, the CodePipeline stage) run it before deploying.
Exit status: 0 all agree, 1 a mismatch or an AWS error, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_config import BedrockModelConfig, ConfigError, ModelRegistry, load_registry
from llm_config.bedrock_model import LifecycleStatus

BOTO_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=30)
# What GetFoundationModel answers for each of our states. An end-of-life model is no longer found.
EXPECTED: dict[LifecycleStatus, str] = {"active": "ACTIVE", "legacy": "LEGACY", "end-of-life": "NOT FOUND"}
GONE_ERRORS = {"ResourceNotFoundException", "ValidationException"}


@dataclass(frozen=True)
class Finding:
    key: str
    region: str
    status: LifecycleStatus  # the config's state in the region today
    expected: str
    reported: str
    source: str
    successor: str | None = None  # set for an active model a newer generation replaces

    @property
    def agrees(self) -> bool:
        return self.expected == self.reported

    def describe(self) -> str:
        where = f"{self.key} in {self.region}"
        if self.agrees:
            superseded = f" (superseded: move to {self.successor})" if self.successor else ""
            return f"ok   {where}: {self.reported}{superseded}"
        return (
            f"error: {self.source}: lifecycle: Bedrock reports {self.reported} for {where}, the config says"
            f" {self.status} (Bedrock would report {self.expected})\n"
            "  fix: update the lifecycle block (status, dates, successor, source, retrieved) from the model card,"
            " then run the check again"
        )


def reported_status(bedrock: Any, model_id: str) -> str:
    try:
        details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE_ERRORS:
            return "NOT FOUND"
        raise
    return str(details.get("modelLifecycle", {}).get("status", "MISSING"))


def check(registry: ModelRegistry, keys: Sequence[str], region: str, today: date, client: Any) -> list[Finding]:
    """One finding per model; ``client(region)`` returns a Bedrock control-plane client for that region."""
    findings = []
    for name in keys:
        model = registry.resolve(name, source="model")
        if not isinstance(model, BedrockModelConfig):
            raise ConfigError("model", None, f"{name} is not a Bedrock model", "name Bedrock model configs only")
        source = registry.sources[model.key]
        status = model.lifecycle.state(region, today).status
        expected = EXPECTED[status]
        # A retired model no longer has a profile to route through: ask in the region itself.
        probe = region if expected == "NOT FOUND" else model.route(region, source).lifecycle_region
        reported = reported_status(client(probe), model.model_id)
        successor = model.lifecycle.successor if status == "active" else None
        findings.append(Finding(model.key, region, status, expected, reported, source, successor))
    return findings


def main(argv: Sequence[str] | None = None, session: Any = None, today: date | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="MODEL", help="Bedrock model keys (model_configs/<key>.yaml)")
    parser.add_argument("--all", action="store_true", help="every Bedrock config in model_configs/")
    parser.add_argument("--region", required=True, help="the region the stacks deploy to")
    parser.add_argument("--role-arn", help="assume this role first (the pipeline's smoke-test role)")
    args = parser.parse_args(argv)
    try:
        registry = load_registry()
        keys = list(args.models)
        if args.all:
            keys += [k for k, m in registry.models.items() if isinstance(m, BedrockModelConfig)]
        if not keys:
            parser.error("name at least one model, or --all")
        session = session or boto3.session.Session(region_name=args.region)
        if args.role_arn:
            credentials = session.client("sts", config=BOTO_CONFIG).assume_role(
                RoleArn=args.role_arn, RoleSessionName="bedrock-lifecycle-check"
            )["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=args.region,
            )
        findings = check(
            registry,
            list(dict.fromkeys(keys)),
            args.region,
            today or date.today(),
            lambda region: session.client("bedrock", region_name=region, config=BOTO_CONFIG),
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: cannot read the model lifecycle from Bedrock: {error}", file=sys.stderr)
        return 1
    for finding in findings:
        print(finding.describe(), file=sys.stdout if finding.agrees else sys.stderr)
    return 0 if all(f.agrees for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
