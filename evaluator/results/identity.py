"""What makes two stored rows the same sample, in one run or across runs: the same dataset
identity and the same sample id. Comparisons (and anything else that pairs rows across runs) ask
this module and nothing else, so changing what identifies a dataset is one edit here.
"""

from __future__ import annotations

__all__ = ["dataset_identity_sql"]


def dataset_identity_sql(alias: str = "") -> str:
    """SQL expression (VARCHAR) of a ``results`` row's dataset identity; ``alias``: the table's
    alias in the query, if any.

    A dataset is identified by its name in the run (``results.dataset``: ``--dataset NAME=PATH``,
    a suite entry's ``name``, else the last part of its path or hub id, never a location) and its
    split, so the same data read from another checkout pairs fully. Whether it is the same
    *content* is the fingerprint's job (``dataset_fingerprints``, checked by ``--resume``); the
    references and durations of paired samples are checked equal before comparing.
    """
    p = f"{alias}." if alias else ""
    return f"({p}dataset || chr(31) || {p}split)"
