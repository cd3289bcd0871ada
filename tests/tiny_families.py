"""Tiny random-weight CTC and transducer checkpoints, built offline from the real transformers
config, feature-extractor and tokenizer classes and saved with ``save_pretrained``.

Each builder writes a folder that ``transformers:<folder>`` loads as a user's download would
(``config.json``, ``model.safetensors``, ``preprocessor_config.json``, tokenizer files). The
weights are random (seeded) and the text is garbage; the output projection's blank logit is
lowered so most frames emit a letter and a wrong decode cannot pass as an empty transcript.

:data:`CTC_BUILDERS` maps a name to ``builder(target: Path) -> Path``; :func:`make_tiny_parakeet_tdt`
and :func:`make_tiny_parakeet_rnnt` build the transducers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["CTC_BUILDERS", "TRANSDUCER_BUILDERS", "built", "make_tiny_parakeet_rnnt", "make_tiny_parakeet_tdt",
           "recipe"]

SEED = 0
LETTERS = list("abcdefghijklmnopqrstuvwxyz'")
# wav2vec2-style CTC vocabulary: <pad> is the blank, | the word delimiter.
W2V_VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: i + 5 for i, c in enumerate(LETTERS)}}
# Seven convolutions, 320 samples per frame as in the released checkpoints, with few channels.
_CONV = {"conv_dim": (16,) * 7, "conv_kernel": (10, 3, 3, 3, 3, 2, 2), "conv_stride": (5, 2, 2, 2, 2, 2, 2)}
_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 48,
            "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}


def _seed() -> None:
    import torch

    torch.manual_seed(SEED)


def _lower_blank(linear: Any, blank: int, by: float = 4.0) -> None:
    """Make letters win most frames (random heads otherwise tie near zero)."""
    import torch

    with torch.no_grad():
        linear.weight.normal_(0.0, 1.0)
        if linear.bias is not None:
            linear.bias.zero_()
            linear.bias[blank] -= by


def _w2v_processor(target: Path, attention_mask: bool) -> Any:
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    target.mkdir(parents=True, exist_ok=True)
    vocab = target / "vocab.json"
    vocab.write_text(json.dumps(W2V_VOCAB))
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                         return_attention_mask=attention_mask)
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


def _save(model: Any, processor: Any, target: Path) -> Path:
    model.save_pretrained(target)
    processor.save_pretrained(target)
    return target


def _w2v_like(config_cls: str, model_cls: str, *, attention_mask: bool, **extra: Any) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        import transformers

        _seed()
        processor = _w2v_processor(target, attention_mask)
        config = getattr(transformers, config_cls)(vocab_size=len(W2V_VOCAB), pad_token_id=0,
                                                   **{**_CONV, **_ENCODER, **extra})
        model = getattr(transformers, model_cls)(config).eval()
        _lower_blank(model.lm_head, 0)
        return _save(model, processor, target)

    return build


def _spm_tokenizer(cls: Any, pieces: list[str], specials: dict[str, int], **kwargs: Any) -> Any:
    """A SentencePiece-style (Metaspace) unigram tokenizer with ``specials`` at fixed ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    vocab: list[tuple[str, float]] = []
    free = iter(pieces)
    for i in range(len(pieces) + len(specials)):
        name = next((s for s, sid in specials.items() if sid == i), None)
        vocab.append((name, 0.0) if name else (next(free), -1.0 - i / 100))
    tok = Tokenizer(models.Unigram(vocab, unk_id=specials["<unk>"], byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return cls(tokenizer_object=tok, unk_token="<unk>", **kwargs)


_PIECES = ["▁", *LETTERS[:-1], "▁the", "▁a", "▁and", "er", "in", "on"]
_PARAKEET_ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 48,
                     "subsampling_conv_channels": 8, "num_mel_bins": 80, "conv_kernel_size": 9}


def make_tiny_parakeet_ctc(target: Path) -> Path:
    """``ParakeetForCTC`` (nvidia/parakeet-ctc-*): blank = pad = the last id."""
    from transformers import (
        ParakeetCTCConfig,
        ParakeetEncoderConfig,
        ParakeetFeatureExtractor,
        ParakeetForCTC,
        ParakeetProcessor,
        ParakeetTokenizer,
    )

    _seed()
    specials = {"<unk>": 0, "<pad>": len(_PIECES) + 1}
    tokenizer = _spm_tokenizer(ParakeetTokenizer, _PIECES, specials, pad_token="<pad>")
    processor = ParakeetProcessor(ParakeetFeatureExtractor(feature_size=80), tokenizer, blank_token="<pad>",
                                  decoder_type="ctc")
    config = ParakeetCTCConfig(vocab_size=len(tokenizer), pad_token_id=specials["<pad>"],
                               encoder_config=ParakeetEncoderConfig(**_PARAKEET_ENCODER).to_dict())
    model = ParakeetForCTC(config).eval()
    _lower_blank(model.ctc_head, specials["<pad>"])
    target.mkdir(parents=True, exist_ok=True)
    return _save(model, processor, target)


def make_tiny_lasr_ctc(target: Path) -> Path:
    """``LasrForCTC`` (google/medasr): a Conformer CTC on 128 mel bins; <pad> (id 0) is the blank."""
    from transformers import (
        LasrCTCConfig,
        LasrEncoderConfig,
        LasrFeatureExtractor,
        LasrForCTC,
        LasrProcessor,
        LasrTokenizer,
    )

    _seed()
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *[(p, -1.0 - i / 100) for i, p in enumerate(_PIECES)]]
    tokenizer = LasrTokenizer(vocab=vocab, extra_ids=0)
    processor = LasrProcessor(LasrFeatureExtractor(feature_size=128), tokenizer)
    encoder = LasrEncoderConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
                                subsampling_conv_channels=8, num_mel_bins=128, conv_kernel_size=9)
    config = LasrCTCConfig(vocab_size=len(tokenizer), pad_token_id=0, encoder_config=encoder.to_dict())
    model = LasrForCTC(config).eval()
    _lower_blank(model.ctc_head, 0)
    target.mkdir(parents=True, exist_ok=True)
    return _save(model, processor, target)


def _make_parakeet_transducer(target: Path, tdt: bool) -> Path:
    from transformers import (
        ParakeetEncoderConfig,
        ParakeetFeatureExtractor,
        ParakeetForRNNT,
        ParakeetForTDT,
        ParakeetProcessor,
        ParakeetRNNTConfig,
        ParakeetTDTConfig,
        ParakeetTokenizer,
    )

    _seed()
    specials = {"<unk>": 0, "<pad>": 1, "<blank>": len(_PIECES) + 2}
    tokenizer = _spm_tokenizer(ParakeetTokenizer, _PIECES, specials, pad_token="<pad>")
    processor = ParakeetProcessor(ParakeetFeatureExtractor(feature_size=80), tokenizer, blank_token="<blank>",
                                  decoder_type="tdt" if tdt else "rnnt")
    config_cls, model_cls = (ParakeetTDTConfig, ParakeetForTDT) if tdt else (ParakeetRNNTConfig, ParakeetForRNNT)
    config = config_cls(vocab_size=len(tokenizer), pad_token_id=1, blank_token_id=specials["<blank>"],
                        decoder_hidden_size=24, num_decoder_layers=1, max_symbols_per_step=2,
                        encoder_config=ParakeetEncoderConfig(**_PARAKEET_ENCODER).to_dict())
    model = model_cls(config).eval()
    model.generation_config.decoder_start_token_id = specials["<blank>"]
    model.generation_config.pad_token_id = 1
    import torch

    with torch.no_grad():  # frame-to-frame differences of a random encoder are small: amplify them
        model.encoder_projector.weight.normal_(0.0, 2.0)
    _lower_blank(model.joint.head, specials["<blank>"], by=-0.5)  # blank favoured a little: fewer symbols
    target.mkdir(parents=True, exist_ok=True)
    return _save(model, processor, target)


def make_tiny_parakeet_tdt(target: Path) -> Path:
    """``ParakeetForTDT`` (nvidia/parakeet-tdt-0.6b-v3): token-and-duration transducer."""
    return _make_parakeet_transducer(target, tdt=True)


def make_tiny_parakeet_rnnt(target: Path) -> Path:
    """``ParakeetForRNNT`` (nvidia/parakeet-rnnt-*)."""
    return _make_parakeet_transducer(target, tdt=False)


#: name -> builder of a tiny CTC checkpoint.
CTC_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "wav2vec2-base": _w2v_like("Wav2Vec2Config", "Wav2Vec2ForCTC", attention_mask=False, feat_extract_norm="group"),
    "wav2vec2-lv60": _w2v_like("Wav2Vec2Config", "Wav2Vec2ForCTC", attention_mask=True, feat_extract_norm="layer",
                               do_stable_layer_norm=True),
    "hubert": _w2v_like("HubertConfig", "HubertForCTC", attention_mask=True, feat_extract_norm="layer",
                        do_stable_layer_norm=True),
    "wavlm": _w2v_like("WavLMConfig", "WavLMForCTC", attention_mask=True, feat_extract_norm="layer",
                       do_stable_layer_norm=True, num_buckets=16, max_bucket_distance=32),
    "data2vec-audio": _w2v_like("Data2VecAudioConfig", "Data2VecAudioForCTC", attention_mask=True,
                                conv_pos_kernel_size=5, num_conv_pos_embeddings=5),
    "sew": _w2v_like("SEWConfig", "SEWForCTC", attention_mask=False, squeeze_factor=2),
    "unispeech": _w2v_like("UniSpeechConfig", "UniSpeechForCTC", attention_mask=True, feat_extract_norm="layer",
                           do_stable_layer_norm=True),
    "unispeech-sat": _w2v_like("UniSpeechSatConfig", "UniSpeechSatForCTC", attention_mask=True,
                               feat_extract_norm="layer", do_stable_layer_norm=True),
    "wav2vec2-conformer": _w2v_like("Wav2Vec2ConformerConfig", "Wav2Vec2ConformerForCTC", attention_mask=True,
                                    feat_extract_norm="layer", do_stable_layer_norm=True,
                                    position_embeddings_type="rotary", conv_depthwise_kernel_size=7),
    "parakeet-ctc": make_tiny_parakeet_ctc,
    "lasr-ctc": make_tiny_lasr_ctc,
}

TRANSDUCER_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "parakeet-tdt": make_tiny_parakeet_tdt,
    "parakeet-rnnt": make_tiny_parakeet_rnnt,
}


def built(root: Path, name: str) -> Path:
    """The tiny checkpoint ``name`` under ``root``, built on first use (a folder with a
    ``config.json`` is reused, so test modules of one session share the builds)."""
    target = root / name
    if not (target / "config.json").is_file():
        builder = CTC_BUILDERS.get(name) or TRANSDUCER_BUILDERS[name]
        builder(target)
    return target


def recipe(folder: Path, audio: Any) -> str:
    """The model card's recipe on one clip, with nothing of the evaluator: ``processor(audio,
    sampling_rate=16000, return_tensors="pt")``, then ``model(**inputs).logits.argmax(-1)`` (CTC)
    or ``model.generate(**inputs)`` (models that have one: Parakeet, LASR, transducers), then
    ``processor.batch_decode(ids)`` as the CTC model cards call it (special tokens kept while
    repeats merge: how transformers' ASR pipeline decodes CTC, checked here) with the special
    tokens' text then taken out; transducers: ``batch_decode(ids, skip_special_tokens=True)``, as the
    pipeline decodes them."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCTC, AutoProcessor

    config = AutoConfig.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    transducer = config.model_type in ("parakeet_tdt", "parakeet_rnnt")
    if transducer:
        model = getattr(transformers, config.architectures[0]).from_pretrained(folder).eval()
    else:
        model = AutoModelForCTC.from_pretrained(folder).eval()
    inputs = processor(audio, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        if hasattr(model, "generate"):
            out = model.generate(**inputs)
            ids = out.sequences if hasattr(out, "sequences") else out
        else:
            ids = model(**inputs).logits.argmax(-1)
    if transducer:
        return processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
    text = processor.batch_decode(ids)[0]
    # transformers' ASR pipeline decodes CTC ids so (pipelines/automatic_speech_recognition.py:
    # skip_special_tokens = self.type != "ctc"); its own preprocessing may give other ids (Parakeet).
    assert processor.tokenizer.decode(ids[0], skip_special_tokens=False) == text
    for token in processor.tokenizer.all_special_tokens:
        if token != getattr(processor.tokenizer, "word_delimiter_token", None):
            text = text.replace(token, "")
    return text.strip()
