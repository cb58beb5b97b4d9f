"""The planner: which model, on which hosting, at what monthly cost, for a given traffic (docs/planner.md)."""
