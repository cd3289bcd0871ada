"""One language map for every backend, the dataset and the scoring.

A language may be written as an ISO 639-1 code (``de``), an ISO 639-3/639-2 code (``deu``,
``ger``), a locale or BCP 47 tag (``de_de``, ``de-DE``, ``pt-BR``, FLEURS' ``cmn_hans_cn``) or an
English name (``German``, ``Mandarin Chinese``); :func:`resolve` turns each into one
:class:`Language` whose ``code`` is the canonical form stored in ``results.language``: the
ISO 639-1 code where there is one (the macrolanguage for individual codes: ``cmn`` -> ``zh``,
``arb`` -> ``ar``, Bokmål ``nb`` -> ``no``), else ISO 639-3; Chinese in Traditional script
(``zh-TW``, ``zh-HK``, ``zh-Hant``, ``cmn_hant_tw``) is ``zh-Hant``, so a backend that writes the two
scripts apart (SeamlessM4T's ``cmn_Hant``) still gets the script. :attr:`Language.group` is the
language without its script (``zh`` for both scripts): per-language tables group by it and its
primary metric (:func:`primary_metric`: WER, or CER for languages written without spaces) scores
it. Each backend maps the canonical code to its own (:func:`whisper_code`, :func:`seamless_code`)
and says which canonical codes its model's vocabulary has (:func:`whisper_languages`: ``yue`` only
for the large-v3 vocabulary).

Parsing and names come from ``langcodes`` (with ``language_data``), the lists of what Whisper
and SeamlessM4T v2 write are data here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from evaluator.errors import ConfigError

__all__ = [
    "WHISPER_LANGUAGES", "WHISPER_V3_LANGUAGES", "SEAMLESS_LANGUAGES", "SPACELESS", "ACCEPTED_FORMS", "Language",
    "LanguageError", "LanguagePlan", "resolve", "language_group", "primary_metric", "whisper_code", "seamless_code",
    "whisper_languages", "seamless_languages", "describe", "ModelLanguages", "SettledLanguages", "settle",
]

# Whisper's language tokens (faster_whisper.tokenizer._LANGUAGE_CODES, whisper.tokenizer.LANGUAGES):
# the 99 of every multilingual vocabulary; large-v3's (51866 tokens) adds Cantonese.
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de",
    "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht",
    "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt",
    "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl",
    "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta",
    "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh",
)
WHISPER_V3_LANGUAGES: tuple[str, ...] = (*WHISPER_LANGUAGES, "yue")
# SeamlessM4T v2's text (ASR output) languages, from its model card.
SEAMLESS_LANGUAGES: frozenset[str] = frozenset((
    "afr", "amh", "arb", "ary", "arz", "asm", "azj", "bel", "ben", "bos", "bul", "cat", "ceb", "ces", "ckb",
    "cmn", "cmn_Hant", "cym", "dan", "deu", "ell", "eng", "est", "eus", "fin", "fra", "fuv", "gaz", "gle",
    "glg", "guj", "heb", "hin", "hrv", "hun", "hye", "ibo", "ind", "isl", "ita", "jav", "jpn", "kan", "kat",
    "kaz", "khk", "khm", "kir", "kor", "lao", "lit", "lug", "luo", "lvs", "mai", "mal", "mar", "mkd", "mlt",
    "mni", "mya", "nld", "nno", "nob", "npi", "nya", "ory", "pan", "pbt", "pes", "pol", "por", "ron", "rus",
    "sat", "slk", "slv", "sna", "snd", "som", "spa", "srp", "swe", "swh", "tam", "tel", "tgk", "tgl", "tha",
    "tur", "ukr", "urd", "uzn", "vie", "yor", "yue", "zlm", "zsm", "zul",
))
# Languages written without spaces between words: CER is their metric, WER is not reported
# (canonical codes; evaluator/results/views.sql names the same list).
SPACELESS: frozenset[str] = frozenset({"zh", "zh-Hant", "yue", "ja", "th", "lo", "km", "my"})
ACCEPTED_FORMS = ("an ISO 639-1 code (de), an ISO 639-3 code (deu), a locale (de_de, de-DE, pt-BR) "
                  "or an English name (German)")

# Canonical -> Whisper where the two differ (Whisper writes both Chinese scripts as zh).
_TO_WHISPER = {"fil": "tl", "jv": "jw", "zh-Hant": "zh"}
# Individual languages stored under another canonical code (Bokmål is what "no" means in Whisper,
# SeamlessM4T's nob and most datasets; Nynorsk keeps nn).
_CANONICAL = {"nb": "no"}
# Canonical -> SeamlessM4T where Seamless names an individual language of a macrolanguage.
_TO_SEAMLESS = {
    "ar": "arb", "az": "azj", "fa": "pes", "lv": "lvs", "mn": "khk", "ms": "zsm", "ne": "npi", "no": "nob",
    "om": "gaz", "ps": "pbt", "sw": "swh", "uz": "uzn", "zh": "cmn", "zh-Hant": "cmn_Hant", "fil": "tgl",
    "et": "est", "or": "ory", "ff": "fuv", "lg": "lug",
}


class LanguageError(ConfigError):
    """A language value that maps to nothing, or a language a model does not transcribe."""


@dataclass(frozen=True)
class Language:
    """One resolved language.

    Attributes:
        code: canonical code (ISO 639-1 where it exists, else ISO 639-3; ``zh-Hant`` for
            Traditional Chinese); what ``results.language`` holds.
        name: English name.
    """

    code: str
    name: str

    @property
    def group(self) -> str:
        """The language without its script (``zh`` for ``zh-Hant``): what tables group by."""
        return language_group(self.code) or self.code

    @property
    def spaceless(self) -> bool:
        """Written without spaces between words (CER is the metric)."""
        return self.code in SPACELESS

    @property
    def metric(self) -> str:
        """The primary metric: ``cer`` for a language written without spaces, else ``wer``."""
        return "cer" if self.spaceless else "wer"


def language_group(code: str | None) -> str | None:
    """The group of a stored language value: the part before a script (``zh-Hant`` -> ``zh``);
    the ``language_group`` macro of evaluator/results/views.sql does the same."""
    return None if code is None else code.split("-", 1)[0]


def primary_metric(code: str | None) -> str:
    """``cer`` for a canonical code of a language written without spaces, else ``wer`` (also for
    no language: scored as English); the ``language_metric`` macro of views.sql does the same."""
    return "cer" if code is not None and (code in SPACELESS or language_group(code) in SPACELESS) else "wer"


@cache
def resolve(value: str) -> Language:
    """The language a value names, in any accepted form (case and ``_``/``-`` do not matter).

    Raises:
        LanguageError: the value names no language; the message lists the accepted forms.
    """
    import langcodes

    text = str(value).strip()
    tag = text.replace("_", "-")
    parsed = None
    if tag and langcodes.tag_is_valid(tag):
        parsed = langcodes.Language.get(tag)
    elif text:
        try:
            parsed = langcodes.Language.get(langcodes.find(text).language)
        except LookupError:
            parsed = None
    if parsed is None or parsed.language in (None, "und", "zxx", "mul"):
        raise LanguageError(f"{value!r} is not a language this evaluator knows: give {ACCEPTED_FORMS}")
    macro = parsed.prefer_macrolanguage()
    code = _CANONICAL.get(macro.language, macro.language)
    if code == "zh" and parsed.maximize().script == "Hant":
        code = "zh-Hant"
    elif code == "zh" and parsed.script == "Hant":
        code = "zh-Hant"
    return Language(code, langcodes.Language.get(code).display_name())


def whisper_code(language: Language) -> str | None:
    """Whisper's code for a language (``None``: no Whisper vocabulary has it; ``yue`` is only in
    large-v3's, see :func:`whisper_languages`)."""
    code = _TO_WHISPER.get(language.code, language.code)
    return code if code in WHISPER_V3_LANGUAGES else None


def seamless_code(language: Language) -> str | None:
    """SeamlessM4T v2's code for a language (``None``: it does not write it)."""
    import langcodes

    code = _TO_SEAMLESS.get(language.code) or langcodes.Language.get(language.code).to_alpha3()
    return code if code in SEAMLESS_LANGUAGES else None


@cache
def whisper_languages(cantonese: bool = False) -> frozenset[str]:
    """Canonical codes of the languages a multilingual Whisper vocabulary writes: every code
    whose :func:`whisper_code` is one of its language tokens (``zh-Hant`` too: Whisper writes it
    as ``zh``). ``cantonese``: the large-v3 vocabulary, which also has ``yue``."""
    tokens = WHISPER_V3_LANGUAGES if cantonese else WHISPER_LANGUAGES
    codes = {resolve(c).code for c in tokens} | set(_TO_WHISPER)
    return frozenset(c for c in codes if _TO_WHISPER.get(c, c) in tokens)


@cache
def seamless_languages() -> frozenset[str]:
    """Canonical codes of the languages SeamlessM4T v2 writes."""
    codes = {resolve(c.replace("_Hant", "-Hant")).code for c in SEAMLESS_LANGUAGES} | set(_TO_SEAMLESS)
    return frozenset(c for c in codes if seamless_code(resolve(c)) is not None)


def describe(codes: Iterable[str]) -> str:
    """``de (German), fr (French)``: canonical codes with names, sorted."""
    return ", ".join(f"{c} ({resolve(c).name})" for c in sorted(codes))


@dataclass(frozen=True)
class LanguagePlan:
    """The run's languages, settled by the driver before any actor starts.

    Attributes:
        default: canonical code for samples with no language of their own (``--language``).
        values: each language value found in the dataset -> its canonical code (a streaming
            dataset's values are those seen up front; :meth:`code_of` resolves the others).
        detect: models that detect the language are given none (``--detect-language``).
    """

    default: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    detect: bool = False

    def code_of(self, raw: str | None) -> str | None:
        """Canonical code of a sample's language value (``None``: not given).

        Raises:
            LanguageError: a value that names no language.
        """
        if raw is None or not str(raw).strip():
            return self.default
        if raw in self.values:
            return self.values[raw]
        return resolve(raw).code

    def canonical_or_raw(self, raw: str | None) -> str | None:
        """:meth:`code_of`, or ``raw`` itself when it names no language (for an error row)."""
        try:
            return self.code_of(raw)
        except LanguageError:
            return raw


@dataclass(frozen=True)
class ModelLanguages:
    """What the up-front check needs to know of one model.

    Attributes:
        label: the model spec (``faster-whisper:base``).
        supported: canonical codes it transcribes (``None``: it does not use the language).
        needs_language: every sample needs a language (no detection).
    """

    label: str
    supported: frozenset[str] | None
    needs_language: bool = False


@dataclass(frozen=True)
class SettledLanguages:
    """The outcome of :func:`settle`.

    Attributes:
        plan: what actors use to map each sample's language value to its canonical code.
        used: canonical codes the run's samples are in (those known up front).
        warnings: per model label, the languages it does not transcribe: its rows in them are
            stored with the model's LanguageError, decided here ("not transcribable": neither
            scored nor counted as errors; see evaluator.results.ranking).
        complete: every value was seen (``False`` for a stream: the rest are checked per row).
    """

    plan: LanguagePlan
    used: frozenset[str]
    warnings: Mapping[str, str]
    complete: bool = True


def settle(default: str | None, values: Iterable[str | None], models: Iterable[ModelLanguages],
           complete: bool = True, detect: bool = False) -> SettledLanguages:
    """Check the run's languages before any actor starts.

    ``default`` is ``--language``; ``values`` the distinct values of the dataset's language
    column (``[None]`` when there is no column), all of them when ``complete``, else those seen
    up front (a stream). ``detect`` is carried into the plan (``--detect-language``).

    Raises:
        LanguageError: ``--language`` or a dataset value names no language; a model transcribes
            none of the run's languages; a model that needs a language meets samples with none.
            Each message lists the valid choices.
    """
    try:
        default_code = resolve(default).code if default else None
    except LanguageError as exc:
        raise LanguageError(f"--language {default!r}: {exc}") from None
    mapping: dict[str, str] = {}
    bad: list[str] = []
    missing = False
    for value in values:
        if value is None or not str(value).strip():
            missing = True
            continue
        try:
            mapping[value] = resolve(value).code
        except LanguageError:
            bad.append(str(value))
    if bad:
        shown = ", ".join(repr(v) for v in sorted(bad)[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise LanguageError(f"the dataset's language column holds values that name no language: {shown}; each "
                            f"value must be {ACCEPTED_FORMS} (or choose another column with --language-column)")
    used = set(mapping.values()) | ({default_code} if missing and default_code else set())
    warnings: dict[str, str] = {}
    for model in models:
        if model.needs_language and missing and default_code is None:
            raise LanguageError(f"{model.label} needs the spoken language of every sample (it cannot detect it) and "
                                "some samples have none: pass --language (e.g. --language en) or use a dataset with a "
                                "language column (--language-column)")
        if model.supported is None or not used:
            continue
        unsupported = used - model.supported
        valid = ", ".join(sorted(model.supported))
        if unsupported == used:
            raise LanguageError(f"{model.label} transcribes none of this run's languages ({describe(used)}); "
                                f"it transcribes: {valid}")
        if unsupported:
            warnings[model.label] = (f"{model.label} does not transcribe {describe(unsupported)}: its samples in "
                                     f"them are not transcribable, neither scored nor counted as errors, and it "
                                     f"is not ranked with models that transcribe them (it transcribes: {valid})")
    return SettledLanguages(LanguagePlan(default_code, mapping, detect), frozenset(used), warnings, complete)
