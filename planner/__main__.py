"""`python -m planner --help`."""

import sys

from llm_config.cli_env import run_cli
from planner.cli import main

sys.exit(run_cli(main))
