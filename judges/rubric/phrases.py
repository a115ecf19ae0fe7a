"""Phrase detectors on weighted rule files: refusal, escalation to a human, toxicity.

Value 1.0 means detected; all three are `lower_is_better` (a refusal of a harmful request is right,
but a rising refusal rate is what needs a look). The rules, their weights and the languages they
cover live in `rules/<kind>.yaml`; the rationale names the rule ids that matched and the phrase.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from judges.rubric.base import Detector, RubricConfig, RubricConfigError
from judges.rubric.engine import Rule, RuleSet, compile_rule, load_rules, select


class PhraseConfig(RubricConfig):
    threshold: float | None = Field(None, gt=0)  # default: the rules file's
    languages: tuple[str, ...] | None = None  # default: every language in the rules file
    window: int | None = Field(None, ge=0)  # read only the first N characters (0: all); default: rules file


class PhraseDetector(Detector):
    Config: ClassVar[type[RubricConfig]] = PhraseConfig
    rules_file: ClassVar[str]

    def __init__(self, config: PhraseConfig) -> None:
        settings, rules, digest = load_rules(Path(self.rules_file))
        known = sorted({r.lang for r in rules if r.lang})
        unknown = sorted(set(config.languages or ()) - set(known))
        if unknown:
            raise RubricConfigError(f"rubric {config.name or config.type!r}: no rules for languages {unknown}; "
                                    f"available: {known}")
        extra = self.extra_rules(config)
        if extra:  # the version must change when a private term list does
            digest += hashlib.sha256("\n".join(r.regex.pattern for r in extra).encode()).hexdigest()[:8]
        selected = select(rules, langs=config.languages) + extra
        self.rules = RuleSet(
            selected, threshold=config.threshold or float(settings.get("threshold", 1.0)),
            window=settings.get("window", 0) if config.window is None else config.window,
            ignore_quoted=bool(settings.get("ignore_quoted", True)), name=self.rules_file, digest=digest)
        super().__init__(config)

    def extra_rules(self, config: PhraseConfig) -> list[Rule]:
        return []

    def fingerprint(self) -> str:
        return self.rules.digest

    def detect(self, text: str) -> tuple[bool, str]:
        verdict = self.rules.run(text)
        found = verdict.score >= self.rules.threshold
        return found, verdict.explain(self.rules.threshold) if verdict.hits else ""


class Refusal(PhraseDetector):
    """The assistant declined (policy or capability), in en, es, fr, de, pt, it. Reads the opening of the
    answer only (`window`, 500 chars by default): that is where refusals are, and a "can't" deep in a long
    helpful answer is not one. Quoted refusals ("the bot replies 'I can't help with that'") do not count."""

    kind = "refusal"
    rules_file = "refusal.yaml"
    labels = ("refusal", "no_refusal")


class Escalation(PhraseDetector):
    """The answer hands the user over to a person: transfer, ticket for a human team, callback, or
    "please contact support", in en, es, fr, de, pt, it. Mentions of support or tickets that hand
    nothing over ("no need to contact support") are not escalations."""

    kind = "escalation"
    rules_file = "escalation.yaml"
    labels = ("escalation", "no_escalation")


class ToxicityConfig(PhraseConfig):
    extra_terms_file: str = ""  # private list (slurs are not in the repository): one term per line, # comments


class Toxicity(PhraseDetector):
    """Insults aimed at someone, threats, hostile dismissals and strong profanity (English word lists with
    some es, fr, de, pt, it). Whole words only ("Scunthorpe" is safe); violent words in technical or
    narrative use ("kill the process") are not toxic. Reads the output by default; `field: [input, output]`
    also watches users."""

    kind = "toxicity"
    Config = ToxicityConfig
    rules_file = "toxicity.yaml"
    labels = ("toxic", "not_toxic")

    def extra_rules(self, config: PhraseConfig) -> list[Rule]:
        path = getattr(config, "extra_terms_file", "")
        if not path:
            return []
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise RubricConfigError(f"rubric {config.name or 'toxicity'!r}: extra_terms_file: {exc}") from None
        terms = [t.strip() for t in lines if t.strip() and not t.lstrip().startswith("#")]
        if not terms:
            return []
        return [compile_rule({"id": "custom.term", "words": terms, "each": True}, path)]
