"""The built-in rubric types and the factory that builds one from its `loupe.yaml` config dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judges.rubric.base import Rubric, RubricConfigError, parse_config
from judges.rubric.basic import Keywords, Length, Regex
from judges.rubric.injection import Jailbreak, PromptInjection
from judges.rubric.phrases import Escalation, Refusal, Toxicity
from judges.rubric.sensitive import PiiOutput, Secrets
from judges.rubric.structured import JsonSchema, JsonValid

REGISTRY: dict[str, type[Rubric]] = {
    cls.kind: cls
    for cls in (Regex, Keywords, Length, JsonValid, JsonSchema, Refusal, Escalation, Toxicity, PiiOutput, Secrets,
                PromptInjection, Jailbreak)
}
BUILTIN_RUBRICS = tuple(REGISTRY)


def build_rubric(config: Mapping[str, Any]) -> Rubric:
    """One evaluator from a config dict such as `{"type": "regex", "name": "mentions_competitor",
    "pattern": "acme|globex", "field": "output"}`; RubricConfigError says what is wrong."""
    if not isinstance(config, Mapping):
        raise RubricConfigError(f"a rubric config must be a mapping with a `type` key, got {type(config).__name__}")
    kind = config.get("type")
    if kind not in REGISTRY:
        label = f" {config['name']!r}" if config.get("name") else ""
        raise RubricConfigError(f"rubric{label}: unknown type {kind!r}; built-in types are {', '.join(REGISTRY)}")
    cls = REGISTRY[kind]
    return cls(parse_config(cls.Config, config))
