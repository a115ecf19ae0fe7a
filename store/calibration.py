"""Scores for judge calibration: LLM-judge verdicts and human verdicts under the same score names.

The judges' side is read newest first, one row per (target, name, evaluator) whatever the version,
and only for names that people have scored: calibration compares a judge as it is now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store.client import Store
from store.judging import SCORE_KEY

_COLUMNS = "target_type, target_id, trace_id, name, evaluator, evaluator_version, author, value, label"


def calibration_scores(store: Store, project: str, since: datetime | None = None, until: datetime | None = None
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(judge rows, human rows); a window selects the human reviews made in it (judged whenever)."""
    params: dict[str, Any] = {"p": project, "since": since or datetime(1970, 1, 1, tzinfo=UTC),
                              "until": until or datetime(2200, 1, 1, tzinfo=UTC)}
    people = store.query(
        f"SELECT {_COLUMNS} FROM scores WHERE project = {{p:String}} AND source = 'human' "
        "AND created_at >= {since:DateTime64(6)} AND created_at < {until:DateTime64(6)} "
        f"ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY}", params)
    people = [r for r in people if r["value"] is not None or r["label"]]
    judges = store.query(
        f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS}, error, updated_at FROM scores WHERE project = {{p:String}} "
        "AND source = 'llm_judge' AND name IN (SELECT DISTINCT name FROM scores WHERE project = {p:String} "
        f"AND source = 'human') ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY}) WHERE error = '' "
        "ORDER BY updated_at DESC LIMIT 1 BY target_type, target_id, name, evaluator", params)
    return judges, people


def judge_names(store: Store, project: str) -> list[str]:
    return [r[0] for r in store.query_rows(
        "SELECT DISTINCT evaluator FROM scores WHERE project = {p:String} AND source = 'llm_judge'", {"p": project})]
