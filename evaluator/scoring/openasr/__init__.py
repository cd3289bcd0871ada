"""The Open ASR Leaderboard's text normalizers and compound alignment, ported from
github.com/huggingface/open_asr_leaderboard (``normalizer/``) at commit ``SOURCE_COMMIT``
(Apache-2.0; see each module's header)."""

from __future__ import annotations

__all__ = ["SOURCE", "SOURCE_COMMIT"]

SOURCE = "github.com/huggingface/open_asr_leaderboard"
SOURCE_COMMIT = "d1e99b2"
