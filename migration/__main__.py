"""`python -m migration plan|check ...`: see migration.plan and migration.preflight."""

import sys

from migration.plan import main

sys.exit(main())
