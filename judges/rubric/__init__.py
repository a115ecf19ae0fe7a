"""Deterministic rubric evaluators: regex and keyword rules, JSON validity and schema, length, refusal,
escalation, toxicity, PII in outputs, secrets, prompt injection and jailbreak.

    from judges.rubric import build_rubric
    rubric = build_rubric({"type": "refusal"})
    [score] = rubric.evaluate(target)   # value 1.0 = detected / passed; see rubric.direction
"""

from judges.rubric.base import Detector, Rubric, RubricConfigError
from judges.rubric.registry import BUILTIN_RUBRICS, REGISTRY, build_rubric

__all__ = ["BUILTIN_RUBRICS", "REGISTRY", "Detector", "Rubric", "RubricConfigError", "build_rubric"]
