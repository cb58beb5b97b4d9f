"""Refuse `-c` keys nothing reads: a misspelt key (`-c modle=mixtral`) must not silently deploy the default.

Each entry point declares the keys it reads next to the code that reads them (llm_config.deployment.CONTEXT_KEYS,
stacks.ci_factory.PIPELINE_CONTEXT_KEYS, ...); everything else in the context must belong to the CDK.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from llm_config.errors import ConfigError
from llm_config.yaml_files import unknown_key_fix

# What the CDK itself puts in the context besides our keys: feature flags from cdk.json ("@aws-cdk/...",
# "@aws-cdk-containers/..."), the CLI's settings ("aws:cdk:enable-path-metadata", "aws:cdk:version-reporting",
# "aws:cdk:bundling-stacks", "aws-cdk:enableDiffNoFail", ...) and lookups cached in cdk.context.json
# ("availability-zones:account=...:region=..."). Our keys are snake_case words: never an "@" or a ":".
CDK_KEY_MARKERS = ("@", ":")
# The CDK's keys without such a marker: the CLI's notices and telemetry settings, an aws-cdk-lib override.
CDK_PLAIN_KEYS = frozenset({"acknowledged-issue-numbers", "cli-telemetry", "assets-ecr-repository-name"})


def check_context_keys(context: Mapping[str, Any], known: Collection[str], entry_point: str, doc: str) -> None:
    """Raise ConfigError naming the first key of ``context`` that is neither in ``known`` nor the CDK's."""
    for key in sorted(context):
        if key in known or key in CDK_PLAIN_KEYS or any(marker in key for marker in CDK_KEY_MARKERS):
            continue
        fix = unknown_key_fix(key, sorted(known), doc, spelling="-c {}")
        raise ConfigError(f"-c {key}", None, f"unknown context key: {entry_point} reads no such key", fix)
