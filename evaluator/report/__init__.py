"""The self-contained HTML report of a run: its data queries, its HTML and its static files.

Imports ``evaluator.results`` and ``evaluator.scoring``; never run or cli.
"""
