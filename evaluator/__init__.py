"""evaluator: Ray-distributed batch evaluation of speech models, results in DuckDB."""

__version__ = "0.1.0"

__all__ = ["__version__"]
