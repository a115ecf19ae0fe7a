"""Prompt injection and jailbreak detection in user inputs and retrieved documents.

Both read `rules/injection.yaml`: rules grouped by technique, each with an id and a weight; a text
is flagged (value 1.0, `lower_is_better`) when the weights of the distinct rules it matches reach the
detector's threshold, and the rationale names the rule ids. Injection payloads hidden in base64 (or
ROT13 when the text says so) are decoded and checked with the instruction-override and
prompt-exfiltration rules.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from judges.rubric.base import Detector, FieldName, RubricConfig, RubricConfigError
from judges.rubric.engine import Hit, Rule, RuleSet, Verdict, load_rules, prepare, select

_RULES = Path("injection.yaml")
# Starts only at the beginning of a run, so prose costs one pass; 20+ chars is ~15 decoded bytes.
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{20,4096}={0,2}(?![A-Za-z0-9+/=_-])")
_B64_BYTES = bytes(97 if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/") else 32 for c in range(256))
_DECODED_GROUPS = ("instruction_override", "prompt_exfiltration")
_ENCODED = Rule("encoded_payload.base64", 1.0, re.compile("$^"), ("",), group="encoded_payload")
_ROT13 = Rule("encoded_payload.rot13", 1.0, re.compile("$^"), ("",), group="encoded_payload")


class InjectionConfig(RubricConfig):
    threshold: float | None = Field(None, gt=0)  # default: the rules file's, per detector
    techniques: tuple[str, ...] | None = None  # default: all of the detector's groups
    decode: bool = True  # look inside base64 / ROT13 payloads (prompt_injection only)


def _decoded(text: str) -> list[str]:
    """Printable UTF-8 texts hidden as base64 runs (images and keys decode to binary and are skipped)."""
    out: list[str] = []
    if text.encode("latin-1", "replace").translate(_B64_BYTES).find(b"a" * 20) == -1:
        return out  # no run of 20 base64 characters: the common case, found at C speed
    for m in _BASE64.finditer(text):
        token = m.group()
        if token.isalpha() or token.isdigit():
            continue  # a long word or number, not an encoding
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if decoded and sum(c.isprintable() or c.isspace() for c in decoded) >= 0.95 * len(decoded):
            out.append(decoded)
        if len(out) >= 8:
            break
    return out


class _InjectionBase(Detector):
    Config: ClassVar[type[RubricConfig]] = InjectionConfig
    detector: ClassVar[str]

    def __init__(self, config: InjectionConfig) -> None:
        settings, rules, digest = load_rules(_RULES)
        spec: dict[str, Any] = settings["detectors"][self.detector]
        groups = list(spec["groups"])
        chosen = list(config.techniques) if config.techniques is not None else groups
        unknown = sorted(set(chosen) - set(groups))
        if unknown or not chosen:
            raise RubricConfigError(f"rubric {config.name or self.kind!r}: unknown techniques {unknown or chosen}; "
                                    f"{self.kind} techniques are {groups}")
        threshold = config.threshold or float(spec.get("threshold", 1.0))
        ignore_quoted = bool(settings.get("ignore_quoted", False))
        self.rules = RuleSet(select(rules, groups=chosen), threshold=threshold, ignore_quoted=ignore_quoted,
                             name=f"{_RULES}:{self.detector}", digest=digest)
        self._decode = config.decode and "encoded_payload" in chosen
        self._inner = RuleSet(select(rules, groups=_DECODED_GROUPS), threshold=threshold,
                              ignore_quoted=ignore_quoted) if self._decode else None
        super().__init__(config)

    def fingerprint(self) -> str:
        return self.rules.digest

    def detect(self, text: str) -> tuple[bool, str]:
        verdict = self.rules.run(text)
        if self._inner is not None:
            verdict = self._with_payloads(text, prepare(text)[0], verdict)
        found = verdict.score >= self.rules.threshold
        return found, verdict.explain(self.rules.threshold) if verdict.hits else ""

    def _with_payloads(self, text: str, low: str, verdict: Verdict) -> Verdict:
        assert self._inner is not None
        hidden = [(_ENCODED, d) for d in _decoded(text)]
        if "rot13" in low or "rot-13" in low:
            hidden.append((_ROT13, codecs.decode(text, "rot13")))
        for rule, payload in hidden:
            inner = self._inner.run(payload)
            if inner.score >= self._inner.threshold:
                ids = ",".join(h.rule.id for h in inner.hits)
                hit = Hit(rule, 0, 0, f"decodes to text matching {ids}")
                return Verdict(round(verdict.score + rule.weight, 6), (*verdict.hits, hit))
        return verdict


class PromptInjection(_InjectionBase):
    """Attempts to override the app's instructions or extract its prompt: instruction override, system
    prompt exfiltration, delimiter/markup injection, encoded payloads, and instructions planted in
    retrieved documents (indirect injection). Reads the input and the retrieved documents by default.
    Multilingual for the common phrasings (es, fr, de, pt, it, zh)."""

    kind = "prompt_injection"
    detector = "prompt_injection"
    labels = ("injection", "no_injection")

    class Config(InjectionConfig):
        field: tuple[FieldName, ...] = ("input", "documents")


class Jailbreak(_InjectionBase):
    """Attempts to make the model drop its safety policy: DAN-style personas, developer/unrestricted modes,
    "no restrictions" framing, and harmful requests under a fiction or research pretext. A plain
    role-play ("act as a Linux terminal") or an injection without a safety bypass is not a jailbreak."""

    kind = "jailbreak"
    detector = "jailbreak"
    labels = ("jailbreak", "no_jailbreak")

    class Config(InjectionConfig):
        field: tuple[FieldName, ...] = ("input",)
