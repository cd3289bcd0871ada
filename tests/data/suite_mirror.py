"""A tiny local mirror of a preset suite's hub datasets: a few bundled clips per entry, laid out as
``--mirror`` expects (``MIRROR/ORG/NAME/CONFIG/SPLIT/metadata.csv``), with the column names the
real datasets use (so the preset's column settings are exercised too)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from evaluator.data.builtin import builtin_dir
from evaluator.data.suites import load_suite

__all__ = ["build_mirror"]


def _clips(language: str, n: int, offset: int) -> list[dict[str, str]]:
    """Bundled clips in ``language`` (English: the sample set's short espeak clips)."""
    folder = builtin_dir("sample") if language == "en" else builtin_dir("multilingual")
    with open(Path(folder) / "metadata.csv", newline="") as fh:
        rows = [dict(r, folder=folder) for r in csv.DictReader(fh)
                if r.get("language") == language and r["file_name"].startswith("espeak")]
    if not rows:
        raise ValueError(f"no bundled clip in {language}")
    return [rows[(offset + k) % len(rows)] for k in range(n)]


def build_mirror(root: Path, preset: str, clips: int = 2, languages: list[str] | None = None) -> Path:
    """Write ``clips`` clips for each entry of ``preset`` under ``root``; returns ``root``."""
    suite = load_suite(preset, languages)
    for k, entry in enumerate(suite.datasets):
        assert entry.source is not None
        folder = root / entry.source / (entry.config or "") / (entry.split or "test")
        folder.mkdir(parents=True, exist_ok=True)
        text = entry.text_column or "transcription"
        with open(folder / "metadata.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file_name", "id", text])
            for row in _clips(entry.language or "en", clips, offset=clips * k):
                shutil.copy(Path(row["folder"]) / row["file_name"], folder / row["file_name"])
                writer.writerow([row["file_name"], row["id"], row["transcription"]])
    return root
