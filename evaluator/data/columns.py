"""Which columns of a dataset hold the audio, the reference text, the sample id and the language,
and what a row keeps of its other columns (its metadata)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = [
    "first_repeat",
    "AUDIO_COLUMNS",
    "TEXT_COLUMNS",
    "ID_COLUMNS",
    "LANGUAGE_COLUMNS",
    "PATH_COLUMNS",
    "METADATA_VALUE_CHARS",
    "METADATA_MAX_BYTES",
    "ROW_INDEX",
    "NATURAL_ID",
    "manifest_id",
    "Columns",
    "detect_columns",
    "metadata_json",
    "row_metadata",
]

# ``DatasetSpec.id_column`` value meaning "the row index is the sample id".
ROW_INDEX = ""
# The column where a manifest's rows carry their source's own id when the manifest has no id
# column: the audio path as the manifest writes it (a NeMo segment: ``path@offset``).
NATURAL_ID = "@id"


def manifest_id(id_column: str | None) -> str | None:
    """The id column of a manifest's rows for a spec's ``id_column``: the column it names, else
    :data:`NATURAL_ID` (None for :data:`ROW_INDEX`)."""
    if id_column == ROW_INDEX:
        return None
    return NATURAL_ID if id_column is None else id_column

# The extension names are WebDataset members (``<key>.flac``).
AUDIO_COLUMNS = ("audio", "speech", "wav", "file_audio", "flac", "mp3", "ogg", "opus", "m4a", "webm", "mp4")
TEXT_COLUMNS = (
    "text",
    "sentence",
    "transcription",
    "transcript",
    "normalized_text",
    "raw_text",
    "reference",
    "label",
    "txt",  # WebDataset: the ``.txt`` member of each sample
)
ID_COLUMNS = ("id", "sample_id", "utt_id", "utterance_id", "segment_id", "audio_id", "key", "file_id", "__key__")
# Columns that hold an audio file's path, tried after AUDIO_COLUMNS in manifests (CSV, TSV, JSON lines).
PATH_COLUMNS = ("audio_filepath", "audio_path", "path", "file_name", "filename", "filepath", "file", "wav_path")
LANGUAGE_COLUMNS = ("language", "lang", "locale", "language_code")


@dataclass(frozen=True)
class Columns:
    audio: str
    text: str
    id: str | None
    language: str | None


# Caps on what a row keeps of its dataset's other columns: each string value is cut to this many
# characters, and keys are kept in column order while the JSON object stays within the size.
METADATA_VALUE_CHARS = 256
METADATA_MAX_BYTES = 4096


def row_metadata(row: dict[str, Any], columns: Columns) -> dict[str, Any]:
    """The row's scalar columns other than audio, text, id and language: strings (cut to
    :data:`METADATA_VALUE_CHARS` characters), finite numbers and booleans. Lists, dicts, bytes,
    None and NaN are left out; keys are kept in column order while the JSON object stays
    within :data:`METADATA_MAX_BYTES` bytes (later keys are dropped)."""
    import json
    import math

    skip = {columns.audio, columns.text, columns.id, columns.language}
    out: dict[str, Any] = {}
    size = 2
    for key, value in row.items():
        if key in skip:
            continue
        if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
            try:
                value = value.item()
            except (TypeError, ValueError):
                continue
        if isinstance(value, str):
            value = value[:METADATA_VALUE_CHARS]
        elif isinstance(value, bool | int):
            pass
        elif isinstance(value, float):
            if not math.isfinite(value):
                continue
        else:
            continue
        item = len(json.dumps({str(key): value}, ensure_ascii=False).encode()) - 2 + (2 if out else 0)  # ", "
        if size + item > METADATA_MAX_BYTES:
            break
        out[str(key)] = value
        size += item
    return out


def metadata_json(metadata: dict[str, Any]) -> str | None:
    """A sample's metadata as the JSON text stored in ``results.metadata`` (None when empty)."""
    import json

    return json.dumps(metadata, ensure_ascii=False) if metadata else None


def _pick(names: Sequence[str], candidates: Sequence[str], override: str | None, what: str,
          where: str = "the dataset") -> str | None:
    if override:
        if override not in names:
            raise DatasetError(
                f"{what} column {override!r} is not in {where}; columns are: {', '.join(names)}"
            )
        return override
    lowered = {n.lower(): n for n in names}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def _in(where: str) -> str:
    return "" if where == "the dataset" else f" in {where}"


def detect_columns(names: Sequence[str], features: Any, spec: DatasetSpec, *, manifest: bool = False,
                   where: str = "the dataset") -> Columns:
    """Find audio, text, id and language columns, honouring the spec's overrides.

    An ``Audio`` feature wins for the audio column; otherwise the common names are tried (and,
    for a ``manifest`` of paths, :data:`PATH_COLUMNS` after them). ``where`` names the source in
    messages (``test.tsv (line 1, the header)``).
    """
    audio = spec.audio_column
    if audio is None and features is not None:
        from datasets import Audio

        audio = next((n for n in names if isinstance(features.get(n), Audio)), None)
    audio_names = AUDIO_COLUMNS + (PATH_COLUMNS if manifest else ())
    audio = _pick(names, audio_names, audio, "audio", where)
    if audio is None:
        raise DatasetError(
            f"no audio column found among {', '.join(names)}{_in(where)}; pass --audio-column "
            f"(looked for {'' if manifest else 'an Audio feature or '}one of {', '.join(audio_names)})"
        )
    text = _pick(names, TEXT_COLUMNS, spec.text_column, "text", where)
    if text is None:
        raise DatasetError(
            f"no reference text column found among {', '.join(names)}{_in(where)}; pass --text-column "
            f"(looked for {', '.join(TEXT_COLUMNS)})"
        )
    return Columns(
        audio=audio,
        text=text,
        id=None if spec.id_column == ROW_INDEX else _pick(names, ID_COLUMNS, spec.id_column, "id", where),
        language=_pick(names, LANGUAGE_COLUMNS, spec.language_column, "language", where),
    )


def first_repeat(values: Iterable[Any]) -> tuple[Any, int, int] | None:
    """The first value that repeats and the rows (1-based) of its first two occurrences."""
    first: dict[Any, int] = {}
    for k, value in enumerate(values):
        if value in first:
            return value, first[value] + 1, k + 1
        first[value] = k
    return None
