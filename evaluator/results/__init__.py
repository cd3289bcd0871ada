"""Results: the typed row records, the DuckDB store (migrations, views), leaderboards with
intervals, paired comparison (which models pair, per dataset and across runs, by dataset
identity and sample id) with its CI gate, and rescoring of stored runs.

Imports ``evaluator.scoring`` and ``evaluator.data`` and the shared modules; never models, run,
report or cli.
"""
