"""The environment every CDK CLI (and jsii) process of this project runs with: nothing reaches the network.

tasks.sh exports the same variables for the commands a user types.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

CDK_CLI_OFFLINE_ENV: dict[str, str] = {
    "CDK_DISABLE_CLI_TELEMETRY": "1",  # no usage telemetry
    "CDK_DISABLE_VERSION_CHECK": "1",  # no daily npm lookup for a newer CLI
    # Node 20 is what fresh machines have; jsii would print a full-screen end-of-life banner on every synth.
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}


def run_cli(main: Callable[[], int]) -> int:
    """``main()``'s exit status, ending quietly when its reader goes away (``./tasks.sh status-local | head``).

    Python's own recipe (docs.python.org, "Note on SIGPIPE"): point stdout at devnull so that the interpreter's final
    flush does not raise again, and exit as a process ended by SIGPIPE does in a shell (128 + 13).
    """
    try:
        status = main()
        sys.stdout.flush()  # a closed pipe shows here, not at exit, when the output fitted in the buffer
        return status
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
