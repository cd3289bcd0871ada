"""Exceptions raised at the library's boundaries, each with a message that names the fix, and the
masking of credentials in what those messages (and records) may quote."""

import re

__all__ = ["ConfigError", "DatasetError", "AudioDecodeError", "MissingDependencyError", "DatabaseBusyError",
           "RunBusyError", "mask_credentials"]


class ConfigError(ValueError):
    """A run configuration or model spec is invalid."""


class DatasetError(ValueError):
    """A dataset cannot be opened or lacks a needed column."""


class AudioDecodeError(RuntimeError):
    """One sample's audio cannot be decoded."""


class MissingDependencyError(ImportError):
    """An optional dependency (a backend's extra) is not installed."""


class DatabaseBusyError(RuntimeError):
    """The results file stayed locked by another process longer than we waited."""


class RunBusyError(RuntimeError):
    """A run is held by a live driver (its lease), so it cannot be resumed now."""


# userinfo of a URL (scheme://user:password@host) and secret-looking query parameters
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_SECRET_QUERY = re.compile(
    r"(?i)(?P<key>[?&](?:token|access_token|api_key|apikey|key|sig|signature|password|secret|"
    r"x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#'\"]+")


def mask_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: ``https://user:pass@host/x``
    becomes ``https://***@host/x``, ``?token=abc`` becomes ``?token=***``. Used on every message
    and record that may name a URL (dataset sources, commands, errors)."""
    return _SECRET_QUERY.sub(r"\g<key>***", _USERINFO.sub(r"\g<scheme>***@", text))
