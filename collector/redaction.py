"""PII and secret redaction at ingest (DESIGN.md, "Reliability and security").

Rules run in order (secrets first, entropy last); each is a regex plus a validator (Luhn, mod-97, digit counts). A
regex costs CPython 10-20 ns a character unless it starts with a literal, so a probe of one byte per character first
finds the few windows worth a regex: digit runs, long tokens, key words. Repeats are bounded or single-class, so MBs
of hostile text stay linear. Placeholders hold no quotes or backslashes and never start inside a JSON escape, so
JSON stays valid; a bare JSON number gets a quoted placeholder.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from store.rows import LogRow, SpanRow

BuiltinRule = Literal["secret", "email", "card", "iban", "phone", "entropy"]
BUILTIN_RULES: tuple[str, ...] = get_args(BuiltinRule)  # also the order they run in


class CustomRule(BaseModel):
    model_config = ConfigDict(regex_engine="python-re")  # for the lookahead that keeps built-in names free
    name: str = Field(pattern=r"^(?!(?:secret|email|card|iban|phone|entropy)$)[A-Za-z][A-Za-z0-9_-]{0,39}$")
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"redaction pattern {value!r} is not a valid regex: {exc}") from None
        if regex.fullmatch(""):
            raise ValueError(f"redaction pattern {value!r} matches the empty string")
        return value


class RedactionConfig(BaseModel):
    enabled: bool = True
    rules: list[BuiltinRule] = Field(default_factory=lambda: list(BUILTIN_RULES))
    custom: list[CustomRule] = Field(default_factory=list)
    entropy_min_length: int = Field(24, ge=16)
    # Bits per character: 99% of random 24-character alphanumeric or base64 tokens score above 3.85;
    # repetitive strings score lower. Identifiers that pass are stopped by the word test instead.
    entropy_threshold: float = Field(3.7, gt=0)


Span = tuple[int, int]
Finder = Callable[["_Probe"], list[Span]]  # the spans to redact in one text
_TOKEN = bytes(97 if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_+/=-") else 32 for c in range(256))
_DIGIT = bytes(48 if 48 <= c <= 57 else 115 if chr(c) in " .()+-" else 32 for c in range(256))


class _Probe(NamedTuple):
    text: str
    runs: list[Span]  # runs of [A-Za-z0-9_+/=-] of 16+ characters: keys, tokens, base64
    digits: list[Span]  # runs of digits and separators [ .()+-] holding 9+ digits (so not dates or times)


def _probe(text: str) -> _Probe:
    raw = text.encode("latin-1", "replace")  # one byte per character, so offsets stay aligned
    tokens, runs = raw.translate(_TOKEN), []
    i = tokens.find(b"a" * 16)
    while i != -1:
        end = tokens.find(b" ", i) % (len(tokens) + 1)  # -1 (no space left) becomes the length
        runs.append((tokens.rfind(b" ", 0, i) + 1, end))
        i = tokens.find(b"a" * 16, end)
    digits = raw.translate(_DIGIT) if b"0" * 9 in raw.translate(_DIGIT, b" .()+-") else b""  # a cheap test first
    return _Probe(text, runs, [m.span() for m in re.finditer(rb"0[0s]{7,}0", digits) if m[0].count(48) >= 9])


def _scan(regex: re.Pattern[str], check: Callable[[re.Match[str]], Span | None] = re.Match.span,
          needles: tuple[str, ...] = (), where: Finder | None = None) -> Finder:
    """Runs regex over the windows from where, or over the whole text; only if the text holds all needles."""
    def find(p: _Probe) -> list[Span]:
        windows = (where(p) if where else [(0, len(p.text))]) if all(x in p.text for x in needles) else []
        if len(windows) > 256:  # hostile input: one linear pass beats thousands of small ones
            windows = [(0, len(p.text))]
        out: list[Span] = []
        for a, b in windows:  # windows may overlap: resume after the last match
            out += filter(None, map(check, regex.finditer(p.text, max(a, out[-1][1] if out else 0, 0), b)))
        return out

    return find


def _assignments(p: _Probe) -> list[Span]:
    """The value after a secret-sounding key (password=…, "api_key": "…"), found from where key words occur."""
    text, lower, out = p.text, p.text.lower(), []
    hits = sorted({m.start() for stem in _STEMS for m in stem.finditer(lower)})
    if len(hits) > 256 or len(lower) != len(text):  # hostile input, or lowering moved characters (rare)
        return _scan(_ASSIGN, _secret_value)(p)
    for i in hits:
        end = _WORD.match(lower, i).end()  # where the key word ends: "db_password", "x-api-key"
        if (":" not in (after := text[end : end + 9]) and "=" not in after) or not lower.endswith(_KEYWORDS, 0, end):
            continue  # prose ("the key risks") or another word ("max_tokens")
        start = end - len(next(k for k in _KEYWORDS if lower.endswith(k, 0, end)))
        if start >= (out[-1][1] if out else 0) and (m := _ASSIGN.match(text, start)) and (span := _secret_value(m)):
            out.append(span)
    return out


def _secret_value(m: re.Match[str]) -> Span | None:
    v = m["v"]  # not an env or template reference, nor an already masked value
    return None if v.lower() in _STOP_VALUES or v[0] in "$%*[" or set(v) <= set("xX*.") else m.span("v")


def _email(m: re.Match[str]) -> Span | None:
    """The regex matched from the '@' (a literal start is fast); walk back over the local part."""
    text, at = m.string, m.start()
    start = at
    while start > max(0, at - 65) and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    local, tld = text[start:at], m[0].rsplit(".", 1)[-1].lower()
    ok = local and at - start <= 64 and local[0] != "." != local[-1] and tld not in _FILE_EXTS  # not icon@2x.png
    return (start, m.end()) if ok else None  # "@mention" has no local part


def _card(m: re.Match[str]) -> Span | None:
    digits = m[0].replace(" ", "").replace("-", "")
    # Issuer prefixes (Visa 4, Mastercard 51-55, 2221-2720, Amex/Diners/JCB 3, Discover 6) cut the 10% of arbitrary
    # numbers that pass Luhn by chance (ids, timestamps starting with 1). Mixed separators mean a list of numbers.
    if (" " in m[0] and "-" in m[0]) or not (digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720):
        return None
    luhn = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(map(int, digits[::-1])))
    return m.span() if luhn % 10 == 0 else None


def _iban(m: re.Match[str]) -> Span | None:
    compact = m[0].replace(" ", "")
    length = _IBAN_LENGTHS.get(compact[:2], 0)
    iban = compact[:length]  # the greedy regex may have run on into a following code word
    if not length or len(iban) < length or int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 != 1:
        return None
    return m.start(), m.start() + len(re.match(rf"(?: ?[A-Z0-9]){{{length}}}", m[0])[0])


def _phone(m: re.Match[str]) -> Span | None:
    d, first = "".join(c for c in m[0] if c.isdigit()), m[0][0]
    # E.164; national numbers with a trunk 0; North American, whose area code and exchange never start with 0 or 1
    ok = 8 <= len(d) <= 15 if first == "+" else 9 <= len(d) <= 12 if first == "0" else d[-10] > "1" < d[-7]
    return m.span() if ok and not _DATE.search(m[0]) else None


def _random_looking(token: str, threshold: float) -> bool:
    if _HEXISH.fullmatch(token) or not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
        return False  # hex is ids and hashes (trace ids, UUIDs, git and sha256 digests)
    if max(map(len, _PARTS.findall(token))) < 16:
        return False  # short parts joined by - _ /: paths, pod names, slugs
    if -sum(k / len(token) * math.log2(k / len(token)) for k in Counter(token).values()) < threshold:
        return False
    # Identifiers (getUserProfileV2Handler) score high too, but are mostly pronounceable words.
    words = sum(len(w) for w in _WORDS.findall(token) if _VOWEL.search(w) and not _CONSONANTS4.search(w))
    return words < 0.6 * len(token)


_STOP_VALUES = {"null", "none", "true", "false", "undefined", "required", "optional", "string", "redacted"}
_FILE_EXTS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf", "css", "js", "ts"}
_IBAN_LENGTHS = {c[:2]: int(c[2:]) for c in (  # ISO 13616 registry
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 EE20 EG29 "
    "ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 "
    "LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 "
    "QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30"
).split()}
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d\d|(?:19|20)\d\d[./-]\d{1,2}[./-]\d{1,2}")
_PARTS = re.compile(r"[^-_/]+")
_WORDS = re.compile(r"[A-Z]?[a-z]{2,}|[A-Z]{2,}(?![a-z])")
_VOWEL = re.compile(r"[aeiouy]", re.I)
_CONSONANTS4 = re.compile(r"[b-df-hj-np-tv-xz]{4}", re.I)
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_WORD = re.compile(r"[a-z0-9_-]{0,40}")
_STEMS = [re.compile(stem) for stem in ("pass", "pwd", "secret", "key", "token")]  # a literal regex scans fast
_KEYWORDS = ("password", "passwd", "pwd", "secret", "api_key", "apikey", "api-key", "access_token",
             "auth_token", "refresh_token", "secret_key", "private_key", "secret_access_key", "token")
_ASSIGN = re.compile(r"(?i)(?<![a-z0-9])(?:" + "|".join(_KEYWORDS) + r")(?:\\?[\"'])?[ \t]{0,5}[:=][ \t]{0,5}"
                     r"(?:\\?[\"'])?(?P<v>[^\s\"'\\,;&{}()<>\[\]]{4,512})")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}(?![\w-])")
_ESC = r"|(?<=\\[nrt])"  # a JSON escape such as \n ends the previous word too
_CARD = re.compile(r"(?:(?<![\w.-])" + _ESC + r")(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w-]|\.\d|[ -]\d)")
_IBAN = re.compile(r"(?:(?<![A-Za-z0-9])" + _ESC + r")[A-Z]{2}\d\d(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_PHONE = re.compile(
    r"(?:(?<![\w.+/:#-])" + _ESC + r")(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,12}(?:[ .-]\d{1,8}){0,5}"
    r"|(?:1[ .-])?(?:\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\d{3}(?P<s>[.-])\d{3}(?P=s)\d{4})"
    r"|0\d{1,4}(?:[ .-]\d{2,8}){1,4})(?![\w/-]|[.:]\d)"
)
_KEYS = re.compile(  # OpenAI/Anthropic sk-, Stripe, AWS, GitHub, Slack, Google, Hugging Face, npm, GitLab, SendGrid
    r"(?:(?<![\w-])" + _ESC + r")(?:sk-(?=[\w-]{0,300}\d)[\w-]{20,300}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}"
    r"|A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_\w{22,255}"
    r"|xox[abeprs]-[A-Za-z0-9-]{10,250}|AIza[\w-]{35}|hf_[A-Za-z0-9]{30,40}|npm_[A-Za-z0-9]{36}"
    r"|glpat-[\w-]{20,64}|SG\.[\w-]{16,32}\.[\w-]{30,64}|whsec_[A-Za-z0-9+/=]{24,128})(?![\w-])", re.A)
_PEM = re.compile(r"-----BEGIN[A-Z ]{0,30} PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,.]|-(?!----)|\\[nrt]){0,20000}"
                  r"(?:-----END[A-Z ]{0,30} PRIVATE KEY-----)?")  # the body may be JSON-escaped (\\n)
_BEARER = re.compile(r"(?:(?<!\w)" + _ESC + r")[Bb]earer[ \t]{1,5}(?P<v>[\w.~+/=-]{16,4096})", re.A)
_BUILTIN: dict[str, tuple[Finder, ...]] = {
    "secret": (
        _scan(_PEM, needles=("PRIVATE KEY",)),
        _scan(re.compile(r"eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*", re.A), needles=("eyJ",)),  # JWT
        # SendGrid keys are three runs joined by dots: "SG." before the first long run, the rest after it.
        _scan(_KEYS, where=lambda p: [(max(0, x - 3), y + 66) for x, y in p.runs]),
        _scan(_BEARER, lambda m: m.span("v") if any(c.isdigit() for c in m["v"]) else None, ("earer",),
              lambda p: [(x - 12, y) for x, y in p.runs]),
        _scan(re.compile(r"://[^\s:/@\"'\\]{1,128}:(?P<v>[^\s/@\"'\\]{1,256})@"), _secret_value, ("@", "://")),
        _assignments,
    ),
    "email": (_scan(_EMAIL, _email, ("@",)),),
    "card": (_scan(_CARD, _card, where=lambda p: [(x - 2, y + 3) for x, y in p.digits]),),
    "iban": (_scan(_IBAN, _iban, where=lambda p: [(x - 42, y + 42) for x, y in p.digits]),),
    "phone": (_scan(_PHONE, _phone, where=lambda p: [(x - 2, y + 3) for x, y in p.digits]),),
}
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _replace(text: str, spans: list[Span], name: str, counts: Counter[str]) -> str:
    stripped = text.strip()
    json_like = stripped[:1] + stripped[-1:] in ("{}", "[]")
    literals = [m.span() for m in _JSON_STRING.finditer(text)] if json_like else []
    starts = [a for a, _ in literals]
    placeholder, custom = f"[REDACTED:{name.upper()}]", name not in BUILTIN_RULES
    out, pos = [], 0
    for s, e in spans:
        if (b := text.rfind("\\", max(0, s - 5), s)) != -1:  # s may fall inside a JSON escape (\\n, \\u00e9)
            run = b - len(text[max(0, b - 64) : b].rstrip("\\")) - max(0, b - 64)  # backslashes before b
            s = s if run % 2 else max(s, b + (6 if text[b + 1 : b + 2] == "u" else 2))  # odd: b is escaped itself
        if s < pos or s >= e or (custom and json_like and ('"' in text[s:e] or "\\" in text[s:e])):
            continue  # overlaps, or an escape, a quote or a backslash would break the JSON
        replacement = placeholder
        i = bisect.bisect_right(starts, s) - 1
        if json_like and (i < 0 or s >= literals[i][1]):  # a bare value such as a number: quote it
            replacement = f'"{placeholder}"'
        out += (text[pos:s], replacement)
        pos = e
        counts[name] += 1
    return "".join(out) + text[pos:] if out else text


class Redactor:
    def __init__(self, config: RedactionConfig) -> None:
        self.enabled = config.enabled
        self._rules = [(name, _BUILTIN[name]) for name in BUILTIN_RULES[:-1] if name in config.rules]
        for rule in config.custom:  # before entropy, so a custom token type gets its own label
            self._rules.append((rule.name, (_scan(re.compile(rule.pattern)),)))
        self._rules += [("entropy", (self._entropy,))] if "entropy" in config.rules else []
        self._least, self._bits = config.entropy_min_length, config.entropy_threshold
        self._custom = [re.compile(rule.pattern) for rule in config.custom]

    def _entropy(self, p: _Probe) -> list[Span]:  # runs over 512 are binary content: collector/content.py
        return [(s, e) for s, e in p.runs if self._least <= e - s <= 512 and _random_looking(p.text[s:e], self._bits)]

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        counts: Counter[str] = Counter()
        return self.redact_into(text, counts), dict(counts)

    def quiet(self, text: str) -> bool:
        """True when no rule can match anywhere in text: one cheap pass instead of one per field."""
        if not self.enabled:
            return True
        probe = _probe(text)
        lower = text.lower() if "=" in text or ":" in text else ""
        if probe.runs or probe.digits or "@" in text or any(stem.search(lower) for stem in _STEMS):
            return False
        return not any(pattern.search(text) for pattern in self._custom)

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """(rule, start, end) of every value redact() would replace, without replacing anything.
        Earlier rules claim their spans first, as in redaction; detectors (judges/rubric) use this."""
        if not self.enabled or len(text) < 6:
            return []
        probe = _probe(text)
        claimed: list[tuple[int, int, str]] = []  # sorted by start; never overlapping
        for name, finders in self._rules:
            for finder in finders:
                for start, end in finder(probe):
                    i = bisect.bisect(claimed, (start, end))
                    if (i == 0 or claimed[i - 1][1] <= start) and (i == len(claimed) or claimed[i][0] >= end):
                        claimed.insert(i, (start, end, name))
        return [(name, start, end) for start, end, name in claimed]

    def redact_into(self, text: str, counts: Counter[str]) -> str:
        """Redact text, adding per-rule counts into counts; returns text itself when nothing matched."""
        if not self.enabled or len(text) < 6:  # nothing shorter than a@b.io is worth a look
            return text
        probe = _probe(text)
        # Most strings are quiet: no long token, no digit run, no '@', no "key: value". Then only custom rules run.
        lower = text.lower() if "=" in text or ":" in text else ""
        keys = any(stem.search(lower) for stem in _STEMS)
        quiet = not (probe.runs or probe.digits or "@" in text or keys)
        for name, finders in self._rules:
            for find in finders if not (quiet and name in BUILTIN_RULES) else ():
                if (spans := find(probe)) and (new := _replace(text, sorted(spans), name, counts)) is not text:
                    text, probe = new, _probe(new)
        return text


_SPAN_TEXT = ("name", "status_message", "input", "output", "documents", "tool_calls", "prompt_template",
              "prompt_variables", "events", "model_parameters")


def _redact_fields(redactor: Redactor, row: SpanRow | LogRow, texts: tuple[str, ...], maps: tuple[str, ...]) -> None:
    if not redactor.enabled:
        return
    # Most spans hold no PII at all: probe every string of the row at once ("\x00" breaks tokens and digit
    # runs just as a field boundary does), and only walk the fields one by one when something may match.
    parts = [getattr(row, f) for f in texts]
    for field in maps:
        parts.extend(getattr(row, field).values())
    if isinstance(row, SpanRow):
        parts.extend(row.tags)
    if redactor.quiet("\x00".join(parts)):
        return
    counts: Counter[str] = Counter()
    for field in texts:
        if value := getattr(row, field):
            setattr(row, field, redactor.redact_into(value, counts))
    for field in maps:
        setattr(row, field, {k: redactor.redact_into(v, counts) for k, v in getattr(row, field).items()})
    if isinstance(row, SpanRow):
        row.tags = [redactor.redact_into(tag, counts) for tag in row.tags]
    row.redactions.update(Counter(row.redactions) + counts)


def redact_row(redactor: Redactor, row: SpanRow) -> None:
    """Redact every free-text string of the span in place, adding the counts to row.redactions. Ids and the
    names of services, models, prompts and tools stay: session_id and user_id key per-user queries and deletion
    by user (and a user id is often an e-mail address)."""
    _redact_fields(redactor, row, _SPAN_TEXT, ("metadata", "attributes", "resource_attributes"))


def redact_log_row(redactor: Redactor, row: LogRow) -> None:
    _redact_fields(redactor, row, ("body",), ("attributes",))
