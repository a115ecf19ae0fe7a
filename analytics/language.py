"""A cheap language guess for drift features: the script of the letters, then stop words for Latin script.

Good enough to notice "a share of traffic is now in Spanish" — not a language identifier. Unknown or
too-short text is "und". Latin-script languages covered: en, es, fr, de, pt, it, nl.
"""

from __future__ import annotations

import re

_SCRIPTS = (  # (first, last code point, language or script name); first match by letter count wins
    (0x3040, 0x30FF, "ja"), (0xAC00, 0xD7AF, "ko"), (0x4E00, 0x9FFF, "zh"), (0x0400, 0x04FF, "cyrillic"),
    (0x0600, 0x06FF, "ar"), (0x0590, 0x05FF, "he"), (0x0900, 0x097F, "hi"), (0x0370, 0x03FF, "el"),
    (0x0E00, 0x0E7F, "th"),
)
_STOP = {
    "en": "the and is are you your to of in for with how what why can do does my this that it not".split(),
    "es": "el la los las que de y en por para con cómo como qué mi es un una no se del al está".split(),
    "fr": "le la les des et est que qui pour dans avec comment pourquoi mon ma une un pas ne je vous".split(),
    "de": "der die das und ist nicht ich sie mit für wie warum mein meine ein eine auf zu den dem".split(),
    "pt": "o a os as que de e em para com como por meu minha um uma não é do da está você".split(),
    "it": "il lo la gli le che di e per con come perché mio mia un una non è del della sono".split(),
    "nl": "de het een en is van voor met hoe waarom mijn niet ik je dat op te zijn".split(),
}
_WORDS = {lang: set(words) for lang, words in _STOP.items()}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str) -> str:
    if not text:
        return "und"
    sample = text[:2000]
    counts: dict[str, int] = {}
    latin = 0
    for ch in sample:
        code = ord(ch)
        if code < 0x250:
            latin += ch.isalpha()
            continue
        for first, last, name in _SCRIPTS:
            if first <= code <= last:
                counts[name] = counts.get(name, 0) + 1
                break
    if counts:
        best = max(counts, key=counts.__getitem__)
        if counts[best] > latin:
            return best
    words = [w.lower() for w in _TOKEN.findall(sample)]
    if len(words) < 3:
        return "und"
    hits = {lang: sum(w in stop for w in words) for lang, stop in _WORDS.items()}
    best = max(hits, key=lambda lang: (hits[lang], lang == "en"))
    return best if hits[best] >= 2 else "und"
