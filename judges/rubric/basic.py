"""User rules: `regex`, `keywords` and `length`.

regex / keywords have two semantics:
- detection (no `expect`): value 1.0 when it matches, labels match / no_match, `direction` from the
  config (default lower_is_better: a rule usually flags something, e.g. a competitor's name);
- a check (`expect: match` or `expect: no_match`): value 1.0 when the expectation holds, labels
  pass / fail, higher_is_better.
length: value 1.0 when within bounds (labels pass / too_short / too_long), higher_is_better.
"""

from __future__ import annotations

import re
import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from judges.core import Score, Target
from judges.rubric.base import Direction, Rubric, RubricConfig, SingleFieldConfig, field_text, safe_snippet


class MatchConfig(RubricConfig):
    expect: Literal["match", "no_match"] | None = None
    direction: Direction | None = None

    @model_validator(mode="after")
    def _direction_only_for_detection(self) -> MatchConfig:
        if self.expect is not None and self.direction is not None:
            raise ValueError("direction applies to detection rules only; with `expect` 1.0 always means pass")
        return self


class _MatchRubric(Rubric):
    def __init__(self, config: MatchConfig) -> None:
        super().__init__(config)
        self.expect = config.expect
        if config.expect is None:
            self.labels = ("match", "no_match")
            self.direction = config.direction or "lower_is_better"
        else:
            self.labels = ("pass", "fail")
            self.direction = "higher_is_better"

    def find(self, text: str) -> str | None:
        """What matched, for the rationale; None when nothing did."""
        raise NotImplementedError

    def check(self, target: Target) -> tuple[bool, str]:
        fields = self.config.field
        found = ""
        for name in fields:
            what = self.find(field_text(target, name))
            if what is not None:
                found = f"{name}: {what}" if len(fields) > 1 else what
                break
        matched = bool(found)
        if self.expect == "no_match":
            return not matched, found + " (expected no match)" if matched else "no match, as expected"
        return matched, found or f"no match in {', '.join(fields)}"


class RegexConfig(MatchConfig):
    pattern: str = ""
    patterns: tuple[str, ...] = ()
    ignore_case: bool = False

    @model_validator(mode="after")
    def _compiles(self) -> RegexConfig:
        if bool(self.pattern) == bool(self.patterns):
            raise ValueError("give either `pattern` or `patterns` (a list)")
        for p in self.patterns or (self.pattern,):
            try:
                regex = re.compile(p)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regex: {exc}") from None
            if regex.search(""):
                raise ValueError(f"pattern {p!r} matches the empty string, so it would match every text")
        return self


class Regex(_MatchRubric):
    """Python regular expressions (`re` syntax), searched anywhere in the field. Patterns are compiled
    once; keep them linear (no nested quantifiers): they run on every sampled span."""

    kind = "regex"
    Config = RegexConfig

    def __init__(self, config: RegexConfig) -> None:
        super().__init__(config)
        pattern = "|".join(f"(?:{p})" for p in (config.patterns or (config.pattern,)))
        # IGNORECASE turns off CPython's fast literal scan. A pattern with no upper-case letter (so no \\S, \\W,
        # [A-Z]...) matches the lower-cased text the same way without it.
        self._lower = config.ignore_case and pattern == pattern.lower()
        self._regex = re.compile(pattern, re.IGNORECASE if config.ignore_case and not self._lower else 0)

    def find(self, text: str) -> str | None:
        haystack = text.lower() if self._lower else text
        m = self._regex.search(haystack)
        if m is None:
            return None
        shown = text if len(haystack) == len(text) else haystack  # lower() may change lengths ("İ")
        return f"matched at {m.start()}: {safe_snippet(shown, m.start(), m.end())!r}"


class KeywordsConfig(MatchConfig):
    keywords: tuple[str, ...] = Field(min_length=1)
    ignore_case: bool = True
    whole_word: bool = True
    mode: Literal["any", "all"] = "any"

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not k.strip() for k in value):
            raise ValueError("keywords must not be empty strings")
        return value


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class Keywords(_MatchRubric):
    """Literal keywords or phrases; whole words by default (`whole_word: false` matches inside words)."""

    kind = "keywords"
    Config = KeywordsConfig

    def __init__(self, config: KeywordsConfig) -> None:
        super().__init__(config)
        self._fold = config.ignore_case
        words = {k.lower() if self._fold else k for k in config.keywords}
        self._words = sorted(words, key=len, reverse=True)
        # A plain literal alternation: the regex engine skips non-candidate positions quickly.
        self._regex = re.compile("|".join(map(re.escape, self._words)))
        self._whole = config.whole_word
        self._all = config.mode == "all"

    def _found(self, text: str) -> list[str]:
        if self._fold:
            text = text.lower()
        found: list[str] = []
        pos = 0
        while (m := self._regex.search(text, pos)) is not None:
            s, e = m.span()
            word = m.group()
            ok = not self._whole or (
                (s == 0 or not (_is_word(word[0]) and _is_word(text[s - 1])))
                and (e == len(text) or not (_is_word(word[-1]) and _is_word(text[e]))))
            if ok:
                # A longer keyword's match also holds the shorter keywords inside it.
                found.extend(w for w in self._words if w in word and w not in found)
                if not self._all:
                    break
                pos = e
            else:
                pos = s + 1  # "cats" failed for "cat": a keyword may still start inside it
        return found

    def find(self, text: str) -> str | None:
        found = self._found(text)
        if self._all:
            missing = [w for w in self._words if w not in found]
            if missing:
                return None
            return "all keywords present: " + ", ".join(repr(w) for w in self._words[:5])
        return f"keyword {found[0]!r}" if found else None

    def check(self, target: Target) -> tuple[bool, str]:
        hit, why = super().check(target)
        if self._all and not hit and self.expect != "no_match":
            text = " ".join(field_text(target, f) for f in self.config.field)
            missing = [w for w in self._words if w not in self._found(text)]
            why = "missing keywords: " + ", ".join(repr(w) for w in missing[:5])
        return hit, why


class LengthConfig(SingleFieldConfig):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    unit: Literal["chars", "tokens", "words"] = "chars"

    @model_validator(mode="after")
    def _bounds(self) -> LengthConfig:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


def measure(text: str, unit: str) -> int:
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    # ~4 bytes of UTF-8 per token: English runs ~4 chars a token, CJK ~1-1.5 chars (3 bytes each).
    return (len(text.encode("utf-8")) + 3) // 4


class Length(Rubric):
    """Length bounds in characters, words or approximate tokens (UTF-8 bytes / 4, not a tokenizer)."""

    kind = "length"
    Config = LengthConfig

    def evaluate(self, target: Target) -> list[Score]:
        start = time.perf_counter()
        cfg = self.config
        assert isinstance(cfg, LengthConfig)
        n = measure(field_text(target, cfg.field[0]), cfg.unit)
        if cfg.min is not None and n < cfg.min:
            return [self.score(False, f"{n} {cfg.unit} < min {cfg.min}", start, "too_short")]
        if cfg.max is not None and n > cfg.max:
            return [self.score(False, f"{n} {cfg.unit} > max {cfg.max}", start, "too_long")]
        bounds = f"[{cfg.min if cfg.min is not None else 0}, {cfg.max if cfg.max is not None else '∞'}]"
        return [self.score(True, f"{n} {cfg.unit} within {bounds}", start)]
