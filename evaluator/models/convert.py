"""Derive openai-whisper and transformers Whisper checkpoints from CTranslate2 weights, offline.

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

import base64
import contextlib
import gzip
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CONVERTER_VERSION",
    "Ct2FormatError",
    "Ct2Model",
    "read_ct2_model",
    "openai_state_dict",
    "to_openai_whisper",
    "to_transformers",
    "load_openai_whisper",
    "is_current_openai_whisper",
    "is_current_transformers",
]

# Bump when the derived files change, so caches made by an older converter are rebuilt.
# 2: multilingual generation config defaults to task="transcribe".
CONVERTER_VERSION = 2
MARKER_FILE = "evaluator_convert.json"
_MARKER_KEY = "evaluator_convert_version"

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
_TIME_PRECISION = 0.02


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


# --- openai-whisper -------------------------------------------------------------------------


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def _weight(ct2: Ct2Model, prefix: str) -> np.ndarray:
    """A linear weight, dequantized if CTranslate2 stored it as int8/int16 with a scale."""
    weight = ct2.get(f"{prefix}/weight")
    if weight.dtype.kind == "i":
        scale = ct2.variables.get(f"{prefix}/weight_scale")
        if scale is None:
            raise Ct2FormatError(f"{ct2.path}: {prefix}/weight is quantized without a weight_scale")
        scale = _f32(scale)
        return _f32(weight) / (scale.reshape(-1, *([1] * (weight.ndim - 1))) if scale.ndim else scale)
    return _f32(weight)


def _dims(ct2: Ct2Model) -> dict[str, int]:
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


def openai_state_dict(ct2: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper ``ModelDimensions`` fields and state dict (float32 numpy) from CTranslate2 weights."""
    dims = _dims(ct2)
    sd: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = _weight(ct2, src)
        sd[f"{dst}.bias"] = _f32(ct2.get(f"{src}/bias"))

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = _f32(ct2.get(f"{src}/gamma"))
        sd[f"{dst}.bias"] = _f32(ct2.get(f"{src}/beta"))

    def split(dst: str, src: str, names: tuple[str, ...]) -> None:
        weight, bias = _weight(ct2, src), _f32(ct2.get(f"{src}/bias"))
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
    sd["encoder.positional_embedding"] = _f32(ct2.get("encoder/position_encodings/encodings"))
    for i in range(dims["n_audio_layer"]):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = _f32(ct2.get("decoder/embeddings/weight"))
    sd["decoder.positional_embedding"] = _f32(ct2.get("decoder/position_encodings/encodings"))
    for i in range(dims["n_text_layer"]):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    return dims, sd


def _alignment_heads(ct2: Ct2Model, dims: dict[str, int]) -> list[list[int]] | None:
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
        _MARKER_KEY: CONVERTER_VERSION,
    }
    pairs = _alignment_heads(ct2, dims)
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
    return isinstance(checkpoint, dict) and checkpoint.get(_MARKER_KEY) == CONVERTER_VERSION


# --- transformers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Specials:
    eot: int
    sot: int
    translate: int
    transcribe: int
    sot_lm: int
    sot_prev: int
    no_speech: int
    no_timestamps: int
    languages: dict[str, int]  # "<|en|>" -> id
    ordered: list[str]  # every special token, by id


def _specials(tokenizer_json: dict[str, Any], path: Path) -> _Specials:
    by_content = {t["content"]: int(t["id"]) for t in tokenizer_json.get("added_tokens", [])}
    names = {
        "eot": "<|endoftext|>",
        "sot": "<|startoftranscript|>",
        "translate": "<|translate|>",
        "transcribe": "<|transcribe|>",
        "sot_lm": "<|startoflm|>",
        "sot_prev": "<|startofprev|>",
        "no_speech": "<|nocaptions|>",
        "no_timestamps": "<|notimestamps|>",
    }
    missing = [token for token in names.values() if token not in by_content]
    if missing:
        raise Ct2FormatError(f"{path}: tokenizer.json lacks Whisper special tokens {missing}")
    ids = {key: by_content[token] for key, token in names.items()}
    languages = {
        content: i
        for content, i in by_content.items()
        if ids["sot"] < i < ids["translate"] and re.fullmatch(r"<\|[a-z]{2,3}\|>", content)
    }
    ordered = [c for c, i in sorted(by_content.items(), key=lambda kv: kv[1]) if i <= ids["no_timestamps"]]
    return _Specials(**ids, languages=languages, ordered=ordered)


def _tokenizer_json(ct2: Ct2Model, vocab_size: int) -> tuple[dict[str, Any], _Specials]:
    """The CTranslate2 ``tokenizer.json`` plus Whisper's timestamp tokens, so ids cover the vocabulary."""
    path = ct2.path / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{ct2.path}: tokenizer.json is missing; it is needed for the transformers tokenizer")
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    specials = _specials(tokenizer, path)
    first = specials.no_timestamps + 1
    if any(int(t["id"]) >= first for t in tokenizer["added_tokens"]):
        return tokenizer, specials  # timestamps already present
    count = vocab_size - first
    if count != 1501:
        raise Ct2FormatError(
            f"{path}: expected 1501 timestamp ids after <|notimestamps|> ({first}), vocabulary has {count}"
        )
    for i in range(count):
        tokenizer["added_tokens"].append(
            {
                "id": first + i,
                "content": f"<|{i * _TIME_PRECISION:.2f}|>",
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": False,
            }
        )
    return tokenizer, specials


def _hf_state_dict(openai_sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename an openai-whisper state dict to ``WhisperForConditionalGeneration`` names."""
    attn = {"query": "q_proj", "key": "k_proj", "value": "v_proj", "out": "out_proj"}
    sd: dict[str, np.ndarray] = {}
    for key, value in openai_sd.items():
        parts = key.split(".")
        if key == "encoder.positional_embedding":
            name = "model.encoder.embed_positions.weight"
        elif key == "decoder.positional_embedding":
            name = "model.decoder.embed_positions.weight"
        elif key.startswith("decoder.token_embedding."):
            name = "model.decoder.embed_tokens." + parts[-1]
        elif parts[1] == "ln_post" or parts[1] == "ln":
            name = f"model.{parts[0]}.layer_norm.{parts[-1]}"
        elif parts[1] in ("conv1", "conv2"):
            name = f"model.{key}"
        elif parts[1] == "blocks":
            stack, layer, module = parts[0], parts[2], parts[3]
            prefix = f"model.{stack}.layers.{layer}"
            if module in ("attn", "cross_attn"):
                hf = "self_attn" if module == "attn" else "encoder_attn"
                name = f"{prefix}.{hf}.{attn[parts[4]]}.{parts[5]}"
            elif module == "attn_ln":
                name = f"{prefix}.self_attn_layer_norm.{parts[-1]}"
            elif module == "cross_attn_ln":
                name = f"{prefix}.encoder_attn_layer_norm.{parts[-1]}"
            elif module == "mlp_ln":
                name = f"{prefix}.final_layer_norm.{parts[-1]}"
            elif module == "mlp":
                name = f"{prefix}.{'fc1' if parts[4] == '0' else 'fc2'}.{parts[-1]}"
            else:
                raise KeyError(key)
        else:
            raise KeyError(key)
        sd[name] = value
    return sd


def _transformers_config(ct2: Ct2Model, dims: dict[str, int], specials: _Specials, ffn: tuple[int, int]) -> Any:
    from transformers import WhisperConfig

    suppress = [int(i) for i in ct2.config.get("suppress_ids", [])]
    begin_suppress = [int(i) for i in ct2.config.get("suppress_ids_begin", [220, specials.eot])]
    return WhisperConfig(
        vocab_size=dims["n_vocab"],
        num_mel_bins=dims["n_mels"],
        d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"],
        encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"],
        decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=ffn[0],
        decoder_ffn_dim=ffn[1],
        max_source_positions=dims["n_audio_ctx"],
        max_target_positions=dims["n_text_ctx"],
        decoder_start_token_id=specials.sot,
        bos_token_id=specials.eot,
        eos_token_id=specials.eot,
        pad_token_id=specials.eot,
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        scale_embedding=False,
        activation_function="gelu",
        tie_word_embeddings=True,
    )


def _generation_config(config: Any, specials: _Specials, alignment: list[list[int]] | None) -> Any:
    from transformers import GenerationConfig

    multilingual = config.vocab_size >= 51865
    kwargs: dict[str, Any] = {
        "decoder_start_token_id": specials.sot,
        "bos_token_id": specials.eot,
        "eos_token_id": specials.eot,
        "pad_token_id": specials.eot,
        "max_length": config.max_target_positions,
        "suppress_tokens": list(config.suppress_tokens or []),
        "begin_suppress_tokens": list(config.begin_suppress_tokens or []),
        "is_multilingual": multilingual,
        "no_timestamps_token_id": specials.no_timestamps,
        "prev_sot_token_id": specials.sot_prev,
        "max_initial_timestamp_index": 50,
        "return_timestamps": False,
    }
    if alignment is not None:
        kwargs["alignment_heads"] = alignment
    if multilingual:
        # An English-only model must not carry these: generate() would try to detect the language.
        kwargs["lang_to_id"] = dict(specials.languages)
        kwargs["task_to_id"] = {"translate": specials.translate, "transcribe": specials.transcribe}
        # Without a default task, generate() without `language` detects the language but then
        # prompts <|startoftranscript|><|xx|><|notimestamps|> with no task token, and the model
        # loops ("Never Never Never ..."). The hub checkpoints get it from forced_decoder_ids.
        kwargs["task"] = "transcribe"
    return GenerationConfig(**kwargs)


def to_transformers(ct2: Ct2Model, out_dir: str | os.PathLike[str]) -> Path:
    """Write a ``WhisperForConditionalGeneration`` directory (model, generation config, processor).

    ``WhisperProcessor.from_pretrained(out_dir)`` and
    ``WhisperForConditionalGeneration.from_pretrained(out_dir)`` load it offline. The directory
    is built beside ``out_dir`` and renamed into place (replacing an older one).
    """
    import torch
    from transformers import (
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizer,
    )

    out_dir = Path(out_dir)
    dims, openai_sd = openai_state_dict(ct2)
    tokenizer_json, specials = _tokenizer_json(ct2, dims["n_vocab"])
    sd = _hf_state_dict(openai_sd)
    ffn = (int(sd["model.encoder.layers.0.fc1.weight"].shape[0]), int(sd["model.decoder.layers.0.fc1.weight"].shape[0]))
    config = _transformers_config(ct2, dims, specials, ffn)
    alignment = _alignment_heads(ct2, dims)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    try:
        with torch.device("meta"):
            model = WhisperForConditionalGeneration(config)
        state = {k: torch.from_numpy(v) for k, v in sd.items()}
        state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
        model.load_state_dict(state, strict=True, assign=True)
        model.tie_weights()
        model.generation_config = _generation_config(config, specials, alignment)
        model.eval()
        left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
        if left:
            raise RuntimeError(f"transformers Whisper has tensors the converter does not fill: {left}")
        with _quiet_progress_bars():
            model.save_pretrained(tmp)

        source = tmp / ".ct2-tokenizer"
        source.mkdir()
        (source / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")
        tokenizer = WhisperTokenizer(
            tokenizer_file=str(source / "tokenizer.json"),
            unk_token="<|endoftext|>",
            bos_token="<|endoftext|>",
            eos_token="<|endoftext|>",
            pad_token="<|endoftext|>",  # batching and pipelines need a pad token
            additional_special_tokens=specials.ordered,
            model_max_length=config.max_target_positions,
        )
        feature_extractor = WhisperFeatureExtractor(feature_size=dims["n_mels"])
        WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(tmp)
        shutil.rmtree(source)
        marker = {"version": CONVERTER_VERSION, "source": str(ct2.path), "spec_revision": ct2.revision}
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it owner-only
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def is_current_transformers(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory written by this converter version."""
    try:
        marker = json.loads((Path(path) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("version") == CONVERTER_VERSION


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """No tqdm bars from ``save_pretrained`` in actor logs (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is moved aside first and deleted."""
    for _ in range(5):
        try:
            os.replace(tmp, target)  # atomic when target is absent (or an empty directory)
            return
        except OSError:
            if not target.exists():
                continue
        old = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.old")
        try:
            os.replace(target, old)
        except FileNotFoundError:
            continue  # someone else moved it: try again
        shutil.rmtree(old, ignore_errors=True)
    raise OSError(f"could not move {tmp} into place at {target}")
