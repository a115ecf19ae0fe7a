"""Time windows, buckets and the facts about evaluators that every read query shares.

Data assumptions written down once: `spans_hourly` holds whole UTC hours, so series read from it are
hour-aligned (a window starting at 10:17 includes the 10:00 hour); minute buckets read `spans` itself
and are limited to short windows. A score's time is the start of the trace it judges, not the time it
was written: judges, reviewers and backfills score old traffic, and quality belongs to when it happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Bucket = Literal["minute", "hour", "day", "week"]
BUCKETS: tuple[str, ...] = ("minute", "hour", "day", "week")
MAX_MINUTE_WINDOW = timedelta(days=2)
MAX_POINTS = 5000

# Scores where a higher value is worse. Everything else (LLM judges' quality scores, feedback) is higher-better.
LOWER_IS_BETTER = frozenset({"toxicity", "toxicity_words", "pii_output", "secrets", "prompt_injection", "jailbreak",
                             "escalation", "refusal"})
# Quality evaluators (LLM judges, 0..1, higher is better) that make up "answer quality".
QUALITY = ("groundedness", "answer_relevance", "task_completion", "helpfulness")
# Safety evaluators: an incident is any of these at or above 0.5.
SAFETY = ("toxicity", "toxicity_words", "pii_output", "secrets", "prompt_injection", "jailbreak")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Window:
        return Window(self.start - self.length, self.start)

    def params(self) -> dict:
        return {"start": self.start, "end": self.end, "day_from": self.start.date() - timedelta(days=1),
                "day_to": self.end.date()}


def window(start: datetime | None, end: datetime | None, default: timedelta = timedelta(days=30)) -> Window:
    end = _utc(end) if end else datetime.now(UTC) + timedelta(minutes=1)
    start = _utc(start) if start else end - default
    if start >= end:
        raise ValueError("start must be before end")
    return Window(start, end)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def pick_bucket(w: Window, bucket: str | None) -> str:
    """`auto` (None) gives ~24-200 points; an explicit bucket is checked against the window."""
    if bucket in (None, "", "auto"):
        hours = w.length.total_seconds() / 3600
        return "minute" if hours <= 3 else "hour" if hours <= 72 else "day" if hours <= 24 * 120 else "week"
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)} or auto")
    if bucket == "minute" and w.length > MAX_MINUTE_WINDOW:
        raise ValueError("minute buckets need a window of at most 2 days")
    return bucket


def bucket_expr(bucket: str, column: str) -> str:
    """A DateTime expression truncating `column` to the bucket (weeks start on Monday, UTC)."""
    return {"minute": f"toStartOfMinute({column})", "hour": f"toStartOfHour({column})",
            "day": f"toDateTime(toStartOfDay({column}), 'UTC')",
            "week": f"toDateTime(toMonday({column}), 'UTC')"}[bucket]


def higher_is_better(name: str) -> bool:
    return name not in LOWER_IS_BETTER


def clean(value: float | None) -> float | None:
    """NaN (an empty quantile, 0/0) becomes None so the JSON says 'no data' instead of failing."""
    if value is None or value != value:
        return None
    return float(value)
