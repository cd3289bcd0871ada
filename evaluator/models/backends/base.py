"""The Backend contract as backends import it: :mod:`evaluator.models.contract` (Backend, Segment,
Transcription) and :mod:`evaluator.models.whisper` (the languages a Whisper model writes)."""

from evaluator.models.contract import Backend, Segment, Transcription
from evaluator.models.whisper import WHISPER_V3_NAMES, WhisperLanguages, whisper_model_languages

__all__ = ["Backend", "Segment", "Transcription", "WHISPER_V3_NAMES", "WhisperLanguages", "whisper_model_languages"]
