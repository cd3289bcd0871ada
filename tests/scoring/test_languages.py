"""The language map (evaluator.scoring.languages), the per-language normalizers and the up-front check."""

from __future__ import annotations

import pytest

from evaluator.errors import ConfigError
from evaluator.models.backends import get_backend
from evaluator.models.backends.base import whisper_model_languages
from evaluator.scoring.languages import (
    WHISPER_LANGUAGES,
    WHISPER_V3_LANGUAGES,
    LanguageError,
    LanguagePlan,
    ModelLanguages,
    resolve,
    seamless_code,
    settle,
    whisper_code,
    whisper_languages,
)
from evaluator.scoring.metrics import NORMALIZER_VERSION, corpus_wer, normalize, normalizer_for, score

# value as written -> (canonical code, Whisper code, Seamless code)
FORMS = [
    ("de", ("de", "de", "deu")),  # ISO 639-1
    ("deu", ("de", "de", "deu")),  # ISO 639-3
    ("ger", ("de", "de", "deu")),  # ISO 639-2/B
    ("de_de", ("de", "de", "deu")),  # FLEURS / locale
    ("de-DE", ("de", "de", "deu")),  # BCP 47
    ("DE", ("de", "de", "deu")),
    ("German", ("de", "de", "deu")),  # English name
    ("german", ("de", "de", "deu")),
    (" fr_fr ", ("fr", "fr", "fra")),
    ("spa", ("es", "es", "spa")),
    ("pt-BR", ("pt", "pt", "por")),
    ("pt_br", ("pt", "pt", "por")),
    ("en_us", ("en", "en", "eng")),
    ("English", ("en", "en", "eng")),
    ("cmn", ("zh", "zh", "cmn")),  # Mandarin: Whisper zh, Seamless cmn
    ("cmn_hans_cn", ("zh", "zh", "cmn")),  # FLEURS
    ("Chinese", ("zh", "zh", "cmn")),
    ("Mandarin Chinese", ("zh", "zh", "cmn")),
    ("zh-TW", ("zh-Hant", "zh", "cmn_Hant")),
    ("cmn_Hant", ("zh-Hant", "zh", "cmn_Hant")),
    ("yue_hant_hk", ("yue", "yue", "yue")),
    ("ja_jp", ("ja", "ja", "jpn")),
    ("arb", ("ar", "ar", "arb")),
    ("fa", ("fa", "fa", "pes")),
    ("jw", ("jv", "jw", "jav")),  # Whisper's own code for Javanese
    ("tl", ("fil", "tl", "tgl")),
    ("nb", ("no", "no", "nob")),  # Bokmål: stored and written as Norwegian
    ("nb_no", ("no", "no", "nob")),  # FLEURS
    ("Norwegian Bokmål", ("no", "no", "nob")),
    ("nn-NO", ("nn", "nn", "nno")),  # Nynorsk stays apart
    ("zh-HK", ("zh-Hant", "zh", "cmn_Hant")),
    ("zh-Hant", ("zh-Hant", "zh", "cmn_Hant")),
    ("cmn_hant_tw", ("zh-Hant", "zh", "cmn_Hant")),
    ("zh-CN", ("zh", "zh", "cmn")),
    ("iw", ("he", "he", "heb")),
    ("haw", ("haw", "haw", None)),  # Whisper only
    ("zu", ("zu", None, "zul")),  # Seamless only
]


@pytest.mark.parametrize(("value", "expected"), FORMS, ids=[f[0].strip() for f in FORMS])
def test_every_form_maps_to_each_backend(value: str, expected: tuple[str, str | None, str | None]) -> None:
    language = resolve(value)
    assert (language.code, whisper_code(language), seamless_code(language)) == expected


@pytest.mark.parametrize("value", ["", "   ", "xx", "zz", "und", "not a language", "en-XX-garbage!"])
def test_unknown_values_are_refused_with_the_accepted_forms(value: str) -> None:
    with pytest.raises(LanguageError, match="ISO 639-1 code.*locale.*English name"):
        resolve(value)
    assert issubclass(LanguageError, ConfigError)  # the CLI reports it as a usage error


def test_every_whisper_code_round_trips() -> None:
    for code in WHISPER_V3_LANGUAGES:
        assert whisper_code(resolve(code)) == code
    # every token's language, plus Traditional Chinese (written as zh); yue only in large-v3's
    assert whisper_languages() == {resolve(c).code for c in WHISPER_LANGUAGES} | {"zh-Hant"}
    assert whisper_languages(cantonese=True) == whisper_languages() | {"yue"}
    assert "yue" not in WHISPER_LANGUAGES and len(WHISPER_V3_LANGUAGES) == len(WHISPER_LANGUAGES) + 1


@pytest.mark.slow  # imports a model library
def test_whisper_table_matches_the_installed_library() -> None:
    from faster_whisper import tokenizer

    assert set(WHISPER_V3_LANGUAGES) == set(tokenizer._LANGUAGE_CODES)


# backend, model -> languages it transcribes (None: any), needs a language, detects it
BACKENDS = [
    ("faster-whisper", "tiny.en", frozenset({"en"}), False),
    ("faster-whisper", "base", whisper_languages(), False),
    ("openai-whisper", "openai/whisper-small.en", frozenset({"en"}), False),
    ("transformers", "openai/whisper-base", whisper_languages(), False),
    ("faster-whisper", "large-v3", whisper_languages(cantonese=True), False),
    ("faster-whisper", "turbo", whisper_languages(cantonese=True), False),
    ("transformers", "openai/whisper-large-v3", whisper_languages(cantonese=True), False),
    ("openai-whisper", "large-v2", whisper_languages(), False),
    ("lfm2.5-audio", "LiquidAI/LFM2.5-Audio-1.5B", frozenset({"en"}), False),
]


@pytest.mark.parametrize(("backend", "model", "languages", "needs"), BACKENDS)
def test_backends_declare_their_languages(backend: str, model: str, languages: frozenset[str], needs: bool) -> None:
    cls = get_backend(backend)
    assert cls.supported_languages(model) == languages
    assert cls.needs_language is needs


def test_seamless_needs_a_language_and_maps_mandarin_to_cmn() -> None:
    cls = get_backend("seamless-m4t")
    assert cls.needs_language
    supported = cls.supported_languages("facebook/seamless-m4t-v2-large")
    assert {"en", "de", "zh", "zh-Hant", "ar", "ps"} <= supported and "haw" not in supported
    assert cls.language_code(resolve("Chinese")) == "cmn"


def test_english_only_whisper_folder_is_recognised(tmp_path) -> None:
    (tmp_path / "vocabulary.txt").write_text("x\n" * 51864)
    assert whisper_model_languages(str(tmp_path)) == {"en"}
    (tmp_path / "vocabulary.txt").write_text("x\n" * 51865)
    assert whisper_model_languages(str(tmp_path)) == whisper_languages()
    (tmp_path / "vocabulary.txt").write_text("x\n" * 51866)  # large-v3: has <|yue|>
    assert whisper_model_languages(str(tmp_path)) == whisper_languages(cantonese=True)


# What FLEURS and Common Voice write; every form must reach each backend in a code it writes.
DATASET_FORMS = ["nb_no", "Norwegian Bokmål", "zh-TW", "zh-HK", "cmn_hant_tw", "zh-Hant", "zh-CN", "cmn_hans_cn"]


@pytest.mark.parametrize(("backend", "model", "codes"), [
    ("faster-whisper", "base", {"no", "zh"}),
    ("openai-whisper", "large-v3", {"no", "zh"}),
    ("seamless-m4t", "facebook/seamless-m4t-v2-large", {"nob", "cmn", "cmn_Hant"}),
])
def test_dataset_code_forms_reach_each_backend(backend: str, model: str, codes: set[str]) -> None:
    cls = get_backend(backend)
    supported = cls.supported_languages(model)
    languages = [resolve(v) for v in DATASET_FORMS]
    assert all(lang.code in supported for lang in languages)  # none becomes an error row
    assert {cls.language_code(lang) for lang in languages} == codes
    assert {lang.group for lang in languages} == {"no", "zh"}  # one table row each
    assert {lang.metric for lang in languages if lang.group == "zh"} == {"cer"}


def test_cantonese_only_where_the_vocabulary_has_it() -> None:
    plan = settle(None, ["yue_hant_hk", "zh-TW"], [ModelLanguages("faster-whisper:base", whisper_languages()),
                                                     ModelLanguages("faster-whisper:large-v3",
                                                                    whisper_languages(cantonese=True))])
    assert set(plan.warnings) == {"faster-whisper:base"} and "yue (Cantonese)" in plan.warnings["faster-whisper:base"]
    assert "yue" in get_backend("seamless-m4t").supported_languages("x")
    assert get_backend("lfm2.5-audio").supported_languages("LiquidAI/LFM2.5-Audio-1.5B") == {"en"}


WHISPER_BASE = ModelLanguages("faster-whisper:base", whisper_languages())
TINY_EN = ModelLanguages("faster-whisper:tiny.en", frozenset({"en"}))
SEAMLESS = ModelLanguages("seamless-m4t:x", get_backend("seamless-m4t").supported_languages("x"), True)


def test_settle_maps_every_dataset_value_once() -> None:
    settled = settle(None, ["German", "fr_fr", "spa", "pt-BR", "Chinese", None], [WHISPER_BASE])
    assert settled.used == {"de", "fr", "es", "pt", "zh"}
    assert settled.plan.code_of("German") == "de" and settled.plan.code_of(None) is None
    assert settled.warnings == {}


@pytest.mark.parametrize(("default", "values", "models", "message"), [
    ("xx", [None], [WHISPER_BASE], "--language 'xx'.*ISO 639-1"),
    (None, ["de", "Germish", "xx"], [WHISPER_BASE], "'Germish', 'xx'.*--language-column"),
    ("de", [None], [TINY_EN], "tiny.en transcribes none.*de \\(German\\).*transcribes: en"),
    (None, ["de", "fr"], [TINY_EN], "tiny.en transcribes none"),
    (None, [None], [SEAMLESS], "needs the spoken language.*--language"),
    (None, ["haw"], [SEAMLESS], "seamless-m4t:x transcribes none.*haw \\(Hawaiian\\)"),
])
def test_settle_refuses_up_front(default, values, models, message) -> None:
    with pytest.raises(LanguageError, match=message):
        settle(default, values, models)


def test_settle_warns_for_a_model_that_covers_some_languages() -> None:
    settled = settle(None, ["en", "de", "German"], [WHISPER_BASE, TINY_EN])
    assert list(settled.warnings) == ["faster-whisper:tiny.en"]
    assert "de (German)" in settled.warnings["faster-whisper:tiny.en"]


@pytest.mark.parametrize(("default", "values", "expected"), [
    (None, [], frozenset()),  # a stream whose first rows had no column values yet
    ("de", [None], frozenset({"de"})),  # no column: --language
    ("deu", ["fr"], frozenset({"fr"})),  # every sample has its own language
    (None, [None], frozenset()),  # nothing known: models detect (or assume English)
])
def test_settle_used_languages(default, values, expected) -> None:
    assert settle(default, values, [WHISPER_BASE, SEAMLESS if default else WHISPER_BASE]).used == expected


def test_plan_resolves_values_not_seen_up_front() -> None:
    plan = LanguagePlan("en", {"German": "de"})
    assert (plan.code_of(None), plan.code_of(""), plan.code_of("German"), plan.code_of("fr_fr")) == ("en", "en", "de",
                                                                                                    "fr")
    with pytest.raises(LanguageError):
        plan.code_of("Germish")


# language, text -> normalized text, normalizer name
NORMALIZED = [
    ("en", "Hello, World! Um, it's fine.", "hello world it is fine", "whisper-english"),  # filler dropped
    (None, "Hello, World!", "hello world", "whisper-english"),  # no language given or detected
    ("de", "Der Zug nach Berlin fährt um acht Uhr ab.", "der zug nach berlin fährt um acht uhr ab", "whisper-basic"),
    ("pt", "O restaurante fica perto da estação.", "o restaurante fica perto da estação", "whisper-basic"),
    ("fr", "Ma sœur préfère les pommes [rires] vertes (sic).", "ma sœur préfère les pommes vertes", "whisper-basic"),
    ("ru", "Моя бабушка живёт у реки!", "моя бабушка живёт у реки", "whisper-basic"),
    ("hi", "नमस्ते दुनिया.", "नमस्ते दुनिया", "whisper-basic"),  # vowel signs and virama kept
    ("zh", "你好，世界。", "你好世界", "whisper-basic-chars"),
    ("ja", "こんにちは 世界。", "こんにちは世界", "whisper-basic-chars"),
    ("th", "สวัสดี ครับ", "สวัสดีครับ", "whisper-basic-chars"),
    ("de", "", "", "whisper-basic"),
    ("zh", "", "", "whisper-basic-chars"),
]


@pytest.mark.parametrize(("language", "text", "expected", "name"), NORMALIZED)
def test_normalizer_per_language(language: str | None, text: str, expected: str, name: str) -> None:
    assert normalize(text, language) == expected
    assert normalizer_for(language).name == name
    assert score(text, text, language).normalizer == f"{name} {NORMALIZER_VERSION}"


# language, reference, hypothesis -> (wer, cer as errors / ref chars)
SCORES = [
    ("de", "Der Zug fährt um acht Uhr ab.", "der Zug fahrt um acht Uhr ab", (1 / 7, 1 / 28)),
    ("en", "Der Zug fährt um acht Uhr ab.", "der Zug fahrt acht Uhr ab", (0.0, 0.0)),  # why English must not apply
    ("zh", "你好世界。", "你好,世界!", (None, 0.0)),
    ("zh", "今天天气很好", "今天天很好啊", (None, 2 / 6)),
    ("ja", "", "こんにちは", (None, None)),
]


@pytest.mark.parametrize(("language", "reference", "hypothesis", "expected"), SCORES)
def test_scores_per_language(language, reference, hypothesis, expected) -> None:
    s = score(reference, hypothesis, language)
    cer = s.char_errors / s.ref_chars if s.ref_chars else None
    assert s.wer == (pytest.approx(expected[0]) if expected[0] is not None else None)
    assert cer == (pytest.approx(expected[1]) if expected[1] is not None else None)


def test_corpus_wer_leaves_out_languages_scored_by_characters() -> None:
    scores = [score("a b c d", "a b x d", "fr"), score("你好世界", "再见", "zh")]
    assert corpus_wer(scores) == pytest.approx(0.25)
    assert corpus_wer([]) is None
