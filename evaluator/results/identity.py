"""What makes two stored rows the same sample, in one run or across runs: the same dataset
identity and the same sample id. Comparisons (and anything else that pairs rows across runs) ask
this module and nothing else, so changing what identifies a dataset is one edit here.
"""

from __future__ import annotations

__all__ = ["dataset_identity_sql"]


def dataset_identity_sql(alias: str = "") -> str:
    """SQL expression (VARCHAR) of a ``results`` row's dataset identity; ``alias``: the table's
    alias in the query, if any.

    Today a dataset is identified by its name in the run (``results.dataset``: a suite entry's
    ``name``, else its source, a local path made absolute) and its split, so the same data read
    from another path is another dataset.
    """
    p = f"{alias}." if alias else ""
    return f"({p}dataset || chr(31) || {p}split)"
