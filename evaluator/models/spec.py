"""Model specs: ``backend:model[?key=value&key=value]``, for example ``faster-whisper:tiny.en``,
``faster-whisper:/models/ct2-small`` or ``faster-whisper:base?beam_size=5&compute_type=float32``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from evaluator.errors import ConfigError

__all__ = ["ModelSpec", "parse_model_spec"]


def _coerce(value: str) -> Any:
    """Turn an option string from a model spec into bool, int, float or str."""
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


@dataclass(frozen=True)
class ModelSpec:
    """One model to evaluate.

    Attributes:
        backend: registered backend name, e.g. ``faster-whisper``.
        model: what the backend loads: a size alias, a local directory or a hub id.
        options: decoding/loading options given after ``?`` in the spec, sorted by key.
    """

    backend: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """The spec as the user wrote it (normalised); the ``model`` column in results."""
        if not self.options:
            return f"{self.backend}:{self.model}"
        return f"{self.backend}:{self.model}?{urlencode(self.options, quote_via=quote, safe='/:')}"

    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse ``backend:model[?k=v&...]`` and check that the backend exists.

    Raises:
        ConfigError: the spec is malformed or names an unknown backend; the message
            lists the valid backends.
    """
    from evaluator.models.backends import backend_names

    valid = ", ".join(backend_names())
    spec = spec.strip()
    backend, sep, rest = spec.partition(":")
    if not sep or not backend or not rest:
        raise ConfigError(
            f"model spec {spec!r} must look like BACKEND:MODEL, e.g. faster-whisper:tiny.en "
            f"(backends: {valid})"
        )
    if backend not in backend_names():
        from evaluator.models.backends import get_backend

        try:
            get_backend(backend)  # an import path names a backend outside the package
        except KeyError as exc:
            if "." in backend:
                raise ConfigError(f"model spec {spec!r}: {exc.args[0]}") from None
            raise ConfigError(f"unknown backend {backend!r} in model spec {spec!r}; valid backends: {valid}, "
                              "or the import path of a Backend subclass (package.module.Class)") from None
    model, _, query = rest.partition("?")
    if not model:
        raise ConfigError(f"model spec {spec!r} names no model after {backend}:")
    options = []
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if not key:
            raise ConfigError(f"empty option name in model spec {spec!r}")
        options.append((key, _coerce(value)))
    return ModelSpec(backend=backend, model=model, options=tuple(sorted(options)))
