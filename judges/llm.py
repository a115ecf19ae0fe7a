"""LLM-as-judge: a template (judges/templates.py) run through the `openai` client against any
OpenAI-compatible endpoint, with strict JSON-schema output, bounded retries and a shared rate limiter.

    judge = LLMJudge("groundedness", JudgeClientConfig(base_url="http://127.0.0.1:8011/v1"))
    [score] = judge.evaluate(target)  # [] when the target has nothing to judge (no documents…)

Retries are ours, not the client's (`max_retries=0`): the client's backoff sleeps inside one call,
where the limiter that all judges share cannot see it, so the other threads would keep hammering an
endpoint that just said 429. Here a 429 pauses every judge for its Retry-After and lowers the shared
rate, and one evaluation is bounded by attempts and a deadline.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from collector.cost import Pricer
from judges.content import ContentLimits, build_inputs
from judges.core import Level, Score, Target
from judges.templates import Template, load_template, parse_verdict, render_messages, response_format

if TYPE_CHECKING:
    import openai

# `openai` costs ~1 s and ~50 MB: it is imported when a judge is built or calls its model, not at import
# time, so that every collector process (which imports this module for its judge API) does not pay for it.

log = logging.getLogger(__name__)

ENV_BASE_URL = "LOUPE_JUDGE_BASE_URL"  # an OpenAI-compatible endpoint, ending in /v1
ENV_MODEL = "LOUPE_JUDGE_MODEL"
ENV_API_KEY = "LOUPE_JUDGE_API_KEY"
ENV_PROVIDER = "LOUPE_JUDGE_PROVIDER"  # the price table's provider for judge cost
_RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
_MAX_BACKOFF_S, _MAX_RETRY_AFTER_S = 20.0, 60.0


@dataclass(frozen=True)
class JudgeClientConfig:
    """Where and how to call the judge model. Precedence: argument, then environment, then default."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    provider: str | None = None
    temperature: float | None = 0.0  # None for models that accept only their default (o-series)
    max_output_tokens: int = 1024
    timeout_s: float = 60.0  # one HTTP request
    deadline_s: float = 180.0  # one evaluation, waits and retries included
    max_attempts: int = 4  # HTTP attempts per model call (429, 5xx, timeouts, broken bodies)
    max_invalid_retries: int = 2  # re-asks after a reply that is not a valid verdict
    backoff_s: float = 0.5  # doubles per attempt, up to 20 s

    def resolved(self) -> JudgeClientConfig:
        env = os.environ.get
        return replace(self, base_url=self.base_url or env(ENV_BASE_URL) or None,
                       model=self.model or env(ENV_MODEL) or "gpt-4o-mini",
                       api_key=self.api_key or env(ENV_API_KEY) or env("OPENAI_API_KEY") or "unused",
                       provider=self.provider or env(ENV_PROVIDER) or "openai")


class AdaptiveRateLimiter:
    """Shared by the judges that call one endpoint. Unlimited until a 429; then everyone waits out the
    Retry-After, the rate halves (from what was really being sent) and grows back `growth_per_s` a
    second, until past twice the old rate the limit lifts. 429s within a second of a cut were already
    in flight: they do not cut again."""

    def __init__(self, *, min_rate: float = 0.5, decrease: float = 0.5, growth_per_s: float = 0.05,
                 window_s: float = 5.0, clock: Any = time.monotonic) -> None:
        self.min_rate, self.decrease, self.growth, self.window_s = min_rate, decrease, growth_per_s, window_s
        self._clock, self._lock = clock, threading.Lock()
        self._rate: float | None = None  # requests per second; None = no limit
        self._ceiling, self._cut_at = 0.0, float("-inf")
        self._paused_until = self._next_slot = 0.0
        self._sent: deque[float] = deque(maxlen=4096)

    def rate(self) -> float | None:
        with self._lock:
            return self._current(self._clock())

    def _current(self, now: float) -> float | None:
        if self._rate is None:
            return None
        rate = self._rate * (1 + self.growth) ** max(0.0, now - self._cut_at)
        if rate >= self._ceiling:
            self._rate = None  # recovered
            return None
        return rate

    def paused(self) -> bool:
        return self._clock() < self._paused_until

    def acquire(self, deadline: float | None = None) -> bool:
        """Wait for a request slot; False (without waiting) if it comes after `deadline`."""
        with self._lock:
            now = self._clock()
            rate = self._current(now)
            start = max(now, self._paused_until, self._next_slot if rate else now)
            if deadline is not None and start > deadline:
                return False
            if rate:
                self._next_slot = start + 1 / rate
            self._sent.append(start)
        if start > now:
            time.sleep(start - now)
        return True

    def on_rate_limited(self, retry_after_s: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + (retry_after_s or 0.0))
            if now - self._cut_at < 1.0:
                return
            while self._sent and self._sent[0] < now - self.window_s:
                self._sent.popleft()
            span = max(1.0, min(self.window_s, now - (self._sent[0] if self._sent else now)))
            sending = self._current(now) or len(self._sent) / span
            self._rate = max(self.min_rate, sending * self.decrease)
            self._ceiling, self._cut_at = max(sending, self.min_rate) * 2, now
            log.warning("judge endpoint rate limited: slowing to %.2f requests/s", self._rate)


_LIMITERS: dict[str, AdaptiveRateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(base_url: str) -> AdaptiveRateLimiter:
    """One limiter per endpoint, shared across the process (rate limits belong to the endpoint)."""
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault(base_url, AdaptiveRateLimiter())


@lru_cache(maxsize=16)
def _client(base_url: str | None, api_key: str) -> openai.OpenAI:  # one connection pool per endpoint
    import openai

    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)


class _Failed(Exception):  # the model call failed for good; the message becomes the Score's error
    pass


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""


def retry_after_s(exc: openai.APIStatusError) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date), else None."""
    ms, value = exc.response.headers.get("retry-after-ms"), exc.response.headers.get("retry-after")
    for parse in (lambda: float(ms) / 1000, lambda: float(value),
                  lambda: (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()):
        try:
            return max(0.0, parse())
        except (TypeError, ValueError):
            continue
    return None


class LLMJudge:
    """An Evaluator: one template, one judge model. Thread-safe; share one instance across workers."""

    source = "llm_judge"

    def __init__(self, template: Template | str, client_config: JudgeClientConfig | None = None, *,
                 level: Level | None = None, limits: ContentLimits | None = None,
                 limiter: AdaptiveRateLimiter | None = None, pricer: Pricer | None = None) -> None:
        self.template = template = load_template(template) if isinstance(template, str) else template
        self.name, self.version = template.name, template.version
        self.level: Level = level or template.level  # e.g. the conversation judge over a whole session
        self.config = (client_config or JudgeClientConfig()).resolved()
        self.limits = limits or ContentLimits()
        self.limiter = limiter or limiter_for(self.config.base_url or "https://api.openai.com/v1")
        self._pricer = pricer or Pricer()  # the ingestion price table: judge cost and app cost agree
        self._client = _client(self.config.base_url, self.config.api_key or "unused")
        self._format = response_format(template)
        self._unpriced: set[str] = set()

    def applies_to(self, target: Target) -> bool:
        kind, kinds = str(target.spans[0].get("kind", "")) if target.spans else "", self.template.applies_to
        return target.level == self.level and (target.level != "span" or not kinds or not kind or kind in kinds)

    def evaluate(self, target: Target) -> list[Score]:
        if not self.applies_to(target):
            return []
        inputs = build_inputs(target, self.template.inputs, self.limits)
        if any(not inputs[n] for n in self.template.inputs if n not in self.template.optional_inputs):
            return []  # nothing to judge (a groundedness judge on an answer without documents)
        for n in self.template.optional_inputs:
            inputs[n] = inputs[n] or "(none)"
        return [self._judge(render_messages(self.template, inputs))]

    def _judge(self, messages: list[dict[str, str]]) -> Score:
        started = time.monotonic()
        deadline, usage = started + self.config.deadline_s, _Usage(model=self.config.model or "")
        for invalid in range(self.config.max_invalid_retries + 1):
            try:
                reply = self._call(messages, deadline, usage)
            except _Failed as exc:
                return self._score(usage, started, error=str(exc))
            choice = reply.choices[0] if reply.choices else None
            content = choice.message.content if choice else None
            try:
                if choice is not None and choice.message.refusal:
                    raise ValueError(f"the judge refused: {choice.message.refusal}")
                if choice is not None and choice.finish_reason == "length":
                    raise ValueError("the reply was cut off at max_output_tokens")
                value, label, rationale = parse_verdict(self.template, content)
            except ValueError as exc:
                problem = str(exc)
                log.info("judge %s: invalid reply (%s), attempt %d", self.name, problem, invalid + 1)
                # Show the model its mistake: a repair turn fixes most slips on the next try.
                messages = [*messages, {"role": "assistant", "content": content or ""},
                            {"role": "user", "content": f"That reply is invalid: {problem}. "
                                                        "Answer again with only the JSON object."}]
                continue
            return self._score(usage, started, value=value, label=label, rationale=rationale)
        return self._score(usage, started, error=f"no valid verdict after {self.config.max_invalid_retries + 1} "
                                                 f"replies: {problem}")

    def _call(self, messages: list[dict[str, str]], deadline: float, usage: _Usage) -> Any:
        import openai

        cfg, problem = self.config, ""
        extra: dict[str, Any] = {} if cfg.temperature is None else {"temperature": cfg.temperature}
        for attempt in range(1, max(1, cfg.max_attempts) + 1):
            if not self.limiter.acquire(deadline) or (remaining := deadline - time.monotonic()) <= 0:
                raise _Failed(f"{problem or 'rate limited'}: no request slot before the {cfg.deadline_s:g}s deadline")
            wait: float | None = None
            try:
                reply = self._client.chat.completions.create(
                    model=cfg.model or "", messages=messages, response_format=self._format,  # type: ignore[arg-type]
                    max_completion_tokens=cfg.max_output_tokens, timeout=min(cfg.timeout_s, remaining), **extra)
                self._account(reply, usage)
                return reply
            except openai.APITimeoutError:
                problem = f"timed out after {min(cfg.timeout_s, remaining):.3g}s"
            except openai.APIConnectionError as exc:
                problem = f"connection failed: {exc}"
            except openai.APIStatusError as exc:
                detail = exc.body.get("message") if isinstance(exc.body, dict) else None  # the error's own words
                problem = f"HTTP {exc.status_code}: {detail or exc.message}"
                if exc.status_code not in _RETRYABLE_STATUS or exc.code == "insufficient_quota":
                    raise _Failed(problem) from None  # auth, a bad request, no credit: retrying cannot help
                wait = retry_after_s(exc)
                wait = None if wait is None else min(wait, _MAX_RETRY_AFTER_S)
                if exc.status_code == 429:
                    self.limiter.on_rate_limited(wait)  # every judge on this endpoint pauses and slows
            except ValueError as exc:  # a 200 whose body is not JSON
                problem = f"unreadable response body: {exc}"
            if attempt >= cfg.max_attempts:
                break
            if wait is None:
                # Jittered, so that threads which failed together do not retry together.
                wait = min(_MAX_BACKOFF_S, cfg.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if time.monotonic() + wait > deadline:
                raise _Failed(f"{problem}; giving up: waiting {wait:.3g}s would pass the deadline")
            if not self.limiter.paused():  # a 429 pause is waited out in acquire(), by everyone
                time.sleep(wait)
        raise _Failed(f"{problem} (after {attempt} attempts)")

    def _account(self, reply: Any, usage: _Usage) -> None:
        """Tokens and cost of every call, retries included: they were paid for."""
        u = reply.usage
        model = usage.model = reply.model or self.config.model or ""
        if u is None:
            return
        cached = getattr(u.prompt_tokens_details, "cached_tokens", 0) or 0
        reasoning = getattr(u.completion_tokens_details, "reasoning_tokens", 0) or 0
        usage.input_tokens += u.prompt_tokens or 0
        usage.output_tokens += u.completion_tokens or 0
        usage.cost_usd += self._price(model, u.prompt_tokens or 0, u.completion_tokens or 0, cached, reasoning)

    def _price(self, model: str, *tokens: int) -> float:
        """USD from the ingestion price table: the answering snapshot, else the alias we asked for."""
        try:
            for name in dict.fromkeys([model, self.config.model or ""]):
                usd, source = self._pricer.price(self.config.provider, name, datetime.now(UTC), *tokens)
                if source != "unknown":
                    return float(usd or 0.0)
            problem = "not in the price table"
        except Exception as exc:  # cost is bookkeeping: never lose a verdict over it
            problem = str(exc)
        if model not in self._unpriced:  # once per model, not once per evaluation
            self._unpriced.add(model)
            log.warning("judge %s: no price for %s (%s); its cost is recorded as 0", self.name, model, problem)
        return 0.0

    def _score(self, usage: _Usage, started: float, *, value: float | None = None, label: str = "",
               rationale: str = "", error: str = "") -> Score:
        return Score(name=self.name, value=value, label=label, rationale=rationale, error=error,
                     judge_model=usage.model, judge_cost_usd=usage.cost_usd, input_tokens=usage.input_tokens,
                     output_tokens=usage.output_tokens, latency_ms=(time.monotonic() - started) * 1000)
