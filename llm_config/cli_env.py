"""The environment every CDK CLI (and jsii) process of this project runs with: nothing reaches the network.

tasks.sh exports the same variables for the commands a user types.
"""

from __future__ import annotations

CDK_CLI_OFFLINE_ENV: dict[str, str] = {
    "CDK_DISABLE_CLI_TELEMETRY": "1",  # no usage telemetry
    "CDK_DISABLE_VERSION_CHECK": "1",  # no daily npm lookup for a newer CLI
    # Node 20 is what fresh machines have; jsii would print a full-screen end-of-life banner on every synth.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}
