"""Evaluators from the config: LLM judges on the configured endpoint, rubric checks from judges.rubric."""

from __future__ import annotations

import os

from judges.config import EvaluatorConfig, JudgesConfig, JudgesConfigError
from judges.core import Evaluator
from judges.llm import JudgeClientConfig, LLMJudge
from judges.rubric import RubricConfigError, build_rubric
from judges.templates import TemplateError


def build_evaluator(e: EvaluatorConfig, cfg: JudgesConfig) -> Evaluator:
    try:
        if e.type == "llm":
            ep = cfg.endpoint
            client = JudgeClientConfig(base_url=ep.base_url, model=e.model or ep.model,
                                       api_key=os.environ.get(ep.api_key_env) or None, provider=ep.provider,
                                       timeout_s=ep.timeout_s, deadline_s=ep.deadline_s,
                                       max_attempts=ep.max_attempts, backoff_s=ep.backoff_s,
                                       max_invalid_retries=ep.max_invalid_retries)
            return LLMJudge(e.template or "", client, level=e.level)
        rubric = {"name": e.name, **(e.rubric or {})}
        if e.level:
            rubric["level"] = e.level
        return build_rubric(rubric)
    except (TemplateError, RubricConfigError) as exc:
        raise JudgesConfigError(f"evaluator {e.name!r}: {exc}") from None


def build_evaluators(cfg: JudgesConfig) -> dict[str, Evaluator]:
    """Every configured evaluator by its configured name."""
    return {e.name: build_evaluator(e, cfg) for e in cfg.evaluators}
