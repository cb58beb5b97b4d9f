"""One stack per router: the client parameter ``/llm-endpoints/NAME`` with the routes and the sealed policy.

No IAM: a router adds no access. Callers need ``ssm:GetParameter`` on the router's parameter (as on any endpoint's)
and the routes' own invoke access; the client calls the routes with the caller's credentials.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from routing.router_spec import RouterSpec
from stacks.sagemaker_endpoint_stack import CLIENT_PARAMETER_PREFIX


class RouterStack(Stack):
    """``spec``: the router (routing.router_spec). A parameter over 4 KB is written in the advanced tier."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: RouterSpec, **stack_props: Any) -> None:
        super().__init__(scope, construct_id, **stack_props)
        self.client_parameter = ssm.StringParameter(
            self,
            "ClientParameter",
            parameter_name=f"{CLIENT_PARAMETER_PREFIX}/{spec.name}",
            description=f"How client apps call router {spec.name}: routes {spec.weak} (weak), {spec.strong} (strong) (JSON)",
            string_value=spec.parameter_value(),
            tier=ssm.ParameterTier.ADVANCED if spec.advanced else ssm.ParameterTier.STANDARD,
        )
        CfnOutput(
            self, "ClientParameterName", value=self.client_parameter.parameter_name, description="SSM parameter with the router"
        )
        CfnOutput(self, "Routes", value=f"{spec.weak},{spec.strong}", description="weak, strong")
        CfnOutput(self, "PolicySha256", value=str(spec.policy["sha256"]), description=f"of {spec.policy_source}")
