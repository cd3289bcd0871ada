"""Model families of the ``transformers`` backend: ``config.json`` -> the adapter that runs it.

See :mod:`evaluator.models.families.base` for the adapter contract. Nothing here imports
transformers or torch: the driver reads a checkpoint's config and picks its family with
:func:`family_for` before any actor starts.
"""

from __future__ import annotations

from evaluator.models.families.base import Family

__all__ = ["FAMILIES", "Family"]

#: Every family, first match wins.
FAMILIES: tuple[type[Family], ...] = ()
