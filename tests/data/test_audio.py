"""Decoding dataset audio cells to 16 kHz mono float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluator.data.audio import SAMPLE_RATE, decode_audio, to_mono_16k
from evaluator.errors import AudioDecodeError
from tests.factories import audio_bytes, tone


@pytest.mark.parametrize(
    ("make_cell", "message"),
    [
        pytest.param(lambda d: b"", "empty", id="empty-bytes"),
        pytest.param(lambda d: {"bytes": b"", "path": "clip.wav"}, "clip.wav", id="empty-bytes-in-cell"),
        pytest.param(lambda d: bytearray(), "empty", id="empty-bytearray"),
        pytest.param(lambda d: str(d / "zero.wav"), "empty (0 bytes)", id="zero-byte-file"),
        pytest.param(lambda d: str(d / "missing.wav"), "not found", id="missing-file"),
        pytest.param(lambda d: {"bytes": None, "path": str(d / "gone.flac")}, "gone.flac", id="missing-path"),
        pytest.param(lambda d: b"this is not audio" * 20, "cannot decode", id="garbage-bytes"),
        pytest.param(lambda d: str(d / "garbage.wav"), "garbage.wav", id="garbage-file"),
        pytest.param(lambda d: {"bytes": None, "path": None}, "neither bytes nor a path", id="empty-cell"),
        pytest.param(lambda d: 42, "unsupported audio cell of type int", id="wrong-type"),
        pytest.param(lambda d: None, "unsupported", id="none"),
        pytest.param(lambda d: audio_bytes(np.zeros(0, dtype=np.float32), 16000), "no samples", id="no-frames"),
        pytest.param(lambda d: {"array": [0.0, 0.1], "sampling_rate": 0}, "invalid sampling rate",
                     id="zero-rate"),
        pytest.param(lambda d: {"array": np.zeros((2, 2, 2)), "sampling_rate": 16000}, "1-D or 2-D",
                     id="3d-array"),
    ],
)
def test_decode_errors_are_helpful(tmp_path: Path, make_cell, message: str) -> None:
    (tmp_path / "zero.wav").write_bytes(b"")
    (tmp_path / "garbage.wav").write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(AudioDecodeError) as info:
        decode_audio(make_cell(tmp_path))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("rate", "seconds", "expected_len"),
    [
        (16000, 1.0, 16000),
        (44100, 1.0, 16000),
        (48000, 1.0, 16000),
        (22050, 1.0, 16000),
        (8000, 1.0, 16000),
        (8000, 0.5, 8000),
        (32000, 0.25, 4000),
    ],
)
def test_resampled_length(rate: int, seconds: float, expected_len: int) -> None:
    out = decode_audio(audio_bytes(tone(rate, seconds), rate))
    assert out.dtype == np.float32
    assert out.ndim == 1
    assert abs(len(out) - expected_len) <= 1


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_array_cells(rate: int, dtype) -> None:
    out = decode_audio({"array": tone(rate, 0.5).astype(dtype), "sampling_rate": rate})
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - SAMPLE_RATE // 2) <= 1
    assert out.flags["C_CONTIGUOUS"]
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=0.02)


def test_array_cell_as_list_at_16k_is_unchanged() -> None:
    out = decode_audio({"array": [0.0, 0.25, -0.5, 1.0], "sampling_rate": 16000})
    np.testing.assert_array_equal(out, np.array([0.0, 0.25, -0.5, 1.0], dtype=np.float32))


def test_array_cell_takes_precedence_over_bytes() -> None:
    cell = {"array": np.zeros(160, dtype=np.float32), "sampling_rate": 16000, "bytes": b"junk", "path": None}
    assert len(decode_audio(cell)) == 160


def test_stereo_frames_by_channels_is_downmixed_to_mean() -> None:
    left = tone(16000, 0.25, amplitude=0.8)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # (frames, channels), soundfile's layout
    out = to_mono_16k(stereo, 16000)
    np.testing.assert_allclose(out, left / 2, atol=1e-6)


def test_stereo_array_cell_in_datasets_layout() -> None:
    left = tone(16000, 0.25, amplitude=0.8)
    cell = {"array": np.stack([left, np.zeros_like(left)]), "sampling_rate": 16000}  # (channels, samples)
    out = decode_audio(cell)
    assert out.shape == left.shape


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG"])
@pytest.mark.parametrize("form", ["bytes", "cell", "path", "relative-path", "pathlike"])
def test_cell_forms(tmp_path: Path, fmt: str, form: str) -> None:
    data = audio_bytes(tone(22050, 0.5), 22050, fmt)
    path = tmp_path / f"clip.{fmt.lower()}"
    path.write_bytes(data)
    cell, base_dir = {
        "bytes": (data, None),
        "cell": ({"bytes": data, "path": "elsewhere/clip.wav"}, None),
        "path": (str(path), None),
        "relative-path": ({"bytes": None, "path": path.name}, str(tmp_path)),
        "pathlike": (path, None),
    }[form]
    out = decode_audio(cell, base_dir=base_dir)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - 8000) <= 1
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=0.05)


def test_relative_path_without_base_dir_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match="not found"):
        decode_audio({"bytes": None, "path": "definitely-not-here-1234.wav"})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("form", ["float-wav", "array", "window"])
def test_non_finite_samples_are_an_error_not_a_transcript(tmp_path: Path, bad: float, form: str) -> None:
    """Models handed NaN or infinity write "!!!!!!"; the sample must fail, saying why."""
    from evaluator.data.audio import decode_audio_range

    samples = tone(SAMPLE_RATE, 2.0)
    samples[1000:1010] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")  # a float WAV keeps NaN and infinity
    with pytest.raises(AudioDecodeError, match="10 non-finite samples"):
        if form == "float-wav":
            decode_audio(str(path))
        elif form == "array":
            decode_audio({"array": samples, "sampling_rate": SAMPLE_RATE})
        else:
            decode_audio_range(str(path), 0.0, 1.0)
    assert decode_audio_range(str(path), 1.0, 2.0).size == SAMPLE_RATE  # the clean part still reads


@pytest.mark.parametrize(("audio", "expected"), [
    (np.zeros(0, np.float32), ["all zeros", "0.000 s long"]),
    (np.zeros(SAMPLE_RATE, np.float32), ["all zeros"]),
    (np.full(800, 0.1, np.float32), ["0.050 s long, under 0.1 s"]),
    (np.zeros(800, np.float32), ["all zeros", "0.050 s long"]),
    (np.full(SAMPLE_RATE, 0.1, np.float32), []),
    (np.r_[np.zeros(SAMPLE_RATE - 1), [1e-4]].astype(np.float32), []),  # near silence is audio
])
def test_audio_warning(audio: np.ndarray, expected: list[str]) -> None:
    from evaluator.data.audio import audio_warning

    warning = audio_warning(audio)
    if not expected:
        assert warning is None
    else:
        assert warning is not None and all(part in warning for part in expected)
