"""The report's options (re-exported by :mod:`evaluator.report.html`, where callers import them)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReportOptions"]


@dataclass
class ReportOptions:
    """How the report is built.

    Attributes:
        max_samples: samples in the sample browser at most. Past it the browser keeps the
            samples with the most word errors summed over models (error rows first) and says so
            on the page; the charts and tables always use every row.
        max_flagged: rows listed in the long-form flags table at most (counts are always complete).
        max_seam_charts: long files whose seams are charted (the seam table lists all of them).
        resamples: bootstrap resamples of the confidence intervals.
        seed: bootstrap seed (the same seed gives the same intervals).
        audio_total_mb: embedded audio in the page at most, in MB (10^6 bytes) of encoded audio
            (16 kHz mono Ogg Vorbis, about 3.6 kB a second); past it clips stored as files are linked
            (``file://``) and the rest have no player. 0 embeds none and reads no dataset. The page
            states the cap and what it embedded. CLI: ``--audio-mb``.
        audio_clip_mb: one clip embedded at most, in MB; a longer clip is linked if it is a file.
    """

    max_samples: int = 1000
    max_flagged: int = 200
    max_seam_charts: int = 4
    resamples: int = 1000
    seed: int = 0
    audio_total_mb: float = 20.0
    audio_clip_mb: float = 2.0

    def __post_init__(self) -> None:
        for name in ("audio_total_mb", "audio_clip_mb"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"ReportOptions.{name} must be a number >= 0 (MB), got {value!r}")
        for name in ("max_samples", "max_flagged", "max_seam_charts", "resamples"):
            value = getattr(self, name)
            minimum = 1 if name == "resamples" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"ReportOptions.{name} must be an integer >= {minimum}, got {value!r}")
