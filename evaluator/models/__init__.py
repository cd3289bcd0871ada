"""Models: the backends (one module per library, a registry by spec prefix), model specs, where
weights come from (bundled, hub, local), CTranslate2 conversion, provenance and CUDA libraries.

Imports ``evaluator.data`` (audio constants), ``evaluator.scoring`` (languages) and the shared
modules; never results, run, report or cli.
"""
