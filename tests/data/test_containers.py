"""Audio in the containers phones, browsers and video platforms write (ALAC/AAC ``.m4a``, ``.mp4``,
WebM/Opus, Matroska) decodes through PyAV: lossless ones to exactly the WAV's samples, with seeking
for windows and segments, and an audiofolder of them reads like one of FLAC files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluator.data.audio import SAMPLE_RATE, audio_duration, decode_audio, decode_audio_range
from evaluator.data.readers import read_shard
from evaluator.data.shards import plan_shards
from evaluator.data.sources import open_dataset
from evaluator.data.spec import DatasetSpec
from evaluator.errors import AudioDecodeError
from tests.data import layouts
from tests.factories import write_audiofolder

CLIP = max(layouts.clips(6), key=lambda r: Path(r["path"]).stat().st_size)  # the longest of the first six


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("containers")
    out = {".wav": layouts.wav_copy(CLIP["path"], folder / "clip.wav")}
    for ext, codec, container, rate, _ in layouts.CONTAINERS:
        out[ext] = layouts.encode(CLIP["path"], folder / f"clip{ext}", codec, container, rate)
    return out


@pytest.mark.parametrize(("ext", "lossless"), [(c[0], c[4]) for c in layouts.CONTAINERS])
def test_each_container_decodes_like_the_wav(encoded: dict[str, Path], ext: str, lossless: bool) -> None:
    wav = decode_audio(str(encoded[".wav"]))
    out = decode_audio(str(encoded[ext]))
    assert out.dtype == np.float32 and out.ndim == 1
    if lossless:
        np.testing.assert_array_equal(out, wav)
    else:  # lossy codecs: same length within a codec frame of priming/padding, same signal
        assert abs(len(out) - len(wav)) <= 2048
        n = min(len(out), len(wav))
        shift = int(np.argmax(np.correlate(out[:8000], wav[:8000], "full"))) - 7999
        a, b = (out[shift:n], wav[: n - shift]) if shift >= 0 else (out[: n + shift], wav[-shift:n])
        assert np.corrcoef(a, b)[0, 1] > 0.9
    assert audio_duration(str(encoded[ext])) == pytest.approx(len(wav) / SAMPLE_RATE, abs=0.15)


@pytest.mark.parametrize("ext", [c[0] for c in layouts.CONTAINERS if c[4]])
def test_windows_and_segments_seek_in_lossless_containers(encoded: dict[str, Path], ext: str) -> None:
    wav = decode_audio(str(encoded[".wav"]))
    path = str(encoded[ext])
    np.testing.assert_array_equal(decode_audio_range(path, 1.0, 2.5), wav[SAMPLE_RATE : int(2.5 * SAMPLE_RATE)])
    cell = {"path": path, "offset": 0.5, "duration": 1.0}
    np.testing.assert_array_equal(decode_audio(cell), wav[SAMPLE_RATE // 2 : int(1.5 * SAMPLE_RATE)])
    assert audio_duration(cell) == pytest.approx(1.0)


def test_bytes_of_a_container_decode_too(encoded: dict[str, Path]) -> None:
    data = encoded[".m4a"].read_bytes()
    np.testing.assert_array_equal(decode_audio({"bytes": data, "path": None}), decode_audio(str(encoded[".wav"])))


def test_an_audiofolder_of_every_container_reads_every_clip(encoded: dict[str, Path], tmp_path: Path) -> None:
    write_audiofolder(tmp_path, {path.name: path for path in encoded.values()},
                      [{"file_name": path.name, "transcription": f"clip as {ext}"} for ext, path in encoded.items()])
    spec = DatasetSpec(source=str(tmp_path))
    opened = open_dataset(spec)
    _, shards = plan_shards(opened, spec, 10, None)
    samples = list(read_shard(opened, shards[0]))
    assert len(samples) == 5
    for sample in samples:
        assert decode_audio(sample.audio).size > SAMPLE_RATE


def test_a_file_that_is_no_audio_names_both_decoders(tmp_path: Path) -> None:
    path = tmp_path / "notes.m4a"
    path.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioDecodeError, match=r"cannot decode audio \(.*notes.m4a\)"):
        decode_audio(str(path))
    other = tmp_path / "notes.xyz"
    other.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioDecodeError, match=r"soundfile: .*Format not recognised"):
        decode_audio(str(other))
