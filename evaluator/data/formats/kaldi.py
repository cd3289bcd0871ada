"""Source: a Kaldi data directory: ``wav.scp`` (``<recording> <path>``) and ``text``
(``<utterance> <transcript>``), with optional ``segments`` (``<utterance> <recording> <start>
<end>``, seconds; an end of -1 means the end of the file), ``utt2spk`` and ``utt2lang``.

One row per line of ``text``; its id is the utterance id. With ``segments`` each utterance is a
segment of its recording, read by seeking; without it the utterance id is the recording id.
``utt2spk`` gives a ``speaker`` metadata column and ``utt2lang`` the language column. Relative
paths in ``wav.scp`` are read from the data directory (Kaldi recipes usually write absolute ones).

``wav.scp`` entries that are commands (``sph2pipe -f wav a.sph |``) are not run: those utterances
are error rows saying to write the audio to files first. ``text`` is read by position (a
:class:`~evaluator.data.linetable.LineTable`); ``wav.scp``, ``segments``, ``utt2spk`` and
``utt2lang`` are looked up by key in their sorted files (:class:`~evaluator.data.keyed.KeyedFile`),
so a million-utterance directory is not held in memory (a file that is not sorted is).
"""

from __future__ import annotations

import re
from typing import Any

from evaluator.data import paths
from evaluator.data.columns import Columns
from evaluator.data.keyed import KeyedFile
from evaluator.data.linetable import LineTable, bad_row
from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["SOURCES", "is_kaldi_dir", "load_kaldi"]

_ARCHIVE = re.compile(r"\.ark:\d+$")


def is_kaldi_dir(folder: str) -> bool:
    """A folder holding both ``wav.scp`` and ``text``."""
    return paths.isfile(paths.join(folder, "wav.scp")) and paths.isfile(paths.join(folder, "text"))


def load_kaldi(spec: DatasetSpec, folder: str) -> LineTable:
    """The directory's utterances; audio cells are ``{"path", "where"}`` plus ``offset``/``duration``
    for segments, or ``{"error"}`` for an utterance that cannot be found or is a command.

    Raises:
        DatasetError: ``text`` is empty.
    """
    text_path = paths.join(folder, "text")
    if paths.size(text_path) == 0:
        raise DatasetError(f"{text_path} is empty: it lists one utterance per line (<utterance-id> <transcript>)")
    recordings = KeyedFile(paths.join(folder, "wav.scp"))
    segments = KeyedFile(paths.join(folder, "segments"))
    speakers = KeyedFile(paths.join(folder, "utt2spk"))
    languages = KeyedFile(paths.join(folder, "utt2lang"))
    columns = Columns(audio="audio", text="text", id="utt_id", language="language" if languages else None)
    names = ["utt_id", "audio", "text", "recording"] + (["speaker"] if speakers else []) + (
        ["language"] if languages else [])

    def recording_cell(recording: str, why: str) -> dict[str, Any]:
        found = recordings.get(recording)
        if found is None:
            return {"error": f"{why}: recording {recording!r} has no line in wav.scp: add it"}
        location, number = found
        where = f"wav.scp line {number}"
        if location.endswith("|"):
            return {"error": f"{where}: recording {recording!r} is a command ({location}); evaluator reads audio "
                             "files, not commands: run it once to write a WAV file and list that file's path"}
        if _ARCHIVE.search(location):
            return {"error": f"{where}: {location} is a Kaldi archive offset, not an audio file: write the audio "
                             "out as WAV files (e.g. wav-copy) and list their paths"}
        return {"path": paths.join(folder, location), "where": where}

    def parse(record: str, number: int) -> dict[str, Any]:
        utterance, _, transcript = record.strip().partition(" ")
        where = f"text line {number}"
        if segments:
            found = segments.get(utterance)
            if found is None:
                return bad_row(columns, number, f"{where}: utterance {utterance!r} has no line in segments: add it")
            rest, seg_line = found
            fields = rest.split()
            try:
                recording, start, end = fields[0], float(fields[1]), float(fields[2])
            except (IndexError, ValueError):
                return bad_row(columns, number, f"segments line {seg_line} should read <utterance> <recording> "
                               f"<start> <end> (seconds): {utterance} {rest}")
            cell = recording_cell(recording, f"segments line {seg_line}")
            if "path" in cell:
                cell.update(offset=start, duration=None if end < 0 else end - start,
                            where=f"segments line {seg_line}, {cell['where']}")
        else:
            recording = utterance
            cell = recording_cell(recording, where)
        row: dict[str, Any] = {"utt_id": utterance, "audio": cell, "text": transcript.strip(), "recording": recording}
        if speakers:
            row["speaker"] = (speakers.get(utterance) or (None, 0))[0]
        if languages:
            row["language"] = (languages.get(utterance) or (None, 0))[0]
        return row

    return LineTable(text_path, parse, columns, names,
                     id_of=lambda raw: raw.split(maxsplit=1)[0].decode("utf-8", errors="replace"))


SOURCES = (Source("kaldi", "a Kaldi data directory (wav.scp + text)", load_kaldi, detect=is_kaldi_dir, order=20,
                  ids="the utterance id (the first word of each line of text)", natural_id="utt_id"),)
