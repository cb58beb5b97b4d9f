"""The migration planner: which phase an endpoint is in, what the next deploy changes, what it costs, whether it is safe.

`./tasks.sh plan-migration --help`; the runbook is docs/migrations.md.
"""
