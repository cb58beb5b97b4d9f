#!/usr/bin/env python3
"""CDK entry point of the optional GitHub OIDC stack: run once per stage, with credentials for that stage's account.

    npx cdk deploy --app ".venv/bin/python github_oidc_app.py" -c github_repository=OWNER/NAME -c stage=staging \
        [-c oidc_provider_arn=arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com] \
        [-c stages_file=cicd/stages.yaml]

Synthesizes one stack, llm-github-oidc-STAGE: GitHub's OIDC provider (unless you pass the account's existing one)
and the deploy and diff roles the workflows assume. Bad or missing input prints one message and exits 2.
Setup and permissions: docs/ci-cd.md.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from stacks.ci_factory import add_github_oidc, run_app

if __name__ == "__main__":
    sys.exit(run_app(add_github_oidc))
