"""Data sources, one module each: every module here declares ``SOURCES`` (see
:class:`evaluator.data.registry.Source`): its kind's name, how it is recognised and how it loads.
The registry (:mod:`evaluator.data.registry`) lists this package, so a new format is one new module.

Imports only ``evaluator.data`` and the shared modules.
"""
