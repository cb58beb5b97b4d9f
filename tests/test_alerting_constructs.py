"""The shared alarm topic and cost budget constructs."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from llm_constructs.alarm_topic import AlarmTopic
from llm_constructs.cost_budget import CostBudget


def build(**budget_props) -> Template:
    stack = Stack(App(), "Alerting", env={"region": "us-east-1"})
    topic = AlarmTopic(stack, "Alarms", display_name="test alarms", emails=["ops@example.com"])
    CostBudget(stack, "Budget", topic=topic, **budget_props)
    return Template.from_stack(stack)


def test_topic_is_encrypted_with_a_rotating_key_and_refuses_plain_http():
    template = build(amount_usd=100, time_unit="DAILY", alert_thresholds_percent=[80, 100])
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "PendingWindowInDays": 7})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


@pytest.mark.parametrize(
    ("resource_type", "policy"), [("AWS::KMS::Key", "KeyPolicy"), ("AWS::SNS::TopicPolicy", "PolicyDocument")]
)
def test_cloudwatch_and_budgets_of_this_account_may_publish(resource_type, policy):
    """Both the key and the topic policy: a topic policy replaces SNS's default one, without which alarms fail
    to publish ("no resource-based policy allows the SNS:Publish action")."""
    template = build(amount_usd=100, time_unit="DAILY", alert_thresholds_percent=[100])
    statements = next(iter(template.find_resources(resource_type).values()))["Properties"][policy]["Statement"]
    allowed = {
        s["Principal"]["Service"]: s["Condition"]
        for s in statements
        if s["Effect"] == "Allow" and "Service" in s.get("Principal", {})
    }
    this_account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert allowed == {"cloudwatch.amazonaws.com": this_account, "budgets.amazonaws.com": this_account}


def test_budget_alerts_each_threshold_to_topic_and_emails():
    template = build(amount_usd=100, time_unit="DAILY", alert_thresholds_percent=[100, 80], emails=["a@example.com"])
    budget = next(iter(template.find_resources("AWS::Budgets::Budget").values()))["Properties"]
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 100, "Unit": "USD"}
    assert budget["Budget"]["TimeUnit"] == "DAILY"
    thresholds = [n["Notification"]["Threshold"] for n in budget["NotificationsWithSubscribers"]]
    assert thresholds == [80, 100]
    subscribers = budget["NotificationsWithSubscribers"][0]["Subscribers"]
    assert [s["SubscriptionType"] for s in subscribers] == ["SNS", "EMAIL"]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"amount_usd": 0, "alert_thresholds_percent": [100]}, "amount must be positive"),
        ({"amount_usd": 10, "alert_thresholds_percent": [0]}, "thresholds must be positive"),
        ({"amount_usd": 10, "alert_thresholds_percent": []}, "thresholds must be positive"),
        ({"amount_usd": 10, "alert_thresholds_percent": [100], "emails": [f"{i}@x.io" for i in range(11)]}, "at most 10"),
    ],
)
def test_bad_budget_props_fail_early(props, message):
    with pytest.raises(ValueError, match=message):
        build(time_unit="MONTHLY", **props)
