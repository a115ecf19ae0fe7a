"""The `judges:` section of loupe.yaml, validated here (collector/settings.py keeps it as a raw dict).

    judges:
      enabled: true
      endpoint: {base_url: "http://127.0.0.1:8011/v1", model: "local-judge", api_key_env: "LOUPE_JUDGE_API_KEY"}
      concurrency: 8
      overlap_s: 120          # re-read window for late spans
      quiet_s: 60             # trace/session judges wait until the trace/session has been quiet this long
      evaluators:
        - {name: groundedness, type: llm, template: groundedness}
        - {name: refusal, type: rubric, rubric: {type: refusal}}
      sampling:
        - {evaluators: [groundedness, refusal], kind: llm, rate: 0.2, daily_budget_evals: 5000, daily_budget_usd: 5.0}

Everything a config can get wrong — an unknown template, a rubric typo, a rule naming an evaluator that
does not exist — is an error at start, never halfway through a night of judging.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judges.core import Level

ENV_JUDGE_API_KEY = "LOUPE_JUDGE_API_KEY"


class JudgesConfigError(ValueError):
    """The judges section cannot work; the message names the field."""


class Endpoint(BaseModel):
    """The OpenAI-compatible endpoint LLM judges call; unset fields fall back to LOUPE_JUDGE_* variables."""

    model_config = ConfigDict(extra="forbid")
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = ENV_JUDGE_API_KEY  # the key itself never sits in the config file
    provider: str | None = None  # price-table provider of the judge model (default openai)
    timeout_s: float = Field(60.0, gt=0)
    deadline_s: float = Field(180.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=10)
    max_invalid_retries: int = Field(2, ge=0, le=5)  # re-asks after a reply that is not a valid verdict
    backoff_s: float = Field(0.5, ge=0)


class EvaluatorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,79}$")
    type: Literal["llm", "rubric"]
    template: str | None = None  # llm: a built-in template name or a YAML path
    rubric: dict[str, Any] | None = None  # rubric: the rubric's own config (`{type: refusal, …}`)
    level: Level | None = None  # default: the template's / the rubric's level
    model: str | None = None  # llm: another model on the same endpoint

    @model_validator(mode="after")
    def _kind_fields(self) -> EvaluatorConfig:
        if self.type == "llm" and not self.template:
            raise ValueError(f"evaluator {self.name!r}: an llm evaluator needs `template`")
        if self.type == "rubric" and not self.rubric:
            raise ValueError(f"evaluator {self.name!r}: a rubric evaluator needs `rubric: {{type: …}}`")
        return self


class SamplingRule(BaseModel):
    """Which targets the online worker scores: filters (None or [] = any), a rate and daily budgets."""

    model_config = ConfigDict(extra="forbid")
    evaluators: list[str] = Field(min_length=1)
    project: str | None = None
    kind: str | None = None  # span kind; at trace/session level: the trace has a span of this kind
    service: str | None = None
    model: str | None = None  # request or response model
    prompt_name: str | None = None
    prompt_version: str | None = None
    tags: list[str] = Field(default_factory=list)  # all of them
    environment: str | None = None
    rate: float = Field(1.0, ge=0.0, le=1.0)
    daily_budget_evals: int | None = Field(None, ge=0)
    daily_budget_usd: float | None = Field(None, ge=0)


class JudgesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    endpoint: Endpoint = Endpoint()
    concurrency: int = Field(8, ge=1, le=256)
    overlap_s: float = Field(120.0, ge=0)
    quiet_s: float = Field(60.0, ge=0)
    poll_interval_s: float = Field(5.0, gt=0)
    page_size: int = Field(2000, ge=1, le=50_000)  # candidates read per query
    initial_lookback_s: float = Field(3600.0, ge=0)  # a worker's first start judges this much history
    evaluators: list[EvaluatorConfig] = Field(default_factory=list)
    sampling: list[SamplingRule] = Field(default_factory=list)
    calibration_min_agreement: float = Field(0.6, ge=-1.0, le=1.0)
    calibration_min_pairs: int = Field(10, ge=2)  # fewer pairs: too few to flag a judge

    @model_validator(mode="after")
    def _names(self) -> JudgesConfig:
        names = [e.name for e in self.evaluators]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"evaluator names must be unique; repeated: {', '.join(dupes)}")
        for i, rule in enumerate(self.sampling):
            if unknown := [n for n in rule.evaluators if n not in names]:
                raise ValueError(f"sampling[{i}] names unknown evaluator(s) {unknown}; defined: {names}")
        return self

    def evaluator(self, name: str) -> EvaluatorConfig | None:
        return next((e for e in self.evaluators if e.name == name), None)


def parse_judges(section: dict[str, Any] | None) -> JudgesConfig:
    """The validated section; JudgesConfigError lists every problem with its path."""
    try:
        return JudgesConfig.model_validate(section or {})
    except ValidationError as exc:
        problems = "; ".join(f"judges.{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                             if e["loc"] else e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise JudgesConfigError(problems) from None


_DEMO_LLM = ("groundedness", "answer_relevance", "context_relevance", "helpfulness", "toxicity",
             "task_completion", "conversation")
_DEMO_RUBRICS = ("refusal", "escalation", "toxicity", "pii_output", "secrets", "prompt_injection", "jailbreak")


def demo_config(base_url: str, model: str) -> dict[str, Any]:
    """A config that runs every built-in judge and the cheap rubric checks on all LLM calls, for `loupe demo`."""
    llm = [{"name": t, "type": "llm", "template": t} for t in _DEMO_LLM]
    # Rubric names differ from the LLM judges' (toxicity exists as both): `<type>_check` for the clashes.
    rubrics = [{"name": f"{r}_check" if r in _DEMO_LLM else r, "type": "rubric",
                "rubric": {"type": r, **({"field": "input"} if r in ("prompt_injection", "jailbreak") else {})}}
               for r in _DEMO_RUBRICS]
    return {
        "enabled": True,
        "endpoint": {"base_url": base_url, "model": model, "api_key_env": ENV_JUDGE_API_KEY},
        "concurrency": 8, "overlap_s": 120, "quiet_s": 60, "poll_interval_s": 2.0,
        "initial_lookback_s": 90 * 86400,  # the demo's backfilled weeks are judged on the first start
        "evaluators": llm + rubrics,
        "sampling": [
            {"evaluators": [r["name"] for r in rubrics], "kind": "llm", "rate": 1.0},
            {"evaluators": ["groundedness", "answer_relevance", "helpfulness", "toxicity"], "kind": "llm",
             "rate": 0.5, "daily_budget_evals": 20000, "daily_budget_usd": 5.0},
            {"evaluators": ["context_relevance"], "kind": "retriever", "rate": 0.5, "daily_budget_evals": 5000},
            {"evaluators": ["task_completion", "conversation"], "rate": 0.5, "daily_budget_evals": 5000},
        ],
    }
