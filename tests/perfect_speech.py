"""A deterministic "perfect transcriber" for long-form tests: a script whose every unit (word, or
character of a script written without spaces) is spoken at a known time, and the exact transcript
of any window of it, with or without timed segments.

Scripts are built from fixed vocabularies with a seeded generator, so common characters (的, 是,
の) recur as they do in real text and can mislead an alignment that ignores time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from evaluator.data.windows import Window
from evaluator.scoring.merging import ChunkText
from evaluator.scoring.units import Unit, is_spaceless_char, join_units, units

__all__ = ["Script", "script", "LANGUAGES"]

_ZH = ("的的的是是一不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里"
       "后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样"
       "现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重"
       "被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员")
_JA = ("のののはにをがでとたしていますあいうえおかきくけこさしすせそたちつてとなにぬねはひふへほまみむめもやゆよ"
       "らりるれ"
       "ろわんがぎぐげござじずぜぞだでどばびぶべぼっゃゅょーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフ"
       "ヘホマミムメモラリルレロワン日本人大学生時間今年先東京電話会社私何食見行来語")
_TH = ("สวัสดี ครับ ขอบคุณ มาก วันนี้ อากาศ ดี ฉัน ไป ตลาด กับ เพื่อน เรา กิน ข้าว ที่ บ้าน ประเทศ ไทย ภาษา "
       "เรียน หนังสือ โรงเรียน ทำงาน เมือง ใหญ่ น้ำ ร้อน เย็น พี่ น้อง แม่ พ่อ รถ ไฟ").split()
_EN = ("the a of and to in is it that was for on are with as his they at be this from have or by one had not "
       "but what all were when we there can an your which their said if do will each about how up out them "
       "then she many some so these would other into has more her two like him see time could no make than "
       "first been its who now people my made over did down only way find use may water long little very").split()

# Units per second of speech (about what people say).
LANGUAGES = {"zh": 4.5, "ja": 7.0, "th": 10.0, "en": 2.5}


@dataclass(frozen=True)
class Script:
    """A recording's script: ``units`` spoken one after another, unit ``k`` from ``starts[k]`` to
    ``ends[k]`` seconds (its duration in proportion to its length, as a spread would place it)."""

    language: str
    units: tuple[Unit, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    @property
    def text(self) -> str:
        return join_units(list(self.units))

    @property
    def duration(self) -> float:
        return self.ends[-1]

    def _inside(self, window: Window) -> list[int]:
        return [k for k in range(len(self.units))
                if window.start <= (self.starts[k] + self.ends[k]) / 2 < window.end
                or (window.end >= self.duration and (self.starts[k] + self.ends[k]) / 2 >= window.start)]

    def transcribe(self, window: Window, *, timed: bool, segment_units: int = 25) -> ChunkText:
        """Exactly the units whose middle lies in the window; with ``timed``, as segments of
        ``segment_units`` units with their times (seconds from the window's start)."""
        inside = self._inside(window)
        text = join_units([self.units[k] for k in inside])
        if not timed:
            return ChunkText(window, text)
        segments = []
        for i in range(0, len(inside), segment_units):
            part = inside[i:i + segment_units]
            start = max(self.starts[part[0]], window.start) - window.start
            end = min(self.ends[part[-1]], window.end) - window.start
            segments.append((round(start, 3), round(end, 3), join_units([self.units[k] for k in part])))
        return ChunkText(window, text, tuple(segments))


def _size(unit: Unit) -> int:
    return 1 if is_spaceless_char(unit.text[0]) else len(unit.text) + 1


def script(language: str, seconds: float, seed: int = 0, jitter: float = 0.0) -> Script:
    """About ``seconds`` of speech in ``language`` (``zh``, ``ja``, ``th`` or ``en``). ``jitter``
    varies the speaking rate from unit to unit (each duration times 1 +- up to ``jitter``), so an
    even spread of a window's text puts its units off their true times."""
    rng = random.Random(seed)
    rate = LANGUAGES[language]
    pieces: list[str] = []
    count = 0
    target = int(seconds * rate)
    while count < target:
        if language == "zh":
            sentence = "".join(rng.choice(_ZH) for _ in range(rng.randint(6, 18))) + rng.choice("，。")
        elif language == "ja":
            sentence = "".join(rng.choice(_JA) for _ in range(rng.randint(8, 22))) + rng.choice("、。")
        elif language == "th":
            sentence = "".join(rng.choice(_TH) for _ in range(rng.randint(3, 6))) + " "
        else:
            sentence = " ".join(rng.choice(_EN) for _ in range(rng.randint(5, 14))) + ". "
        pieces.append(sentence)
        count += len(units(sentence))
    parts = tuple(units("".join(pieces)))
    weights = [_size(u) * (1 + rng.uniform(-jitter, jitter)) for u in parts]
    per_size = seconds / sum(weights)
    starts, ends, t = [], [], 0.0
    for weight in weights:
        starts.append(t)
        t += weight * per_size
        ends.append(t)
    return Script(language, parts, tuple(starts), tuple(ends))
