"""Exceptions raised at the library's boundaries, each with a message that names the fix."""

__all__ = ["ConfigError", "DatasetError", "AudioDecodeError", "MissingDependencyError", "DatabaseBusyError"]


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
