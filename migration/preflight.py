"""`python -m migration check`: may this deploy run against what is deployed now? Read-only; run before every deploy.

Three checks, each against the live stage, never against a file's idea of it:

1. Hosting kind: the stack `llm-NAME` that exists serves the same kind (SageMaker or Bedrock) as the spec. A change
   of kind under one name would delete the endpoint (llm_constructs/hosting_lock.py is the guard of last resort).
2. Stack state: CloudFormation can take an update (not in progress, not UPDATE_ROLLBACK_FAILED).
3. For a SageMaker spec: the migration step from the live endpoint is safe (migration.sequence) and the endpoint
   is InService.

The CI deploy paths (scripts/ci_stage.py deploy, the CDK pipeline's Preflight step) run it before each deploy and
stop when it refuses; `./tasks.sh deploy-local` runs the hosting check against the emulator. Permissions:
cloudformation:DescribeStacks, sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig and
application-autoscaling:DescribeScalableTargets (the stage's CDK lookup role has them: pass --role-arn).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from llm_config import SageMakerModelConfig
from llm_config.deployment import DeploymentSpec
from llm_config.hosting import HOSTING_OUTPUT
from migration.live import read_live_endpoint
from migration.sequence import Finding, check_transition

# What a stack's outputs say about its kind when it predates the `Hosting` output.
_LEGACY_OUTPUTS = {"EndpointArn": "sagemaker", "InvokePolicyArn": "bedrock"}
KIND_NAMES = {"sagemaker": "a SageMaker endpoint", "bedrock": "Amazon Bedrock"}
RECOVERY_DOC = "docs/migrations.md (a deploy that failed to roll back)"


class LiveStack:
    """The stack `llm-NAME` as CloudFormation reports it (``status`` None: no such stack)."""

    def __init__(self, status: str | None, kind: str | None) -> None:
        self.status = status
        self.kind = kind


def read_live_stack(stack_name: str, cloudformation: Any) -> LiveStack:
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(error):
            return LiveStack(None, None)
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    kind = outputs.get(HOSTING_OUTPUT) or next((k for key, k in _LEGACY_OUTPUTS.items() if key in outputs), None)
    return LiveStack(str(stack["StackStatus"]), kind)


def spec_kind(spec: DeploymentSpec) -> str:
    return "sagemaker" if isinstance(spec.model, SageMakerModelConfig) else "bedrock"


def hosting_findings(spec: DeploymentSpec, stack: LiveStack) -> list[Finding]:
    """Refuse a change of hosting kind under one endpoint name, and a stack CloudFormation cannot update now."""
    findings: list[Finding] = []
    wanted = spec_kind(spec)
    if stack.kind is not None and stack.kind != wanted:
        findings.append(
            Finding(
                "error",
                f"stack {spec.stack_name} serves endpoint {spec.endpoint_name} from {KIND_NAMES[stack.kind]}; this deploy "
                f"of {spec.model.key} would serve it from {KIND_NAMES[wanted]}, and that update deletes what serves it now. "
                f"One endpoint name keeps one hosting kind: deploy {spec.model.key} under a new name "
                f"(-c endpoint={spec.endpoint_name}-{wanted}), move the clients to its parameter, then destroy "
                f"{spec.stack_name} on purpose (docs/bedrock.md).",
            )
        )
    if stack.status == "UPDATE_ROLLBACK_FAILED":
        findings.append(
            Finding(
                "error",
                f"stack {spec.stack_name} is UPDATE_ROLLBACK_FAILED: CloudFormation takes no update until the rollback "
                f"is continued (continue-update-rollback, skipping the resources it names): see {RECOVERY_DOC}.",
            )
        )
    elif stack.status is not None and stack.status.endswith("_IN_PROGRESS"):
        findings.append(Finding("error", f"stack {spec.stack_name} is {stack.status}: wait until it finishes"))
    return findings


def preflight(spec: DeploymentSpec, cloudformation: Any, endpoint_clients: Callable[[], tuple[Any, Any]] | None) -> list[Finding]:
    """Every reason not to deploy ``spec`` now. ``endpoint_clients`` (sagemaker, application-autoscaling) for the
    migration check of a SageMaker spec; None skips it (the hosting check alone)."""
    stack = read_live_stack(spec.stack_name, cloudformation)
    findings = hosting_findings(spec, stack)
    if findings or endpoint_clients is None or spec_kind(spec) != "sagemaker":
        return findings
    sagemaker, autoscaling = endpoint_clients()
    live = read_live_endpoint(spec.endpoint_name, sagemaker, autoscaling)
    findings += check_transition(live.state, spec)
    if live.status and live.status != "InService":
        findings.append(Finding("error", f"the endpoint is {live.status}: wait until it is InService before the next deploy"))
    return findings
