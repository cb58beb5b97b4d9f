"""`python -m migration plan|check ...`: see migration.plan and migration.preflight."""

import sys

from llm_config.cli_env import run_cli
from migration.plan import main

sys.exit(run_cli(main))
