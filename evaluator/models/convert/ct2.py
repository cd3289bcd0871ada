"""Reading CTranslate2 Whisper weights: ``model.bin`` parsed into numpy arrays (float32 on request),
the model's dimensions, and the version marker of every derived checkpoint.

CTranslate2 ``model.bin`` layout (little-endian, binary version 6)::

    u32 binary version, string spec name, u32 spec revision, u32 variable count,
    per variable: string name, u8 rank, rank x u32 dims, u8 dtype, u32 byte count, bytes,
    u32 alias count, per alias: string alias, string variable name.

A string is a u16 length (counting a trailing NUL) followed by that many bytes. Self-attention
query/key/value are fused in ``self_attention/linear_0`` and cross-attention key/value in
``attention/linear_1``; Whisper's key projections have no bias (CTranslate2 stores zeros).

Both writers are atomic: they write beside the target and rename, so concurrent processes
deriving the same cache never see half-written files.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CONVERTER_VERSION", "MARKER_FILE", "MARKER_KEY", "TIME_PRECISION", "Ct2FormatError", "Ct2Model",
           "read_ct2_model", "f32", "linear_weight", "model_dims"]

# Bump when the derived files change, so caches made by an older converter are rebuilt.
# 2: multilingual generation config defaults to task="transcribe".
CONVERTER_VERSION = 2
MARKER_FILE = "evaluator_convert.json"
MARKER_KEY = "evaluator_convert_version"

_SUPPORTED_BINARY_VERSIONS = (6,)
# dtype id -> numpy dtype; 5 (bfloat16) is widened to float32 on read.
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),
}
_LAYER = re.compile(r"^(encoder|decoder)/layer_(\d+)/")
# openai-whisper keeps timestamps at 0.02 s resolution over a 30 s window: 1501 tokens.
TIME_PRECISION = 0.02


class Ct2FormatError(ValueError):
    """A file is not a CTranslate2 Whisper model this converter understands."""


@dataclass
class Ct2Model:
    """A parsed CTranslate2 model directory.

    ``variables`` keep their stored dtype (float16 stays float16); writers widen to float32.
    """

    path: Path
    spec: str
    revision: int
    binary_version: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """A variable by name or alias."""
        if name in self.variables:
            return self.variables[name]
        if name in self.aliases and self.aliases[name] in self.variables:
            return self.variables[self.aliases[name]]
        raise KeyError(f"{self.path}: no variable {name!r} in the CTranslate2 model")

    def scalar(self, name: str) -> int:
        return int(self.get(name).reshape(-1)[0])

    def num_layers(self, stack: str) -> int:
        layers = {int(m.group(2)) for n in self.variables if (m := _LAYER.match(n)) and m.group(1) == stack}
        if not layers or layers != set(range(len(layers))):
            raise Ct2FormatError(f"{self.path}: {stack} layers are missing or not numbered 0..N-1")
        return len(layers)


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.data = data
        self.pos = 0
        self.path = path

    def take(self, n: int, what: str) -> int:
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise Ct2FormatError(
                f"{self.path}: truncated or not a CTranslate2 model.bin (needed {n} bytes for {what} at "
                f"offset {start}, file has {len(self.data)})"
            )
        self.pos += n
        return start

    def unpack(self, fmt: str, what: str) -> int:
        size = struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, self.data, self.take(size, what))[0]

    def string(self, what: str) -> str:
        n = self.unpack("H", f"{what} length")
        raw = self.data[self.take(n, what) : self.pos]
        if n == 0 or raw[-1] != 0:
            raise Ct2FormatError(f"{self.path}: malformed {what} at offset {self.pos - n} (no NUL terminator)")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Ct2FormatError(f"{self.path}: malformed {what} at offset {self.pos - n}: {exc}") from None


def read_ct2_model(model_dir: str | os.PathLike[str]) -> Ct2Model:
    """Parse ``model.bin`` (and ``config.json``) of a CTranslate2 Whisper model directory.

    Raises:
        FileNotFoundError: ``model.bin`` is missing.
        Ct2FormatError: the file is truncated, corrupt, or not a Whisper model.
    """
    model_dir = Path(model_dir)
    path = model_dir / "model.bin" if model_dir.is_dir() else model_dir
    if not path.is_file():
        raise FileNotFoundError(f"no CTranslate2 model.bin at {path}")
    data = path.read_bytes()
    r = _Reader(data, path)
    version = r.unpack("I", "binary version")
    if version not in _SUPPORTED_BINARY_VERSIONS:
        raise Ct2FormatError(
            f"{path}: not a supported CTranslate2 model.bin (binary version {version}; "
            f"supported: {', '.join(map(str, _SUPPORTED_BINARY_VERSIONS))})"
        )
    spec = r.string("spec name")
    revision = r.unpack("I", "spec revision")
    if spec != "WhisperSpec":
        raise Ct2FormatError(f"{path}: a {spec or 'unnamed'} model, not WhisperSpec")
    count = r.unpack("I", "variable count")
    variables: dict[str, np.ndarray] = {}
    for index in range(count):
        name = r.string(f"variable {index} name")
        rank = r.unpack("B", f"rank of {name}")
        shape = tuple(r.unpack("I", f"dimension of {name}") for _ in range(rank))
        type_id = r.unpack("B", f"dtype of {name}")
        if type_id not in _DTYPES:
            raise Ct2FormatError(f"{path}: variable {name} has unknown dtype id {type_id}")
        dtype = _DTYPES[type_id]
        nbytes = r.unpack("I", f"byte count of {name}")
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes != expected:
            raise Ct2FormatError(f"{path}: variable {name} has {nbytes} bytes, shape {shape} needs {expected}")
        start = r.take(nbytes, f"data of {name}")
        array = np.frombuffer(data, dtype=dtype, count=nbytes // dtype.itemsize, offset=start).reshape(shape)
        if type_id == 5:  # bfloat16: the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        variables[name] = array
    aliases: dict[str, str] = {}
    for index in range(r.unpack("I", "alias count")):
        alias = r.string(f"alias {index}")
        aliases[alias] = r.string(f"target of alias {alias}")
    if r.pos != len(data):
        raise Ct2FormatError(f"{path}: {len(data) - r.pos} unexpected trailing bytes after the aliases")
    config: dict[str, Any] = {}
    config_path = path.parent / "config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
    model = Ct2Model(path.parent, spec, revision, version, variables, aliases, config)
    for required in ("encoder/conv1/weight", "decoder/embeddings/weight", "encoder/num_heads", "decoder/num_heads"):
        model.get(required)
    return model


def f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def linear_weight(ct2: Ct2Model, prefix: str) -> np.ndarray:
    """A linear weight, dequantized if CTranslate2 stored it as int8/int16 with a scale."""
    weight = ct2.get(f"{prefix}/weight")
    if weight.dtype.kind == "i":
        scale = ct2.variables.get(f"{prefix}/weight_scale")
        if scale is None:
            raise Ct2FormatError(f"{ct2.path}: {prefix}/weight is quantized without a weight_scale")
        scale = f32(scale)
        return f32(weight) / (scale.reshape(-1, *([1] * (weight.ndim - 1))) if scale.ndim else scale)
    return f32(weight)


def model_dims(ct2: Ct2Model) -> dict[str, int]:
    conv1 = ct2.get("encoder/conv1/weight")
    embeddings = ct2.get("decoder/embeddings/weight")
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(ct2.get("encoder/position_encodings/encodings").shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": ct2.scalar("encoder/num_heads"),
        "n_audio_layer": ct2.num_layers("encoder"),
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(ct2.get("decoder/position_encodings/encodings").shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": ct2.scalar("decoder/num_heads"),
        "n_text_layer": ct2.num_layers("decoder"),
    }


