"""Tiny random-weight models in the exact on-disk layout the real loaders read, built offline.

They exercise the backends' real ``from_pretrained`` code paths (config parsing, tokenizer
loading, weight loading, generation) in well under a second each on CPU. Their output is
garbage (random weights) but deterministic: every builder seeds torch.

- :func:`make_tiny_lfm2_audio`: a folder that ``liquid_audio.LFM2AudioModel.from_pretrained(Path)``
  and ``LFM2AudioProcessor.from_pretrained(Path)`` load: ``config.json`` (the LFM2-Audio layout:
  ``preprocessor``, ``encoder``, ``lfm``, ``depthformer`` sections), ``model.safetensors`` (read by
  accelerate's ``load_checkpoint_in_model``) and a byte-level tokenizer (``tokenizer.json`` +
  ``tokenizer_config.json``) with the special ids liquid-audio hard-codes (7 ``<|im_end|>``,
  128 ``<|audio_start|>``, 130 ``<|text_end|>``). No Mimi or detokenizer weights: ASR needs neither.
- :func:`make_tiny_seamless_m4t`: a ``SeamlessM4Tv2ForSpeechToText`` checkpoint with a
  ``SeamlessM4TProcessor`` (feature extractor + tokenizer with ``__eng__``-style language tokens)
  and an explicit ``generation_config.json`` holding ``text_decoder_lang_to_code_id``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["make_tiny_lfm2_audio", "make_tiny_seamless_m4t", "offline", "SEAMLESS_LANGUAGES"]

SEED = 0


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hugging Face Hub offline mode for the duration (``HF_HUB_OFFLINE=1``). huggingface_hub
    reads the variable once at import, so its constant is switched too; both are restored."""
    import huggingface_hub.constants as hub_constants

    saved_env = os.environ.get("HF_HUB_OFFLINE")
    saved_flag = hub_constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved_env


# ---------------------------------------------------------------------------------------------
# LFM2.5-Audio
# ---------------------------------------------------------------------------------------------

# Special tokens at the ids liquid-audio hard-codes (processor/ChatState and generate_sequential).
_LFM_SPECIALS = {
    0: "<|pad|>",
    1: "<|startoftext|>",
    2: "<|endoftext|>",
    3: "<|fim_pre|>",
    4: "<|fim_mid|>",
    5: "<|fim_suf|>",
    6: "<|im_start|>",
    7: "<|im_end|>",
    8: "<|tool_list_start|>",
    9: "<|tool_list_end|>",
    128: "<|audio_start|>",
    129: "<|audio_end|>",
    130: "<|text_end|>",
    131: "<|reserved_131|>",
}
_LFM_VOCAB_SIZE = len(_LFM_SPECIALS) + 256  # specials + the 256 byte-level symbols
_LFM_BLOCK_GAIN = 10.0


def _lfm_tokenizer():
    """A byte-level BPE without merges (one token per byte) with the LFM2 special ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_symbols = list(pre_tokenizers.ByteLevel.alphabet())
    byte_symbols.sort()
    vocab: dict[str, int] = {}
    free_ids = (i for i in range(_LFM_VOCAB_SIZE) if i not in _LFM_SPECIALS)
    for symbol in byte_symbols:
        vocab[symbol] = next(free_ids)
    for token_id, token in _LFM_SPECIALS.items():
        vocab[token] = token_id
    assert sorted(vocab.values()) == list(range(_LFM_VOCAB_SIZE))

    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _LFM_SPECIALS.values()])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|startoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
    )


def _lfm_config() -> dict:
    return {
        "architectures": ["LFM2AudioModel"],
        "codebooks": 8,
        "tie_audio_embeddings": False,
        "semantic_codebook_factor": 100,
        "codebook_weight": "log",
        "interleaved_n_text": 6,
        "interleaved_n_audio": 12,
        "preprocessor": {
            "sample_rate": 16000,
            "normalize": "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 128,  # liquid-audio asserts 128 mel bins
            "n_fft": 512,
            "log": True,
            "frame_splicing": 1,
            "dither": 1e-05,
            "pad_to": 0,
            "pad_value": 0.0,
        },
        "encoder": {
            "feat_in": 128,
            "feat_out": -1,
            "n_layers": 1,
            "d_model": 32,
            "subsampling": "dw_striding",
            "subsampling_factor": 8,  # liquid-audio's mel2emb_len assumes 8
            "subsampling_conv_channels": 16,
            "causal_downsampling": False,
            "reduction": None,
            "reduction_position": None,
            "reduction_factor": 1,
            "ff_expansion_factor": 2,
            "self_attention_model": "rel_pos",
            "n_heads": 2,
            "att_context_size": [-1, -1],
            "xscaling": False,  # True hits a NameError in liquid-audio 1.3.0 (math not imported)
            "untie_biases": True,
            "pos_emb_max_len": 5000,
            "conv_kernel_size": 9,
            "conv_norm_type": "batch_norm",
            "conv_context_size": None,
            "dropout": 0.0,
            "dropout_pre_encoder": 0.0,
            "dropout_emb": 0.0,
            "dropout_att": 0.0,
        },
        "lfm": {
            "vocab_size": _LFM_VOCAB_SIZE,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "layer_types": ["conv", "full_attention"],
            "block_auto_adjust_ff_dim": False,
            "tie_embedding": True,
        },
        "depthformer": {"layers": 1, "dim": 64, "tie": True},  # MHA uses 32 heads: dim % 32 == 0
    }


def make_tiny_lfm2_audio(out_dir: Path) -> Path:
    """Write a tiny random LFM2-Audio checkpoint to ``out_dir``; returns the folder.

    Load it with ``LFM2AudioModel.from_pretrained(Path(out_dir), device="cpu")`` (a ``Path``:
    a ``str`` is taken as a hub id).
    """
    with offline():
        return _make_tiny_lfm2_audio(Path(out_dir))


def _make_tiny_lfm2_audio(out_dir: Path) -> Path:
    import torch
    from liquid_audio.model.conformer.encoder import ConformerEncoderConfig
    from liquid_audio.model.lfm2_audio import DepthformerConfig, LFM2AudioConfig, LFM2AudioModel
    from safetensors.torch import save_model
    from transformers import Lfm2Config

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = _lfm_config()
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))

    raw = json.loads(json.dumps(config))
    conf = LFM2AudioConfig(
        lfm=Lfm2Config(**raw.pop("lfm")),
        encoder=ConformerEncoderConfig(**raw.pop("encoder")),
        depthformer=DepthformerConfig(**raw.pop("depthformer")),
        **raw,
    )
    torch.manual_seed(SEED)
    model = LFM2AudioModel(conf).eval()
    with torch.no_grad():
        # At init scale the residual stream of so small a model is its input embedding, and the tied
        # output head copies the prompt's last token ("\n") forever. Larger block weights make the
        # (still random) output depend on the audio and vary from token to token.
        for param in model.lfm.layers.parameters():
            if param.dim() >= 2:
                param.mul_(_LFM_BLOCK_GAIN)
    save_model(model, str(out_dir / "model.safetensors"), metadata={"format": "pt"})  # drops tied copies
    _lfm_tokenizer().save_pretrained(out_dir)
    return out_dir


# ---------------------------------------------------------------------------------------------
# SeamlessM4T v2
# ---------------------------------------------------------------------------------------------

SEAMLESS_LANGUAGES = ("eng", "fra", "deu", "spa")
_SEAMLESS_LAYER_GAIN = 10.0
_SEAMLESS_WORDS = (
    "the a to of and in is it you that he was for on are with as i his they be at one have this "
    "from or had by hot word but what some we can out other were all there when up use your how "
    "le la et de un une der die das und el los las y"
).split()


def _seamless_tokenizer():
    """A SeamlessM4TTokenizer from a small in-memory vocabulary (no sentencepiece model)."""
    from transformers import SeamlessM4TTokenizer

    vocab: dict[str, int] = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    symbols = sorted({ch for word in _SEAMLESS_WORDS for ch in word})
    for piece in ["▁", *symbols, *(f"▁{w}" for w in _SEAMLESS_WORDS)]:
        vocab.setdefault(piece, len(vocab))
    # Merges so that whole words tokenise to one piece (the BPE needs the merge path).
    merges: list[tuple[str, str]] = []
    known = set(vocab)
    for word in _SEAMLESS_WORDS:
        current = "▁"
        for ch in word:
            merged = current + ch
            if (current, ch) not in merges:
                merges.append((current, ch))
            if merged not in known:
                vocab[merged] = len(vocab)
                known.add(merged)
            current = merged
    language_tokens = [f"__{lang}__" for lang in SEAMLESS_LANGUAGES]
    return SeamlessM4TTokenizer(
        vocab=vocab,
        merges=merges,
        src_lang="eng",
        tgt_lang="eng",
        additional_special_tokens=language_tokens,
    )


def make_tiny_seamless_m4t(out_dir: Path) -> Path:
    """Write a tiny random ``SeamlessM4Tv2ForSpeechToText`` checkpoint and processor to ``out_dir``."""
    with offline():
        return _make_tiny_seamless_m4t(Path(out_dir))


def _make_tiny_seamless_m4t(out_dir: Path) -> Path:
    import torch
    from transformers import (
        GenerationConfig,
        SeamlessM4TFeatureExtractor,
        SeamlessM4TProcessor,
        SeamlessM4Tv2Config,
        SeamlessM4Tv2ForSpeechToText,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _seamless_tokenizer()
    vocab_size = len(tokenizer)
    lang_to_id = {lang: tokenizer.convert_tokens_to_ids(f"__{lang}__") for lang in SEAMLESS_LANGUAGES}
    assert all(i != tokenizer.unk_token_id for i in lang_to_id.values()), lang_to_id

    config = SeamlessM4Tv2Config(
        vocab_size=vocab_size,
        t2u_vocab_size=32,
        char_vocab_size=32,
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        speech_encoder_layers=1,
        speech_encoder_attention_heads=2,
        speech_encoder_intermediate_size=64,
        speech_encoder_chunk_size=20000,
        speech_encoder_left_chunk_num=128,
        feature_projection_input_dim=160,
        conv_depthwise_kernel_size=3,
        adaptor_kernel_size=8,
        adaptor_stride=8,
        num_adapter_layers=1,
        t2u_encoder_layers=1,
        t2u_decoder_layers=1,
        t2u_encoder_ffn_dim=64,
        t2u_decoder_ffn_dim=64,
        t2u_encoder_attention_heads=2,
        t2u_decoder_attention_heads=2,
        max_position_embeddings=256,
        max_new_tokens=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(SEED)
    model = SeamlessM4Tv2ForSpeechToText(config).eval()
    with torch.no_grad():
        # As for LFM2: at init scale the decoder ignores the audio; larger layer weights make the
        # random output depend on it (so batched and one-by-one results can be compared).
        for name, param in model.named_parameters():
            if "layers" in name and param.dim() >= 2:
                param.mul_(_SEAMLESS_LAYER_GAIN)
    # Built explicitly: GenerationConfig.from_model_config() loses the language maps on reload.
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
        text_decoder_lang_to_code_id=lang_to_id,
    )
    model.save_pretrained(out_dir)
    processor = SeamlessM4TProcessor(
        feature_extractor=SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80, stride=2),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(out_dir)
    return out_dir
