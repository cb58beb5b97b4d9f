#!/usr/bin/env python3
"""CDK entry point of the deploy pipeline (not the endpoints: that is app.py).

    npx cdk deploy --app ".venv/bin/python pipeline_app.py" \
        -c github_connection_arn=arn:aws:codeconnections:REGION:ACCOUNT:connection/ID \
        -c github_repository=OWNER/NAME [-c github_branch=main] [-c stages_file=cicd/stages.yaml]

Synthesizes one stack, llm-endpoints-pipeline (CDK Pipelines), whose stages deploy the endpoints described by
deployments/*.yaml (and the routers of router files, after them) into the accounts of cicd/stages.yaml. Bad or
missing input prints one message and exits 2. Setup, permissions and the flow of a change: docs/ci-cd.md.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from stacks.ci_factory import add_pipeline, run_app

if __name__ == "__main__":
    sys.exit(run_app(add_pipeline))
