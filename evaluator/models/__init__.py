"""Models: the Backend contract (contract.py), the backends (one module per library, a registry by
spec prefix), the transformers families, model specs, shared option rules, where weights come from
(bundled, hub, local), CTranslate2 conversion, provenance and CUDA libraries.

Imports ``evaluator.data`` (audio constants), ``evaluator.scoring`` (languages) and the shared
modules; never results, run, report or cli. Inside, backends and families import the contract,
never the registry (``models.backends``), which imports them.
"""
