"""The import path external backends use: ``from evaluator.backends import Backend``.

The backends live in :mod:`evaluator.models.backends`; this module re-exports what a backend
outside the package subclasses and returns.
"""

from evaluator.models.backends import BACKENDS, backend_names, get_backend
from evaluator.models.backends.base import Backend, Segment, Transcription

__all__ = ["Backend", "Segment", "Transcription", "BACKENDS", "backend_names", "get_backend"]
