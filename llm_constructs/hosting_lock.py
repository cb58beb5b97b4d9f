"""One endpoint name keeps one hosting kind: a deploy of the other kind under the same stack fails before it deletes.

A Bedrock deploy under a SageMaker endpoint's name (same stack, `llm-NAME`) would otherwise remove the endpoint
(issue: "a Bedrock deploy under a SageMaker endpoint's name deletes that endpoint"). Each hosting kind owns an SSM
parameter with the same name, `/llm-endpoint-hosting/NAME`, under a logical ID of its own. A stack update that
changes the kind must create the other kind's parameter while the first still exists, and SSM refuses a second
parameter of that name. CloudFormation creates and updates resources before it deletes removed ones (the cleanup
phase), so the update fails and rolls back with the endpoint untouched, whatever ran the deploy: `cdk deploy`,
the CDK pipeline or the workflows. The deploy paths of this project check the live stack first and say it plainly
(`migration.preflight`); this parameter is the guard for every other path.
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from llm_config.hosting import HOSTING_LOCK_PREFIX, HOSTING_OUTPUT, HostingKind

# Construct IDs are a contract: renaming one would make CloudFormation replace the lock of every deployed stack.
LOCK_IDS: dict[HostingKind, str] = {"sagemaker": "HostingLockSageMaker", "bedrock": "HostingLockBedrock"}


def add_hosting_lock(stack: Construct, *, endpoint_name: str, kind: HostingKind) -> ssm.StringParameter:
    """The lock parameter of ``kind`` for ``endpoint_name`` and the stack output ``Hosting``, in ``stack``."""
    parameter = ssm.StringParameter(
        stack,
        LOCK_IDS[kind],
        parameter_name=f"{HOSTING_LOCK_PREFIX}/{endpoint_name}",
        description=(
            f"Endpoint {endpoint_name} is hosted on {kind}. A deploy of another hosting kind under this name fails "
            "here instead of deleting the endpoint: use a new endpoint name (docs/bedrock.md)."
        ),
        string_value=kind,
    )
    CfnOutput(stack, HOSTING_OUTPUT, value=kind, description="Hosting kind; a deploy of another kind under this name is refused")
    return parameter
