"""Audio for the report's sample browser: each kept sample's clip, read again from the run's dataset
(``runs.config``'s dataset spec, the row's ``dataset``/``split``/``sample_index``) through
:mod:`evaluator.data`, read-only and without Ray.

A clip is embedded as 16 kHz mono Ogg Vorbis (about 28 kbit/s) in a ``data:`` URI while it fits both
the per-clip and the page's total budget; past them a clip stored as a file on disk is linked (``file://``, with a
``#t=`` media fragment for a segment of a longer file), otherwise it is left out with the reason.
A dataset that cannot be opened (moved, hub offline) leaves every clip of it out, and the page says
why; nothing here raises for missing audio.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import pathlib
from typing import Any

from evaluator.report.options import ReportOptions

__all__ = ["CLIP_BYTES_PER_SECOND", "AudioSummary", "attach_audio", "encode_clip"]

# libsndfile's Vorbis at 16 kHz mono, compression level 0.9: about 28 kbit/s on speech here; used to
# skip decoding a clip that cannot fit. (Vorbis, not Opus: libsndfile's Opus encoder ran at about 5x
# real time on this 2-core machine, Vorbis at about 70x; Chromium and Firefox play both.)
CLIP_BYTES_PER_SECOND = 3_600
_LEVEL = 0.9
_BLOCK = 16_000  # samples written to the encoder at a time
_MIME = "audio/ogg"


@dataclasses.dataclass
class AudioSummary:
    """What the page says about its audio.

    Attributes:
        embedded / linked / missing: clips embedded, linked as files, left out.
        embedded_bytes: bytes of embedded audio (encoded, before base64).
        reasons: why clips were left out, each with a count (``{reason: count}``).
    """

    embedded: int = 0
    linked: int = 0
    missing: int = 0
    embedded_bytes: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)

    def leave_out(self, sample: dict[str, Any], reason: str) -> None:
        sample["audio"] = {"note": reason}
        self.missing += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def encode_clip(audio: Any) -> bytes:
    """16 kHz mono float32 samples as an Ogg Vorbis file."""
    import soundfile as sf

    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", 16_000, 1, format="OGG", subtype="VORBIS", compression_level=_LEVEL) as out:
        # In blocks: one write of about 3 minutes or more crashed libsndfile 1.2.2's Vorbis encoder
        # (a segmentation fault) here; 1 s blocks encode files of any length.
        for start in range(0, len(audio), _BLOCK):
            out.write(audio[start:start + _BLOCK])
    return buffer.getvalue()


def _specs(config: dict[str, Any]) -> list[Any]:
    """The dataset specs a run's config names (``dataset``, and ``datasets`` for a suite run)."""
    from evaluator.data.spec import DatasetSpec

    fields = {f.name for f in dataclasses.fields(DatasetSpec)}
    found = [config.get("dataset")] + list(config.get("datasets") or [])
    out = []
    for entry in found:
        if isinstance(entry, dict):
            out.append(DatasetSpec(**{k: v for k, v in entry.items() if k in fields}))
    return out


def _open(spec: Any, split: str) -> Any:
    """The dataset at ``split``, map-style (rows by index); raises on anything unreachable."""
    from evaluator.data.sources import open_dataset

    local = bool(spec.source) and os.path.exists(spec.source)
    if spec.streaming and not local:
        raise ValueError("it was streamed from the hub, whose rows cannot be read by index")
    return open_dataset(dataclasses.replace(spec, split=split, streaming=False), check_ids=False)


def _read_row(opened: Any, index: int) -> Any:
    from evaluator.data.readers import read_row

    return read_row(opened, index)


def _file_link(cell: Any) -> str | None:
    """A ``file://`` URL of the cell's audio file when it is a file on this disk."""
    path = cell.get("path") if isinstance(cell, dict) else cell if isinstance(cell, str) else None
    if not path or not os.path.isabs(path) or not os.path.isfile(path):
        return None
    url = pathlib.Path(path).as_uri()
    if isinstance(cell, dict) and cell.get("offset") is not None:  # a segment of a longer file
        start = float(cell["offset"])
        end = f",{start + float(cell['duration']):.3f}" if cell.get("duration") is not None else ""
        url += f"#t={start:.3f}{end}"
    return url


def attach_audio(con: Any, run_id: str, payload: dict[str, Any], options: ReportOptions,
                 used_bytes: int = 0) -> AudioSummary:
    """Give each sample of the browser's ``payload`` an ``audio`` entry, in payload order:
    ``{"src": data URI, "embedded": true}``, ``{"src": file URL, "embedded": false}`` or
    ``{"note": why there is none}``. ``used_bytes``: embedded already by the page's other runs (the
    cap is the page's). Returns the counts the page states."""
    from evaluator.data.spec import DatasetSpec

    summary = AudioSummary()
    total_cap = int(options.audio_total_mb * 1e6) - used_bytes
    clip_cap = int(options.audio_clip_mb * 1e6)
    if options.audio_total_mb == 0:
        for s in payload["samples"]:
            summary.leave_out(s, "audio turned off (--audio-mb 0)")
        return summary
    (config,) = con.execute("SELECT config FROM runs WHERE run_id = ?", [run_id]).fetchone()
    specs = _specs(json.loads(config) if isinstance(config, str) else (config or {}))
    opened: dict[tuple[str, str], Any] = {}
    for s in payload["samples"]:
        key = (s["set"][0], s["set"][1])
        if key not in opened:
            spec = next((p for p in specs if key[0] in (getattr(p, "name", None), p.source or "builtin:sample")),
                        None)
            if spec is None and len(specs) == 1:  # one dataset: the rows' name is its source as given
                spec = specs[0]
            if spec is None and (key[0].startswith("builtin:") or os.path.isabs(key[0])):
                spec = DatasetSpec(source=key[0])  # a config without a dataset: the rows name a local one
            try:
                if spec is None:
                    raise ValueError("the run's config does not name it")
                opened[key] = _open(spec, key[1])
            except Exception as exc:  # any failure to open: the page says so instead of failing
                opened[key] = f"dataset {key[0]} ({key[1]}) not reachable: {str(exc).splitlines()[0][:200]}"
        source = opened[key]
        if isinstance(source, str):
            summary.leave_out(s, source)
            continue
        if s["idx"] is None:
            summary.leave_out(s, "no row index stored (a streamed dataset)")
            continue
        try:
            row = _read_row(source, s["idx"])
        except Exception as exc:
            summary.leave_out(s, f"row {s['idx']} not readable: {str(exc).splitlines()[0][:200]}")
            continue
        if row.sample_id != s["id"] and str(s["idx"]) != s["id"]:
            summary.leave_out(s, "the dataset changed since the run (the row's id differs)")
            continue
        _place(s, row.audio, summary, clip_cap, total_cap)
    return summary


def _place(s: dict[str, Any], cell: Any, summary: AudioSummary, clip_cap: int, total_cap: int) -> None:
    from evaluator.data.audio import decode_audio

    room = min(clip_cap, total_cap - summary.embedded_bytes)
    encoded = None
    if (s["dur"] or 0) * CLIP_BYTES_PER_SECOND <= room:
        try:
            encoded = encode_clip(decode_audio(cell))
        except Exception as exc:
            summary.leave_out(s, f"audio not decodable: {str(exc).splitlines()[0][:200]}")
            return
    if encoded is not None and len(encoded) <= room:
        s["audio"] = {"src": f"data:{_MIME};base64,{base64.b64encode(encoded).decode('ascii')}", "embedded": True}
        summary.embedded += 1
        summary.embedded_bytes += len(encoded)
        return
    link = _file_link(cell)
    if link is not None:
        s["audio"] = {"src": link, "embedded": False}
        summary.linked += 1
    else:
        why = "over the per-clip limit" if (s["dur"] or 0) * CLIP_BYTES_PER_SECOND > clip_cap else \
            "past the page's audio cap"
        summary.leave_out(s, f"not embedded ({why}) and not a file on disk to link")
