"""CTranslate2 Whisper -> an openai-whisper checkpoint (``whisper.load_model`` reads it), atomically
written; and loading it back with the alignment heads applied."""

from __future__ import annotations

import base64
import contextlib
import gzip
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.models.convert.ct2 import (
    CONVERTER_VERSION,
    MARKER_KEY,
    Ct2FormatError,
    Ct2Model,
    f32,
    linear_weight,
    model_dims,
)

__all__ = ["openai_state_dict", "alignment_heads", "to_openai_whisper", "load_openai_whisper",
           "is_current_openai_whisper"]


def openai_state_dict(ct2: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper ``ModelDimensions`` fields and state dict (float32 numpy) from CTranslate2 weights."""
    dims = model_dims(ct2)
    sd: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = linear_weight(ct2, src)
        sd[f"{dst}.bias"] = f32(ct2.get(f"{src}/bias"))

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = f32(ct2.get(f"{src}/gamma"))
        sd[f"{dst}.bias"] = f32(ct2.get(f"{src}/beta"))

    def split(dst: str, src: str, names: tuple[str, ...]) -> None:
        weight, bias = linear_weight(ct2, src), f32(ct2.get(f"{src}/bias"))
        if weight.shape[0] % len(names) or bias.shape[0] != weight.shape[0]:
            raise Ct2FormatError(f"{ct2.path}: {src} cannot be split into {', '.join(names)}")
        for name, w, b in zip(names, np.split(weight, len(names)), np.split(bias, len(names)), strict=True):
            sd[f"{dst}.{name}.weight"] = np.ascontiguousarray(w)
            if name == "key":
                if np.abs(b).max(initial=0.0) > 1e-6:
                    raise Ct2FormatError(f"{ct2.path}: {src} has a non-zero key bias; Whisper's key has none")
            else:
                sd[f"{dst}.{name}.bias"] = np.ascontiguousarray(b)

    def block(dst: str, src: str, cross: bool) -> None:
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        split(f"{dst}.attn", f"{src}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        if cross:
            norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
            linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
            split(f"{dst}.cross_attn", f"{src}/attention/linear_1", ("key", "value"))
            linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    sd["encoder.positional_embedding"] = f32(ct2.get("encoder/position_encodings/encodings"))
    for i in range(dims["n_audio_layer"]):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = f32(ct2.get("decoder/embeddings/weight"))
    sd["decoder.positional_embedding"] = f32(ct2.get("decoder/position_encodings/encodings"))
    for i in range(dims["n_text_layer"]):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    return dims, sd


def alignment_heads(ct2: Ct2Model, dims: dict[str, int]) -> list[list[int]] | None:
    heads = ct2.config.get("alignment_heads")
    if not heads:
        return None
    pairs = [[int(layer), int(head)] for layer, head in heads]
    for layer, head in pairs:
        if not (0 <= layer < dims["n_text_layer"] and 0 <= head < dims["n_text_head"]):
            raise Ct2FormatError(f"{ct2.path}: alignment head ({layer}, {head}) is outside the decoder")
    return pairs


def _alignment_dump(pairs: list[list[int]], dims: dict[str, int]) -> str:
    """openai-whisper's ``_ALIGNMENT_HEADS`` encoding: base85 of a gzipped bool array."""
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in pairs:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def to_openai_whisper(ct2: Ct2Model, out_path: str | os.PathLike[str]) -> Path:
    """Write an openai-whisper checkpoint loadable by ``whisper.load_model(out_path)``.

    Besides ``dims`` and ``model_state_dict`` it stores ``alignment_heads`` (the dump that
    ``Whisper.set_alignment_heads`` takes; ``whisper.load_model`` ignores it for a file, use
    :func:`load_openai_whisper` to apply it) and the converter version.
    """
    import torch

    out_path = Path(out_path)
    dims, sd = openai_state_dict(ct2)
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(v) for k, v in sd.items()},
        MARKER_KEY: CONVERTER_VERSION,
    }
    pairs = alignment_heads(ct2, dims)
    if pairs is not None:
        checkpoint["alignment_heads"] = _alignment_dump(pairs, dims)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(checkpoint, fh)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out_path


def load_openai_whisper(path: str | os.PathLike[str], device: str = "cpu") -> Any:
    """``whisper.load_model`` plus the alignment heads this module stored (for word timestamps)."""
    import torch
    import whisper

    model = whisper.load_model(str(path), device="cpu")
    checkpoint = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    if checkpoint.get("alignment_heads"):
        model.set_alignment_heads(checkpoint["alignment_heads"])
    return model.to(device)


def is_current_openai_whisper(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a checkpoint written by this converter version."""
    import torch

    try:
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # missing, half-written by another tool, unreadable: derive again
        return False
    return isinstance(checkpoint, dict) and checkpoint.get(MARKER_KEY) == CONVERTER_VERSION


