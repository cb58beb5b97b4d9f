"""An AWS Budgets cost budget whose alerts go to the stack's alarm topic and e-mails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aws_cdk import Annotations, Stack
from aws_cdk import aws_budgets as budgets
from constructs import Construct

from llm_constructs.alarm_topic import AlarmTopic

# Regions whose CloudFormation has no AWS::Budgets::Budget: a stack there cannot hold a budget (synth's
# template validation and cfn-lint both refuse it). From cfn-lint 1.58.0's provider schemas, which
# tests/test_endpoint_operations.py compares this list with.
REGIONS_WITHOUT_CLOUDFORMATION_BUDGETS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-3",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "mx-central-1",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)
MAX_EMAIL_SUBSCRIBERS = 10  # AWS Budgets allows 10 e-mail subscribers (plus one SNS topic) per notification


def budgets_in_cloudformation(region: str) -> bool:
    """Can a CloudFormation stack in ``region`` create an AWS::Budgets::Budget?"""
    return region not in REGIONS_WITHOUT_CLOUDFORMATION_BUDGETS


class CostBudget(Construct):
    """A cost budget with one ACTUAL-spend alert per threshold (percent of the amount).

    ``cost_filters`` (default: none, i.e. the whole account) narrows what counts, e.g.
    ``{"Service": ["Amazon SageMaker"]}`` or a cost allocation tag ``{"TagKeyValue": ["user:llm-endpoint$chat"]}``.
    ``budget_name`` (default: one CloudFormation generates) must be unique in the account. Child: ``Budget``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        amount_usd: float,
        time_unit: Literal["DAILY", "MONTHLY"],
        alert_thresholds_percent: Sequence[float],
        topic: AlarmTopic,
        emails: Sequence[str] = (),
        cost_filters: Mapping[str, Sequence[str]] | None = None,
        budget_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if amount_usd <= 0:
            raise ValueError(f"budget amount must be positive, got {amount_usd}")
        if not alert_thresholds_percent or any(t <= 0 for t in alert_thresholds_percent):
            raise ValueError(f"alert thresholds must be positive percentages, got {list(alert_thresholds_percent)}")
        if len(emails) > MAX_EMAIL_SUBSCRIBERS:
            raise ValueError(f"AWS Budgets notifies at most {MAX_EMAIL_SUBSCRIBERS} e-mail addresses, got {len(emails)}")
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)]
        subscribers += [budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=e) for e in emails]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=budget_name,
                budget_type="COST",
                time_unit=time_unit,
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount_usd, unit="USD"),
                cost_filters={k: list(v) for k, v in cost_filters.items()} if cost_filters else None,
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for threshold in sorted(alert_thresholds_percent)
            ],
        )


def cost_budget_where_supported(
    scope: Construct,
    construct_id: str,
    **budget_props: Any,
) -> CostBudget | None:
    """A CostBudget, or, in a region whose CloudFormation has no budgets, none and a synth warning saying so."""
    region = Stack.of(scope).region
    if budgets_in_cloudformation(region):
        return CostBudget(scope, construct_id, **budget_props)
    Annotations.of(scope).add_warning_v2(
        "llm:NoBudget",
        f"No cost budget: CloudFormation in {region} has no AWS::Budgets::Budget. Create the budget in the "
        "Billing console or from a stack in a region that has it (docs/operations.md#budget).",
    )
    return None
