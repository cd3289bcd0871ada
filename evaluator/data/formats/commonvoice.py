"""Source: a Common Voice release folder (one locale): ``test.tsv``, ``dev.tsv``, ``train.tsv``,
``validated.tsv``... beside ``clips/``, each TSV with ``path`` (the clip's file name in ``clips/``),
``sentence`` and, in recent releases, ``locale``.

Each TSV whose header has ``path`` and ``sentence`` is a split named after the file (``test``
is the default). ``locale`` is the language column; ``client_id``, ``age``, ``gender``,
``accents``, ``up_votes``... go to the row's metadata. Rows are read by position, as for any TSV
manifest (:mod:`evaluator.data.formats.delimited`).
"""

from __future__ import annotations

from evaluator.data import paths
from evaluator.data.columns import Columns, manifest_id
from evaluator.data.formats.delimited import load_delimited, read_header
from evaluator.data.linetable import LineTable
from evaluator.data.registry import Source
from evaluator.data.spec import DatasetSpec
from evaluator.errors import DatasetError

__all__ = ["SOURCES", "is_common_voice", "load_common_voice"]


def _tsvs(folder: str) -> list[str]:
    return [n for n in paths.listdir(folder) if n.endswith(".tsv")]


def is_common_voice(folder: str) -> bool:
    """A folder with ``clips/`` and at least one ``.tsv`` file."""
    return paths.isdir(paths.join(folder, "clips")) and bool(_tsvs(folder))


def load_common_voice(spec: DatasetSpec, folder: str) -> dict[str, LineTable]:
    """One table per split TSV. Only the chosen split (``spec.split``, else ``test``, else the
    only one) is indexed; the others are listed for messages.

    Raises:
        DatasetError: no TSV has ``path`` and ``sentence`` columns, or the split is missing.
    """
    splits = {}
    for name in _tsvs(folder):
        header, _ = read_header(paths.join(folder, name))
        if "path" in header and "sentence" in header:
            splits[name.removesuffix(".tsv")] = header
    if not splits:
        raise DatasetError(f"{folder} has clips/ but no TSV with 'path' and 'sentence' columns (a Common Voice "
                           "release has test.tsv, dev.tsv, train.tsv...)")
    wanted = spec.split or ("test" if "test" in splits else next(iter(splits)) if len(splits) == 1 else None)
    if wanted is None or wanted not in splits:
        raise DatasetError(f"split {wanted!r} is not in {folder}; its splits (TSV files) are {', '.join(splits)}: "
                           "choose one with --split" if wanted else
                           f"{folder} has several splits ({', '.join(splits)}); choose one with --split")
    header = splits[wanted]
    language = spec.language_column or ("locale" if "locale" in header else None)
    columns = Columns(audio=spec.audio_column or "path", text=spec.text_column or "sentence",
                      id=manifest_id(spec.id_column), language=language)
    table = load_delimited(spec, paths.join(folder, f"{wanted}.tsv"), base=paths.join(folder, "clips"),
                           columns=columns)
    return {wanted: table}


SOURCES = (Source("commonvoice", "a Common Voice release (clips/ + test.tsv)", load_common_voice,
                  detect=is_common_voice, order=30, ids="the clip's file name (the path column)"),)
