"""Tiny random-weight encoder-decoder checkpoints (and the helpers the speech-LLM ones in
:mod:`tests.tiny_speech_llms` share), built offline from the real transformers config,
feature-extractor, processor and tokenizer classes.

Each ``make_tiny_<family>(target)`` writes a ``save_pretrained`` folder (config, weights,
processor, tokenizer, generation config, chat template where the family has one) that
``transformers:<folder>`` and the upstream recipe both load, and returns its path. Hidden sizes
16-64, one or two layers: each builds in about a second on CPU.

Tokenizers are BPE models trained with the ``tokenizers`` library on a few sentences (word-piece
text, so the gibberish of random weights is readable), with the family's special tokens first.
Chat templates are written here in the shape of each family's released template (the released
ones live on the hub, which tests cannot reach): they put the same audio placeholders and
transcription prompt where the processor expects them.

Random weights mostly emit nothing useful; ``initializer_range`` is raised so that the logits
have clear margins (greedy choices that do not flip with float noise between batched and single
runs) and the end-of-text token's output row is pushed down so transcripts are non-empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.tiny_families import _seed as _seeded

__all__ = ["SENTENCES", "SEQ2SEQ_BUILDERS", "builders", "make_tiny"]

SENTENCES = (
    "the quick brown fox jumps over the lazy dog",
    "hello world",
    "ever tried ever failed no matter try again fail again fail better",
    "and you always want to see it in the superlative degree",
    "it was the best of times it was the worst of times",
)
_INIT = 0.5  # initializer_range: large margins between logits


def _bpe(specials: Sequence[str], vocab_size: int = 160):
    """A Metaspace BPE (sentencepiece-like word pieces) with ``specials`` at ids 0.."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials), show_progress=False)
    tokenizer.train_from_iterator(SENTENCES, trainer)
    return tokenizer


def _fast(specials: Sequence[str], vocab_size: int = 160, **named: str):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=_bpe(specials, vocab_size), **named)


def _quiet_token(model: Any, token_id: int | Sequence[int], amount: float = 50.0) -> None:
    """Push ``token_id``'s output logit down (bias, or a new bias-free offset through the row) so
    random weights rarely stop at once; the row stays finite, so it can still be chosen."""
    import torch

    head = model.get_output_embeddings()
    ids = [token_id] if isinstance(token_id, int) else list(token_id)
    with torch.no_grad():
        if head.bias is not None:
            head.bias[ids] -= amount
        else:
            head.weight[ids] *= 0.0


# ---------------------------------------------------------------------------------------------
# Encoder-decoder
# ---------------------------------------------------------------------------------------------

def make_tiny_moonshine(target: Path) -> Path:
    """Moonshine (raw 16 kHz waveform in, ``Wav2Vec2Processor``), as UsefulSensors/moonshine-*."""
    from transformers import (
        MoonshineConfig,
        MoonshineForConditionalGeneration,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Processor,
    )

    tokenizer = _fast(["<unk>", "<s>", "</s>"], unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                      pad_token="</s>")
    config = MoonshineConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, encoder_num_hidden_layers=1,
        decoder_num_hidden_layers=1, encoder_num_attention_heads=2, decoder_num_attention_heads=2,
        decoder_start_token_id=1, bos_token_id=1, eos_token_id=2, pad_token_id=2, initializer_range=_INIT,
        tie_word_embeddings=False,
    )
    _seeded()
    model = MoonshineForConditionalGeneration(config).eval()
    _quiet_token(model, 2)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                         do_normalize=False, return_attention_mask=True)
    return _save(target, model, Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer))


def make_tiny_speech_to_text(target: Path) -> Path:
    """Speech2Text (facebook/s2t-*): 80 filterbank features, a sentencepiece tokenizer."""
    import io
    import json

    import sentencepiece as spm
    from transformers import (
        Speech2TextConfig,
        Speech2TextFeatureExtractor,
        Speech2TextForConditionalGeneration,
        Speech2TextProcessor,
        Speech2TextTokenizer,
    )

    target.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_writer=buffer, vocab_size=60, model_type="bpe",
        pad_id=1, bos_id=0, eos_id=2, unk_id=3, minloglevel=2,
    )
    spm_file = target / "sentencepiece.bpe.model"
    spm_file.write_bytes(buffer.getvalue())
    processor_spm = spm.SentencePieceProcessor(model_proto=buffer.getvalue())
    vocab = {processor_spm.id_to_piece(i): i for i in range(processor_spm.get_piece_size())}
    vocab_file = target / "vocab.json"
    vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Speech2TextTokenizer(vocab_file=str(vocab_file), spm_file=str(spm_file))
    config = Speech2TextConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, conv_channels=32,
        input_feat_per_channel=80, max_source_positions=3000, max_target_positions=256, init_std=_INIT,
        dropout=0.0,
    )
    _seeded()
    model = Speech2TextForConditionalGeneration(config).eval()
    _quiet_token(model, 2)
    extractor = Speech2TextFeatureExtractor(feature_size=80, num_mel_bins=80, return_attention_mask=True)
    return _save(target, model, Speech2TextProcessor(feature_extractor=extractor, tokenizer=tokenizer))


# Canary-1b-v2's languages (its processor's LANGUAGE_CODE_TO_NAME) and the prompt its chat template writes.
_NEMO_PROMPT_TOKENS = ["<|startofcontext|>", "<|startoftranscript|>", "<|emo:undefined|>", "<|pnc|>",
                       "<|nopnc|>", "<|itn|>", "<|noitn|>", "<|timestamp|>", "<|notimestamp|>", "<|diarize|>",
                       "<|nodiarize|>"]
_CANARY_TEMPLATE = (
    "{%- for message in messages -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'text' -%}"
    "<|startofcontext|><|startoftranscript|><|emo:undefined|>"
    "<|{{ item['source_language'] }}|><|{{ item['target_language'] }}|>"
    "{{ '<|pnc|>' if item['punctuation'] else '<|nopnc|>' }}<|noitn|><|notimestamp|><|nodiarize|>"
    "{%- endif -%}{%- endfor -%}{%- endfor -%}"
)


def _nemo_tokenizer(languages: Sequence[str]):
    # ids as the NeMo checkpoints: 0 unk, 1 ?, 2 pad, 3 eos, 4 bos (<|startoftranscript|>), ...
    specials = ["<unk>", "<|nospeech|>", "<pad>", "<|endoftext|>", "<|startoftranscript|>", "<|pnc|>",
                "<|nopnc|>", "<|startofcontext|>", "<|itn|>", "<|noitn|>", "<|timestamp|>", "<|notimestamp|>",
                "<|diarize|>", "<|nodiarize|>", "<|emo:undefined|>", *(f"<|{code}|>" for code in languages)]
    return _fast(specials, vocab_size=len(specials) + 120, unk_token="<unk>", pad_token="<pad>",
                 eos_token="<|endoftext|>", bos_token="<|startoftranscript|>",
                 additional_special_tokens=specials[5:])


def make_tiny_canary(target: Path) -> Path:
    """Canary (nvidia/canary-1b-v2): FastConformer encoder, transformer decoder prompted with
    source/target language tokens through the processor's chat template."""
    from transformers import (
        CanaryConfig,
        CanaryDecoderConfig,
        CanaryForConditionalGeneration,
        CanaryProcessor,
        ParakeetEncoderConfig,
        ParakeetFeatureExtractor,
    )
    from transformers.models.canary.processing_canary import LANGUAGE_CODE_TO_NAME

    tokenizer = _nemo_tokenizer(sorted(LANGUAGE_CODE_TO_NAME))
    vocab = len(tokenizer)
    encoder = ParakeetEncoderConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                    num_mel_bins=80, subsampling_factor=8, subsampling_conv_channels=16,
                                    scale_input=False, initializer_range=1.0)  # audio-dependent output
    decoder = CanaryDecoderConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                                  max_position_embeddings=256, pad_token_id=2, initializer_range=_INIT)
    config = CanaryConfig(encoder_config=encoder, decoder_config=decoder, vocab_size=vocab,
                          decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startofcontext|>"),
                          pad_token_id=2, bos_token_id=4, eos_token_id=3, initializer_range=_INIT)
    _seeded()
    model = CanaryForConditionalGeneration(config).eval()
    _quiet_token(model, 3)
    processor = CanaryProcessor(feature_extractor=ParakeetFeatureExtractor(feature_size=80), tokenizer=tokenizer,
                                chat_template=_CANARY_TEMPLATE)
    return _save(target, model, processor)


def make_tiny_cohere_asr(target: Path) -> Path:
    """Cohere ASR (CohereLabs/cohere-transcribe-*): FastConformer encoder, decoder prompted by
    the processor with the language."""
    from transformers import (
        CohereAsrConfig,
        CohereAsrFeatureExtractor,
        CohereAsrForConditionalGeneration,
        CohereAsrProcessor,
    )
    from transformers.models.cohere_asr.processing_cohere_asr import LANGUAGES

    tokenizer = _nemo_tokenizer(sorted(LANGUAGES))
    encoder = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
               "num_mel_bins": 128, "subsampling_conv_channels": 16, "initializer_range": _INIT}
    config = CohereAsrConfig(encoder_config=encoder, vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                             num_attention_heads=2, intermediate_size=64, max_position_embeddings=256,
                             pad_token_id=2, eos_token_id=3, bos_token_id=4, initializer_range=_INIT,
                             decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startofcontext|>"))
    _seeded()
    model = CohereAsrForConditionalGeneration(config).eval()
    _quiet_token(model, 3)
    extractor = CohereAsrFeatureExtractor(feature_size=128)  # its deterministic, length-seeded dither
    return _save(target, model, CohereAsrProcessor(feature_extractor=extractor, tokenizer=tokenizer))


def _spread_codebooks(model: Any) -> None:
    """Mimi's codebooks start as zeros (every frame would get code 0): random centroids, so the
    codes, and the transcript, depend on the audio."""
    import torch

    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("codebook.embed_sum"):
                buffer.copy_(torch.randn_like(buffer))


def make_tiny_kyutai_stt(target: Path) -> Path:
    """Kyutai STT (kyutai/stt-1b-en_fr-trfs, kyutai/stt-2.6b-en-trfs): a Mimi codec turns 24 kHz
    audio into codebook tokens that a decoder-only transformer reads while it writes text."""
    from transformers import (
        KyutaiSpeechToTextConfig,
        KyutaiSpeechToTextFeatureExtractor,
        KyutaiSpeechToTextForConditionalGeneration,
        KyutaiSpeechToTextProcessor,
    )

    tokenizer = _fast(["<pad>", "<s>", "</s>", "<unk>"], unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                      eos_token="</s>")
    codec = {"model_type": "mimi", "num_quantizers": 8, "audio_channels": 1, "chunk_in_sec": None, "hidden_size": 16,
             "num_filters": 8, "num_residual_layers": 1, "upsampling_ratios": [8, 6, 5, 4], "codebook_size": 16,
             "vector_quantization_hidden_dimension": 16, "upsample_groups": 16, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 2, "sliding_window": 4, "codebook_dim": 16,
             "use_cache": False}
    config = KyutaiSpeechToTextConfig(
        codebook_vocab_size=2049, vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=4096, sliding_window=512, ffn_dim=38, num_codebooks=8,
        audio_bos_token_id=2048, audio_pad_token_id=2048, pad_token_id=0, bos_token_id=1, codec_config=codec,
        initializer_range=_INIT, tie_word_embeddings=False,
    )
    _seeded()
    model = KyutaiSpeechToTextForConditionalGeneration(config).eval()
    _spread_codebooks(model)
    _quiet_token(model, [0, 2])
    extractor = KyutaiSpeechToTextFeatureExtractor(sampling_rate=24000)
    return _save(target, model, KyutaiSpeechToTextProcessor(feature_extractor=extractor, tokenizer=tokenizer))


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------

def _save(target: Path, model: Any, processor: Any) -> Path:
    from transformers import GenerationConfig

    target.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig.from_model_config(model.config)
    model.save_pretrained(target)
    processor.save_pretrained(target)
    return target


SEQ2SEQ_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "moonshine": make_tiny_moonshine,
    "speech_to_text": make_tiny_speech_to_text,
    "canary": make_tiny_canary,
    "cohere_asr": make_tiny_cohere_asr,
    "kyutai_speech_to_text": make_tiny_kyutai_stt,
}


def builders() -> dict[str, Callable[[Path], Path]]:
    """Builder key -> builder, for every encoder-decoder and speech-LLM family."""
    from tests.tiny_speech_llms import SPEECH_LLM_BUILDERS

    return {**SEQ2SEQ_BUILDERS, **SPEECH_LLM_BUILDERS}


def make_tiny(family: str, target: Path) -> Path:
    """Build the tiny checkpoint of ``family`` (a key of :func:`builders`) into ``target``."""
    return builders()[family](target)
