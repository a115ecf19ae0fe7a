"""Backfill jobs: one row per job, rewritten as it progresses (ReplacingMergeTree on updated_at)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store.client import Store
from store.judging import utc

JOB_COLUMNS = ("project", "job_id", "evaluator", "params", "status", "total", "done", "scored", "errors", "skipped",
               "cost_usd", "estimated_cost_usd", "message", "created_by", "created_at", "updated_at")


def save_job(store: Store, job: dict[str, Any]) -> None:
    row = {**job, "updated_at": datetime.now(UTC)}
    store.insert("judge_jobs", [tuple(row[c] for c in JOB_COLUMNS)], JOB_COLUMNS)


def get_job(store: Store, project: str, job_id: str) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {', '.join(JOB_COLUMNS)} FROM judge_jobs FINAL "
                       "WHERE project = {p:String} AND job_id = {j:String}", {"p": project, "j": job_id})
    if not rows:
        return None
    job = rows[0]
    job["created_at"], job["updated_at"] = utc(job["created_at"]), utc(job["updated_at"])
    return job
