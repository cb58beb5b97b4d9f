#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c model=KEY [-c endpoint=NAME] [-c region=REGION]`.

Bad input prints one message naming the file, field and fix, and exits 2: no traceback, no template.
"""

from __future__ import annotations

import os
import sys

# Node 20 is what fresh machines have; jsii would print a full-screen end-of-life banner on every synth.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App

from llm_config import ConfigError, load_registry
from planner.deploy_cost import deployment_cost_line
from stacks.app_factory import add_deployment
from stacks.cli_selection import requested_stacks, selection_error, unmatched
from stacks.router_stack import RouterStack


def main() -> int:
    app = App()
    try:
        registry = load_registry()  # once per synth: the stack, the selection check and the cost line share it
        stack = add_deployment(app, os.environ, registry)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    request = requested_stacks()  # `cdk destroy NAME`: the CLI would find no NAME, say so and exit 0
    if unmatched(request, stack.stack_name):
        assert request is not None
        print(selection_error(request, stack.stack_name, registry.known_names()), file=sys.stderr)
        return 2
    app.synth()
    if isinstance(stack, RouterStack):
        print(f"Router {stack.stack_name}: no hosting cost of its own (its routes bill as deployed)", file=sys.stderr)
        return 0
    context = app.node.get_all_context().get  # one jsii call, not one per key
    print(deployment_cost_line(context, os.environ, registry), file=sys.stderr)  # stdout carries the template
    return 0


if __name__ == "__main__":
    sys.exit(main())
