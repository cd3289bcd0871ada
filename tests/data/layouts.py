"""Build each dataset layout from the bundled sample clips (for the format tests): the same clips
and texts as a NeMo manifest, a Kaldi directory, a Common Voice release, a CSV/TSV manifest, a
Parquet folder and WebDataset shards."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import soundfile as sf

from evaluator.data.builtin import sample_data_dir

__all__ = ["CONTAINERS", "clips", "common_voice", "csv_manifest", "encode", "kaldi_dir", "nemo_manifest",
           "parquet_folder", "wav_copy", "webdataset_dir"]


def clips(limit: int | None = None) -> list[dict[str, str]]:
    """The sample set's rows (file_name, id, transcription, language, source), absolute path added."""
    folder = Path(sample_data_dir())
    with open(folder / "metadata.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    for row in rows:
        row["path"] = str(folder / row["file_name"])
    return rows


def nemo_manifest(folder: Path, rows: list[dict[str, str]], copy: bool = True) -> Path:
    """``manifest.jsonl`` with paths relative to it (clips copied under ``audio/``)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        location = row["path"]
        if copy:
            (folder / "audio").mkdir(exist_ok=True)
            shutil.copy(row["path"], folder / "audio" / row["file_name"])
            location = f"audio/{row['file_name']}"
        lines.append(json.dumps({"audio_filepath": location, "text": row["transcription"],
                                 "duration": round(sf.info(row["path"]).duration, 2), "lang": row["language"]}))
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def kaldi_dir(folder: Path, rows: list[dict[str, str]]) -> Path:
    """``wav.scp`` (absolute paths), ``text``, ``utt2spk``, ``utt2lang``, sorted by utterance id."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["id"])
    (folder / "wav.scp").write_text("".join(f"{r['id']} {r['path']}\n" for r in rows))
    (folder / "text").write_text("".join(f"{r['id']} {r['transcription']}\n" for r in rows), encoding="utf-8")
    (folder / "utt2spk").write_text("".join(f"{r['id']} {r['source']}\n" for r in rows))
    (folder / "utt2lang").write_text("".join(f"{r['id']} {r['language']}\n" for r in rows))
    return folder


def common_voice(folder: Path, rows: list[dict[str, str]]) -> Path:
    """``clips/`` + ``test.tsv`` with Common Voice's columns."""
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    header = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale",
              "segment"]
    lines = ["\t".join(header)]
    for row in rows:
        shutil.copy(row["path"], folder / "clips" / row["file_name"])
        lines.append("\t".join([row["source"], row["file_name"], row["transcription"], "2", "0", "", "", "",
                                row["language"], ""]))
    (folder / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def csv_manifest(path: Path, rows: list[dict[str, str]], path_column: str = "wav", text_column: str = "words") -> Path:
    """A CSV (or TSV, by extension) with absolute paths and unusual column names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
                            escapechar="\\" if delimiter == "\t" else None)
        writer.writerow([path_column, text_column, "speaker"])
        for row in rows:
            writer.writerow([row["path"], row["transcription"], row["source"]])
    return path


def parquet_folder(folder: Path, rows: list[dict[str, str]]) -> Path:
    """``data/test-00000-of-00001.parquet`` as the hub stores a dataset: an Audio column of bytes."""
    import datasets

    data = datasets.Dataset.from_dict({
        "audio": [{"bytes": Path(r["path"]).read_bytes(), "path": r["file_name"]} for r in rows],
        "text": [r["transcription"] for r in rows],
        "id": [r["id"] for r in rows],
        "language": [r["language"] for r in rows],
    }).cast_column("audio", datasets.Audio(decode=False))
    (folder / "data").mkdir(parents=True, exist_ok=True)
    data.to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    return folder


def webdataset_dir(folder: Path, rows: list[dict[str, str]], per_shard: int = 8) -> Path:
    """``test-00000.tar``...: ``<key>.flac`` + ``<key>.txt`` per sample."""
    folder.mkdir(parents=True, exist_ok=True)
    for shard, start in enumerate(range(0, len(rows), per_shard)):
        with tarfile.open(folder / f"test-{shard:05d}.tar", "w") as tar:
            for row in rows[start : start + per_shard]:
                for name, data in ((f"{row['id']}.flac", Path(row["path"]).read_bytes()),
                                   (f"{row['id']}.txt", row["transcription"].encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return folder


# (file extension, PyAV codec, container format, encoder sample rate, lossless)
CONTAINERS = (
    (".m4a", "alac", "ipod", None, True),
    (".mka", "pcm_s16le", "matroska", None, True),
    (".webm", "libopus", "webm", 48_000, False),
    (".mp4", "aac", "mp4", None, False),
)


def encode(source: str, path: Path, codec: str, container: str, rate: int | None = None) -> Path:
    """Write a mono 16-bit clip (read with soundfile) in another container with PyAV, in frames of
    the codec's ``frame_size``."""
    import av
    import numpy as np

    samples, source_rate = sf.read(source, dtype="int16")
    rate = rate or source_rate
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        formats = stream.codec_context.codec.audio_formats
        sample_format = formats[0].name if formats else "s16"
        stream.format = sample_format
        resampler = av.AudioResampler(format=sample_format, layout="mono", rate=rate)
        size = stream.codec_context.frame_size or 1024
        pcm = np.asarray(samples, dtype=np.int16).reshape(-1)
        for start in [*range(0, len(pcm), size), None]:
            frame = None
            if start is not None:
                frame = av.AudioFrame.from_ndarray(pcm[None, start : start + size], format="s16", layout="mono")
                frame.sample_rate = source_rate
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return path


def wav_copy(source: str, path: Path) -> Path:
    """The clip as 16-bit PCM WAV (what the lossless containers must decode to)."""
    samples, rate = sf.read(source, dtype="int16")
    sf.write(str(path), samples, rate, subtype="PCM_16")
    return path
