"""Scoring: languages and text normalizers, scoring profiles (``profiles``: whisper,
open-asr-leaderboard with the leaderboard's ported normalizers in ``openasr``, exact), WER/CER
metrics, alignment and word errors, merging long-form windows into one transcript, sessions of
chunks, assembling a result row, and bootstrap statistics.

Imports ``evaluator.data`` (windows, audio constants) and the shared modules; never models,
results, run, report or cli.
"""
