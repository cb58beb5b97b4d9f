import sys

from evaluation.cli import main
from llm_config.cli_env import run_cli

sys.exit(run_cli(main))
