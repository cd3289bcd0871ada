"""Derive openai-whisper and transformers Whisper checkpoints from CTranslate2 weights, offline:
``ct2`` reads ``model.bin``; ``openai_whisper`` and ``transformers`` write one runtime each.

Both writers are atomic: they write beside the target and rename, so concurrent processes
deriving the same cache never see half-written files.
"""

from evaluator.models.convert.ct2 import CONVERTER_VERSION, MARKER_FILE, Ct2FormatError, Ct2Model, read_ct2_model
from evaluator.models.convert.openai_whisper import (
    is_current_openai_whisper,
    load_openai_whisper,
    openai_state_dict,
    to_openai_whisper,
)
from evaluator.models.convert.transformers import is_current_transformers, to_transformers

__all__ = [
    "CONVERTER_VERSION",
    "MARKER_FILE",
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
