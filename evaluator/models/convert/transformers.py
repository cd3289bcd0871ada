"""CTranslate2 Whisper -> a transformers ``WhisperForConditionalGeneration`` directory (weights,
config, generation config, tokenizer), atomically written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluator.models.convert.ct2 import CONVERTER_VERSION, MARKER_FILE, TIME_PRECISION, Ct2FormatError, Ct2Model
from evaluator.models.convert.openai_whisper import alignment_heads, openai_state_dict

__all__ = ["to_transformers", "is_current_transformers"]


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
                "content": f"<|{i * TIME_PRECISION:.2f}|>",
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
    alignment = alignment_heads(ct2, dims)

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
