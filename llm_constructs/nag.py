"""cdk-nag acknowledgements: every one carries the reason a reviewer needs."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge the cdk-nag finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope``."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
