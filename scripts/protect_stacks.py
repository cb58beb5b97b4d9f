#!/usr/bin/env python3
"""Turn on CloudFormation termination protection for stacks, then read it back (the CDK pipeline, after a deploy).

    python scripts/protect_stacks.py --region us-east-1 --role-arn ARN llm-chat llm-Support-Bot

`cdk deploy` sets a stack's protection from its template (every endpoint stack asks for it); CodePipeline's
CloudFormation action, which the CDK pipeline deploys with, has no such setting, so the pipeline runs this after each
stage's deploy, with the stage's ``llm-protect-stacks-STAGE`` role (allowed exactly these two calls on those stacks).
Exit status: 0 every stack is protected, 1 an AWS error or a stack still unprotected, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

BOTO_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=30)


def protect(cloudformation: Any, stack_name: str) -> bool:
    """Turn the stack's protection on (a no-op when it already is); whether DescribeStacks then reports it on."""
    cloudformation.update_termination_protection(EnableTerminationProtection=True, StackName=stack_name)
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return bool(stack.get("EnableTerminationProtection"))


def assumed(session: Any, role_arn: str, region: str) -> Any:
    credentials = session.client("sts", config=BOTO_CONFIG).assume_role(
        RoleArn=role_arn, RoleSessionName="llm-protect-stacks", DurationSeconds=900
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stacks", nargs="+", metavar="STACK", help="stack names, e.g. llm-chat")
    parser.add_argument("--region", required=True, help="the stacks' region")
    parser.add_argument("--role-arn", help="assume this role first (the stage's llm-protect-stacks-STAGE)")
    args = parser.parse_args(argv)
    session = session or boto3.session.Session(region_name=args.region)
    failed = False
    try:
        if args.role_arn:
            session = assumed(session, args.role_arn, args.region)
        cloudformation = session.client("cloudformation", region_name=args.region, config=BOTO_CONFIG)
        for name in args.stacks:
            if protect(cloudformation, name):
                print(f"ok   {name}: termination protection on")
            else:
                print(f"FAIL {name}: termination protection still off after UpdateTerminationProtection", file=sys.stderr)
                failed = True
    except NoCredentialsError:
        print("error: no AWS credentials found (aws configure, or AWS_PROFILE)", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: cannot turn on termination protection: {error}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
