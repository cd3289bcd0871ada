"""Option rules every backend shares: the dtype default per device, the token budget of
generative models, and range checks that name the valid values.

Pure Python (no torch): the driver checks options with these before any actor starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evaluator.errors import ConfigError

__all__ = ["DTYPES", "TOKEN_BUDGET", "check_at_least_one", "check_token_budget", "resolve_dtype", "token_budget"]

DTYPES = ("float32", "float16", "bfloat16")

#: The token budget options of a generative backend and their defaults: ``max_new_tokens`` None
#: scales the cap with the audio (``tokens_per_second``, at least ``min_new_tokens``). Speech is
#: about 3-5 text tokens a second, so only runaway generation reaches the cap.
TOKEN_BUDGET: Mapping[str, Any] = {"max_new_tokens": None, "tokens_per_second": 10.0, "min_new_tokens": 32}


def resolve_dtype(value: str | None, device: str, cuda_default: str = "float16", half_on_cpu: bool = False) -> str:
    """The dtype to load in: ``value``, or ``cuda_default`` on CUDA and float32 elsewhere (CPU, MPS).
    Half precision (float16, bfloat16) is for accelerators only, unless ``half_on_cpu`` (a
    library that runs it there). Raises ``ConfigError`` naming the valid values."""
    name = value if value is not None else (cuda_default if device.startswith("cuda") else "float32")
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r}; valid: {', '.join(DTYPES)}")
    if name != "float32" and not (half_on_cpu or device.startswith("cuda") or device == "mps"):
        raise ConfigError(f"dtype {name} is for accelerators (cuda, mps); on {device} use float32")
    return name


def check_at_least_one(options: Mapping[str, Any], *keys: str) -> None:
    """Raise ``ConfigError`` unless each of ``keys`` is a whole number of at least 1."""
    for key in keys:
        value = options[key]
        try:
            whole = not isinstance(value, bool) and float(value) == int(value) >= 1
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise ConfigError(f"{key} must be at least 1, got {value!r}")


def check_token_budget(options: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` for token budget options (:data:`TOKEN_BUDGET`) out of range."""
    check_at_least_one(options, "min_new_tokens")
    if options["max_new_tokens"] is not None:
        check_at_least_one(options, "max_new_tokens")
    if float(options["tokens_per_second"]) <= 0:
        raise ConfigError(f"tokens_per_second must be positive, got {options['tokens_per_second']}")


def token_budget(options: Mapping[str, Any], audio_seconds: float) -> int:
    """``max_new_tokens`` for a clip: the option when set, else scaled with the audio's length."""
    if options["max_new_tokens"] is not None:
        return int(options["max_new_tokens"])
    return max(int(options["min_new_tokens"]), math.ceil(audio_seconds * float(options["tokens_per_second"])))
