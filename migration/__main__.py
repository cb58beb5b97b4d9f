"""`python -m migration plan ...`: see migration.plan."""

import sys

from migration.plan import main

sys.exit(main())
