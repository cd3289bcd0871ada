"""evaluator: Ray-distributed batch evaluation of speech models, results in DuckDB.

``import evaluator`` stays cheap: :func:`evaluate` and :func:`open` (see :mod:`evaluator.api`)
import the rest on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "open", "Run", "Database"]

_API = ("evaluate", "open", "Run", "Database")


def __getattr__(name: str) -> Any:
    if name in _API:
        from evaluator import api

        return getattr(api, name)
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
