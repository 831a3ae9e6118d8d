"""What "one language at a time" means to a test: a Chinese page has no English words, an
English page no Chinese characters, except for data (names, ids, plates) the test lists
and the language switch, which names the other language in that language."""

from __future__ import annotations

import re
from collections.abc import Iterable

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
# words a Chinese page may show: units, protocols, formats, the language switch
ZH_ALLOWED = {"English", "MQTT", "GPS", "ID", "SMS", "CSV", "JPEG", "km", "kmh", "OK", "QoS"}
EN_ALLOWED = {"中文"}


def foreign(text: str, lang: str, data: Iterable[str] = ()) -> list[str]:
    """The pieces of `text` in the other language, after removing the data values."""
    text = re.sub(r"\{\w+\}", " ", text)  # a catalogue template's placeholders
    for value in sorted(data, key=len, reverse=True):
        if value:
            text = text.replace(value, " ")
    if lang == "zh":
        return [w for w in LATIN_WORD.findall(text) if w not in ZH_ALLOWED and not _code(w)]
    return [w for w in CJK.findall(text) if w not in EN_ALLOWED]


def _code(word: str) -> bool:
    """Ids and codes such as tag-0001, G-01, cam-shuiting-01 are data, not English."""
    return bool(re.fullmatch(r"[A-Za-z]{1,4}", word)) and word.isupper()
