"""Reading data: dataset sources and their columns, shards, audio decoding to 16 kHz mono, voice
activity detection, long-form windows and the built-in sample sets.

Imports only the shared modules (``evaluator.errors``, ``evaluator.cache``); never scoring,
models, results, run, report or cli.
"""
