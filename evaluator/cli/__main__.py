"""`python -m evaluator.cli` runs the command line (same as the `evaluator` script)."""

from evaluator.cli import console

raise SystemExit(console())
