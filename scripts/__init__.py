"""Command-line helpers; each file runs as a script (`python scripts/NAME.py`) and imports in tests."""
