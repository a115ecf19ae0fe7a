"""What every rubric evaluator shares: config parsing, the fields it reads, and how a verdict becomes a Score.

A rubric is configured by a dict as written in `loupe.yaml` (`{"type": "regex", "name": ..., ...}`); each
type has a pydantic model with `extra="forbid"`, so a typo is an error that names the valid keys instead
of a setting that silently does nothing. Value 1.0 always means "detected" or "passed", per evaluator;
`direction` says whether that is good.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from collector.redaction import RedactionConfig, Redactor
from judges.core import Level, Score, Target

Direction = Literal["higher_is_better", "lower_is_better"]
FieldName = Literal["input", "output", "documents"]
FIELDS: tuple[str, ...] = ("input", "output", "documents")


class RubricConfigError(ValueError):
    """A rubric config that cannot work; the message says which key and what would be valid."""


class RubricConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str = Field("", pattern=r"^$|^[A-Za-z][A-Za-z0-9_.:-]{0,79}$")
    level: Level = "span"
    field: tuple[FieldName, ...] = ("output",)

    @field_validator("field", mode="before")
    @classmethod
    def _fields(cls, value: Any) -> Any:
        # `field: output` and `field: [input, output]` both read naturally in YAML.
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list | tuple) and not values:
            raise ValueError("needs at least one of input, output, documents")
        return tuple(values) if isinstance(values, list | tuple) else value


class SingleFieldConfig(RubricConfig):
    @field_validator("field")
    @classmethod
    def _one(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) != 1:
            raise ValueError("this rubric reads exactly one field (input, output or documents)")
        return value


class Rubric:
    """Base class: subclasses set `kind`, `Config`, `labels`, `direction` and implement `check`."""

    kind: ClassVar[str]
    Config: ClassVar[type[RubricConfig]] = RubricConfig
    VERSION: ClassVar[str] = "1"
    labels: tuple[str, str] = ("pass", "fail")  # label for value 1.0, label for value 0.0
    direction: Direction = "higher_is_better"
    source = "rubric"

    def __init__(self, config: RubricConfig) -> None:
        self.config = config
        self.name = config.name or config.type
        self.level: Level = config.level
        # The version changes when the behaviour can: implementation, settings or rule data.
        settings = config.model_dump(mode="json", exclude={"name", "level"})
        digest = hashlib.sha256(json.dumps([settings, self.fingerprint()], sort_keys=True).encode()).hexdigest()
        self.version = f"{self.VERSION}+{digest[:8]}"

    def fingerprint(self) -> str:
        """Extra data the verdict depends on (a rules file digest); part of the version."""
        return ""

    def check(self, target: Target) -> tuple[bool, str]:
        raise NotImplementedError

    def evaluate(self, target: Target) -> list[Score]:
        start = time.perf_counter()
        hit, rationale = self.check(target)
        return [self.score(hit, rationale, start)]

    def score(self, hit: bool, rationale: str, start: float, label: str = "") -> Score:
        return Score(name=self.name, value=1.0 if hit else 0.0, label=label or self.labels[0 if hit else 1],
                     rationale=rationale, latency_ms=(time.perf_counter() - start) * 1000)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} v{self.version}>"


class Detector(Rubric):
    """A rubric that looks for something in one or more fields: 1.0 when any field has it."""

    direction: Direction = "lower_is_better"

    def detect(self, text: str) -> tuple[bool, str]:
        """(found, rationale); the rationale of a miss may be empty."""
        raise NotImplementedError

    def check(self, target: Target) -> tuple[bool, str]:
        fields = self.config.field
        misses = []
        for name in fields:
            found, why = self.detect(field_text(target, name))
            prefix = f"{name}: " if len(fields) > 1 else ""
            if found:
                return True, prefix + why
            if why:
                misses.append(prefix + why)
        return False, "; ".join(misses) or f"nothing found in {', '.join(fields)}"


def field_text(target: Target, name: str) -> str:
    if name == "documents":
        return "\n\n".join(str(doc.get("content") or "") for doc in target.documents)
    return getattr(target, name) or ""


def snippet(text: str, start: int, end: int, limit: int = 60) -> str:
    part = " ".join(text[start:end].split())
    return part if len(part) <= limit else part[: limit - 1] + "…"


_SNIPPETS = Redactor(RedactionConfig())


def safe_snippet(text: str, start: int, end: int, limit: int = 60) -> str:
    """A snippet for a rationale, with any secret or PII in it replaced by the ingest placeholders."""
    return _SNIPPETS.redact(snippet(text, start, end, limit))[0]


def mask(value: str) -> str:
    """Enough of a value to recognise it, never the value: `sk-p…9Qa (51 chars)`, `ma***@gmail.com`."""
    if "@" in value and " " not in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:2]}***@{domain}"
    if len(value) < 12:
        return f"{value[:1]}*** ({len(value)} chars)"
    keep = 4 if len(value) >= 24 else 2
    return f"{value[:keep]}…{value[-2:]} ({len(value)} chars)"


def _describe(errors: Iterable[Mapping[str, Any]], model: type[BaseModel]) -> list[str]:
    lines = []
    for err in errors:
        where = ".".join(str(p) for p in err["loc"] if not isinstance(p, int) or len(err["loc"]) > 1)
        if err["type"] == "extra_forbidden":
            valid = ", ".join(sorted(f.alias or name for name, f in model.model_fields.items()))
            lines.append(f"unknown key {where!r} (valid keys: {valid})")
        elif err["type"] == "missing":
            lines.append(f"missing required key {where!r}")
        else:
            lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return lines


def parse_config(model: type[RubricConfig], config: Mapping[str, Any]) -> RubricConfig:
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        label = config.get("name") or config.get("type")
        problems = "; ".join(_describe(exc.errors(), model))
        raise RubricConfigError(f"rubric {label!r} (type {config.get('type')!r}): {problems}") from None
