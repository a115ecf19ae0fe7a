"""The `alerts:` section of loupe.yaml, validated here (collector/settings.py keeps it as a plain dict).

    alerts:
      interval_s: 60                 # how often the scheduler wakes up
      channels:
        oncall: {type: slack, url: https://hooks.slack.com/services/…}
        audit:  {type: webhook, url: https://example.com/hook, headers: {X-Token: …}}
        mail:   {type: email, smtp_host: smtp.example.com, smtp_port: 587, starttls: true,
                 username: loupe, password_env: SMTP_PASSWORD, from: loupe@example.com, to: [team@example.com]}
      rules:
        - name: cost-per-request
          project: default
          kind: threshold            # threshold | change | drift | regression | no_data
          metric: cost_per_request   # a success measure, or score:<name>
          op: ">"
          value: 0.02
          window: 1h                 # evaluated over the last window, every `every` (default: interval_s)
          segment: {service: support-bot, model: gpt-4o, prompt: "support_answer:v2", environment: prod}
          channels: [oncall, mail]
          cooldown: 1h               # no new firing notice sooner than this after the last one
      drift: {text_sample: 2000, feature_sample: 20000, embeddings: {base_url: http://…/v1, model: …}}
      reports: [{project: default, channels: [mail], weekday: 0, hour: 8}]
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.segments import Segment

MEASURES = ("requests", "cost_usd", "cost_per_request", "latency_p50", "latency_p95", "latency_p99", "error_rate",
            "task_completion_rate", "grounded_answer_quality", "retrieval_relevance", "safety_incident_rate",
            "user_satisfaction", "escalation_rate", "prompt_regression_rate")
DRIFT_METRICS = ("score", "max_psi", "input_auc", "output_auc")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> timedelta:
    """'90s', '15m', '1h', '7d', '2w' (a bare number is seconds)."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"invalid duration {value!r}: use e.g. 15m, 1h, 7d")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmbeddingConfig(_Strict):
    base_url: str
    model: str = "text-embedding-3-small"
    api_key_env: str = "OPENAI_API_KEY"
    batch_size: int = Field(128, ge=1, le=2048)
    timeout_s: float = 30.0


class DriftConfig(_Strict):
    text_sample: int = Field(2000, ge=50, le=20_000)  # texts per window for the domain classifier
    feature_sample: int = Field(20_000, ge=100, le=500_000)  # spans per window for numeric/categorical features
    permutations: int = Field(99, ge=0, le=999)
    clusters: int = Field(8, ge=2, le=30)
    dims: int = Field(32, ge=2, le=256)
    alpha: float = Field(0.05, gt=0, lt=0.5)
    embeddings: EmbeddingConfig | None = None


class ChannelConfig(_Strict):
    type: Literal["webhook", "slack", "email"]
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None  # the password comes from the environment, never from the file
    from_addr: str = Field("loupe@localhost", alias="from")
    to: list[str] = Field(default_factory=list)
    timeout_s: float = 10.0

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.type} channel needs a url")
        if self.type == "email" and (not self.smtp_host or not self.to):
            raise ValueError("an email channel needs smtp_host and at least one address in `to`")
        return self


class RuleConfig(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    project: str = "default"
    kind: Literal["threshold", "change", "drift", "regression", "no_data"]
    metric: str | None = None
    op: Literal[">", ">=", "<", "<="] = ">"
    value: float | None = None
    window: str = "1h"
    every: str | None = None
    reference: Literal["previous", "baseline"] = "previous"  # drift: previous window or the pinned baseline
    compare: Literal["previous", "prompt_version"] = "previous"  # regression: window vs window, or versions
    segment: dict[str, str] = Field(default_factory=dict)
    channels: list[str] = Field(default_factory=list)
    cooldown: str = "1h"
    min_samples: int = Field(20, ge=1)
    severity: Literal["info", "warning", "critical"] = "warning"
    description: str = ""

    @field_validator("window", "cooldown", "every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("segment")
    @classmethod
    def _segment(cls, value: dict[str, str]) -> dict[str, str]:
        Segment.from_dict(value)
        return value

    @model_validator(mode="after")
    def _metric(self) -> RuleConfig:
        if self.kind in ("threshold", "change"):
            if not self.metric or not (self.metric in MEASURES or self.metric.startswith("score:")):
                raise ValueError(f"rule {self.name}: metric must be one of {', '.join(MEASURES)} or score:<name>")
            if self.value is None:
                raise ValueError(f"rule {self.name}: a {self.kind} rule needs a value")
        if self.kind == "drift":
            self.metric = self.metric or "score"
            if self.metric not in DRIFT_METRICS:
                raise ValueError(f"rule {self.name}: drift metric must be one of {', '.join(DRIFT_METRICS)}")
            self.value = 0.1 if self.value is None else self.value
        return self

    @property
    def window_td(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def cooldown_td(self) -> timedelta:
        return parse_duration(self.cooldown)

    @property
    def seg(self) -> Segment:
        return Segment.from_dict(self.segment)


class ReportSchedule(_Strict):
    project: str = "default"
    channels: list[str] = Field(min_length=1)
    weekday: int = Field(0, ge=0, le=6)  # 0 = Monday: the report of the week that just ended
    hour: int = Field(8, ge=0, le=23)  # UTC


class AlertsConfig(_Strict):
    enabled: bool = True
    interval_s: float = Field(60.0, ge=1)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    rules: list[RuleConfig] = Field(default_factory=list)
    drift: DriftConfig = DriftConfig()
    reports: list[ReportSchedule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        seen: set[tuple[str, str]] = set()
        for rule in self.rules:
            if (rule.project, rule.name) in seen:
                raise ValueError(f"two rules named {rule.name} in project {rule.project}")
            seen.add((rule.project, rule.name))
        for owner, names in [(f"rule {r.name}", r.channels) for r in self.rules] + \
                [(f"report of {r.project}", r.channels) for r in self.reports]:
            missing = [c for c in names if c not in self.channels]
            if missing:
                raise ValueError(f"{owner} names unknown channel(s) {missing}; defined: {sorted(self.channels)}")
        return self

    def rules_of(self, project: str) -> list[RuleConfig]:
        return [r for r in self.rules if r.project == project]

    def rule(self, project: str, name: str) -> RuleConfig | None:
        return next((r for r in self.rules if r.project == project and r.name == name), None)


def load_alerts(section: dict[str, Any] | None) -> AlertsConfig:
    """Validate `settings.alerts`; errors name the field (pydantic's message)."""
    return AlertsConfig.model_validate(section or {})
