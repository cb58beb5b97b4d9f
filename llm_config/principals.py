"""Who may assume a Bedrock client role: `-c trusted_principals=ARN[,ARN...]` (default: the deploying account)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from llm_config.errors import ConfigError

CONTEXT_KEY = "trusted_principals"
ACCOUNT_ID = re.compile(r"[0-9]{12}")
# IAM trust policies accept accounts, roles and users (not groups or instance profiles).
PRINCIPAL_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(root|(role|user)/[A-Za-z0-9_+=,.@/-]+)")


def trusted_principals_from_context(get_context: Callable[[str], Any]) -> tuple[str, ...]:
    """Account ids and IAM ARNs from `-c trusted_principals` (comma-separated, or a list in cdk.json).

    An empty tuple means the documented default: the deploying account's root, i.e. any principal in
    the account whose own IAM policy allows sts:AssumeRole on the role.
    """
    value = get_context(CONTEXT_KEY)
    if value is None:
        return ()
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    else:
        items = [""]
    if not items or any(not item for item in items):
        raise ConfigError(
            f"-c {CONTEXT_KEY}",
            None,
            f"expected comma-separated account ids or IAM ARNs, got {value!r}",
            f"pass -c {CONTEXT_KEY}=arn:aws:iam::111122223333:role/app,444455556666 or leave it out to trust this account",
        )
    for item in items:
        if not (ACCOUNT_ID.fullmatch(item) or PRINCIPAL_ARN.fullmatch(item)):
            raise ConfigError(
                f"-c {CONTEXT_KEY}",
                None,
                f"{item!r} is neither a 12-digit account id nor an IAM role, user or account-root ARN",
                "use e.g. arn:aws:iam::111122223333:role/chat-app or 111122223333",
            )
    return tuple(dict.fromkeys(items))
