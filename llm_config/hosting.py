"""Names the stacks and the deploy checks share about an endpoint's hosting kind (llm_constructs/hosting_lock.py)."""

from __future__ import annotations

from typing import Literal

HostingKind = Literal["sagemaker", "bedrock"]
HOSTING_LOCK_PREFIX = "/llm-endpoint-hosting"  # SSM parameter /llm-endpoint-hosting/NAME, value: the kind
HOSTING_OUTPUT = "Hosting"  # the stack output that names the kind; migration.preflight reads it
