"""Scoring: languages and text normalizers, WER/CER metrics, alignment and word errors, merging
long-form windows into one transcript, assembling a result row, and bootstrap statistics.

Imports ``evaluator.data`` (windows, audio constants) and the shared modules; never models,
results, run, report or cli.
"""
