"""How the entry points (the CLI and the Python API) keep Ray and the model libraries quiet
unless asked to be verbose: the worker environment and the level of Ray's own logger."""

from __future__ import annotations

import logging

__all__ = ["QUIET_WORKERS", "quiet_ray"]

# Environment of Ray workers: no transformers advisories or hub progress bars in the output.
QUIET_WORKERS = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_ray(verbose: bool) -> None:
    """Ray's own start-up lines (token authentication, dashboard notices) only with ``verbose``:
    its ``ray`` logger, which Ray sets up when imported, shows errors only."""
    import ray  # noqa: F401  (sets up the "ray" logger, which is then quietened)

    logging.getLogger("ray").setLevel(logging.DEBUG if verbose else logging.ERROR)
