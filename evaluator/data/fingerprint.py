"""A dataset's content fingerprint: what identifies the same data in another checkout, on another
machine, or after an edit.

Each sample gets a digest of its id, its reference and its audio's size in bytes (a segment's
offset and duration too); the dataset's fingerprint is a hash of every (id, digest) pair, sorted by
id. None of it depends on where the data lies: the same folder copied to another path has the same
fingerprint, and a changed reference, an added, removed or re-recorded (resized) clip changes it
and names the samples that changed. Ids and references come from the manifest or metadata already
read to open the dataset; audio is only ``stat``-ed, never read (an audio file re-encoded to the
same size goes unnoticed: ``verify_audio`` hashes the audio's full contents instead, remembered in
the cache keyed by path, size and modification time so a second run reads nothing again). Audio
behind a URL is left out unless ``verify_audio``; a stream has no fingerprint (reading it all is
the run itself). Hub datasets also record the hub revision their cache files came from.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evaluator.data import paths
from evaluator.data.linetable import LineTable
from evaluator.data.opened import OpenedDataset

__all__ = ["Fingerprint", "changed_samples", "fingerprint", "hub_revision"]

_SEP = "\x1f"
_REVISION = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Fingerprint:
    """A dataset's fingerprint.

    Attributes:
        value: sha256 (hex) over the sorted (id, digest) pairs; None for a stream.
        samples: samples covered.
        audio: how audio entered the digests: ``sizes`` (bytes on disk or in the row), ``contents``
            (full hashes, ``verify_audio``), ``none`` (a stream, or audio behind URLs).
        digests: sample id -> its digest (16 hex digits).
        revision: the hub revision of a hub dataset's cache files, when known.
    """

    value: str | None
    samples: int
    audio: str
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    revision: str | None = None


def _file_digest(path: str, cache: Any) -> str:
    """blake2b of a local file's contents, remembered by (path, size, mtime)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if cache is not None:
        row = cache.execute("SELECT digest FROM audio WHERE path = ? AND size = ? AND mtime = ?", key).fetchone()
        if row:
            return str(row[0])
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    if cache is not None:
        cache.execute("INSERT OR REPLACE INTO audio VALUES (?, ?, ?, ?)", (*key, digest))
    return digest


def _url_digest(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with paths.open_binary(path) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _audio_part(cell: Any, verify: bool, cache: Any, sizes: dict[str, int]) -> tuple[str, bool]:
    """What a sample's audio adds to its digest, and whether audio could be read at all."""
    if isinstance(cell, bytes | bytearray):
        return (hashlib.blake2b(cell, digest_size=16).hexdigest() if verify else f"{len(cell)}b"), True
    extra = ""
    if isinstance(cell, dict):
        if cell.get("error"):
            return f"error:{cell['error']}", True
        if cell.get("bytes") is not None:
            return _audio_part(cell["bytes"], verify, cache, sizes)
        if cell.get("offset") is not None:
            extra = f"@{cell['offset']}+{cell.get('duration')}"
        cell = cell.get("path")
    if not isinstance(cell, str) or not cell:
        return "", True
    try:
        if paths.is_url(cell):
            return (_url_digest(cell) + extra, True) if verify else ("", False)
        if verify:
            return _file_digest(cell, cache) + extra, True
        if cell not in sizes:
            sizes[cell] = os.path.getsize(cell)
        return f"{sizes[cell]}b{extra}", True
    except (OSError, ValueError) as exc:
        return f"missing:{type(exc).__name__}", True


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _samples(opened: OpenedDataset, total: int) -> Iterator[tuple[str, str, Any]]:
    """(id, reference, undecoded audio cell) of the first ``total`` rows, as
    :func:`~evaluator.data.readers.read_shard` names them, without building their metadata."""
    cols = opened.columns
    data = opened.data
    if isinstance(data, LineTable):
        for k, row in enumerate(data.rows(0, total)):
            yield (_text(row.get(cols.id)) if cols.id else str(k)), _text(row.get(cols.text)), row.get(cols.audio)
        return
    names = [c for c in dict.fromkeys((cols.id, cols.text, cols.audio)) if c]
    k = 0
    for batch in data.select(range(total)).select_columns(names).iter(batch_size=1000):
        for j in range(len(batch[cols.text])):
            yield ((_text(batch[cols.id][j]) if cols.id else str(k)), _text(batch[cols.text][j]),
                   batch[cols.audio][j])
            k += 1


def _cache() -> Any:
    import sqlite3

    from evaluator.cache import cache_dir

    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(folder / "audio-digests.sqlite", isolation_level=None)
    con.execute("CREATE TABLE IF NOT EXISTS audio (path TEXT, size INTEGER, mtime INTEGER, digest TEXT, "
                "PRIMARY KEY (path, size, mtime))")
    return con


def hub_revision(opened: OpenedDataset) -> str | None:
    """The hub commit a dataset's cache files came from (a 40-hex folder name in their path)."""
    for entry in getattr(opened.data, "cache_files", None) or []:
        for part in str(entry.get("filename", "")).split(os.sep):
            if _REVISION.match(part):
                return part
    return None


def fingerprint(opened: OpenedDataset, max_samples: int | None = None, verify_audio: bool = False) -> Fingerprint:
    """The fingerprint of the samples a run reads (the first ``max_samples``).

    One pass over the ids, references and audio cells (audio stays unread but for its size,
    unless ``verify_audio``)."""
    revision = hub_revision(opened) if opened.kind == "hub" else None
    if opened.streaming:
        return Fingerprint(None, 0, "none", {}, revision)
    total = opened.num_rows or 0
    if max_samples is not None:
        total = min(total, max_samples)
    cache = _cache() if verify_audio else None
    digests: dict[str, str] = {}
    sizes: dict[str, int] = {}  # a file listed once per segment is stat-ed once
    every_audio = True
    try:
        for sample_id, reference, cell in _samples(opened, total):
            audio, known = _audio_part(cell, verify_audio, cache, sizes)
            every_audio &= known
            text = _SEP.join((sample_id, reference, audio))
            digests[sample_id] = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    finally:
        if cache is not None:
            cache.close()
    whole = hashlib.sha256()
    for sid in sorted(digests):
        whole.update(f"{sid}{_SEP}{digests[sid]}\n".encode())
    basis = ("contents" if verify_audio else "sizes") if every_audio else "none"
    return Fingerprint(whole.hexdigest(), len(digests), basis, digests, revision)


def changed_samples(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """The sample ids that differ between two digest maps: ``changed``, ``added``, ``removed``
    (each sorted; empty lists when the data is the same)."""
    return {
        "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
    }
