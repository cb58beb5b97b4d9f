"""The checks every synth runs (cdk-nag's AwsSolutions pack, aws-cdk-lib's template validator) and cdk-nag
acknowledgements: every one carries the reason a reviewer needs."""

from __future__ import annotations

import os
from functools import cache

from aws_cdk import Acknowledgment, App, CloudFormationValidatePlugin, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

# The Rego rules aws-cdk-lib 2.275.0 adds to its built-in validator by default (core/lib/validation/rules/): GameLift
# fleet and alias checks only. This app creates no GameLift resource, yet loading them builds a second (Rego) engine
# on every synth, which costs more CPU than cdk-nag (README.md, Development notes). tests/test_synth_checks.py fails
# when an aws-cdk-lib upgrade ships other default rules, so that the upgrade decides whether to take them.
SKIPPED_DEFAULT_REGO_RULES = ("gamelift-fleet.rego",)


def add_synth_checks(app: App) -> None:
    """cdk-nag's AwsSolutions pack (a finding fails synth) and aws-cdk-lib's built-in CloudFormation validator
    (schemas and its built-in rules) without the default Rego rules, SKIPPED_DEFAULT_REGO_RULES.

    `CDK_VALIDATION=false` (or `cdk synth --no-validation`) still skips the validator, as it does the default one.
    The validator must be registered on the App, not a Stage (aws-cdk-lib refuses it there).
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if os.environ.get("CDK_VALIDATION") != "false":  # aws-cdk-lib reads the same variable for its default instance
        Validations.of(app).add_plugins(_template_validator())


@cache
def _template_validator() -> CloudFormationValidatePlugin:
    """One validator per process, like aws-cdk-lib's default instance: building its engine takes seconds of CPU, and
    it keeps no state between validations (the tests synthesize many apps in one process)."""
    return CloudFormationValidatePlugin(include_default_rules=False)


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge the cdk-nag finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
