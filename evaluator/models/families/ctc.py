"""CTC checkpoints (``AutoModelForCTC``): wav2vec2, HuBERT, WavLM, Data2Vec-Audio, SEW(-D),
UniSpeech(-SAT), wav2vec2-conformer, wav2vec2-BERT, Parakeet-CTC, LASR-CTC, OmniASR-CTC,
Granite-Speech-5-CTC.

Done as the model cards do it: ``processor(audio, sampling_rate=16000, return_tensors="pt")``, then
greedy decoding (``model(**inputs).logits.argmax(-1)``, or the model's own ``generate`` where it has
one: Parakeet, LASR, ...), then ``processor.batch_decode(ids)`` as the model cards and transformers'
ASR pipeline call it (``skip_special_tokens=False`` for CTC): repeats are merged with special tokens
in place, so ``z <s> z`` stays two letters, and blanks dropped. The special tokens' text left in the
transcript (``<s>``, ``</s>``, ``<unk>``) is then removed (:func:`without_special_tokens`); skipping
them before the merge instead would join the repeats around them. In a padded batch the frames past each clip's end
are set to the blank before decoding, as Parakeet's ``generate`` does, so a batch gives what
one-at-a-time calls give. A feature extractor without an attention mask (wav2vec2-base style)
makes :attr:`pads_safely` false, as do architectures whose convolutions see the padding
(:data:`PADS_SAFELY` lists those measured safe): such models only see unpadded batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluator.data.audio import SAMPLE_RATE
from evaluator.models.families.base import Family, Transcription, pretrained_kwargs

__all__ = ["CTCFamily", "CTC_MODEL_TYPES", "PADS_SAFELY", "without_special_tokens"]

#: config.model_type -> the class AutoModelForCTC picks (transformers 5.24).
CTC_MODEL_TYPES: Mapping[str, str] = {
    "wav2vec2": "Wav2Vec2ForCTC", "hubert": "HubertForCTC", "wavlm": "WavLMForCTC",
    "data2vec-audio": "Data2VecAudioForCTC", "sew": "SEWForCTC", "sew-d": "SEWDForCTC",
    "unispeech": "UniSpeechForCTC", "unispeech-sat": "UniSpeechSatForCTC",
    "wav2vec2-conformer": "Wav2Vec2ConformerForCTC", "wav2vec2-bert": "Wav2Vec2BertForCTC",
    "parakeet_ctc": "ParakeetForCTC", "lasr_ctc": "LasrForCTC", "omniasr_ctc": "OmniASRForCTC",
    "granite_speech5_ctc": "GraniteSpeech5ForCTC",
}


#: Model types whose padded batches (with the attention mask) gave the same transcripts as
#: one-at-a-time calls here (tests/models/test_families_ctc.py). Others (data2vec-audio and
#: wav2vec2-conformer measured: their convolutions see the padding) run on unpadded batches.
PADS_SAFELY = frozenset({"wav2vec2", "hubert", "wavlm", "unispeech", "unispeech-sat", "parakeet_ctc", "lasr_ctc"})


class CTCFamily(Family):
    name = "ctc"
    kind = "ctc"
    description = "CTC encoders (AutoModelForCTC): greedy argmax and the tokenizer's CTC decode"
    model_types = tuple(CTC_MODEL_TYPES)
    architectures = tuple(CTC_MODEL_TYPES.values())
    examples = ("facebook/wav2vec2-base-960h", "facebook/wav2vec2-large-960h-lv60-self",
                "facebook/hubert-large-ls960-ft", "patrickvonplaten/wavlm-libri-clean-100h-base-plus",
                "nvidia/parakeet-ctc-1.1b", "nvidia/parakeet-ctc-0.6b", "google/medasr")
    # No long-form algorithm: long files are cut into 30 s windows by the evaluator.
    window_seconds = 30.0
    long_form_default = "chunked"
    default_memory_mb = 3000.0

    def __init__(self, source: str, device: Any, dtype: Any, options: Mapping[str, Any]):
        super().__init__(source, device, dtype, options)
        from transformers import AutoModelForCTC, AutoProcessor

        kwargs = pretrained_kwargs(options)
        self.processor = AutoProcessor.from_pretrained(source, **kwargs)  # CPU: feature extraction
        self.model = AutoModelForCTC.from_pretrained(source, dtype=dtype, **kwargs)
        self.model.to(device).eval()
        extractor = self.processor.feature_extractor
        self.pads_safely = (bool(getattr(extractor, "return_attention_mask", False))
                            and self.model.config.model_type in PADS_SAFELY)
        self._generates = hasattr(self.model, "generate")  # Parakeet, LASR, ...: their own greedy generate
        self._blank = self.model.config.pad_token_id
        self.warnings.append("the checkpoint's config names no language: the evaluator cannot check that the "
                             "data's language is one the model transcribes (most CTC checkpoints are English-only)")

    def transcribe(self, audios: list[np.ndarray], languages: list[str | None]) -> list[Transcription]:
        import torch

        inputs = self.processor(audios, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        inputs = {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                  for k, v in inputs.items()}
        with torch.inference_mode():
            if self._generates:
                ids = self.model.generate(**inputs)
                ids = ids.sequences if hasattr(ids, "sequences") else ids
            else:
                ids = self.model(**inputs).logits.argmax(-1)
                mask = inputs.get("attention_mask")
                if mask is not None and len(audios) > 1:  # frames past each clip's end -> blank
                    lengths = self.model._get_feat_extract_output_lengths(mask.sum(-1))
                    ids[torch.arange(ids.shape[1], device=ids.device)[None, :] >= lengths[:, None]] = self._blank
        texts = self.processor.batch_decode(ids.cpu(), skip_special_tokens=False)
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        return [Transcription(without_special_tokens(text, tokenizer)) for text in texts]


def without_special_tokens(text: str, tokenizer: Any) -> str:
    """``text`` as the tokenizer decoded it, with its special tokens' text removed (the word
    delimiter, which decodes to a space, stays) and the ends stripped."""
    delimiter = getattr(tokenizer, "word_delimiter_token", None)
    for token in sorted(set(tokenizer.all_special_tokens) - {delimiter}, key=len, reverse=True):
        text = text.replace(token, "")
    return text.strip()
