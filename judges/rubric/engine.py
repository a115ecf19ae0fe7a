"""Weighted phrase rules: the engine behind refusal, escalation, toxicity, prompt injection and jailbreak.

A rule set is data (`rules/*.yaml`): each rule has an id, a weight, a regex over lower-cased text and
`needles`, words or phrases one of which every match contains (`stem*` for a prefix; markup and CJK
are matched as substrings). Negative weights are suppressors: a positive match that overlaps a
suppressor match is dropped ("can't recommend it enough" is not a refusal). The score is the sum of the
weights of the distinct rules that matched; the verdict is score >= threshold.

Why needles: in CPython a regex that does not start with a literal costs 10-20 ns a character, and a
text is read by a dozen rule sets of 30-60 rules. So the text is split into a set of words once (bytes
translate + split, in C), the needles are looked up in it, `str.find` locates the few that are present,
and each rule runs only in a small window around a needle of its own. A text without needles costs a
lower(), a split and a set intersection.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).parent / "rules"
_BEFORE, _AFTER = 100, 180  # window around a needle a rule may match in: rules are phrases, not paragraphs
_MAX_NEEDLE_HITS = 400  # bounds the work on hostile input (a megabyte of "can't")
_RULE_KEYS = {"id", "weight", "pattern", "words", "needles", "before", "each", "lang", "group", "examples"}
_OPEN_SINGLE = re.compile(r"(?:^|(?<=[\s(\[{:]))'(?=\S)")
_CLOSE_SINGLE = re.compile(r"(?<=\S)'(?=[\s.,;:!?)\]}]|$)")
# Word characters for the needle lookup, one byte each after a latin-1 encoding (accented letters included).
# Apostrophes separate words, so a quote stuck to a word ('ignore) still finds it; "can't" is keyed by "can".
_WORD_BYTES = bytes(c if 97 <= c <= 122 or 48 <= c <= 57 or (c >= 0xDF and c != 0xF7) else 32 for c in range(256))
_WORD = re.compile(r"[a-z0-9'\u00df-\u00f6\u00f8-\u00ff]+")
_QUOTE_PAIRS = (("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("\u201e", "\u201c"), ("\u300c", "\u300d"))


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    weight: float
    regex: re.Pattern[str]
    needles: tuple[str, ...]
    lang: str = ""
    group: str = ""
    examples: tuple[str, ...] = ()
    each: bool = False  # every distinct matched text counts (two different insults weigh twice)
    before: re.Pattern[str] | None = None  # must match the text just before the match ("please ", "you can ")
    word_start: bool = False  # the match starts at a word boundary (a leading \b, checked in code)


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    start: int
    end: int
    text: str  # the matched text, lower-cased


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    hits: tuple[Hit, ...]  # one per rule that counted

    def explain(self, threshold: float) -> str:
        if not self.hits:
            return "no rule matched"
        parts = [f"{h.rule.id} ({h.rule.weight:g}) {_short(h.text)!r}" for h in self.hits]
        verb = ">=" if self.score >= threshold else "<"
        return f"{'; '.join(parts)}; score {self.score:g} {verb} threshold {threshold:g}"


def _short(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def normalise(text: str) -> str:
    """Lower-case with typographic apostrophes made plain, so rules need one spelling of "can't"."""
    return text.lower().replace("\u2019", "'")


def prepare(text: str) -> tuple[str, frozenset[bytes], bool]:
    """(normalised text, its words, whether it holds characters beyond Latin-1), shared by the rule sets
    that read the same span one after another; long texts are not kept."""
    return _prepare(text) if len(text) <= 20_000 else _prepare.__wrapped__(text)


@functools.lru_cache(maxsize=64)
def _prepare(text: str) -> tuple[str, frozenset[bytes], bool]:
    low = normalise(text)
    raw = low.encode("latin-1", "replace")
    beyond_latin1 = not low.isascii() and raw.count(b"?") > low.count("?")  # CJK needles matter only then
    return low, frozenset(raw.translate(_WORD_BYTES).split()), beyond_latin1


def quoted(text: str, start: int) -> bool:
    """Whether position `start` sits inside a quotation or inline code on its line (a quoted refusal)."""
    line = max(text.rfind("\n", 0, start) + 1, start - 400)
    before = text[line:start]
    if before.count('"') % 2 or before.count("`") % 2 or before.rstrip().endswith(("'", "`")):
        return True
    for opening, closing in _QUOTE_PAIRS:
        i = before.rfind(opening)
        if i != -1 and before.find(closing, i + 1) == -1:
            return True
    # Single quotes double as apostrophes: count only those that open or close a quotation.
    return "'" in before and len(_OPEN_SINGLE.findall(before)) > len(_CLOSE_SINGLE.findall(before))


class RuleSet:
    def __init__(self, rules: Iterable[Rule], *, threshold: float = 1.0, window: int = 0,
                 ignore_quoted: bool = True, name: str = "rules", digest: str = "") -> None:
        self.rules = tuple(rules)
        if not self.rules:
            raise ValueError(f"{name}: no rules selected")
        self.threshold = threshold
        self.window = window  # only the first `window` characters are read (0: all)
        self.ignore_quoted = ignore_quoted
        self.digest = digest
        self._wake: dict[str, list[Rule]] = {}  # needle (as found in text) -> rules it wakes
        self._by_key: dict[bytes, list[str]] = {}  # word -> the word and phrase needles it stands for
        self._substrings: dict[str, list[str]] = {}  # stems, markup, CJK, by first character: found with `in`
        for rule in self.rules:
            for raw in rule.needles:
                needle, key = _needle(raw)
                if needle not in self._wake:
                    if key is None:
                        self._substrings.setdefault(needle[0], []).append(needle)
                    else:
                        self._by_key.setdefault(key, []).append(needle)
                self._wake.setdefault(needle, []).append(rule)
        self._keys = frozenset(self._by_key)

    def _present(self, low: str, words: frozenset[bytes], beyond_latin1: bool) -> list[str]:
        present = [n for key in self._keys.intersection(words) for n in self._by_key[key]]
        for first, needles in self._substrings.items():
            if (first <= "\xff" or beyond_latin1) and first in low:
                present += [n for n in needles if n in low]
        return present

    def run(self, text: str) -> Verdict:
        low, words, beyond_latin1 = prepare(text[: self.window] if self.window else text)
        windows: dict[int, tuple[Rule, list[tuple[int, int]]]] = {}
        for needle in self._present(low, words, beyond_latin1):
            rules = self._wake[needle]
            at, count = low.find(needle), 0
            while at != -1 and count < _MAX_NEEDLE_HITS:
                span = (max(0, at - _BEFORE), at + len(needle) + _AFTER)
                for rule in rules:
                    windows.setdefault(id(rule), (rule, []))[1].append(span)
                at, count = low.find(needle, at + 1), count + 1
        found: dict[str, list[Hit]] = {}
        negatives: list[Hit] = []
        for rule, spans in windows.values():
            for m in _matches(rule, low, _merge(spans)):
                hit = Hit(rule, m.start(), m.end(), m.group())
                if rule.weight < 0:
                    negatives.append(hit)
                elif not (self.ignore_quoted and quoted(low, m.start())):
                    found.setdefault(f"{rule.id}:{m.group()}" if rule.each else rule.id, []).append(hit)
        kept = []
        for hits in found.values():
            hit = next((h for h in hits if not any(h.start < n.end and n.start < h.end for n in negatives)), None)
            if hit is not None:
                kept.append(hit)
        kept.sort(key=lambda h: h.start)
        return Verdict(round(sum(h.rule.weight for h in kept), 6), tuple(kept))


def _matches(rule: Rule, low: str, windows: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    for lo, hi in windows:
        pos = lo
        while (m := rule.regex.search(low, pos, hi)) is not None:
            s = m.start()
            pos = max(m.end(), s + 1)
            if rule.word_start and s and _latin_word(low[s]) and _latin_word(low[s - 1]):
                pos = s + 1  # not a word start; a match may still begin inside this one
                continue
            if rule.before is not None and not rule.before.search(low, max(0, s - 60), s):
                continue
            yield m


def _latin_word(ch: str) -> bool:
    return ch < "\u0250" and (ch.isalnum() or ch == "_")


def _alternatives(pattern: str) -> list[str]:
    """The top-level branches of a regex (split on | outside groups and classes)."""
    out, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 + (pattern[i + 1 : i + 2] in ("]", "^"))  # "[]...]" and "[^]...]" start a class too
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*out, pattern[start:]]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _needle(raw: str) -> tuple[str, bytes | None]:
    """(text to find, word to look up): words and phrases go through the word set, keyed by their
    longest word; a trailing * marks a stem; markup, punctuation and non-Latin-1 text are substrings."""
    needle = raw.strip()
    if needle.endswith("*"):
        return needle[:-1], None
    words = needle.split(" ")
    if all(_WORD.fullmatch(w) for w in words):
        return needle, max(re.split("[ ']", needle), key=len).encode("latin-1")
    return needle, None


def compile_rule(raw: Any, source: str) -> Rule:
    ok = isinstance(raw, dict) and _RULE_KEYS.issuperset(raw) and "id" in raw
    if not ok or ("pattern" in raw) == ("words" in raw) or ("pattern" in raw and "needles" not in raw):
        raise ValueError(f"{source}: a rule needs an id and either pattern + needles or words (optional: weight, "
                         f"each, lang, group, examples); got {raw!r:.200}")
    rid = str(raw["id"])
    if "words" in raw:  # a word list: whole words only, and each word is its own needle
        words = sorted({normalise(str(w)) for w in raw["words"]}, key=len, reverse=True)
        raw = {**raw, "needles": words, "pattern": r"\b(?:" + "|".join(map(re.escape, words)) + r")(?![\w*-])"}
    needles = raw["needles"]
    if not isinstance(needles, list) or not needles or any(not isinstance(n, str) or not n for n in needles):
        raise ValueError(f"{source}: rule {rid}: needles must be a non-empty list of strings")
    if any(normalise(n) != n for n in needles):
        raise ValueError(f"{source}: rule {rid}: needles must be lower-case (texts are lower-cased)")
    pattern, word_start = raw["pattern"], False
    branches = _alternatives(pattern)
    if any(b.startswith("\\b") for b in branches):
        # CPython skips a branch fast only when it starts with a literal, so a leading \b is checked in
        # code instead (for matches that start with a Latin letter or digit: CJK needs no boundary).
        pattern, word_start = "|".join(b[2:] if b.startswith("\\b") else b for b in branches), True
    try:
        regex = re.compile(pattern)
        before = re.compile(f"(?:{raw['before']})$") if raw.get("before") else None
    except re.error as exc:
        raise ValueError(f"{source}: rule {rid}: pattern does not compile: {exc}") from None
    weight = float(raw.get("weight", 1.0))
    if weight == 0:
        raise ValueError(f"{source}: rule {rid}: weight 0 would never count")
    return Rule(rid, weight, regex, tuple(needles), str(raw.get("lang", "")), str(raw.get("group", "")),
                tuple(raw.get("examples") or ()), bool(raw.get("each", False)), before, word_start)


_CACHE: dict[Path, tuple[dict[str, Any], tuple[Rule, ...], str]] = {}


def load_rules(path: Path) -> tuple[dict[str, Any], tuple[Rule, ...], str]:
    """(file settings, rules, content digest); parsed once per process."""
    path = path if path.is_absolute() else RULES_DIR / path
    if path not in _CACHE:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            raise ValueError(f"{path}: expected a mapping with a `rules` list")
        rules = tuple(compile_rule(r, path.name) for r in data["rules"])
        dupes = sorted({r.id for r in rules if sum(o.id == r.id for o in rules) > 1})
        if dupes:
            raise ValueError(f"{path.name}: duplicate rule ids {dupes}")
        settings = {k: v for k, v in data.items() if k != "rules"}
        _CACHE[path] = (settings, rules, hashlib.sha256(raw).hexdigest()[:12])
    return _CACHE[path]


def select(rules: Iterable[Rule], *, groups: Iterable[str] | None = None,
           langs: Iterable[str] | None = None) -> list[Rule]:
    """Rules in the given groups and languages (rules without a language are kept for any language)."""
    group_set = set(groups) if groups is not None else None
    lang_set = set(langs) if langs is not None else None
    return [r for r in rules if (group_set is None or r.group in group_set)
            and (lang_set is None or not r.lang or r.lang in lang_set)]
