"""The checks every synth runs (llm_constructs/nag.py): cdk-nag's AwsSolutions pack and aws-cdk-lib's template
validator, the latter without its default Rego rules, which concern only GameLift."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import aws_cdk
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_gamelift as gamelift
from aws_cdk import aws_ssm as ssm

from llm_constructs.nag import SKIPPED_DEFAULT_REGO_RULES, add_synth_checks
from tests.conftest import CDK_JSON_CONTEXT

RULES_DIR = "package/core/lib/validation/rules/"


def _default_rego_rules() -> dict[str, str]:
    """The default Rego rules inside the installed aws-cdk-lib (its jsii tarball), by file name."""
    [tarball] = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        return {
            Path(member.name).name: archive.extractfile(member).read().decode()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.name.startswith(RULES_DIR) and member.name.endswith(".rego")
        }


def test_the_skipped_default_rules_are_all_aws_cdk_lib_ships_and_concern_only_gamelift():
    """An aws-cdk-lib upgrade that ships another default rule fails here: decide then whether the app needs it."""
    rules = _default_rego_rules()
    assert sorted(rules) == sorted(SKIPPED_DEFAULT_REGO_RULES)
    for text in rules.values():
        resource_types = set(re.findall(r"AWS::\w+::\w+", text))
        assert resource_types and all(kind.startswith("AWS::GameLift::") for kind in resource_types), resource_types


def _app(tmp_path: Path) -> tuple[App, Stack]:
    app = App(context=CDK_JSON_CONTEXT, outdir=str(tmp_path))
    add_synth_checks(app)
    return app, Stack(app, "Checked")


def test_the_template_validator_runs_and_its_errors_fail_synth(tmp_path):
    app, stack = _app(tmp_path)
    parameter = ssm.CfnParameter(stack, "Parameter", type="String", value="v")  # no cdk-nag rule covers it
    parameter.add_property_override("Value", ["not", "a", "string"])  # the schema wants a string
    with pytest.raises(RuntimeError, match=r"ERROR Value: .* is not of type 'string' \(CloudFormation Validate\)"):
        app.synth()


def test_the_default_gamelift_rules_do_not_run(tmp_path):
    """An inverted port range on a GameLift fleet: aws-cdk-lib's default rules refuse it, this app's synth does not
    load them (SKIPPED_DEFAULT_REGO_RULES; the app creates no GameLift resource)."""
    app, stack = _app(tmp_path)
    fleet = gamelift.CfnFleet(stack, "Fleet", name="fleet", ec2_instance_type="c5.large")
    fleet.add_property_override(
        "EC2InboundPermissions", [{"FromPort": 2000, "ToPort": 1000, "IpRange": "10.0.0.0/8", "Protocol": "TCP"}]
    )
    for rule in ("AwsSolutions-GL1", "AwsSolutions-GL2"):  # cdk-nag's own GameLift rules are not this test's subject
        aws_cdk.Validations.of(fleet).acknowledge(aws_cdk.Acknowledgment(id=rule, reason="test fixture"))
    app.synth()  # with the default rules: "ERROR ... port range is inverted ... CDK-GameLift-001"
