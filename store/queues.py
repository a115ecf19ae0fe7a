"""Annotation queues: definitions, items (traces), leases and done marks.

Data assumptions: queue and item rows are replaced by key (FINAL on these small tables); leases are
append-only and an item's holder is the reviewer of its earliest lease that has not expired (so all
readers agree on one holder); an item is done once any reviewer scored it. Matching traces are read
from `trace_list`, merged per trace, newest first; the sample hash is the judges' (`halfMD5`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from store.client import Store
from store.judging import SCORE_KEY

QUEUE_COLUMNS = ("project", "queue_id", "name", "description", "filter", "rubric", "sample_rate", "max_items",
                 "created_by", "created_at", "updated_at")


def save_queue(store: Store, queue: dict[str, Any]) -> None:
    row = {**queue, "filter": json.dumps(queue["filter"]), "rubric": json.dumps(queue["rubric"]),
           "updated_at": datetime.now(UTC)}
    store.insert("review_queues", [tuple(row[c] for c in QUEUE_COLUMNS)], QUEUE_COLUMNS)


def queues(store: Store, project: str, queue_id: str | None = None) -> list[dict[str, Any]]:
    params = {"p": project, "q": queue_id or ""}
    rows = store.query(f"SELECT {', '.join(QUEUE_COLUMNS)} FROM review_queues FINAL WHERE project = {{p:String}}"
                       + (" AND queue_id = {q:String}" if queue_id else "") + " ORDER BY created_at, queue_id",
                       params)
    for r in rows:
        r["filter"], r["rubric"] = json.loads(r["filter"]), json.loads(r["rubric"])
    return rows


def matching_traces(store: Store, project: str, f: dict[str, Any], since: datetime, sample_rate: float,
                    limit: int) -> list[str]:
    """Trace ids of the project that match a queue filter, sampled, newest first."""
    params: dict[str, Any] = {"p": project, "since": since, "rate": sample_rate, "limit": limit}
    having = ["started >= {since:DateTime64(6)}"]
    for key, column in (("service", "svc"), ("prompt_name", "pn"), ("prompt_version", "pv"), ("environment", "env")):
        if f.get(key):
            params[key] = f[key]
            having.append(f"{column} = {{{key}:String}}")
    if f.get("model"):
        params["model"] = f["model"]
        having.append("has(mdl, {model:String})")
    where = ["project = {p:String}", "first_start >= {since:DateTime64(6)} - INTERVAL 1 DAY"]
    if sample_rate < 1.0:
        where.append("halfMD5(concat(trace_id, ':sample')) / 18446744073709551616.0 < {rate:Float64}")
    if f.get("kind"):
        params["kind"] = f["kind"]
        where.append("trace_id IN (SELECT trace_id FROM spans WHERE project = {p:String} "
                     "AND start_time >= {since:DateTime64(6)} AND kind = {kind:String})")
    if f.get("min_score"):
        params.update(score_name=f["min_score"]["name"], score_lt=f["min_score"]["lt"])
        where.append(
            "trace_id IN (SELECT trace_id FROM (SELECT trace_id, value FROM scores WHERE project = {p:String} "
            f"AND name = {{score_name:String}} ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY}) "
            "GROUP BY trace_id HAVING min(value) < {score_lt:Float64})")
    rows = store.query_rows(
        "SELECT trace_id, min(first_start) AS started, argMin(service_name, pick_key) AS svc, max(prompt_name) AS pn, "
        "max(prompt_version) AS pv, max(environment) AS env, groupUniqArrayArray(models) AS mdl FROM trace_list "
        f"WHERE {' AND '.join(where)} GROUP BY trace_id HAVING {' AND '.join(having)} "
        "ORDER BY started DESC, trace_id LIMIT {limit:UInt32}", params)
    return [r[0] for r in rows]


def add_items(store: Store, project: str, queue_id: str, items: list[tuple[str, str]]) -> None:
    """(item_id, trace_id) pairs; ids are derived from the trace, so adding one again replaces it."""
    now = datetime.now(UTC)
    store.insert("review_items", [(project, queue_id, item, trace, now) for item, trace in items],
                 ("project", "queue_id", "item_id", "trace_id", "added_at"))


def item_traces(store: Store, project: str, queue_id: str) -> set[str]:
    return {r[0] for r in store.query_rows("SELECT trace_id FROM review_items FINAL WHERE project = {p:String} "
                                           "AND queue_id = {q:String}", {"p": project, "q": queue_id})}


def item(store: Store, project: str, queue_id: str, item_id: str) -> dict[str, Any] | None:
    rows = store.query("SELECT item_id, trace_id FROM review_items FINAL WHERE project = {p:String} "
                       "AND queue_id = {q:String} AND item_id = {i:String}",
                       {"p": project, "q": queue_id, "i": item_id})
    return rows[0] if rows else None


def progress(store: Store, project: str, reviewer: str) -> dict[str, dict[str, int]]:
    """queue_id → {total, done, mine} for every queue of the project."""
    params = {"p": project, "r": reviewer}
    out: dict[str, dict[str, int]] = {}
    for qid, total in store.query_rows("SELECT queue_id, count() FROM review_items FINAL WHERE project = {p:String} "
                                       "GROUP BY queue_id", params):
        out[qid] = {"total": int(total), "done": 0, "mine": 0}
    for qid, done, mine in store.query_rows(
            "SELECT queue_id, uniqExact(item_id), uniqExactIf(item_id, reviewer = {r:String}) FROM review_done "
            "WHERE project = {p:String} AND (queue_id, item_id) IN (SELECT queue_id, item_id FROM review_items "
            "WHERE project = {p:String}) GROUP BY queue_id", params):
        out.setdefault(qid, {"total": 0, "done": 0, "mine": 0}).update(done=int(done), mine=int(mine))
    return out


_HOLDERS = ("SELECT item_id, argMin(reviewer, (leased_at, lease_id)) AS holder FROM review_leases "
            "WHERE project = {p:String} AND queue_id = {q:String} AND expires_at > {now:DateTime64(6)} "
            "GROUP BY item_id")


def holder(store: Store, project: str, queue_id: str, item_id: str, now: datetime) -> str | None:
    rows = store.query_rows(f"SELECT holder FROM ({_HOLDERS}) WHERE item_id = {{i:String}}",
                            {"p": project, "q": queue_id, "i": item_id, "now": now})
    return rows[0][0] if rows else None


def done_by(store: Store, project: str, queue_id: str, item_id: str) -> list[str]:
    return [r[0] for r in store.query_rows(
        "SELECT DISTINCT reviewer FROM review_done WHERE project = {p:String} AND queue_id = {q:String} "
        "AND item_id = {i:String}", {"p": project, "q": queue_id, "i": item_id})]


def open_items(store: Store, project: str, queue_id: str, reviewer: str, now: datetime,
               limit: int = 20) -> list[dict[str, Any]]:
    """Items not done, held by `reviewer` (first) or by nobody, in queue order."""
    return store.query(
        f"SELECT i.item_id AS item_id, i.trace_id AS trace_id, h.holder AS holder FROM review_items AS i FINAL "
        f"LEFT JOIN ({_HOLDERS}) AS h ON h.item_id = i.item_id "
        "WHERE i.project = {p:String} AND i.queue_id = {q:String} AND i.item_id NOT IN (SELECT item_id FROM "
        "review_done WHERE project = {p:String} AND queue_id = {q:String}) "
        "AND (h.holder = '' OR h.holder = {r:String}) "
        "ORDER BY h.holder = {r:String} DESC, i.added_at, i.item_id LIMIT {n:UInt32}",
        {"p": project, "q": queue_id, "r": reviewer, "now": now, "n": limit})


def lease(store: Store, project: str, queue_id: str, item_id: str, reviewer: str, lease_id: str,
          now: datetime, seconds: float) -> None:
    store.insert("review_leases", [(project, queue_id, item_id, reviewer, lease_id, now,
                                    now + timedelta(seconds=seconds))],
                 ("project", "queue_id", "item_id", "reviewer", "lease_id", "leased_at", "expires_at"))


def mark_done(store: Store, project: str, queue_id: str, item_id: str, reviewer: str) -> None:
    store.insert("review_done", [(project, queue_id, item_id, reviewer, datetime.now(UTC))],
                 ("project", "queue_id", "item_id", "reviewer", "done_at"))
